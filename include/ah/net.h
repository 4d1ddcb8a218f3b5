/* The fake network, DNS and thread pool of a sim (docs/network.md).
 *
 * Unchanged libuv code does TCP (uv_tcp_t), pipes (uv_pipe_t), name resolution
 * (uv_getaddrinfo) and thread-pool work (uv_queue_work) inside the sim. A connect reaches a
 * listener in the same sim: plain libuv server code (uv_tcp_bind + uv_listen) or a scripted peer
 * made here; any other address refuses it. Every byte, delay and fault is under the test's
 * control, and every open choice (jitter, chunk sizes) is drawn from the sim's seeded oracle.
 *
 * Addresses are strings: "127.0.0.1:6379", "[::1]:80", or a pipe path ("/tmp/kv.sock"). A
 * pattern (partitions) may also be a bare host ("10.0.0.5") or "*". The code under test has the
 * address 127.0.0.1 (or ::1) toward loopback servers and 10.0.0.1 (or fd00::1) toward others;
 * its ephemeral ports count up from 50001.
 */
#ifndef AH_NET_H
#define AH_NET_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ah_sim ah_sim;
typedef struct ah_peer ah_peer;

/* ---- scripted peers ---- */

/* Listens on `addr` with a scripted peer owned by the sim and returns it. Each connection the peer
 * accepts runs the next script (see ah_peer_next_connection); the steps below are appended to the
 * last script. Fails the test if something already listens on `addr`. */
ah_peer *ah_net_listen(ah_sim *sim, const char *addr);
/* Stops accepting on `addr` (scripted or not): later connects are refused. Open connections
 * stay. */
void ah_net_unlisten(ah_sim *sim, const char *addr);

/* Waits for the client to send exactly these bytes, in any chunking. Other bytes fail the test
 * showing expected and received bytes. */
void ah_peer_expect(ah_peer *p, const char *bytes);
void ah_peer_expect_n(ah_peer *p, const void *bytes, size_t n);
/* Waits for the client to close its sending side (EOF); bytes instead fail the test. */
void ah_peer_expect_eof(ah_peer *p);
/* Sends bytes to the client now, or `ms` after the step is reached (the script waits). */
void ah_peer_reply(ah_peer *p, const char *bytes);
void ah_peer_reply_n(ah_peer *p, const void *bytes, size_t n);
void ah_peer_reply_after(ah_peer *p, uint64_t ms, const char *bytes);
void ah_peer_reply_after_n(ah_peer *p, uint64_t ms, const void *bytes, size_t n);
/* Waits `ms` before the next step. */
void ah_peer_delay(ah_peer *p, uint64_t ms);
/* Closes the peer's end (the client reads EOF). Bytes the client sends afterwards are answered
 * with a reset, as a closed socket does. Ends the script. */
void ah_peer_close(ah_peer *p);
/* Resets the connection (the client reads UV_ECONNRESET). Ends the script. */
void ah_peer_reset(ah_peer *p);
/* From here on the peer accepts every byte and never answers nor closes (a hung server). Ends the
 * script; a stalled script counts as used up. */
void ah_peer_stall(ah_peer *p);
/* Starts a new, empty script: the steps that follow apply to the next connection accepted after
 * the ones already scripted (reconnect tests). */
void ah_peer_next_connection(ah_peer *p);
/* The last script is also run by every further connection (it need not be used again). */
void ah_peer_repeat(ah_peer *p);
/* How many connections the peer has accepted so far. */
unsigned ah_peer_accept_count(const ah_peer *p);

/* ---- scripted clients ---- */

/* Connects a scripted client to `addr` now (a uv_listen of the code under test, a raw listener, or
 * anything that listens in the sim) and returns it, owned by the sim. It runs the same steps as a
 * listening peer, seen from the client's side: ah_peer_reply sends to the server, ah_peer_expect
 * waits for bytes from the server, ah_peer_expect_eof for the server's FIN, ah_peer_shutdown sends
 * the client's FIN and keeps reading, ah_peer_close/ah_peer_reset/ah_peer_stall end it. The steps
 * start once the handshake completes. A refused connect fails the test unless the script is empty
 * or the client is tolerant (ah_peer_tolerant); ah_peer_refused tells. */
ah_peer *ah_net_connect(ah_sim *sim, const char *addr);
/* Scripts one client: called once per client with its index (0-based) and the caller's ctx. */
typedef void (*ah_peer_script_fn)(ah_peer *p, unsigned i, void *ctx);
/* Connects `n` scripted clients to `addr` at the same instant, scripting each with script(p, i,
 * ctx); `out` (may be NULL) receives them. Their connects, requests and replies at one instant
 * are separate flows: under ah_explore their orderings are choices. */
void ah_net_connect_many(ah_sim *sim, const char *addr, unsigned n, ah_peer_script_fn script,
                         void *ctx, ah_peer **out);
