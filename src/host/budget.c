/* The commit budget: per-level ceilings, the emergency reserve, waiting for freed budget. */
#include <errno.h>
#include <time.h>
#include "host_internal.h"

int wvm__budget_init(wvm_budget *b, const wvm_host_config *c)
{
    b->total = c->budget;
    b->normal_limit = c->budget - c->emergency_reserve;
    b->ceiling[eTaskCritical] = c->budget / 100 * c->task_ceiling_pct;
    b->ceiling[eAppDomainCritical] = c->budget / 100 * c->appdomain_ceiling_pct;
    if (b->ceiling[eAppDomainCritical] > b->normal_limit)
        b->ceiling[eAppDomainCritical] = b->normal_limit;
    if (b->ceiling[eTaskCritical] > b->ceiling[eAppDomainCritical])
        b->ceiling[eTaskCritical] = b->ceiling[eAppDomainCritical];
    b->ceiling[eProcessCritical] = b->total;
    b->low_enter = c->budget / 100 * c->low_watermark_pct;
    b->low_exit = c->budget / 100 * (c->low_watermark_pct - c->hysteresis_pct);
    b->high_enter = c->budget / 100 * c->high_watermark_pct;
    b->high_exit = c->budget / 100 * (c->high_watermark_pct + c->hysteresis_pct);
    b->timeout_ms = c->wait_timeout_ms;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int err = pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (err)
        return err;
    return pthread_mutex_init(&b->mu, NULL);
}

void wvm__budget_destroy(wvm_budget *b)
{
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

static void note_peak(wvm_budget *b, uint64_t v)
{
    uint64_t p = atomic_load_explicit(&b->peak, memory_order_relaxed);
    while (v > p && !atomic_compare_exchange_weak_explicit(&b->peak, &p, v, memory_order_relaxed,
                                                           memory_order_relaxed))
        ;
}

static bool try_charge(wvm_host *h, uint64_t n, int level)
{
    wvm_budget *b = &h->budget;
    uint64_t limit = b->ceiling[level];
    uint64_t cur = atomic_load_explicit(&b->used, memory_order_relaxed);
    do {
        if (n > limit || cur > limit - n)
            return false;
    } while (!atomic_compare_exchange_weak(&b->used, &cur, cur + n));
    uint64_t now = cur + n;
    note_peak(b, now);
    atomic_fetch_add_explicit(&b->granted[level], 1, memory_order_relaxed);
    if (now > b->normal_limit)
        atomic_fetch_add_explicit(&b->reserve_draws, 1, memory_order_relaxed);
    if ((now >= b->low_enter && cur < b->low_enter) || (now >= b->high_exit && cur < b->high_exit))
        wvm__notify_kick(h);
    return true;
}

bool wvm__budget_try(wvm_host *h, uint64_t n, int level)
{
    return n == 0 || try_charge(h, n, level);
}

static void deadline_after(struct timespec *ts, uint32_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static HRESULT refuse(wvm_budget *b, int level, HRESULT hr)
{
    atomic_fetch_add_explicit(&b->refused[level], 1, memory_order_relaxed);
    return hr;
}

HRESULT wvm__budget_charge(wvm_host *h, uint64_t n, int level)
{
    wvm_budget *b = &h->budget;
    if (n == 0 || try_charge(h, n, level))
        return S_OK;
    wvm__budget_reclaim(h);
    if (try_charge(h, n, level))
        return S_OK;
    /* Under pressure: a process-critical request in the reserve succeeded above already; here
     * every level is over its ceiling. Let the runtime collect garbage either way. */
    wvm__notify_request_low(h);
    if (level == eTaskCritical || n > b->ceiling[level] || b->timeout_ms == UINT32_MAX)
        return refuse(b, level, E_OUTOFMEMORY);
    atomic_fetch_add_explicit(&b->waits, 1, memory_order_relaxed);
    struct timespec dl;
    deadline_after(&dl, b->timeout_ms);
    HRESULT hr = S_OK;
    pthread_mutex_lock(&b->mu);
    atomic_fetch_add(&b->waiters, 1); /* seq_cst: pairs with the releaser's load */
    for (;;) {
        if (atomic_load(&b->abandoned)) {
            hr = HOST_E_ABANDONED;
            break;
        }
        if (try_charge(h, n, level))
            break;
        int err = pthread_cond_timedwait(&b->cv, &b->mu, &dl);
        if (err == ETIMEDOUT) {
            if (atomic_load(&b->abandoned))
                hr = HOST_E_ABANDONED;
            else if (!try_charge(h, n, level)) {
                atomic_fetch_add_explicit(&b->timeouts, 1, memory_order_relaxed);
                hr = HOST_E_TIMEOUT;
            }
            break;
        }
    }
    atomic_fetch_sub(&b->waiters, 1);
    pthread_mutex_unlock(&b->mu);
    return hr == S_OK ? hr : refuse(b, level, hr);
}

void wvm__budget_uncharge(wvm_host *h, uint64_t n)
{
    wvm_budget *b = &h->budget;
    if (n == 0)
        return;
    uint64_t before = atomic_fetch_sub(&b->used, n); /* seq_cst: pairs with waiters */
    uint64_t now = before - n;
    if (atomic_load(&b->waiters)) {
        pthread_mutex_lock(&b->mu);
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
    }
    if ((before >= b->low_exit && now < b->low_exit) ||
        (before >= b->high_enter && now < b->high_enter))
        wvm__notify_kick(h);
}

void wvm__budget_reclaim(wvm_host *h)
{
    wvm__budget_uncharge(h, wvm__owned_credit_take(h->credit));
}

void wvm__budget_abandon(wvm_budget *b)
{
    pthread_mutex_lock(&b->mu);
    atomic_store(&b->abandoned, true);
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}
