/* The "magic" ring buffer of Microsoft's VirtualAlloc2 documentation: one section mapped twice,
 * back to back, into a placeholder, so that a record that runs past the buffer's end continues
 * at its start without any wrap-around code. Writes through the first mapping show in the
 * second at the same offset.
 *
 *   ring_buffer [records]    pushes and pops records of 1..100 bytes through a 64 KiB ring */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winvmem/win32.h>

typedef struct ring {
    char *base; /* 2 * size bytes: [0, size) and [size, 2 * size) are the same pages */
    SIZE_T size;
    SIZE_T head, tail; /* bytes written and read so far */
} ring;

static BOOL ring_open(ring *r, SIZE_T size)
{
    /* a placeholder of twice the size, split in two */
    char *ph = VirtualAlloc2(NULL, NULL, 2 * size, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                             PAGE_NOACCESS, NULL, 0);
    if (!ph)
        return FALSE;
    if (!VirtualFree(ph, size, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER))
        return FALSE;
    HANDLE section =
        CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, (DWORD)size, NULL);
    if (!section)
        return FALSE;
    /* each half replaced by a view of the same section */
    void *v1 = MapViewOfFile3(section, GetCurrentProcess(), ph, 0, size, MEM_REPLACE_PLACEHOLDER,
                              PAGE_READWRITE, NULL, 0);
    void *v2 = MapViewOfFile3(section, GetCurrentProcess(), ph + size, 0, size,
                              MEM_REPLACE_PLACEHOLDER, PAGE_READWRITE, NULL, 0);
    CloseHandle(section); /* the views keep the section alive */
    if (!v1 || !v2)
        return FALSE;
    *r = (ring){ph, size, 0, 0};
    return TRUE;
}

static void ring_close(ring *r)
{
    UnmapViewOfFile(r->base);
    UnmapViewOfFile(r->base + r->size);
}

/* A record is a length byte and the bytes; it may straddle the end: no special case. */
static BOOL push(ring *r, const char *data, unsigned char len)
{
    if (r->head - r->tail + 1 + len > r->size)
        return FALSE;
    char *at = r->base + r->head % r->size;
    at[0] = (char)len;
    memcpy(at + 1, data, len);
    r->head += 1 + (SIZE_T)len;
    return TRUE;
}

static int pop(ring *r, char *out)
{
    if (r->tail == r->head)
        return -1;
    const char *at = r->base + r->tail % r->size;
    unsigned char len = (unsigned char)at[0];
    memcpy(out, at + 1, len);
    r->tail += 1 + (SIZE_T)len;
    return len;
}

int main(int argc, char **argv)
{
    long records = argc > 1 ? atol(argv[1]) : 100000;
    ring r;
    if (!ring_open(&r, 0x10000)) {
        fprintf(stderr, "ring_open failed: %u\n", GetLastError());
        return 1;
    }
    /* The compiler cannot know that the two halves are the same pages: to it, a byte written
     * through one and read through the other are two objects, and it may read before it
     * writes (it did, at -O2). volatile keeps the order; the records below are read back at
     * the addresses they were written at, so they need nothing. */
    volatile char *v = r.base;
    v[5] = 'x';
    if (v[r.size + 5] != 'x') {
        fprintf(stderr, "the two halves are not the same pages\n");
        return 1;
    }
    char buf[128], got[128];
    unsigned long long sum_in = 0, sum_out = 0;
    long straddled = 0;
    for (long i = 0; i < records; i++) {
        unsigned char len = (unsigned char)(1 + i % 100);
        for (int k = 0; k < len; k++)
            buf[k] = (char)(i + k);
        if ((r.head % r.size) + 1 + len > r.size)
            straddled++;
        while (!push(&r, buf, len)) {
            int n = pop(&r, got);
            for (int k = 0; k < n; k++)
                sum_out += (unsigned char)got[k];
        }
        for (int k = 0; k < len; k++)
            sum_in += (unsigned char)buf[k];
    }
    for (int n; (n = pop(&r, got)) >= 0;)
        for (int k = 0; k < n; k++)
            sum_out += (unsigned char)got[k];
    ring_close(&r);
    printf("%ld records (%ld straddled the end), checksum %s\n", records, straddled,
           sum_in == sum_out ? "ok" : "MISMATCH");
    return sum_in != sum_out;
}
