/* A program that runs its test against a helper process as libuv's own runner does
 * (test/runner-unix.c; docs/world.md, "The owner's blocking waits"), with no loop of its own:
 *
 *   world_runner            the runner: starts `world_runner server PORT` and waits for its
 *                           readiness (a pipe named by RUNNER_FD, which the server closes once it
 *                           listens: a blocking read until EOF), then `world_runner client PORT`;
 *                           waits for the client in a thread (a blocking waitpid) while it
 *                           select()s on a pipe with a timeout, then kills the server with SIGTERM
 *                           and waits for it (a blocking waitpid).
 *   world_runner server P   an echo server on 127.0.0.1:P (plain libuv).
 *   world_runner client P   connects, sends PING, expects it back, exits 0.
 *
 * Both children are started with fork, dup2 and execve of the same binary, as libuv's runner
 * starts its helpers. Built with PLANTED_MUTE, the server never says it is ready: the runner's
 * read would wait forever, which is a deadlock report naming the server, never a hang. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

extern char **environ;
static const char *self;
static const char *port;

/* ---- the server and the client (plain libuv) ---- */

static uv_tcp_t server, peer, client;
static uv_connect_t creq;
static uv_write_t wreq;
static char rbuf[64];

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h;
    (void)n;
    *b = uv_buf_init(rbuf, sizeof(rbuf));
}

static void echo_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    static uv_write_t w;
    uv_buf_t out;

    if (n < 0) {
        uv_close((uv_handle_t *)s, NULL);
        return;
    }
    out = uv_buf_init(b->base, (unsigned)n);
    uv_write(&w, s, &out, 1, NULL);
}

static void on_connection(uv_stream_t *s, int status)
{
    if (status != 0)
        return;
    uv_tcp_init(uv_default_loop(), &peer);
    if (uv_accept(s, (uv_stream_t *)&peer) == 0)
        uv_read_start((uv_stream_t *)&peer, alloc_cb, echo_cb);
}

static int run_server(void)
{
    struct sockaddr_in a;
    const char *fd = getenv("RUNNER_FD");

    uv_ip4_addr("127.0.0.1", atoi(port), &a);
    uv_tcp_init(uv_default_loop(), &server);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&a, 0) != 0 ||
        uv_listen((uv_stream_t *)&server, 8, on_connection) != 0)
        return 2;
#ifndef PLANTED_MUTE
    if (fd != NULL) /* ready: the runner's read sees EOF */
        close(atoi(fd));
#else
    (void)fd; /* planted: it never says so */
#endif
    return uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}

static int client_ok;

static void client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n == 4 && memcmp(b->base, "PING", 4) == 0)
        client_ok = 1;
    uv_close((uv_handle_t *)s, NULL);
}

static void client_connected(uv_connect_t *req, int status)
{
    uv_buf_t b = uv_buf_init("PING", 4);

    if (status != 0) {
        fprintf(stderr, "client: connect: %s\n", uv_strerror(status));
        uv_close((uv_handle_t *)req->handle, NULL);
        return;
    }
    uv_write(&wreq, req->handle, &b, 1, NULL);
    uv_read_start(req->handle, alloc_cb, client_read);
}

static int run_client(void)
{
    struct sockaddr_in a;

    uv_ip4_addr("127.0.0.1", atoi(port), &a);
    uv_tcp_init(uv_default_loop(), &client);
    uv_tcp_connect(&creq, &client, (const struct sockaddr *)&a, client_connected);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    printf("client: %s\n", client_ok ? "echo received" : "no echo");
    return client_ok ? 0 : 1;
}

/* ---- the runner (no loop: the C library's calls only) ---- */

static pid_t start(const char *mode, int ready)
{
    char *args[] = {(char *)self, (char *)mode, (char *)port, NULL};
    int pfd[2] = {-1, -1};
    char num[16], c;
    FILE *out = tmpfile();
    ssize_t r;
    pid_t pid;

    if (ready) {
        if (pipe(pfd) != 0)
            return -1;
        snprintf(num, sizeof(num), "%d", pfd[1]);
        setenv("RUNNER_FD", num, 1);
    }
    pid = fork();
    if (pid == 0) {
        if (ready)
            close(pfd[0]);
        dup2(fileno(out), STDERR_FILENO); /* its diagnostics go to a file, as libuv's runner's */
        execve(self, args, environ);
        _exit(127);
    }
    if (!ready)
        return pid;
    close(pfd[1]);
    unsetenv("RUNNER_FD");
    do
        r = read(pfd[0], &c, 1); /* the runner waits for the helper's readiness: EOF */
    while (r < 0 && errno == EINTR);
    close(pfd[0]);
    return r == 0 ? pid : -1;
}

static int done_pipe[2];
static pid_t client_pid;
static int client_status;

static void *dowait(void *arg)
{
    (void)arg;
    waitpid(client_pid, &client_status, 0);
    while (write(done_pipe[1], "", 1) < 0 && errno == EINTR)
        ;
    return NULL;
}

static long ms_since(const struct timeval *t0)
{
    struct timeval t;
    gettimeofday(&t, NULL);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_usec - t0->tv_usec) / 1000;
}

static int run_runner(void)
{
    struct timeval t0, tv;
    pthread_t tid;
    pid_t srv;
    fd_set fds;
    int st = 0, r;
    long left;

    gettimeofday(&t0, NULL);
    if ((srv = start("server", 1)) < 0) {
        printf("runner: the server did not start\n");
        return 1;
    }
    printf("runner: server ready at +%ld ms\n", ms_since(&t0));
    client_pid = start("client", 0);
    if (pipe(done_pipe) != 0 || pthread_create(&tid, NULL, dowait, NULL) != 0)
        return 1;
    for (;;) { /* at most 5 s for the client */
        left = 5000 - ms_since(&t0);
        r = 0;
        if (left <= 0)
            break;
        tv.tv_sec = left / 1000;
        tv.tv_usec = left % 1000 * 1000;
        FD_ZERO(&fds);
        FD_SET(done_pipe[0], &fds);
        r = select(done_pipe[0] + 1, &fds, NULL, NULL, &tv);
        if (!(r < 0 && errno == EINTR))
            break;
    }
    if (r == 0) {
        printf("runner: the client timed out\n");
        kill(client_pid, SIGTERM);
    }
    pthread_join(tid, NULL);
    printf("runner: client exit %d at +%ld ms\n", WEXITSTATUS(client_status), ms_since(&t0));
    kill(srv, SIGTERM);
    waitpid(srv, &st, 0);
    printf("runner: server %s %d\n", WIFSIGNALED(st) ? "killed by signal" : "exit",
           WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    return WEXITSTATUS(client_status) == 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM ? 0 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    self = argv[0];
    port = argc > 2 ? argv[2] : "7433";
    if (argc > 1 && strcmp(argv[1], "server") == 0)
        return run_server();
    if (argc > 1 && strcmp(argv[1], "client") == 0)
        return run_client();
    if (argc > 1)
        port = argv[1];
    return run_runner();
}
