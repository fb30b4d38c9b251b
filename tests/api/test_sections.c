/* CreateFileMapping / OpenFileMapping / MapViewOfFile(Ex) / UnmapViewOfFile / FlushViewOfFile /
 * CloseHandle / DuplicateHandle, pagefile-backed and over files. Expected values are Windows'
 * (the ok() lines of Wine's kernel32/tests/virtual.c that hold on Windows). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mbi.h"

#define PAGE         ((SIZE_T)4096)
#define MAPPING_SIZE ((SIZE_T)0x100000)

static const DWORD page_prots[] = {PAGE_NOACCESS,          PAGE_READONLY,         PAGE_READWRITE,
                                   PAGE_WRITECOPY,         PAGE_EXECUTE,          PAGE_EXECUTE_READ,
                                   PAGE_EXECUTE_READWRITE, PAGE_EXECUTE_WRITECOPY};

static HANDLE anon(DWORD prot, SIZE_T size)
{
    SetLastError(0xdeadbeef);
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, prot, 0, (DWORD)size, NULL);
    cr_assert_not_null(h, "CreateFileMapping(%#x) failed: %u", prot, GetLastError());
    cr_assert_eq(GetLastError(), 0, "success sets the last error to 0");
    return h;
}

/* A unique name per test process (tests run in parallel, each in its own process). */
static const char *unique(const char *what)
{
    static char buf[128];
    snprintf(buf, sizeof buf, "Local\\winvmem-test-%d-%s", (int)getpid(), what);
    return buf;
}

Test(sections, pagefile_view_is_mapped_commit)
{
    HANDLE h = anon(PAGE_READWRITE, MAPPING_SIZE);
    char *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    cr_assert_not_null(p, "%u", GetLastError());
    cr_assert_eq((uintptr_t)p % 0x10000, 0, "views are 64 KiB aligned");
    expect_region(p, p, p, PAGE_READWRITE, MAPPING_SIZE, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED);
    expect_region(p + 0x5000, p + 0x5000, p, PAGE_READWRITE, MAPPING_SIZE - 0x5000, MEM_COMMIT,
                  PAGE_READWRITE, MEM_MAPPED);
    char *q = MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
    cr_assert_not_null(q);
    cr_assert_neq(p, q);
    expect_region(q, q, q, PAGE_READONLY, MAPPING_SIZE, MEM_COMMIT, PAGE_READONLY, MEM_MAPPED);
    cr_assert_eq(q[4096], 0, "fresh sections read zeros");
    strcpy(p + 4096, "shared");
    cr_assert_str_eq(q + 4096, "shared", "two views show the same pages");
    cr_assert(UnmapViewOfFile(q));
    cr_assert(UnmapViewOfFile(p + 100), "any address inside the view unmaps it");
    MEMORY_BASIC_INFORMATION m = query(p);
    cr_expect_eq(m.State, MEM_FREE);
    cr_expect_eq(m.AllocationBase, NULL);
    cr_assert(CloseHandle(h));
}

Test(sections, sec_reserve_commits_through_a_view)
{
    HANDLE h = anon(PAGE_READWRITE | SEC_RESERVE, MAPPING_SIZE);
    char *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    char *p2 = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    cr_assert(p && p2 && p != p2);
    expect_region(p, p, p, PAGE_READWRITE, MAPPING_SIZE, MEM_RESERVE, 0, MEM_MAPPED);
    expect_region(p2, p2, p2, PAGE_READWRITE, MAPPING_SIZE, MEM_RESERVE, 0, MEM_MAPPED);
    cr_assert_eq(VirtualAlloc(p, 0x10000, MEM_COMMIT, PAGE_READONLY), p, "%u", GetLastError());
    expect_region(p, p, p, PAGE_READWRITE, 0x10000, MEM_COMMIT, PAGE_READONLY, MEM_MAPPED);
    /* the commit is the section's: the other view has the pages, with its own protection */
    expect_region(p2, p2, p2, PAGE_READWRITE, 0x10000, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED);
    expect_region(p2 + 0x10000, p2 + 0x10000, p2, PAGE_READWRITE, MAPPING_SIZE - 0x10000,
                  MEM_RESERVE, 0, MEM_MAPPED);
    p2[10] = 7;
    cr_assert_eq(p[10], 7);
    cr_assert_eq(VirtualAlloc(p, MAPPING_SIZE, MEM_RESET, PAGE_READONLY), p, "%u", GetLastError());
    expect_error(VirtualFree(p, 0x10000, MEM_DECOMMIT), ERROR_INVALID_PARAMETER);
    /* a view mapped after the commit sees it too */
    char *p3 = MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
    expect_region(p3, p3, p3, PAGE_READONLY, 0x10000, MEM_COMMIT, PAGE_READONLY, MEM_MAPPED);
    cr_assert_eq(p3[10], 7);
    cr_assert(UnmapViewOfFile(p3));
    cr_assert(UnmapViewOfFile(p2));
    cr_assert(UnmapViewOfFile(p));
    cr_assert(CloseHandle(h));
    cr_assert_eq(wvm_check_invariants(), 0);
}

/* Write watching is for private memory: Windows refuses it on views (Wine agrees;
 * tests/diff/sections.ops), both to query and to ask for when mapping. */
