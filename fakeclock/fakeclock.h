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
/* The same with a sequence number the caller assigns (a structure that shares one order). */
void ah_fc_queue_insert_seq(ah_fc_queue *q, ah_fc_node *node, uint64_t due, uint64_t seq);
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

/* A hierarchical timing wheel for keys that mostly move forward (libuv timers, in ms): the same
 * (due, seq) order as ah_fc_queue, but insert is O(1) and each node cascades at most a few
 * times on its way to the front, so a million timers cost a few cache misses each instead of a
 * heap walk. Its nodes are ah_fc_node (the 40 bytes a timer lends). A key below the wheel's base
 * (a timer shorter than every pending one, once the wheel has moved toward them) goes to a small
 * pairing heap beside it instead: every such key is smaller than every key in the wheel. */
#define AH_FC_WHEEL_BITS 6
#define AH_FC_WHEEL_SLOTS (1 << AH_FC_WHEEL_BITS)
#define AH_FC_WHEEL_LEVELS 11 /* 11 * 6 bits >= 64 */

typedef struct ah_fc_wheel {
    uint64_t base; /* every key in the slots is >= base; every key in `low` is < base */
    uint64_t next_seq;
    size_t count; /* nodes in the slots and in `low` */
    ah_fc_queue low;
    uint64_t used[AH_FC_WHEEL_LEVELS]; /* bit s: slot s of the level has nodes */
    uint64_t unsorted;                 /* bit s: level 0 slot s may be out of seq order */
    /* Slot lists; only those whose `used` bit is set are meaningful, so the table need not be
     * cleared. */
    struct {
        ah_fc_node *head, *tail;
    } slots[AH_FC_WHEEL_LEVELS][AH_FC_WHEEL_SLOTS];
} ah_fc_wheel;

void ah_fc_wheel_init(ah_fc_wheel *w);
/* Inserts `node` (zeroed, or removed) with key (due, next sequence number). `floor` (<= due) is
 * the caller's "now", below which it inserts no key: an empty wheel starts from it. O(1) into the
 * slots; O(log n) into the low heap for a key below the base. */
void ah_fc_wheel_insert(ah_fc_wheel *w, ah_fc_node *node, uint64_t due, uint64_t floor);
/* Removes a queued node. O(1) from the slots, amortised O(log n) from the low heap. */
void ah_fc_wheel_remove(ah_fc_wheel *w, ah_fc_node *node);
/* The node with the smallest (due, seq), or NULL. Not const: it may cascade nodes toward the
 * front, which changes no key and no order. */
ah_fc_node *ah_fc_wheel_min(ah_fc_wheel *w);
/* Whether `node` is queued in a wheel (its slots or its low heap). */
static inline int ah_fc_wheel_queued(const ah_fc_node *node)
{
    return ((uintptr_t)node->child & 1) != 0 || node->prev != NULL;
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
