/* system() in a world (docs/world.md): a plain program that listens on 127.0.0.1:7432 in its own
 * loop (answers "PING\n" with "PONG\n" after 2 s), then runs `system(argv[1])` from main and
 * prints what it returned at which instant. A harness-linked command the shell starts joins the
 * world and the wait runs it (world_system.sh); another command runs for real. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <uv.h>

static uv_tcp_t server, conn;
static uv_timer_t later;
static uv_write_t wr;

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
    if (n < 0)
        uv_close((uv_handle_t *)&conn, NULL);
    else if (n >= 5 && memcmp(buf->base, "PING\n", 5) == 0)
        uv_timer_start(&later, pong, 2000, 0);
}

static void on_connection(uv_stream_t *s, int status)
{
    if (status < 0)
        return;
    uv_tcp_init(uv_default_loop(), &conn);
    if (uv_accept(s, (uv_stream_t *)&conn) == 0)
        uv_read_start((uv_stream_t *)&conn, alloc_cb, read_cb);
}

int main(int argc, char **argv)
{
    uv_loop_t *loop = uv_default_loop();
    uint64_t t0 = uv_now(loop);
    struct sockaddr_in a;
    int st;

    setvbuf(stdout, NULL, _IONBF, 0);
    uv_ip4_addr("127.0.0.1", 7432, &a);
    uv_tcp_init(loop, &server);
    uv_timer_init(loop, &later);
    uv_tcp_bind(&server, (const struct sockaddr *)&a, 0);
    uv_listen((uv_stream_t *)&server, 8, on_connection);
    st = system(argc > 1 ? argv[1] : "true");
    uv_update_time(loop);
    printf("owner: system returned exit %d at +%llu ms\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
           (unsigned long long)(uv_now(loop) - t0));
    uv_close((uv_handle_t *)&server, NULL);
    uv_close((uv_handle_t *)&later, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