Test(sections, write_watch_refused_on_views)
{
    HANDLE h = anon(PAGE_READWRITE, MAPPING_SIZE);
    char *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    cr_assert_not_null(p);
    void *addrs[4];
    ULONG_PTR count = 4;
    ULONG gran;
    SetLastError(0);
    cr_assert_eq(GetWriteWatch(0, p, 0x1000, addrs, &count, &gran), (UINT)-1);
    cr_assert_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    cr_assert_eq(ResetWriteWatch(p, 0x1000), (UINT)-1);
    cr_assert_eq(GetLastError(), ERROR_INVALID_PARAMETER);
    char *r = VirtualAlloc2(NULL, NULL, 0x10000, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                            PAGE_NOACCESS, NULL, 0);
    cr_assert_not_null(r);
    expect_error(MapViewOfFile3(h, NULL, r, 0, 0x10000, MEM_REPLACE_PLACEHOLDER | MEM_WRITE_WATCH,
                                PAGE_READWRITE, NULL, 0),
                 ERROR_INVALID_PARAMETER);
    expect_error(VirtualAlloc2(NULL, NULL, 0x10000,
                               MEM_RESERVE | MEM_RESERVE_PLACEHOLDER | MEM_WRITE_WATCH,
                               PAGE_NOACCESS, NULL, 0),
                 ERROR_INVALID_PARAMETER);
    cr_assert(VirtualFree(r, 0, MEM_RELEASE));
    cr_assert(UnmapViewOfFile(p));
    CloseHandle(h);
}

Test(sections, sec_commit_protection_through_virtualalloc)
{
    HANDLE h = anon(PAGE_READWRITE | SEC_COMMIT, MAPPING_SIZE);
    char *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    expect_region(p, p, p, PAGE_READWRITE, MAPPING_SIZE, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED);
    cr_assert_eq(VirtualAlloc(p, 0x10000, MEM_COMMIT, PAGE_READONLY), p);
    expect_region(p, p, p, PAGE_READWRITE, 0x10000, MEM_COMMIT, PAGE_READONLY, MEM_MAPPED);
    expect_error(VirtualFree(p, 0x10000, MEM_DECOMMIT), ERROR_INVALID_PARAMETER);
    expect_error(VirtualFree(p, 0, MEM_RELEASE), ERROR_INVALID_PARAMETER);
    cr_assert(UnmapViewOfFile(p));
    CloseHandle(h);
}

Test(sections, sec_nocache_shows_in_protection)
{
    HANDLE h = anon(PAGE_READWRITE | SEC_COMMIT | SEC_NOCACHE, MAPPING_SIZE);
    char *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    expect_region(p, p, p, PAGE_READWRITE | PAGE_NOCACHE, MAPPING_SIZE, MEM_COMMIT,
                  PAGE_READWRITE | PAGE_NOCACHE, MEM_MAPPED);
    cr_assert_eq(VirtualAlloc(p, 0x10000, MEM_COMMIT, PAGE_READONLY), p);
    expect_region(p, p, p, PAGE_READWRITE | PAGE_NOCACHE, 0x10000, MEM_COMMIT,
                  PAGE_READONLY | PAGE_NOCACHE, MEM_MAPPED);
    UnmapViewOfFile(p);
    CloseHandle(h);
}

Test(sections, create_protection_table)
{
    /* exactly one of these six is a section's protection; everything else is refused */
    for (DWORD prot = 0; prot < 0x100; prot++) {
        bool valid = prot == PAGE_READONLY || prot == PAGE_READWRITE || prot == PAGE_WRITECOPY ||
                     prot == PAGE_EXECUTE_READ || prot == PAGE_EXECUTE_READWRITE ||
                     prot == PAGE_EXECUTE_WRITECOPY;
        SetLastError(0xdeadbeef);
        HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, prot, 0, PAGE, NULL);
        if (valid) {
            cr_expect_not_null(h, "prot %#x: %u", prot, GetLastError());
            CloseHandle(h);
        } else {
            cr_expect_null(h, "prot %#x", prot);
            cr_expect_eq(GetLastError(), ERROR_INVALID_PARAMETER, "prot %#x: %u", prot,
                         GetLastError());
        }
    }
    expect_error(
        CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | PAGE_GUARD, 0, PAGE, NULL),
        ERROR_INVALID_PARAMETER);
    expect_error(CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0, NULL),
                 ERROR_INVALID_PARAMETER);
}

Test(sections, sec_flags_table)
{
    static const struct {
        DWORD flags, error;
    } t[] = {
        {SEC_RESERVE, 0},
        {SEC_RESERVE | SEC_NOCACHE, 0},
        {SEC_RESERVE | SEC_LARGE_PAGES, ERROR_INVALID_PARAMETER},
        {SEC_RESERVE | SEC_WRITECOMBINE, 0},
        {SEC_COMMIT, 0},
        {SEC_COMMIT | SEC_NOCACHE, 0},
        {SEC_COMMIT | SEC_WRITECOMBINE, 0},
        {SEC_RESERVE | SEC_COMMIT, ERROR_INVALID_PARAMETER},
        {SEC_IMAGE, ERROR_BAD_EXE_FORMAT},
        {SEC_IMAGE | SEC_RESERVE, ERROR_INVALID_PARAMETER},
        {SEC_IMAGE | SEC_COMMIT, ERROR_INVALID_PARAMETER},
        {SEC_NOCACHE, ERROR_INVALID_PARAMETER},
        {SEC_LARGE_PAGES, ERROR_INVALID_PARAMETER},
        {SEC_WRITECOMBINE, ERROR_INVALID_PARAMETER},
        {SEC_FILE, ERROR_INVALID_PARAMETER},
        {SEC_FILE | SEC_RESERVE, ERROR_INVALID_PARAMETER},
        {SEC_FILE | SEC_COMMIT, ERROR_INVALID_PARAMETER},
        {0, 0},
    };
    for (unsigned i = 0; i < sizeof t / sizeof *t; i++) {
        SetLastError(0xdeadbeef);
        HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, t[i].flags | PAGE_READWRITE, 0,
                                      PAGE, unique("flags"));
        if (t[i].error) {
            cr_expect_null(h, "%u", i);
            cr_expect_eq(GetLastError(), t[i].error, "%u: %u", i, GetLastError());
        } else {
            cr_expect_not_null(h, "%u: %u", i, GetLastError());
            cr_expect_eq(GetLastError(), 0, "%u", i);
            CloseHandle(h);
        }
    }
}

