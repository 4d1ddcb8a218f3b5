/* hiredis's async API on its unmodified libuv adapter (hiredis/adapters/libuv.h), on the
 * harness. hiredis opens its own socket with socket()/connect(), reads and writes it with
 * read()/write(), and waits on it with uv_poll: the fd/ layer gives it a fake descriptor on the
 * sim's network, so it meets a scripted peer or a plain-libuv RESP server running in the same
 * sim, on the virtual clock. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "rwsplit.h"

#define SERVER "127.0.0.1:6379"
#define PING "*1\r\n$4\r\nPING\r\n"
#define SET_K_V "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
#define GET_K "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"

/* ---- a RESP server in plain libuv, running in the sim (PING, SET, GET) ---- */

typedef struct kv_entry {
    char key[64], value[256];
} kv_entry;

static kv_entry store[16];
static int nstore;
static uv_tcp_t server;

typedef struct srv_conn {
    uv_tcp_t tcp;
    char buf[4096];
    size_t len;
} srv_conn;

static void srv_closed(uv_handle_t *h) { free(h->data); }

static void srv_written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void srv_send(srv_conn *c, const char *fmt, ...)
{
    uv_write_t *w = malloc(sizeof(*w));
    char *s = malloc(512);
    va_list ap;
    uv_buf_t b;

    va_start(ap, fmt);
    b = uv_buf_init(s, (unsigned)vsnprintf(s, 512, fmt, ap));
    va_end(ap);
    w->data = s;
    uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, srv_written);
}

static const char *find(const char *key)
{
    int i;
    for (i = 0; i < nstore; i++)
        if (strcmp(store[i].key, key) == 0)
            return store[i].value;
    return NULL;
}

static void srv_command(srv_conn *c, char argv[][256], int argc)
{
    const char *v;
    int i;

    if (argc == 1 && strcmp(argv[0], "PING") == 0) {
        srv_send(c, "+PONG\r\n");
    } else if (argc == 3 && strcmp(argv[0], "SET") == 0) {
        for (i = 0; i < nstore && strcmp(store[i].key, argv[1]) != 0; i++)
            ;
        if (i == nstore && nstore < 16)
            nstore++;
        snprintf(store[i].key, sizeof(store[i].key), "%s", argv[1]);
        snprintf(store[i].value, sizeof(store[i].value), "%s", argv[2]);
        srv_send(c, "+OK\r\n");
    } else if (argc == 2 && strcmp(argv[0], "GET") == 0) {
        if ((v = find(argv[1])) != NULL)
            srv_send(c, "$%zu\r\n%s\r\n", strlen(v), v);
        else
            srv_send(c, "$-1\r\n");
    } else {
        srv_send(c, "-ERR unknown command\r\n");
    }
}

/* Parses every complete "*N\r\n$len\r\narg\r\n..." command in the buffer. */
static void srv_parse(srv_conn *c)
{
    char argv[4][256];
    size_t pos, used = 0;
    int argc, i, len;

    for (;;) {
        pos = used;
        if (pos >= c->len || c->buf[pos] != '*' || memchr(c->buf + pos, '\n', c->len - pos) == NULL)
            break;
        argc = atoi(c->buf + pos + 1);
        pos = (size_t)((char *)memchr(c->buf + pos, '\n', c->len - pos) - c->buf) + 1;
        for (i = 0; i < argc && i < 4; i++) {
            char *nl;
            if (pos >= c->len || (nl = memchr(c->buf + pos, '\n', c->len - pos)) == NULL)
                goto incomplete;
            len = atoi(c->buf + pos + 1);
            pos = (size_t)(nl - c->buf) + 1;
            if (pos + (size_t)len + 2 > c->len)
                goto incomplete;
            snprintf(argv[i], sizeof(argv[i]), "%.*s", len, c->buf + pos);
            pos += (size_t)len + 2;
        }
        srv_command(c, argv, argc);
        used = pos;
    }
incomplete:
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
}

static void srv_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    srv_conn *c = h->data;
    (void)size;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

