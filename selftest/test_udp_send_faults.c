/* UDP send faults (ah_udp_send_error, ah_udp_icmp_error): a send refused by the kernel fails at
 * once with its error in uv_udp_try_send, in uv_udp_send's callback and in sendto(2); an ICMP
 * error answering a datagram reaches only a connected socket, on its next operation, as Linux
 * reports it. Each fault is shown firing beside its twin: the same code on a path without it. */
#include <ah/ah.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uv_udp_t udp;
static int send_status = 1;

static void on_close(uv_handle_t *h) { (void)h; }

static void sent(uv_udp_send_t *req, int status)
{
    (void)req;
    send_status = status;
}

static struct sockaddr_in addr_of(const char *ip, int port)
{
    struct sockaddr_in a;
    uv_ip4_addr(ip, port, &a);
    return a;
}

static int try_send_to(const char *ip, int port)
{
    struct sockaddr_in a = addr_of(ip, port);
    uv_buf_t b = uv_buf_init((char *)"ping", 4);
    return uv_udp_try_send(&udp, &b, 1, (const struct sockaddr *)&a);
}

static void try_send_fails_with_the_error_for_its_address_only(void **state)
{
    ah_sim *sim = *state;

    ah_udp_send_error(sim, "10.0.0.9:9999", UV_ENETUNREACH, 0);
    ah_udp_send_error(sim, "10.0.0.7", UV_EHOSTUNREACH, 0);
    assert_int_equal(uv_udp_init(uv_default_loop(), &udp), 0);
    assert_int_equal(try_send_to("10.0.0.9", 9999), UV_ENETUNREACH);
    assert_int_equal(try_send_to("10.0.0.7", 1), UV_EHOSTUNREACH);
    assert_int_equal(try_send_to("10.0.0.9", 9998), 4); /* the twin: another address */
    assert_int_equal(ah_udp_get_stats(sim).sent, 1);
    ah_udp_clear(sim, "10.0.0.9:9999");
    assert_int_equal(try_send_to("10.0.0.9", 9999), 4);
    uv_close((uv_handle_t *)&udp, on_close);
    ah_run_until_idle(sim);
}

static void send_error_for_n_sends_then_clears(void **state)
{
    ah_sim *sim = *state;

    ah_udp_send_error(sim, "*", UV_ENOBUFS, 2);
    assert_int_equal(uv_udp_init(uv_default_loop(), &udp), 0);
    assert_int_equal(try_send_to("127.0.0.1", 9), UV_ENOBUFS);
    assert_int_equal(try_send_to("127.0.0.1", 9), UV_ENOBUFS);
    assert_int_equal(try_send_to("127.0.0.1", 9), 4);
    uv_close((uv_handle_t *)&udp, on_close);
    ah_run_until_idle(sim);
}

static void uv_udp_send_reports_the_error_in_its_callback(void **state)
{
    ah_sim *sim = *state;
    uv_udp_send_t req;
    struct sockaddr_in a = addr_of("10.0.0.5", 53);
    uv_buf_t b = uv_buf_init((char *)"big", 3);

    ah_udp_send_error(sim, "10.0.0.5:53", UV_EMSGSIZE, 1);
    assert_int_equal(uv_udp_init(uv_default_loop(), &udp), 0);
    send_status = 1;
    assert_int_equal(uv_udp_send(&req, &udp, &b, 1, (const struct sockaddr *)&a, sent), 0);
    ah_run_until_idle(sim);
    assert_int_equal(send_status, UV_EMSGSIZE);
    /* The twin: the fault was for one send; the next goes out. */
    assert_int_equal(uv_udp_send(&req, &udp, &b, 1, (const struct sockaddr *)&a, sent), 0);
    ah_run_until_idle(sim);
    assert_int_equal(send_status, 0);
    uv_close((uv_handle_t *)&udp, on_close);
    ah_run_until_idle(sim);
}

