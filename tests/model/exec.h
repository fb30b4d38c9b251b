/* Runs one model operation against winvmem and records the answer (tests/lin).
 *
 * This is the checker's only contact with the library; it is shaped like the op-language
 * module's executor (tools/oplang, issue 12 item 4) so that switching to it is a file swap:
 * a structured operation in, a structured result out, callable from many threads at once. */
#ifndef WVM_LIN_EXEC_H
#define WVM_LIN_EXEC_H
#include <stdint.h>

#include "refmodel.h"

/* Once, before any thread runs operations: the fault-catching probes' signal handlers and a
 * vectored exception handler for guard-page violations. */
void lin_exec_init(void);

/* Where an operation's out-parameters live: NULL = the calling thread's stack; else a buffer
 * (in a page other threads may decommit or protect) of at least LIN_BUF_BYTES. */
#define LIN_BUF_BYTES 320
#define LIN_WW_CAP_EXT 32 /* GetWriteWatch entries that fit in an external buffer */

/* Runs op on the slot that starts at base; fills *res (addresses relative to base) and, for
 * RM_QUERY, the absolute BaseAddress and RegionSize. With an external buffer the values
 * written there are not read back (res->unknown = 1): another thread may have replaced the
 * page under them. */
void lin_exec(char *base, const rm_op *op, void *buf, rm_res *res, uint64_t *abs_base,
              uint64_t *abs_size);

/* Converts a VirtualQuery answer to the model's form, addresses relative to base. */
struct wvm_MEMORY_BASIC_INFORMATION;
void lin_mbi_to_model(const struct wvm_MEMORY_BASIC_INFORMATION *m, const char *base, rm_mbi *out);
#endif