/* The protection MapViewOfFile's access gives a view (Wine's table, checked on Windows). */
static DWORD access_prot(DWORD access)
{
    bool exec = access & FILE_MAP_EXECUTE;
    access &= ~FILE_MAP_EXECUTE;
    if (access == FILE_MAP_COPY)
        return exec ? PAGE_EXECUTE_WRITECOPY : PAGE_WRITECOPY;
    if (access & FILE_MAP_WRITE)
        return exec ? PAGE_EXECUTE_READWRITE : PAGE_READWRITE;
    if (access & FILE_MAP_READ)
        return exec ? PAGE_EXECUTE_READ : PAGE_READONLY;
    return PAGE_NOACCESS;
}

static DWORD rights(DWORD prot)
{
    switch (prot) {
    case PAGE_READONLY:
    case PAGE_WRITECOPY:
        return SECTION_MAP_READ;
    case PAGE_READWRITE:
        return SECTION_MAP_READ | SECTION_MAP_WRITE;
    case PAGE_EXECUTE_READ:
    case PAGE_EXECUTE_WRITECOPY:
        return SECTION_MAP_READ | SECTION_MAP_EXECUTE;
    case PAGE_EXECUTE_READWRITE:
        return SECTION_MAP_READ | SECTION_MAP_WRITE | SECTION_MAP_EXECUTE;
    default:
        return 0;
    }
}

/* read 1, write 2, execute 4: what a protection lets a page do */
static DWORD can(DWORD prot)
{
    switch (prot & 0xFF) {
    case PAGE_READONLY:
    case PAGE_WRITECOPY:
        return 1;
    case PAGE_READWRITE:
        return 3;
    case PAGE_EXECUTE:
    case PAGE_EXECUTE_READ:
    case PAGE_EXECUTE_WRITECOPY:
        return 5;
    case PAGE_EXECUTE_READWRITE:
        return 7;
    default:
        return 0;
    }
}

/* Every section protection x every view access x every VirtualProtect / VirtualAlloc
 * protection on a pagefile-backed section. */
Test(sections, access_rules_pagefile)
{
    for (unsigned i = 0; i < 8; i++) {
        DWORD sprot = page_prots[i];
        HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, sprot, 0, 2 * PAGE, NULL);
        if (sprot == PAGE_NOACCESS || sprot == PAGE_EXECUTE) {
            cr_expect_null(h);
            continue;
        }
        for (DWORD access = 0; access < 0x30; access++) {
            if ((access & 0x10) || ((access & 0x8) && (access & 0x20)))
                continue; /* SECTION_EXTEND_SIZE; both execute bits: not in the table */
            DWORD vprot = access_prot(access), need = rights(vprot);
            if (!need)
                need = SECTION_MAP_READ;
            bool ok = (need & rights(sprot)) == need;
            SetLastError(0xdeadbeef);
            char *p = MapViewOfFile(h, access, 0, 0, 0);
            if (!ok) {
                cr_expect_null(p, "section %#x access %#x", sprot, access);
                cr_expect_eq(GetLastError(), ERROR_ACCESS_DENIED, "%u", GetLastError());
                continue;
            }
            cr_assert_not_null(p, "section %#x access %#x: %u", sprot, access, GetLastError());
            expect_region(p, p, p, vprot, 2 * PAGE, MEM_COMMIT, vprot, MEM_MAPPED);
            DWORD prev = vprot, old;
            for (unsigned k = 0; k < 8; k++) {
                DWORD want = page_prots[k];
                bool allowed = (can(vprot) & can(want)) == can(want);
                SetLastError(0xdeadbeef);
                BOOL r = VirtualProtect(p, PAGE, want, &old);
                if (allowed) {
                    cr_expect(r, "view %#x protect %#x: %u", vprot, want, GetLastError());
                    cr_expect_eq(old, prev, "view %#x protect %#x: old %#x", vprot, want, old);
                    cr_expect_eq(query(p).Protect, want);
                    prev = want;
                } else {
                    cr_expect(!r, "view %#x protect %#x", vprot, want);
                    cr_expect_eq(GetLastError(), ERROR_INVALID_PARAMETER);
                }
            }
            for (unsigned k = 0; k < 8; k++) {
                DWORD want = page_prots[k];
                bool allowed = (can(vprot) & can(want)) == can(want);
                SetLastError(0xdeadbeef);
                char *r = VirtualAlloc(p, PAGE, MEM_COMMIT, want);
                if (allowed) {
                    cr_expect_eq(r, p, "view %#x commit %#x: %u", vprot, want, GetLastError());
                    cr_expect_eq(query(p).Protect, want);
                } else {
                    cr_expect_null(r, "view %#x commit %#x", vprot, want);
                    cr_expect_eq(GetLastError(), ERROR_INVALID_PARAMETER);
                }
            }
            cr_assert(UnmapViewOfFile(p));
        }
        CloseHandle(h);
    }
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(sections, handle_access_limits_views)
{
    HANDLE h = anon(PAGE_READWRITE, PAGE), ro, none;
    cr_assert(
        DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &ro, FILE_MAP_READ, FALSE, 0));
    expect_error(MapViewOfFile(ro, FILE_MAP_WRITE, 0, 0, PAGE), ERROR_ACCESS_DENIED);
    char *p = MapViewOfFile(ro, FILE_MAP_READ, 0, 0, PAGE);
    cr_assert_not_null(p);
    expect_region(p, p, p, PAGE_READONLY, PAGE, MEM_COMMIT, PAGE_READONLY, MEM_MAPPED);
    DWORD old;
    expect_error(VirtualProtect(p, PAGE, PAGE_READWRITE, &old), ERROR_INVALID_PARAMETER);
    UnmapViewOfFile(p);
    cr_assert(DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &none, 0, FALSE, 0));
    expect_error(MapViewOfFile(none, 0, 0, 0, PAGE), ERROR_ACCESS_DENIED);
    CloseHandle(none);
    CloseHandle(ro);
    CloseHandle(h);
}

