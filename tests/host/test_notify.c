/* Notifications: delivered from the host's own thread, with hysteresis between watermarks,
 * Low when a request runs out of budget, PSI detection and the polling fallback. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "host_test.h"

typedef struct {
    ICLRMemoryNotificationCallback iface;
    _Atomic uint32_t refs;
    _Atomic int n;
    _Atomic int levels[256];
    pthread_t thread;
    _Atomic int other_thread; /* deliveries not on the first delivering thread */
    _Atomic unsigned sleep_us;
} cb_t;

static HRESULT STDMETHODCALLTYPE cb_qi(ICLRMemoryNotificationCallback *This, REFIID riid,
                                       void **ppv)
{
    *ppv = NULL;
    return E_NOINTERFACE;
}
static uint32_t STDMETHODCALLTYPE cb_addref(ICLRMemoryNotificationCallback *This)
{
    return atomic_fetch_add(&((cb_t *)This)->refs, 1) + 1;
}
static uint32_t STDMETHODCALLTYPE cb_release(ICLRMemoryNotificationCallback *This)
{
    return atomic_fetch_sub(&((cb_t *)This)->refs, 1) - 1;
}
static HRESULT STDMETHODCALLTYPE cb_on(ICLRMemoryNotificationCallback *This, EMemoryAvailable lv)
{
    cb_t *c = (cb_t *)This;
    int i = atomic_fetch_add(&c->n, 1);
    if (i == 0)
        c->thread = pthread_self();
    else if (!pthread_equal(c->thread, pthread_self()))
        atomic_fetch_add(&c->other_thread, 1);
    if (i < 256)
        atomic_store(&c->levels[i], lv);
    if (c->sleep_us)
        usleep(c->sleep_us);
    return S_OK;
}
static const ICLRMemoryNotificationCallbackVtbl cb_vtbl = {cb_qi, cb_addref, cb_release, cb_on};

static void cb_init(cb_t *c)
{
    memset(c, 0, sizeof *c);
    c->iface.lpVtbl = &cb_vtbl;
    c->refs = 1;
}

/* Waits until the callback has seen `count` notifications. */
static bool wait_count(cb_t *c, int count)
{
    for (int i = 0; i < 300 && atomic_load(&c->n) < count; i++)
        usleep(10000);
    return atomic_load(&c->n) >= count;
}

static int last_level(cb_t *c)
{
    return atomic_load(&c->levels[atomic_load(&c->n) - 1]);
}

/* Holds the budget at pct % of 100 MiB with 1 MiB allocations. */
typedef struct {
    void *p[100];
    int n;
} load_t;

static void set_load(IHostMemoryManager *h, load_t *l, int pct)
{
    while (l->n < pct)
        cr_assert_eq(halloc(h, MIB, eProcessCritical, &l->p[l->n++]), S_OK);
    while (l->n > pct)
        cr_assert_eq(hfree(h, l->p[--l->n]), S_OK);
}

static wvm_host_config notify_config(void)
{
    wvm_host_config c = test_config(100 * MIB, 50);
    c.low_watermark_pct = 85;
    c.high_watermark_pct = 50;
    c.hysteresis_pct = 5;
    c.flags = WVM_HOST_NO_PSI; /* system pressure must not disturb the sequence */
    return c;
}

Test(host_notify, from_host_thread_with_hysteresis)
{
    wvm_host_config c = notify_config();
    IHostMemoryManager *h = test_host(&c);
    cb_t cb;
    cb_init(&cb);
    load_t l = {0};
    cr_assert_eq(h->lpVtbl->RegisterMemoryNotificationCallback(h, &cb.iface), S_OK);
    cr_assert_eq(atomic_load(&cb.refs), 2, "the host holds a reference");
    cr_assert(wait_count(&cb, 1));
    cr_assert(!pthread_equal(cb.thread, pthread_self()), "delivered on the host's thread");
    cr_assert_eq(last_level(&cb), eMemoryAvailableHigh);
    struct {
        int pct, level;
        bool change; /* a notification must arrive (crossing two bands may give two) */
    } steps[] = {
        {52, eMemoryAvailableHigh, false},    /* still below high + hysteresis */
        {56, eMemoryAvailableNeutral, true},  /* left High */
        {52, eMemoryAvailableNeutral, false}, /* not yet below high */
        {48, eMemoryAvailableHigh, true},     {86, eMemoryAvailableLow, true},
        {82, eMemoryAvailableLow, false}, /* above low - hysteresis: stays Low */
        {79, eMemoryAvailableNeutral, true},  {84, eMemoryAvailableNeutral, false},
    };
    for (unsigned i = 0; i < sizeof steps / sizeof *steps; i++) {
        int before = atomic_load(&cb.n);
        set_load(h, &l, steps[i].pct);
        if (steps[i].change)
            cr_assert(wait_count(&cb, before + 1), "step %u", i);
        usleep(150000); /* several evaluations: the level has settled */
        int after = atomic_load(&cb.n);
        if (!steps[i].change)
            cr_assert_eq(after, before, "step %u: %d notifications", i, after - before);
        cr_assert_eq(last_level(&cb), steps[i].level, "step %u", i);
        usleep(100000);
        cr_assert_eq(atomic_load(&cb.n), after, "step %u: no notification once settled", i);
    }
    cr_assert_eq(atomic_load(&cb.other_thread), 0);
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.notifications[eMemoryAvailableLow], 1);
    cr_assert_eq(s.notifications[eMemoryAvailableHigh], 2);
    cr_assert_eq(s.notifications[1] + s.notifications[2] + s.notifications[3],
                 (uint64_t)atomic_load(&cb.n));
    cr_assert_eq(s.level, eMemoryAvailableNeutral);
    set_load(h, &l, 0);
    h->lpVtbl->Release(h);
    cr_assert_eq(atomic_load(&cb.refs), 1, "released at shutdown");
}

