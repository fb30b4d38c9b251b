/* Notifications: delivered from the host's own thread, with hysteresis between watermarks,
 * Low when a request runs out of budget, PSI detection and the polling fallback. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "host_cb.h"
#include "host_test.h"
#include "skip.h"

typedef struct {
    test_cb_base base;
    _Atomic int n;
    _Atomic int levels[256];
    pthread_t thread;
    _Atomic int other_thread; /* deliveries not on the first delivering thread */
    pthread_mutex_t mu;       /* n's changes are signalled on cv; `gate` closed blocks callbacks */
    pthread_cond_t cv;
    bool gate_closed;
    _Atomic int inside; /* callbacks running now */
} cb_t;

static HRESULT STDMETHODCALLTYPE cb_on(ICLRMemoryNotificationCallback *This, EMemoryAvailable lv)
{
    cb_t *c = (cb_t *)This;
    atomic_fetch_add(&c->inside, 1);
    pthread_mutex_lock(&c->mu);
    int i = atomic_load(&c->n);
    if (i == 0)
        c->thread = pthread_self();
    else if (!pthread_equal(c->thread, pthread_self()))
        atomic_fetch_add(&c->other_thread, 1);
    if (i < 256)
        atomic_store(&c->levels[i], lv);
    atomic_store(&c->n, i + 1);
    pthread_cond_broadcast(&c->cv);
    while (c->gate_closed) /* a slow "garbage collection", as long as the test says */
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_sub(&c->inside, 1);
    return S_OK;
}
static const ICLRMemoryNotificationCallbackVtbl cb_vtbl = {cb_qi, cb_addref, cb_release, cb_on};

