/* The host thread's system calls (declared in src/hook/host_hook.h): a Linux PSI trigger
 * (Documentation/accounting/psi.rst, Linux >= 5.2) on our cgroup v2's memory.pressure or on
 * /proc/pressure/memory, an eventfd to wake the thread, and the thread's creation with every
 * signal blocked. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hook/host_hook.h"
#include "prim/linux/sysfiles.h"

static int trigger(const char *path, uint32_t stall_us, uint32_t window_us, int *fd)
{
    int f = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (f < 0)
        return errno;
    char trig[64];
    int len = snprintf(trig, sizeof trig, "some %u %u", stall_us, window_us);
    /* The kernel wants the terminating NUL in the write (psi_write copies len bytes). */
    if (write(f, trig, (size_t)len + 1) < 0) {
        int err = errno;
        close(f);
        return err;
    }
    *fd = f;
    return 0;
}

int wvm__prim_pressure_open(uint32_t stall_us, uint32_t window_us, int *fd, bool *cgroup)
{
    char path[PATH_MAX + 32];
    *fd = -1;
    *cgroup = false;
    size_t n = sizeof path - sizeof "/memory.pressure";
    if (!wvm__sysfiles_cgroup2_dir(path, n) && strlen(path) < n) {
        strcat(path, "/memory.pressure");
        if (!trigger(path, stall_us, window_us, fd)) {
            *cgroup = true;
            return 0;
        }
    }
    return trigger("/proc/pressure/memory", stall_us, window_us, fd);
}

int wvm__prim_event_open(int *fd)
{
    *fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return *fd < 0 ? errno : 0;
}

void wvm__prim_event_signal(int fd)
{
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof one); /* EAGAIN: the counter is saturated, fine */
    (void)r;
}

int wvm__prim_pressure_wait(int wake_fd, int psi_fd, uint32_t timeout_ms, unsigned *events)
{
    struct pollfd p[2] = {{.fd = wake_fd, .events = POLLIN}, {.fd = psi_fd, .events = POLLPRI}};
    *events = 0;
    int n = poll(p, psi_fd >= 0 ? 2 : 1, (int)timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : errno;
    if (p[0].revents & POLLIN) {
        uint64_t v;
        ssize_t r = read(wake_fd, &v, sizeof v);
        (void)r;
        *events |= WVM_PRESSURE_WOKEN;
    }
    /* A trigger whose cgroup was removed reports POLLERR (with POLLPRI) on every poll from then
     * on; a closed or replaced descriptor POLLNVAL or POLLHUP. None of these is pressure. */
    if (psi_fd >= 0 && (p[1].revents & (POLLERR | POLLHUP | POLLNVAL)))
        *events |= WVM_PRESSURE_LOST;
    else if (psi_fd >= 0 && (p[1].revents & POLLPRI))
        *events |= WVM_PRESSURE_EVENT;
    return 0;
}

void wvm__prim_fd_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

int wvm__prim_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the new thread inherits the mask */
    int err = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}
