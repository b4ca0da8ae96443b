// runtimes/node/native/dense-memory.c on the host: compiled with the recipe's flags by the
// host's gcc (a test-only package, scripts/setup-host.sh; Kiln builds it in the node builder),
// then preloaded into python3, whose ctypes calls libc's `mmap` symbol as V8 does.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIMES_DIR, readRecipe } from '../../src/languages/recipe.js';

const execFileP = promisify(execFile);

const PROBE = `
import ctypes, errno, json
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
PROT, PRIVATE_ANON, FIXED, NOREPLACE, FAILED = 3, 0x22, 0x10, 0x100000, 2**64 - 1
def call(addr, length, flags):
    ctypes.set_errno(0)
    got = libc.mmap(addr, length, PROT, PRIVATE_ANON | flags, -1, 0)
    return {"addr": got, "errno": errno.errorcode.get(ctypes.get_errno()) if got in (None, FAILED) else None}
hint = 0x200000000000  # 32 TiB: free in a fresh process
print(json.dumps({
    "hinted": call(hint, 4096, 0),
    "noReplace": call(hint + 2**30, 4096, NOREPLACE),
    "noReplaceTaken": call(hint + 2**30, 4096, NOREPLACE),
    "fixed": call(hint + 2**31, 4096, FIXED),
    "empty": call(None, 0, 0),
    "hint": hint,
}))
`;

interface Call {
  addr: number | null;
  errno: string | null;
}

let dir: string;
let library: string;

async function probe(preload: string): Promise<Record<string, Call> & { hint: number }> {
  const { stdout } = await execFileP('python3', ['-c', PROBE], {
    env: { PATH: process.env.PATH, ...(preload ? { LD_PRELOAD: preload } : {}) },
  });
  return JSON.parse(stdout);
}

beforeAll(async () => {
  const { shim } = await readRecipe('node', RUNTIMES_DIR);
  if (shim.kind !== 'files' || !shim.preload) throw new Error('the node recipe preloads no library');
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-dense-memory-'));
  library = path.join(dir, shim.preload.library);
  const source = path.join(RUNTIMES_DIR, 'node', 'native', shim.preload.source);
  await execFileP('gcc', [...shim.preload.cflags, '-o', library, source]);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('dense-memory.so', () => {
  it('drops the hint of a plain mmap, keeps fixed placements as asked, and fails as mmap fails', async () => {
    const bare = await probe('');
    const dense = await probe(library);
    // The kernel honours a free hint; with the library the mapping goes where the kernel puts it.
    expect(bare.hinted?.addr).toBe(bare.hint);
    expect(dense.hinted?.addr).not.toBe(dense.hint);
    expect(dense.hinted?.errno).toBeNull();
    // MAP_FIXED_NOREPLACE and MAP_FIXED keep their address; a taken NOREPLACE range is EEXIST.
    expect(dense.noReplace).toEqual({ addr: dense.hint + 2 ** 30, errno: null });
    expect(dense.noReplaceTaken?.errno).toBe('EEXIST');
    expect(dense.fixed).toEqual({ addr: dense.hint + 2 ** 31, errno: null });
    // A zero length fails with EINVAL and MAP_FAILED, as without it.
    expect(dense.empty).toEqual(bare.empty);
    expect(dense.empty?.errno).toBe('EINVAL');
  });

  it("is the library the node recipe's env preloads and the shim takes out of process.env", async () => {
    const recipe = await readRecipe('node', RUNTIMES_DIR);
    const preload = recipe.shim.kind === 'files' ? recipe.shim.preload : undefined;
    const inImage = `/opt/kiln/shim/${preload?.library}`;
    expect(recipe.env).toContain(`LD_PRELOAD=${inImage}`);
    const main = await readFile(path.join(RUNTIMES_DIR, 'node', 'main.mjs'), 'utf8');
    expect(main).toContain(`const PRELOADED = '${inImage}';`);
    expect(main).toContain('env.LD_PRELOAD === PRELOADED');
  });

  it("gives node trimMalloc as a Node-API addon, which returns glibc's free heap pages", async () => {
    // 32 MiB of 4 KiB ArrayBuffers (node callocs their memory), all freed but the last, which
    // keeps the free space from the top of the heap where free() would trim it by itself.
    const script = `
      const rss = () => Number(/RssAnon:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]);
      const addon = { exports: {} };
      process.dlopen(addon, process.env.LIBRARY);
      let bufs = Array.from({ length: 8192 }, () => new ArrayBuffer(4096).slice(0));
      const last = bufs.at(-1);
      bufs = null;
      globalThis.gc(); globalThis.gc();
      const before = rss();
      const result = addon.exports.trimMalloc();
      console.log(JSON.stringify({ before, after: rss(), result: String(result), last: last.byteLength }));`;
    const { stdout } = await execFileP(process.execPath, ['--expose-gc', '-e', script], {
      env: { PATH: process.env.PATH, LD_PRELOAD: library, LIBRARY: library },
    });
    const got = JSON.parse(stdout);
    expect(got.result).toBe('undefined');
    expect(got.before - got.after).toBeGreaterThan(16 * 1024);
  });

  it('leaves the shim starting without the trim when addons are refused (NODE_OPTIONS=--no-addons)', async () => {
    const compaction = path.join(RUNTIMES_DIR, 'node', 'heap-compaction.mjs');
    const script = `
      const { trimMallocWith } = await import(${JSON.stringify(compaction)});
      trimMallocWith(process.env.LIBRARY);
      console.log('started');`;
    const { stdout } = await execFileP(
      process.execPath,
      ['--no-addons', '--input-type=module', '-e', script],
      {
        env: { PATH: process.env.PATH, LD_PRELOAD: library, LIBRARY: library },
      },
    );
    expect(stdout.trim()).toBe('started');
  });
});
