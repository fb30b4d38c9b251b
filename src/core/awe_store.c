/* The AWE page store (see awe_store.h). */
#include <errno.h>
#include <pthread.h>

#include "core/awe_store.h"
#include "prim/options.h"
#include "core/space.h"
#include "prim/linux/awe.h"
#include "prim/linux/memfd.h"
#include "prim/linux/prim.h"
#include "prim/linux/uffd.h"

#define STORE_MAX ((size_t)1 << 40) /* up to 1 TiB of address space / file size, uncharged */
#define STORE_MIN ((size_t)1 << 30)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool use_move, use_memfd;
static char *store; /* UFFDIO_MOVE: slot s lives at store + s pages while not mapped */
static int memfd = -1;
static size_t store_size;

static void choose(void)
{
    use_move = wvm__prim_uffd_move_available();
    use_memfd = !use_move && !wvm__prim_memfd_open(&memfd);
}

bool wvm__store_available(void)
{
    pthread_once(&once, choose);
    return use_move || use_memfd;
}

bool wvm__store_memfd(void)
{
    pthread_once(&once, choose);
    return use_memfd;
}

int wvm__store_init(void)
{
    if (store_size)
        return 0;
    if (!wvm__store_available())
        return ENOSYS;
    if (use_memfd) {
        store_size = STORE_MAX; /* the file grows as slots are filled */
        return 0;
    }
    void *p;
    int err = ENOMEM;
    size_t size = STORE_MAX;
    /* smaller where address space is scarce (sanitizers; strict overcommit ignores NORESERVE) */
    for (; err && size >= STORE_MIN; size /= 2)
        err = wvm__prim_map_anon_rw(NULL, size, WVM_PAGE, false, &p);
    size *= 2;
    if (!err && (err = wvm__prim_ww_register(p, size))) /* UFFDIO_MOVE needs it */
        wvm__prim_unmap(p, size);
    if (!err) {
        store = p;
        store_size = size;
    }
    return err;
}

uint64_t wvm__store_slots(void)
{
    return store_size / WVM_PAGE;
}

static char *slot_addr(uint64_t s)
{
    return store + s * WVM_PAGE;
}

int wvm__store_fill(uint64_t s)
{
    if (use_memfd)
        return wvm__prim_memfd_alloc(memfd, s * WVM_PAGE, WVM_PAGE);
    return wvm__prim_populate(slot_addr(s), WVM_PAGE); /* resident: a touch cannot fail */
}

void wvm__store_empty(uint64_t s)
{
    if (use_memfd)
        wvm__prim_memfd_free(memfd, s * WVM_PAGE, WVM_PAGE);
    else
        wvm__prim_discard(slot_addr(s), WVM_PAGE);
}

int wvm__store_page_in(uintptr_t addr, uint64_t s, uint64_t n)
{
    if (use_memfd)
        return wvm__prim_map_shared_fixed((void *)addr, n * WVM_PAGE, memfd, s * WVM_PAGE);
    return wvm__prim_uffd_move((void *)addr, slot_addr(s), n * WVM_PAGE);
}

int wvm__store_page_out(uintptr_t addr, uint64_t s, uint64_t n)
{
    if (use_memfd) /* the data stays in the file */
        return wvm__prim_replace_none((void *)addr, n * WVM_PAGE);
    return wvm__prim_uffd_move(slot_addr(s), (void *)addr, n * WVM_PAGE);
}

int wvm__store_window(uintptr_t want, size_t size, void **out)
{
    if (wvm__store_memfd())
        return want ? wvm__prim_map_none((void *)want, size, true, out)
                    : wvm__prim_map_none_aligned(size, WVM_GRAN, out);
    return wvm__prim_map_anon_rw((void *)want, size, WVM_GRAN, false, out);
}

int wvm__store_window_ready(uintptr_t base, size_t size)
{
    /* memfd: empty window pages are PROT_NONE; UFFDIO_MOVE: missing pages raise SIGBUS */
    return use_memfd ? 0 : wvm__prim_uffd_register_missing((void *)base, size);
}
