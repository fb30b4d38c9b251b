/* A W^X JIT in the Windows style: allocate read-write, emit machine code, switch the page to
 * execute-read, flush the instruction cache, call the code. Never writable and executable at
 * once. With --from-app it uses the app-container functions and opts into dynamic code (the
 * codeGeneration capability); without the opt-in VirtualProtectFromApp refuses.
 *
 *   wx_jit [--from-app] [n]    prints n*(n+1)/2 computed by generated code */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winvmem/vm.h>

/* x86-64 System V: long sum(long n) { long s = 0; while (n) s += n--; return s; } */
static size_t emit_sum(unsigned char *p)
{
    static const unsigned char code[] = {
        0x31, 0xC0,       /* xor eax, eax        */
        0x48, 0x85, 0xFF, /* test rdi, rdi       */
        0x74, 0x08,       /* jz done             */
        0x48, 0x01, 0xF8, /* loop: add rax, rdi  */
        0x48, 0xFF, 0xCF, /* dec rdi             */
        0x75, 0xF8,       /* jnz loop            */
        0xC3,             /* done: ret           */
    };
    memcpy(p, code, sizeof code);
    return sizeof code;
}

int main(int argc, char **argv)
{
#if !defined(__x86_64__)
    (void)argc;
    (void)argv;
    fprintf(stderr, "wx_jit emits x86-64 code\n");
    return 0;
#else
    int from_app = argc > 1 && !strcmp(argv[1], "--from-app");
    long n = argc > 1 + from_app ? atol(argv[1 + from_app]) : 100;
    void *(*alloc)(void *, size_t, uint32_t, uint32_t) =
        from_app ? wvm_VirtualAllocFromApp : wvm_VirtualAlloc;
    int (*protect)(void *, size_t, uint32_t, uint32_t *) =
        from_app ? wvm_VirtualProtectFromApp : wvm_VirtualProtect;

    unsigned char *page =
        alloc(NULL, WVM_PAGE_SIZE, WVM_MEM_RESERVE | WVM_MEM_COMMIT, WVM_PAGE_READWRITE);
    if (!page) {
        fprintf(stderr, "VirtualAlloc failed: %u\n", wvm_GetLastError());
        return 1;
    }
    size_t len = emit_sum(page);
    uint32_t old;
    if (from_app && !protect(page, len, WVM_PAGE_EXECUTE_READ, &old))
        printf("without the opt-in VirtualProtectFromApp refuses: error %u\n", wvm_GetLastError());
    if (from_app)
        wvm_set_dynamic_code_allowed(1);
    if (!protect(page, len, WVM_PAGE_EXECUTE_READ, &old)) {
        fprintf(stderr, "VirtualProtect failed: %u\n", wvm_GetLastError());
        return 1;
    }
    if (!wvm_FlushInstructionCache(wvm_GetCurrentProcess(), page, len)) {
        fprintf(stderr, "FlushInstructionCache failed: %u\n", wvm_GetLastError());
        return 1;
    }
    long (*sum)(long) = (long (*)(long))(void *)page;
    long got = sum(n);
    printf("sum(1..%ld) = %ld by generated code (old protection %#x)\n", n, got, old);
    wvm_VirtualFree(page, 0, WVM_MEM_RELEASE);
    return got == n * (n + 1) / 2 ? 0 : 1;
#endif
}
