/* The client of two programs started separately in one world (world_sep.sh): plain libuv.
 * Connects to 127.0.0.1:PORT, retrying every 50 ms; sends "PING\n", and after the "PONG\n"
 * "QUIT\n"; exits 0 (3 with SEP_CLIENT_EXIT3, to see ah-world report a member's status). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_loop_t *loop;
static uv_tcp_t tcp;
static uv_connect_t req;
static uv_timer_t retry;
static uv_write_t wr;
static struct sockaddr_in addr;
static uint64_t t0, t_conn;
static int attempts;

static void try_connect(uv_timer_t *t);

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    static char b[256];
    (void)h;
    (void)size;
    *buf = uv_buf_init(b, sizeof(b));
}

static void quit_cb(uv_write_t *w, int status)
{
    (void)w;
    (void)status;
    uv_close((uv_handle_t *)&tcp, NULL);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)s;
    if (n >= 5 && memcmp(buf->base, "PONG\n", 5) == 0) {
        uv_buf_t b = uv_buf_init("QUIT\n", 5);
        uint64_t now = uv_now(loop) - t0;
        printf("client: PONG at +%llu ms (%llu ms after the connection)\n", (unsigned long long)now,
               (unsigned long long)(now - t_conn));
        uv_write(&wr, (uv_stream_t *)&tcp, &b, 1, quit_cb);
    } else if (n < 0 && !uv_is_closing((uv_handle_t *)&tcp)) {
        uv_close((uv_handle_t *)&tcp, NULL);
    }
}

static void on_close_retry(uv_handle_t *h)
{
    (void)h;
    uv_timer_start(&retry, try_connect, 50, 0);
}

static void connect_cb(uv_connect_t *r, int status)
{
    static uv_write_t w;
    uv_buf_t b = uv_buf_init("PING\n", 5);
    (void)r;
    if (status < 0) {
        uv_close((uv_handle_t *)&tcp, on_close_retry);
        return;
    }
    t_conn = uv_now(loop) - t0;
    printf("client: connected at +%llu ms after %d attempt(s)\n", (unsigned long long)t_conn,
           attempts);
    uv_read_start((uv_stream_t *)&tcp, alloc_cb, read_cb);
    uv_write(&w, (uv_stream_t *)&tcp, &b, 1, NULL);
}

static void try_connect(uv_timer_t *t)
{
    (void)t;
    attempts++;
    uv_tcp_init(loop, &tcp);
    uv_tcp_connect(&req, &tcp, (const struct sockaddr *)&addr, connect_cb);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    loop = uv_default_loop();
    t0 = uv_now(loop);
    uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 7431, &addr);
    uv_timer_init(loop, &retry);
    try_connect(NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&retry, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    printf("client: done at +%llu ms\n", (unsigned long long)(uv_now(loop) - t0));
    uv_loop_close(loop);
#ifdef SEP_CLIENT_EXIT3
    return 3;
#else
    return 0;
#endif
}
