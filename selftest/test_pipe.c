/* Pipes (uv_pipe_t) on the fake network: paths live in the sim's own namespace (no file is
 * created). A connect to a path nobody bound fails with UV_ENOENT, to a bound path nobody listens
 * on with UV_ECONNREFUSED (both through the loop, as libuv); a listener accepts, bytes flow both
 * ways, and a scripted peer can listen on a path too. */
#include "netkit.h"

#include <stdlib.h>
#include <unistd.h>

static uv_pipe_t server, sconn, client;
static uv_connect_t creq;
static uv_write_t wreq;
static char in[256];
static size_t got;

static void on_close(uv_handle_t *h) { netlog_add("close %s", (const char *)h->data); }

static void on_connect(uv_connect_t *req, int status)
{
    netlog_add("connect %s", rc_str(status));
    if (status < 0)
        uv_close((uv_handle_t *)req->handle, on_close);
}

static void p_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(in + got, (unsigned)(sizeof(in) - got));
}

static void p_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread > 0) {
        got += (size_t)nread;
        netlog_add("%s read %d", (const char *)s->data, (int)nread);
    } else if (nread < 0) {
        netlog_add("%s read %s", (const char *)s->data, uv_err_name((int)nread));
        uv_close((uv_handle_t *)s, on_close);
    }
}

static void on_connection(uv_stream_t *s, int status)
{
    netlog_add("connection %s", rc_str(status));
    uv_pipe_init(s->loop, &sconn, 0);
    sconn.data = "server conn";
    assert_int_equal(uv_accept(s, (uv_stream_t *)&sconn), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&sconn, p_alloc, p_read), 0);
}

static void reset_state(void)
{
    netlog[0] = '\0';
    got = 0;
    server.data = "server";
    client.data = "client";
}

static void connect_to_an_unbound_path_is_enoent(void **state)
{
    ah_sim *sim = *state;

    reset_state();
    uv_pipe_init(uv_default_loop(), &client, 0);
    uv_pipe_connect(&creq, &client, "/run/nothing.sock", on_connect);
    ah_run_until_idle(sim);
    assert_log("0 connect ENOENT|0 close client");
}

/* A path that names a real file which is no socket (libuv's pipe_connect_to_file): Linux's
 * connect(2) refuses it, ECONNREFUSED; the twin above (nothing at the path) stays ENOENT. */
static void connect_to_a_real_file_is_refused(void **state)
{
    ah_sim *sim = *state;
    char path[64];
    int fd;

    reset_state();
    snprintf(path, sizeof(path), "/tmp/ah_pipe_file_XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    uv_pipe_init(uv_default_loop(), &client, 0);
    uv_pipe_connect(&creq, &client, path, on_connect);
    ah_run_until_idle(sim);
    unlink(path);
    assert_log("0 connect ECONNREFUSED|0 close client");
}

static void connect_to_a_bound_path_without_listen_is_refused(void **state)
{
    ah_sim *sim = *state;

    reset_state();
    uv_pipe_init(uv_default_loop(), &server, 0);
    assert_int_equal(uv_pipe_bind(&server, "/run/kv.sock"), 0);
    assert_int_equal(uv_pipe_bind(&server, "/run/kv.sock"), UV_EINVAL); /* already bound */
    uv_pipe_init(uv_default_loop(), &client, 0);
    assert_int_equal(uv_pipe_bind(&client, "/run/kv.sock"), UV_EADDRINUSE);
    uv_pipe_connect(&creq, &client, "/run/kv.sock", on_connect);
    ah_run_until_idle(sim);
    assert_log("0 connect ECONNREFUSED|0 close client");
    uv_close((uv_handle_t *)&server, NULL);
    ah_run_until_idle(sim);
}

static void bytes_flow_over_a_pipe_and_eof_ends_it(void **state)
{
    ah_sim *sim = *state;
    uv_buf_t b = uv_buf_init("over the pipe", 13);
    char name[64];
    size_t len = sizeof(name);

    reset_state();
    uv_pipe_init(uv_default_loop(), &server, 0);
    assert_int_equal(uv_pipe_bind(&server, "/run/kv.sock"), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&server, 8, on_connection), 0);
    uv_pipe_init(uv_default_loop(), &client, 0);
    uv_pipe_connect(&creq, &client, "/run/kv.sock", on_connect);
    assert_int_equal(uv_write(&wreq, (uv_stream_t *)&client, &b, 1, NULL), 0);
    ah_run_until_idle(sim);
    assert_int_equal(uv_pipe_getpeername(&client, name, &len), 0);
    assert_string_equal(name, "/run/kv.sock");
    len = sizeof(name);
    assert_int_equal(uv_pipe_getsockname(&sconn, name, &len), 0);
    assert_string_equal(name, "/run/kv.sock");
    len = sizeof(name);
    assert_int_equal(uv_pipe_getsockname(&client, name, &len), 0);
    assert_int_equal(len, 0); /* the client's socket has no name */
    uv_close((uv_handle_t *)&client, on_close);
    ah_run_until_idle(sim);
    /* both closed before the closing phase: their callbacks run newest first, as libuv's */
    assert_log("0 connection 0|0 connect 0|0 server conn read 13|0 server conn read EOF|"
               "0 close server conn|0 close client");
    assert_memory_equal(in, "over the pipe", 13);
    uv_close((uv_handle_t *)&server, NULL);
    ah_run_until_idle(sim);
}

