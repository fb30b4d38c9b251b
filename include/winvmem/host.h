/* winvmem host memory manager: the CLR hosting interfaces IHostMemoryManager, IHostMalloc and
 * ICLRMemoryNotificationCallback (vtable order and IIDs of MSCOREE.IDL), implemented on top of
 * the wvm_ API. Usable from C (a struct whose first member points to a vtable) and from C++
 * (abstract classes with the same vtable layout under the Itanium C++ ABI).
 *
 * The host owns a commit budget; every request names an EMemoryCriticalLevel and may use the
 * budget up to that level's ceiling. Behaviour choices are documented in doc/host.md.
 *
 * COM basic types (HRESULT, GUID, IID, IUnknown) are defined here unless the including program
 * already has them: define WVM_HOST_HAVE_COM_TYPES before including this header in that case. */
#ifndef WINVMEM_HOST_H
#define WINVMEM_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "vm.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef STDMETHODCALLTYPE
#define STDMETHODCALLTYPE /* the platform's default: x86-64 and AArch64 have one convention */
#endif

#ifndef WVM_HOST_HAVE_COM_TYPES
typedef int32_t HRESULT;
typedef struct _GUID {
    uint32_t Data1;
    uint16_t Data2;
    uint16_t Data3;
    uint8_t Data4[8];
} GUID;
typedef GUID IID;
#ifdef __cplusplus
#define WVM_REFIID const IID &
#else
#define WVM_REFIID const IID *
#endif
#ifndef REFIID
#define REFIID WVM_REFIID
#endif
#endif /* WVM_HOST_HAVE_COM_TYPES */

/* ---- HRESULT values -------------------------------------------------------------------- */

#define WVM_S_OK                    ((HRESULT)0x00000000L)
#define WVM_S_FALSE                 ((HRESULT)0x00000001L)
#define WVM_E_FAIL                  ((HRESULT)0x80004005L)
#define WVM_E_OUTOFMEMORY           ((HRESULT)0x8007000EL)
#define WVM_E_INVALIDARG            ((HRESULT)0x80070057L)
#define WVM_E_POINTER               ((HRESULT)0x80004003L)
#define WVM_E_NOINTERFACE           ((HRESULT)0x80004002L)
#define WVM_HOST_E_INVALIDOPERATION ((HRESULT)0x80131022L)
#define WVM_HOST_E_CLRNOTAVAILABLE  ((HRESULT)0x80131023L)
#define WVM_HOST_E_TIMEOUT          ((HRESULT)0x80131024L)
#define WVM_HOST_E_NOT_OWNER        ((HRESULT)0x80131025L)
#define WVM_HOST_E_ABANDONED        ((HRESULT)0x80131026L)
/* Any other Windows error e from the wvm_ layer becomes HRESULT_FROM_WIN32(e). */
#define WVM_HRESULT_FROM_WIN32(e)                                                                  \
    ((HRESULT)(e) <= 0 ? (HRESULT)(e) : (HRESULT)(((e)&0x0000FFFF) | (7 << 16) | 0x80000000))

