/* Name resolution from the table a test fills: uv_getaddrinfo (callback and synchronous forms)
 * with per-name latency and UV_EAI_* failures, uv_getnameinfo, uv_freeaddrinfo; a result never
 * freed is reported at teardown; and a client that resolves a name then connects to a peer. */
#include "netkit.h"

#include <arpa/inet.h>
#include <netdb.h>

static uv_getaddrinfo_t gai;
static uv_getnameinfo_t gni;
static char answer[512];

static void describe(const struct addrinfo *ai)
{
    char ip[INET6_ADDRSTRLEN];
    size_t n;

    answer[0] = '\0';
    for (; ai != NULL; ai = ai->ai_next) {
        const void *src =
            ai->ai_family == AF_INET
                ? (const void *)&((const struct sockaddr_in *)ai->ai_addr)->sin_addr
                : (const void *)&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        int port =
            ntohs(ai->ai_family == AF_INET ? ((const struct sockaddr_in *)ai->ai_addr)->sin_port
                                           : ((const struct sockaddr_in6 *)ai->ai_addr)->sin6_port);
        inet_ntop(ai->ai_family, src, ip, sizeof(ip));
        n = strlen(answer);
        snprintf(answer + n, sizeof(answer) - n, "%s%s/%d/%d", n ? " " : "", ip, port,
                 ai->ai_socktype);
    }
}

static void on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    (void)req;
    netlog_add("getaddrinfo %s", rc_str(status));
    describe(res);
    uv_freeaddrinfo(res);
}

static struct addrinfo stream_hints(int family)
{
    struct addrinfo h;
    memset(&h, 0, sizeof(h));
    h.ai_family = family;
    h.ai_socktype = SOCK_STREAM;
    return h;
}

static void table_answers_in_order_with_the_service_port(void **state)
{
    ah_sim *sim = *state;
    struct addrinfo h = stream_hints(AF_UNSPEC);

    ah_dns_add(sim, "db.local", "10.0.0.7");
    ah_dns_add(sim, "db.local", "fd00::7");
    netlog[0] = '\0';
    assert_int_equal(uv_getaddrinfo(uv_default_loop(), &gai, on_gai, "DB.local.", "6379", &h), 0);
    ah_run_until_idle(sim);
    assert_log("0 getaddrinfo 0");
    assert_string_equal(answer, "10.0.0.7/6379/1 fd00::7/6379/1");
    h = stream_hints(AF_INET6);
    uv_getaddrinfo(uv_default_loop(), &gai, on_gai, "db.local", "80", &h);
    ah_run_until_idle(sim);
    assert_string_equal(answer, "fd00::7/80/1");
}

static void latency_delays_the_callback(void **state)
{
    ah_sim *sim = *state;

    ah_dns_add(sim, "slow.local", "10.0.0.8");
    ah_dns_latency(sim, "slow.local", 40);
    netlog[0] = '\0';
    uv_getaddrinfo(uv_default_loop(), &gai, on_gai, "slow.local", NULL, NULL);
    ah_run_until_idle(sim);
    assert_log("40 getaddrinfo 0");
    /* no socktype in the hints: one entry per type, as glibc gives */
    assert_string_equal(answer, "10.0.0.8/0/1 10.0.0.8/0/2 10.0.0.8/0/3");
}

static void failures_come_as_eai_codes(void **state)
{
    ah_sim *sim = *state;
    struct addrinfo h = stream_hints(AF_INET6);

    ah_dns_fail(sim, "down.local", UV_EAI_AGAIN);
    ah_dns_latency(sim, "down.local", 5);
    ah_dns_add(sim, "v4only.local", "10.0.0.9");
    netlog[0] = '\0';
    uv_getaddrinfo(uv_default_loop(), &gai, on_gai, "down.local", NULL, NULL);
    ah_run_until_idle(sim);
    uv_getaddrinfo(uv_default_loop(), &gai, on_gai, "nowhere.local", NULL, NULL);
    ah_run_until_idle(sim);
    uv_getaddrinfo(uv_default_loop(), &gai, on_gai, "v4only.local", NULL, &h);
    ah_run_until_idle(sim);
    h.ai_flags = AI_NUMERICHOST;
    uv_getaddrinfo(uv_default_loop(), &gai, on_gai, "v4only.local", NULL, &h);
    ah_run_until_idle(sim);
    assert_log("5 getaddrinfo EAI_AGAIN|5 getaddrinfo EAI_NONAME|5 getaddrinfo EAI_NODATA|"
               "5 getaddrinfo EAI_NONAME");
    assert_int_equal(uv_getaddrinfo(uv_default_loop(), &gai, on_gai, NULL, NULL, NULL), UV_EINVAL);
}