Test(host_notify, low_when_a_request_does_not_fit_without_blocking_it)
{
    wvm_host_config c = notify_config();
    IHostMemoryManager *h = test_host(&c);
    cb_t cb;
    cb_init(&cb);
    load_t l = {0};
    set_load(h, &l, 70);
    cr_assert_eq(h->lpVtbl->RegisterMemoryNotificationCallback(h, &cb.iface), S_OK);
    cr_assert(wait_count(&cb, 1));
    usleep(100000);
    cr_assert_eq(last_level(&cb), eMemoryAvailableNeutral);
    cb.sleep_us = 1000000; /* from now on a slow "garbage collection" */
    void *p;
    double t0 = now_s();
    cr_assert_eq(halloc(h, 10 * MIB, eTaskCritical, &p), E_OUTOFMEMORY);
    cr_assert_lt(now_s() - t0, 0.5, "the request does not wait for the 1 s callback");
    cr_assert(wait_count(&cb, 2));
    cr_assert_eq(atomic_load(&cb.levels[1]), eMemoryAvailableLow);
    cr_assert(wait_count(&cb, 3), "back to Neutral once the load says so");
    cr_assert_eq(atomic_load(&cb.levels[2]), eMemoryAvailableNeutral);
    cr_assert_eq(h->lpVtbl->RegisterMemoryNotificationCallback(h, NULL), S_OK);
    usleep(1100000); /* the delivery in progress holds its own reference */
    cr_assert_eq(atomic_load(&cb.refs), 1);
    set_load(h, &l, 0);
    h->lpVtbl->Release(h);
}

Test(host_notify, shutdown_from_main_thread)
{
    wvm_host_config c = notify_config();
    IHostMemoryManager *h = test_host(&c);
    cb_t cb;
    cb_init(&cb);
    cr_assert_eq(h->lpVtbl->RegisterMemoryNotificationCallback(h, &cb.iface), S_OK);
    cr_assert(wait_count(&cb, 1));
    wvm_host_shutdown(h);
    cr_assert_eq(atomic_load(&cb.refs), 1);
    h->lpVtbl->Release(h);
}

static IHostMemoryManager *shutdown_target;

static HRESULT STDMETHODCALLTYPE cb_shutdown(ICLRMemoryNotificationCallback *This,
                                             EMemoryAvailable lv)
{
    cb_on(This, lv);
    wvm_host_shutdown(shutdown_target); /* the host thread stops itself */
    return S_OK;
}
static const ICLRMemoryNotificationCallbackVtbl cb_shutdown_vtbl = {cb_qi, cb_addref, cb_release,
                                                                    cb_shutdown};

Test(host_notify, shutdown_from_inside_a_callback)
{
    wvm_host_config c = notify_config();
    IHostMemoryManager *h = test_host(&c);
    shutdown_target = h;
    cb_t cb;
    cb_init(&cb);
    cb.iface.lpVtbl = &cb_shutdown_vtbl;
    cr_assert_eq(h->lpVtbl->RegisterMemoryNotificationCallback(h, &cb.iface), S_OK);
    cr_assert(wait_count(&cb, 1));
    for (int i = 0; i < 100 && halloc(h, 4096, eTaskCritical, &(void *){0}) == S_OK; i++)
        usleep(10000);
    void *p;
    cr_assert_eq(halloc(h, 4096, eTaskCritical, &p), HOST_E_CLRNOTAVAILABLE);
    h->lpVtbl->Release(h); /* joins the host thread, which stopped itself */
    cr_assert_eq(atomic_load(&cb.refs), 1);
    cr_assert_eq(atomic_load(&cb.n), 1);
}

static bool psi_triggers_work(void)
{
    int fd = open("/proc/pressure/memory", O_RDWR | O_NONBLOCK);
    if (fd < 0)
        return false;
    const char t[] = "some 200000 2000000"; /* the host's default trigger */
    bool ok = write(fd, t, sizeof t) > 0;
    close(fd);
    return ok;
}

Test(host_notify, pressure_source_detected)
{
    wvm_host_config c = test_config(64 * MIB, 50);
    IHostMemoryManager *h = test_host(&c);
    bool psi = psi_triggers_work();
    const char *src = wvm_host_pressure_source(h);
    if (psi)
        cr_assert(!strcmp(src, "psi") || !strcmp(src, "psi-cgroup"), "source %s", src);
    else
        cr_assert(!strcmp(src, "poll") || !strcmp(src, "psi-cgroup"), "source %s", src);
    h->lpVtbl->Release(h);
    c.flags = WVM_HOST_NO_PSI;
    h = test_host(&c);
    cr_assert_str_eq(wvm_host_pressure_source(h), "poll");
    h->lpVtbl->Release(h);
    if (!psi)
        cr_skip_test("PSI triggers unavailable on this kernel: only the fallback was checked");
}
