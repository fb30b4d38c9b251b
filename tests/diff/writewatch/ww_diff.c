/* Write watch, differential: the same sequence of calls built natively against winvmem and
 * with mingw-w64 for Wine; each line of output is one call's result. ww_diff.wine.txt is the
 * transcript Wine 8 printed (re-record: x86_64-w64-mingw32-gcc ww_diff.c -o ww_diff.exe &&
 * wine ww_diff.exe | tr -d '\r'). ww_diff.sh compares, allowing only the differences listed
 * there, where winvmem follows Microsoft's documentation instead of Wine. */
#ifdef _WIN32
#include <windows.h>
#else
#include <winvmem/win32.h>
#endif
#include <stdio.h>
#define P 4096
static char *b0;
static void gw(const char *tag, DWORD f, char *b, SIZE_T s, ULONG_PTR cnt, int nores, int nocnt,
               int nogr)
{
    void *r[64];
    ULONG_PTR c = cnt;
    ULONG g = 0;
    SetLastError(0xdead);
    UINT ret = GetWriteWatch(f, b, s, nores ? NULL : r, nocnt ? NULL : &c, nogr ? NULL : &g);
    printf("%s: ret=%d err=%lu c=%lu g=%lu [", tag, (int)ret, (unsigned long)GetLastError(),
           (unsigned long)c, (unsigned long)g);
    if (!ret)
        for (ULONG_PTR i = 0; i < c; i++)
            printf(" %ld", (long)(((char *)r[i] - b0) / P));
    printf(" ]\n");
}
int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    SIZE_T size = 0x10000;
    DWORD old;
    UINT ret;
    char *b = b0 =
        VirtualAlloc(0, size, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE);
    printf("alloc %d\n", b != NULL);
    gw("null base", 0, NULL, size, 64, 0, 0, 0);
    gw("empty", 0, b, size, 64, 0, 0, 0);
    b[P + 1] = 1;
    gw("one", 0, b, size, 64, 0, 0, 0);
    gw("reset", 1, b, size, 64, 0, 0, 0);
    gw("after", 0, b, size, 64, 0, 0, 0);
    b[2 * P] = 1;
    b[4 * P] = 1;
    b[7 * P] = 1;
    b[15 * P] = 1;
    gw("sub", 0, b + 3 * P, 2 * P, 64, 0, 0, 0);
    gw("unaligned", 0, b + 3 * P + 5, P, 64, 0, 0, 0);
    gw("cap2 reset", 1, b, size, 2, 0, 0, 0);
    gw("after cap", 0, b, size, 64, 0, 0, 0);
    SetLastError(0xdead);
    ret = ResetWriteWatch(b, 3 * P);
    printf("resetww ret=%d err=%lu\n", (int)ret, (unsigned long)GetLastError());
    gw("count0", 0, b, size, 0, 0, 0, 0);
    gw("nocount", 0, b, size, 64, 0, 1, 0);
    gw("nogran", 0, b, size, 64, 0, 0, 1);
    gw("nores", 0, b, size, 64, 1, 0, 0);
    gw("nores count0", 0, b, size, 0, 1, 0, 0);
    gw("badflags", 0xdeadbeef, b, size, 64, 0, 0, 0);
    gw("flags2", 2, b, size, 64, 0, 0, 0);
    gw("size0", 0, b, 0, 64, 0, 0, 0);
    gw("size2x", 0, b, 2 * size, 64, 0, 0, 0);
    gw("past", 0, b + size - P, P + 1, 64, 0, 0, 0);
    gw("nocount nogran badflags", 5, b, size, 64, 0, 1, 1);
    gw("count0 nores badflags", 5, b, size, 0, 1, 0, 0);
    SetLastError(0xdead);
    ret = ResetWriteWatch(b, 0);
    printf("reset0 ret=%d err=%lu\n", (int)ret, (unsigned long)GetLastError());
    SetLastError(0xdead);
    ret = ResetWriteWatch(NULL, size);
    printf("resetnull ret=%d err=%lu\n", (int)ret, (unsigned long)GetLastError());
    SetLastError(0xdead);
    ret = ResetWriteWatch(b, 2 * size);
    printf("reset2x ret=%d err=%lu\n", (int)ret, (unsigned long)GetLastError());
    /* protect */
    VirtualProtect(b, 3 * P, PAGE_READONLY, &old);
    VirtualProtect(b, 3 * P, PAGE_READWRITE, &old);
    gw("after protect", 0, b, size, 64, 0, 0, 0);
    /* decommit / recommit */
    b[9 * P] = 1;
    VirtualFree(b + 9 * P, P, MEM_DECOMMIT);
    gw("decommitted", 0, b, size, 64, 0, 0, 0);
    VirtualAlloc(b + 9 * P, P, MEM_COMMIT, PAGE_READWRITE);
    gw("recommitted", 0, b, size, 64, 0, 0, 0);
    VirtualFree(b + 10 * P, P, MEM_DECOMMIT);
    VirtualAlloc(b + 10 * P, P, MEM_COMMIT, PAGE_READWRITE);
    gw("commit only", 0, b, size, 64, 0, 0, 0);
    {
        volatile char x = b[11 * P];
        (void)x;
    }
    gw("read only", 0, b, size, 64, 0, 0, 0);
    gw("reset all", 1, b, size, 64, 0, 0, 0);
    gw("empty again", 0, b, size, 64, 0, 0, 0);
    VirtualFree(b, 0, MEM_RELEASE);
    SetLastError(0xdead);
    b = VirtualAlloc(0, size, MEM_WRITE_WATCH, PAGE_READWRITE);
    printf("ww alone %d err=%lu\n", b != NULL, (unsigned long)GetLastError());
    SetLastError(0xdead);
    b = VirtualAlloc(0, size, MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE);
    printf("ww commit %d err=%lu\n", b != NULL, (unsigned long)GetLastError());
    char *plain = VirtualAlloc(0, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    SetLastError(0xdead);
    b = VirtualAlloc(plain, size, MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE);
    printf("ww commit existing %d err=%lu\n", b != NULL, (unsigned long)GetLastError());
    gw("plain", 0, plain, size, 64, 0, 0, 0);
    SetLastError(0xdead);
    ret = ResetWriteWatch(plain, size);
    printf("resetplain ret=%d err=%lu\n", (int)ret, (unsigned long)GetLastError());
    b = b0 = VirtualAlloc(0, size, MEM_RESERVE | MEM_WRITE_WATCH, PAGE_NOACCESS);
    printf("reserve noaccess %d\n", b != NULL);
    gw("reserved only", 0, b, size, 64, 0, 0, 0);
    VirtualAlloc(b, size, MEM_COMMIT, PAGE_NOACCESS);
    VirtualProtect(b, 6 * P, PAGE_READWRITE, &old);
    b[5 * P + 200] = 3;
    VirtualProtect(b, 6 * P, PAGE_NOACCESS, &old);
    gw("noaccess", 0, b, size, 64, 0, 0, 0);
    VirtualFree(b, size, MEM_DECOMMIT);
    gw("all decommitted", 0, b, size, 64, 0, 0, 0);
    gw("all decommitted reset", 1, b, size, 64, 0, 0, 0);
    gw("all decommitted after", 0, b, size, 64, 0, 0, 0);
    VirtualFree(b, 0, MEM_RELEASE);
    return 0;
}
