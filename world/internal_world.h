/* Between the parts of the world room (docs/world.md): world.c runs the world, faults.c crashes
 * its members and cuts or slows the traffic between two of its processes. */
#ifndef AH_INTERNAL_WORLD_H
#define AH_INTERNAL_WORLD_H

#include "../proc/internal_proc.h"

/* The member at end `side` of a connection of the owner's network, or NULL when that end is the
 * owner's own (its socket, a scripted peer) or not known yet (not accepted): world.c, which alone
 * knows its ends, sets it at start-up (faults.c calls it, and calls nothing of world.c). */
extern ah__proc *(*ah__world_end_proc)(const ah__conn *c, int side);

/* faults.c: a connection of the owner's network got a member at one of its ends (world.c calls
 * it when a member connects, and when a connection reaches a member's listener): the faults set
 * between its two processes apply to it. */
void ah__world_conn_made(ah_sim *sim, ah__conn *c);

/* faults.c: whether a partition (ah_world_partition) holds between processes x and y (NULL: the
 * owner); a datagram between them is lost (world.c). */
int ah__world_pair_cut(ah_sim *sim, const ah__proc *x, const ah__proc *y);

/* dns.c: the owner's DNS table as one message's payload (*p ah__malloc'ed, NULL and 0 when the
 * table is empty), and a member's table replaced by such a copy. */
void ah__world_dns_pack(ah_sim *sim, unsigned char **p, size_t *n);
void ah__world_dns_apply(ah_sim *sim, const unsigned char *p, size_t n);

/* teardown.c: what member `pr` left behind at its exit (its sim's teardown report), reported at
 * the owner's teardown naming the process. */
void ah__world_teardown_report(ah_sim *sim, const ah__proc *pr, const char *report, uint64_t at_ms);

/* world.c: ah-world's side (tools/ah-world.c): listens on the unix socket `path` for `n` programs
 * started with AH_WORLD=path (up to join_ms of real time), makes them members of the current
 * sim's world in the order of their program names; their pids in `pids`, programs in `names`; how
 * many joined, or -1. */
int ah__world_serve(const char *path, int n, int join_ms, int *pids, char (*names)[256]);

#endif
