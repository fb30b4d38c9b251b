/* The op language (tools/oplang/README.md): one parser and one executor of Windows
 * virtual-memory operations, shared by `winvmem run` (tools/winvmem), the differential test's
 * interpreter (tests/diff, built natively against winvmem and with mingw-w64 for Wine), the
 * fuzzer (fuzz/) and the linearizability checker (tests/lin).
 *
 * Written against the Windows names only: <winvmem/win32.h> natively, <windows.h> with
 * mingw-w64. Nothing here is exported by libwinvmem; the module is compiled into each tool.
 *
 * Layers:  text --opl_parse_*--> opl_op_t --opl_exec--> opl_result_t --opl_print--> text/JSON
 * Programs that make ops themselves (fuzzer, lin) fill opl_op_t directly and skip the parser.
 *
 * Threads: every function may be called from any number of threads at once, each with its
 * own opl_ctx_t (a context is not shared). The probes that touch memory keep no global state:
 * a fault is reported in a register of the faulting thread's context, so concurrent probes,
 * and probes while other threads decommit the page, are safe. */
#ifndef OPLANG_H
#define OPLANG_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "oplang_win.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum opl_kind {
    OPL_ALLOC,      /* [NAME =] alloc ADDR SIZE TYPE PROT       VirtualAlloc */
    OPL_ALLOCAPP,   /* [NAME =] allocapp ADDR SIZE TYPE PROT    VirtualAllocFromApp */
    OPL_HOLE,       /* NAME = hole SIZE                         reserve + release: free space */
    OPL_FREE,       /* free ADDR SIZE TYPE                      VirtualFree */
    OPL_PROTECT,    /* protect ADDR SIZE PROT [noold]           VirtualProtect */
    OPL_PROTECTAPP, /* protectapp ADDR SIZE PROT [noold]        VirtualProtectFromApp */
    OPL_QUERY,      /* query ADDR [LEN]                         VirtualQuery */
    OPL_SCAN,       /* scan ADDR            every region of the allocation holding ADDR */
    OPL_WRITE,      /* write ADDR BYTE      one byte through a fault-catching probe */
    OPL_READ,       /* read ADDR [N]        N <= 64 bytes through the probe */
    OPL_ACCESS,     /* access ADDR SIZE     per page: w r - g, then a checksum */
    OPL_LOCK,       /* lock ADDR SIZE                           VirtualLock */
    OPL_UNLOCK,     /* unlock ADDR SIZE                         VirtualUnlock */
    OPL_WATCH,      /* watch ADDR SIZE [reset]                  GetWriteWatch (64 entries) */
    OPL_RESETWATCH, /* resetwatch ADDR SIZE                     ResetWriteWatch */
    OPL_MAP,        /* map                  every region of every allocation named so far */
    OPL_STATS,      /* stats                winvmem's statistics (winvmem only) */
    /* sections, views, placeholders (exec_section.c) */
    OPL_SECTION, /* [NAME =] section SIZE PROT [ATTRS [OBJNAME]]  CreateFileMappingW, pagefile */
    OPL_OPEN,    /* [NAME =] open ACCESS OBJNAME                  OpenFileMappingW */
    OPL_CLOSE,   /* close NAME                                  CloseHandle */
    OPL_VIEW,    /* [NAME =] view NAME ACCESS OFFSET SIZE [ADDR]       MapViewOfFileEx */
    OPL_VIEW3,   /* [NAME =] view3 NAME ADDR OFFSET SIZE TYPE PROT     MapViewOfFile3 */
    OPL_UNMAP,   /* unmap ADDR [TYPE]     UnmapViewOfFile; with TYPE: UnmapViewOfFile2 */
    OPL_FLUSH,   /* flush ADDR SIZE                             FlushViewOfFile */
    OPL_ALLOC2,  /* [NAME =] alloc2 ADDR SIZE TYPE PROT [LOW HIGH ALIGN]   VirtualAlloc2 */
    OPL_END,     /* ---                  ends a sequence: releases what it made */
    /* the neighbours of VirtualAlloc (after OPL_END: the values above stay as they were) */
    OPL_DISCARD,   /* discard ADDR SIZE                        DiscardVirtualMemory */
    OPL_OFFER,     /* offer ADDR SIZE PRIORITY                 OfferVirtualMemory */
    OPL_RECLAIM,   /* reclaim ADDR SIZE                        ReclaimVirtualMemory */
    OPL_PREFETCH,  /* prefetch ADDR SIZE                       PrefetchVirtualMemory, one range */
    OPL_WSQUERY,   /* wsquery ADDR                             QueryWorkingSetEx, one page */
    OPL_ALLOCNUMA, /* [NAME =] allocnuma ADDR SIZE TYPE PROT NODE   VirtualAllocExNuma */
    OPL_KINDS
} opl_kind_t;

