/* wvm_stats_get, wvm_check_invariants and the debug-build hook. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winvmem/stats.h>

#include "api/api.h"
#include "core/check.h"
#include "core/ebr.h"
#include "core/handle.h"
#include "core/meta.h"
#include "core/ledger.h"
#include "core/placeholder.h"
#include "core/slots.h"
#include "core/view.h"
#include "fault/fault.h"
#include "prim/linux/prim.h"
#include "prim/linux/hugetlb.h"
#include "prim/linux/prim_residency.h"
#include "prim/linux/uffd.h"

WVM_API int wvm_stats_get(wvm_stats *out)
{
    if (!out || !((out->version == WVM_STATS_VERSION && out->size == sizeof *out) ||
                  (out->version == 2 && out->size == WVM_STATS_V2_SIZE) ||
                  (out->version == 1 && out->size == WVM_STATS_V1_SIZE)))
        return EINVAL;
    wvm_stats all;
    const wvm_caps *c = wvm__caps();
    wvm_space_stats ss;
    wvm__space_stats(&ss);
    uint32_t version = out->version, size = out->size;
    wvm_stats *caller = out;
    out = &all;
    memset(out, 0, sizeof *out);
    out->reserved_bytes = ss.reserved;
    out->reserved_peak = ss.reserved_peak;
    out->committed_bytes = wvm__ledger_committed();
    out->committed_peak = wvm__ledger_peak();
    out->commit_limit = wvm__ledger_limit();
    out->commit_refusals = wvm__ledger_refusals();
    out->live_allocations = ss.live;
    out->kernel_mappings_created = wvm__prim_mappings_created();
    out->metadata_bytes = wvm__meta_bytes() + wvm__slots_bytes();
    wvm__prim_syscall_counts(out->syscalls, WVM_SYS_KINDS);
    (void)c; /* probes the kernel's mechanisms, if that has not happened yet */
    out->mechanisms_available = wvm__mech_available();
    out->mechanisms_in_use = wvm__mech_in_use();
    out->sections_live = wvm__section_live();
    out->views_live = wvm__view_live();
    out->view_bytes = wvm__view_bytes();
    out->placeholders_live = wvm__placeholder_count();
    out->handles_open = wvm__handle_count();
    out->metadata_held_bytes = wvm__meta_held() + wvm__slots_held();
    out->fault_handler = wvm__fault_handler_state();
    wvm__fault_counts(&out->faults_handled, &out->faults_via_entry);
    out->version = version;
    out->size = size;
    memcpy(caller, out, size);
    return 0;
}

WVM_API const char *wvm_mechanism_explain(uint32_t mech, char *buf, size_t cap)
{
    if (!buf || !cap)
        return NULL;
    /* probe what is probed lazily, so that the answer is "not probed" only for mechanisms
     * no feature of this build uses */
    wvm__caps();
    if (mech & (WVM_MECH_UFFD_WP_ASYNC | WVM_MECH_PAGEMAP_SCAN | WVM_MECH_UFFDIO_MOVE))
        wvm__prim_ww_available();
    if (mech & WVM_MECH_UFFD_WP_SIGBUS)
        wvm__prim_ro_available();
    if (mech & WVM_MECH_PROC_MEM)
        wvm__prim_forced_available();
    if (mech & WVM_MECH_MARKER_NOACCESS)
        wvm__prim_mark_available();
    if (mech & WVM_MECH_MARKER_DATA)
        wvm__prim_mark_data_available();
    if (mech & WVM_MECH_HUGETLB)
        wvm__prim_huge_size();
    return wvm__mech_explain(mech, buf, cap);
}

WVM_API int wvm_check_invariants(void)
{
    return wvm__check(false);
}

#ifdef WVM_CHECK_INVARIANTS
void wvm__after_call(void)
{
    if (wvm__check(true))
        abort();
}
#endif
