/* Section objects (section.h): creation over a memfd, a file or a named file of the per-user
 * directory, names shared between processes, and the SEC_RESERVE commit bits. */
#include <errno.h>
#include <string.h>

#include <winvmem/vm.h>

#include "core/ebr.h"
#include "core/fork.h"
#include "core/credit.h"
#include "core/ledger.h"
#include "core/meta.h"
#include "core/section.h"
#include "core/space.h"
#include "prim/linux/prim.h"

#define HDR_MAGIC   0x3154434553564d57ull /* "WVMSECT1" */
#define HDR_VERSION 2u
#define HDR_NAME_AT 64u
#define HDR_SLOTS   32u
#define HDR_PATH    4096u /* a longer path is not kept: holders' descriptors only */

/* The header of a named section's file; the section's pages start at data_off. A file-backed
 * one (attrs has SEC_FILE) has no pages: its header is a record (struct wvm_frec at bits_off)
 * of where the file is, and data_off is the record's length. */
typedef struct hdr {
    uint64_t magic;
    uint32_t version, prot, attrs, name_len;
    uint64_t size, data_off, bits_off;
} hdr;

/* Processes holding the file: pid << 32 | descriptor, 0 free. A holder takes a slot when it
 * opens the section and gives it back when its section object goes (last handle and view); a
 * slot of a process that died is taken over by the next one that finds it dead. A stale slot
 * (a pid reused) leads to some other file and is refused by the identity check. */
typedef struct wvm_frec {
    uint64_t dev, ino;
    uint32_t path_len, reserved;
    _Atomic uint64_t slots[HDR_SLOTS];
    char path[]; /* path_len bytes and a NUL */
} frec;

static pthread_mutex_t registry = PTHREAD_MUTEX_INITIALIZER; /* named sections, handles */
static wvm_section *named_head;
static _Atomic uint64_t charged_total, live_total;

/* The registry's holder takes no lock of another module (it makes system calls); the commit
 * lock's holder takes allocation locks; the view lists' lock is taken under them. */
pthread_mutex_t wvm__section_commit_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t wvm__section_views_lock = PTHREAD_MUTEX_INITIALIZER;

static void claim_slot(wvm_section *s);
static int name_fd(const wvm_section *s);

/* The child of a fork holds the parent's names too, as a process of its own: its own open file
 * description of each name's file with its own shared flock (a flock belongs to the
 * description, which the fork shares with the parent: the parent's last close would find the
 * name free and remove it under the child), and a holder's slot of its own for a file-backed
 * one. The description is made and locked before the fork, so that the parent, running on at
 * once, can never close first; the parent then closes its copy, the child puts its own in
 * place of the shared one. Without a descriptor (or a lock granted at once: a last holder is
 * removing the name) the child shares the parent's, as before. Registry lock held. */
static void fork_names(enum wvm_fork_phase phase)
{
    for (wvm_section *s = named_head; s; s = s->next_named) {
        if (!s->header)
            continue;
        if (phase == WVM_FORK_PREPARE) {
            int f = -1;
            if (!wvm__prim_fd_reopen(name_fd(s), &f) && wvm__prim_flock(f, false, false)) {
                wvm__prim_fd_close(f);
                f = -1;
            }
            s->fork_fd = f;
            continue;
        }
        if (s->fork_fd >= 0 && phase == WVM_FORK_PARENT)
            wvm__prim_fd_close(s->fork_fd);
        else if (s->fork_fd >= 0)
            wvm__prim_fd_move(s->fork_fd, name_fd(s));
        s->fork_fd = -1;
        if (phase == WVM_FORK_CHILD && s->at)
            claim_slot(s);
    }
}

