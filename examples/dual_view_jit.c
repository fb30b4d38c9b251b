/* W^X by two views of one section: the JIT writes code through a read-write view and runs it
 * through an execute-read view of the same pages, so no page is ever writable and executable
 * in the same mapping and no protection ever changes (the scheme of JITs that must not flip
 * page protections).
 *
 *   dual_view_jit [n]    prints n*(n+1)/2 computed by generated code, regenerated 100 times */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winvmem/win32.h>

/* x86-64 System V: long f(long n) { long s = 0; while (n) s += n--; return s + k; } */
static size_t emit(unsigned char *p, int k)
{
    static const unsigned char code[] = {
        0x31, 0xC0,             /* xor eax, eax        */
        0x48, 0x85, 0xFF,       /* test rdi, rdi       */
        0x74, 0x08,             /* jz done             */
        0x48, 0x01, 0xF8,       /* loop: add rax, rdi  */
        0x48, 0xFF, 0xCF,       /* dec rdi             */
        0x75, 0xF8,             /* jnz loop            */
        0x48, 0x83, 0xC0, 0x00, /* done: add rax, k    */
        0xC3,                   /* ret                 */
    };
    memcpy(p, code, sizeof code);
    p[18] = (unsigned char)k;
    return sizeof code;
}

int main(int argc, char **argv)
{
#if !defined(__x86_64__)
    (void)argc;
    (void)argv;
    fprintf(stderr, "dual_view_jit emits x86-64 code\n");
    return 0;
#else
    long n = argc > 1 ? atol(argv[1]) : 100;
    HANDLE code =
        CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_EXECUTE_READWRITE, 0, 0x10000, NULL);
    unsigned char *rw = MapViewOfFile(code, FILE_MAP_WRITE, 0, 0, 0);
    unsigned char *rx = MapViewOfFile(code, FILE_MAP_READ | FILE_MAP_EXECUTE, 0, 0, 0);
    CloseHandle(code);
    if (!rw || !rx) {
        fprintf(stderr, "mapping failed: %u\n", GetLastError());
        return 1;
    }
    MEMORY_BASIC_INFORMATION m;
    VirtualQuery(rx, &m, sizeof m);
    if (m.Protect != PAGE_EXECUTE_READ || m.Type != MEM_MAPPED) {
        fprintf(stderr, "the code view is %#x, not PAGE_EXECUTE_READ\n", m.Protect);
        return 1;
    }
    long result = 0;
    for (int k = 0; k < 100; k++) {
        size_t len = emit(rw, k % 2); /* regenerate: write through rw ... */
        FlushInstructionCache(GetCurrentProcess(), rx, len);
        long (*f)(long) = (long (*)(long))(void *)rx; /* ... run through rx */
        result = f(n) - k % 2;
        if (result != n * (n + 1) / 2) {
            fprintf(stderr, "generation %d computed %ld\n", k, result);
            return 1;
        }
    }
    printf("%ld\n", result);
    UnmapViewOfFile(rx);
    UnmapViewOfFile(rw);
    return 0;
#endif
}
