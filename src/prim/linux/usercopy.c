/* Copies to and from memory a caller named, in which a fault is an error instead of a crash:
 * a plain copy whose faulting instruction winvmem's SIGSEGV/SIGBUS dispatcher recognises and
 * resumes at the copy's error exit (what a kernel's copy_to_user does with its exception
 * table). No system call, so it costs what memcpy costs; the dispatcher must be installed.
 * x86-64 only; elsewhere the copy reports ENOSYS and callers go through the kernel. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <ucontext.h>

#include "prim/linux/prim.h"
#include "prim/linux/prim_signal.h"

#if defined(__x86_64__)
/* wvm__uc_copy and wvm__uc_touch label the only instructions that touch the caller's memory;
 * wvm__uc_fail returns EFAULT. */
__asm__(".text\n"
        ".p2align 4\n"
        ".globl wvm__prim_user_copy\n"
        ".hidden wvm__prim_user_copy\n"
        ".type wvm__prim_user_copy, @function\n"
        "wvm__prim_user_copy:\n" /* rdi dst, rsi src, rdx n */
        "    movq %rdx, %rcx\n"
        ".globl wvm__uc_copy\n"
        ".hidden wvm__uc_copy\n"
        "wvm__uc_copy:\n"
        "    rep movsb\n"
        "    xorl %eax, %eax\n"
        "    ret\n"
        ".size wvm__prim_user_copy, .-wvm__prim_user_copy\n"
        ".p2align 4\n"
        ".globl wvm__prim_user_touch\n"
        ".hidden wvm__prim_user_touch\n"
        ".type wvm__prim_user_touch, @function\n"
        "wvm__prim_user_touch:\n" /* rdi p, rsi n (> 0, no wrap) */
        "    leaq -1(%rdi,%rsi), %rsi\n"
        "1:\n"
        ".globl wvm__uc_touch\n"
        ".hidden wvm__uc_touch\n"
        "wvm__uc_touch:\n"
        "    lock orb $0, (%rdi)\n" /* a write that changes nothing, atomically */
        "    movq %rdi, %rax\n"
        "    orq $4095, %rax\n"
        "    leaq 1(%rax), %rdi\n"
        "    cmpq %rsi, %rdi\n"
        "    jbe 1b\n"
        "    xorl %eax, %eax\n"
        "    ret\n"
        ".size wvm__prim_user_touch, .-wvm__prim_user_touch\n"
        ".globl wvm__uc_fail\n"
        ".hidden wvm__uc_fail\n"
        "wvm__uc_fail:\n"
        "    movl $14, %eax\n" /* EFAULT */
        "    ret\n");

extern const char wvm__uc_copy[], wvm__uc_touch[], wvm__uc_fail[];

bool wvm__prim_user_copy_available(void)
{
    return true;
}

bool wvm__prim_user_copy_fault(void *ucontext)
{
    ucontext_t *uc = ucontext;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    return pc == (uintptr_t)wvm__uc_copy || pc == (uintptr_t)wvm__uc_touch;
}

void wvm__prim_user_copy_fail(void *ucontext)
{
    ucontext_t *uc = ucontext;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)wvm__uc_fail;
}
#else
int wvm__prim_user_copy(void *dst, const void *src, size_t n)
{
    (void)dst;
    (void)src;
    (void)n;
    return ENOSYS;
}

int wvm__prim_user_touch(void *p, size_t n)
{
    (void)p;
    (void)n;
    return ENOSYS;
}

bool wvm__prim_user_copy_available(void)
{
    return false;
}

bool wvm__prim_user_copy_fault(void *ucontext)
{
    (void)ucontext;
    return false;
}

void wvm__prim_user_copy_fail(void *ucontext)
{
    (void)ucontext;
}
#endif
