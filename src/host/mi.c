/* The heap engine: mimalloc 2.x (Debian's libmimalloc2.0), loaded with dlopen(RTLD_LOCAL) so
 * that its malloc/free override never replaces the process's allocator. Each arena is memory
 * committed through wvm_VirtualAlloc and handed to mimalloc as an exclusive arena
 * (mi_manage_os_memory_ex); a heap allocates through per-thread mimalloc heaps bound to its
 * arenas (mi_heap_new_in_arena). mimalloc 2.0 cannot forget an arena, so arenas live for the
 * whole process in a pool and are reused by later heaps. */
#include <dlfcn.h>
#include "host_internal.h"

#define UNIT      ((size_t)32 << 20) /* mimalloc 2.x segment alignment */
#define MAX_POOL  56                 /* mimalloc 2.0 has 64 arena slots in all */
#define MAX_MI_ID 128

static struct {
    bool (*manage)(void *, size_t, bool, bool, bool, int, bool, int *);
    void *(*heap_new_in_arena)(int);
    size_t (*usable)(const void *);
} mi;
void *(*wvm__mi_heap_malloc)(void *, size_t);
void *(*wvm__mi_heap_malloc_small)(void *, size_t);
void (*wvm__mi_free)(void *);
static bool mi_ok;
static pthread_once_t mi_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static wvm_mi_arena pool[MAX_POOL];
static int npool;
static __thread void *tl_heap[MAX_MI_ID]; /* this thread's mimalloc heap per arena id */

static void mi_load(void)
{
    const char *names[] = {"libmimalloc.so.2", "libmimalloc.so.2.0", "libmimalloc.so"};
    void *lib = NULL;
    for (unsigned i = 0; i < sizeof names / sizeof *names && !lib; i++)
        lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return;
    *(void **)&mi.manage = dlsym(lib, "mi_manage_os_memory_ex");
    *(void **)&mi.heap_new_in_arena = dlsym(lib, "mi_heap_new_in_arena");
    *(void **)&wvm__mi_heap_malloc = dlsym(lib, "mi_heap_malloc");
    *(void **)&wvm__mi_heap_malloc_small = dlsym(lib, "mi_heap_malloc_small");
    *(void **)&wvm__mi_free = dlsym(lib, "mi_free");
    *(void **)&mi.usable = dlsym(lib, "mi_usable_size");
    mi_ok = mi.manage && mi.heap_new_in_arena && wvm__mi_heap_malloc && wvm__mi_heap_malloc_small &&
            wvm__mi_free && mi.usable;
}

bool wvm__mi_available(void)
{
    pthread_once(&mi_once, mi_load);
    return mi_ok;
}

static bool arena_new(wvm_mi_arena *a, size_t size, bool exec)
{
    char *res = wvm_VirtualAlloc(NULL, size + UNIT, WVM_MEM_RESERVE, WVM_PAGE_NOACCESS);
    if (!res)
        return false;
    char *base = (char *)(((uintptr_t)res + UNIT - 1) & ~(uintptr_t)(UNIT - 1));
    uint32_t prot = exec ? WVM_PAGE_EXECUTE_READWRITE : WVM_PAGE_READWRITE;
    int id = -1;
    if (!wvm_VirtualAlloc(base, size, WVM_MEM_COMMIT, prot) ||
        !mi.manage(base, size, true, false, true, -1, true, &id) || id <= 0 || id >= MAX_MI_ID) {
        wvm_VirtualFree(res, 0, WVM_MEM_RELEASE); /* mimalloc refused it: it never saw it */
        return false;
    }
    *a = (wvm_mi_arena){.base = base, .size = size, .id = id, .exec = exec, .busy = true};
    return true;
}

wvm_mi_arena *wvm__mi_arena_get(size_t size, bool exec)
{
    wvm_mi_arena *r = NULL;
    pthread_mutex_lock(&pool_mu);
    for (int i = 0; i < npool && !r; i++)
        if (!pool[i].busy && pool[i].exec == exec && pool[i].size >= size)
            r = &pool[i];
    if (r)
        r->busy = true;
    else if (npool < MAX_POOL && arena_new(&pool[npool], size, exec))
        r = &pool[npool++];
    pthread_mutex_unlock(&pool_mu);
    return r;
}

void wvm__mi_arena_put(wvm_mi_arena *a)
{
    pthread_mutex_lock(&pool_mu);
    a->busy = false;
    pthread_mutex_unlock(&pool_mu);
}

void *wvm__mi_thread_heap(const wvm_mi_arena *a)
{
    void *mh = tl_heap[a->id];
    if (!mh)
        tl_heap[a->id] = mh = mi.heap_new_in_arena(a->id);
    return mh;
}

size_t wvm__mi_usable(const void *p)
{
    return mi.usable(p);
}