__attribute__((constructor)) static void register_fork(void)
{
    wvm__fork_register_lock(WVM_FORK_RANK_SECTIONS, &registry);
    wvm__fork_register(WVM_FORK_RANK_SECTIONS, fork_names); /* runs with the registry held */
    wvm__fork_register_lock(WVM_FORK_RANK_SECTION_COMMIT, &wvm__section_commit_lock);
    wvm__fork_register_lock(WVM_FORK_RANK_SECTION_VIEWS, &wvm__section_views_lock);
}

static uint32_t from_errno(int err)
{
    switch (err) {
    case 0:
        return 0;
    case EACCES:
    case EPERM:
        return WVM_ERROR_ACCESS_DENIED;
    case ENOSPC:
        return WVM_ERROR_DISK_FULL;
    default:
        return wvm__err_from_errno(err);
    }
}

uint32_t wvm__prot_rights(uint32_t prot)
{
    switch (prot & 0xFFu) {
    case WVM_PAGE_READONLY:
    case WVM_PAGE_WRITECOPY:
        return WVM_SECTION_MAP_READ;
    case WVM_PAGE_READWRITE:
        return WVM_SECTION_MAP_READ | WVM_SECTION_MAP_WRITE;
    case WVM_PAGE_EXECUTE:
    case WVM_PAGE_EXECUTE_READ:
    case WVM_PAGE_EXECUTE_WRITECOPY:
        return WVM_SECTION_MAP_READ | WVM_SECTION_MAP_EXECUTE;
    case WVM_PAGE_EXECUTE_READWRITE:
        return WVM_SECTION_MAP_READ | WVM_SECTION_MAP_WRITE | WVM_SECTION_MAP_EXECUTE;
    default:
        return 0;
    }
}

/* ---- files ---------------------------------------------------------------------------------- */

static void file_destroy(wvm_object *o)
{
    wvm_file *f = (wvm_file *)o;
    wvm__prim_fd_close(f->fd);
    wvm__meta_free(f, sizeof *f);
}

uint32_t wvm__file_new(int fd, wvm_file **out)
{
    wvm_fdinfo info;
    int err = wvm__prim_fd_info(fd, &info);
    if (err || !info.regular)
        return WVM_ERROR_INVALID_HANDLE;
    wvm_file *f = wvm__meta_zalloc(sizeof *f);
    if (!f)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    if ((err = wvm__prim_fd_dup(fd, &f->fd))) {
        wvm__meta_free(f, sizeof *f);
        return from_errno(err);
    }
    atomic_init(&f->obj.refs, 1);
    f->obj.kind = WVM_OBJ_FILE;
    f->obj.destroy = file_destroy;
    f->info = info;
    *out = f;
    return 0;
}

/* ---- sections ------------------------------------------------------------------------------- */

static uint64_t page_round(uint64_t n)
{
    return (n + WVM_PAGE - 1) & ~(uint64_t)(WVM_PAGE - 1);
}

/* An unnamed SEC_RESERVE section's commit bits (a named one keeps them in its file). */
static size_t bits_bytes(uint64_t size)
{
    return (size / WVM_PAGE + 63) / 64 * sizeof(uint64_t);
}

static uint64_t slot_value(const wvm_section *s)
{
    return (uint64_t)wvm__prim_pid() << 32 | (uint32_t)s->fd;
}

/* Takes a free slot, or one of a dead process, for this process's descriptor of the file. */
static void claim_slot(wvm_section *s)
{
    uint64_t me = slot_value(s);
    for (unsigned i = 0; i < HDR_SLOTS; i++) {
        uint64_t v = atomic_load(&s->at->slots[i]);
        if ((!v || !wvm__prim_pid_alive((long)(v >> 32))) &&
            atomic_compare_exchange_strong(&s->at->slots[i], &v, me))
            return;
    }
}

static void release_slot(wvm_section *s)
{
    uint64_t me = slot_value(s); /* a forked child finds its parent's slot not its own */
    for (unsigned i = 0; i < HDR_SLOTS; i++) {
        uint64_t v = me;
        if (atomic_compare_exchange_strong(&s->at->slots[i], &v, 0))
            return;
    }
}