static void srv_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    srv_conn *c = s->data;

    (void)b;
    if (n < 0) {
        uv_close((uv_handle_t *)s, srv_closed);
        return;
    }
    c->len += (size_t)n;
    srv_parse(c);
}

static void srv_accept(uv_stream_t *s, int status)
{
    srv_conn *c = calloc(1, sizeof(*c));

    assert_int_equal(status, 0);
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    assert_int_equal(uv_accept(s, (uv_stream_t *)&c->tcp), 0);
    uv_read_start((uv_stream_t *)&c->tcp, srv_alloc, srv_read);
}

static void server_start(void)
{
    struct sockaddr_in a;

    nstore = 0;
    uv_ip4_addr("127.0.0.1", 6379, &a);
    uv_tcp_init(uv_default_loop(), &server);
    assert_int_equal(uv_tcp_bind(&server, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&server, 16, srv_accept), 0);
}

static void server_stop(void) { uv_close((uv_handle_t *)&server, NULL); }

/* ---- what the hiredis callbacks saw ---- */

static char log_[1024];

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    size_t n = strlen(log_);
    va_list ap;

    if (n > 0 && n < sizeof(log_) - 1)
        log_[n++] = '|';
    n += (size_t)snprintf(log_ + n, sizeof(log_) - n, "%llu ",
                          (unsigned long long)ah_now_ms(ah_sim_current()));
    va_start(ap, fmt);
    vsnprintf(log_ + n, sizeof(log_) - n, fmt, ap);
    va_end(ap);
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply *reply = r;

    (void)ac;
    if (reply == NULL)
        note("%s: no reply", (const char *)privdata);
    else if (reply->type == REDIS_REPLY_NIL)
        note("%s: nil", (const char *)privdata);
    else if (reply->type == REDIS_REPLY_ERROR)
        note("%s: error %s", (const char *)privdata, reply->str);
    else
        note("%s: %s", (const char *)privdata, reply->str);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    note("connect %s", status == REDIS_OK ? "ok" : ac->errstr);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    note("disconnect %s", status == REDIS_OK ? "ok" : ac->errstr);
}

static redisAsyncContext *connect_client(void)
{
    redisAsyncContext *ac = redisAsyncConnect("127.0.0.1", 6379);

    assert_non_null(ac);
    assert_int_equal(ac->err, 0);
    assert_int_equal(redisLibuvAttach(ac, uv_default_loop()), REDIS_OK);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return ac;
}

/* ---- against the plain-libuv server in the sim ---- */

static void ping_set_get_against_a_libuv_server(void **state)
{
    ah_sim *sim = *state;
    log_[0] = 0;
    redisAsyncContext *ac;

    server_start();
    ac = connect_client();
    redisAsyncCommand(ac, on_reply, "PING", "PING");
    redisAsyncCommand(ac, on_reply, "SET", "SET %s %s", "greeting", "hello");
    redisAsyncCommand(ac, on_reply, "GET", "GET %s", "greeting");
    redisAsyncCommand(ac, on_reply, "GET missing", "GET %s", "missing");
    ah_run_until_idle(sim);
    assert_string_equal(log_,
                        "0 connect ok|0 PING: PONG|0 SET: OK|0 GET: hello|0 GET missing: nil");
    redisAsyncDisconnect(ac);
    server_stop();
    ah_run_until_idle(sim);
    assert_string_equal(log_, "0 connect ok|0 PING: PONG|0 SET: OK|0 GET: hello|0 GET missing: "
                              "nil|0 disconnect ok");
}

/* The latency of the fake network applies to hiredis's raw socket as to any uv_tcp_t. */
static void round_trips_take_the_network_latency(void **state)
{
    ah_sim *sim = *state;
    log_[0] = 0;
    redisAsyncContext *ac;

    server_start();
    ah_net_latency(sim, SERVER, 5, 5);
    ac = connect_client();
    redisAsyncCommand(ac, on_reply, "SET", "SET %s %s", "k", "v");
    redisAsyncCommand(ac, on_reply, "GET", "GET %s", "k");
    ah_run_until_idle(sim);
    /* connect: one round trip (10 ms); the two commands go out together and return 10 ms later */
    assert_string_equal(log_, "10 connect ok|20 SET: OK|20 GET: v");
    redisAsyncDisconnect(ac);
    server_stop();
    ah_run_until_idle(sim);
}

