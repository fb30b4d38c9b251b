/* Runs fn in a child process with extra environment variables; returns what the child wrote
 * on stderr (malloc'd) and its exit status. Options are read once per process, so every
 * environment case needs a fresh one. */
#ifndef OBSERVE_CHILD_H
#define OBSERVE_CHILD_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static inline char *run_child(const char *const *env, int (*fn)(void), int *status)
{
    int fd[2];
    if (pipe(fd))
        abort();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        for (int i = 0; env && env[i]; i += 2)
            setenv(env[i], env[i + 1], 1);
        exit(fn()); /* exit(), not _exit(): the exit-time report must run */
    }
    close(fd[1]);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    while ((n = read(fd[0], buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = 0;
    close(fd[0]);
    if (waitpid(pid, status, 0) != pid)
        abort();
    *status = WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
    return buf;
}

static inline int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}
#endif
