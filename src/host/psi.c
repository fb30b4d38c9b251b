/* The system's memory-pressure source: a Linux PSI trigger (Documentation/accounting/psi.rst,
 * Linux >= 5.2) on our cgroup's memory.pressure (cgroup v2, below the root: a container's own
 * limit) or else on /proc/pressure/memory; and an eventfd to wake the notification thread.
 * These are the host's only system calls besides the wvm_ API. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "host_internal.h"

/* The memory.pressure file of our cgroup (v2), if we are in one below the root. */
static bool cgroup_pressure_path(char *buf, size_t len)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, "0::/", 4) != 0)
            continue;
        line[strcspn(line, "\n")] = 0;
        found = line[4] != 0 &&
                snprintf(buf, len, "/sys/fs/cgroup%s/memory.pressure", line + 3) < (int)len;
    }
    fclose(f);
    return found;
}

static int trigger(const char *path, uint32_t stall_us, uint32_t window_us, int *err)
{
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    char trig[64];
    int len = snprintf(trig, sizeof trig, "some %u %u", stall_us, window_us);
    /* The kernel wants the terminating NUL in the write (psi_write copies len bytes). */
    if (write(fd, trig, (size_t)len + 1) < 0) {
        *err = errno;
        close(fd);
        return -1;
    }
    *err = 0;
    return fd;
}

int wvm__psi_open(uint32_t stall_us, uint32_t window_us, bool *cgroup, int *err)
{
    char path[600];
    int fd = -1;
    *cgroup = cgroup_pressure_path(path, sizeof path) &&
              (fd = trigger(path, stall_us, window_us, err)) >= 0;
    if (fd < 0)
        fd = trigger("/proc/pressure/memory", stall_us, window_us, err);
    return fd;
}

int wvm__event_open(void)
{
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

void wvm__event_signal(int fd)
{
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof one); /* EAGAIN: the counter is saturated, fine */
    (void)r;
}

void wvm__event_drain(int fd)
{
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r;
}

int wvm__pressure_wait(int wake_fd, int psi_fd, uint32_t timeout_ms)
{
    struct pollfd p[2] = {{.fd = wake_fd, .events = POLLIN}, {.fd = psi_fd, .events = POLLPRI}};
    int n = poll(p, psi_fd >= 0 ? 2 : 1, (int)timeout_ms);
    if (n <= 0)
        return 0;
    int r = 0;
    if (p[0].revents & POLLIN) {
        wvm__event_drain(wake_fd);
        r |= 1;
    }
    if (psi_fd >= 0 && (p[1].revents & POLLPRI))
        r |= 2;
    return r;
}

void wvm__fd_close(int fd)
{
    if (fd >= 0)
        close(fd);
}