/* Handle values keep to 32 bits (Microsoft: only the low 32 bits of a handle are significant;
 * truncating and sign-extending is safe) however often a slot is reused; a closed handle is
 * refused, not taken for the object that reuses its slot (winvmem's choice: Windows reuses the
 * value). */
Test(sections, handle_values_fit_32_bits)
{
    HANDLE first = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x1000, NULL);
    cr_assert_not_null(first);
    HANDLE prev = NULL;
    for (int i = 0; i < 1000; i++) {
        HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x1000, NULL);
        cr_assert_not_null(h);
        cr_assert_lt((uintptr_t)h, (uintptr_t)1 << 31, "handle %p", h);
        cr_assert_eq((uintptr_t)h % 4, 0);
        HANDLE back = (HANDLE)(intptr_t)(int32_t)(uint32_t)(uintptr_t)h; /* LongToHandle */
        void *v = MapViewOfFile(back, FILE_MAP_READ, 0, 0, 0);
        cr_assert_not_null(v, "%u", GetLastError());
        cr_assert(UnmapViewOfFile(v));
        /* prev was closed, and its slot is h's now: prev names nothing (unless the 7-bit
         * generation came round to the same value) */
        if (prev && prev != h)
            expect_error(CloseHandle(prev), ERROR_INVALID_HANDLE);
        cr_assert(CloseHandle(h));
        expect_error(CloseHandle(h), ERROR_INVALID_HANDLE);
        prev = h;
    }
    cr_assert(CloseHandle(first));
}

Test(sections, map_arguments)
{
    HANDLE h = anon(PAGE_READWRITE, 0x30000);
    expect_error(MapViewOfFile(NULL, FILE_MAP_READ, 0, 0, 0), ERROR_INVALID_HANDLE);
    expect_error(MapViewOfFile((HANDLE)(uintptr_t)0x123450, FILE_MAP_READ, 0, 0, 0),
                 ERROR_INVALID_HANDLE);
    expect_error(MapViewOfFile(h, FILE_MAP_READ, 0, 0x1000, 0), ERROR_MAPPED_ALIGNMENT);
    /* the alignment is checked before the handle (NtMapViewOfSection; Wine agrees) */
    expect_error(MapViewOfFile(NULL, FILE_MAP_READ, 0, 0x1000, 0), ERROR_MAPPED_ALIGNMENT);
    expect_error(MapViewOfFileEx((HANDLE)(uintptr_t)0x123450, FILE_MAP_READ, 0, 0, 0,
                                 (void *)(uintptr_t)0x7f0000001000),
                 ERROR_MAPPED_ALIGNMENT);
    expect_error(MapViewOfFile(h, FILE_MAP_READ, 0, 0x30000, 0), ERROR_ACCESS_DENIED);
    expect_error(MapViewOfFile(h, FILE_MAP_READ, 0, 0x10000, 0x20001), ERROR_ACCESS_DENIED);
    char *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0x10000, 0);
    cr_assert_not_null(p);
    expect_region(p, p, p, PAGE_READWRITE, 0x20000, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED);
    char *q = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    q[0x10000] = 42;
    cr_assert_eq(p[0], 42, "the offset selects the section's pages");
    UnmapViewOfFile(p);
    UnmapViewOfFile(q);
    CloseHandle(h);
}

