/* A member that speaks UDP (docs/world.md, "UDP"). Plain libuv:
 *   udp_member echo PORT N   binds 127.0.0.1:PORT, answers N datagrams with "pong:" and the
 *                            datagram to its source, then exits 0 (3: none came within 1 s)
 *   udp_member ping PORT     after 5 ms sends "ping" to 127.0.0.1:PORT from an ephemeral port and
 *                            waits 500 ms for "pong:ping" from that address: exits 0 (3: nothing
 *                            came, 4: a wrong answer or source)
 * Each prints what it received with the instant (uv_now). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_udp_t sock;
static uv_timer_t timer;
static uv_udp_send_t sreq;
static struct sockaddr_in peer;
static int mode_echo, pinged, left, result = 3, port;
static char reply[128];

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    static char slab[256];
    (void)h;
    (void)size;
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void done(int r)
{
    result = r;
    uv_udp_recv_stop(&sock);
    uv_close((uv_handle_t *)&sock, NULL);
    uv_close((uv_handle_t *)&timer, NULL);
}

static void sent_cb(uv_udp_send_t *req, int status)
{
    (void)req;
    if (status != 0)
        fprintf(stderr, "udp_member: send failed: %s\n", uv_strerror(status));
    if (mode_echo && left == 0)
        done(0);
}

static void recv_cb(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    char from[64] = "?";
    int from_port = 0;
    uv_buf_t out;

    (void)h;
    (void)flags;
    if (n <= 0 || addr == NULL)
        return;
    uv_ip4_name((const struct sockaddr_in *)addr, from, sizeof(from));
    from_port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
    printf("%s: %.*s from %s at +%llu ms\n", mode_echo ? "echo" : "ping", (int)n, buf->base,
           mode_echo ? "a client" : from, (unsigned long long)uv_now(uv_default_loop()));
    fflush(stdout);
    if (mode_echo) {
        if (left == 0)
            return;
        left--;
        snprintf(reply, sizeof(reply), "pong:%.*s", (int)n, buf->base);
        out = uv_buf_init(reply, (unsigned)strlen(reply));
        memcpy(&peer, addr, sizeof(peer));
        uv_udp_send(&sreq, &sock, &out, 1, (const struct sockaddr *)&peer, sent_cb);
        return;
    }
    done(n == 9 && memcmp(buf->base, "pong:ping", 9) == 0 && strcmp(from, "127.0.0.1") == 0 &&
                 from_port == port
             ? 0
             : 4);
}

static void timer_cb(uv_timer_t *t)
{
    uv_buf_t out;

    (void)t;
    if (mode_echo || pinged) {
        printf("%s: nothing came, at +%llu ms\n", mode_echo ? "echo" : "ping",
               (unsigned long long)uv_now(uv_default_loop()));
        done(3);
        return;
    }
    pinged = 1;
    strcpy(reply, "ping");
    out = uv_buf_init(reply, 4);
    uv_udp_send(&sreq, &sock, &out, 1, (const struct sockaddr *)&peer, sent_cb);
    uv_timer_start(&timer, timer_cb, 500, 0);
}

int main(int argc, char **argv)
{
    uv_loop_t *loop = uv_default_loop();
    struct sockaddr_in a;

    if (argc < 3)
        return 1;
    mode_echo = strcmp(argv[1], "echo") == 0;
    port = atoi(argv[2]);
    left = argc > 3 ? atoi(argv[3]) : 1;
    uv_udp_init(loop, &sock);
    uv_timer_init(loop, &timer);
    if (mode_echo) {
        uv_ip4_addr("127.0.0.1", port, &a);
        if (uv_udp_bind(&sock, (const struct sockaddr *)&a, 0) != 0)
            return 5;
        uv_timer_start(&timer, timer_cb, 1000, 0);
    } else {
        uv_ip4_addr("127.0.0.1", 0, &a);
        uv_udp_bind(&sock, (const struct sockaddr *)&a, 0);
        uv_ip4_addr("127.0.0.1", port, &peer);
        uv_timer_start(&timer, timer_cb, 5, 0);
    }
    uv_udp_recv_start(&sock, alloc_cb, recv_cb);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return result;
}
