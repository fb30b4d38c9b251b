/* The notification thread: evaluates the memory level (Low / Neutral / High, with hysteresis
 * between the watermarks), listens to PSI, and calls ICLRMemoryNotificationCallback with no
 * host lock held. Allocating threads only set a flag and write an eventfd.
 *
 * Two levels are kept apart: the load level, which the budget's use alone gives (hysteresis
 * applies to it), and the reported level, which is Low while a hold lasts. A refused request or
 * a PSI event starts a hold of psi_hold_ms; when it ends the load level is reported again. So a
 * steady load with requests refused now and then stays Low instead of flapping Low, Neutral,
 * Low, and a Low that the load alone would not give is repeated at most once per hold. */
#include <time.h>
#include "host_internal.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void wvm__notify_kick(wvm_host *h)
{
    wvm_notifier *n = &h->notify;
    if (n->wake_fd >= 0 && !atomic_exchange(&n->kick_pending, true))
        wvm__prim_event_signal(n->wake_fd);
}

void wvm__notify_request_low(wvm_host *h)
{
    atomic_store(&h->notify.low_requested, true);
    atomic_store(&h->notify.kick_pending, true);
    if (h->notify.wake_fd >= 0)
        wvm__prim_event_signal(h->notify.wake_fd);
}

static uint32_t level_from_load(const wvm_budget *b, uint32_t cur, uint64_t used)
{
    if (used >= b->low_enter || (cur == eMemoryAvailableLow && used >= b->low_exit))
        return eMemoryAvailableLow;
    if (used < b->high_enter || (cur == eMemoryAvailableHigh && used < b->high_exit))
        return eMemoryAvailableHigh;
    return eMemoryAvailableNeutral;
}

static void deliver(wvm_host *h, uint32_t level, bool only_fresh)
{
    wvm_notifier *n = &h->notify;
    pthread_mutex_lock(&n->cb_mu);
    ICLRMemoryNotificationCallback *cb = n->cb;
    if (cb && (!only_fresh || n->cb_fresh))
        cb->lpVtbl->AddRef(cb);
    else
        cb = NULL;
    n->cb_fresh = false;
    pthread_mutex_unlock(&n->cb_mu);
    if (!cb)
        return;
    atomic_fetch_add_explicit(&n->delivered[level], 1, memory_order_relaxed);
    cb->lpVtbl->OnMemoryNotification(cb, (EMemoryAvailable)level);
    cb->lpVtbl->Release(cb);
}

/* The PSI descriptor reports an error state (its cgroup is gone): poll the budget from now on.
 * Its events would never come, and polling it again would return at once, forever. */
static void psi_lost(wvm_notifier *n)
{
    int fd = atomic_exchange(&n->psi_fd, -1);
    wvm__prim_fd_close(fd);
    atomic_store(&n->psi_lost, true);
}

static void evaluated(wvm_notifier *n)
{
    pthread_mutex_lock(&n->eval_mu);
    n->evaluations++;
    pthread_cond_broadcast(&n->eval_cv);
    pthread_mutex_unlock(&n->eval_mu);
}

static void *notify_main(void *arg)
{
    wvm_host *h = arg;
    wvm_notifier *n = &h->notify;
    const uint64_t hold = h->cfg.psi_hold_ms;
    uint64_t hold_until = 0, last_low = 0;
    bool low_sent = false;
    while (!atomic_load(&n->stop)) {
        unsigned ev = 0;
        wvm__prim_pressure_wait(n->wake_fd, atomic_load(&n->psi_fd), h->cfg.poll_interval_ms, &ev);
        if (atomic_load(&n->stop))
            break;
        if (ev & WVM_PRESSURE_LOST)
            psi_lost(n);
        uint64_t t = now_ms();
        bool psi = ev & WVM_PRESSURE_EVENT;
        if (psi)
            atomic_fetch_add_explicit(&n->psi_events, 1, memory_order_relaxed);
        atomic_store(&n->kick_pending, false);
        bool req = atomic_exchange(&n->low_requested, false);
        if (psi || req)
            hold_until = t + hold;
        wvm__budget_reclaim(h);
        n->load_level = level_from_load(&h->budget, n->load_level, atomic_load(&h->budget.used));
        uint32_t cur = atomic_load(&n->level);
        uint32_t lv = t < hold_until ? eMemoryAvailableLow : n->load_level;
        atomic_store(&n->level, lv);
        if (lv != eMemoryAvailableLow)
            low_sent = false;
        /* Low again while Low: only for new pressure, and once per hold. */
        bool again = lv == eMemoryAvailableLow && (psi || req) && low_sent && t - last_low >= hold;
        if (lv != cur || again) {
            if (lv == eMemoryAvailableLow) {
                last_low = t;
                low_sent = true;
            }
            deliver(h, lv, false);
        } else {
            deliver(h, lv, true); /* a callback registered since the last change */
        }
        evaluated(n);
    }
    pthread_mutex_lock(&n->eval_mu);
    n->evaluations = UINT64_MAX; /* stopped: no settle waits any more */
    pthread_cond_broadcast(&n->eval_cv);
    pthread_mutex_unlock(&n->eval_mu);
    return NULL;
}

