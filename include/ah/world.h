/* Faults across the processes of one world (docs/world.md): the owner of a world (the process
 * whose sim spawned harness-linked programs) crashes its members and cuts or slows the traffic
 * between two of its processes, in virtual time. */
#ifndef AH_WORLD_H
#define AH_WORLD_H

#include <signal.h>
#include <stdint.h>

#include <ah/explore.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ah_sim ah_sim;

/* Processes are named by a pattern: a member's program as it was started ("./kv_server",
 * "/usr/bin/kv_server") or its file name ("kv_server"), "self" for the owner (the process that
 * calls these), or "*" for every process of the world. */

/* Sends `signum` (SIGKILL: a crash) to every running member matching `program` (NULL: every
 * member) now: it is delivered at the member's next turn, at this instant, and its exit is seen
 * then (its exit_cb, its SIGCHLD, a FIN or reset on each of its connections). Returns how many
 * members it was sent to. */
int ah_world_kill(ah_sim *sim, const char *program, int signum);

/* Nothing passes between processes matching `a` and `b` (bytes and FINs wait in flight, in both
 * directions) until healed; connections opened later between them are held too, once both of
 * their ends are known. ah_world_heal(sim, NULL, NULL) heals every such partition. */
void ah_world_partition(ah_sim *sim, const char *a, const char *b);
void ah_world_heal(ah_sim *sim, const char *a, const char *b);
/* One-way latency, drawn per segment in [min_ms, max_ms], of every connection between processes
 * matching `a` and `b` (it overrides the server address's latency, ah_net_latency). */
void ah_world_latency(ah_sim *sim, const char *a, const char *b, uint64_t min_ms, uint64_t max_ms);

/* The sweep fault that crashes the world's members: ah_sweep_fault(NULL, body,
 * AH_FAULT_PROCESS_CRASH, ctx) kills (SIGKILL) every running member after step k, each k its own
 * run; the report names the step and the processes killed there. */
void ah__fault_process_crash(ah_sim *sim, void *ctx, int signum);
#define AH_FAULT_PROCESS_CRASH ((ah_fault){"process crash", ah__fault_process_crash, SIGKILL})

#ifdef __cplusplus
}
#endif

#endif