#ifndef WVM_HOST_NO_WIN_NAMES
#ifndef S_OK
#define S_OK WVM_S_OK
#endif
#ifndef S_FALSE
#define S_FALSE WVM_S_FALSE
#endif
#ifndef E_FAIL
#define E_FAIL WVM_E_FAIL
#endif
#ifndef E_OUTOFMEMORY
#define E_OUTOFMEMORY WVM_E_OUTOFMEMORY
#endif
#ifndef E_INVALIDARG
#define E_INVALIDARG WVM_E_INVALIDARG
#endif
#ifndef E_POINTER
#define E_POINTER WVM_E_POINTER
#endif
#ifndef E_NOINTERFACE
#define E_NOINTERFACE WVM_E_NOINTERFACE
#endif
#ifndef HOST_E_INVALIDOPERATION
#define HOST_E_INVALIDOPERATION WVM_HOST_E_INVALIDOPERATION
#endif
#ifndef HOST_E_CLRNOTAVAILABLE
#define HOST_E_CLRNOTAVAILABLE WVM_HOST_E_CLRNOTAVAILABLE
#endif
#ifndef HOST_E_TIMEOUT
#define HOST_E_TIMEOUT WVM_HOST_E_TIMEOUT
#endif
#ifndef HOST_E_NOT_OWNER
#define HOST_E_NOT_OWNER WVM_HOST_E_NOT_OWNER
#endif
#ifndef HOST_E_ABANDONED
#define HOST_E_ABANDONED WVM_HOST_E_ABANDONED
#endif
#ifndef SUCCEEDED
#define SUCCEEDED(hr) (((HRESULT)(hr)) >= 0)
#endif
#ifndef FAILED
#define FAILED(hr) (((HRESULT)(hr)) < 0)
#endif
#endif /* WVM_HOST_NO_WIN_NAMES */

/* ---- enumerations (MSCOREE.IDL) --------------------------------------------------------- */

typedef enum {
    eTaskCritical = 0,
    eAppDomainCritical = 1,
    eProcessCritical = 2
} EMemoryCriticalLevel;

typedef enum {
    eMemoryAvailableLow = 1,
    eMemoryAvailableNeutral = 2,
    eMemoryAvailableHigh = 3
} EMemoryAvailable;

typedef enum { MALLOC_THREADSAFE = 0x1, MALLOC_EXECUTABLE = 0x2 } MALLOC_TYPE;

/* ---- interface identifiers -------------------------------------------------------------- */

WVM_API extern const IID wvm_IID_IUnknown;                       /* 00000000-...-000000000046 */
WVM_API extern const IID wvm_IID_IHostMemoryManager;             /* 7BC698D1-F9E3-4460-... */
WVM_API extern const IID wvm_IID_IHostMalloc;                    /* 1831991C-CC53-4A31-... */
WVM_API extern const IID wvm_IID_ICLRMemoryNotificationCallback; /* 47EB8E57-0846-4546-... */
#ifndef WVM_HOST_NO_WIN_NAMES
#define IID_IHostMemoryManager             wvm_IID_IHostMemoryManager
#define IID_IHostMalloc                    wvm_IID_IHostMalloc
#define IID_ICLRMemoryNotificationCallback wvm_IID_ICLRMemoryNotificationCallback
#ifndef WVM_HOST_HAVE_COM_TYPES
#define IID_IUnknown wvm_IID_IUnknown
#endif
#endif

/* ---- interfaces ------------------------------------------------------------------------- */

#if defined(__cplusplus) && !defined(CINTERFACE)

#ifndef WVM_HOST_HAVE_COM_TYPES
struct IUnknown {
    virtual HRESULT STDMETHODCALLTYPE QueryInterface(REFIID riid, void **ppvObject) = 0;
    virtual uint32_t STDMETHODCALLTYPE AddRef(void) = 0;
    virtual uint32_t STDMETHODCALLTYPE Release(void) = 0;
};
#endif

struct ICLRMemoryNotificationCallback : public IUnknown {
    virtual HRESULT STDMETHODCALLTYPE OnMemoryNotification(EMemoryAvailable eMemoryAvailable) = 0;
};

struct IHostMalloc : public IUnknown {
    virtual HRESULT STDMETHODCALLTYPE Alloc(size_t cbSize, EMemoryCriticalLevel eCriticalLevel,
                                            void **ppMem) = 0;
    virtual HRESULT STDMETHODCALLTYPE DebugAlloc(size_t cbSize, EMemoryCriticalLevel eCriticalLevel,
                                                 char *pszFileName, int iLineNo, void **ppMem) = 0;
    virtual HRESULT STDMETHODCALLTYPE Free(void *pMem) = 0;
};

