#include <pthread.h>

#include "mbi.h"

static void *other_thread(void *arg)
{
    (void)arg;
    SetLastError(42);
    return (void *)(uintptr_t)GetLastError();
}

Test(lasterror, per_thread)
{
    SetLastError(7);
    pthread_t t;
    void *r;
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, &r);
    cr_expect_eq((uintptr_t)r, 42);
    cr_expect_eq(GetLastError(), 7);
}