static void section_destroy(wvm_object *o)
{
    wvm_section *s = (wvm_section *)o;
    if (s->charged) {
        wvm__ledger_uncharge(s->charged);
        atomic_fetch_sub(&charged_total, s->charged);
    }
    if (s->credit) {
        wvm__credit_give(s->credit, s->credit_bytes);
        wvm__credit_unref(s->credit);
    }
    if (s->at)
        release_slot(s);
    if (s->header && s->bits) /* VirtualQuery may be reading the bits (core/xview.h) */
        wvm__ebr_retire_unmap(s->header, s->header_len);
    else if (s->header)
        wvm__prim_unmap(s->header, s->header_len);
    else if (s->bits)
        wvm__meta_free((void *)s->bits, bits_bytes(s->size));
    wvm__prim_fd_close(s->fd);
    wvm__prim_fd_close(s->rec_fd);
    wvm__secname_free(&s->name);
    atomic_fetch_sub(&live_total, 1);
    wvm__meta_free(s, sizeof *s);
}

static void handle_closed(wvm_object *o);

static wvm_section *section_new(void)
{
    wvm_section *s = wvm__meta_zalloc(sizeof *s);
    if (!s)
        return NULL;
    atomic_init(&s->obj.refs, 1);
    s->obj.kind = WVM_OBJ_SECTION;
    s->obj.destroy = section_destroy;
    s->obj.handle_closed = handle_closed;
    s->handles = 1;
    s->fd = -1;
    s->rec_fd = -1;
    s->fork_fd = -1;
    atomic_fetch_add(&live_total, 1);
    return s;
}

static uint32_t charge(wvm_section *s, uint64_t bytes)
{
    uint32_t err = wvm__ledger_charge(bytes);
    if (!err) {
        s->charged += bytes;
        atomic_fetch_add(&charged_total, bytes);
    }
    return err;
}

static bool bits_needed(uint32_t attrs)
{
    return attrs & WVM_SEC_RESERVE;
}

/* A pagefile-backed section in a memfd. */
/* The largest pagefile-backed section: the user address space (128 TiB); larger is
 * STATUS_SECTION_TOO_BIG (ERROR_NOT_ENOUGH_MEMORY). */
#define MAX_SECTION ((uint64_t)1 << 47)

static uint32_t create_anon(uint64_t size, uint32_t prot, uint32_t sec, wvm_section **out)
{
    if (size > MAX_SECTION)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    wvm_section *s = section_new();
    if (!s)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    s->size = page_round(size);
    s->prot = prot;
    s->attrs = sec;
    uint32_t err = 0;
    if (bits_needed(sec) && !(s->bits = wvm__meta_zalloc(bits_bytes(s->size))))
        err = WVM_ERROR_NOT_ENOUGH_MEMORY;
    if (!err && !(sec & WVM_SEC_RESERVE))
        err = charge(s, s->size);
    if (!err)
        err = from_errno(wvm__prim_memfd_section(s->size, &s->fd));
    if (err) {
        section_destroy(&s->obj);
        return err;
    }
    *out = s;
    return 0;
}

static uint32_t create_file(wvm_file *f, uint64_t size, uint32_t prot, uint32_t sec,
                            wvm_section **out)
{
    uint32_t rights = wvm__prot_rights(prot);
    if (!f->info.readable || ((rights & WVM_SECTION_MAP_WRITE) && !f->info.writable) ||
        ((rights & WVM_SECTION_MAP_EXECUTE) && !f->info.executable))
        return WVM_ERROR_ACCESS_DENIED;
    wvm_fdinfo now;
    int e = wvm__prim_fd_info(f->fd, &now);
    if (e)
        return from_errno(e);
    if (!size && !now.size)
        return WVM_ERROR_FILE_INVALID; /* STATUS_MAPPED_FILE_SIZE_ZERO */
    if (!size)
        size = now.size;
    if (size > now.size && !(rights & WVM_SECTION_MAP_WRITE))
        return WVM_ERROR_NOT_ENOUGH_MEMORY; /* STATUS_SECTION_TOO_BIG */
    wvm_section *s = section_new();
    if (!s)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    s->size = size;
    s->prot = prot;
    s->attrs = WVM_SEC_FILE | (sec & (WVM_SEC_NOCACHE | WVM_SEC_WRITECOMBINE));
    s->file = true;
    uint32_t err = from_errno(wvm__prim_fd_dup(f->fd, &s->fd));
    if (!err && size > now.size) /* a writable section extends its file, as on Windows */
        err = from_errno(wvm__prim_fd_grow(s->fd, size));
    if (err) {
        section_destroy(&s->obj);
        return err;
    }
    *out = s;
    return 0;
}

