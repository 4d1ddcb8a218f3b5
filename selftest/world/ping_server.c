/* The server of the world scenario (docs/world.md, issue 25): plain libuv. Listens on
 * 127.0.0.1:PORT; answers "PING\n" with "PONG\n" after 2 s, never answers "SLOW\n". SIGTERM ends
 * it (the default action). Built twice: on real libuv and linked with the harness; and once more
 * with a planted misuse (PLANTED_CLOSE_TWICE, world_bad_server). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_loop_t *loop;
static uv_tcp_t server, conn;
static uv_timer_t later;
static uv_write_t wr;
static char line[64];
static size_t line_len;

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
    ssize_t i;
    (void)s;
    if (n < 0) {
        uv_close((uv_handle_t *)&conn, NULL);
        return;
    }
    for (i = 0; i < n; i++) {
        if (buf->base[i] != '\n') {
            if (line_len < sizeof(line) - 1)
                line[line_len++] = buf->base[i];
            continue;
        }
        line[line_len] = '\0';
        line_len = 0;
        if (strcmp(line, "PING") == 0)
            uv_timer_start(&later, pong, 2000, 0);
        /* SLOW: never answered */
    }
}

static void on_connection(uv_stream_t *s, int status)
{
    if (status < 0)
        return;
    uv_tcp_init(loop, &conn);
    if (uv_accept(s, (uv_stream_t *)&conn) == 0)
        uv_read_start((uv_stream_t *)&conn, alloc_cb, read_cb);
#ifdef PLANTED_CLOSE_TWICE
    /* planted misuse (world_bad_server): the harness fails the member, and so the world */
    uv_close((uv_handle_t *)&conn, NULL);
    uv_close((uv_handle_t *)&conn, NULL);
#endif
}

int main(int argc, char **argv)
{
    struct sockaddr_in a;

    loop = uv_default_loop();
    uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 7411, &a);
    uv_tcp_init(loop, &server);
    uv_timer_init(loop, &later);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&a, 0) != 0 ||
        uv_listen((uv_stream_t *)&server, 8, on_connection) != 0) {
        fprintf(stderr, "server: cannot listen\n");
        return 2;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
