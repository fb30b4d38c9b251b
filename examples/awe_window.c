/* Address Windowing Extensions: more memory than a window shows at once. Physical pages belong
 * to no address; MapUserPhysicalPages puts a set of them into a window reserved with
 * MEM_PHYSICAL, and their contents go with them when the window is remapped. A database buffer
 * pool on 32-bit Windows used this to address more than 4 GiB. */
#include <stdio.h>
#include <string.h>

#include <winvmem/win32.h>

enum { PAGE = 4096, WINDOW_PAGES = 16, BANKS = 4 };

int main(void)
{
    ULONG_PTR n = WINDOW_PAGES * BANKS, frames[WINDOW_PAGES * BANKS];
    if (!AllocateUserPhysicalPages(GetCurrentProcess(), &n, frames)) {
        /* ERROR_NOT_SUPPORTED (50): the kernel lacks UFFDIO_MOVE (Linux < 6.8) */
        fprintf(stderr, "AllocateUserPhysicalPages: error %u\n", GetLastError());
        return GetLastError() == ERROR_NOT_SUPPORTED ? 0 : 1;
    }
    char *window =
        VirtualAlloc(NULL, WINDOW_PAGES * PAGE, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE);
    if (!window || n != WINDOW_PAGES * BANKS) {
        fprintf(stderr, "window: error %u (%lu pages)\n", GetLastError(), (unsigned long)n);
        return 1;
    }
    /* fill each bank through the one window */
    for (int b = 0; b < BANKS; b++) {
        if (!MapUserPhysicalPages(window, WINDOW_PAGES, frames + b * WINDOW_PAGES))
            return 1;
        for (int p = 0; p < WINDOW_PAGES; p++)
            snprintf(window + p * PAGE, PAGE, "bank %d, page %d", b, p);
    }
    /* show bank 2 again: the data followed its pages */
    MapUserPhysicalPages(window, WINDOW_PAGES, frames + 2 * WINDOW_PAGES);
    printf("window %p now shows: \"%s\" ... \"%s\"\n", (void *)window, window,
           window + (WINDOW_PAGES - 1) * PAGE);
    int ok = !strcmp(window, "bank 2, page 0");

    /* unmap: the window pages are empty again (VirtualQuery: MEM_RESERVE) */
    MapUserPhysicalPages(window, WINDOW_PAGES, NULL);
    MEMORY_BASIC_INFORMATION m;
    VirtualQuery(window, &m, sizeof m);
    printf("after unmapping, the window is %s\n", m.State == MEM_RESERVE ? "reserved" : "?");
    ok &= m.State == MEM_RESERVE;
    ok &= VirtualFree(window, 0, MEM_RELEASE) &&
          FreeUserPhysicalPages(GetCurrentProcess(), &n, frames);
    return ok ? 0 : 1;
}
