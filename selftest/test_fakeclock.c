/* fakeclock: the queue and the timing wheel order by (due, seq) whatever the insert order,
 * remove works anywhere, the wheel agrees with the queue on every random run, and the oracle is
 * a pure function of its seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "fakeclock.h"

typedef struct item {
    ah_fc_node node;
    int id;
} item;

static void queue_pops_in_due_then_insert_order(void **state)
{
    ah_fc_queue q;
    item it[6];
    uint64_t dues[6] = {5, 1, 5, 3, 1, 5};
    int expect[6] = {1, 4, 3, 0, 2, 5};
    int i;

    (void)state;
    ah_fc_queue_init(&q);
    for (i = 0; i < 6; i++) {
        it[i].id = i;
        ah_fc_queue_insert(&q, &it[i].node, dues[i]);
    }
    assert_int_equal(q.count, 6);
    for (i = 0; i < 6; i++) {
        item *m = (item *)ah_fc_queue_pop(&q);
        assert_non_null(m);
        assert_int_equal(m->id, expect[i]);
    }
    assert_null(ah_fc_queue_pop(&q));
}

static void queue_remove_anywhere_keeps_order(void **state)
{
    enum { N = 2000 };
    ah_fc_queue q;
    item *it = calloc(N, sizeof(*it));
    ah_fc_oracle o;
    uint64_t last_due = 0, last_seq = 0;
    int i, removed = 0, popped = 0;

    (void)state;
    ah_fc_oracle_seed(&o, 7);
    ah_fc_queue_init(&q);
    for (i = 0; i < N; i++) {
        it[i].id = i;
        ah_fc_queue_insert(&q, &it[i].node, ah_fc_oracle_below(&o, 50));
    }
    /* pop a few so the heap has structure, then remove every third node still queued */
    for (i = 0; i < 10; i++)
        ah_fc_queue_pop(&q), popped++;
    for (i = 0; i < N; i += 3)
        if (ah_fc_node_queued(&it[i].node)) {
            ah_fc_queue_remove(&q, &it[i].node);
            assert_false(ah_fc_node_queued(&it[i].node));
            removed++;
        }
    assert_int_equal(q.count, N - removed - popped);
    while (!ah_fc_queue_empty(&q)) {
        ah_fc_node *n = ah_fc_queue_pop(&q);
        assert_true(n->due > last_due || (n->due == last_due && n->seq >= last_seq));
        last_due = n->due;
        last_seq = n->seq;
        popped++;
    }
    assert_int_equal(popped + removed, N);
    free(it);
}

static void queue_reinsert_after_pop(void **state)
{
    ah_fc_queue q;
    item a, b;

    (void)state;
    ah_fc_queue_init(&q);
    ah_fc_queue_insert(&q, &a.node, 10);
    ah_fc_queue_insert(&q, &b.node, 10);
    assert_ptr_equal(ah_fc_queue_pop(&q), &a.node);
    ah_fc_queue_insert(&q, &a.node, 10); /* re-inserted: now after b */
    assert_ptr_equal(ah_fc_queue_pop(&q), &b.node);
    assert_ptr_equal(ah_fc_queue_pop(&q), &a.node);
    ah_fc_queue_insert(&q, &a.node, 3);
    ah_fc_queue_remove(&q, &a.node); /* removing the root */
    assert_true(ah_fc_queue_empty(&q));
}

typedef struct titem {
    ah_fc_node tnode; /* in the wheel */
    ah_fc_node node;  /* in the reference heap */
} titem;
#define ah__container_of_titem_t(p) ((titem *)((char *)(p)-offsetof(titem, tnode)))
#define ah__container_of_titem_n(p) ((titem *)((char *)(p)-offsetof(titem, node)))

/* The wheel and the heap, fed the same random inserts, removes and pops, must hand out the same
 * nodes in the same order. Keys mostly move forward from the last popped key (as timers do),
 * with far jumps (cascades across levels), equal keys (seq order), and now and then a key below
 * everything queued (the wheel's rebuild). */
