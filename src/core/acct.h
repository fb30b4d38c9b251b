/* The accounting an operation of src/core/range.h reports to the host's hook. */
#ifndef WVM_ACCT_H
#define WVM_ACCT_H
#include <stdbool.h>
#include <stdint.h>

/* Accounting for the host's hook (src/hook/host_hook.h); NULL for a plain call.
 *   owner       in: 0, or the tag the operation requires: in-place operations act only on an
 *               allocation made with this owner, a reservation is made with it (tagged before
 *               readers see it).
 *   max_commit  in: refuse with ERROR_COMMITMENT_LIMIT, before anything changes, when the call
 *               would newly commit more bytes (UINT64_MAX: no limit).
 *   committed   out: bytes the call newly committed (reserve, commit) or decommitted
 *               (decommit, release); on ERROR_COMMITMENT_LIMIT the bytes it would have committed.
 *   credit      in: NULL, or the owner's credit record (core/credit.h): a commit may then act
 *               on a view of a SEC_RESERVE section (no allocation of the owner), charging the
 *               section pages it newly commits, which the record gets back when the section dies;
 *               a section another owner committed through is foreign.
 *   reserved    out: the allocation's size (reserve, release).
 *   foreign     out: owner was set and the address lies in no allocation of that owner (the
 *               error is ERROR_INVALID_ADDRESS, as for memory that is not allocated). */
typedef struct wvm_acct {
    uintptr_t owner;
    uint64_t max_commit;
    uint64_t committed;
    uint64_t reserved;
    bool foreign;
    struct wvm_credit *credit;
} wvm_acct;
#endif
