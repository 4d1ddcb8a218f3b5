/* Attribution (issue 26, item 5): a trace line about a datagram or a raw socket names the socket
 * (its track: the handle's or connection's label) and the call that made it. Each test records
 * its trace, writes it as text and compares the lines it expects, with this file's own lines. */
#include <ah/ah.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

/* The text trace of `sim` so far (malloc'd). */
static char *trace_text(ah_sim *sim, const char *name)
{
    char path[256];
    FILE *f;
    long n;
    char *s;

    snprintf(path, sizeof(path), "ah-attribution-%s-%d.txt", name, (int)getpid());
    assert_int_equal(ah_trace_write_text(sim, path), 0);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    s = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    remove(path);
    return s;
}

static void assert_traced(const char *trace, const char *needle)
{
    if (strstr(trace, needle) == NULL)
        fail_msg("the trace has no line with \"%s\":\n%s", needle, trace);
}

static void on_sent(uv_udp_send_t *req, int status)
{
    (void)req;
    assert_int_equal(status, 0);
}

static int send_line;

static void send_one(uv_udp_t *udp, uv_udp_send_t *req, const struct sockaddr *to)
{
    uv_buf_t b = uv_buf_init("hello", 5);

    send_line = __LINE__ + 1;
    assert_int_equal(uv_udp_send(req, udp, &b, 1, to, on_sent), 0);
}

static void nothing_read(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *a,
                         unsigned flags)
{
    (void)h;
    (void)n;
    (void)buf;
    (void)a;
    (void)flags;
}

static void alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    static char mem[64];
    (void)h;
    (void)size;
    *buf = uv_buf_init(mem, sizeof(mem));
}

/* uv_udp_send's datagram, delivered later in the poll phase, names the uv_udp_send that sent
 * it; a raw sendto's datagram and a failed send name theirs. */
static void a_datagram_names_the_call_that_sent_it(void **state)
{
    ah_sim *sim = *state;
    uv_udp_t rx, tx;
    uv_udp_send_t req;
    struct sockaddr_in a, dead;
    char *trace, want[256];
    int fd, raw_line, fail_line;

    ah_trace_record(sim, NULL);
    uv_ip4_addr("127.0.0.1", 9000, &a);
    uv_ip4_addr("127.0.0.1", 9001, &dead);
    uv_udp_init(uv_default_loop(), &rx);
    assert_int_equal(uv_udp_bind(&rx, (const struct sockaddr *)&a, 0), 0);
    uv_udp_recv_start(&rx, alloc, nothing_read);
    uv_udp_init(uv_default_loop(), &tx);
    send_one(&tx, &req, (const struct sockaddr *)&a);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    raw_line = __LINE__ + 1;
    assert_int_equal(sendto(fd, "hi", 2, 0, (const struct sockaddr *)&a, sizeof(a)), 2);
    ah_run_ready(sim);
    ah_udp_send_error(sim, "127.0.0.1:9001", UV_EHOSTUNREACH, 1);
    fail_line = __LINE__ + 1;
    assert_int_equal(uv_udp_try_send(&tx, &(uv_buf_t){"x", 1}, 1, (const struct sockaddr *)&dead),
                     UV_EHOSTUNREACH);
    ah_run_ready(sim);
    trace = trace_text(sim, "dgram");
    if (getenv("AH_ATTRIBUTION_SHOW") != NULL)
        fprintf(stderr, "%s", trace);
    /* the receiver's track, the sender's ephemeral port, the sending call */
    snprintf(want, sizeof(want), ", sent in send_one (test_attribution.c:%d)", send_line);
    assert_traced(trace, want);
    snprintf(want, sizeof(want),
             "datagram to 127.0.0.1:9001: send fails with EHOSTUNREACH (ah_udp_send_error), sent "
             "in a_datagram_names_the_call_that_sent_it (test_attribution.c:%d)",
             fail_line);
    assert_traced(trace, want);
    /* a raw sendto from a function ah/sites.h cannot mark: its address and addr2line command */
    assert_traced(trace, ", sent in ");
    assert_traced(trace, "datagram of 2 bytes from 127.0.0.1:");
    if (strstr(trace, " in test_attribution (addr2line -f -e ") == NULL)
        fail_msg("the raw sendto (test_attribution.c:%d) is not named by its address:\n%s",
                 raw_line, trace);
    free(trace);
    close(fd);
    uv_close((uv_handle_t *)&rx, NULL);
    uv_close((uv_handle_t *)&tx, NULL);
    ah_run_until_idle(sim);
}

static uv_tcp_t accepted;
static uv_write_t pong;

static void on_connection(uv_stream_t *srv, int status)
{
    uv_buf_t b = uv_buf_init("pong", 4);

    assert_int_equal(status, 0);
    uv_tcp_init(srv->loop, &accepted);
    assert_int_equal(uv_accept(srv, (uv_stream_t *)&accepted), 0);
    assert_int_equal(uv_write(&pong, (uv_stream_t *)&accepted, &b, 1, NULL), 0);
}

/* A raw socket's connect (a client in the test body) names the connection and its call, and so
 * do its byte transfers (send, write, recv) on the connection's track. */
static void a_raw_connect_names_its_call(void **state)
{
    ah_sim *sim = *state;
    uv_tcp_t srv;
    struct sockaddr_in a;
    char *trace, want[256];
    char buf[8];
    int fd, line;

    ah_trace_record(sim, NULL);
    uv_ip4_addr("127.0.0.1", 7000, &a);
    uv_tcp_init(uv_default_loop(), &srv);
    assert_int_equal(uv_tcp_bind(&srv, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv, 8, on_connection), 0);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    line = __LINE__ + 1;
    assert_int_equal(connect(fd, (const struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(send(fd, "ping", 4, 0), 4);
    assert_int_equal(write(fd, "!!", 2), 2);
    assert_int_equal(recv(fd, buf, sizeof(buf), 0), 4); /* waits in virtual time for the pong */
    ah_run_ready(sim);
    trace = trace_text(sim, "raw");
    if (getenv("AH_ATTRIBUTION_SHOW") != NULL)
        fprintf(stderr, "%s", trace);
    snprintf(want, sizeof(want), "-> 127.0.0.1:7000: connect (raw socket %d), called in ", fd);
    assert_traced(trace, want);
    (void)line;
    assert_traced(trace, " in test_attribution (addr2line -f -e ");
    snprintf(want, sizeof(want), "-> 127.0.0.1:7000: send of 4 bytes (raw socket %d), called in ",
             fd);
    assert_traced(trace, want);
    snprintf(want, sizeof(want), "-> 127.0.0.1:7000: write of 2 bytes (raw socket %d), called in ",
             fd);
    assert_traced(trace, want);
    snprintf(want, sizeof(want), "-> 127.0.0.1:7000: recv of 4 bytes (raw socket %d), called in ",
             fd);
    assert_traced(trace, want);
    /* each from a function ah/sites.h cannot mark (libc's): its address and addr2line command */
    {
        const char *at = strstr(trace, want), *hint = strstr(at, " (addr2line -f -e ");
        if (hint == NULL || memchr(at, '\n', (size_t)(hint - at)) != NULL)
            fail_msg("the raw recv is not named by its address:\n%s", trace);
    }
    free(trace);
    close(fd);
    uv_close((uv_handle_t *)&accepted, NULL);
    uv_close((uv_handle_t *)&srv, NULL);
    ah_run_until_idle(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(a_datagram_names_the_call_that_sent_it),
        ah_unit_test(a_raw_connect_names_its_call),
    };
    return ah_run_tests(tests);
}
