/* Scripted clients (ah_net_connect, ah_net_connect_many), tolerant peers (ah_peer_tolerant) and
 * the ready in-sim server (ah_server): a client talks to a uv server under test with the same
 * steps a listening peer has; a server that refuses or closes fails the script unless the test
 * says it may; an ah_server answers requests per handler and never fails on a vanished client. */
#include "netkit.h"

#include <stdlib.h>

/* ---- a tiny uv line server under test: echoes each line, "QUIT" closes ---- */

typedef struct lconn {
    uv_tcp_t tcp;
    char buf[256];
    size_t n;
    char first[32]; /* the first line it received */
    struct lsrv *srv;
} lconn;

typedef struct lsrv {
    uv_tcp_t tcp;
    lconn conns[8];
    int nconns;
    int close_on_accept; /* a full server: accept and close at once */
    int closed;
} lsrv;

static lsrv srv;

static void ls_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    lconn *c = h->data;
    (void)size;
    *b = uv_buf_init(c->buf + c->n, (unsigned)(sizeof(c->buf) - c->n));
}

static void ls_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void ls_close_conn(lconn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, NULL);
}

static void ls_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    lconn *c = s->data;
    char *nl;

    (void)b;
    if (nread < 0) {
        ls_close_conn(c);
        return;
    }
    c->n += (size_t)nread;
    while ((nl = memchr(c->buf, '\n', c->n)) != NULL) {
        size_t len = (size_t)(nl - c->buf) + 1;
        if (c->first[0] == '\0' && len < sizeof(c->first))
            memcpy(c->first, c->buf, len);
        if (len == 5 && memcmp(c->buf, "QUIT\n", 5) == 0) {
            ls_close_conn(c);
            return;
        }
        {
            uv_write_t *w = malloc(sizeof(*w) + len);
            uv_buf_t out = uv_buf_init((char *)(w + 1), (unsigned)len);
            memcpy(w + 1, c->buf, len);
            uv_write(w, s, &out, 1, ls_written);
        }
        memmove(c->buf, c->buf + len, c->n - len);
        c->n -= len;
    }
}

static void ls_connection(uv_stream_t *server, int status)
{
    lconn *c = &srv.conns[srv.nconns++];

    assert_int_equal(status, 0);
    memset(c, 0, sizeof(*c));
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    c->srv = &srv;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&c->tcp), 0);
    if (srv.close_on_accept) {
        ls_close_conn(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, ls_alloc, ls_read);
}

static void ls_start(int close_on_accept)
{
    struct sockaddr_in a;

    memset(&srv, 0, sizeof(srv));
    srv.close_on_accept = close_on_accept;
    uv_tcp_init(uv_default_loop(), &srv.tcp);
    uv_ip4_addr("127.0.0.1", 7000, &a);
    assert_int_equal(uv_tcp_bind(&srv.tcp, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv.tcp, 16, ls_connection), 0);
}

static void ls_stop(void)
{
    int i;
    for (i = 0; i < srv.nconns; i++)
        ls_close_conn(&srv.conns[i]);
    if (!uv_is_closing((uv_handle_t *)&srv.tcp))
        uv_close((uv_handle_t *)&srv.tcp, NULL);
}

/* ---- scripted clients ---- */

static void client_talks_to_a_uv_server(void **state)
{
    ah_sim *sim = *state;
    ah_peer *c;

    ls_start(0);
    c = ah_net_connect(sim, "127.0.0.1:7000");
    ah_peer_reply(c, "hello\n");
    ah_peer_expect(c, "hello\n");
    ah_peer_reply_after(c, 30, "again\n");
    ah_peer_expect(c, "again\n");
    ah_peer_reply(c, "QUIT\n");
    ah_peer_expect_eof(c);
    ah_run_until_idle(sim);
    ah_assert_now_ms(sim, 30);
    assert_true(ah_peer_done(c));
    assert_int_equal(srv.nconns, 1);
    ls_stop();
    ah_run_until_idle(sim);
}