/* ---- named sections ----------------------------------------------------------------------- */

/* The header's length for a section of attrs (SEC_FILE: a record with a path of path_len
 * bytes; SEC_RESERVE: commit bits); *ext_off receives where the record or the bits start. */
static size_t header_bytes(uint32_t name_len, uint64_t size, uint32_t attrs, uint32_t path_len,
                           uint64_t *ext_off)
{
    uint64_t at = (HDR_NAME_AT + 2 * (uint64_t)name_len + 7) & ~(uint64_t)7;
    *ext_off = attrs & (WVM_SEC_FILE | WVM_SEC_RESERVE) ? at : 0;
    if (attrs & WVM_SEC_FILE)
        at += sizeof(frec) + path_len + 1;
    else if (bits_needed(attrs))
        at += (size / WVM_PAGE + 63) / 64 * 8;
    return (size_t)page_round(at);
}

/* The descriptor that holds a named section's header and its flock. */
static int name_fd(const wvm_section *s)
{
    return s->rec_fd >= 0 ? s->rec_fd : s->fd;
}

/* Maps the header of s's named file, len bytes (at least one page), and points s at it. */
static int map_header(wvm_section *s, size_t len)
{
    void *p;
    int err = wvm__prim_map_fd_any(len, name_fd(s), 0, &p);
    if (!err) {
        s->header = p;
        s->header_len = len;
    }
    return err;
}

/* A new named section: an unnamed file is prepared whole (header, size, our shared lock) and
 * only then given its name, so that nobody ever opens a half-made one. EEXIST: the name
 * appeared meanwhile. */
static int create_named(int dir, const wvm_secname *name, uint64_t size, uint32_t prot,
                        uint32_t sec, wvm_section **out)
{
    wvm_section *s = size <= MAX_SECTION ? section_new() : NULL;
    if (!s)
        return ENOMEM;
    s->size = page_round(size);
    s->prot = prot;
    s->attrs = sec;
    uint64_t bits_off;
    size_t hlen = header_bytes(name->len, s->size, sec, 0, &bits_off);
    int err = 0;
    if (s->size + hlen < s->size)
        err = ENOMEM;
    if (!err && !(sec & WVM_SEC_RESERVE) && charge(s, s->size))
        err = ENOSPC; /* reported as the commit limit below */
    if (!err)
        err = wvm__prim_shm_tmp(dir, hlen + s->size, &s->fd);
    if (!err)
        err = map_header(s, hlen);
    if (!err) {
        hdr *h = s->header;
        *h = (hdr){HDR_MAGIC, HDR_VERSION, prot, sec, name->len, s->size, hlen, bits_off};
        memcpy((char *)s->header + HDR_NAME_AT, name->units, name->len * sizeof *name->units);
        s->data_off = hlen;
        if (bits_off)
            s->bits = (_Atomic uint64_t *)((char *)s->header + bits_off);
        err = wvm__prim_flock(s->fd, false, true);
    }
    if (!err)
        err = wvm__prim_shm_link(dir, s->fd, name->file);
    if (err) {
        section_destroy(&s->obj);
        return err;
    }
    *out = s;
    return 0;
}

