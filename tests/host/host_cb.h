/* The COM part of the host tests' callback objects (Criterion-free: stress_host uses it too).
 * A test's callback struct starts with a test_cb_base; cb_qi/cb_addref/cb_release work on it. */
#ifndef WVM_HOST_CB_H
#define WVM_HOST_CB_H

#include <stdatomic.h>
#include "winvmem/host.h"

typedef struct {
    ICLRMemoryNotificationCallback iface;
    _Atomic uint32_t refs; /* 1: the test's own reference */
} test_cb_base;

static inline HRESULT STDMETHODCALLTYPE cb_qi(ICLRMemoryNotificationCallback *This, REFIID riid,
                                              void **ppv)
{
    *ppv = NULL;
    return E_NOINTERFACE;
}
static inline uint32_t STDMETHODCALLTYPE cb_addref(ICLRMemoryNotificationCallback *This)
{
    return atomic_fetch_add(&((test_cb_base *)This)->refs, 1) + 1;
}
static inline uint32_t STDMETHODCALLTYPE cb_release(ICLRMemoryNotificationCallback *This)
{
    return atomic_fetch_sub(&((test_cb_base *)This)->refs, 1) - 1;
}

#endif
