/* The notification thread: evaluates the memory level (Low / Neutral / High, with hysteresis
 * between the watermarks), listens to PSI, and calls ICLRMemoryNotificationCallback with no
 * host lock held. Allocating threads only set a flag and write an eventfd. */
#include <errno.h>
#include <signal.h>
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
        wvm__event_signal(n->wake_fd);
}

void wvm__notify_request_low(wvm_host *h)
{
    atomic_store(&h->notify.low_requested, true);
    atomic_store(&h->notify.kick_pending, true);
    if (h->notify.wake_fd >= 0)
        wvm__event_signal(h->notify.wake_fd);
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

static void *notify_main(void *arg)
{
    wvm_host *h = arg;
    wvm_notifier *n = &h->notify;
    uint64_t psi_until = 0, last_low = 0;
    while (!atomic_load(&n->stop)) {
        int r = wvm__pressure_wait(n->wake_fd, n->psi_fd, h->cfg.poll_interval_ms);
        if (atomic_load(&n->stop))
            break;
        uint64_t t = now_ms();
        if (r & 2) {
            atomic_fetch_add_explicit(&n->psi_events, 1, memory_order_relaxed);
            psi_until = t + h->cfg.psi_hold_ms;
        }
        atomic_store(&n->kick_pending, false);
        bool req = atomic_exchange(&n->low_requested, false);
        uint32_t cur = atomic_load(&n->level);
        uint64_t used = atomic_load(&h->budget.used);
        uint32_t lv = level_from_load(&h->budget, cur, used);
        if (req || t < psi_until)
            lv = eMemoryAvailableLow;
        atomic_store(&n->level, lv);
        bool again = lv == eMemoryAvailableLow && (req || (r & 2)) &&
                     t - last_low >= h->cfg.poll_interval_ms;
        if (lv != cur || again) {
            if (lv == eMemoryAvailableLow)
                last_low = t;
            deliver(h, lv, false);
        } else {
            deliver(h, lv, true); /* a callback registered since the last change */
        }
    }
    return NULL;
}

int wvm__notify_start(wvm_host *h)
{
    wvm_notifier *n = &h->notify;
    n->psi_fd = -1;
    n->wake_fd = wvm__event_open();
    if (n->wake_fd < 0)
        return errno ? errno : EMFILE;
    int err;
    if (!(h->cfg.flags & WVM_HOST_NO_PSI)) {
        int perr;
        n->psi_fd = wvm__psi_open(h->cfg.psi_stall_us, h->cfg.psi_window_us, &n->psi_cgroup, &perr);
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the host thread takes no process signals */
    err = pthread_create(&n->thread, NULL, notify_main, h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
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
        wvm__event_signal(n->wake_fd);
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
    ICLRMemoryNotificationCallback *old = n->cb;
    n->cb = cb;
    n->cb_fresh = cb != NULL;
    pthread_mutex_unlock(&n->cb_mu);
    if (old)
        old->lpVtbl->Release(old);
    wvm__notify_kick(h);
    return S_OK;
}
