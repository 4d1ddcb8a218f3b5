/* The host's limits in the fake network: a connection reaching a listener that has no
 * connection callback is reported (libuv would call NULL); while the process is out of
 * descriptors connections are accepted and dropped, never reaching the callback; binding an
 * address that is not the host's fails unless the test declares it. */
#include <ah/ah.h>

#include <cmocka.h>
#include <string.h>

static uv_tcp_t server, sconn, client;
static uv_connect_t creq;
static int connections, connect_status = 1, read_status = 1;
static char rbuf[64];

static void on_connection(uv_stream_t *s, int status)
{
    (void)status;
    connections++;
    uv_tcp_init(s->loop, &sconn);
    assert_int_equal(uv_accept(s, (uv_stream_t *)&sconn), 0);
    uv_close((uv_handle_t *)&sconn, NULL);
}

static void alloc_c(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread == 0)
        return;
    read_status = (int)nread;
    uv_close((uv_handle_t *)s, NULL);
}

static void on_connect(uv_connect_t *req, int status)
{
    connect_status = status;
    if (status == 0)
        uv_read_start(req->handle, alloc_c, client_read);
}

static void listen_at(uv_connection_cb cb)
{
    struct sockaddr_in a;

    uv_ip4_addr("127.0.0.1", 7000, &a);
    uv_tcp_init(uv_default_loop(), &server);
    assert_int_equal(uv_tcp_bind(&server, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&server, 8, cb), 0);
    uv_tcp_init(uv_default_loop(), &client);
    assert_int_equal(uv_tcp_connect(&creq, &client, (const struct sockaddr *)&a, on_connect), 0);
}

static void null_callback_body(ah_sim *sim, void *ctx)
{
    listen_at(ctx != NULL ? on_connection : NULL);
    ah_run_until_idle(sim);
    uv_close((uv_handle_t *)&server, NULL);
    ah_run_until_idle(sim);
}

static void a_connection_to_a_null_callback_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, null_callback_body, NULL,
                         "which listens with a NULL connection callback (uv_listen in "
                         "listen_at (test_net_limits.c:");
    ah_assert_fails_with(NULL, null_callback_body, NULL,
                         "uv_tcp_t #1 [tcp listening on 127.0.0.1:7000]");
    ah_assert_passes(NULL, null_callback_body, (void *)1);
}

static void out_of_descriptors_drops_connections(void **state)
{
    ah_sim *sim = *state;

    connections = 0;
    ah_net_out_of_descriptors(sim, 1);
    listen_at(on_connection);
    ah_run_until_idle(sim);
    assert_int_equal(connections, 0);
    assert_int_equal(connect_status, 0); /* the kernel had accepted it */
    assert_int_equal(read_status, UV_EOF);
    ah_net_out_of_descriptors(sim, 0);
    uv_tcp_init(uv_default_loop(), &client);
    {
        struct sockaddr_in a;
        uv_ip4_addr("127.0.0.1", 7000, &a);
        uv_tcp_connect(&creq, &client, (const struct sockaddr *)&a, on_connect);
    }
    ah_run_until_idle(sim);
    assert_int_equal(connections, 1);
    uv_close((uv_handle_t *)&server, NULL);
    ah_run_until_idle(sim);
}

static void only_local_addresses_can_be_bound(void **state)
{
    ah_sim *sim = *state;
    uv_tcp_t t;
    uv_udp_t u;
    struct sockaddr_in a;

    uv_ip4_addr("192.168.1.5", 80, &a);
    uv_tcp_init(uv_default_loop(), &t);
    uv_udp_init(uv_default_loop(), &u);
    assert_int_equal(uv_tcp_bind(&t, (const struct sockaddr *)&a, 0), UV_EADDRNOTAVAIL);
    assert_int_equal(uv_udp_bind(&u, (const struct sockaddr *)&a, 0), UV_EADDRNOTAVAIL);
    ah_net_local_address(sim, "192.168.1.5");
    assert_int_equal(uv_tcp_bind(&t, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_udp_bind(&u, (const struct sockaddr *)&a, 0), 0);
    uv_close((uv_handle_t *)&t, NULL);
    uv_close((uv_handle_t *)&u, NULL);
    ah_run_until_idle(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(a_connection_to_a_null_callback_is_reported),
        ah_unit_test(out_of_descriptors_drops_connections),
        ah_unit_test(only_local_addresses_can_be_bound),
    };
    return ah_run_tests(tests);
}