int wvm__notify_init(wvm_host *h)
{
    wvm_notifier *n = &h->notify;
    n->wake_fd = -1;
    atomic_init(&n->psi_fd, -1);
    int err = pthread_mutex_init(&n->cb_mu, NULL);
    if (!err)
        err = pthread_mutex_init(&n->eval_mu, NULL);
    if (!err)
        err = pthread_cond_init(&n->eval_cv, NULL);
    return err;
}

void wvm__notify_destroy(wvm_host *h)
{
    wvm_notifier *n = &h->notify;
    wvm__prim_fd_close(n->wake_fd);
    wvm__prim_fd_close(atomic_load(&n->psi_fd));
    pthread_mutex_destroy(&n->cb_mu);
    pthread_mutex_destroy(&n->eval_mu);
    pthread_cond_destroy(&n->eval_cv);
}

int wvm__notify_start(wvm_host *h)
{
    wvm_notifier *n = &h->notify;
    int err = wvm__prim_event_open(&n->wake_fd);
    if (err)
        return err;
    if (!(h->cfg.flags & WVM_HOST_NO_PSI)) {
        int fd;
        if (!wvm__prim_pressure_open(h->cfg.psi_stall_us, h->cfg.psi_window_us, &fd,
                                     &n->psi_cgroup))
            atomic_store(&n->psi_fd, fd);
    }
    err = wvm__prim_thread_start(&n->thread, notify_main, h);
    if (err)
        return err;
    n->started = true;
    wvm__notify_kick(h); /* first evaluation */
    return 0;
}

void wvm__notify_stop(wvm_host *h)
{
    wvm_notifier *n = &h->notify;
    if (n->started) {
        atomic_store(&n->stop, true);
        wvm__prim_event_signal(n->wake_fd);
        /* From inside a callback the thread cannot join itself: it ends when the callback
         * returns, and the final Release joins it (wvm__notify_join). */
        if (!pthread_equal(pthread_self(), n->thread)) {
            pthread_join(n->thread, NULL);
            n->started = false;
        }
    }
    pthread_mutex_lock(&n->cb_mu);
    ICLRMemoryNotificationCallback *cb = n->cb;
    n->cb = NULL;
    n->closed = true;
    pthread_mutex_unlock(&n->cb_mu);
    if (cb)
        cb->lpVtbl->Release(cb);
}

void wvm__notify_join(wvm_host *h)
{
    wvm_notifier *n = &h->notify;
    if (n->started && !pthread_equal(pthread_self(), n->thread)) {
        pthread_join(n->thread, NULL);
        n->started = false;
    }
}

HRESULT wvm__notify_register(wvm_host *h, ICLRMemoryNotificationCallback *cb)
{
    wvm_notifier *n = &h->notify;
    if (cb)
        cb->lpVtbl->AddRef(cb);
    pthread_mutex_lock(&n->cb_mu);
    bool closed = n->closed;
    ICLRMemoryNotificationCallback *old = closed ? cb : n->cb;
    if (!closed) {
        n->cb = cb;
        n->cb_fresh = cb != NULL;
    }
    pthread_mutex_unlock(&n->cb_mu);
    if (old)
        old->lpVtbl->Release(old); /* the replaced callback, or ours when refused */
    if (closed) /* unregistering a stopped host succeeds: nothing is registered any more */
        return cb ? HOST_E_CLRNOTAVAILABLE : S_OK;
    wvm__notify_kick(h);
    return S_OK;
}

void wvm__host_settle(IHostMemoryManager *host)
{
    wvm_notifier *n = &wvm__host_of(host)->notify;
    pthread_mutex_lock(&n->eval_mu);
    bool stopped = n->evaluations == UINT64_MAX;
    uint64_t target = n->evaluations + 2; /* one may be under way already */
    pthread_mutex_unlock(&n->eval_mu);
    if (stopped)
        return;
    wvm__notify_kick(wvm__host_of(host));
    pthread_mutex_lock(&n->eval_mu);
    while (n->evaluations < target)
        pthread_cond_wait(&n->eval_cv, &n->eval_mu);
    pthread_mutex_unlock(&n->eval_mu);
}
