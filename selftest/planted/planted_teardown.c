/* A failing test leaves nothing of the harness's own behind (issue 26, item 6): the planted test
 * fails with a server, its connections, requests in flight (a write to a stalled peer, a file
 * being opened, a DNS lookup, a pool job, a datagram), scripted peers, an ah_server with a
 * delayed answer, a raw socket and a repeating timer still running. Run under Valgrind
 * (planted_teardown_memcheck), its only report must be the failure: every handle and request
 * here is static memory, so any leak would be the harness's. The twin stops everything and
 * passes. */
#include <ah/ah.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

static uv_tcp_t server, accepted[3], clients[2], to_peer, to_ah;
static uv_connect_t connects[2], connect_peer, connect_ah;
static uv_write_t writes[3];
static uv_timer_t heartbeat;
static uv_udp_t udp;
static uv_udp_send_t dgram;
static uv_fs_t open_req;
static uv_getaddrinfo_t lookup;
static uv_work_t job;
static int n_accepted, raw_fd = -1;
static char bufs[4][256];

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)size;
    *buf = uv_buf_init(bufs[h == (uv_handle_t *)&to_ah ? 3 : n_accepted & 1], sizeof(bufs[0]));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)s;
    (void)n;
    (void)buf;
}

static void on_connection(uv_stream_t *srv, int status)
{
    uv_tcp_t *c = &accepted[n_accepted++];

    assert_int_equal(status, 0);
    uv_tcp_init(srv->loop, c);
    assert_int_equal(uv_accept(srv, (uv_stream_t *)c), 0);
    uv_read_start((uv_stream_t *)c, alloc_cb, read_cb);
}

static void on_connect(uv_connect_t *req, int status)
{
    static uv_buf_t hello = {"set k v\n", 8};

    assert_int_equal(status, 0);
    if (req == &connect_ah) {
        uv_read_start(req->handle, alloc_cb, read_cb);
        uv_write(&writes[2], req->handle, &hello, 1, NULL);
    }
}

static void on_beat(uv_timer_t *t) { (void)t; }
static void on_open(uv_fs_t *req)
{
    uv_fs_t c;

    if (req->result >= 0)
        uv_fs_close(NULL, &c, (uv_file)req->result, NULL);
    uv_fs_req_cleanup(req);
}
static void on_lookup(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
    (void)req;
    (void)status;
    uv_freeaddrinfo(ai);
}
static void work_cb(uv_work_t *w) { (void)w; }
static void after_work(uv_work_t *w, int status)
{
    (void)w;
    (void)status;
}
static void on_sent(uv_udp_send_t *req, int status)
{
    (void)req;
    (void)status;
}
static void slow_answer(ah_request *req, void *ctx)
{
    (void)ctx;
    ah_request_delay(req, 60000);
    ah_request_reply_str(req, "OK\n");
}

/* Everything running at +50 ms; returns with all of it still in flight. */
static void start_everything(ah_sim *sim)
{
    uv_loop_t *loop = uv_default_loop();
    struct sockaddr_in a;
    static char big[1 << 16];
    uv_buf_t b = uv_buf_init(big, sizeof(big));
    int i;
    ah_peer *peer, *client;

    n_accepted = 0;
    ah_fs_memory(sim);
    /* an in-sim libuv server with two libuv clients connected */
    uv_ip4_addr("127.0.0.1", 7000, &a);
    uv_tcp_init(loop, &server);
    assert_int_equal(uv_tcp_bind(&server, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&server, 16, on_connection), 0);
    for (i = 0; i < 2; i++) {
        uv_tcp_init(loop, &clients[i]);
        uv_tcp_connect(&connects[i], &clients[i], (const struct sockaddr *)&a, on_connect);
    }
    /* a scripted peer that takes a write and stalls: the write stays in flight */
    peer = ah_net_listen(sim, "127.0.0.1:7001");
    ah_peer_stall(peer);
    ah_peer_tolerant(peer);
    uv_ip4_addr("127.0.0.1", 7001, &a);
    uv_tcp_init(loop, &to_peer);
    uv_tcp_connect(&connect_peer, &to_peer, (const struct sockaddr *)&a, on_connect);
    /* an ah_server whose answer is a minute away */
    ah_server_start(sim, "127.0.0.1:7002", AH_FRAME_LINE, slow_answer, NULL);
    uv_ip4_addr("127.0.0.1", 7002, &a);
    uv_tcp_init(loop, &to_ah);
    uv_tcp_connect(&connect_ah, &to_ah, (const struct sockaddr *)&a, on_connect);
    /* a scripted client of the in-sim server with steps never reached */
    client = ah_net_connect(sim, "127.0.0.1:7000");
    ah_peer_reply(client, "ping\n");
    ah_peer_expect(client, "pong\n");
    ah_peer_tolerant(client);
    ah_advance(sim, 10);
    uv_write(&writes[0], (uv_stream_t *)&to_peer, &b, 1, NULL);
    uv_write(&writes[1], (uv_stream_t *)&to_peer, &b, 1, NULL);
    /* a heartbeat, a datagram, a file, a lookup and a job, all in flight */
    uv_timer_init(loop, &heartbeat);
    uv_timer_start(&heartbeat, on_beat, 10, 10);
    uv_udp_init(loop, &udp);
    uv_ip4_addr("127.0.0.1", 9999, &a);
    b = uv_buf_init(bufs[2], 32);
    uv_udp_send(&dgram, &udp, &b, 1, (const struct sockaddr *)&a, on_sent);
    ah_fs_latency(sim, UV_FS_OPEN, 1000);
    uv_fs_open(loop, &open_req, "/log", O_CREAT | O_WRONLY, 0644, on_open);
    ah_dns_latency(sim, "localhost", 1000);
    uv_getaddrinfo(loop, &lookup, on_lookup, "localhost", "80", NULL);
    ah_threadpool_duration(sim, work_cb, 1000);
    uv_queue_work(loop, &job, work_cb, after_work);
    raw_fd = socket(AF_INET, SOCK_STREAM, 0);
    ah_run_for(sim, 40);
}

static void fails_with_everything_running(void **state)
{
    ah_sim *sim = *state;

    start_everything(sim);
    assert_int_equal(n_accepted, 4); /* the planted failure: there are three */
}

static void on_close(uv_handle_t *h) { (void)h; }

static void stops_everything_then_passes(void **state)
{
    ah_sim *sim = *state;
    int i;

    start_everything(sim);
    assert_int_equal(n_accepted, 3);
    close(raw_fd);
    uv_cancel((uv_req_t *)&job);
    for (i = 0; i < 3; i++)
        uv_close((uv_handle_t *)&accepted[i], on_close);
    for (i = 0; i < 2; i++)
        uv_close((uv_handle_t *)&clients[i], on_close);
    uv_close((uv_handle_t *)&server, on_close);
    uv_close((uv_handle_t *)&to_peer, on_close);
    uv_close((uv_handle_t *)&to_ah, on_close);
    uv_close((uv_handle_t *)&heartbeat, on_close);
    uv_close((uv_handle_t *)&udp, on_close);
    ah_run_until_idle(sim);
}

int main(void)
{
    const char *which = getenv("AH_TEARDOWN");
    const struct CMUnitTest planted[] = {ah_unit_test(fails_with_everything_running)};
    const struct CMUnitTest twins[] = {ah_unit_test(stops_everything_then_passes)};

    if (which != NULL && strcmp(which, "twins") == 0)
        return ah_run_tests(twins);
    return ah_run_tests(planted);
}