struct IHostMemoryManager : public IUnknown {
    virtual HRESULT STDMETHODCALLTYPE CreateMalloc(uint32_t dwMallocType,
                                                   IHostMalloc **ppMalloc) = 0;
    virtual HRESULT STDMETHODCALLTYPE VirtualAlloc(void *pAddress, size_t dwSize,
                                                   uint32_t flAllocationType, uint32_t flProtect,
                                                   EMemoryCriticalLevel eCriticalLevel,
                                                   void **ppMem) = 0;
    virtual HRESULT STDMETHODCALLTYPE VirtualFree(void *lpAddress, size_t dwSize,
                                                  uint32_t dwFreeType) = 0;
    virtual HRESULT STDMETHODCALLTYPE VirtualQuery(void *lpAddress, void *lpBuffer, size_t dwLength,
                                                   size_t *pResult) = 0;
    virtual HRESULT STDMETHODCALLTYPE VirtualProtect(void *lpAddress, size_t dwSize,
                                                     uint32_t flNewProtect,
                                                     uint32_t *pflOldProtect) = 0;
    virtual HRESULT STDMETHODCALLTYPE GetMemoryLoad(uint32_t *pMemoryLoad,
                                                    size_t *pAvailableBytes) = 0;
    virtual HRESULT STDMETHODCALLTYPE
    RegisterMemoryNotificationCallback(ICLRMemoryNotificationCallback *pCallback) = 0;
    virtual HRESULT STDMETHODCALLTYPE NeedsVirtualAddressSpace(void *startAddress, size_t size) = 0;
    virtual HRESULT STDMETHODCALLTYPE AcquiredVirtualAddressSpace(void *startAddress,
                                                                  size_t size) = 0;
    virtual HRESULT STDMETHODCALLTYPE ReleasedVirtualAddressSpace(void *startAddress) = 0;
};

#else /* C */

#ifndef WVM_HOST_HAVE_COM_TYPES
typedef struct IUnknown IUnknown;
typedef struct IUnknownVtbl {
    HRESULT(STDMETHODCALLTYPE *QueryInterface)(IUnknown *This, REFIID riid, void **ppvObject);
    uint32_t(STDMETHODCALLTYPE *AddRef)(IUnknown *This);
    uint32_t(STDMETHODCALLTYPE *Release)(IUnknown *This);
} IUnknownVtbl;
struct IUnknown {
    const IUnknownVtbl *lpVtbl;
};
#endif

typedef struct ICLRMemoryNotificationCallback ICLRMemoryNotificationCallback;
typedef struct ICLRMemoryNotificationCallbackVtbl {
    HRESULT(STDMETHODCALLTYPE *QueryInterface)
    (ICLRMemoryNotificationCallback *This, REFIID riid, void **ppvObject);
    uint32_t(STDMETHODCALLTYPE *AddRef)(ICLRMemoryNotificationCallback *This);
    uint32_t(STDMETHODCALLTYPE *Release)(ICLRMemoryNotificationCallback *This);
    HRESULT(STDMETHODCALLTYPE *OnMemoryNotification)
    (ICLRMemoryNotificationCallback *This, EMemoryAvailable eMemoryAvailable);
} ICLRMemoryNotificationCallbackVtbl;
struct ICLRMemoryNotificationCallback {
    const ICLRMemoryNotificationCallbackVtbl *lpVtbl;
};

typedef struct IHostMalloc IHostMalloc;
typedef struct IHostMallocVtbl {
    HRESULT(STDMETHODCALLTYPE *QueryInterface)(IHostMalloc *This, REFIID riid, void **ppvObject);
    uint32_t(STDMETHODCALLTYPE *AddRef)(IHostMalloc *This);
    uint32_t(STDMETHODCALLTYPE *Release)(IHostMalloc *This);
    HRESULT(STDMETHODCALLTYPE *Alloc)
    (IHostMalloc *This, size_t cbSize, EMemoryCriticalLevel eCriticalLevel, void **ppMem);
    HRESULT(STDMETHODCALLTYPE *DebugAlloc)
    (IHostMalloc *This, size_t cbSize, EMemoryCriticalLevel eCriticalLevel, char *pszFileName,
     int iLineNo, void **ppMem);
    HRESULT(STDMETHODCALLTYPE *Free)(IHostMalloc *This, void *pMem);
} IHostMallocVtbl;
struct IHostMalloc {
    const IHostMallocVtbl *lpVtbl;
};

