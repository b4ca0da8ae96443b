// Scenario 6: a qemu microVM booting Debian's kernel with an initramfs that holds the same
// runtime binary (from Kiln's base image) and hello. Timed from qemu's spawn to the serial
// marker the guest prints after its own first HTTP response. KVM is used when it can boot
// the kernel; else TCG, labelled a software-emulated VM.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { findOnPath } from '../../dist/find-on-path.js';
import { CpioWriter } from '../lib/cpio.mjs';

const execFileP = promisify(execFile);
const HELLO = path.resolve(import.meta.dirname, '../hello');
const BOOT_TIMEOUT_MS = 60_000;

/** Guest programs: what runs after boot, and which files of the root it needs besides ldd's. */
const GUESTS = {
  node: { argv: ['/usr/local/bin/node', '/bench/vm-node.mjs'], binary: '/usr/local/bin/node', trees: [] },
  python: {
    argv: ['/usr/bin/python3', '-S', '-B', '/bench/vm-python.py'],
    binary: '/usr/bin/python3.11',
    trees: ['/usr/lib/python3.11'],
  },
};

/** Debian's kernel from its package (downloaded, never installed), as an uncompressed vmlinux. */
async function kernel(cacheDir) {
  const dir = path.join(cacheDir, 'kernel');
  const vmlinux = path.join(dir, 'vmlinux');
  if (existsSync(vmlinux)) return vmlinux;
  await mkdir(dir, { recursive: true });
  let bzImage = (await readdir('/boot').catch(() => [])).find((f) => f.startsWith('vmlinuz-'));
  if (bzImage) bzImage = path.join('/boot', bzImage);
  else {
    const { stdout } = await execFileP('apt-cache', ['depends', 'linux-image-amd64']);
    const pkg = /Depends: (linux-image-[\w.-]+)/.exec(stdout)?.[1];
    if (!pkg) throw new Error('cannot find the kernel package behind linux-image-amd64');
    await execFileP('apt-get', ['download', pkg], { cwd: dir });
    const deb = (await readdir(dir)).find((f) => f.endsWith('.deb'));
    await execFileP('dpkg-deb', ['-x', path.join(dir, deb), path.join(dir, 'pkg')]);
    const boot = path.join(dir, 'pkg/boot');
    bzImage = path.join(
      boot,
      (await readdir(boot)).find((f) => f.startsWith('vmlinuz-')),
    );
  }
  // The xz stage of a bzImage is emulated too (~3.5 s under TCG): boot the ELF inside it.
  const image = await readFile(bzImage);
  const at = image.indexOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
  if (at < 0) return bzImage;
  const xz = spawn('xz', ['-dc', '--single-stream'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const chunks = [];
  xz.stdout.on('data', (c) => chunks.push(c));
  const done = new Promise((resolve) => xz.once('exit', resolve));
  xz.stdin.end(image.subarray(at));
  await done;
  const elf = Buffer.concat(chunks);
  if (elf.subarray(0, 4).toString('latin1') !== '\x7fELF') return bzImage;
  await writeFile(vmlinux, elf);
  return vmlinux;
}

async function addTree(cpio, root, dir, seen) {
  for (const entry of await readdir(path.join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.name === 'test' || entry.name === '__pycache__') continue;
    await addPath(cpio, root, rel, seen);
    if (entry.isDirectory()) await addTree(cpio, root, rel, seen);
  }
}

async function addPath(cpio, root, rel, seen) {
  const parts = rel.split('/').filter(Boolean);
  for (let i = 1; i < parts.length; i++) {
    const d = parts.slice(0, i).join('/');
    if (!seen.has(d)) {
      seen.add(d);
      cpio.dir(d);
    }
  }
  const name = parts.join('/');
  if (seen.has(name)) return;
  seen.add(name);
  const host = path.join(root, rel);
  const info = await lstat(host);
  if (info.isDirectory()) cpio.dir(name);
  else {
    await cpio.copy(name, host);
    if (info.isSymbolicLink()) {
      const target = await readlink(host);
      await addPath(
        cpio,
        root,
        target.startsWith('/') ? target : path.posix.join(path.posix.dirname(`/${name}`), target),
        seen,
      );
    }
  }
}

async function initramfs(root, language, outFile) {
  const guest = GUESTS[language];
  const cpio = new CpioWriter();
  const seen = new Set();
  for (const d of ['dev', 'proc', 'sys', 'tmp', 'run', 'run/kiln', 'bin', 'bench']) {
    seen.add(d);
    cpio.dir(d);
  }
  cpio.charDevice('dev/console', 5, 1);
  cpio.file('bin/busybox', await readFile('/bin/busybox'), true);
  for (const f of ['hello.mjs', 'hello.py', 'vm-node.mjs', 'vm-python.py'])
    cpio.file(`bench/${f}`, await readFile(path.join(HELLO, f)));
  const { stdout } = await execFileP('chroot', [root, '/usr/bin/ldd', guest.binary]);
  const libs = [...stdout.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]);
  for (const file of [guest.binary, ...libs]) await addPath(cpio, root, file, seen);
  if (language === 'python') await addPath(cpio, root, '/usr/bin/python3', seen);
  for (const tree of guest.trees) await addTree(cpio, root, tree, seen);
  const script = [
    '#!/bin/busybox sh',
    '/bin/busybox mount -t proc proc /proc',
    `${guest.argv.join(' ')} > /dev/console 2>&1`,
    '/bin/busybox poweroff -f',
  ].join('\n');
  cpio.file('init', Buffer.from(`${script}\n`), true);
  await writeFile(outFile, cpio.finish());
}

async function bootOnce(vmlinux, initrd, accel, tscKhz, timeoutMs = BOOT_TIMEOUT_MS) {
  const args = [
    '-M',
    'microvm',
    '-accel',
    accel,
    ...(accel === 'tcg' ? ['-cpu', 'max'] : ['-cpu', 'host']),
    '-m',
    '512',
    '-smp',
    '1',
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    '-kernel',
    vmlinux,
    '-initrd',
    initrd,
    '-append',
    `console=ttyS0 quiet panic=-1 tsc_early_khz=${tscKhz} mitigations=off cryptomgr.notests rdinit=/init`,
  ];
  const started = performance.now();
  const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no READY within ${timeoutMs} ms: ${out.slice(-300)}`)),
        timeoutMs,
      );
      qemu.stdout.on('data', (d) => {
        out += d;
        if (out.includes('READY hello')) {
          clearTimeout(timer);
          resolve(performance.now() - started);
        }
      });
      qemu.once('exit', () => {
        clearTimeout(timer);
        reject(new Error(`qemu exited before READY: ${out.slice(-300)}`));
      });
    });
  } finally {
    qemu.kill('SIGKILL');
  }
}

export async function runVm({ cacheDir, roots, languages, runs, warmup }) {
  if (!(await findOnPath('qemu-system-x86_64')))
    return { skipped: 'qemu is not installed (apt-get install qemu-system-x86)' };
  if (!existsSync('/bin/busybox'))
    return { skipped: 'busybox is not installed (apt-get install busybox-static)' };
  const vmDir = path.join(cacheDir, 'vm');
  const vmlinux = await kernel(vmDir);
  const mhz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(await readFile('/proc/cpuinfo', 'utf8'))?.[1] ?? 2000);
  const tscKhz = Math.round(mhz * 1000);
  const results = { kernel: path.basename(vmlinux), languages: {} };
  for (const language of languages) {
    if (!GUESTS[language]) {
      results.languages[language] = {
        skipped: `no ${language} guest: a JRE initramfs is too large to boot usefully under TCG`,
      };
      continue;
    }
    const initrd = path.join(vmDir, `initramfs-${language}.cpio`);
    await initramfs(roots[language].root, language, initrd);
    let accel = 'tcg';
    if (existsSync('/dev/kvm')) {
      // Nested KVM here cannot boot a stock kernel (BENCH-NOTES): try once, else emulate.
      accel = await bootOnce(vmlinux, initrd, 'kvm', tscKhz, 15_000).then(
        () => 'kvm',
        () => 'tcg',
      );
    }
    const samples = [];
    for (let i = 0; i < warmup + runs; i++) {
      const ms = await bootOnce(vmlinux, initrd, accel, tscKhz);
      if (i >= warmup) samples.push(ms);
    }
    results.languages[language] = {
      accel,
      label: accel === 'kvm' ? 'hardware VM (KVM)' : 'software-emulated VM (TCG)',
      samples,
    };
  }
  return results;
}