static void client_waits_its_delay_and_latency(void **state)
{
    ah_sim *sim = *state;
    ah_peer *c;

    ls_start(0);
    ah_net_latency(sim, "127.0.0.1:7000", 5, 5);
    c = ah_net_connect(sim, "127.0.0.1:7000");
    ah_peer_delay(c, 100);
    ah_peer_reply(c, "x\n");
    ah_peer_expect(c, "x\n");
    ah_peer_close(c);
    ah_run_until_idle(sim);
    /* handshake 10 ms, delay 100 ms, request 5 ms, answer 5 ms; the close reaches the server
     * 5 ms later and its FIN comes back after 5 more */
    ah_assert_now_ms(sim, 130);
    assert_true(ah_peer_done(c));
    ls_stop();
    ah_run_until_idle(sim);
}

static void client_shutdown_half_closes(void **state)
{
    ah_sim *sim = *state;
    ah_peer *c;

    ls_start(0);
    c = ah_net_connect(sim, "127.0.0.1:7000");
    ah_peer_reply(c, "last\n");
    ah_peer_shutdown(c); /* the server reads EOF and closes: the answer still comes */
    ah_peer_expect(c, "last\n");
    ah_peer_expect_eof(c);
    ah_run_until_idle(sim);
    assert_true(ah_peer_done(c));
    ls_stop();
    ah_run_until_idle(sim);
}

static void wrong_answer(ah_sim *sim, void *ctx)
{
    ah_peer *c;
    (void)ctx;
    ls_start(0);
    c = ah_net_connect(sim, "127.0.0.1:7000");
    ah_peer_reply(c, "ping\n");
    ah_peer_expect(c, "pong\n");
    ah_run_until_idle(sim);
}

static void client_fails_on_a_wrong_answer(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, wrong_answer, NULL, "scripted client #1 to 127.0.0.1:7000");
    ah_assert_fails_with(NULL, wrong_answer, NULL, "expected: \"pong\\n\"");
    ah_assert_fails_with(NULL, wrong_answer, NULL, "received: \"ping\\n\"");
}

/* A server that closes every connection at once (a full server). */
static void closed_by_server(ah_sim *sim, void *ctx)
{
    ah_peer *c;
    ls_start(1);
    c = ah_net_connect(sim, "127.0.0.1:7000");
    if (ctx != NULL)
        ah_peer_tolerant(c);
    ah_peer_reply(c, "hello\n");
    ah_peer_expect(c, "hello\n");
    ah_peer_close(c);
    ah_run_until_idle(sim);
    if (ctx != NULL)
        assert_false(ah_peer_done(c));
    ls_stop();
    ah_run_until_idle(sim);
}

static void client_closed_by_the_server_fails_unless_tolerant(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, closed_by_server, NULL, "the server closed the connection (EOF)");
    ah_assert_fails_with(NULL, closed_by_server, NULL, "ah_peer_tolerant");
    ah_assert_passes(NULL, closed_by_server, (void *)1);
}

static void refused(ah_sim *sim, void *ctx)
{
    ah_peer *c;
    ah_net_latency(sim, "127.0.0.1:7001", 1, 1); /* the refusal comes after a round trip */
    c = ah_net_connect(sim, "127.0.0.1:7001");
    if (ctx != NULL)
        ah_peer_tolerant(c);
    ah_peer_reply(c, "hello\n");
    ah_run_until_idle(sim);
    assert_true(ah_peer_refused(c));
    ah_assert_now_ms(sim, 2);
}

static void refused_at_once(ah_sim *sim, void *ctx)
{
    ah_peer *c = ah_net_connect(sim, "127.0.0.1:7001");
    (void)ctx;
    ah_peer_reply(c, "hello\n");
    ah_run_until_idle(sim);
}

static void refused_client_fails_unless_tolerant(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, refused, NULL, "the connection was refused");
    ah_assert_passes(NULL, refused, (void *)1);
    ah_assert_fails_with(NULL, refused_at_once, NULL,
                         "scripted client #1 to 127.0.0.1:7001: its connection was refused");
}

static void script_one(ah_peer *p, unsigned i, void *ctx)
{
    static char lines[4][16];
    (void)ctx;
    snprintf(lines[i], sizeof(lines[i]), "client %u\n", i);
    ah_peer_reply(p, lines[i]);
    ah_peer_expect(p, lines[i]);
    ah_peer_close(p);
}