static void raw_sendto_fails_with_errno(void **state)
{
    ah_sim *sim = *state;
    struct sockaddr_in a = addr_of("10.0.0.5", 53), b = addr_of("10.0.0.6", 53);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    ah_udp_send_error(sim, "10.0.0.5", UV_EHOSTUNREACH, 0);
    assert_true(fd >= 0);
    errno = 0;
    assert_int_equal(sendto(fd, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, EHOSTUNREACH);
    assert_int_equal(sendto(fd, "x", 1, 0, (struct sockaddr *)&b, sizeof(b)), 1);
    close(fd);
}

/* ICMP host unreachable: a connected socket's next operation fails with it; an unconnected one
 * never hears of it. */
static void icmp_error_reaches_only_a_connected_socket(void **state)
{
    ah_sim *sim = *state;
    struct sockaddr_in mon = addr_of("10.0.0.8", 9999);
    uv_buf_t b = uv_buf_init((char *)"hb", 2);
    uv_udp_t other;

    ah_udp_icmp_error(sim, "10.0.0.8:9999", UV_EHOSTUNREACH);
    assert_int_equal(uv_udp_init(uv_default_loop(), &udp), 0);
    assert_int_equal(uv_udp_connect(&udp, (const struct sockaddr *)&mon), 0);
    assert_int_equal(uv_udp_try_send(&udp, &b, 1, NULL), 2);
    ah_advance(sim, 1); /* the ICMP answer arrives (nothing reads: the loop is not alive) */
    assert_int_equal(uv_udp_try_send(&udp, &b, 1, NULL), UV_EHOSTUNREACH);
    assert_int_equal(uv_udp_try_send(&udp, &b, 1, NULL), 2); /* reported once */
    /* The twin: the same sends from an unconnected socket all succeed. */
    assert_int_equal(uv_udp_init(uv_default_loop(), &other), 0);
    assert_int_equal(uv_udp_try_send(&other, &b, 1, (const struct sockaddr *)&mon), 2);
    ah_advance(sim, 1);
    assert_int_equal(uv_udp_try_send(&other, &b, 1, (const struct sockaddr *)&mon), 2);
    assert_int_equal(ah_udp_get_stats(sim).lost, 4);
    uv_close((uv_handle_t *)&udp, on_close);
    uv_close((uv_handle_t *)&other, on_close);
    ah_run_until_idle(sim);
}

static void icmp_error_reaches_a_connected_raw_socket(void **state)
{
    ah_sim *sim = *state;
    struct sockaddr_in mon = addr_of("10.0.0.8", 9999);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    ah_udp_icmp_error(sim, "10.0.0.8", UV_ENETUNREACH);
    assert_int_equal(connect(fd, (struct sockaddr *)&mon, sizeof(mon)), 0);
    assert_int_equal(send(fd, "x", 1, 0), 1);
    ah_advance(sim, 1);
    errno = 0;
    assert_int_equal(send(fd, "x", 1, 0), -1);
    assert_int_equal(errno, ENETUNREACH);
    close(fd);
}

static void bad_fault_arguments(ah_sim *sim, void *ctx)
{
    if (ctx == NULL)
        ah_udp_send_error(sim, "*", UV_ETIMEDOUT, 0);
    else
        ah_udp_icmp_error(sim, "*", UV_EMSGSIZE);
}

static void a_fault_with_an_error_no_kernel_gives_fails(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, bad_fault_arguments, NULL, "give UV_ENETUNREACH, UV_EHOSTUNREACH");
    ah_assert_fails_with(NULL, bad_fault_arguments, (void *)1, "give UV_ECONNREFUSED");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(try_send_fails_with_the_error_for_its_address_only),
        ah_unit_test(send_error_for_n_sends_then_clears),
        ah_unit_test(uv_udp_send_reports_the_error_in_its_callback),
        ah_unit_test(raw_sendto_fails_with_errno),
        ah_unit_test(icmp_error_reaches_only_a_connected_socket),
        ah_unit_test(icmp_error_reaches_a_connected_raw_socket),
        ah_unit_test(a_fault_with_an_error_no_kernel_gives_fails),
    };
    return ah_run_tests(tests);
}