static void a_closed_listener_frees_its_path(void **state)
{
    ah_sim *sim = *state;

    reset_state();
    uv_pipe_init(uv_default_loop(), &server, 0);
    assert_int_equal(uv_pipe_bind(&server, "/run/kv.sock"), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&server, 8, on_connection), 0);
    uv_close((uv_handle_t *)&server, NULL);
    ah_run_until_idle(sim);
    uv_pipe_init(uv_default_loop(), &server, 0);
    assert_int_equal(uv_pipe_bind(&server, "/run/kv.sock"), 0); /* libuv unlinked it */
    uv_close((uv_handle_t *)&server, NULL);
    ah_run_until_idle(sim);
}

static void a_scripted_peer_listens_on_a_path(void **state)
{
    ah_sim *sim = *state;
    ah_peer *p = ah_net_listen(sim, "/run/peer.sock");
    uv_buf_t b = uv_buf_init("hi", 2);

    ah_peer_expect(p, "hi");
    ah_peer_reply_after(p, 12, "yo");
    ah_peer_close(p);
    reset_state();
    uv_pipe_init(uv_default_loop(), &client, 0);
    uv_pipe_connect(&creq, &client, "/run/peer.sock", on_connect);
    assert_int_equal(uv_write(&wreq, (uv_stream_t *)&client, &b, 1, NULL), 0);
    /* as libuv: a connecting stream is already readable and writable */
    assert_int_equal(uv_read_start((uv_stream_t *)&client, p_alloc, p_read), 0);
    ah_run_until_idle(sim);
    assert_log("0 connect 0|12 client read 2|12 client read EOF|12 close client");
}

static void ipc_pipes_count_no_pending_handles(void **state)
{
    ah_sim *sim = *state;
    uv_pipe_t ipc;

    uv_pipe_init(uv_default_loop(), &ipc, 1);
    assert_int_equal(uv_pipe_pending_count(&ipc), 0);
    assert_int_equal(uv_pipe_pending_type(&ipc), UV_UNKNOWN_HANDLE);
    uv_close((uv_handle_t *)&ipc, NULL);
    ah_run_until_idle(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(connect_to_an_unbound_path_is_enoent),
        ah_unit_test(connect_to_a_real_file_is_refused),
        ah_unit_test(connect_to_a_bound_path_without_listen_is_refused),
        ah_unit_test(bytes_flow_over_a_pipe_and_eof_ends_it),
        ah_unit_test(a_closed_listener_frees_its_path),
        ah_unit_test(a_scripted_peer_listens_on_a_path),
        ah_unit_test(ipc_pipes_count_no_pending_handles),
    };
    return ah_run_tests(tests);
}
