/* The commit ledger: Windows charges every committed page against the commit limit up front;
 * Linux overcommit promises nothing, so winvmem keeps its own count. */
#ifndef WVM_LEDGER_H
#define WVM_LEDGER_H
#include <stdint.h>

/* Charges bytes; returns 0, or ERROR_COMMITMENT_LIMIT (nothing charged). */
uint32_t wvm__ledger_charge(uint64_t bytes);
void wvm__ledger_uncharge(uint64_t bytes);
uint64_t wvm__ledger_committed(void);
uint64_t wvm__ledger_peak(void);
uint64_t wvm__ledger_limit(void);
uint64_t wvm__ledger_refusals(void);
#endif