static void many_clients_from_one_template(void **state)
{
    ah_sim *sim = *state;
    ah_peer *ps[4];
    int i;

    ls_start(0);
    ah_net_connect_many(sim, "127.0.0.1:7000", 4, script_one, NULL, ps);
    ah_run_until_idle(sim);
    for (i = 0; i < 4; i++)
        assert_true(ah_peer_done(ps[i]));
    assert_int_equal(srv.nconns, 4);
    ls_stop();
    ah_run_until_idle(sim);
}

/* The order in which the server accepts same-instant clients is a choice: a planted assumption
 * that the first client is accepted first fails under exploration; its twin, which does not
 * assume it, passes every schedule; and the other order is reached (ah_sometimes). */
static void fifo_assumed(ah_sim *sim, void *ctx)
{
    (void)ctx;
    ls_start(0);
    ah_net_connect_many(sim, "127.0.0.1:7000", 3, script_one, NULL, NULL);
    ah_run_until_idle(sim);
    if (ctx != NULL) {
        assert_string_equal(srv.conns[0].first, "client 0\n"); /* the planted assumption */
    } else {
        assert_int_equal(srv.nconns, 3);
        ah_sometimes(strcmp(srv.conns[0].first, "client 2\n") == 0, "client 2 accepted first");
    }
    ls_stop();
    ah_run_until_idle(sim);
}

static void many_clients_are_explored_flows(void **state)
{
    ah_explore_opts o = {
        .schedules = 60, .strategy = AH_STRATEGY_RANDOM, .ignore_env = 1, .no_trace_file = 1};
    ah_explore_result r;
    (void)state;
    assert_int_equal(ah_explore_run(&o, fifo_assumed, (void *)1, &r), 1);
    assert_non_null(strstr(r.message, "client 0"));
    ah_explore_result_free(&r);
    assert_int_equal(ah_explore_run(&o, fifo_assumed, NULL, &r), 0);
    ah_explore_result_free(&r);
}

/* ---- scripted UDP clients ---- */

static uv_udp_t userver;
static char uslab[512];
static uv_udp_send_t ureq[8];
static char uout[8][64];
static unsigned un;

static void us_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    (void)h, (void)size;
    *b = uv_buf_init(uslab, sizeof(uslab));
}

/* A UDP server under test: answers "re:" + the datagram, from the same socket. */
static void us_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *b, const struct sockaddr *addr,
                    unsigned flags)
{
    unsigned i;
    uv_buf_t out;

    (void)flags;
    if (nread <= 0 || addr == NULL)
        return;
    i = un++ % 8;
    memcpy(uout[i], "re:", 3);
    memcpy(uout[i] + 3, b->base, (size_t)nread);
    out = uv_buf_init(uout[i], 3 + (unsigned)nread);
    uv_udp_send(&ureq[i], h, &out, 1, addr, NULL);
}

static void us_start(void)
{
    struct sockaddr_in a;
    un = 0;
    uv_ip4_addr("127.0.0.1", 9000, &a);
    uv_udp_init(uv_default_loop(), &userver);
    assert_int_equal(uv_udp_bind(&userver, (const struct sockaddr *)&a, 0), 0);
    uv_udp_recv_start(&userver, us_alloc, us_recv);
}

static void udp_client_talks_to_a_uv_udp_server(void **state)
{
    ah_sim *sim = *state;
    ah_peer *c;

    us_start();
    c = ah_net_connect_udp(sim, "127.0.0.1:9000");
    ah_peer_reply(c, "ping");
    ah_peer_expect(c, "re:ping");
    ah_peer_reply_after(c, 40, "again");
    ah_peer_expect(c, "re:again");
    ah_peer_close(c);
    ah_advance(sim, 100);
    assert_true(ah_peer_done(c));
    ah_assert_now_ms(sim, 100);
    assert_int_equal(un, 2);
    uv_close((uv_handle_t *)&userver, NULL);
    ah_run_until_idle(sim);
}

static void udp_wrong_answer(ah_sim *sim, void *ctx)
{
    ah_peer *c;
    (void)ctx;
    us_start();
    c = ah_net_connect_udp(sim, "127.0.0.1:9000");
    ah_peer_reply(c, "ping");
    ah_peer_expect(c, "pong");
    ah_advance(sim, 10);
    uv_close((uv_handle_t *)&userver, NULL);
    ah_run_until_idle(sim);
}