/* A scripted UDP client of a server at `addr` (a uv_udp_t or raw socket bound there): its own
 * socket on the fake network, owned by the sim. ah_peer_reply sends one datagram to `addr`,
 * ah_peer_expect takes the next datagram that reaches the client and requires exactly these
 * bytes, ah_peer_delay / ah_peer_reply_after wait, ah_peer_close closes its socket,
 * ah_peer_stall takes everything from then on; the UDP faults of ah/udp.h apply to its
 * datagrams. Reports say "scripted UDP client #N to ADDR". */
ah_peer *ah_net_connect_udp(ah_sim *sim, const char *addr);
/* Sends the peer's FIN (a half-close) and goes on with the next step: the other end reads EOF
 * while this end still reads. */
void ah_peer_shutdown(ah_peer *p);
/* A tolerant peer accepts that the other end goes away (closes, resets, refuses) at any step: the
 * connection ends there, and steps it never reached, scripts no connection used and a refused
 * connect are not failures. Wrong bytes still are. For sweeps, explorations, clients that
 * reconnect, servers that drop clients. */
void ah_peer_tolerant(ah_peer *p);
/* About the peer's last connection (a client's only one): whether its connect was refused;
 * whether it ran its whole script; how many steps it ran. */
int ah_peer_refused(const ah_peer *p);
int ah_peer_done(const ah_peer *p);
size_t ah_peer_steps_run(const ah_peer *p);

/* Declares `host` ("192.168.1.5", "fe80::2") an address of the simulated host: uv_tcp_bind and
 * uv_udp_bind accept it. Loopback, the wildcard, 10.0.0.1 and fd00::1 are local from the start;
 * binding any other address fails with UV_EADDRNOTAVAIL, as on a real host. */
void ah_net_local_address(ah_sim *sim, const char *host);
/* While `on`, the process is out of descriptors (RLIMIT_NOFILE): a connection reaching a uv_listen
 * of the code under test is accepted and closed at once, as libuv's EMFILE trick does, and never
 * reaches its connection callback; the client sees EOF. A real RLIMIT_NOFILE that leaves no
 * descriptor free has the same effect. */
void ah_net_out_of_descriptors(ah_sim *sim, int on);

/* ---- faults, per server address (they apply to connections to `addr`, both directions) ---- */

/* Connects to `addr` are refused (UV_ECONNREFUSED), even if something listens there. */
void ah_net_refuse(ah_sim *sim, const char *addr);
/* Connects to `addr` never complete (the SYN is lost): the client's own timer must fire. They
 * proceed if the fault is cleared (ah_net_clear). */
void ah_net_connect_timeout(ah_sim *sim, const char *addr);
/* One-way latency of every segment (and half the connect round trip), drawn per segment in
 * [min_ms, max_ms] from the oracle. Bytes never overtake each other. */
void ah_net_latency(ah_sim *sim, const char *addr, uint64_t min_ms, uint64_t max_ms);
/* Latency of the one connection `stream` is an end of (overrides the address's). */
void ah_net_stream_latency(uv_stream_t *stream, uint64_t min_ms, uint64_t max_ms);
/* Bytes are sent in segments of at most `size` bytes, and a read returns at most one segment. */
void ah_net_chunking(ah_sim *sim, const char *addr, size_t size);
/* The same with each segment's size drawn from the oracle in [1, max]. */
void ah_net_chunking_random(ah_sim *sim, const char *addr, size_t max);
/* uv_try_write on connections to `addr` writes at most `max_bytes` (0: returns UV_EAGAIN). */
void ah_net_short_write(ah_sim *sim, const char *addr, size_t max_bytes);
/* The next write (uv_write or uv_try_write) on a connection to `addr` fails with `err`
 * (UV_EPIPE, UV_ECONNRESET, ...); that connection's later writes fail with UV_EPIPE. */
void ah_net_write_error(ah_sim *sim, const char *addr, int err);
/* Bytes to and from `addr` stop arriving (they stay in flight) until ah_net_release. */
void ah_net_hold(ah_sim *sim, const char *addr);
void ah_net_release(ah_sim *sim, const char *addr);
/* Nothing passes between addresses matching pattern `a` and pattern `b` (bytes wait, connects
 * hang) until healed. ah_net_heal(sim, NULL, NULL) heals every partition. */
void ah_net_partition(ah_sim *sim, const char *a, const char *b);
void ah_net_heal(ah_sim *sim, const char *a, const char *b);
/* Resets the open connections to `addr` now; ah_net_reset_all resets every open connection of
 * the sim (the explorer's sweep fault). Scripts cut short by it are not reported as unused. */
