/* A pairing heap (Fredman, Sedgewick, Sleator, Tarjan 1986) with the two-pass merge.
 *
 * Chosen over a binary heap for the timer benchmark: insert is one comparison and no walk, and
 * nodes are intrusive, so nothing is allocated per event. Ordering is by (due, seq) only, never
 * by address, so a run is the same every time. */
#include "fakeclock.h"

#include <assert.h>

void ah_fc_queue_init(ah_fc_queue *q)
{
    q->root = NULL;
    q->count = 0;
    q->next_seq = 0;
}

/* Links two detached trees; the larger key becomes the first child of the smaller. */
static ah_fc_node *meld(ah_fc_node *a, ah_fc_node *b)
{
    ah_fc_node *t;

    if (a == NULL)
        return b;
    if (b == NULL)
        return a;
    if (ah_fc_key_less(b, a)) {
        t = a;
        a = b;
        b = t;
    }
    b->prev = a;
    b->next = a->child;
    if (a->child != NULL)
        a->child->prev = b;
    a->child = b;
    return a;
}

/* Two-pass merge of a sibling list: pair left to right, then meld the pairs right to left.
 * The pairs are threaded through `prev` so this needs no stack and no recursion. */
static ah_fc_node *merge_siblings(ah_fc_node *first)
{
    ah_fc_node *pairs = NULL;
    ah_fc_node *a, *b, *rest, *result;

    while (first != NULL) {
        a = first;
        b = a->next;
        if (b == NULL) {
            rest = NULL;
        } else {
            rest = b->next;
            b->next = b->prev = NULL;
        }
        a->next = a->prev = NULL;
        a = meld(a, b);
        a->prev = pairs; /* stack of paired trees */
        pairs = a;
        first = rest;
    }

    result = NULL;
    while (pairs != NULL) {
        a = pairs;
        pairs = a->prev;
        a->prev = NULL;
        result = meld(result, a);
    }
    return result;
}

void ah_fc_queue_insert(ah_fc_queue *q, ah_fc_node *node, uint64_t due)
{
    ah_fc_queue_insert_seq(q, node, due, q->next_seq++);
}

void ah_fc_queue_insert_seq(ah_fc_queue *q, ah_fc_node *node, uint64_t due, uint64_t seq)
{
    node->due = due;
    node->seq = seq;
    node->child = node->next = NULL;
    node->prev = NULL;
    if (q->root == NULL) {
        q->root = node;
    } else {
        q->root = meld(q->root, node);
    }
    /* A root has no parent; mark it queued with a self-link so ah_fc_node_queued() holds. */
    q->root->prev = q->root;
    q->count++;
}

ah_fc_node *ah_fc_queue_pop(ah_fc_queue *q)
{
    ah_fc_node *min = q->root;

    if (min == NULL)
        return NULL;
    q->root = merge_siblings(min->child);
    if (q->root != NULL)
        q->root->prev = q->root;
    min->child = min->next = min->prev = NULL;
    q->count--;
    return min;
}

void ah_fc_queue_remove(ah_fc_queue *q, ah_fc_node *node)
{
    ah_fc_node *sub;

    assert(ah_fc_node_queued(node));
    if (node == q->root) {
        (void)ah_fc_queue_pop(q);
        return;
    }
    /* Unlink from the parent's child list: prev is the parent when node is a first child. */
    if (node->prev->child == node)
        node->prev->child = node->next;
    else
        node->prev->next = node->next;
    if (node->next != NULL)
        node->next->prev = node->prev;
    node->next = node->prev = NULL;

    sub = merge_siblings(node->child);
    node->child = NULL;
    q->root->prev = NULL;
    q->root = meld(q->root, sub);
    q->root->prev = q->root;
    q->count--;
}