static void udp_lost_answer(ah_sim *sim, void *ctx)
{
    ah_peer *c;
    us_start();
    ah_udp_drop_next(sim, "127.0.0.1:9000", 1); /* the request is lost */
    c = ah_net_connect_udp(sim, "127.0.0.1:9000");
    if (ctx != NULL)
        ah_peer_tolerant(c);
    ah_peer_reply(c, "ping");
    ah_peer_expect(c, "re:ping");
    ah_advance(sim, 10);
    uv_close((uv_handle_t *)&userver, NULL);
    ah_run_until_idle(sim);
}

static void udp_client_fails_on_a_wrong_or_missing_datagram(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, udp_wrong_answer, NULL,
                         "scripted UDP client #1 to 127.0.0.1:9000: unexpected datagram");
    ah_assert_fails_with(NULL, udp_wrong_answer, NULL, "received: \"re:ping\"");
    ah_assert_fails_with(NULL, udp_lost_answer, NULL,
                         "scripted UDP client #1 to 127.0.0.1:9000 did not finish its script");
    ah_assert_passes(NULL, udp_lost_answer, (void *)1);
}

/* ---- tolerant listening peers ---- */

static void client_leaves_early(ah_sim *sim, void *ctx)
{
    static tclient cl;
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:6379");
    if (ctx != NULL)
        ah_peer_tolerant(p);
    ah_peer_expect(p, "GET a\r\n");
    ah_peer_reply(p, "1\r\n");
    ah_peer_expect(p, "GET b\r\n");
    ah_peer_reply(p, "2\r\n");
    ah_peer_next_connection(p);
    ah_peer_expect(p, "GET c\r\n");
    tc_connect(&cl, "127.0.0.1", 6379, "GET a\r\n");
    ah_run_until_idle(sim);
    tc_close(&cl); /* gone before its second request: step 3 is never reached */
    ah_run_until_idle(sim);
}

static void tolerant_peer_accepts_a_client_that_vanishes(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, client_leaves_early, NULL, "the client closed the connection (EOF)");
    ah_assert_passes(NULL, client_leaves_early, (void *)1);
}

/* ---- ah_server ---- */

static void ah_server_echoes_lines(void **state)
{
    ah_sim *sim = *state;
    static tclient cl;
    ah_server *s = ah_server_start(sim, "127.0.0.1:6379", AH_FRAME_LINE, NULL, NULL);

    tc_connect(&cl, "127.0.0.1", 6379, "one\r\ntwo\npart");
    ah_run_until_idle(sim);
    assert_int_equal(cl.got, 9);
    assert_memory_equal(cl.in, "one\r\ntwo\n", 9);
    assert_int_equal(ah_server_requests(s), 2);
    tc_close(&cl);
    ah_run_until_idle(sim);
}

static void kv_handler(ah_request *req, void *ctx)
{
    char out[64];
    (void)ctx;
    if (strcmp(req->data, "SLOW") == 0)
        ah_request_delay(req, 250);
    if (strcmp(req->data, "BOOM") == 0) {
        ah_request_reset(req);
        return;
    }
    if (strcmp(req->data, "BYE") == 0)
        ah_request_close(req);
    snprintf(out, sizeof(out), "%u.%u.%u %s", req->conn, req->index, req->number, req->data);
    ah_request_reply_frame(req, out, strlen(out));
}

static void ah_server_answers_per_handler_in_order(void **state)
{
    ah_sim *sim = *state;
    static tclient cl;
    ah_server *s = ah_server_start(sim, "127.0.0.1:6379", AH_FRAME_LINE, kv_handler, NULL);

    /* The slow answer delays the one after it: a connection's answers stay in order. */
    tc_connect(&cl, "127.0.0.1", 6379, "SLOW\nfast\nBYE\n");
    ah_run_until_idle(sim);
    ah_assert_now_ms(sim, 250);
    cl.in[cl.got] = '\0';
    assert_string_equal(cl.in, "1.1.1 SLOW\r\n1.2.2 fast\r\n1.3.3 BYE\r\n");
    assert_int_equal(cl.read_error, UV_EOF);
    assert_int_equal(ah_server_connections(s), 1);
}