typedef struct IHostMemoryManager IHostMemoryManager;
typedef struct IHostMemoryManagerVtbl {
    HRESULT(STDMETHODCALLTYPE *QueryInterface)
    (IHostMemoryManager *This, REFIID riid, void **ppvObject);
    uint32_t(STDMETHODCALLTYPE *AddRef)(IHostMemoryManager *This);
    uint32_t(STDMETHODCALLTYPE *Release)(IHostMemoryManager *This);
    HRESULT(STDMETHODCALLTYPE *CreateMalloc)
    (IHostMemoryManager *This, uint32_t dwMallocType, IHostMalloc **ppMalloc);
    HRESULT(STDMETHODCALLTYPE *VirtualAlloc)
    (IHostMemoryManager *This, void *pAddress, size_t dwSize, uint32_t flAllocationType,
     uint32_t flProtect, EMemoryCriticalLevel eCriticalLevel, void **ppMem);
    HRESULT(STDMETHODCALLTYPE *VirtualFree)
    (IHostMemoryManager *This, void *lpAddress, size_t dwSize, uint32_t dwFreeType);
    HRESULT(STDMETHODCALLTYPE *VirtualQuery)
    (IHostMemoryManager *This, void *lpAddress, void *lpBuffer, size_t dwLength, size_t *pResult);
    HRESULT(STDMETHODCALLTYPE *VirtualProtect)
    (IHostMemoryManager *This, void *lpAddress, size_t dwSize, uint32_t flNewProtect,
     uint32_t *pflOldProtect);
    HRESULT(STDMETHODCALLTYPE *GetMemoryLoad)
    (IHostMemoryManager *This, uint32_t *pMemoryLoad, size_t *pAvailableBytes);
    HRESULT(STDMETHODCALLTYPE *RegisterMemoryNotificationCallback)
    (IHostMemoryManager *This, ICLRMemoryNotificationCallback *pCallback);
    HRESULT(STDMETHODCALLTYPE *NeedsVirtualAddressSpace)
    (IHostMemoryManager *This, void *startAddress, size_t size);
    HRESULT(STDMETHODCALLTYPE *AcquiredVirtualAddressSpace)
    (IHostMemoryManager *This, void *startAddress, size_t size);
    HRESULT(STDMETHODCALLTYPE *ReleasedVirtualAddressSpace)
    (IHostMemoryManager *This, void *startAddress);
} IHostMemoryManagerVtbl;
struct IHostMemoryManager {
    const IHostMemoryManagerVtbl *lpVtbl;
};

#endif /* C */

/* ---- the factory and winvmem's own extensions ------------------------------------------- */

/* Flags of wvm_host_config.flags. */
#define WVM_HOST_NO_PSI 0x1u /* do not use Linux PSI triggers; poll the budget only */

/* Configuration. Zero in any field means "the default" (in brackets). Percentages are of
 * `budget`. Call wvm_host_config_init() first to get the defaults filled in. */
