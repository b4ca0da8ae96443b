import type { Command } from 'commander';
import { type BaseImageReport, baseImageReports } from '../../build/base-image-report.js';
import { describeBuiltFrom } from '../../build/built-from.js';
import { KilnError } from '../../errors.js';
import { Kiln } from '../../kiln.js';
import { RUNTIMES_DIR } from '../../languages/recipe.js';
import {
  isLanguageName,
  LANGUAGE_NAMES,
  type LanguageName,
  languageNamed,
} from '../../languages/registry.js';
import { openLocalImages } from '../local-images.js';
import { printJson } from '../output.js';
import { stderrLog } from '../stderr-log.js';
import { formatBytes, formatTable } from '../table.js';

export function register(program: Command): void {
  const runtimes = program.command('runtimes').description('base images');
  runtimes
    .command('build [language]')
    .description(
      `build a language base image now (${[...LANGUAGE_NAMES, 'all'].join(' | ')}); later builds reuse cached layers`,
    )
    .action((language = 'all') => buildRuntimes(language));
  runtimes
    .command('ls')
    .description(
      'list the base and builder images in the local store: digest, size, the runtime version and Debian packages they were built from',
    )
    .option('--json', 'print JSON')
    .action(listRuntimes);
  runtimes
    .command('inspect <language>')
    .description(
      "show what each layer of a language's base and builder images was built from: how, the Debian packages with versions (dpkg-query in the layer), npm packages, the runtime's version",
    )
    .option('--json', 'print JSON')
    .action(inspectRuntime);
}

function checkedLanguage(language: string): LanguageName {
  if (!isLanguageName(language)) {
    throw new KilnError(
      'unknown_runtime',
      `unknown runtime "${language}": use one of ${LANGUAGE_NAMES.join(', ')}${language === 'all' ? '' : ' or all'}`,
    );
  }
  return language;
}

async function buildRuntimes(which: string): Promise<void> {
  const languages = which === 'all' ? [...LANGUAGE_NAMES] : [checkedLanguage(which)];
  const { baseImages } = await Kiln.openStores({ log: stderrLog });
  for (const language of languages) {
    const image = await baseImages.ensure(language);
    console.log(`${language}: ${image.manifestDigest} (${image.manifest.layers.length} layers)`);
    // The image its builds run in, when it has one (docs/DESIGN.md §8).
    if ((await languageNamed(language).recipe(RUNTIMES_DIR)).builder) {
      console.log(`${language} builder: ${(await baseImages.builder(language)).layers.length} layers`);
    }
  }
}

async function listRuntimes(options: { json?: boolean }): Promise<void> {
  const { images } = await openLocalImages();
  const reports: BaseImageReport[] = [];
  const missing: LanguageName[] = [];
  for (const language of LANGUAGE_NAMES) {
    const found = await baseImageReports(images, language);
    if (!found.length) missing.push(language);
    reports.push(...found);
  }
  if (options.json) {
    // The package lists are `inspect`'s: here each layer says what it holds in one line.
    return printJson(
      reports.map((r) => ({
        ...r,
        layers: r.layers.map(({ builtFrom, ...l }) => ({
          ...l,
          ...(builtFrom ? { builtFrom: describeBuiltFrom(builtFrom) } : {}),
        })),
      })),
    );
  }
  const rows = reports.map((r) => [
    r.runtime,
    r.ref,
    r.digest.slice(7, 19),
    formatBytes(r.size),
    r.runtimeVersion ?? '-',
    r.layers.some((l) => l.builtFrom) ? String(r.debianPackages) : '-',
  ]);
  for (const language of missing) rows.push([language, '-', 'not built', '-', '-', '-']);
  console.log(formatTable(['RUNTIME', 'IMAGE', 'DIGEST', 'SIZE', 'VERSION', 'DEBIAN PACKAGES'], rows));
}

async function inspectRuntime(language: string, options: { json?: boolean }): Promise<void> {
  const name = checkedLanguage(language);
  const { images } = await openLocalImages();
  const reports = await baseImageReports(images, name);
  if (!reports.length) {
    throw new KilnError(
      'runtime_not_built',
      `${name} has no base image in this data dir: build it with kiln runtimes build ${name}`,
    );
  }
  if (options.json) return printJson(reports);
  const lines: string[] = [];
  for (const report of reports) {
    lines.push(`${report.ref}  ${report.digest}  ${formatBytes(report.size)}`);
    for (const [i, layer] of report.layers.entries()) {
      lines.push(`  layer ${i + 1}  ${layer.digest}  ${formatBytes(layer.size)}`);
      lines.push(`    made by   ${layer.createdBy ?? '-'}`);
      const record = layer.builtFrom;
      if (!record) continue;
      for (const source of record.aptSources ?? []) lines.push(`    from      ${source}`);
      if (record.runtime)
        lines.push(`    runtime   ${record.runtime.command} --version: ${record.runtime.version}`);
      for (const p of record.npm) lines.push(`    npm       ${p.name}@${p.version}`);
      for (const p of record.debian) lines.push(`    debian    ${p.name} ${p.version} ${p.architecture}`);
      lines.push(`    recorded  ${record.recorded}`);
    }
  }
  console.log(lines.join('\n'));
}