static void cb_init(cb_t *c)
{
    memset(c, 0, sizeof *c);
    c->base.iface.lpVtbl = &cb_vtbl;
    c->base.refs = 1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

static void cb_gate(cb_t *c, bool closed)
{
    pthread_mutex_lock(&c->mu);
    c->gate_closed = closed;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Waits until the callback has seen `count` notifications (no deadline: ctest's timeout is). */
static void wait_count(cb_t *c, int count)
{
    pthread_mutex_lock(&c->mu);
    while (atomic_load(&c->n) < count)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
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

/* A host of notify_config() with the given hold, at pct % load, cb registered and its first
 * notification delivered. */
static IHostMemoryManager *host_with_cb(cb_t *cb, load_t *l, uint32_t hold_ms, int pct)
{
    wvm_host_config c = notify_config();
    c.psi_hold_ms = hold_ms;
    IHostMemoryManager *h = test_host(&c);
    cb_init(cb);
    set_load(h, l, pct);
    cr_assert_eq(h->lpVtbl->RegisterMemoryNotificationCallback(h, &cb->base.iface), S_OK);
    wait_count(cb, 1);
    return h;
}

Test(host_notify, from_host_thread_with_hysteresis)
{
    wvm_host_config c = notify_config();
    IHostMemoryManager *h = test_host(&c);
    cb_t cb;
    cb_init(&cb);
    load_t l = {0};
    cr_assert_eq(h->lpVtbl->RegisterMemoryNotificationCallback(h, &cb.base.iface), S_OK);
    cr_assert_eq(atomic_load(&cb.base.refs), 2, "the host holds a reference");
    wait_count(&cb, 1);
    cr_assert(!pthread_equal(cb.thread, pthread_self()), "delivered on the host's thread");
    cr_assert_eq(last_level(&cb), eMemoryAvailableHigh);
    struct {
        int pct, level;
        int change, most; /* notifications that must arrive; may (crossing two bands) */
    } steps[] = {
        {52, eMemoryAvailableHigh, 0, 0},    /* still below high + hysteresis */
        {56, eMemoryAvailableNeutral, 1, 1}, /* left High */
        {52, eMemoryAvailableNeutral, 0, 0}, /* not yet below high */
        {48, eMemoryAvailableHigh, 1, 1},
        {86, eMemoryAvailableLow, 1, 2}, /* Neutral on the way when the thread looks then */
        {82, eMemoryAvailableLow, 0, 0}, /* above low - hysteresis: stays Low */
        {79, eMemoryAvailableNeutral, 1, 1},
        {84, eMemoryAvailableNeutral, 0, 0},
    };
    for (unsigned i = 0; i < sizeof steps / sizeof *steps; i++) {
        int before = atomic_load(&cb.n);
        set_load(h, &l, steps[i].pct);
        wvm__host_settle(h); /* an evaluation has seen the new load */
        int after = atomic_load(&cb.n);
        cr_assert(after - before >= steps[i].change && after - before <= steps[i].most,
                  "step %u: %d notifications", i, after - before);
        cr_assert_eq(last_level(&cb), steps[i].level, "step %u", i);
        wvm__host_settle(h);
        cr_assert_eq(atomic_load(&cb.n), after, "step %u: no notification once settled", i);
    }
    cr_assert_eq(atomic_load(&cb.other_thread), 0);
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(s.notifications[eMemoryAvailableLow], 1);
    cr_assert_eq(s.notifications[eMemoryAvailableHigh], 2);
    cr_assert_leq(s.notifications[eMemoryAvailableNeutral], 3);
    cr_assert_eq(s.notifications[1] + s.notifications[2] + s.notifications[3],
                 (uint64_t)atomic_load(&cb.n));
    cr_assert_eq(s.level, eMemoryAvailableNeutral);
    set_load(h, &l, 0);
    h->lpVtbl->Release(h);
    cr_assert_eq(atomic_load(&cb.base.refs), 1, "released at shutdown");
}

Test(host_notify, low_when_a_request_does_not_fit_without_blocking_it)
{
    cb_t cb;
    load_t l = {0};
    IHostMemoryManager *h = host_with_cb(&cb, &l, 200, 70);
    wvm__host_settle(h);
    cr_assert_eq(last_level(&cb), eMemoryAvailableNeutral);
    cb_gate(&cb, true); /* from now on a "garbage collection" that lasts until we say */
    void *p;
    cr_assert_eq(halloc(h, 10 * MIB, eTaskCritical, &p), E_OUTOFMEMORY,
                 "refused while the callback is blocked: the request does not wait for it");
    wait_count(&cb, 2);
    cr_assert_eq(atomic_load(&cb.levels[1]), eMemoryAvailableLow);
    cr_assert_eq(h->lpVtbl->RegisterMemoryNotificationCallback(h, NULL), S_OK);
    cr_assert_eq(atomic_load(&cb.base.refs), 2, "the delivery in progress holds its own reference");
    cb_gate(&cb, false);
    wvm__host_settle(h); /* the delivery has returned */
    cr_assert_eq(atomic_load(&cb.base.refs), 1);
    cr_assert_eq(atomic_load(&cb.n), 2, "unregistered: nothing more arrives");
    set_load(h, &l, 0);
    h->lpVtbl->Release(h);
}

Test(host_notify, back_to_the_load_level_when_the_hold_ends)
{
    cb_t cb;
    load_t l = {0};
    IHostMemoryManager *h = host_with_cb(&cb, &l, 100, 70);
    void *p;
    cr_assert_eq(halloc(h, 10 * MIB, eTaskCritical, &p), E_OUTOFMEMORY);
    wait_count(&cb, 3); /* Low, then Neutral once the hold is over and the load says so */
    cr_assert_eq(atomic_load(&cb.levels[1]), eMemoryAvailableLow);
    cr_assert_eq(atomic_load(&cb.levels[2]), eMemoryAvailableNeutral);
    set_load(h, &l, 0);
    h->lpVtbl->Release(h);
}

/* Issue 16 #6: a steady 78 % load with a task-critical request refused again and again is Low
 * once, not Low, Neutral, Low, ... The hold (60 s) outlasts the test; each refusal is followed
 * by two evaluations of the host thread. */
Test(host_notify, steady_load_with_refusals_does_not_flap)
{
    cb_t cb;
    load_t l = {0};
    IHostMemoryManager *h = host_with_cb(&cb, &l, 60000, 78);
    wvm__host_settle(h);
    cr_assert_eq(last_level(&cb), eMemoryAvailableNeutral);
    for (int i = 0; i < 10; i++) {
        void *p;
        cr_assert_eq(halloc(h, 10 * MIB, eTaskCritical, &p), E_OUTOFMEMORY);
        wvm__host_settle(h);
        wvm__host_settle(h);
    }
    wvm_host_stats s;
    wvm_host_get_stats(h, &s);
    cr_assert_eq(atomic_load(&cb.n), 2, "Neutral, then one Low: %d callbacks", atomic_load(&cb.n));
    cr_assert_eq(last_level(&cb), eMemoryAvailableLow);
    cr_assert_eq(s.level, eMemoryAvailableLow);
    cr_assert_eq(s.notifications[eMemoryAvailableNeutral], 1);
    set_load(h, &l, 0);
    h->lpVtbl->Release(h);
}

/* Issue 16 #10: a registration that races with shutdown either lands before it (and shutdown
 * releases it) or is refused; no reference is left behind. */
typedef struct {
    IHostMemoryManager *h;
    cb_t *cb;
    HRESULT hr;
} reg_t;

static void *register_now(void *arg)
{
    reg_t *r = arg;
    r->hr = r->h->lpVtbl->RegisterMemoryNotificationCallback(r->h, &r->cb->base.iface);
    return NULL;
}

Test(host_notify, registration_racing_shutdown_keeps_no_reference)
{
    wvm_host_config c = notify_config();
    cb_t cb;
    cb_init(&cb);
    int refused = 0;
    for (int i = 0; i < 200; i++) {
        IHostMemoryManager *h = test_host(&c);
        reg_t r = {.h = h, .cb = &cb};
        pthread_t t;
        pthread_create(&t, NULL, register_now, &r);
        wvm_host_shutdown(h);
        pthread_join(t, NULL);
        cr_assert(r.hr == S_OK || r.hr == HOST_E_CLRNOTAVAILABLE, "hr %x", (unsigned)r.hr);
        refused += r.hr != S_OK;
        cr_assert_eq(atomic_load(&cb.base.refs), 1, "round %d: a reference was kept", i);
        h->lpVtbl->Release(h);
    }
    cr_log_info("%d of 200 registrations came after the shutdown", refused);
}

Test(host_notify, failure_releases_the_callback)
{
    wvm_host_config c = notify_config();
    IHostMemoryManager *h = test_host(&c);
    cb_t cb;
    cb_init(&cb);
    cr_assert_eq(h->lpVtbl->RegisterMemoryNotificationCallback(h, &cb.base.iface), S_OK);
    wait_count(&cb, 1);
    void *p;
    wvm__host_inject_failure(h);
    cr_assert_eq(halloc(h, 4096, eTaskCritical, &p), E_FAIL);
    cr_assert_eq(atomic_load(&cb.base.refs), 1, "E_FAIL: the host let go of the callback");
    cr_assert_eq(h->lpVtbl->RegisterMemoryNotificationCallback(h, NULL), S_OK,
                 "the runtime's unregistration still succeeds");
    cr_assert_eq(h->lpVtbl->RegisterMemoryNotificationCallback(h, &cb.base.iface),
                 HOST_E_CLRNOTAVAILABLE);
    cr_assert_eq(atomic_load(&cb.base.refs), 1, "a refused registration keeps no reference");
    h->lpVtbl->Release(h);
}

Test(host_notify, shutdown_from_main_thread)
{
    wvm_host_config c = notify_config();
    IHostMemoryManager *h = test_host(&c);
    cb_t cb;
    cb_init(&cb);
    cr_assert_eq(h->lpVtbl->RegisterMemoryNotificationCallback(h, &cb.base.iface), S_OK);
    wait_count(&cb, 1);
    wvm_host_shutdown(h);
    cr_assert_eq(atomic_load(&cb.base.refs), 1);
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
    cb.base.iface.lpVtbl = &cb_shutdown_vtbl;
    cr_assert_eq(h->lpVtbl->RegisterMemoryNotificationCallback(h, &cb.base.iface), S_OK);
    wait_count(&cb, 1);
    wvm__host_settle(h); /* the callback has returned: the thread stopped itself */
    void *p;
    cr_assert_eq(halloc(h, 4096, eTaskCritical, &p), HOST_E_CLRNOTAVAILABLE);
    h->lpVtbl->Release(h); /* joins the host thread, which stopped itself */
    cr_assert_eq(atomic_load(&cb.base.refs), 1);
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
    if (!psi) /* the project's kernels have PSI: its absence is a finding, not a pass */
        wvm_cannot_run("PSI triggers are refused by this kernel: only the fallback was checked");
}