static void synchronous_form_answers_at_once(void **state)
{
    ah_sim *sim = *state;
    struct addrinfo h = stream_hints(AF_INET);

    ah_dns_add(sim, "db.local", "10.0.0.7");
    ah_dns_latency(sim, "db.local", 100); /* the synchronous form blocks for no virtual time */
    assert_int_equal(uv_getaddrinfo(uv_default_loop(), &gai, NULL, "db.local", "1", &h), 0);
    describe(gai.addrinfo);
    assert_string_equal(answer, "10.0.0.7/1/1");
    uv_freeaddrinfo(gai.addrinfo);
    assert_int_equal(uv_getaddrinfo(uv_default_loop(), &gai, NULL, "nowhere.local", NULL, &h),
                     UV_EAI_NONAME);
    assert_null(gai.addrinfo);
    assert_int_equal(uv_getaddrinfo(uv_default_loop(), &gai, NULL, "localhost", "http", &h), 0);
    describe(gai.addrinfo);
    assert_string_equal(answer, "127.0.0.1/80/1");
    uv_freeaddrinfo(gai.addrinfo);
    assert_int_equal(uv_getaddrinfo(uv_default_loop(), &gai, NULL, "::1", "7", NULL), 0);
    assert_int_equal(gai.addrinfo->ai_family, AF_INET6);
    uv_freeaddrinfo(gai.addrinfo);
    ah_assert_now_ms(sim, 0);
}

static void on_gni(uv_getnameinfo_t *req, int status, const char *host, const char *service)
{
    (void)req;
    netlog_add("getnameinfo %s %s %s", rc_str(status), host ? host : "-", service ? service : "-");
}

static void getnameinfo_answers_from_the_table(void **state)
{
    ah_sim *sim = *state;
    struct sockaddr_in a;

    ah_dns_add(sim, "db.local", "10.0.0.7");
    ah_dns_latency(sim, "db.local", 7);
    netlog[0] = '\0';
    uv_ip4_addr("10.0.0.7", 6379, &a);
    uv_getnameinfo(uv_default_loop(), &gni, on_gni, (const struct sockaddr *)&a, NI_NUMERICSERV);
    ah_run_until_idle(sim);
    uv_ip4_addr("10.9.9.9", 80, &a);
    uv_getnameinfo(uv_default_loop(), &gni, on_gni, (const struct sockaddr *)&a, NI_NAMEREQD);
    ah_run_until_idle(sim);
    uv_getnameinfo(uv_default_loop(), &gni, on_gni, (const struct sockaddr *)&a,
                   NI_NUMERICHOST | NI_NUMERICSERV);
    ah_run_until_idle(sim);
    assert_log("7 getnameinfo 0 db.local 6379|7 getnameinfo EAI_NONAME - -|"
               "7 getnameinfo 0 10.9.9.9 80");
    assert_int_equal(uv_getnameinfo(uv_default_loop(), &gni, NULL, (const struct sockaddr *)&a, 0),
                     0);
    assert_string_equal(gni.host, "10.9.9.9");
    assert_string_equal(gni.service, "http");
}

static void lookup_never_freed(ah_sim *sim, void *ctx)
{
    struct addrinfo h = stream_hints(AF_INET);

    ah_dns_add(sim, "db.local", "10.0.0.7");
    uv_getaddrinfo(uv_default_loop(), &gai, NULL, "db.local", "1", &h);
    if (ctx != NULL)
        uv_freeaddrinfo(gai.addrinfo);
}

static void a_result_never_freed_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, lookup_never_freed, NULL,
                         "the result of uv_getaddrinfo(\"db.local\") started in lookup_never_freed "
                         "(test_dns.c:");
    ah_assert_fails_with(NULL, lookup_never_freed, NULL, "was never freed with uv_freeaddrinfo");
    ah_assert_passes(NULL, lookup_never_freed, (void *)1);
}

/* A client that resolves its server's name, then connects to the first address. */
static tclient cl;

static void resolved_then_connect(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    char ip[INET_ADDRSTRLEN];

    (void)req;
    assert_int_equal(status, 0);
    netlog_add("resolved");
    inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, sizeof(ip));
    tc_connect(&cl, ip, ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port), "PING\r\n");
    uv_freeaddrinfo(res);
}

static void a_client_resolves_then_talks_to_a_peer(void **state)
{
    ah_sim *sim = *state;
    struct addrinfo h = stream_hints(AF_INET);
    ah_peer *p;

    ah_dns_add(sim, "redis.internal", "10.1.2.3");
    ah_dns_latency(sim, "redis.internal", 15);
    p = ah_net_listen(sim, "10.1.2.3:6379");
    ah_peer_expect(p, "PING\r\n");
    ah_peer_reply(p, "+PONG\r\n");
    ah_peer_close(p);
    netlog[0] = '\0';
    uv_getaddrinfo(uv_default_loop(), &gai, resolved_then_connect, "redis.internal", "6379", &h);
    ah_run_until_idle(sim);
    assert_log("15 resolved|15 connect 0|15 write 0|15 read 7|15 read EOF|15 close");
}

static void bad_entry(ah_sim *sim, void *ctx)
{
    ah_dns_add(sim, "x.local", ctx != NULL ? "10.0.0.1" : "10.0.0");
}

static void a_table_entry_must_be_a_numeric_address(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, bad_entry, NULL, "not a numeric IPv4 or IPv6 address");
    ah_assert_passes(NULL, bad_entry, (void *)1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(table_answers_in_order_with_the_service_port),
        ah_unit_test(latency_delays_the_callback),
        ah_unit_test(failures_come_as_eai_codes),
        ah_unit_test(synchronous_form_answers_at_once),
        ah_unit_test(getnameinfo_answers_from_the_table),
        ah_unit_test(a_result_never_freed_is_reported),
        ah_unit_test(a_client_resolves_then_talks_to_a_peer),
        ah_unit_test(a_table_entry_must_be_a_numeric_address),
    };
    return ah_run_tests(tests);
}
