/* A small open-addressing hash map keyed by address (linear probing, tombstones): the
 * address-space reports of AcquiredVirtualAddressSpace and the DebugAlloc blocks of a heap. The
 * caller serialises access. Uses the C heap: never called from VirtualQuery. */
#include <errno.h>
#include <stdlib.h>
#include "host_internal.h"

#define EMPTY   ((uintptr_t)0)
#define DELETED ((uintptr_t)1)

static size_t slot_of(uintptr_t key, size_t cap)
{
    uint64_t x = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 32) & (cap - 1);
}

static int grow(wvm_addrmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    if (m->count * 4 < m->cap) /* mostly tombstones: rehash at the same size */
        ncap = m->cap;
    wvm_addrmap_entry *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        wvm_addrmap_entry *e = &m->slots[i];
        if (e->key <= DELETED)
            continue;
        size_t j = slot_of(e->key, ncap);
        while (ns[j].key != EMPTY)
            j = (j + 1) & (ncap - 1);
        ns[j] = *e;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    m->used = m->count;
    return 0;
}

wvm_addrmap_entry *wvm__addrmap_get(wvm_addrmap *m, uintptr_t key)
{
    if (!m->cap)
        return NULL;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].key == key)
            return &m->slots[i];
        if (m->slots[i].key == EMPTY)
            return NULL;
    }
}

int wvm__addrmap_put(wvm_addrmap *m, uintptr_t key, wvm_addrmap_val val)
{
    wvm_addrmap_entry *e = wvm__addrmap_get(m, key);
    if (e) {
        e->val = val;
        return 0;
    }
    if ((m->used + 1) * 2 > m->cap) {
        int err = grow(m);
        if (err)
            return err;
    }
    size_t i = slot_of(key, m->cap);
    while (m->slots[i].key > DELETED)
        i = (i + 1) & (m->cap - 1);
    if (m->slots[i].key == EMPTY)
        m->used++;
    m->slots[i] = (wvm_addrmap_entry){key, val};
    m->count++;
    return 0;
}

bool wvm__addrmap_del(wvm_addrmap *m, uintptr_t key, wvm_addrmap_val *val)
{
    wvm_addrmap_entry *e = wvm__addrmap_get(m, key);
    if (!e)
        return false;
    if (val)
        *val = e->val;
    e->key = DELETED;
    m->count--;
    return true;
}

wvm_addrmap_entry *wvm__addrmap_next(wvm_addrmap *m, size_t *pos)
{
    for (; *pos < m->cap; (*pos)++)
        if (m->slots[*pos].key > DELETED)
            return &m->slots[(*pos)++];
    return NULL;
}

void wvm__addrmap_free(wvm_addrmap *m)
{
    free(m->slots);
    *m = (wvm_addrmap){0};
}
