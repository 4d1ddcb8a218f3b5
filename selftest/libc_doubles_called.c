/* A program's own doubles of socket(2) and pthread_mutex_lock(3), which the harness also defines:
 * the program links unchanged, its doubles are the ones called (by the program and by the
 * harness's uv_mutex_lock, as by libuv's), and stderr names each once with what it replaces. */
#define _GNU_SOURCE 1 /* RTLD_NEXT */
#include <ah/ah.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

static int socket_calls, lock_calls;

int socket(int domain, int type, int protocol)
{
    int (*next)(int, int, int);

    socket_calls++;
    *(void **)&next = dlsym(RTLD_NEXT, "socket");
    return next(domain, type, protocol);
}

int pthread_mutex_lock(pthread_mutex_t *m)
{
    int (*next)(pthread_mutex_t *);

    lock_calls++;
    *(void **)&next = dlsym(RTLD_NEXT, "pthread_mutex_lock");
    return next(m);
}

int main(void)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    uv_mutex_t umu;
    int s = socket(AF_INET, SOCK_STREAM, 0);

    pthread_mutex_lock(&mu);
    pthread_mutex_unlock(&mu);
    uv_mutex_init(&umu);
    uv_mutex_lock(&umu); /* libuv's uv_mutex_lock calls pthread_mutex_lock: the double */
    uv_mutex_unlock(&umu);
    uv_mutex_destroy(&umu);
    printf("doubles called: socket=%d (fd %s) pthread_mutex_lock=%d\n", socket_calls,
           s >= 0 ? "ok" : "failed", lock_calls);
    if (s >= 0)
        close(s);
    return 0;
}
