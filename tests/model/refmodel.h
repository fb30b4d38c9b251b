/* The reference model of Windows page states, for the linearizability checker (tests/lin) and
 * (once it knows views of sections) the fuzzer. It knows nothing of winvmem's data structures: it
 * is a plain array of page records over a window of `npages` pages (64 KiB granules of 16 pages),
 * written from Microsoft's documentation and the Windows-verified rows of
 * doc/windows-semantics.md.
 *
 * One function, rm_apply, takes an operation and the result the library gave for it, decides
 * whether Windows could have answered that from the model's state, and if so moves the state on.
 * Deciding from the result (instead of predicting one) lets the model accept the answers that
 * Windows leaves open without branching: the contents of a MEM_RESET page (kept or zero, and
 * once seen zero, zero), whether MEM_RESET_UNDO found every page intact, and which write-watch
 * records a GetWriteWatch racing with writes sees (pages in rm_op.contested).
 *
 * Addresses are page indexes relative to the window; queries of free space may report a
 * region that runs past the window's end (the caller checks the part beyond). */
#ifndef WVM_REFMODEL_H
#define WVM_REFMODEL_H
#include <stddef.h>
#include <stdint.h>

#define RM_PAGE 4096u
#define RM_GRAN 16u /* pages per 64 KiB allocation granule */

enum rm_kind {
    RM_RESERVE,    /* VirtualAlloc(page, npages, type incl. MEM_RESERVE, prot) */
    RM_COMMIT,     /* VirtualAlloc(page, npages, MEM_COMMIT, prot) */
    RM_DECOMMIT,   /* VirtualFree(page, npages (0: whole allocation), MEM_DECOMMIT) */
    RM_RELEASE,    /* VirtualFree(page, 0, MEM_RELEASE) */
    RM_PROTECT,    /* VirtualProtect(page, npages, prot, &old) */
    RM_QUERY,      /* VirtualQuery(page) */
    RM_RESET,      /* VirtualAlloc(page, npages, MEM_RESET, prot) */
    RM_RESET_UNDO, /* VirtualAlloc(page, npages, MEM_RESET_UNDO, prot) */
    RM_LOCK,       /* VirtualLock(page, npages) */
    RM_UNLOCK,     /* VirtualUnlock(page, npages) */
    RM_WW_GET,     /* GetWriteWatch(type & 1: reset, page, npages, cap entries) */
    RM_WW_RESET,   /* ResetWriteWatch(page, npages) */
    RM_READ,       /* read byte 0 of page (fault-catching) */
    RM_WRITE,      /* write val to byte 0 of page (fault-catching) */
    /* Parts of an operation whose effects span several windows or happen at a second
     * instant (the checker splits such operations, tests/lin/README.md): */
    RM_FREECHECK, /* pages [page, page+npages) are free; type 1: and page+npages is not */
    RM_BUFCHECK,  /* the library wrote (res.ok) or could not write (!res.ok) an out-parameter
                   * placed in page (not byte 0): the page was (not) committed and writable */
    RM_VIEW,      /* the regions of the whole window as a forked child saw them (res.view) */
    RM_NKINDS
};

/* A region as VirtualQuery reports it, addresses as byte offsets from the window's start
 * (NULL AllocationBase: RM_NULL). */
#define RM_NULL INT64_MIN
typedef struct rm_mbi {
    int64_t base, alloc_base;
    uint64_t size;
    uint32_t alloc_prot, state, prot, type, partition;
} rm_mbi;

typedef struct rm_op {
    uint8_t kind;
    uint8_t val;        /* RM_WRITE */
    uint32_t page;      /* first page */
    uint32_t npages;    /* pages (0 where Windows allows a zero size) */
    uint32_t type;      /* RM_RESERVE: MEM_* flags; RM_WW_GET: flags; RM_FREECHECK: 1 = ends;
                         * RM_BUFCHECK: 1 = the call failed and may or may not have stored
                         * (VirtualProtect's 487 stores PAGE_NOACCESS for a range past the
                         * allocation: rm_choices gives both) */
    uint32_t prot;      /* protection argument */
    uint32_t cap;       /* RM_WW_GET: entries in the caller's array */
    uint64_t contested; /* RM_WW_GET: pages (bit i = page+i) that a write concurrent with the
                         * call may have hit; their records are not checked. RM_WRITE,
                         * RM_BUFCHECK: 1 = a store that faulted or was refused while another
                         * call narrowed its page, so its page may be recorded written (finding
                         * (m), a documented deviation of winvmem). RM_READ: bit 0 = a
                         * decommit of a range holding the page ran during the read, bit 1 + g
                         * = a decommit or release of the whole allocation based at granule g
                         * did (RM_DEV_DECOMMIT_READ_ZERO). Set by the caller, 0 for
                         * sequential use */
} rm_op;

enum { RM_NOFAULT, RM_AV, RM_GUARDFAULT };

