/* wvm_print_stats, and WINVMEM_SHOW_STATS=1: statistics on stderr when the process exits. */
#include <stdio.h>

#include <winvmem/stats.h>

#include "api/api.h"
#include "prim/options.h"
#include "prim/linux/prim.h"

static const char *const sys_name[WVM_SYS_KINDS] = {"mmap",    "munmap", "mprotect",
                                                    "madvise", "mlock",  "other"};

static void mech_list(FILE *out, uint32_t set, bool json)
{
    char why[320];
    bool first = true;
    for (uint32_t m = 1; m; m <<= 1) {
        if (!(set & m))
            continue;
        const char *name = wvm__mech_explain(m, why, sizeof why);
        if (!name)
            continue;
        fprintf(out, json ? "%s\"%s\"" : "%s%s", first ? "" : json ? ", " : " ", name);
        first = false;
    }
    if (first && !json)
        fputs("none", out);
}

static const char *handler_name(uint32_t state)
{
    return state == WVM_FAULT_HANDLER_INSTALLED   ? "installed"
           : state == WVM_FAULT_HANDLER_DISPLACED ? "displaced"
                                                  : "not installed";
}

static void print_json(FILE *out, const wvm_stats *s)
{
    fprintf(out,
            "{\"version\": %u, \"winvmem_version\": \"%s\", \"reserved_bytes\": %llu, "
            "\"reserved_peak\": %llu, "
            "\"committed_bytes\": %llu, \"committed_peak\": %llu, \"commit_limit\": %llu, "
            "\"commit_refusals\": %llu, \"live_allocations\": %llu, "
            "\"kernel_mappings_created\": %llu, \"metadata_bytes\": %llu, \"syscalls\": {",
            s->version, wvm_version_string(), (unsigned long long)s->reserved_bytes,
            (unsigned long long)s->reserved_peak, (unsigned long long)s->committed_bytes,
            (unsigned long long)s->committed_peak, (unsigned long long)s->commit_limit,
            (unsigned long long)s->commit_refusals, (unsigned long long)s->live_allocations,
            (unsigned long long)s->kernel_mappings_created, (unsigned long long)s->metadata_bytes);
    for (int k = 0; k < WVM_SYS_KINDS; k++)
        fprintf(out, "%s\"%s\": %llu", k ? ", " : "", sys_name[k],
                (unsigned long long)s->syscalls[k]);
    fputs("}, \"mechanisms_available\": [", out);
    mech_list(out, s->mechanisms_available, true);
    fputs("], \"mechanisms_in_use\": [", out);
    mech_list(out, s->mechanisms_in_use, true);
    fprintf(out,
            "], \"sections_live\": %llu, \"views_live\": %llu, \"view_bytes\": %llu, "
            "\"placeholders_live\": %llu, \"handles_open\": %llu, \"metadata_held_bytes\": %llu, "
            "\"fault_handler\": \"%s\", \"faults_handled\": %llu, \"faults_via_entry\": %llu}\n",
            (unsigned long long)s->sections_live, (unsigned long long)s->views_live,
            (unsigned long long)s->view_bytes, (unsigned long long)s->placeholders_live,
            (unsigned long long)s->handles_open, (unsigned long long)s->metadata_held_bytes,
            handler_name(s->fault_handler), (unsigned long long)s->faults_handled,
            (unsigned long long)s->faults_via_entry);
}

static void print_table(FILE *out, const wvm_stats *s)
{
    char a[32], b[32], c[32];
    wvm__size_name(s->reserved_bytes, a, sizeof a);
    wvm__size_name(s->reserved_peak, b, sizeof b);
    fprintf(out, "winvmem statistics\n  version           %s\n", wvm_version_string());
    fprintf(out, "  reserved          %s (peak %s)\n", a, b);
    wvm__size_name(s->committed_bytes, a, sizeof a);
    wvm__size_name(s->committed_peak, b, sizeof b);
    wvm__size_name(s->commit_limit, c, sizeof c);
    fprintf(out, "  committed         %s (peak %s) of a limit of %s, %llu refused\n", a, b, c,
            (unsigned long long)s->commit_refusals);
    fprintf(out, "  allocations       %llu live\n", (unsigned long long)s->live_allocations);
    wvm__size_name(s->view_bytes, a, sizeof a);
    fprintf(out,
            "  sections          %llu live, %llu views (%s), %llu placeholders, %llu handles\n",
            (unsigned long long)s->sections_live, (unsigned long long)s->views_live, a,
            (unsigned long long)s->placeholders_live, (unsigned long long)s->handles_open);
    fprintf(out, "  kernel mappings   %llu created\n",
            (unsigned long long)s->kernel_mappings_created);
    fprintf(out, "  metadata          %llu bytes (%llu held)\n",
            (unsigned long long)s->metadata_bytes, (unsigned long long)s->metadata_held_bytes);
    fprintf(out, "  fault handler     %s, %llu faults handled (%llu through wvm_handle_fault)\n",
            handler_name(s->fault_handler), (unsigned long long)s->faults_handled,
            (unsigned long long)s->faults_via_entry);
    fputs("  system calls     ", out);
    for (int k = 0; k < WVM_SYS_KINDS; k++)
        fprintf(out, " %s %llu%s", sys_name[k], (unsigned long long)s->syscalls[k],
                k + 1 < WVM_SYS_KINDS ? "," : "\n");
    fputs("  mechanisms used   ", out);
    mech_list(out, s->mechanisms_in_use, false);
    fputs("\n  available         ", out);
    mech_list(out, s->mechanisms_available, false);
    fputc('\n', out);
}

WVM_API void wvm_print_stats(FILE *out, unsigned flags)
{
    wvm_stats s = {.version = WVM_STATS_VERSION, .size = sizeof s};
    if (wvm_stats_get(&s))
        return;
    if (flags & WVM_PRINT_JSON)
        print_json(out, &s);
    else
        print_table(out, &s);
}

/* Runs at exit (also when the shared library is unloaded). Only a process that used winvmem
 * has read its options; one that never did prints nothing. */
void wvm__stats_at_exit(void)
{
    if (wvm__options_loaded() && wvm__option(WVM_OPT_SHOW_STATS)) {
        fprintf(stderr, "winvmem: statistics at exit (pid %ld)\n", wvm__prim_pid());
        wvm_print_stats(stderr, 0);
    }
}
