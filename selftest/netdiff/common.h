/* A loopback server and a client connected to it, for the scenarios that study one connection:
 * connect_pair(on_ready) runs the loop until both ends exist, then calls on_ready(). */
#ifndef NETDIFF_COMMON_H
#define NETDIFF_COMMON_H

#include "trace.h"

static uv_loop_t *loop;
static uv_tcp_t server, sconn, client;
static uv_connect_t creq;
static int pair_connected, pair_accepted;
static void (*pair_ready)(void);

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void pair_check(void)
{
    if (pair_connected && pair_accepted)
        pair_ready();
}

static void pair_on_connection(uv_stream_t *s, int status)
{
    V("server connection", status);
    uv_tcp_init(loop, &sconn);
    sconn.data = "server conn";
    V("server accept", uv_accept(s, (uv_stream_t *)&sconn));
    uv_close((uv_handle_t *)&server, on_close);
    pair_accepted = 1;
    pair_check();
}

static void pair_on_connect(uv_connect_t *req, int status)
{
    (void)req;
    V("client connect_cb", status);
    pair_connected = 1;
    pair_check();
}

static int connect_pair(void (*on_ready)(void))
{
    struct sockaddr_in a;

    loop = uv_default_loop();
    server.data = "server";
    client.data = "client";
    pair_ready = on_ready;
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", 0, &a);
    V("server bind", uv_tcp_bind(&server, (const struct sockaddr *)&a, 0));
    V("server listen", uv_listen((uv_stream_t *)&server, 16, pair_on_connection));
    uv_ip4_addr("127.0.0.1", bound_port(&server), &a);
    uv_tcp_init(loop, &client);
    V("client connect",
      uv_tcp_connect(&creq, &client, (const struct sockaddr *)&a, pair_on_connect));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
}

#endif
