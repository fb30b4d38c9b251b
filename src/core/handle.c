/* The handle table (handle.h). */
#include <pthread.h>

#include <winvmem/vm.h>

#include "core/ebr.h"
#include "core/fork.h"
#include "core/handle.h"
#include "core/meta.h"

#define CHUNK_SLOTS 1024u
#define MAX_CHUNKS  4096u /* 4M handles */
#define INDEX_BITS  22u
/* Values stay below 2^31: Microsoft documents that only the low 32 bits of a handle are
 * significant (64-bit Windows uses 32-bit handles; truncating one to 32 bits and sign-extending
 * it back is safe, HandleToULong/LongToHandle), so 2 low zero bits + 22 index bits + 7
 * generation bits. */
#define GEN_BITS 7u
#define GEN_MASK ((1u << GEN_BITS) - 1)

typedef struct slot {
    wvm_object *obj; /* NULL: free */
    uint32_t access;
    uint32_t gen;
    uint32_t next_free; /* index + 1 of the next free slot, 0: none */
} slot;

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static slot *chunks[MAX_CHUNKS];
static uint32_t nslots, free_head, open_count;

/* a leaf: its holder takes no other lock */
__attribute__((constructor)) static void register_fork(void)
{
    wvm__fork_register_lock(WVM_FORK_RANK_HANDLES, &table_lock);
}

void wvm__object_unref(wvm_object *o)
{
    if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1)
        o->destroy(o);
}

static slot *slot_at(uint32_t idx)
{
    return &chunks[idx / CHUNK_SLOTS][idx % CHUNK_SLOTS];
}

/* Table lock held. */
static int grow(void)
{
    uint32_t c = nslots / CHUNK_SLOTS;
    if (c == MAX_CHUNKS)
        return -1;
    slot *s = wvm__meta_zalloc(CHUNK_SLOTS * sizeof *s); /* never freed */
    if (!s)
        return -1;
    chunks[c] = s;
    for (uint32_t i = CHUNK_SLOTS; i-- > 0;) {
        s[i].next_free = free_head;
        free_head = nslots + i + 1;
    }
    nslots += CHUNK_SLOTS;
    return 0;
}

static void *value_of(uint32_t idx, uint32_t gen)
{
    uintptr_t v = ((uintptr_t)(gen & GEN_MASK) << INDEX_BITS | (idx + 1)) << 2;
    return (void *)v;
}

/* The slot h names (its index in *at), or NULL. Table lock held. */
static slot *lookup(void *h, uint32_t *at)
{
    uintptr_t v = (uintptr_t)h;
    if (!v || (v & 3) || (v >> 2) >> (INDEX_BITS + GEN_BITS))
        return NULL;
    v >>= 2;
    uint32_t idx = (uint32_t)(v & ((1u << INDEX_BITS) - 1));
    uint32_t gen = (uint32_t)(v >> INDEX_BITS);
    if (!idx || idx > nslots)
        return NULL;
    slot *s = slot_at(idx - 1);
    *at = idx - 1;
    return s->obj && (s->gen & GEN_MASK) == gen ? s : NULL;
}

uint32_t wvm__handle_new(wvm_object *o, uint32_t access, void **out)
{
    pthread_mutex_lock(&table_lock);
    if (!free_head && grow()) {
        pthread_mutex_unlock(&table_lock);
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    }
    uint32_t idx = free_head - 1;
    slot *s = slot_at(idx);
    free_head = s->next_free;
    s->obj = o;
    s->access = access;
    s->gen++;
    open_count++;
    *out = value_of(idx, s->gen);
    pthread_mutex_unlock(&table_lock);
    return 0;
}

wvm_object *wvm__handle_get(void *h, uint32_t kind, uint32_t *access)
{
    uint32_t idx;
    pthread_mutex_lock(&table_lock);
    slot *s = lookup(h, &idx);
    wvm_object *o = s && (!kind || s->obj->kind == kind) ? s->obj : NULL;
    if (o) {
        wvm__object_ref(o);
        if (access)
            *access = s->access;
    }
    pthread_mutex_unlock(&table_lock);
    return o;
}

uint32_t wvm__handle_close(void *h)
{
    uint32_t idx;
    pthread_mutex_lock(&table_lock);
    slot *s = lookup(h, &idx);
    if (!s) {
        pthread_mutex_unlock(&table_lock);
        return WVM_ERROR_INVALID_HANDLE;
    }
    wvm_object *o = s->obj;
    s->obj = NULL;
    s->next_free = free_head;
    free_head = idx + 1;
    open_count--;
    pthread_mutex_unlock(&table_lock);
    if (o->handle_closed)
        o->handle_closed(o);
    wvm__object_unref(o);
    return 0;
}

uint64_t wvm__handle_count(void)
{
    pthread_mutex_lock(&table_lock);
    uint64_t n = open_count;
    pthread_mutex_unlock(&table_lock);
    return n;
}
