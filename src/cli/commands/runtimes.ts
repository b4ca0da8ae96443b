import type { Command } from 'commander';
import { KilnError } from '../../errors.js';
import { Kiln } from '../../kiln.js';
import { RUNTIMES_DIR } from '../../languages/recipe.js';
import { isLanguageName, LANGUAGE_NAMES, languageNamed } from '../../languages/registry.js';
import { stderrLog } from '../stderr-log.js';

export function register(program: Command): void {
  program
    .command('runtimes')
    .description('base images')
    .command('build [language]')
    .description(
      `build a language base image now (${[...LANGUAGE_NAMES, 'all'].join(' | ')}); later builds reuse cached layers`,
    )
    .action((language = 'all') => buildRuntimes(language));
}

async function buildRuntimes(which: string): Promise<void> {
  const languages = which === 'all' ? [...LANGUAGE_NAMES] : [which];
  const { baseImages } = await Kiln.openStores({ log: stderrLog });
  for (const language of languages) {
    if (!isLanguageName(language)) {
      throw new KilnError(
        'unknown_runtime',
        `unknown runtime "${language}": use one of ${LANGUAGE_NAMES.join(', ')} or all`,
      );
    }
    const image = await baseImages.ensure(language);
    console.log(`${language}: ${image.manifestDigest} (${image.manifest.layers.length} layers)`);
    // The image its builds run in, when it has one (docs/DESIGN.md §8).
    if ((await languageNamed(language).recipe(RUNTIMES_DIR)).builder) {
      console.log(`${language} builder: ${(await baseImages.builder(language)).layers.length} layers`);
    }
  }
}
