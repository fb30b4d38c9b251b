#ifndef WVM_CHECK_H
#define WVM_CHECK_H
#include <stdbool.h>
/* Returns 0 when the model is consistent, else prints the first violation and returns -1.
 * after_call: the structural checks only, run after every public call in debug builds
 * (skipped above 512 allocations; allocations above 256 MiB are skipped). Without it, also the
 * kernel's protections and the ledger, which are exact only while no other thread is inside
 * winvmem. */
int wvm__check(bool after_call);
#endif