#define OPL_NAME_MAX  16 /* including the NUL */
#define OPL_WATCH_MAX 64 /* GetWriteWatch's array */
#define OPL_READ_MAX  64
#define OPL_PAGE      4096u

/* An address: absolute (name[0] == 0) or NAME+off / NAME-off. */
typedef struct opl_addr {
    char name[OPL_NAME_MAX];
    uint64_t off; /* the address itself when absolute */
    int neg;      /* NAME-off */
} opl_addr_t;

/* opl_op_t.flags */
#define OPL_F_NOOLD 0x1u /* protect*: lpflOldProtect = NULL */
#define OPL_F_RESET 0x2u /* watch: WRITE_WATCH_FLAG_RESET */
/* query: dwLength given (size) instead of sizeof(MEMORY_BASIC_INFORMATION) */
#define OPL_F_LEN  0x4u
#define OPL_F_REQ  0x8u  /* alloc2: an address-requirements parameter is passed */
#define OPL_F_TYPE 0x10u /* unmap: TYPE given (UnmapViewOfFile2) */

/* Out-parameters placed by the caller (programs only; the parser leaves them NULL): the call
 * writes there instead of into the executor's own variables, e.g. into memory other threads
 * decommit or protect. The executor stores nothing there before the call (set *watch_count
 * yourself) and afterwards copies what is there into the result through the probes; a fault
 * while copying sets opl_result_t.out_fault and leaves the rest of that field as it was. */
typedef struct opl_out {
    void *mbi;         /* query: lpBuffer (sizeof(MEMORY_BASIC_INFORMATION) bytes are copied) */
    void *old_prot;    /* protect*: lpflOldProtect (DWORD / ULONG) */
    void *watch_addrs; /* watch: lpAddresses (PVOID[]) */
    void *watch_count; /* watch: lpdwCount (ULONG_PTR) */
    void *watch_gran;  /* watch: lpdwGranularity (ULONG) */
} opl_out_t;

#define OPL_OBJNAME_MAX 96 /* an object name, including the NUL */

typedef struct opl_op {
    opl_kind_t kind;
    char def[OPL_NAME_MAX]; /* "NAME = ..." (ops that make something); "" when none */
    opl_addr_t addr;
    uint64_t size;  /* SIZE; query: LEN; read: N (default 1); write: BYTE */
    uint32_t type;  /* alloc*, free, view3, unmap: MEM_* flags */
    uint32_t prot;  /* alloc*, protect*, section, view3: PAGE_* flags */
    uint32_t flags; /* OPL_F_* */
    unsigned line;  /* source line, 1-based (0: made by a program) */
    opl_out_t out;  /* caller-placed out-parameters, or NULLs */
    /* sections and views */
    char handle[OPL_NAME_MAX];     /* view, view3, close: the NAME of a handle */
    char objname[OPL_OBJNAME_MAX]; /* section, open: the object's name ("" unnamed) */
    uint32_t attrs;                /* section: SEC_* flags */
    uint32_t access;               /* open, view: FILE_MAP_* flags */
    uint64_t offset;               /* view, view3: the offset in the section */
    opl_addr_t low, high;          /* alloc2: MEM_ADDRESS_REQUIREMENTS (OPL_F_REQ) */
    uint64_t align;
    uint32_t arg; /* offer: the priority; allocnuma: the node */
} opl_op_t;

/* ---- parsing --------------------------------------------------------------------------- */

typedef struct opl_error {
    unsigned line, col; /* 1-based; col of the offending token */
    char token[48];     /* the offending token ("" at the end of the line) */
    char reason[320];   /* what is wrong and what is expected */
} opl_error_t;

/* One line. Returns 1 (an op in *op, op->line = line), 0 (blank or comment), -1 (*err). Names
 * are not resolved here (see opl_script_parse). */
