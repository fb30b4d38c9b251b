/* wvm_print_map / wvm_print_map_ex: the allocations appear with their regions, sizes written
 * like VMMap, JSON parseable by position. */
#include <criterion/criterion.h>
#include <winvmem.h>

static char *capture(unsigned flags)
{
    char *buf;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    wvm_print_map_ex(f, flags);
    fclose(f);
    return buf;
}

Test(map, own_allocation_regions_in_table)
{
    char *p = wvm_VirtualAlloc(NULL, 1 << 20, WVM_MEM_RESERVE, WVM_PAGE_READWRITE);
    cr_assert_not_null(p);
    cr_assert_not_null(wvm_VirtualAlloc(p + 65536, 8192, WVM_MEM_COMMIT, WVM_PAGE_READONLY));
    char *out = capture(0), want[128];
    snprintf(want, sizeof want, "%012lx          64 K  Reserve  -", (unsigned long)p);
    cr_expect(strstr(out, want), "missing '%s' in:\n%s", want, out);
    snprintf(want, sizeof want, "%012lx           8 K  Commit   READONLY",
             (unsigned long)p + 65536);
    cr_expect(strstr(out, want), "missing '%s' in:\n%s", want, out);
    cr_expect(strstr(out, "952 K  Reserve"), "%s", out);
    cr_expect(strstr(out, "[winvmem]"), "%s", out);
    cr_expect(strstr(out, " Image "), "the program itself is an image: %s", out);
    cr_expect(strstr(out, "\nwinvmem's allocations: committed "), "summary missing: %s", out);
    free(out);
    wvm_VirtualFree(p, 0, WVM_MEM_RELEASE);
}

Test(map, own_only_json)
{
    char *a = wvm_VirtualAlloc(NULL, 3 << 20, WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    char *b = wvm_VirtualAlloc(NULL, 1 << 16, WVM_MEM_RESERVE, WVM_PAGE_NOACCESS);
    cr_assert(a && b);
    char *out = capture(WVM_PRINT_JSON | WVM_PRINT_OWN), want[160];
    cr_expect_eq(out[0], '[');
    snprintf(want, sizeof want,
             "{\"base\": \"0x%lx\", \"size\": %d, \"state\": \"Commit\", \"protect\": "
             "\"READWRITE\", \"type\": \"Private\"",
             (unsigned long)a, 3 << 20);
    cr_expect(strstr(out, want), "missing '%s' in:\n%s", want, out);
    snprintf(want, sizeof want, "\"base\": \"0x%lx\", \"size\": 65536, \"state\": \"Reserve\"",
             (unsigned long)b);
    cr_expect(strstr(out, want), "missing '%s' in:\n%s", want, out);
    cr_expect_null(strstr(out, "\"winvmem\": false"), "only own regions: %s", out);
    cr_expect_null(strstr(out, "Image"), "%s", out);
    cr_expect_str_eq(out + strlen(out) - 3, "\n]\n");
    free(out);
    wvm_VirtualFree(a, 0, WVM_MEM_RELEASE);
    wvm_VirtualFree(b, 0, WVM_MEM_RELEASE);
    out = capture(WVM_PRINT_JSON | WVM_PRINT_OWN);
    cr_expect_str_eq(out, "[]\n");
    free(out);
}

Test(map, huge_sizes_are_shortened)
{
    char *out = capture(0);
    /* the free space below the program is tens of TiB: written as "NN.N T", not in K */
    cr_expect(strstr(out, " T  Free"), "%s", out);
    free(out);
}