Test(sections, map_at_an_address)
{
    HANDLE h = anon(PAGE_READWRITE, 0x20000);
    char *r = VirtualAlloc(NULL, 0x40000, MEM_RESERVE, PAGE_NOACCESS);
    cr_assert(VirtualFree(r, 0, MEM_RELEASE));
    char *p = MapViewOfFileEx(h, FILE_MAP_WRITE, 0, 0, 0, r + 0x10000);
    cr_assert_eq(p, r + 0x10000, "%u", GetLastError());
    expect_error(MapViewOfFileEx(h, FILE_MAP_WRITE, 0, 0, 0, r + 0x10000), ERROR_INVALID_ADDRESS);
    expect_error(MapViewOfFileEx(h, FILE_MAP_WRITE, 0, 0, 0, r + 0x1000), ERROR_MAPPED_ALIGNMENT);
    char *v = VirtualAlloc(NULL, 0x10000, MEM_COMMIT, PAGE_READWRITE);
    expect_error(MapViewOfFileEx(h, FILE_MAP_WRITE, 0, 0, 0, v), ERROR_INVALID_ADDRESS);
    cr_assert(UnmapViewOfFile(p));
    VirtualFree(v, 0, MEM_RELEASE);
    CloseHandle(h);
}

Test(sections, unmap_errors)
{
    char *v = VirtualAlloc(NULL, 0x10000, MEM_COMMIT, PAGE_READONLY);
    expect_error(UnmapViewOfFile(v), ERROR_INVALID_ADDRESS);
    expect_error(UnmapViewOfFile(v + 0x3000), ERROR_INVALID_ADDRESS);
    expect_error(UnmapViewOfFile((void *)0xdeadbeef), ERROR_INVALID_ADDRESS);
    cr_assert(VirtualFree(v, 0, MEM_RELEASE));
    expect_error(UnmapViewOfFileEx(v, 0x100), ERROR_INVALID_PARAMETER);
    expect_error(CloseHandle(NULL), ERROR_INVALID_HANDLE);
    expect_error(CloseHandle((HANDLE)(uintptr_t)0x4444), ERROR_INVALID_HANDLE);
    cr_assert(CloseHandle(GetCurrentProcess()), "closing the pseudo-handle succeeds");
    HANDLE h = anon(PAGE_READWRITE, PAGE);
    cr_assert(CloseHandle(h));
    expect_error(CloseHandle(h), ERROR_INVALID_HANDLE);
}

Test(sections, section_lives_while_a_view_does)
{
    HANDLE h = anon(PAGE_READWRITE, MAPPING_SIZE);
    char *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    cr_assert(CloseHandle(h));
    strcpy(p, "alive");
    expect_region(p, p, p, PAGE_READWRITE, MAPPING_SIZE, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED);
    cr_assert_str_eq(p, "alive");
    cr_assert(UnmapViewOfFile(p));
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(sections, named_open_and_access)
{
    const char *name = unique("Foo");
    HANDLE h = anon(PAGE_READWRITE, 4090);
    CloseHandle(h);
    h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4090, name);
    cr_assert_not_null(h, "%u", GetLastError());
    cr_assert_eq(GetLastError(), 0);
    HANDLE r = OpenFileMappingA(FILE_MAP_READ, FALSE, name);
    cr_assert_not_null(r, "%u", GetLastError());
    expect_error(MapViewOfFile(r, FILE_MAP_WRITE, 0, 0, 0), ERROR_ACCESS_DENIED);
    char *p = MapViewOfFile(r, FILE_MAP_READ, 0, 0, 0);
    cr_assert_not_null(p);
    expect_region(p, p, p, PAGE_READONLY, PAGE, MEM_COMMIT, PAGE_READONLY, MEM_MAPPED);
    UnmapViewOfFile(p);
    CloseHandle(r);
    HANDLE w = OpenFileMappingA(FILE_MAP_WRITE, FALSE, name);
    cr_assert_not_null(w);
    expect_error(MapViewOfFile(w, FILE_MAP_READ, 0, 0, 0), ERROR_ACCESS_DENIED);
    p = MapViewOfFile(w, FILE_MAP_WRITE, 0, 0, 0);
    cr_assert_not_null(p);
    expect_region(p, p, p, PAGE_READWRITE, PAGE, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED);
    UnmapViewOfFile(p);
    CloseHandle(w);
    /* a second create returns the same section */
    SetLastError(0xdeadbeef);
    HANDLE again = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 99, name);
    cr_assert_not_null(again);
    cr_assert_eq(GetLastError(), ERROR_ALREADY_EXISTS);
    char *a = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0),
         *b = MapViewOfFile(again, FILE_MAP_READ, 0, 0, 0);
    strcpy(a, "one object");
    cr_assert_str_eq(b, "one object");
    UnmapViewOfFile(a);
    UnmapViewOfFile(b);
    CloseHandle(again);
    CloseHandle(h);
    expect_error(OpenFileMappingA(FILE_MAP_READ, FALSE, name), ERROR_FILE_NOT_FOUND);
}

Test(sections, names_are_case_sensitive_and_local_is_the_default)
{
    char name[128], upper[128], local[160];
    snprintf(name, sizeof name, "winvmem test mapping %d", (int)getpid());
    snprintf(upper, sizeof upper, "WINVMEM TEST MAPPING %d", (int)getpid());
    snprintf(local, sizeof local, "Local\\%s", name);
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, SEC_COMMIT | PAGE_READWRITE, 0,
                                  0x1000, name);
    cr_assert_not_null(h);
    SetLastError(0xdeadbeef);
    HANDLE h2 = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, SEC_COMMIT | PAGE_READWRITE, 0,
                                   0x1000, upper);
    cr_assert_not_null(h2);
    cr_assert_eq(GetLastError(), 0, "a different name");
    CloseHandle(h2);
    HANDLE o = OpenFileMappingA(FILE_MAP_ALL_ACCESS, FALSE, local);
    cr_assert_not_null(o, "Local\\ names the session namespace: %u", GetLastError());
    CloseHandle(o);
    expect_error(OpenFileMappingA(FILE_MAP_ALL_ACCESS, FALSE, upper), ERROR_FILE_NOT_FOUND);
    CloseHandle(h);
}