/* ---- against scripted peers ---- */

static void ping_set_get_against_a_scripted_peer(void **state)
{
    ah_sim *sim = *state;
    log_[0] = 0;
    ah_peer *p = ah_net_listen(sim, SERVER);
    redisAsyncContext *ac;

    ah_peer_expect(p, PING);
    ah_peer_reply(p, "+PONG\r\n");
    ah_peer_expect(p, SET_K_V);
    ah_peer_reply(p, "+OK\r\n");
    ah_peer_expect(p, GET_K);
    ah_peer_reply(p, "$1\r\nv\r\n");
    ah_peer_expect_eof(p);
    ah_peer_close(p);
    ac = connect_client();
    redisAsyncCommand(ac, on_reply, "PING", "PING");
    ah_run_until_idle(sim);
    redisAsyncCommand(ac, on_reply, "SET", "SET k v");
    ah_run_until_idle(sim);
    redisAsyncCommand(ac, on_reply, "GET", "GET k");
    ah_run_until_idle(sim);
    redisAsyncDisconnect(ac);
    ah_run_until_idle(sim);
    assert_string_equal(log_, "0 connect ok|0 PING: PONG|0 SET: OK|0 GET: v|0 disconnect ok");
}

/* A server that answers 250 ms late: the reply lands at exactly +250 ms of virtual time. */
static void late_reply_lands_at_exactly_250_ms(void **state)
{
    ah_sim *sim = *state;
    log_[0] = 0;
    ah_peer *p = ah_net_listen(sim, SERVER);
    redisAsyncContext *ac;

    ah_peer_expect(p, GET_K);
    ah_peer_reply_after(p, 250, "$5\r\nlater\r\n");
    ah_peer_expect_eof(p);
    ah_peer_close(p);
    ac = connect_client();
    redisAsyncCommand(ac, on_reply, "GET", "GET k");
    ah_run_until_idle(sim);
    ah_assert_now_ms(sim, 250);
    assert_string_equal(log_, "0 connect ok|250 GET: later");
    redisAsyncDisconnect(ac);
    ah_run_until_idle(sim);
}

/* A command abandoned by a libuv timer: the server hangs, the client's own 100 ms timer
 * disconnects, and hiredis calls the pending callback with no reply. */
static redisAsyncContext *abandoned_ac;

static void give_up(uv_timer_t *t)
{
    note("timeout");
    redisAsyncFree(abandoned_ac);
    uv_close((uv_handle_t *)t, NULL);
}

static void command_abandoned_by_a_timer(void **state)
{
    ah_sim *sim = *state;
    log_[0] = 0;
    ah_peer *p = ah_net_listen(sim, SERVER);
    uv_timer_t t;

    ah_peer_expect(p, GET_K);
    ah_peer_stall(p);
    abandoned_ac = connect_client();
    redisAsyncCommand(abandoned_ac, on_reply, "GET", "GET k");
    uv_timer_init(uv_default_loop(), &t);
    uv_timer_start(&t, give_up, 100, 0);
    ah_run_until_idle(sim);
    assert_string_equal(log_, "0 connect ok|100 timeout|100 GET: no reply|100 disconnect ok");
    ah_assert_now_ms(sim, 100);
}

static int poll_errors;
static void count_poll_status(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (h->type == UV_POLL && !uv_is_active(h))
        poll_errors++;
}

/* The server resets the connection in the middle of a reply. epoll reports POLLERR, libuv stops
 * the uv_poll and calls it with UV_EBADF, and hiredis 0.14's adapter returns on any error status
 * without telling hiredis (its 1.0 adapter fixed this): only the client's own timer ends the
 * command. Real libuv on Linux does the same (docs/descriptors.md). */
