/* kvclient: a small asynchronous Redis (RESP2) client on plain libuv.
 *
 * One TCP connection per client, pipelined commands whose replies are matched in FIFO order, a
 * timeout per command, and reconnection with exponential backoff and jitter. Every function
 * returns 0 or a negative UV_E* code, as libuv does. Single-threaded: call everything from the
 * loop's thread. The client uses only uv.h and libc, so it runs unchanged on the asyncharness
 * simulation. docs/kvclient.md has the full contract. */
#ifndef KVCLIENT_H
#define KVCLIENT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "resp.h"

typedef struct kv_client kv_client;
typedef struct kv_req kv_req;

/* Jitter source for reconnect delays. */
typedef uint32_t (*kv_rand_fn)(void *ctx);

/* A field left 0 takes its default, so `&(kv_opts){.timeout_ms = 5000}` works; opts may be NULL.
 *
 * Reconnect delays: the k-th consecutive reconnect attempt (k = 1, 2, ...) waits
 *     base_k   = min(backoff_initial_ms * 2^(k-1), backoff_max_ms)
 *     delay_ms = base_k / 2 + rand_fn(rand_ctx) % (base_k / 2 + 1)
 * in integer arithmetic, with exactly one rand_fn call per delay, made when the attempt that
 * failed is given up (so the delay lies in [base_k/2, base_k/2 + base_k/2]). The default rand_fn
 * is xorshift32 seeded with KV_RAND_SEED per client, so every run waits the same delays. */
typedef struct kv_opts {
    uint64_t connect_timeout_ms; /* resolve + TCP connect, per attempt; default 2000 */
    uint64_t timeout_ms;         /* per command, from the kv_* call to its reply; default 1000 */
    uint64_t backoff_initial_ms; /* default 100 */
    uint64_t backoff_max_ms;     /* default 5000 */
    unsigned max_retries;        /* reconnect attempts before failing queued commands, default 5 */
    kv_rand_fn rand_fn;          /* default: xorshift32 seeded with KV_RAND_SEED */
    void *rand_ctx;
} kv_opts;

#define KV_DEFAULT_CONNECT_TIMEOUT_MS 2000
#define KV_DEFAULT_TIMEOUT_MS 1000
#define KV_DEFAULT_BACKOFF_INITIAL_MS 100
#define KV_DEFAULT_BACKOFF_MAX_MS 5000
#define KV_DEFAULT_MAX_RETRIES 5
#define KV_RAND_SEED 0x9e3779b9u
/* For connect_timeout_ms or timeout_ms: never time out. */
#define KV_NO_TIMEOUT UINT64_MAX
/* For max_retries: no reconnect attempt; a failed connection fails the queued commands at once. */
#define KV_NO_RETRIES UINT_MAX

/* Completion of one command. status 0: reply is the server's answer (it may be an error reply,
 * KV_REPLY_ERROR); reply is owned by the client and valid only during the call. status < 0: the
 * command failed (UV_ETIMEDOUT, UV_ECANCELED, UV_ECONNRESET, UV_ECONNREFUSED, UV_EOF, UV_EPROTO,
 * UV_EAI_*, ...) and reply is NULL. Called exactly once per command, always from a loop
 * callback, never from inside the kv_* call that issued it. req is freed when it returns. */
typedef void (*kv_cb)(kv_req *req, int status, const kv_reply *reply, void *data);

/* Called once kv_close has finished: every handle closed, every command's callback run. The
 * client's memory is released when it returns; call nothing on it. */
typedef void (*kv_close_cb)(kv_client *client, void *data);

/* Creates a client and starts connecting at once (uv_getaddrinfo, then uv_tcp_connect); commands
 * issued before the connection is up are queued and sent when it is. host and opts are copied.
 * Returns NULL only when memory runs out or an argument is invalid. Free it with kv_close. */
kv_client *kv_new(uv_loop_t *loop, const char *host, int port, const kv_opts *opts);

/* Each issues one command and returns its request, or NULL (and cb is never called) when memory
 * runs out or an argument is NULL. The request stays valid until its callback returns. */
kv_req *kv_ping(kv_client *c, kv_cb cb, void *data);
kv_req *kv_get(kv_client *c, const char *key, kv_cb cb, void *data);
/* SET key val, with PX expire_ms when expire_ms > 0. */
kv_req *kv_set(kv_client *c, const char *key, const char *val, uint64_t expire_ms, kv_cb cb,
               void *data);
kv_req *kv_del(kv_client *c, const char *key, kv_cb cb, void *data);
kv_req *kv_incr(kv_client *c, const char *key, kv_cb cb, void *data);
/* Any command: argc >= 1 arguments; argvlen may be NULL for NUL-terminated ones. */
kv_req *kv_command(kv_client *c, int argc, const char **argv, const size_t *argvlen, kv_cb cb,
                   void *data);

/* Cancels a request whose callback has not been scheduled yet: its callback fires once with
 * UV_ECANCELED on a later loop turn (a 0 ms timer), never inside kv_cancel. If the command was
 * already sent, its reply is read and discarded when it comes. Returns 0, or UV_EALREADY when
 * the request's outcome is already decided (its callback is scheduled or running). */
int kv_cancel(kv_req *req);

/* Fails every pending command with UV_ECANCELED and closes every handle and request. The
 * callbacks fire from the loop, never inside kv_close; after the last handle's close callback
 * and the last command callback, closed_cb (may be NULL) is called and the memory is freed. Issuing
 * commands on a closing client fails them with UV_ECANCELED; a second kv_close is ignored. */
void kv_close(kv_client *c, kv_close_cb closed_cb, void *data);

typedef struct kv_stats {
    uint64_t commands;         /* issued */
    uint64_t replies;          /* received, matched or discarded */
    uint64_t late_replies;     /* discarded: their command had timed out or been cancelled */
    uint64_t timeouts;         /* commands failed with UV_ETIMEDOUT */
    uint64_t connect_attempts; /* attempts started, the first one included */
    uint64_t connects;         /* attempts that succeeded */
    unsigned in_flight;        /* sent and waiting for a reply, placeholders included */
    unsigned queued;           /* waiting for a connection */
    int connected;
} kv_stats;

/* Copies the client's counters. */
void kv_client_stats(const kv_client *c, kv_stats *out);

#endif