Test(sections, closing_the_last_handle_drops_the_name_not_the_view)
{
    const char *name = unique("close");
    HANDLE h =
        CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, MAPPING_SIZE, name);
    char *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    HANDLE o = OpenFileMappingA(FILE_MAP_READ, FALSE, name);
    cr_assert(o && p);
    cr_assert(CloseHandle(o));
    cr_assert(CloseHandle(h));
    p[0] = 1;
    expect_region(p, p, p, PAGE_READWRITE, MAPPING_SIZE, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED);
    expect_error(OpenFileMappingA(FILE_MAP_READ, FALSE, name), ERROR_FILE_NOT_FOUND);
    SetLastError(0xdeadbeef);
    h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, MAPPING_SIZE, name);
    cr_assert_not_null(h);
    cr_assert_eq(GetLastError(), ERROR_SUCCESS, "a new section under the old name");
    char *q = MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
    cr_assert_eq(q[0], 0);
    UnmapViewOfFile(q);
    CloseHandle(h);
    UnmapViewOfFile(p);
}

Test(sections, name_errors)
{
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    expect_error(CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, PAGE, longname),
                 ERROR_FILENAME_EXCED_RANGE);
    expect_error(CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, PAGE, "a\\b"),
                 ERROR_PATH_NOT_FOUND);
    expect_error(OpenFileMappingA(FILE_MAP_READ, FALSE, NULL), ERROR_INVALID_PARAMETER);
    expect_error(OpenFileMappingA(FILE_MAP_READ, FALSE, "Local\\no such section here"),
                 ERROR_FILE_NOT_FOUND);
}

/* The links in each named-object directory: Local (the directory itself), Global, Session\N
 * (this session, 1, and the global one, 0), as many as a name likes. */
Test(sections, namespace_links)
{
    static const char *const same[][2] = {
        {"Local\\wvm-links-%d", "wvm-links-%d"},
        {"Session\\1\\wvm-links-%d", "Local\\Local\\wvm-links-%d"},
        {"Global\\wvm-links-%d", "Local\\Global\\wvm-links-%d"},
        {"Session\\0\\wvm-links-%d", "Global\\Local\\wvm-links-%d"},
        {"Global\\Session\\1\\wvm-links-%d", "wvm-links-%d"},
    };
    HANDLE keep[5];
    for (int i = 0; i < 5; i++) {
        char a[96], b[96];
        snprintf(a, sizeof a, same[i][0], (int)getpid());
        snprintf(b, sizeof b, same[i][1], (int)getpid());
        SetLastError(0);
        keep[i] = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, PAGE, a);
        cr_assert(keep[i], "%s: error %lu", a, (unsigned long)GetLastError());
        /* rows 0-1 and 2-3 name the session's and the global object twice over */
        cr_assert_eq(GetLastError(), i == 1 || i == 3 || i == 4 ? ERROR_ALREADY_EXISTS : 0, "%s",
                     a);
        HANDLE o = OpenFileMappingA(FILE_MAP_READ, FALSE, b);
        cr_assert(o, "%s: error %lu", b, (unsigned long)GetLastError());
        CloseHandle(o);
    }
    for (int i = 0; i < 5; i++)
        CloseHandle(keep[i]);
}

Test(sections, wide_and_ansi_names_meet)
{
    char name[64];
    WCHAR wname[64];
    snprintf(name, sizeof name, "wide-%d", (int)getpid());
    for (int i = 0;; i++)
        if (!(wname[i] = (unsigned char)name[i]))
            break;
    HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, PAGE, wname);
    cr_assert_not_null(h);
    HANDLE o = OpenFileMappingA(FILE_MAP_READ, FALSE, name);
    cr_assert_not_null(o, "%u", GetLastError());
    CloseHandle(o);
    CloseHandle(h);
}

/* A temporary file of size bytes, opened with flags; its name is removed at once. */
static int temp_file(size_t size, int flags)
{
    char path[] = "/tmp/winvmem-sections-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, (off_t)size), 0);
    int f = open(path, flags);
    cr_assert(f >= 0);
    unlink(path);
    close(fd);
    return f;
}

