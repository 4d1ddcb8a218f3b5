/* fakeclock: virtual time, the event queue and the seeded choice oracle.
 *
 * Pure C: this layer knows nothing of libuv or cmocka (design.md, "Layers"). The harness builds
 * its loops, timers and scheduled deliveries on these three pieces.
 */
#ifndef AH_FAKECLOCK_H
#define AH_FAKECLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Virtual clock in nanoseconds. It only moves when told to, and never backwards. */
typedef struct ah_fc_clock {
    uint64_t now_ns;
    uint64_t epoch_ns; /* where it started: ah_fc_clock_elapsed_ns() is relative to it */
} ah_fc_clock;

void ah_fc_clock_init(ah_fc_clock *clock, uint64_t epoch_ns);
/* Moves the clock to `to_ns`; a target in the past leaves it where it is. Returns the new now. */
uint64_t ah_fc_clock_set(ah_fc_clock *clock, uint64_t to_ns);
static inline uint64_t ah_fc_clock_elapsed_ns(const ah_fc_clock *clock)
{
    return clock->now_ns - clock->epoch_ns;
}

/* An intrusive queue node. It lives inside the object it schedules (a timer handle, a network
 * delivery, ...), so inserting allocates nothing. Its key is (due, seq): `due` is any unit the
 * owner of the queue chooses (ms for libuv timers, ns elsewhere); `seq` is assigned on insert
 * from a counter that only increases, so equal dues keep insertion order. */
typedef struct ah_fc_node {
    struct ah_fc_node *child; /* first child (pairing heap) */
    struct ah_fc_node *next;  /* next sibling */
    struct ah_fc_node *prev;  /* previous sibling, or the parent for a first child */
    uint64_t due;
    uint64_t seq;
} ah_fc_node;

typedef struct ah_fc_queue {
    ah_fc_node *root;
    size_t count;
    uint64_t next_seq;
} ah_fc_queue;

void ah_fc_queue_init(ah_fc_queue *q);
/* Inserts `node` with key (due, next sequence number). O(1). `node` must not be queued. */
void ah_fc_queue_insert(ah_fc_queue *q, ah_fc_node *node, uint64_t due);
/* Removes a queued node. Amortised O(log n). */
void ah_fc_queue_remove(ah_fc_queue *q, ah_fc_node *node);
/* Removes and returns the node with the smallest key, or NULL. Amortised O(log n). */
ah_fc_node *ah_fc_queue_pop(ah_fc_queue *q);
static inline ah_fc_node *ah_fc_queue_min(const ah_fc_queue *q) { return q->root; }
static inline int ah_fc_queue_empty(const ah_fc_queue *q) { return q->root == NULL; }
/* Whether `node` is in some queue (nodes must be zeroed, or popped/removed, before first use). */
static inline int ah_fc_node_queued(const ah_fc_node *node) { return node->prev != NULL; }
static inline int ah_fc_key_less(const ah_fc_node *a, const ah_fc_node *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

/* The seeded choice oracle: every open choice of a run goes through it, so a seed replays a run.
 * xoshiro256** seeded through splitmix64 (both public domain, Blackman and Vigna). It also keeps
 * a log of the choices it made, so an explorer can replay, perturb or shrink a schedule. */
typedef struct ah_fc_oracle {
    uint64_t s[4];
    uint64_t seed;
    uint64_t draws; /* how many choices were made */
} ah_fc_oracle;

void ah_fc_oracle_seed(ah_fc_oracle *o, uint64_t seed);
uint64_t ah_fc_oracle_next(ah_fc_oracle *o);
/* A uniform integer in [0, n); n == 0 returns 0. Unbiased (Lemire's method). */
uint64_t ah_fc_oracle_below(ah_fc_oracle *o, uint64_t n);
/* A uniform integer in [lo, hi]; hi < lo returns lo. */
uint64_t ah_fc_oracle_range(ah_fc_oracle *o, uint64_t lo, uint64_t hi);
/* True with probability num/den. */
int ah_fc_oracle_chance(ah_fc_oracle *o, uint32_t num, uint32_t den);

/* splitmix64 step, exposed for hashing traces and deriving seeds. */
uint64_t ah_fc_mix64(uint64_t x);

#endif