/* Gives s, a section over the caller's file (create_file), a name: a record of where the file is
 * (header, our slot, our shared lock) made whole as an unnamed file and only then linked, as
 * create_named does. EEXIST: the name appeared meanwhile. */
static int name_file(int dir, const wvm_secname *name, wvm_section *s)
{
    wvm_fdinfo info;
    char *path = wvm__meta_alloc(HDR_PATH);
    int err = path ? wvm__prim_fd_info(s->fd, &info) : ENOMEM;
    uint32_t plen = 0;
    if (!err && !wvm__prim_fd_path(s->fd, path, HDR_PATH)) /* else holders' descriptors only */
        plen = (uint32_t)strlen(path);
    uint64_t at;
    size_t hlen = header_bytes(name->len, s->size, s->attrs, plen, &at);
    if (!err)
        err = wvm__prim_shm_tmp(dir, hlen, &s->rec_fd);
    if (!err)
        err = map_header(s, hlen);
    if (!err) {
        hdr *h = s->header;
        *h = (hdr){HDR_MAGIC, HDR_VERSION, s->prot, s->attrs, name->len, s->size, hlen, at};
        memcpy((char *)s->header + HDR_NAME_AT, name->units, name->len * sizeof *name->units);
        s->at = (frec *)((char *)s->header + at);
        s->at->dev = info.dev;
        s->at->ino = info.ino;
        s->at->path_len = plen;
        memcpy(s->at->path, path, plen);
        s->at->path[plen] = 0;
        atomic_store(&s->at->slots[0], slot_value(s));
        err = wvm__prim_flock(s->rec_fd, false, true);
    }
    if (!err)
        err = wvm__prim_shm_link(dir, s->rec_fd, name->file);
    if (path)
        wvm__meta_free(path, HDR_PATH);
    return err;
}

/* Errors on the way to a holder's file that only rule that way out. */
static bool way_closed(int err)
{
    return err == ENOENT || err == EACCES || err == EPERM || err == ENXIO || err == ELOOP ||
           err == ENOTDIR || err == ESRCH || err == ENAMETOOLONG;
}

/* Opens the file of a named file-backed section as its record says: through a holder's
 * descriptor, then through the path; read-write when the section's protection writes,
 * executable when it executes. Only the same regular file (dev, ino) is accepted. EACCES when
 * no way leads to it under this process's permissions. plen: the path's length, checked. */
static int reopen_file(wvm_section *s, uint32_t plen)
{
    uint32_t rights = wvm__prot_rights(s->prot);
    bool write = rights & WVM_SECTION_MAP_WRITE, exec = rights & WVM_SECTION_MAP_EXECUTE;
    for (unsigned i = 0; i <= HDR_SLOTS; i++) {
        int fd, err;
        if (i < HDR_SLOTS) {
            uint64_t v = atomic_load(&s->at->slots[i]);
            if (!v)
                continue;
            err = wvm__prim_open_held((long)(v >> 32), (int)(uint32_t)v, write, s->at->dev,
                                      s->at->ino, &fd);
        } else {
            if (!plen)
                break;
            /* a private copy: another process may write the record meanwhile */
            char *path = wvm__meta_alloc(HDR_PATH);
            if (!path)
                return ENOMEM;
            memcpy(path, s->at->path, plen);
            path[plen] = 0;
            err = wvm__prim_open_path(path, write, s->at->dev, s->at->ino, &fd);
            wvm__meta_free(path, HDR_PATH);
        }
        if (err && !way_closed(err))
            return err;
        if (err)
            continue;
        wvm_fdinfo info;
        if (!(err = wvm__prim_fd_info(fd, &info)) && info.regular && info.dev == s->at->dev &&
            info.ino == s->at->ino && (!exec || info.executable)) {
            s->fd = fd;
            return 0;
        }
        wvm__prim_fd_close(fd);
        if (err && !way_closed(err))
            return err;
    }
    return EACCES;
}