static void ah_server_resets_and_serves_reconnects(void **state)
{
    ah_sim *sim = *state;
    static tclient a, b;
    ah_server *s = ah_server_start(sim, "127.0.0.1:6379", AH_FRAME_LINE, kv_handler, NULL);

    tc_connect(&a, "127.0.0.1", 6379, "BOOM\n");
    ah_run_until_idle(sim);
    assert_int_equal(a.read_error, UV_ECONNRESET);
    tc_connect(&b, "127.0.0.1", 6379, "y\n");
    ah_run_until_idle(sim);
    b.in[b.got] = '\0';
    assert_string_equal(b.in, "2.1.2 y\r\n");
    assert_int_equal(ah_server_connections(s), 2);
    tc_close(&b);
    ah_run_until_idle(sim);
}

static void ah_server_tolerates_a_client_gone_mid_answer(void **state)
{
    ah_sim *sim = *state;
    static tclient cl;

    ah_server_start(sim, "127.0.0.1:6379", AH_FRAME_LINE, kv_handler, NULL);
    tc_connect(&cl, "127.0.0.1", 6379, "SLOW\n");
    ah_advance(sim, 100);
    tc_close(&cl); /* gone before the answer: nothing to report */
    ah_run_until_idle(sim);
}

static void hang_handler(ah_request *req, void *ctx)
{
    (void)ctx;
    if (req->index == 2)
        ah_request_hang(req);
    else
        ah_request_reply_frame(req, req->data, req->len);
}

static void ah_server_length_frames_and_hangs(void **state)
{
    ah_sim *sim = *state;
    static tclient cl;
    static const char msg[] = "\0\0\0\3abc\0\0\0\2de\0\0\0\1f";
    uv_buf_t b = uv_buf_init((char *)msg, sizeof(msg) - 1);

    ah_server_start(sim, "127.0.0.1:6379", AH_FRAME_LENGTH, hang_handler, NULL);
    tc_connect(&cl, "127.0.0.1", 6379, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(uv_write(&cl.wreq[0], (uv_stream_t *)&cl.tcp, &b, 1, tc_written), 0);
    ah_run_until_idle(sim);
    assert_int_equal(cl.got, 7); /* only the first answer: the second request hung */
    assert_memory_equal(cl.in, "\0\0\0\3abc", 7);
    tc_close(&cl);
    ah_run_until_idle(sim);
}

static void scripted_client_against_ah_server(void **state)
{
    ah_sim *sim = *state;
    ah_peer *c;

    ah_server_start(sim, "127.0.0.1:6379", AH_FRAME_LINE, kv_handler, NULL);
    c = ah_net_connect(sim, "127.0.0.1:6379");
    ah_peer_reply(c, "hi\n");
    ah_peer_expect(c, "1.1.1 hi\r\n");
    ah_peer_reply(c, "BYE\n");
    ah_peer_expect(c, "1.2.2 BYE\r\n");
    ah_peer_expect_eof(c);
    ah_run_until_idle(sim);
    assert_true(ah_peer_done(c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(client_talks_to_a_uv_server),
        ah_unit_test(client_waits_its_delay_and_latency),
        ah_unit_test(client_shutdown_half_closes),
        ah_unit_test(client_fails_on_a_wrong_answer),
        ah_unit_test(client_closed_by_the_server_fails_unless_tolerant),
        ah_unit_test(refused_client_fails_unless_tolerant),
        ah_unit_test(many_clients_from_one_template),
        ah_unit_test(many_clients_are_explored_flows),
        ah_unit_test(udp_client_talks_to_a_uv_udp_server),
        ah_unit_test(udp_client_fails_on_a_wrong_or_missing_datagram),
        ah_unit_test(tolerant_peer_accepts_a_client_that_vanishes),
        ah_unit_test(ah_server_echoes_lines),
        ah_unit_test(ah_server_answers_per_handler_in_order),
        ah_unit_test(ah_server_resets_and_serves_reconnects),
        ah_unit_test(ah_server_tolerates_a_client_gone_mid_answer),
        ah_unit_test(ah_server_length_frames_and_hangs),
        ah_unit_test(scripted_client_against_ah_server),
    };
    return ah_run_tests(tests);
}
