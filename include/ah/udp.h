/* UDP on the fake network (docs/udp.md).
 *
 * Unchanged libuv code using uv_udp_t sends and receives datagrams inside the sim: a datagram
 * sent to an address where a uv_udp_t of the sim is bound reaches it (unicast, multicast to the
 * members of a group, broadcast to 255.255.255.255 with SO_BROADCAST); to any other address it
 * is sent and silently gone, as on a real network. By default a datagram arrives at the instant
 * it is sent, in order, once and whole. The faults below change that per destination: `addr` is
 * "127.0.0.1:9000", a bare host ("10.0.0.5", "::1") or "*" for every destination; the most
 * specific rule applies. Every random decision (which datagram is lost, duplicated, delayed by
 * how much) is drawn from the sim's seeded oracle, so a failing schedule replays and the
 * explorer can search them.
 */
#ifndef AH_UDP_H
#define AH_UDP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ah_sim ah_sim;

/* One-way latency of each datagram to `addr`, drawn in [min_ms, max_ms]. Datagrams still
 * arrive in the order they were sent unless ah_udp_reorder is set. */
void ah_udp_latency(ah_sim *sim, const char *addr, uint64_t min_ms, uint64_t max_ms);
/* Each datagram to `addr` is lost with probability percent/100 (0 turns it off). */
void ah_udp_loss(ah_sim *sim, const char *addr, unsigned percent);
/* The next `n` datagrams to `addr` are lost (deterministic; adds to any count left). */
void ah_udp_drop_next(ah_sim *sim, const char *addr, unsigned n);
/* Each datagram to `addr` arrives twice with probability percent/100. */
void ah_udp_duplicate(ah_sim *sim, const char *addr, unsigned percent);
/* Each datagram to `addr` is delayed by an extra [0, max_delay_ms], so later ones may overtake
 * it. */
void ah_udp_reorder(ah_sim *sim, const char *addr, uint64_t max_delay_ms);
/* Datagrams to `addr` longer than `mtu` bytes arrive cut to `mtu` bytes (0 turns it off). */
void ah_udp_mtu(ah_sim *sim, const char *addr, size_t mtu);
/* Sends to `addr` fail at once with `err`, as the kernel refuses them: UV_ENETUNREACH or
 * UV_EHOSTUNREACH (no route), UV_EMSGSIZE (beyond the path's MTU with DF), UV_ENOBUFS (the
 * device queue is full), UV_EPERM/UV_EACCES (a firewall). uv_udp_try_send and sendto(2) return
 * it; uv_udp_send passes it to its callback. The next `times` sends (0: every one until
 * ah_udp_clear). */
void ah_udp_send_error(ah_sim *sim, const char *addr, int err, unsigned times);
/* Datagrams to `addr` are lost and the network answers each with an ICMP error: UV_ECONNREFUSED
 * (port unreachable), UV_EHOSTUNREACH or UV_ENETUNREACH. As on Linux, only a connected socket
 * (uv_udp_connect, connect(2)) hears it: its next send or receive fails with it, once; an
 * unconnected socket's sends succeed and nothing is reported. 0 turns it off. */
void ah_udp_icmp_error(ah_sim *sim, const char *addr, int err);
/* Removes every fault set for exactly `addr`. */
void ah_udp_clear(ah_sim *sim, const char *addr);

/* Counts of the sim's datagrams so far. */
typedef struct ah_udp_stats {
    uint64_t sent;       /* datagrams sent by the code under test */
    uint64_t delivered;  /* copies that reached a bound socket's receive queue */
    uint64_t lost;       /* dropped by ah_udp_loss / ah_udp_drop_next */
    uint64_t duplicated; /* sent twice by ah_udp_duplicate */
    uint64_t truncated;  /* cut by ah_udp_mtu */
    uint64_t overflowed; /* dropped because a receive queue was full */
} ah_udp_stats;
ah_udp_stats ah_udp_get_stats(ah_sim *sim);

#ifdef __cplusplus
}
#endif

#endif
