/* UDP across the processes of a world (docs/world.md, "UDP"): a datagram sent to an address bound
 * in another process crosses the owner's network at that instant, with the owner's datagram
 * faults applied once, and arrives with the sender's address. UDP_MEMBER_PROGRAM is
 * udp_member.c (an echo server or a pinger, plain libuv). */
#include <ah/ah.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void exit_fut_cb(uv_process_t *p, int64_t status, int signum)
{
    ah_future_fulfil(p->data, signum != 0 ? 1000 + signum : (intptr_t)status);
    uv_close((uv_handle_t *)p, NULL);
}

static ah_future *spawn_member(ah_sim *sim, uv_process_t *p, const char *mode, const char *port,
                               const char *n)
{
    char *args[] = {UDP_MEMBER_PROGRAM, (char *)mode, (char *)port, (char *)n, NULL};
    uv_process_options_t o;
    ah_future *exited = ah_future_new(sim);

    memset(&o, 0, sizeof(o));
    o.file = args[0];
    o.args = args;
    o.exit_cb = exit_fut_cb;
    p->data = exited;
    assert_int_equal(uv_spawn(uv_default_loop(), p, &o), 0);
    return exited;
}

/* ---- the owner pings a member ---- */

static struct {
    uv_udp_t sock;
    uv_timer_t timer;
    uv_udp_send_t req;
    char got[64], from[64];
    uint64_t at_ms;
    int port;
} own;

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    static char slab[256];
    (void)h;
    (void)size;
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void own_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr,
                     unsigned flags)
{
    char ip[32];
    (void)h;
    (void)flags;
    if (n <= 0 || addr == NULL)
        return;
    uv_ip4_name((const struct sockaddr_in *)addr, ip, sizeof(ip));
    snprintf(own.got, sizeof(own.got), "%.*s", (int)n, buf->base);
    snprintf(own.from, sizeof(own.from), "%s:%d", ip,
             ntohs(((const struct sockaddr_in *)addr)->sin_port));
    own.at_ms = ah_now_ms(ah_sim_current());
}

static void own_send(uv_timer_t *t)
{
    static char ping[] = "ping";
    struct sockaddr_in to;
    uv_buf_t b = uv_buf_init(ping, 4);

    (void)t;
    uv_ip4_addr("127.0.0.1", own.port, &to);
    assert_int_equal(uv_udp_send(&own.req, &own.sock, &b, 1, (const struct sockaddr *)&to, NULL),
                     0);
}

/* The owner's socket sends "ping" at +5 ms to `port`; returns the member's exit. */
static intptr_t owner_pings(ah_sim *sim, int port, const char *member_port)
{
    uv_process_t p;
    ah_future *exited = spawn_member(sim, &p, "echo", member_port, "1");
    struct sockaddr_in a;
    intptr_t st;

    memset(&own, 0, sizeof(own));
    own.port = port;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_udp_init(uv_default_loop(), &own.sock), 0);
    assert_int_equal(uv_udp_bind(&own.sock, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_udp_recv_start(&own.sock, alloc_cb, own_recv), 0);
    uv_timer_init(uv_default_loop(), &own.timer);
    uv_timer_start(&own.timer, own_send, 5, 0);
    st = ah_await_value(sim, exited);
    ah_run_for(sim, 10);
    uv_close((uv_handle_t *)&own.sock, NULL);
    uv_close((uv_handle_t *)&own.timer, NULL);
    ah_run_until_idle(sim);
    return st;
}

/* The ping crosses with the owner's latency (10 ms, once), the pong comes back at once, from the
 * member's address. */
static void owner_pings_a_member(void **state)
{
    ah_sim *sim = *state;

    ah_udp_latency(sim, "127.0.0.1:9100", 10, 10);
    assert_int_equal(owner_pings(sim, 9100, "9100"), 0);
    assert_string_equal(own.got, "pong:ping");
    assert_string_equal(own.from, "127.0.0.1:9100");
    assert_int_equal(own.at_ms, 15);
}

/* Its twin: a datagram to a port nobody in the world bound is lost, as on Linux; the member's
 * echo waits its second and gives up. */
static void a_port_nobody_bound_loses_the_datagram(void **state)
{
    ah_sim *sim = *state;

    assert_int_equal(owner_pings(sim, 9199, "9100"), 3);
    assert_string_equal(own.got, "");
    ah_assert_now_ms(sim, 1010);
}

/* The owner's loss fault applies to a datagram between the owner and a member. */
static void owner_loss_applies_across(void **state)
{
    ah_sim *sim = *state;

    ah_udp_drop_next(sim, "127.0.0.1:9100", 1);
    assert_int_equal(owner_pings(sim, 9100, "9100"), 3);
    assert_string_equal(own.got, "");
}

/* A partition between the owner and the member loses the datagram (ah_world_partition). */
static void partition_loses_datagrams(void **state)
{
    ah_sim *sim = *state;

    ah_world_partition(sim, "self", "world_udp_member");
    assert_int_equal(owner_pings(sim, 9100, "9100"), 3);
    assert_string_equal(own.got, "");
}

/* ---- two members ---- */

/* A pinger member and an echo member: the ping crosses the owner (its 10 ms latency to the echo's
 * port), the pong comes back from the echo's address; both exit 0 at +15 ms. */
static void member_pings_a_member(void **state)
{
    ah_sim *sim = *state;
    uv_process_t e, p;
    ah_future *echo, *ping;

    ah_udp_latency(sim, "127.0.0.1:9101", 10, 10);
    echo = spawn_member(sim, &e, "echo", "9101", "1");
    ping = spawn_member(sim, &p, "ping", "9101", NULL);
    assert_int_equal(ah_await_value(sim, ping), 0);
    ah_assert_now_ms(sim, 15);
    assert_int_equal(ah_await_value(sim, echo), 0);
    ah_run_until_idle(sim);
}

/* Its twin: the pinger's datagram to a port nobody bound is lost; it gives up at +505 ms. */
static void member_pings_nobody(void **state)
{
    ah_sim *sim = *state;
    uv_process_t e, p;
    ah_future *echo, *ping;

    echo = spawn_member(sim, &e, "echo", "9101", "1");
    ping = spawn_member(sim, &p, "ping", "9102", NULL);
    assert_int_equal(ah_await_value(sim, ping), 3);
    ah_assert_now_ms(sim, 505);
    assert_int_equal(ah_await_value(sim, echo), 3);
    ah_run_until_idle(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(owner_pings_a_member),
        ah_unit_test(a_port_nobody_bound_loses_the_datagram),
        ah_unit_test(owner_loss_applies_across),
        ah_unit_test(partition_loses_datagrams),
        ah_unit_test(member_pings_a_member),
        ah_unit_test(member_pings_nobody),
    };
    return ah_run_tests(tests);
}
