/* kvserver: a small key-value server on plain libuv, the example of docs/testing-your-server.md.
 *
 * A line protocol over TCP, one request per line ("\n" or "\r\n"), answered in order:
 *   SET key value  -> +OK              (after the log write and its fsync, when there is a log)
 *   GET key        -> $value | -ERR no such key
 *   DEL key        -> :1 | :0
 *   PING           -> +PONG
 *   QUIT           -> the server closes the connection
 * Limits: a connection idle for idle_timeout_ms is closed; a line longer than max_line gets
 * "-ERR line too long" and the connection is closed; beyond max_clients a new connection gets
 * "-ERR too many clients" and is closed. A heartbeat datagram "kvserver <clients>\n" goes to the
 * monitor every heartbeat_ms. kv_server_shutdown drains: it stops accepting, lets requests in
 * flight finish and be answered, closes every connection and calls back.
 */
#ifndef KVSERVER_H
#define KVSERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct kv_server kv_server;

typedef struct kv_server_opts {
    const char *host;         /* default "127.0.0.1" */
    int port;                 /* default 7000 */
    unsigned max_clients;     /* default 64 */
    uint64_t idle_timeout_ms; /* 0: never */
    size_t max_line;          /* default 1024 */
    const char *log_path;     /* append-only log replayed at start; NULL: memory only */
    uint64_t heartbeat_ms;    /* 0: none */
    const char *monitor_host; /* where heartbeats go; default "127.0.0.1" */
    int monitor_port;         /* default 9999 */
} kv_server_opts;

/* Starts listening on `loop`. Returns 0 with *out set, or a libuv error (bind, listen, log). */
int kv_server_start(uv_loop_t *loop, const kv_server_opts *opts, kv_server **out);
/* Drains and stops: done(arg) runs once everything is closed; the server is freed after it. */
void kv_server_shutdown(kv_server *s, void (*done)(void *arg), void *arg);

/* The value of `key` in memory, or NULL. */
const char *kv_server_get(const kv_server *s, const char *key);
/* Connections open now. */
unsigned kv_server_clients(const kv_server *s);
/* Heartbeats sent, and heartbeat sends that failed (the last error in *last_error). */
unsigned kv_server_heartbeats(const kv_server *s, unsigned *failed, int *last_error);

#endif