void ah_net_reset(ah_sim *sim, const char *addr);
void ah_net_reset_all(ah_sim *sim);
/* Lifts every fault set on `addr` (refuse, connect timeout, latency, chunking, short write,
 * write error, hold). Connects held by a connect timeout proceed. */
void ah_net_clear(ah_sim *sim, const char *addr);

/* ---- DNS: what uv_getaddrinfo and uv_getnameinfo answer ---- */

/* Adds a numeric IPv4 or IPv6 address to `name` (several calls: several addresses, in order).
 * Numeric hosts resolve without the table, "localhost" to 127.0.0.1 and ::1 unless added. */
void ah_dns_add(ah_sim *sim, const char *name, const char *address);
/* Lookups of `name` take `ms` of virtual time (they occupy a thread-pool thread). */
void ah_dns_latency(ah_sim *sim, const char *name, uint64_t ms);
/* Lookups of `name` fail with `err` (UV_EAI_NONAME, UV_EAI_AGAIN, ...). */
void ah_dns_fail(ah_sim *sim, const char *name, int err);

/* ---- the thread pool behind uv_queue_work and the resolver ---- */

/* Work whose work callback is `work_cb` lasts `ms` of virtual time (default 0: the after-work
 * callback runs in the poll after the work ran). */
void ah_threadpool_duration(ah_sim *sim, uv_work_cb work_cb, uint64_t ms);
/* Work queued by the uv_queue_work call at file:line (file's base name) lasts `ms`. */
void ah_threadpool_duration_at(ah_sim *sim, const char *file, int line, uint64_t ms);
/* Threads of the pool (default UV_THREADPOOL_SIZE or 4): work beyond it waits for a thread. */
void ah_threadpool_size(ah_sim *sim, unsigned threads);

#ifdef __cplusplus
}
#endif

/* The steps of a script record where they were written, for reports. */
#if !defined(AH_NO_SITES) && !defined(AH_BUILDING_HARNESS)
#ifdef __cplusplus
extern "C" {
#endif
void ah__site_mark(const char *file, int line, const char *func, const char *fn);
/* Marks the site of the ah_peer_* call about to run, after its peer argument was evaluated (so
 * ah_peer_stall(ah_net_listen(...)) records both sites). Returns p. */
ah_peer *ah__peer_mark(ah_peer *p, const char *file, int line, const char *func, const char *fn);
#ifdef __cplusplus
}
#endif
#define AH__NET_SITE(fn, ...) (ah__site_mark(__FILE__, __LINE__, __func__, #fn), fn(__VA_ARGS__))
#define AH__PEER_SITE(fn, p) fn(ah__peer_mark((p), __FILE__, __LINE__, __func__, #fn))
#define AH__PEER_SITE_ARGS(fn, p, ...)                                                             \
    fn(ah__peer_mark((p), __FILE__, __LINE__, __func__, #fn), __VA_ARGS__)
#define ah_net_listen(...) AH__NET_SITE(ah_net_listen, __VA_ARGS__)
#define ah_net_connect(...) AH__NET_SITE(ah_net_connect, __VA_ARGS__)
#define ah_net_connect_many(...) AH__NET_SITE(ah_net_connect_many, __VA_ARGS__)
#define ah_net_connect_udp(...) AH__NET_SITE(ah_net_connect_udp, __VA_ARGS__)
#define ah_peer_shutdown(p) AH__PEER_SITE(ah_peer_shutdown, p)
#define ah_peer_expect(p, ...) AH__PEER_SITE_ARGS(ah_peer_expect, p, __VA_ARGS__)
#define ah_peer_expect_n(p, ...) AH__PEER_SITE_ARGS(ah_peer_expect_n, p, __VA_ARGS__)
#define ah_peer_expect_eof(p) AH__PEER_SITE(ah_peer_expect_eof, p)
#define ah_peer_reply(p, ...) AH__PEER_SITE_ARGS(ah_peer_reply, p, __VA_ARGS__)
#define ah_peer_reply_n(p, ...) AH__PEER_SITE_ARGS(ah_peer_reply_n, p, __VA_ARGS__)
#define ah_peer_reply_after(p, ...) AH__PEER_SITE_ARGS(ah_peer_reply_after, p, __VA_ARGS__)
#define ah_peer_reply_after_n(p, ...) AH__PEER_SITE_ARGS(ah_peer_reply_after_n, p, __VA_ARGS__)
#define ah_peer_delay(p, ...) AH__PEER_SITE_ARGS(ah_peer_delay, p, __VA_ARGS__)
#define ah_peer_close(p) AH__PEER_SITE(ah_peer_close, p)
#define ah_peer_reset(p) AH__PEER_SITE(ah_peer_reset, p)
#define ah_peer_stall(p) AH__PEER_SITE(ah_peer_stall, p)
#define ah_peer_next_connection(p) AH__PEER_SITE(ah_peer_next_connection, p)
#endif

#endif