/* The record of a named file-backed section (header mapped, h checked against the record's
 * length): the path fits in the record (read once: the record is shared, so checked before
 * anything is read at its end) and is terminated where it says, then the file is reopened. */
static int adopt_file(wvm_section *s, const hdr *h)
{
    s->at = (frec *)((char *)s->header + h->bits_off);
    uint64_t at;
    uint32_t plen = *(volatile uint32_t *)&s->at->path_len;
    if (plen >= HDR_PATH ||
        h->data_off != header_bytes(h->name_len, h->size, h->attrs, plen, &at) || s->at->path[plen])
        return EINVAL;
    int err = reopen_file(s, plen);
    if (!err)
        claim_slot(s);
    return err;
}

/* Checks an existing file's header against the name and the file's size; fills s. */
static int adopt_header(wvm_section *s, const wvm_secname *name)
{
    wvm_fdinfo info;
    int err = wvm__prim_fd_info(s->fd, &info);
    if (err)
        return err;
    if (info.size < WVM_PAGE || (err = map_header(s, WVM_PAGE)))
        return err ? err : EINVAL;
    hdr h = *(hdr *)s->header;
    uint64_t bits_off;
    bool file = h.attrs & WVM_SEC_FILE, bits = bits_needed(h.attrs);
    uint64_t hlen = header_bytes(h.name_len, h.size, h.attrs, 0, &bits_off);
    if (h.magic != HDR_MAGIC || h.version != HDR_VERSION || h.name_len != name->len || !h.size ||
        h.bits_off != bits_off || h.data_off + h.size < h.size)
        return EINVAL;
    if (file ? (bits || h.data_off < hlen || h.data_off > hlen + HDR_PATH || info.size < h.data_off)
             : (h.size % WVM_PAGE || h.data_off != hlen || info.size < h.data_off + h.size))
        return EINVAL;
    if (h.data_off > WVM_PAGE) {
        wvm__prim_unmap(s->header, s->header_len);
        s->header = NULL;
        if ((err = map_header(s, h.data_off)))
            return err;
    }
    if (!wvm__secname_equal(name, (uint16_t *)((char *)s->header + HDR_NAME_AT), h.name_len,
                            name->ns))
        return EEXIST; /* another name with the same hash: reported like a name in use */
    s->size = h.size;
    s->prot = h.prot;
    s->attrs = h.attrs;
    if (file) { /* the record's descriptor moves aside for the file's */
        s->rec_fd = s->fd;
        s->fd = -1;
        s->file = true;
        return adopt_file(s, &h);
    }
    s->data_off = h.data_off;
    s->bits = bits ? (_Atomic uint64_t *)((char *)s->header + bits_off) : NULL;
    return 0;
}

/* Opens the file of an existing named section with a shared lock held. ENOENT: there is none
 * (an orphan left by a process that died is removed on the way). */
static int attach_named(int dir, const wvm_secname *name, wvm_section **out)
{
    for (int tries = 0; tries < 1000; tries++) {
        int fd, err = wvm__prim_shm_open(dir, name->file, &fd);
        if (err)
            return err;
        if (!wvm__prim_flock(fd, true, false)) {
            /* nobody holds it: its last holder died without closing */
            wvm__prim_shm_unlink(dir, name->file);
            wvm__prim_fd_close(fd);
            return ENOENT;
        }
        bool linked = false;
        if ((err = wvm__prim_flock(fd, false, true)) || (err = wvm__prim_fd_linked(fd, &linked))) {
            wvm__prim_fd_close(fd);
            return err;
        }
        if (!linked) { /* its last holder removed it while we waited */
            wvm__prim_fd_close(fd);
            continue;
        }
        wvm_section *s = section_new();
        if (!s) {
            wvm__prim_fd_close(fd);
            return ENOMEM;
        }
        s->fd = fd;
        if ((err = adopt_header(s, name))) {
            section_destroy(&s->obj);
            return err;
        }
        *out = s;
        return 0;
    }
    return EAGAIN;
}

