/* Runs one model operation against winvmem and records the answer, through the op-language
 * module's executor (tools/oplang), for the linearizability checker (tests/lin). Callable from many
 * threads at once (one op-language context per thread). */
#ifndef WVM_LIN_EXEC_H
#define WVM_LIN_EXEC_H
#include <stdint.h>
#include <winvmem/win32.h>

#include "refmodel.h"

/* Once, before anything makes winvmem install its fault dispatcher: the probes' handlers
 * (opl_init), and a last handler that reports a fault nobody claims before the process dies. */
void lin_exec_init(void);
/* Called (if set) when a fault nobody claims is about to kill the process, after the fault's
 * place and a backtrace were printed: a last word from the program. */
extern void (*lin_exec_crash_hook)(void);
/* Frees the calling thread's op-language context (it releases nothing). */
void lin_exec_thread_end(void);

/* Where an operation's out-parameters live: NULL = the calling thread's stack; else a buffer
 * (in a page other threads may decommit or protect) of at least LIN_BUF_BYTES. */
#define LIN_BUF_BYTES  320
#define LIN_WW_CAP_EXT 32 /* GetWriteWatch entries that fit in an external buffer */

/* Runs op on the slot that starts at base; fills *res (addresses relative to base) and, for
 * RM_QUERY, the absolute BaseAddress and RegionSize. With an external buffer the values
 * written there are not read back (res->unknown = 1): another thread may have replaced the
 * page under them. */
void lin_exec(char *base, const rm_op *op, void *buf, rm_res *res, uint64_t *abs_base,
              uint64_t *abs_size);

/* The op-language line of op on the slot at base, with addresses written relative to `name`
 * (which holds base): what `winvmem run` replays after "name = hole SIZE". */
void lin_exec_format(const char *name, const rm_op *op, char *buf, size_t n);

/* Converts a VirtualQuery answer to the model's form, addresses relative to base. */
void lin_mbi_to_model(const MEMORY_BASIC_INFORMATION *m, const char *base, rm_mbi *out);
#endif
