/* VirtualQuery of memory winvmem did not allocate. The kernel's mappings outside winvmem's
 * arenas are reported as Windows would report the equivalent memory:
 *   file mapping of an object that has an executable mapping  -> MEM_IMAGE
 *   other file mappings, shared anonymous memory               -> MEM_MAPPED
 *   private anonymous memory (heap, stacks)                    -> MEM_PRIVATE
 *   PROT_NONE mappings (others' reservations, stack guards)    -> MEM_RESERVE
 * AllocationBase is the first mapping of the same file in an unbroken row (the load base of
 * a shared object), or the mapping itself for anonymous memory. Everything else is free. */
#include <string.h>

#include "core/query.h"
#include "core/space.h"
#include "prim/linux/prim.h"

#define MAX_WALK 64 /* mappings examined to find an object's first mapping */

uint32_t wvm__windows_prot(int prot, int copy_on_write)
{
    bool r = prot & WVM_P_READ, w = prot & WVM_P_WRITE, x = prot & WVM_P_EXEC;
    if (x)
        return w ? (copy_on_write ? WVM_PAGE_EXECUTE_WRITECOPY : WVM_PAGE_EXECUTE_READWRITE)
                 : (r ? WVM_PAGE_EXECUTE_READ : WVM_PAGE_EXECUTE);
    if (w)
        return copy_on_write ? WVM_PAGE_WRITECOPY : WVM_PAGE_READWRITE;
    return r ? WVM_PAGE_READONLY : WVM_PAGE_NOACCESS;
}

/* One past lpMaximumApplicationAddress (src/api/common.c). */
static uintptr_t user_end(void)
{
    uintptr_t linux_end = wvm__caps()->user_limit;
    return linux_end < 0x7FFFFFFF0000u ? linux_end : 0x7FFFFFFF0000u;
}

static bool same_object(const wvm_vma *a, const wvm_vma *b)
{
    return a->inode && a->inode == b->inode && a->dev == b->dev;
}

typedef struct region {
    uintptr_t alloc_base;
    uint32_t state, protect, type, alloc_protect;
} region;

/* Describes mapping v; for files, walks the object's row of mappings. */
static void describe(const wvm_vma *v, region *r)
{
    bool file = v->flags & WVM_VMA_FILE, shared = v->flags & WVM_VMA_SHARED;
    r->alloc_base = v->start;
    r->type = file || shared ? WVM_MEM_MAPPED : WVM_MEM_PRIVATE;
    if (file) {
        /* the object's row starts at or after start - offset; find the row holding v */
        uintptr_t cursor = v->start > v->pgoff ? v->start - v->pgoff : 0;
        wvm_vma w, prev = {0};
        bool exec = false, in_row = false;
        for (int i = 0; i < MAX_WALK && !wvm__prim_vma_next(cursor, &w); i++) {
            if (w.start > v->start && !(in_row && same_object(&w, &prev) && w.start == prev.end))
                break; /* past v, and the row has ended */
            if (same_object(&w, v)) {
                if (!(in_row && w.start == prev.end && same_object(&w, &prev))) {
                    r->alloc_base = w.start; /* a new row begins */
                    exec = false;
                }
                in_row = true;
                exec |= (w.prot & WVM_P_EXEC) != 0;
            } else {
                in_row = false;
            }
            prev = w;
            cursor = w.end;
        }
        if (exec)
            r->type = WVM_MEM_IMAGE;
    }
    bool cow = file && !shared;
    r->state = v->prot ? WVM_MEM_COMMIT : WVM_MEM_RESERVE;
    r->protect = v->prot ? wvm__windows_prot(v->prot, cow) : 0;
    r->alloc_protect =
        r->type == WVM_MEM_IMAGE ? WVM_PAGE_EXECUTE_WRITECOPY : wvm__windows_prot(v->prot, cow);
}

static bool same_region(const region *a, const region *b)
{
    return a->alloc_base == b->alloc_base && a->state == b->state && a->protect == b->protect &&
           a->type == b->type;
}

/* The lowest address >= from that something occupies: a winvmem allocation or a mapping
 * outside the arenas that is not a winvmem allocation being made or released. */
static uintptr_t next_occupied(uintptr_t from)
{
    uintptr_t limit = wvm__space_next(from, user_end());
    uintptr_t cursor = from, arena_end;
    wvm_vma v;
    while (cursor < limit && !wvm__prim_vma_next(cursor, &v) && v.start < limit) {
        uintptr_t start = v.start > cursor ? v.start : cursor;
        if (wvm__space_in_arena(start, &arena_end)) {
            cursor = arena_end;
            continue;
        }
        if (wvm__space_pending(start)) {
            cursor = v.end;
            continue;
        }
        return start;
    }
    return limit;
}

static void fill(wvm_MEMORY_BASIC_INFORMATION *m, uintptr_t page, uintptr_t end, const region *r)
{
    m->BaseAddress = (void *)page;
    m->AllocationBase = (void *)r->alloc_base;
    m->AllocationProtect = r->alloc_protect;
    m->PartitionId = 0;
    m->RegionSize = end - page;
    m->State = r->state;
    m->Protect = r->protect;
    m->Type = r->type;
}

uint32_t wvm__query_foreign(uintptr_t page, wvm_MEMORY_BASIC_INFORMATION *out)
{
    wvm_vma v;
    if (!wvm__space_in_arena(page, NULL) && !wvm__space_pending(page) &&
        !wvm__prim_vma_next(page, &v) && v.start <= page) {
        region r, next_r;
        describe(&v, &r);
        uintptr_t end = v.end;
        wvm_vma n;
        while (!wvm__prim_vma_next(end, &n) && n.start == end &&
               !wvm__space_in_arena(n.start, NULL)) {
            describe(&n, &next_r);
            if (!same_region(&r, &next_r))
                break;
            end = n.end;
        }
        if (end > user_end())
            end = user_end();
        fill(out, page, end, &r);
        return 0;
    }
    region free_r = {0, WVM_MEM_FREE, WVM_PAGE_NOACCESS, 0, 0};
    fill(out, page, next_occupied(page), &free_r);
    return 0;
}