static void wheel_agrees_with_the_heap(void **state)
{
    enum { N = 2000 };
    static titem it[N];
    ah_fc_wheel *w = malloc(sizeof(*w));
    ah_fc_queue q;
    ah_fc_oracle o;
    uint64_t now = 1000000, seed;
    long ops = 0;
    int i;

    (void)state;
    for (seed = 1; seed <= 20; seed++) {
        ah_fc_oracle_seed(&o, seed);
        ah_fc_wheel_init(w);
        ah_fc_queue_init(&q);
        for (i = 0; i < N; i++) {
            it[i].tnode.child = it[i].tnode.next = it[i].tnode.prev = NULL;
            it[i].node.prev = it[i].node.next = it[i].node.child = NULL;
        }
        for (ops = 0; ops < 20000; ops++) {
            uint64_t r = ah_fc_oracle_below(&o, 100);
            i = (int)ah_fc_oracle_below(&o, N);
            if (r < 45 && !ah_fc_wheel_queued(&it[i].tnode)) {
                uint64_t kind = ah_fc_oracle_below(&o, 10), due;
                if (kind < 5)
                    due = now + ah_fc_oracle_below(&o, 64);
                else if (kind < 8)
                    due = now + ah_fc_oracle_below(&o, 1u << 20);
                else if (kind < 9)
                    due = ah_fc_oracle_below(&o, 2) ? UINT64_MAX : now + (1ULL << 40);
                else
                    due = now > 100 ? now - ah_fc_oracle_below(&o, 100) : now;
                ah_fc_wheel_insert(w, &it[i].tnode, due, now < due ? now : due);
                ah_fc_queue_insert(&q, &it[i].node, due);
            } else if (r < 65 && ah_fc_wheel_queued(&it[i].tnode)) {
                ah_fc_wheel_remove(w, &it[i].tnode);
                ah_fc_queue_remove(&q, &it[i].node);
            } else {
                ah_fc_node *a = ah_fc_wheel_min(w);
                ah_fc_node *b = ah_fc_queue_min(&q);
                if (a == NULL) {
                    assert_null(b);
                    continue;
                }
                assert_non_null(b);
                assert_ptr_equal(ah__container_of_titem_t(a), ah__container_of_titem_n(b));
                assert_int_equal(a->due, b->due);
                assert_int_equal(a->seq, b->seq);
                if (a->due > now && a->due != UINT64_MAX)
                    now = a->due;
                ah_fc_wheel_remove(w, a);
                ah_fc_queue_remove(&q, b);
            }
            assert_int_equal(w->count, q.count);
        }
    }
    free(w);
}

static void oracle_is_a_function_of_its_seed(void **state)
{
    ah_fc_oracle a, b, c;
    int i, same = 1;

    (void)state;
    ah_fc_oracle_seed(&a, 42);
    ah_fc_oracle_seed(&b, 42);
    ah_fc_oracle_seed(&c, 43);
    for (i = 0; i < 100; i++) {
        uint64_t x = ah_fc_oracle_next(&a);
        assert_int_equal(x, ah_fc_oracle_next(&b));
        same &= x == ah_fc_oracle_next(&c);
    }
    assert_false(same);
    assert_int_equal(a.draws, 100);
}

static void oracle_ranges_stay_in_bounds(void **state)
{
    ah_fc_oracle o;
    int hist[5] = {0};
    int i;

    (void)state;
    ah_fc_oracle_seed(&o, 1);
    for (i = 0; i < 5000; i++) {
        uint64_t x = ah_fc_oracle_range(&o, 10, 14);
        assert_in_range(x, 10, 14);
        hist[x - 10]++;
    }
    for (i = 0; i < 5; i++)
        assert_in_range(hist[i], 800, 1200); /* roughly uniform */
    assert_int_equal(ah_fc_oracle_below(&o, 0), 0);
    assert_int_equal(ah_fc_oracle_range(&o, 9, 3), 9);
    assert_false(ah_fc_oracle_chance(&o, 0, 10));
    assert_true(ah_fc_oracle_chance(&o, 10, 10));
}

static void clock_never_goes_backwards(void **state)
{
    ah_fc_clock c;

    (void)state;
    ah_fc_clock_init(&c, 1000);
    assert_int_equal(ah_fc_clock_set(&c, 5000), 5000);
    assert_int_equal(ah_fc_clock_set(&c, 2000), 5000);
    assert_int_equal(ah_fc_clock_elapsed_ns(&c), 4000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(queue_pops_in_due_then_insert_order),
        cmocka_unit_test(queue_remove_anywhere_keeps_order),
        cmocka_unit_test(queue_reinsert_after_pop),
        cmocka_unit_test(wheel_agrees_with_the_heap),
        cmocka_unit_test(oracle_is_a_function_of_its_seed),
        cmocka_unit_test(oracle_ranges_stay_in_bounds),
        cmocka_unit_test(clock_never_goes_backwards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
