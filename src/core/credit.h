/* Commit a host charged in views, given back when the section that holds it dies.
 *
 * The host memory manager charges its budget with what its VirtualAlloc(MEM_COMMIT) newly
 * commits (src/hook/host_hook.h). In a view of a SEC_RESERVE section that commit belongs to
 * the section, not to the view: VirtualFree refuses views and unmapping leaves the section's
 * pages committed, so the charge lasts until the section dies in this process (its last
 * handle and view gone), when the ledger gets it back too. The section then adds what the host
 * charged through it to the host's credit record; the host takes the sum when it looks at its
 * budget. The section holds a reference to the record, so a host that is gone (its last
 * reference dropped) costs a dead section nothing. */
#ifndef WVM_CREDIT_H
#define WVM_CREDIT_H
#include <stdatomic.h>
#include <stdint.h>

typedef struct wvm_credit {
    _Atomic uint64_t refs;
    _Atomic uint64_t bytes; /* given back, not yet taken */
} wvm_credit;

/* A record with one reference; NULL when out of memory. */
wvm_credit *wvm__credit_new(void);
void wvm__credit_ref(wvm_credit *c);
void wvm__credit_unref(wvm_credit *c);
/* Async-signal-safe, lock-free. */
void wvm__credit_give(wvm_credit *c, uint64_t bytes);
uint64_t wvm__credit_take(wvm_credit *c);
#endif
