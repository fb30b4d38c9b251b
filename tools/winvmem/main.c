/* winvmem: look at what winvmem sees and try Windows memory calls from a script. */
#include <string.h>

#include "cli.h"

#ifdef WVM_CLI_DIFF_INTERP
int wvm_diff_interp_main(int argc, char **argv); /* tests/diff/interp.c */
#endif

static int usage(FILE *out, int rc)
{
    fputs("usage: winvmem --version\n"
          "       winvmem info [--json]\n"
          "       winvmem run [--json] [--keep-going] FILE|-\n"
          "       winvmem run --transcript FILE|-\n"
          "       winvmem map [--json] [--all]\n"
          "       winvmem stats [--json]\n"
          "\n"
          "info   page size, granularity, commit limit, kernel mechanisms found and chosen\n"
          "run    executes an op-sequence script (the differential tests' language),\n"
          "       printing every call's result and the map of the allocations it made;\n"
          "       --transcript: the differential test's normalised transcript instead\n"
          "map    this process's address space as VirtualQuery reports it (like VMMap)\n"
          "stats  winvmem's statistics for this process\n"
          "\n"
          "Environment: WINVMEM_* options, see winvmem(7) and doc/options.md.\n",
          out);
    return rc;
}

int main(int argc, char **argv)
{
    bool json = false, all = false, keep_going = false, transcript = false;
    const char *cmd = NULL, *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--transcript"))
            transcript = true;
        else if (!strcmp(argv[i], "--all"))
            all = true;
        else if (!strcmp(argv[i], "--keep-going") || !strcmp(argv[i], "-k"))
            keep_going = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return usage(stdout, 0);
        else if (!strcmp(argv[i], "--version"))
            return cli_version();
        else if (argv[i][0] == '-' && argv[i][1])
            return usage(stderr, 2);
        else if (!cmd)
            cmd = argv[i];
        else if (!file)
            file = argv[i];
        else
            return usage(stderr, 2);
    }
    if (!cmd)
        return usage(stderr, 2);
    unsigned flags = json ? WVM_PRINT_JSON : 0;
    if (!strcmp(cmd, "info") && !file)
        return cli_info(json);
    if (!strcmp(cmd, "run") && file && transcript) {
#ifdef WVM_CLI_DIFF_INTERP
        char *args[] = {"interp", strcmp(file, "-") ? (char *)file : NULL, NULL};
        return wvm_diff_interp_main(args[1] ? 2 : 1, args);
#else
        fprintf(stderr, "winvmem: built without the differential interpreter\n");
        return 2;
#endif
    }
    if (!strcmp(cmd, "run") && file)
        return cli_run(file, json, keep_going);
    if (!strcmp(cmd, "map") && !file) {
        wvm_print_map_ex(stdout, flags | (all ? 0 : WVM_PRINT_OWN));
        return 0;
    }
    if (!strcmp(cmd, "stats") && !file) {
        wvm_print_stats(stdout, flags);
        return 0;
    }
    return usage(stderr, 2);
}
