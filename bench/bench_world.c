/* The cost of a cross-process step (docs/world.md), built twice: bench_world_real on libuv,
 * bench_world_sim on the harness.
 *
 *   bench_world N world|same
 *
 * A ping-pong of one byte over TCP, N round trips. `world`: the echo server is another process
 * (this program, spawned with `serve PORT`): on the harness it is a member of the client's
 * world, so each round trip is one turn of the member (the baton handed over and back through a
 * socketpair, the byte relayed through the owner). `same`: the echo server runs in the client's
 * own loop. Prints ns per round trip (wall time). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>
#ifdef AH_SITES_H
#include <ah/fd.h>
#define real_clock ah_real_clock_gettime /* the harness's clocks are virtual */
#else
#define real_clock clock_gettime
#endif

#ifdef BENCH_SIM
#define IMPL "harness"
#else
#define IMPL "real"
#endif

static uv_loop_t *loop;
static uv_tcp_t lst, srv_conn, cli;
static uv_connect_t creq;
static uv_timer_t retry;
static uv_process_t child;
static struct sockaddr_in addr;
static long rounds, left;
static int serving, spawned;

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    static char b[64];
    (void)h;
    (void)size;
    *buf = uv_buf_init(b, sizeof(b));
}

static void write_cb(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void send_byte(uv_stream_t *s)
{
    uv_write_t *w = malloc(sizeof(*w));
    uv_buf_t b = uv_buf_init("x", 1);
    uv_write(w, s, &b, 1, write_cb);
}

static void echo_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    if (n < 0) {
        uv_close((uv_handle_t *)s, NULL);
        if (serving)
            uv_close((uv_handle_t *)&lst, NULL);
        return;
    }
    while (n-- > 0)
        send_byte(s);
}

static void on_connection(uv_stream_t *s, int status)
{
    if (status < 0)
        return;
    uv_tcp_init(loop, &srv_conn);
    uv_accept(s, (uv_stream_t *)&srv_conn);
    uv_read_start((uv_stream_t *)&srv_conn, alloc_cb, echo_read);
}

static void exit_cb(uv_process_t *p, int64_t st, int sig)
{
    (void)st;
    (void)sig;
    uv_close((uv_handle_t *)p, NULL);
}

static void client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    if (n <= 0)
        return;
    if (--left > 0) {
        send_byte(s);
        return;
    }
    uv_close((uv_handle_t *)s, NULL);
    if (!spawned)
        uv_close((uv_handle_t *)&lst, NULL);
}

static void try_connect(uv_timer_t *t);

static void closed_retry(uv_handle_t *h)
{
    (void)h;
    uv_timer_start(&retry, try_connect, 1, 0);
}

static void connected(uv_connect_t *r, int status)
{
    (void)r;
    if (status < 0) {
        uv_close((uv_handle_t *)&cli, closed_retry);
        return;
    }
    uv_close((uv_handle_t *)&retry, NULL);
    uv_read_start((uv_stream_t *)&cli, alloc_cb, client_read);
    send_byte((uv_stream_t *)&cli);
}

static void try_connect(uv_timer_t *t)
{
    (void)t;
    uv_tcp_init(loop, &cli);
    uv_tcp_connect(&creq, &cli, (const struct sockaddr *)&addr, connected);
}

int main(int argc, char **argv)
{
    int port = 20000 + (int)(getpid() % 20000);
    char portstr[16];
    struct timespec w0, w1;

    loop = uv_default_loop();
    if (argc >= 3 && strcmp(argv[1], "serve") == 0) {
        serving = 1;
        uv_ip4_addr("127.0.0.1", atoi(argv[2]), &addr);
        uv_tcp_init(loop, &lst);
        uv_tcp_bind(&lst, (const struct sockaddr *)&addr, 0);
        uv_listen((uv_stream_t *)&lst, 8, on_connection);
        return uv_run(loop, UV_RUN_DEFAULT);
    }
    rounds = left = argc > 1 ? atol(argv[1]) : 10000;
    spawned = argc > 2 && strcmp(argv[2], "world") == 0;
    uv_ip4_addr("127.0.0.1", port, &addr);
    snprintf(portstr, sizeof(portstr), "%d", port);
    if (spawned) {
        char *args[] = {argv[0], "serve", portstr, NULL};
        uv_stdio_container_t io[3] = {{UV_IGNORE, {0}}, {UV_IGNORE, {0}}, {UV_INHERIT_FD, {0}}};
        uv_process_options_t o;
        io[2].data.fd = 2;
        memset(&o, 0, sizeof(o));
        o.file = "/proc/self/exe";
        o.args = args;
        o.exit_cb = exit_cb;
        o.stdio = io;
        o.stdio_count = 3;
        if (uv_spawn(loop, &child, &o) != 0)
            return 1;
    } else {
        uv_tcp_init(loop, &lst);
        uv_tcp_bind(&lst, (const struct sockaddr *)&addr, 0);
        uv_listen((uv_stream_t *)&lst, 8, on_connection);
    }
    uv_timer_init(loop, &retry);
    real_clock(CLOCK_MONOTONIC, &w0);
    try_connect(NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    real_clock(CLOCK_MONOTONIC, &w1);
    printf("impl=%s mode=%s rounds=%ld ns_per_round=%.0f\n", IMPL, spawned ? "world" : "same",
           rounds,
           ((double)(w1.tv_sec - w0.tv_sec) * 1e9 + (double)(w1.tv_nsec - w0.tv_nsec)) /
               (double)rounds);
    return 0;
}
