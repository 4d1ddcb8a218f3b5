/* What Linux reports for UDP sends over loopback, where the real kernel can show it (the faults
 * ah_udp_send_error and ah_udp_icmp_error model the rest): a datagram beyond 65507 bytes fails
 * with EMSGSIZE in uv_udp_try_send, in uv_udp_send's callback and in sendto(2), and one of 65507
 * goes; an unconnected socket sending to a loopback port where nothing is bound hears nothing of
 * the ICMP answer, while a connected one fails its next send with ECONNREFUSED, once. */
#include "trace.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

static uv_loop_t *loop;
static uv_udp_t loose, tied;
static uv_udp_send_t req;
static uv_timer_t timer;
static char big[65508];
static struct sockaddr_in dead;

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void on_sent(uv_udp_send_t *r, int status)
{
    (void)r;
    P("send_cb %s", rc_name(status));
}

static void on_timer(uv_timer_t *t)
{
    uv_buf_t b = uv_buf_init("x", 1);

    P("timer");
    V("unconnected try_send after the ICMP",
      uv_udp_try_send(&loose, &b, 1, (struct sockaddr *)&dead));
    V("connected try_send after the ICMP", uv_udp_try_send(&tied, &b, 1, NULL));
    V("connected try_send again", uv_udp_try_send(&tied, &b, 1, NULL));
    uv_close((uv_handle_t *)t, on_close);
    uv_close((uv_handle_t *)&loose, on_close);
    uv_close((uv_handle_t *)&tied, on_close);
}

int main(void)
{
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int len = sizeof(ss), fd;
    uv_udp_t probe;
    uv_buf_t huge = uv_buf_init(big, sizeof(big)), max = uv_buf_init(big, sizeof(big) - 1);
    uv_buf_t b = uv_buf_init("x", 1);
    ssize_t r;

    loop = uv_default_loop();
    loose.data = "loose";
    tied.data = "tied";
    timer.data = "timer";
    /* A loopback port where nothing is bound: bind one, note it, close it. */
    uv_udp_init(loop, &probe);
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_udp_bind(&probe, (const struct sockaddr *)&a, 0);
    uv_udp_getsockname(&probe, (struct sockaddr *)&ss, &len);
    dead = *(struct sockaddr_in *)&ss;
    uv_close((uv_handle_t *)&probe, NULL);
    uv_run(loop, UV_RUN_NOWAIT);

    uv_udp_init(loop, &loose);
    uv_udp_init(loop, &tied);
    V("try_send 65508 bytes", uv_udp_try_send(&loose, &huge, 1, (struct sockaddr *)&dead));
    V("try_send 65507 bytes", uv_udp_try_send(&loose, &max, 1, (struct sockaddr *)&dead));
    V("send 65508 bytes", uv_udp_send(&req, &loose, &huge, 1, (struct sockaddr *)&dead, on_sent));
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    errno = 0;
    r = sendto(fd, big, sizeof(big), 0, (struct sockaddr *)&dead, sizeof(dead));
    P("sendto 65508 bytes rc=%d errno=%s", (int)r, errno == EMSGSIZE ? "EMSGSIZE" : "other");
    r = sendto(fd, big, sizeof(big) - 1, 0, (struct sockaddr *)&dead, sizeof(dead));
    P("sendto 65507 bytes rc=%d", (int)r);
    close(fd);
    V("unconnected try_send", uv_udp_try_send(&loose, &b, 1, (struct sockaddr *)&dead));
    V("connect", uv_udp_connect(&tied, (struct sockaddr *)&dead));
    V("connected try_send", uv_udp_try_send(&tied, &b, 1, NULL));
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, on_timer, 20, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    V("loop close", uv_loop_close(loop));
    return 0;
}