/* Registry lock held. */
static wvm_section *find_named(const wvm_secname *name)
{
    for (wvm_section *s = named_head; s; s = s->next_named)
        if (wvm__secname_equal(name, s->name.units, s->name.len, s->name.ns))
            return s;
    return NULL;
}

/* Registry lock held: s takes a copy of name and joins the registry. */
static uint32_t register_named(wvm_section *s, const wvm_secname *name)
{
    s->name = *name;
    s->name.cap = name->len ? name->len : 1;
    s->name.units = wvm__meta_alloc(s->name.cap * sizeof *name->units);
    if (!s->name.units)
        return WVM_ERROR_NOT_ENOUGH_MEMORY;
    memcpy(s->name.units, name->units, name->len * sizeof *name->units);
    s->next_named = named_head;
    named_head = s;
    return 0;
}

static uint32_t named_error(int err)
{
    switch (err) {
    case ENOENT:
        return WVM_ERROR_FILE_NOT_FOUND;
    case EEXIST:
    case EINVAL:
        return WVM_ERROR_INVALID_HANDLE; /* the name is taken by something else */
    case ENOSPC:
        return WVM_ERROR_COMMITMENT_LIMIT;
    default:
        return from_errno(err);
    }
}

/* Gives the name up when this process closed its last handle: the last process out removes
 * the file (registry lock held). */
static void drop_name(wvm_section *s)
{
    wvm_section **p = &named_head;
    while (*p && *p != s)
        p = &(*p)->next_named;
    if (*p)
        *p = s->next_named;
    if (!s->header) /* not published (a failed create) */
        return;
    int dir;
    if (!wvm__prim_shm_dir(&dir) && !wvm__prim_flock(name_fd(s), true, false))
        wvm__prim_shm_unlink(dir, s->name.file);
    wvm__prim_funlock(name_fd(s));
}

static void handle_closed(wvm_object *o)
{
    wvm_section *s = (wvm_section *)o;
    pthread_mutex_lock(&registry);
    if (--s->handles == 0 && s->name.units)
        drop_name(s);
    pthread_mutex_unlock(&registry);
}

void wvm__section_handle_opened(wvm_section *s)
{
    pthread_mutex_lock(&registry);
    s->handles++;
    pthread_mutex_unlock(&registry);
}

/* Registry lock held: the named section, in this process or from another one. */
static uint32_t lookup_named(const wvm_secname *name, wvm_section **out)
{
    wvm_section *s = find_named(name);
    if (s) {
        wvm__object_ref(&s->obj);
        s->handles++;
        *out = s;
        return 0;
    }
    int dir, err = wvm__prim_shm_dir(&dir);
    if (!err)
        err = attach_named(dir, name, &s);
    if (err)
        return named_error(err);
    uint32_t e = register_named(s, name);
    if (e) {
        wvm__prim_funlock(name_fd(s));
        section_destroy(&s->obj);
        return e;
    }
    *out = s;
    return 0;
}

