/* The code under test of the consumer project: plain libuv, no harness. ping() connects, sends
 * "ping\n", and calls back with 0 when "pong\n" comes back, or UV_ETIMEDOUT after timeout_ms. */
#ifndef PING_H
#define PING_H

#include <uv.h>

typedef struct ping_s ping_t;
typedef void (*ping_cb)(ping_t *p, int status);

struct ping_s {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect;
    uv_write_t write;
    char buf[16];
    size_t got;
    int status, pending_closes;
    ping_cb cb;
};

int ping(uv_loop_t *loop, ping_t *p, const char *ip, int port, uint64_t timeout_ms, ping_cb cb);

#endif
