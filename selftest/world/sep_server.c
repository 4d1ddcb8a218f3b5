/* The server of two programs started separately in one world (docs/world.md, "Programs started
 * separately"; world_sep.sh): plain libuv. Listens on 127.0.0.1:PORT; answers "PING\n" with
 * "PONG\n" after 2 s; "QUIT\n" ends it. Prints what it sees with its loop's time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_loop_t *loop;
static uv_tcp_t server, conn;
static uv_timer_t later;
static uv_write_t wr;
static uint64_t t0;

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    static char b[256];
    (void)h;
    (void)size;
    *buf = uv_buf_init(b, sizeof(b));
}

static void pong(uv_timer_t *t)
{
    uv_buf_t b = uv_buf_init("PONG\n", 5);
    (void)t;
    uv_write(&wr, (uv_stream_t *)&conn, &b, 1, NULL);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)s;
    if (n < 0) {
        uv_close((uv_handle_t *)&conn, NULL);
        return;
    }
    if (n >= 5 && memcmp(buf->base, "PING\n", 5) == 0) {
        printf("server: PING at +%llu ms\n", (unsigned long long)(uv_now(loop) - t0));
        uv_timer_start(&later, pong, 2000, 0);
    } else if (n >= 5 && memcmp(buf->base, "QUIT\n", 5) == 0) {
        printf("server: QUIT at +%llu ms\n", (unsigned long long)(uv_now(loop) - t0));
        uv_close((uv_handle_t *)&conn, NULL);
        uv_close((uv_handle_t *)&server, NULL);
        uv_close((uv_handle_t *)&later, NULL);
    }
}

static void on_connection(uv_stream_t *s, int status)
{
    if (status < 0)
        return;
    uv_tcp_init(loop, &conn);
    if (uv_accept(s, (uv_stream_t *)&conn) == 0)
        uv_read_start((uv_stream_t *)&conn, alloc_cb, read_cb);
}

int main(int argc, char **argv)
{
    struct sockaddr_in a;

    setvbuf(stdout, NULL, _IONBF, 0);
    loop = uv_default_loop();
    t0 = uv_now(loop);
    uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 7431, &a);
    uv_tcp_init(loop, &server);
    uv_timer_init(loop, &later);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&a, 0) != 0 ||
        uv_listen((uv_stream_t *)&server, 8, on_connection) != 0) {
        fprintf(stderr, "server: cannot listen\n");
        return 2;
    }
    printf("server: listening at +%llu ms\n", (unsigned long long)(uv_now(loop) - t0));
    uv_run(loop, UV_RUN_DEFAULT);
    printf("server: done at +%llu ms\n", (unsigned long long)(uv_now(loop) - t0));
    uv_loop_close(loop);
    return 0;
}
