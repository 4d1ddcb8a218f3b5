/* A hierarchical timing wheel (Varghese and Lauck 1987) ordered by (due, seq).
 *
 * Level L holds the keys whose highest 6-bit digit that differs from `base` is digit L, in the
 * slot named by that digit. Every key at level L is larger than every key at a lower level, and
 * within a level a lower slot holds smaller keys, so the minimum is in the lowest used slot of
 * the lowest used level. When level 0 is empty, that slot is cascaded: `base` moves to the
 * slot's lower bound and its nodes are re-filed relative to it, each one strictly lower.
 * A level-0 slot holds a single key, so only seq orders it: appends keep it in seq order unless
 * a cascade brings an older node in after a newer one, which marks the slot for a sort before
 * its next use.
 *
 * The base only rises (to the lower bound of the slot a query cascades), so a key inserted later
 * may fall below it: a timer shorter than every pending one. Such keys go to `low`, a pairing
 * heap. They are below the base and every slotted key is at or above it, so the minimum is the
 * heap's when it has any, and the base never has to come down (which would mean re-filing every
 * node).
 *
 * A slotted node keeps its slot in `child`, tagged with the low bit (a heap node's `child` is a
 * pointer or NULL, never odd); `next` and `prev` link its slot's list. */
#include "fakeclock.h"

#include <assert.h>

#define LEVEL_MASK (AH_FC_WHEEL_SLOTS - 1)

static inline uintptr_t tag_of(unsigned slot_index) { return (uintptr_t)slot_index << 1 | 1; }
static inline int slotted(const ah_fc_node *n) { return ((uintptr_t)n->child & 1) != 0; }
static inline unsigned slot_index_of(const ah_fc_node *n)
{
    return (unsigned)((uintptr_t)n->child >> 1);
}

void ah_fc_wheel_init(ah_fc_wheel *w)
{
    int l;

    w->base = 0;
    w->next_seq = 0;
    w->count = 0;
    w->unsorted = 0;
    ah_fc_queue_init(&w->low);
    for (l = 0; l < AH_FC_WHEEL_LEVELS; l++)
        w->used[l] = 0;
}

static int level_of(uint64_t base, uint64_t due)
{
    uint64_t x = base ^ due;
    return x == 0 ? 0 : (63 - __builtin_clzll(x)) / AH_FC_WHEEL_BITS;
}

/* Appends an unqueued node to the slot its key belongs to, relative to w->base (due >= base). */
static void file(ah_fc_wheel *w, ah_fc_node *n)
{
    int l = level_of(w->base, n->due);
    unsigned s = (unsigned)(n->due >> (l * AH_FC_WHEEL_BITS)) & LEVEL_MASK;

    n->child = (ah_fc_node *)tag_of((unsigned)l * AH_FC_WHEEL_SLOTS + s);
    n->next = NULL;
    if (w->used[l] & (1ULL << s)) {
        n->prev = w->slots[l][s].tail;
        n->prev->next = n;
        if (l == 0 && n->prev->seq > n->seq)
            w->unsorted |= 1ULL << s;
    } else {
        n->prev = NULL;
        w->slots[l][s].head = n;
        w->used[l] |= 1ULL << s;
    }
    w->slots[l][s].tail = n;
}

/* Detaches the whole list of slot (l, s) and returns its head. */
static ah_fc_node *take_slot(ah_fc_wheel *w, int l, unsigned s)
{
    ah_fc_node *h = w->slots[l][s].head;

    w->used[l] &= ~(1ULL << s);
    if (l == 0)
        w->unsorted &= ~(1ULL << s);
    return h;
}

void ah_fc_wheel_insert(ah_fc_wheel *w, ah_fc_node *node, uint64_t due, uint64_t floor)
{
    uint64_t seq = w->next_seq++;

    assert(!ah_fc_wheel_queued(node));
    w->count++;
    if (w->count == 1)
        w->base = floor < due ? floor : due;
    if (due < w->base) {
        ah_fc_queue_insert_seq(&w->low, node, due, seq);
        return;
    }
    node->due = due;
    node->seq = seq;
    file(w, node);
}