typedef struct rm_res {
    uint8_t ok;         /* the call reported success (non-NULL, TRUE, 0 for write watch) */
    uint8_t fault;      /* RM_READ / RM_WRITE: RM_NOFAULT, RM_AV or RM_GUARDFAULT */
    uint8_t val;        /* RM_READ: the byte read */
    uint8_t unknown;    /* RM_WW_GET: the addresses could not be read back (array in memory
                         * that became inaccessible): only ok/err are checked */
    uint32_t err;       /* last error after a failure */
    int64_t ret;        /* RM_RESERVE/COMMIT/RESET*: the returned address as an offset */
    uint32_t old;       /* RM_PROTECT: *lpflOldProtect; RM_WW_GET: granularity */
    uint32_t nold;      /* RM_PROTECT: 0 when the old protection could not be read back */
    uint64_t ww_mask;   /* RM_WW_GET: pages returned (bit i = page+i) */
    uint32_t ww_n;      /* RM_WW_GET: *lpdwCount */
    rm_mbi mbi;         /* RM_QUERY */
    const rm_mbi *view; /* RM_VIEW: the regions from offset 0 to the window's end, in order */
    uint32_t nview;
} rm_res;

/* A page record. The model state is a header and one record per page (rm_state_size bytes,
 * no pointers: it may be copied, hashed and compared with memcpy/memcmp). */
enum { RM_FREE, RM_RESV, RM_COMM };
enum {                   /* what byte 0 of a committed page holds (MEM_RESET leaves it open) */
       RM_V_KNOWN,       /* val */
       RM_V_RESET,       /* reset: val or 0; MEM_RESET_UNDO succeeds only if not lost */
       RM_V_RESET_LOST,  /* reset and seen zero (val is 0): MEM_RESET_UNDO must fail */
       RM_V_RESET_INDET, /* reset again after RM_V_INDET: val or 0, undo keeps it open */
       RM_V_INDET        /* a failed MEM_RESET_UNDO left val or 0; the next read decides */
};
enum {                   /* rm_page.flags */
       RM_F_WW = 1,      /* the allocation has MEM_WRITE_WATCH */
       RM_F_WRITTEN = 2, /* write-watch record: written since the last reset */
       RM_F_WMAYBE = 4,  /* the record is unknown (a GetWriteWatch raced with a write) */
       RM_F_LOCKED = 8   /* VirtualLock */
};
typedef struct rm_page {
    uint8_t state, flags;
    uint16_t prot;  /* committed pages: protection incl. PAGE_GUARD while armed */
    uint16_t aprot; /* the allocation's protection */
    uint16_t base;  /* allocation base page (UINT16_MAX: free) */
    uint16_t end;   /* one past the allocation's last page */
    uint8_t val, vstate;
} rm_page;

typedef struct rm_state {
    uint32_t npages;
    uint32_t pad;
    rm_page p[];
} rm_state;

size_t rm_state_size(uint32_t npages);
void rm_init(rm_state *s, uint32_t npages);

/* Checks `res` against what Windows may answer for `op` in state s; on success applies the
 * op and returns 1. On a mismatch returns 0, writes an explanation to why, and leaves s in an
 * unspecified state (callers that continue keep a copy).
 * A few answers leave open what the call did (rm_choices > 1): VirtualProtect refusing an
 * out-of-reach lpflOldProtect with 998 may have changed the protection first (NT writes the
 * old protection after the change and may fail then; winvmem does the same) or not (the
 * pointer's first probe failed). `choice` (0 .. rm_choices-1) picks one. */
unsigned rm_choices(const rm_op *op, const rm_res *res);
int rm_apply_choice(rm_state *s, const rm_op *op, const rm_res *res, unsigned choice, char *why,
                    size_t whylen);
int rm_apply(rm_state *s, const rm_op *op, const rm_res *res, char *why, size_t whylen);

/* Whether VirtualAlloc / VirtualProtect accept the protection (prot_for_protect: the
 * VirtualProtect rules, which differ only in WRITECOPY being an allocation-type error). */
int rm_valid_prot(uint32_t prot);
/* Page protection predicates of x64 Windows (PAGE_EXECUTE reads: no execute-only pages). */
int rm_readable(uint32_t prot);
int rm_writable(uint32_t prot);

/* Known divergences of winvmem from Windows that the model accepts while they are open
 * findings (each listed in tests/lin/README.md with its report; the bit goes with the fix).
 * rm_divergences is 0 today: every finding the bits below stood for is fixed.
 *   RM_DIV_UNLOCK_FREE: VirtualUnlock of free memory inside winvmem's arena succeeds (finding
 *   (b)); Windows fails (there is nothing to unlock). */
enum { RM_DIV_UNLOCK_FREE = 1 };
extern unsigned rm_divergences;

/* Documented deviations of winvmem (doc/porting.md) the model accepts when the caller says
 * the library runs in the mode that has them:
 *   RM_DEV_DECOMMIT_READ_ZERO: a read of a PAGE_READWRITE page (not write-watched) that ran
 *   while a decommit or release of that page did (rm_op.contested) may return 0, linearized
 *   before the decommit and leaving the state as it was (finding (h) without
 *   WINVMEM_STRICT_DECOMMIT=1: no PROT_NONE bracket around the guard marker's zap). */
enum { RM_DEV_DECOMMIT_READ_ZERO = 1 };
extern unsigned rm_deviations;

/* Appends a one-line description of op (and res if not NULL) to buf. */
void rm_describe(char *buf, size_t n, const rm_op *op, const rm_res *res);
const char *rm_kind_name(unsigned kind);
#endif
