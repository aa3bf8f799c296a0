// A guard-page allocator for the GuardPages test (run_guard_test.sh), loaded
// with LD_PRELOAD into a Release build. With STYLIZE_GUARD_PAGES=1 in the
// environment, every allocation from malloc, calloc, realloc, posix_memalign,
// aligned_alloc and memalign (C++'s operator new included) ends where a page
// with no access begins, and a freed one loses its access and is never handed
// out again: a read or write past the end (beyond the alignment's rounding:
// 16 bytes, or the alignment asked) or after free faults at once, in any
// library, instrumented or not. AddressSanitizer sees only the code it
// compiled; this sees what LibTorch, oneDNN, OpenBLAS and OpenCV do with
// stylize's buffers (Electric Fence's idea, in Debian as electric-fence,
// which takes about 12 minutes to start LibTorch; this starts in a second).
// Blocks beyond the kernel's budget of memory mappings (g_budget), and
// alignments above a page, go to glibc unguarded; so does every call without
// the variable.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void __libc_free(void*);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);

#define HEADER ((size_t)16)  // the size asked and the mapping's start, before the block

static size_t g_page = 4096;  // the page size, set at start
static int g_on = 0;
// Each guarded block costs the process up to two memory mappings, and the
// kernel allows vm.max_map_count of them: past this many live blocks, glibc
// serves (else its own mmap and brk would fail, and Python's import of torch
// with them).
static size_t g_budget = 0;
static size_t g_live = 0;
static char* g_region = NULL;  // reserved address space, handed out once, front to back
static const size_t kRegionSize = (size_t)1 << 36;
static size_t g_next = 0;

__attribute__((constructor)) static void start_guarding(void) {
  const char* on = getenv("STYLIZE_GUARD_PAGES");
  if (on == NULL || strcmp(on, "1") != 0) return;
  g_page = (size_t)sysconf(_SC_PAGESIZE);
  size_t max_maps = 65530;  // Linux's default
  FILE* limit = fopen("/proc/sys/vm/max_map_count", "r");
  if (limit != NULL) {
    if (fscanf(limit, "%zu", &max_maps) != 1) max_maps = 65530;
    fclose(limit);
  }
  g_budget = max_maps > 16384 ? (max_maps - 8192) / 2 : 0;
  void* region = mmap(NULL, kRegionSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (region == MAP_FAILED) return;  // the test's canary then finds no guard and fails
  g_region = region;
  __atomic_store_n(&g_on, 1, __ATOMIC_RELEASE);
}

static int guarded(const void* p) {
  return g_region != NULL && (const char*)p >= g_region && (const char*)p < g_region + kRegionSize;
}

// Maps a block at the end of fresh pages of the region, the next page left
// without access; NULL where the region or the kernel has no room.
static void* place_block(size_t size, size_t align) {
  if (align < 16) align = 16;
  if (size > kRegionSize / 2) return NULL;
  size_t rounded = (size + align - 1) / align * align;
  if (rounded == 0) rounded = align;
  const size_t pages = (rounded + HEADER + g_page - 1) / g_page;
  const size_t offset = __atomic_fetch_add(&g_next, (pages + 1) * g_page, __ATOMIC_RELAXED);  // + the guard page
  if (offset + (pages + 1) * g_page > kRegionSize) return NULL;
  char* base = g_region + offset;
  if (mprotect(base, pages * g_page, PROT_READ | PROT_WRITE) != 0) return NULL;  // e.g. vm.max_map_count
  char* block = base + pages * g_page - rounded;
  ((size_t*)block)[-1] = size;
  ((char**)block)[-2] = base;
  return block;
}

// NULL when the guard is off or cannot place the block (then glibc serves it).
static void* guarded_block(size_t size, size_t align) {
  if (!__atomic_load_n(&g_on, __ATOMIC_ACQUIRE) || align > g_page) return NULL;
  if (__atomic_add_fetch(&g_live, 1, __ATOMIC_RELAXED) > g_budget) {
    __atomic_sub_fetch(&g_live, 1, __ATOMIC_RELAXED);
    return NULL;
  }
  void* block = place_block(size, align);
  if (block == NULL) __atomic_sub_fetch(&g_live, 1, __ATOMIC_RELAXED);
  return block;
}

static size_t block_size(const void* p) { return ((const size_t*)p)[-1]; }

static void release_block(void* p) {
  char* base = ((char**)p)[-2];
  // The block's last byte (its first for an empty one) is on the mapping's last page.
  const size_t last = (uintptr_t)p + (block_size(p) > 0 ? block_size(p) - 1 : 0);
  const size_t length = (last / g_page + 1) * g_page - (uintptr_t)base;
  mprotect(base, length, PROT_NONE);
  madvise(base, length, MADV_DONTNEED);
  __atomic_sub_fetch(&g_live, 1, __ATOMIC_RELAXED);
}

static size_t glibc_usable_size(void* p) {
  static size_t (*next)(void*) = NULL;
  if (next == NULL) next = (size_t(*)(void*))dlsym(RTLD_NEXT, "malloc_usable_size");
  return next(p);
}

void* malloc(size_t size) {
  void* p = guarded_block(size, 16);
  return p != NULL ? p : __libc_malloc(size);
}

void free(void* p) {
  if (p == NULL) return;
  if (guarded(p)) {
    release_block(p);
  } else {
    __libc_free(p);
  }
}

void* calloc(size_t count, size_t size) {
  if (size != 0 && count > (size_t)-1 / size) {
    errno = ENOMEM;
    return NULL;
  }
  void* p = guarded_block(count * size, 16);
  if (p == NULL) return __libc_calloc(count, size);
  return memset(p, 0, count * size);  // fresh pages are zero already; this keeps it plain
}

size_t malloc_usable_size(void* p) {
  if (p == NULL) return 0;
  return guarded(p) ? block_size(p) : glibc_usable_size(p);
}

void* realloc(void* p, size_t size) {
  if (p == NULL) return malloc(size);
  if (!guarded(p) && !__atomic_load_n(&g_on, __ATOMIC_ACQUIRE)) return __libc_realloc(p, size);
  void* q = malloc(size);
  if (q == NULL) return NULL;
  const size_t old = malloc_usable_size(p);
  memcpy(q, p, old < size ? old : size);
  free(p);
  return q;
}

int posix_memalign(void** out, size_t align, size_t size) {
  void* p = guarded_block(size, align);
  if (p == NULL) p = __libc_memalign(align, size);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}

void* memalign(size_t align, size_t size) {
  void* p = guarded_block(size, align);
  return p != NULL ? p : __libc_memalign(align, size);
}

void* aligned_alloc(size_t align, size_t size) { return memalign(align, size); }