void ah_fc_wheel_remove(ah_fc_wheel *w, ah_fc_node *node)
{
    unsigned i, s;
    int l;

    assert(ah_fc_wheel_queued(node));
    w->count--;
    if (!slotted(node)) {
        ah_fc_queue_remove(&w->low, node);
        return;
    }
    i = slot_index_of(node);
    l = (int)(i / AH_FC_WHEEL_SLOTS);
    s = i % AH_FC_WHEEL_SLOTS;
    if (node->prev != NULL)
        node->prev->next = node->next;
    else
        w->slots[l][s].head = node->next;
    if (node->next != NULL)
        node->next->prev = node->prev;
    else
        w->slots[l][s].tail = node->prev;
    if (w->slots[l][s].head == NULL) {
        w->used[l] &= ~(1ULL << s);
        if (l == 0)
            w->unsorted &= ~(1ULL << s);
    }
    node->child = node->next = node->prev = NULL;
}

/* Sorts a NULL-terminated list by seq (merge sort, stable; linear on an already sorted list's
 * runs is not needed: this runs only on slots a cascade disordered). */
static ah_fc_node *sort_by_seq(ah_fc_node *h, size_t n)
{
    ah_fc_node *a, *b, **tail, *out;
    size_t i, half;

    if (n < 2)
        return h;
    half = n / 2;
    a = h;
    for (i = 1; i < half; i++)
        h = h->next;
    b = h->next;
    h->next = NULL;
    a = sort_by_seq(a, half);
    b = sort_by_seq(b, n - half);
    tail = &out;
    while (a != NULL && b != NULL) {
        if (a->seq < b->seq) {
            *tail = a;
            a = a->next;
        } else {
            *tail = b;
            b = b->next;
        }
        tail = &(*tail)->next;
    }
    *tail = a != NULL ? a : b;
    return out;
}

static void sort_slot(ah_fc_wheel *w, unsigned s)
{
    ah_fc_node *n, *prev = NULL;
    size_t count = 0;

    for (n = w->slots[0][s].head; n != NULL; n = n->next)
        count++;
    w->slots[0][s].head = sort_by_seq(w->slots[0][s].head, count);
    for (n = w->slots[0][s].head; n != NULL; n = n->next) {
        n->prev = prev;
        prev = n;
    }
    w->slots[0][s].tail = prev;
    w->unsorted &= ~(1ULL << s);
}

ah_fc_node *ah_fc_wheel_min(ah_fc_wheel *w)
{
    ah_fc_node *n, *next;
    unsigned s;
    int l, shift;

    if (!ah_fc_queue_empty(&w->low))
        return ah_fc_queue_min(&w->low);
    if (w->count == 0)
        return NULL;
    while (w->used[0] == 0) {
        for (l = 1; w->used[l] == 0; l++)
            assert(l + 1 < AH_FC_WHEEL_LEVELS);
        s = (unsigned)__builtin_ctzll(w->used[l]);
        n = take_slot(w, l, s);
        /* The new base is the slot's lower bound: it shares the slot's digits from level l up,
         * so every node of the slot files strictly lower, and it moves the base no further than
         * it must, so fewer later inserts fall below it. */
        shift = (l + 1) * AH_FC_WHEEL_BITS;
        w->base = (shift >= 64 ? 0 : w->base >> shift << shift) | (uint64_t)s
                                                                      << (l * AH_FC_WHEEL_BITS);
        for (; n != NULL; n = next) {
            next = n->next;
            file(w, n);
        }
    }
    s = (unsigned)__builtin_ctzll(w->used[0]);
    if (w->unsorted & (1ULL << s))
        sort_slot(w, s);
    return w->slots[0][s].head;
}
