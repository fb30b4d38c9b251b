/* Arenas: large PROT_NONE, MAP_NORESERVE mappings from which reservations are carved without
 * a system call. Each arena tracks, per 2 MiB chunk, whether the chunk has been switched to
 * guard-marker mode (mapping read-write, every uncommitted page carrying a guard marker), which
 * lets commits and decommits inside it use madvise without splitting kernel mappings. */
#ifndef WVM_ARENA_H
#define WVM_ARENA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WVM_CHUNK (2u << 20) /* unit in which arena memory is switched to guard-marker mode */

/* Adds an arena of at least `need` bytes and gives its space to the free-space tree.
 * Placement lock held. Returns 0 or an errno. */
int wvm__arena_grow(size_t need);
/* Whether [start, end) intersects any arena. Lock-free. */
bool wvm__arena_overlaps(uintptr_t start, uintptr_t end);
/* Switches every chunk touching [start, end) of an arena to guard-marker mode. Idempotent and
 * thread-safe. Returns 0 or an errno; chunks converted before a failure stay converted, which no
 * Windows-visible state can tell (their pages are all uncommitted). */
int wvm__arena_guard_chunks(uintptr_t start, uintptr_t end);
/* Whether every chunk touching [start, end) (inside one arena) is in guard-marker mode, i.e.
 * its mapping is read-write under markers. Lock-free: a chunk once converted stays so while
 * an allocation with committed pages holds it. */
bool wvm__arena_guarded(uintptr_t start, uintptr_t end);
/* Switches every guard-marker chunk inside [start, end) (chunk aligned, no committed page)
 * back to plain PROT_NONE memory, for a sparse reservation placed there. 0 or an errno. */
int wvm__arena_unguard_chunks(uintptr_t start, uintptr_t end);
/* Where the page at addr (in an arena) is kept while it is a guard marker holding data
 * (core/stash.h): the same offset in the arena's stash, a MAP_NORESERVE mapping of the
 * arena's size reserved PROT_NONE with the arena (next to it where the kernel agrees) and made
 * read-write at its first use (make; one kernel mapping per arena, page tables and memory only
 * for the pages kept). 0 when addr is in no arena, or there is no stash (not made yet, or the
 * reservation or its mprotect failed). Lock-free and async-signal-safe without make. */
uintptr_t wvm__arena_stash(uintptr_t addr, bool make);
/* Whether addr lies in one of winvmem's arenas; if so, *end is that arena's end. Lock-free. */
bool wvm__space_in_arena(uintptr_t addr, uintptr_t *end);
void wvm__arena_stats(uint64_t *count, uint64_t *bytes, uint64_t *chunks_guarded);
#endif