uint32_t wvm__section_create(wvm_file *file, uint64_t size, uint32_t prot, uint32_t sec,
                             const wvm_secname *name, wvm_section **out, bool *existed)
{
    *existed = false;
    if (!name->units)
        return file ? create_file(file, size, prot, sec, out) : create_anon(size, prot, sec, out);
    pthread_mutex_lock(&registry);
    uint32_t err = lookup_named(name, out);
    if (err == WVM_ERROR_FILE_NOT_FOUND) {
        wvm_section *s = NULL;
        int dir, e = wvm__prim_shm_dir(&dir);
        err = e ? named_error(e) : 0;
        for (int tries = 0; !err && tries < 1000; tries++) {
            if (file) { /* the file's checks first, as for an unnamed section */
                if ((err = create_file(file, size, prot, sec, &s)))
                    break;
                if ((e = name_file(dir, name, s))) {
                    section_destroy(&s->obj);
                    s = NULL;
                }
            } else {
                e = create_named(dir, name, size, prot, sec, &s);
            }
            if (e != EEXIST) {
                err = named_error(e);
                break;
            }
            if (!(err = lookup_named(name, out))) { /* made by someone else meanwhile */
                *existed = true;
                pthread_mutex_unlock(&registry);
                return 0;
            }
            if (err == WVM_ERROR_FILE_NOT_FOUND)
                err = 0; /* and gone again: try once more */
        }
        if (!err && s && (err = register_named(s, name))) {
            if (s->header)
                wvm__prim_funlock(name_fd(s));
            drop_name(s);
            section_destroy(&s->obj);
        }
        if (!err)
            *out = s;
    } else if (!err) {
        *existed = true;
    }
    pthread_mutex_unlock(&registry);
    return err;
}

uint32_t wvm__section_open(const wvm_secname *name, wvm_section **out)
{
    pthread_mutex_lock(&registry);
    uint32_t err = lookup_named(name, out);
    pthread_mutex_unlock(&registry);
    return err;
}

/* ---- SEC_RESERVE commits ------------------------------------------------------------------ */

/* The bits of word w that lie in [first, end). */
static uint64_t word_mask(uint64_t w, uint64_t first, uint64_t end)
{
    uint64_t lo = first > w * 64 ? first - w * 64 : 0, hi = end < w * 64 + 64 ? end - w * 64 : 64;
    uint64_t m = hi == 64 ? ~(uint64_t)0 : ((uint64_t)1 << hi) - 1;
    return m & ~(((uint64_t)1 << lo) - 1);
}

uint32_t wvm__section_charge(wvm_section *s, uint64_t first, uint64_t count, uint64_t *fresh)
{
    uint64_t n = 0, end = first + count;
    for (uint64_t w = first / 64; w * 64 < end; w++) {
        uint64_t m = word_mask(w, first, end);
        n += (uint64_t)__builtin_popcountll(m & ~atomic_load(&s->bits[w]));
    }
    uint32_t err = n ? charge(s, n * WVM_PAGE) : 0;
    *fresh = err ? 0 : n;
    return err;
}

void wvm__section_uncharge(wvm_section *s, uint64_t pages)
{
    if (!pages)
        return;
    wvm__ledger_uncharge(pages * WVM_PAGE);
    s->charged -= pages * WVM_PAGE;
    atomic_fetch_sub(&charged_total, pages * WVM_PAGE);
}

uint64_t wvm__section_mark(wvm_section *s, uint64_t first, uint64_t count, uint64_t fresh,
                           uint64_t *set)
{
    uint64_t n = 0, end = first + count;
    for (uint64_t w = first / 64; w * 64 < end; w++) {
        uint64_t m = word_mask(w, first, end);
        uint64_t old = atomic_fetch_or_explicit(&s->bits[w], m, memory_order_acq_rel);
        n += (uint64_t)__builtin_popcountll(m & ~old);
        if (set)
            set[w - first / 64] = m & ~old;
    }
    if (n < fresh) /* another process committed some of them first */
        wvm__section_uncharge(s, fresh - n);
    return n < fresh ? n : fresh;
}

void wvm__section_unmark(wvm_section *s, uint64_t first, uint64_t count, const uint64_t *set)
{
    uint64_t n = 0;
    for (uint64_t w = first / 64; w * 64 < first + count; w++) {
        uint64_t m = set[w - first / 64];
        atomic_fetch_and_explicit(&s->bits[w], ~m, memory_order_acq_rel);
        n += (uint64_t)__builtin_popcountll(m);
    }
    wvm__section_uncharge(s, n);
}

uint64_t wvm__section_charged(void)
{
    return atomic_load(&charged_total);
}

uint64_t wvm__section_live(void)
{
    return atomic_load(&live_total);
}
