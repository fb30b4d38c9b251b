/* `winvmem info`: what this machine and kernel give winvmem. */
#include <string.h>

#include "cli.h"

static const char *const mech_names[] = {
    "guard-markers", "procmap-query",  "uffd-wp-async", "pagemap-scan",    "hugetlb",    "memfd",
    "uffdio-move",   "uffd-wp-sigbus", "proc-mem",      "marker-noaccess", "marker-data"};
enum { NMECH = sizeof mech_names / sizeof mech_names[0] };

/* "guard-markers: in use (...)" -> state "in use", detail after the state. */
static const char *mech_state(const char *line, uint32_t bit, const wvm_stats *s)
{
    if (s->mechanisms_in_use & bit)
        return "in use";
    if (s->mechanisms_available & bit)
        return "available";
    return strstr(line, ": not probed") ? "not probed" : "missing";
}

int cli_version(void)
{
    printf("winvmem %s", wvm_version_string());
    if (wvm_version() != WVM_VERSION)
        printf(" (this tool was built against the headers of %s)", WVM_VERSION_STRING);
    putchar('\n');
    return 0;
}

static const char *source_name(int source)
{
    switch (source) {
    case WVM_OPTION_ENVIRONMENT:
        return "environment";
    case WVM_OPTION_REJECTED:
        return "rejected";
    case WVM_OPTION_SET_IN_PROCESS:
        return "set in process";
    default:
        return "default";
    }
}

/* The WINVMEM_* options: every one in JSON, those the environment sets in text. An invalid
 * value is shown as rejected, never as in force. */
static void options(bool json)
{
    wvm_option_info o;
    int shown = 0;
    if (!json)
        printf("options\n");
    for (unsigned i = 0; !wvm_option_get(i, &o); i++) {
        if (json) {
            printf(
                "%s\n  {\"name\": \"%s\", \"value\": %lld, \"default\": %lld, \"source\": \"%s\", "
                "\"text\": ",
                i ? "," : "", o.name, (long long)o.value, (long long)o.default_value,
                source_name(o.source));
            opl_json_str(stdout, o.text);
            putchar('}');
            continue;
        }
        if (o.source == WVM_OPTION_DEFAULT)
            continue;
        shown++;
        if (o.source == WVM_OPTION_REJECTED)
            printf("  %s=%s  rejected, the default is in force (%s)\n", o.name, o.text, o.help);
        else if (o.source == WVM_OPTION_ENVIRONMENT)
            printf("  %s=%s  in force\n", o.name, o.text);
        else
            printf("  %s  set by the program to %lld\n", o.name, (long long)o.value);
    }
    if (!json && !shown)
        printf("  no WINVMEM_* variable set: defaults\n");
}

static bool from_environment(const char *name)
{
    wvm_option_info o;
    for (unsigned i = 0; !wvm_option_get(i, &o); i++)
        if (!strcmp(o.name, name))
            return o.source == WVM_OPTION_ENVIRONMENT;
    return false;
}

int cli_info(bool json)
{
    wvm_SYSTEM_INFO si;
    wvm_GetSystemInfo(&si);
    wvm_MEMORYSTATUSEX ms = {.dwLength = sizeof ms};
    wvm_GlobalMemoryStatusEx(&ms);
    /* explaining probes every mechanism: the sets read afterwards agree with the lines */
    char lines[NMECH][320];
    for (int i = 0; i < NMECH; i++)
        wvm_mechanism_explain(1u << i, lines[i], sizeof lines[i]);
    wvm_stats st = {.version = WVM_STATS_VERSION, .size = sizeof st};
    if (wvm_stats_get(&st)) {
        fprintf(stderr, "winvmem: this library's stats version differs from the tool's\n");
        return 1;
    }

    if (json) {
        printf("{\"winvmem_version\": \"%s\", \"page_size\": %u, \"allocation_granularity\": %u, "
               "\"minimum_application_address\": \"%p\", "
               "\"maximum_application_address\": \"%p\", \"processors\": %u, "
               "\"physical_memory\": %llu, \"commit_limit\": %llu, \"committed\": %llu, "
               "\"total_virtual\": %llu, \"mechanisms\": [",
               wvm_version_string(), si.dwPageSize, si.dwAllocationGranularity,
               si.lpMinimumApplicationAddress, si.lpMaximumApplicationAddress,
               si.dwNumberOfProcessors, (unsigned long long)ms.ullTotalPhys,
               (unsigned long long)st.commit_limit, (unsigned long long)st.committed_bytes,
               (unsigned long long)ms.ullTotalVirtual);
        for (int i = 0; i < NMECH; i++) {
            printf("%s\n  {\"name\": \"%s\", \"state\": \"%s\", \"explanation\": ", i ? "," : "",
                   mech_names[i], mech_state(lines[i], 1u << i, &st));
            opl_json_str(stdout, lines[i]);
            putchar('}');
        }
        printf("\n], \"options\": [");
        options(true);
        printf("\n]}\n");
        return 0;
    }
    printf("winvmem version          %s\n", wvm_version_string());
    printf("page size                %u\n", si.dwPageSize);
    printf("allocation granularity   %u\n", si.dwAllocationGranularity);
    printf("application addresses    %p - %p\n", si.lpMinimumApplicationAddress,
           si.lpMaximumApplicationAddress);
    printf("processors               %u\n", si.dwNumberOfProcessors);
    printf("physical memory          %llu MiB\n", (unsigned long long)(ms.ullTotalPhys >> 20));
    printf("commit limit             %llu MiB%s\n", (unsigned long long)(st.commit_limit >> 20),
           from_environment("WINVMEM_COMMIT_LIMIT") ? " (WINVMEM_COMMIT_LIMIT)" : "");
    printf("kernel mechanisms\n");
    for (int i = 0; i < NMECH; i++)
        printf("  %s\n", lines[i]);
    options(false);
    return 0;
}