int opl_parse_line(const char *text, unsigned line, opl_op_t *op, opl_error_t *err);

/* A whole script. Also checks every name: used only after a "NAME = " in the same sequence.
 * ops[] holds the lines that parsed (OPL_END for each "---"); errs[] every error, in order. */
typedef struct opl_script {
    opl_op_t *ops;
    char **src; /* each op's source line */
    size_t nops;
    opl_error_t *errs;
    size_t nerrs;
} opl_script_t;
int opl_script_parse(FILE *in, opl_script_t *out); /* 0, or -1 when out of memory / read error */
void opl_script_free(opl_script_t *s);
/* "FILE:LINE:COL: 'TOKEN': REASON" */
void opl_error_print(FILE *out, const char *file, const opl_error_t *e);

/* Op name (the one spelling), and the op's source form again. */
const char *opl_kind_name(opl_kind_t k);
void opl_op_format(const opl_op_t *op, char *buf, size_t cap);

/* ---- execution ------------------------------------------------------------------------- */

typedef struct opl_ctx opl_ctx_t;

/* opl_ctx_new flags */
#define OPL_CTX_CALL_ONLY                                                                          \
    0x1u /* only the Windows call: no VirtualQuery before or after it                              \
          * (range context, page states, alias detection). For                                     \
          * concurrent histories, where those would be separate ops. */

/* Installs the probes' fault handlers once per process (also done by opl_ctx_new). */
void opl_init(void);
opl_ctx_t *opl_ctx_new(unsigned flags);
void opl_ctx_free(opl_ctx_t *c); /* does not release anything; see opl_ctx_end */
/* Ends a sequence: releases every allocation an op of this context made and named that still
 * starts at its name, then forgets all names (also those of opl_name_set, never released). */
void opl_ctx_end(opl_ctx_t *c);

/* Names: what an op returned (0 for a failure), and the span (> 0 when the op made a new
 * allocation of that size; addresses inside spans print as NAME+0xOFF). A program may define
 * names itself, e.g. to share one allocation between the contexts of several threads; such a
 * name is the program's: opl_ctx_end forgets it but does not release its allocation. Returns
 * 0, or -1 (name too long, out of memory / no such name). */
int opl_name_set(opl_ctx_t *c, const char *name, uintptr_t value, uintptr_t span);
int opl_name_get(const opl_ctx_t *c, const char *name, uintptr_t *value, uintptr_t *span);

enum opl_status {
    OPL_DONE,        /* the op ran; ret/error are the call's */
    OPL_SKIP,        /* its address names an allocation that failed (both sides skip) */
    OPL_UNSUPPORTED, /* the platform lacks the call (Wine without *FromApp; stats on Windows) */
    OPL_BAD_NAME     /* a name no op defined (opl_script_parse prevents this) */
};

typedef struct opl_result {
    opl_kind_t kind;
    enum opl_status status;
    uintptr_t addr; /* the address the op used, names resolved */
    uint64_t ret;   /* the call's return value: pointer, HANDLE, BOOL, SIZE_T, UINT or an
                     * error code (discard, offer, reclaim) */
    uint32_t error; /* GetLastError() after the call (set to 0 before it) */
    int failed;     /* the call reported failure (NULL, FALSE, 0, nonzero UINT) */
    char range;     /* failed alloc/free/protect/lock: where the range lies, queried after
                     * the call: F free, I inside one allocation, X leaves it, O wraps,
                     * E not a user address; 0 in OPL_CTX_CALL_ONLY */
    uint64_t t_call, t_return; /* monotonic ns right before / after the Windows call */

    char out_fault; /* copying a caller-placed out-parameter faulted ('f' or 'g'), else 0 */
    /* wsquery: the PSAPI_WORKING_SET_EX_BLOCK of the page (its Flags word) */
    uint64_t ws;
    /* protect*: *lpflOldProtect after the call (0xdeadbeef when it stayed untouched) */
    uint32_t old_prot;
    /* query: the buffer after the call (bytes it did not write stay 0x5a) */
    MEMORY_BASIC_INFORMATION mbi;
    /* watch: lpdwCount and lpdwGranularity after the call, the addresses it wrote */
    uint64_t count;
    uint32_t gran;
    uintptr_t written[OPL_WATCH_MAX];
    /* read: the bytes read before a fault; write/read: fault ('g' guard page violation, 'f'
     * access violation, 0 none) and the page state before it (c r f, ? query failed) */
    unsigned char bytes[OPL_READ_MAX];
    unsigned nbytes;
    char fault, state;
    /* access: one letter per page (w r - g) and its state (c r f ?), and the checksum of the
     * readable bytes; scan/map: the regions in order. Owned by the context, valid until its
     * next opl_exec. */
    const char *pages, *states;
    uint32_t sum;
    const MEMORY_BASIC_INFORMATION *regions;
    size_t nregions;
} opl_result_t;