Test(sections, file_backed)
{
    int fd = temp_file(12288, O_RDWR);
    HANDLE file = wvm_handle_from_fd(fd);
    cr_assert_not_null(file);
    HANDLE h = CreateFileMappingA(file, NULL, PAGE_READWRITE, 0, 4096, NULL);
    cr_assert_not_null(h, "%u", GetLastError());
    char *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 4096);
    cr_assert_not_null(p);
    expect_region(p, p, p, PAGE_READWRITE, PAGE, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED);
    strcpy(p, "to the file");
    cr_assert(FlushViewOfFile(p, 0));
    char buf[16] = {0};
    cr_assert_eq(pread(fd, buf, 11, 0), 11);
    cr_assert_str_eq(buf, "to the file");
    /* a file's view cannot be committed: the file is its backing */
    expect_error(VirtualAlloc(p, PAGE, MEM_COMMIT, PAGE_READONLY), ERROR_ACCESS_DENIED);
    /* copy-on-write: writes stay in this process */
    char *c = MapViewOfFile(h, FILE_MAP_COPY, 0, 0, 4096);
    cr_assert_not_null(c);
    expect_region(c, c, c, PAGE_WRITECOPY, PAGE, MEM_COMMIT, PAGE_WRITECOPY, MEM_MAPPED);
    cr_assert_str_eq(c, "to the file");
    c[0] = 'X';
    cr_assert_eq(p[0], 't');
    cr_assert_eq(pread(fd, buf, 1, 0), 1);
    cr_assert_eq(buf[0], 't');
    expect_region(c, c, c, PAGE_WRITECOPY, PAGE, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED);
    UnmapViewOfFile(c);
    UnmapViewOfFile(p);
    CloseHandle(h);
    /* sizes: 0 means the file's; more than the file extends a writable section's file */
    h = CreateFileMappingA(file, NULL, PAGE_READONLY, 0, 0, NULL);
    p = MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
    expect_region(p, p, p, PAGE_READONLY, 12288, MEM_COMMIT, PAGE_READONLY, MEM_MAPPED);
    UnmapViewOfFile(p);
    CloseHandle(h);
    expect_error(CreateFileMappingA(file, NULL, PAGE_READONLY, 0, 12289, NULL),
                 ERROR_NOT_ENOUGH_MEMORY);
    h = CreateFileMappingA(file, NULL, PAGE_READWRITE, 0, MAPPING_SIZE, NULL);
    cr_assert_not_null(h);
    cr_assert_eq(lseek(fd, 0, SEEK_END), (off_t)MAPPING_SIZE, "the file grew");
    CloseHandle(h);
    expect_error(CreateFileMappingA(file, NULL, PAGE_NOACCESS, 0, 4096, NULL),
                 ERROR_INVALID_PARAMETER);
    CloseHandle(file);
    close(fd);
}

Test(sections, read_only_file)
{
    int fd = temp_file(4096, O_RDONLY);
    HANDLE file = wvm_handle_from_fd(fd);
    close(fd); /* winvmem keeps its own descriptor */
    expect_error(CreateFileMappingA(file, NULL, PAGE_READWRITE, 0, 4096, NULL),
                 ERROR_ACCESS_DENIED);
    expect_error(CreateFileMappingA(file, NULL, PAGE_EXECUTE_READWRITE, 0, 4096, NULL),
                 ERROR_ACCESS_DENIED);
    HANDLE h = CreateFileMappingA(file, NULL, PAGE_WRITECOPY, 0, 4096, NULL);
    cr_assert_not_null(h);
    expect_error(MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0), ERROR_ACCESS_DENIED);
    char *c = MapViewOfFile(h, FILE_MAP_COPY, 0, 0, 0);
    cr_assert_not_null(c);
    c[1] = 5; /* a private copy: the read-only file is never written */
    UnmapViewOfFile(c);
    CloseHandle(h);
    h = CreateFileMappingA(file, NULL, PAGE_READONLY, 0, 4096, NULL);
    cr_assert_not_null(h);
    CloseHandle(h);
    CloseHandle(file);
    expect_error(wvm_handle_from_fd(-1), ERROR_INVALID_HANDLE);
    expect_error(CreateFileMappingA(file, NULL, PAGE_READONLY, 0, 4096, NULL),
                 ERROR_INVALID_HANDLE);
}

Test(sections, empty_file)
{
    int fd = temp_file(0, O_RDWR);
    HANDLE file = wvm_handle_from_fd(fd);
    expect_error(CreateFileMappingA(file, NULL, PAGE_READWRITE, 0, 0, NULL), ERROR_FILE_INVALID);
    CloseHandle(file);
    close(fd);
}

Test(sections, writecopy_on_a_shared_view)
{
    HANDLE h = anon(PAGE_READWRITE, 2 * PAGE);
    char *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0),
         *q = MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
    p[0] = 'a';
    p[PAGE] = 'b';
    DWORD old;
    cr_assert(VirtualProtect(p, 2 * PAGE, PAGE_WRITECOPY, &old));
    cr_assert_eq(old, PAGE_READWRITE);
    expect_region(p, p, p, PAGE_READWRITE, 2 * PAGE, MEM_COMMIT, PAGE_WRITECOPY, MEM_MAPPED);
    p[0] = 'X'; /* copies the page: the section keeps 'a' */
    cr_assert_eq(q[0], 'a');
    cr_assert_eq(p[PAGE], 'b');
    expect_region(p, p, p, PAGE_READWRITE, PAGE, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED);
    expect_region(p + PAGE, p + PAGE, p, PAGE_READWRITE, PAGE, MEM_COMMIT, PAGE_WRITECOPY,
                  MEM_MAPPED);
    cr_assert(VirtualProtect(p, 2 * PAGE, PAGE_READWRITE, &old));
    cr_assert_eq(old, PAGE_READWRITE, "the written page is read-write now");
    p[PAGE] = 'Y'; /* never written while copy-on-write: shared again */
    cr_assert_eq(q[PAGE], 'Y');
    cr_assert_eq(p[0], 'X');
    cr_assert_eq(q[0], 'a');
    UnmapViewOfFile(p);
    UnmapViewOfFile(q);
    CloseHandle(h);
    cr_assert_eq(wvm_check_invariants(), 0);
}