static void reset_in_the_middle_of_a_reply(void **state)
{
    ah_sim *sim = *state;
    log_[0] = 0;
    ah_peer *p = ah_net_listen(sim, SERVER);
    uv_timer_t t;

    ah_peer_expect(p, GET_K);
    ah_peer_reply(p, "$10\r\nhel");
    ah_peer_delay(p, 5);
    ah_peer_reset(p);
    abandoned_ac = connect_client();
    redisAsyncCommand(abandoned_ac, on_reply, "GET", "GET k");
    uv_timer_init(uv_default_loop(), &t);
    uv_timer_start(&t, give_up, 100, 0);
    ah_advance(sim, 50);
    assert_string_equal(log_, "0 connect ok");
    poll_errors = 0;
    uv_walk(uv_default_loop(), count_poll_status, NULL);
    assert_int_equal(poll_errors, 1); /* stopped by the UV_EBADF status at +5 ms */
    ah_run_until_idle(sim);
    assert_string_equal(log_, "0 connect ok|100 timeout|100 GET: no reply|100 disconnect ok");
}

/* Nothing listens: hiredis 0.14's adapter ignores the uv_poll error status libuv reports for the
 * failed connect (POLLERR: UV_EBADF), so the connect callback never runs, on real libuv as here.
 * The test documents the adapter's behaviour; the client must time out on its own. */
static void refused_connect_stops_the_adapters_poll(void **state)
{
    ah_sim *sim = *state;
    log_[0] = 0;
    redisAsyncContext *ac = connect_client();

    redisAsyncCommand(ac, on_reply, "GET", "GET k");
    ah_run_until_idle(sim);
    assert_string_equal(log_, "");
    poll_errors = 0;
    uv_walk(uv_default_loop(), count_poll_status, NULL);
    assert_int_equal(poll_errors, 1); /* stopped by the UV_EBADF status */
    redisAsyncFree(ac);
    ah_run_until_idle(sim);
    assert_string_equal(log_, "0 GET: no reply"); /* never connected: no disconnect callback */
}

/* ---- exploration: rwsplit's write and read travel on two connections ---- */

static void rw_got(rw_client *c, const char *value, const char *error, void *data)
{
    (void)c;
    (void)error;
    *(char **)data = value != NULL ? strdup(value) : strdup("(nil)");
}

static void rwsplit_reads_its_own_write_under_jitter(void **state)
{
    ah_sim *sim = *state;
    log_[0] = 0;
    char *value = NULL;
    rw_client *c;

    server_start();
    ah_net_latency(sim, SERVER, 1, 20);
    c = rw_new(uv_default_loop(), "127.0.0.1", 6379);
    assert_non_null(c);
    rw_set_then_get(c, "user:1", "ada", rw_got, &value);
    ah_run_until_idle(sim);
    /* Clean up before judging: a failure longjmps out, and the client's memory must not leak. */
    rw_free(c);
    server_stop();
    ah_run_until_idle(sim);
    assert_non_null(value);
    if (strcmp(value, "ada") != 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "rwsplit: read back \"%s\" after writing \"ada\"", value);
        free(value);
        fail_msg("%s", msg);
    }
    free(value);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(ping_set_get_against_a_libuv_server),
        ah_unit_test(round_trips_take_the_network_latency),
        ah_unit_test(ping_set_get_against_a_scripted_peer),
        ah_unit_test(late_reply_lands_at_exactly_250_ms),
        ah_unit_test(command_abandoned_by_a_timer),
        ah_unit_test(reset_in_the_middle_of_a_reply),
        ah_unit_test(refused_connect_stops_the_adapters_poll),
        ah_explore_test(rwsplit_reads_its_own_write_under_jitter),
    };
    signal(SIGPIPE, SIG_IGN); /* as a Redis client must: hiredis writes with write(2) */
    return ah_run_tests(tests);
}