/* Runs one op in context c (names resolved in c; an alloc/hole with a NAME defines it).
 * OPL_END calls opl_ctx_end. Returns r->status. */
int opl_exec(opl_ctx_t *c, const opl_op_t *op, opl_result_t *r);

/* ---- probes: touch one byte, never die ------------------------------------------------- */
/* 0 when the access went through, 'g' for a guard-page violation (the guard is consumed),
 * 'f' for an access violation. */
char opl_probe_read(const volatile unsigned char *p, unsigned char *value);
char opl_probe_write(volatile unsigned char *p, unsigned char value);

/* ---- output ---------------------------------------------------------------------------- */

typedef enum opl_style {
    OPL_TRANSCRIPT, /* the differential test's: addresses relative to names, '*' free sizes */
    OPL_TEXT,       /* for a person: real addresses and Windows names */
    OPL_JSON        /* one object per op (opl_run wraps them in sequences) */
} opl_style_t;

/* Prints one op's result: a transcript line (numbered seqline, the op's line in its
 * sequence), or a text record, or one JSON object (no separator before or after it); src: the
 * op's source text for TEXT and JSON. */
void opl_print(FILE *out, opl_style_t style, const opl_ctx_t *c, const opl_op_t *op,
               const opl_result_t *r, unsigned seqline, const char *src);

/* ---- running a script ------------------------------------------------------------------ */

typedef struct opl_run_opts {
    opl_style_t style;
    int keep_going;   /* run the lines that parsed even when others did not */
    const char *file; /* for error messages */
    /* Called after each sequence's last op, before its allocations are released (the CLI
     * prints winvmem's map there); may be NULL. */
    void (*seq_end)(FILE *out, opl_style_t style, void *arg);
    void *arg;
} opl_run_opts_t;

/* Parses, reports every error on stderr, then runs (nothing when an error and !keep_going).
 * Returns 0, 1 when a line did not parse, 2 when the input cannot be read. */
int opl_run(FILE *in, FILE *out, const opl_run_opts_t *o);

/* ---- names of numbers (names.c) -------------------------------------------------------- */
const char *opl_error_name(uint32_t err);                 /* "ERROR_INVALID_PARAMETER", or NULL */
void opl_mem_flags(uint32_t v, char *buf, size_t cap);    /* "MEM_COMMIT|MEM_RESERVE" */
void opl_prot_flags(uint32_t v, char *buf, size_t cap);   /* "PAGE_READWRITE|PAGE_GUARD" */
const char *opl_state_name(uint32_t state);               /* "MEM_COMMIT" */
const char *opl_type_name(uint32_t type);                 /* "MEM_PRIVATE" */
void opl_sec_flags(uint32_t v, char *buf, size_t cap);    /* "SEC_COMMIT" */
void opl_access_flags(uint32_t v, char *buf, size_t cap); /* "FILE_MAP_WRITE" */
/* FLAG|FLAG|0x10 with names with or without the MEM_/PAGE_ prefix; 0 or -1 with the first bad
 * word in *bad (a pointer into s, its length in *badlen). */
int opl_parse_mem(const char *s, uint32_t *out, const char **bad, size_t *badlen);
int opl_parse_prot(const char *s, uint32_t *out, const char **bad, size_t *badlen);
int opl_parse_sec(const char *s, uint32_t *out, const char **bad, size_t *badlen);
int opl_parse_access(const char *s, uint32_t *out, const char **bad, size_t *badlen);
int opl_parse_u64(const char *s, uint64_t *out);
void opl_json_str(FILE *out, const char *s);

#ifdef __cplusplus
}
#endif
#endif