Test(sections, from_app_views_are_never_executable)
{
    HANDLE h = anon(PAGE_EXECUTE_READWRITE, PAGE);
    expect_error(wvm_MapViewOfFileFromApp(h, FILE_MAP_READ | FILE_MAP_EXECUTE, 0, PAGE),
                 ERROR_INVALID_PARAMETER);
    expect_error(wvm_MapViewOfFile3FromApp(h, NULL, NULL, 0, PAGE, 0, PAGE_EXECUTE_READ, NULL, 0),
                 ERROR_INVALID_PARAMETER);
    char *p = wvm_MapViewOfFileFromApp(h, FILE_MAP_WRITE, 0, PAGE);
    cr_assert_not_null(p);
    DWORD old;
    expect_error(VirtualProtect(p, PAGE, PAGE_EXECUTE_READ, &old), ERROR_INVALID_PARAMETER);
    UnmapViewOfFile(p);
    CloseHandle(h);
}

/* The commit ledger across sections (winvmem's stats: committed_bytes, as Windows' commit
 * charge): a SEC_COMMIT section is charged when created, a shared view adds nothing, a
 * copy-on-write view is charged whole while it is mapped, a SEC_RESERVE section each page the
 * first time a view commits it; all of it comes back when the section dies. Past the limit:
 * ERROR_COMMITMENT_LIMIT (STATUS_COMMITMENT_LIMIT) and nothing changes. */
static wvm_stats stats(void)
{
    wvm_stats s = {.version = WVM_STATS_VERSION, .size = sizeof s};
    cr_assert_eq(wvm_stats_get(&s), 0);
    return s;
}

static uint64_t charged_since(uint64_t c0)
{
    return stats().committed_bytes - c0;
}

Test(sections, commit_ledger)
{
    uint64_t c0 = stats().committed_bytes;
    HANDLE sc = anon(PAGE_READWRITE, 0x30000);
    cr_assert_eq(charged_since(c0), 0x30000, "SEC_COMMIT: charged when created");
    char *v = MapViewOfFile(sc, FILE_MAP_WRITE, 0, 0, 0);
    cr_assert_eq(charged_since(c0), 0x30000, "a shared view adds nothing");
    char *cv = MapViewOfFile(sc, FILE_MAP_COPY, 0, 0x10000, 0);
    cr_assert(v && cv);
    cr_assert_eq(charged_since(c0), 0x50000, "a copy-on-write view: charged whole");
    cr_assert(UnmapViewOfFile(cv));
    cr_assert_eq(charged_since(c0), 0x30000);
    HANDLE sr = anon(PAGE_READWRITE | SEC_RESERVE, MAPPING_SIZE);
    char *r1 = MapViewOfFile(sr, FILE_MAP_WRITE, 0, 0, 0);
    char *r2 = MapViewOfFile(sr, FILE_MAP_WRITE, 0, 0, 0);
    cr_assert(r1 && r2);
    cr_assert_eq(charged_since(c0), 0x30000, "SEC_RESERVE: nothing until a view commits");
    cr_assert_eq(VirtualAlloc(r1 + 0x3000, 0x2000, MEM_COMMIT, PAGE_READWRITE), r1 + 0x3000);
    cr_assert_eq(charged_since(c0), 0x32000);
    cr_assert_eq(VirtualAlloc(r2, 0x6000, MEM_COMMIT, PAGE_READONLY), r2);
    cr_assert_eq(charged_since(c0), 0x36000, "pages the section had already are not charged");
    cr_assert(UnmapViewOfFile(r1));
    cr_assert(UnmapViewOfFile(r2));
    cr_assert_eq(charged_since(c0), 0x36000, "the handle keeps the section's commit");
    cr_assert(CloseHandle(sr));
    cr_assert_eq(charged_since(c0), 0x30000);
    cr_assert(UnmapViewOfFile(v));
    cr_assert(CloseHandle(sc));
    cr_assert_eq(charged_since(c0), 0);

    /* past the commit limit */
    wvm_stats s = stats();
    uint64_t over = (s.commit_limit - s.committed_bytes + 0x200000) & ~(uint64_t)0xFFFF;
    SetLastError(0);
    cr_assert_null(CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                                      (DWORD)(over >> 32), (DWORD)over, NULL));
    cr_assert_eq(GetLastError(), ERROR_COMMITMENT_LIMIT);
    sr = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | SEC_RESERVE,
                            (DWORD)(over >> 32), (DWORD)over, NULL);
    cr_assert_not_null(sr, "SEC_RESERVE charges nothing: %u", GetLastError());
    r1 = MapViewOfFile(sr, FILE_MAP_WRITE, 0, 0, 0);
    cr_assert_not_null(r1, "%u", GetLastError());
    SetLastError(0);
    cr_assert_null(VirtualAlloc(r1, (SIZE_T)over, MEM_COMMIT, PAGE_READWRITE));
    cr_assert_eq(GetLastError(), ERROR_COMMITMENT_LIMIT);
    expect_region(r1, r1, r1, PAGE_READWRITE, (SIZE_T)over, MEM_RESERVE, 0, MEM_MAPPED);
    cr_assert_eq(charged_since(c0), 0, "a refused commit charges nothing");
    cr_assert_eq(stats().commit_refusals, s.commit_refusals + 2);
    cr_assert(UnmapViewOfFile(r1));
    cr_assert(CloseHandle(sr));
    cr_assert_eq(wvm_check_invariants(), 0);
}