typedef struct wvm_host_config {
    uint32_t size;                  /* sizeof(wvm_host_config), for versioning (required) */
    uint32_t flags;                 /* WVM_HOST_* [0] */
    uint64_t budget;                /* commit budget in bytes [the commit limit, as reported by
                                       wvm_GlobalMemoryStatusEx().ullTotalPageFile] */
    uint64_t emergency_reserve;     /* top part of the budget only eProcessCritical may use
                                       [budget / 16] */
    uint32_t task_ceiling_pct;      /* eTaskCritical may use up to this [75] */
    uint32_t appdomain_ceiling_pct; /* eAppDomainCritical up to this, clamped to budget minus
                                       the emergency reserve [90] */
    uint32_t wait_timeout_ms;       /* longest wait for budget [2000]; UINT32_MAX: no wait */
    uint32_t low_watermark_pct;     /* load >= this: Low [85] */
    uint32_t high_watermark_pct;    /* load < this: High [50] */
    uint32_t hysteresis_pct;        /* leave Low below low - this, leave High at high + this [5] */
    uint32_t poll_interval_ms;      /* the notification thread re-evaluates this often [100] */
    uint32_t psi_stall_us;          /* PSI trigger: stall time "some" ... [200000] */
    uint32_t psi_window_us;         /* ... within this window [2000000] */
    uint32_t psi_hold_ms;           /* Low stays at least this long after a PSI event or a
                                       request refused for lack of budget [1000] */
    uint64_t address_space_budget;  /* bytes of address space for reservations and
                                       Acquired/NeedsVirtualAddressSpace [the user address
                                       space] */
    uint64_t heap_arena_size;       /* IHostMalloc heaps reserve address space in segments of
                                       this size, a multiple of 64 KiB, at least 1 MiB [32 MiB];
                                       they commit it (and are charged) 64 KiB at a time */
} wvm_host_config;

WVM_API void wvm_host_config_init(wvm_host_config *config);

/* Creates a host memory manager (reference count 1). NULL config = defaults. Returns S_OK,
 * E_POINTER (out NULL), E_INVALIDARG (bad config) or E_OUTOFMEMORY. */
WVM_API HRESULT wvm_host_create(const wvm_host_config *config, IHostMemoryManager **out);

/* Shuts the host down: waiting requests return HOST_E_ABANDONED, the notification thread
 * stops, every later call returns HOST_E_CLRNOTAVAILABLE. Memory already handed out stays
 * valid until the last Release, which releases what the host still tracks. Idempotent. */
WVM_API void wvm_host_shutdown(IHostMemoryManager *host);

/* The source of system memory-pressure events: "psi-cgroup" (a PSI trigger on our cgroup v2's
 * memory.pressure, a container's own), "psi" (on /proc/pressure/memory), "poll" (none, or the
 * trigger went into an error state: budget watermarks only). */
WVM_API const char *wvm_host_pressure_source(IHostMemoryManager *host);

typedef struct wvm_host_stats {
    uint64_t budget;             /* configured budget */
    uint64_t used;               /* committed bytes charged to the budget now */
    uint64_t peak;               /* highest `used` seen */
    uint64_t ceiling[3];         /* per EMemoryCriticalLevel */
    uint64_t address_space_used; /* reservations + Acquired address space */
    uint64_t granted[3];         /* successful charges per level */
    uint64_t refused[3];         /* E_OUTOFMEMORY / HOST_E_TIMEOUT per level */
    uint64_t waits;              /* requests that waited for budget */
    uint64_t timeouts;           /* ... and timed out */
    uint64_t reserve_draws;      /* process-critical charges that went into the reserve */
    uint64_t notifications[4];   /* callbacks delivered, by EMemoryAvailable (index 1..3) */
    uint64_t psi_events;         /* PSI triggers seen */
    uint32_t level;              /* current EMemoryAvailable, 0 before the first evaluation */
    uint32_t heap_arenas;        /* segments of address space held by this host's heaps */
} wvm_host_stats;

WVM_API void wvm_host_get_stats(IHostMemoryManager *host, wvm_host_stats *out);

/* Writes one line per live DebugAlloc block of the heap (file, line, size, address) to out
 * (NULL: no output) and returns how many there are. */
WVM_API size_t wvm_host_heap_leak_report(IHostMalloc *heap, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
