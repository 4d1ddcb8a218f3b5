/* The aiolog writer (plain libuv + Linux AIO, compiled unchanged) on the harness, in virtual
 * time, on the in-memory file system: acknowledgements at the exact instants the disk's latency
 * gives, disk faults (a short write, EIO, ENOSPC) surfaced to the caller, a crash that loses what
 * was not synced, and a sync that makes records durable. Built twice: as written, and with
 * AIOLOG_PLANTED_BUG (a sync submitted with writes still in flight), which the durability test
 * must catch.
 *
 * The writer runs its default path: completions through an eventfd (the fd layer's fake one) under
 * uv_poll, reaped at the completion instant. One test runs the timer reaper (reap_ms) instead.
 */
#include "aiolog.h"

#include <ah/ah.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#define LOG_PATH "/data/wal"

typedef struct acks {
    int n;
    int status[16];
    uint64_t at_ms[16];
    int synced; /* status + 1 of the last sync; 0: not yet */
    uint64_t synced_ms;
    int closed;
} acks;

static acks A;
static uint64_t t0_ns;

static uint64_t now_ms(void) { return (uv_hrtime() - t0_ns) / 1000000; }

static void on_ack(aiolog *log, void *arg, int status)
{
    (void)log;
    (void)arg;
    A.status[A.n] = status;
    A.at_ms[A.n] = now_ms();
    A.n++;
}

static void on_sync(aiolog *log, void *arg, int status)
{
    (void)log;
    (void)arg;
    A.synced = status + 1;
    A.synced_ms = now_ms();
}

static void on_closed(void *arg)
{
    (void)arg;
    A.closed = 1;
}

/* A test that fails before closing its log (the planted build's do) leaves it behind with the
 * sim that ran it: the next open, or the end of main, frees it, so that Valgrind's leak check of
 * the planted binary reports only real leaks. */
static aiolog *left_open;

static aiolog *open_log(ah_sim *sim, unsigned reap_ms)
{
    aiolog_opts o = {.reap_ms = reap_ms, .depth = 8};
    aiolog *log = NULL;
    uv_fs_t req;

    memset(&A, 0, sizeof(A));
    t0_ns = uv_hrtime();
    ah_fs_memory(sim);
    uv_fs_mkdir(NULL, &req, "/data", 0755, NULL);
    uv_fs_req_cleanup(&req);
    free(left_open);
    left_open = NULL;
    assert_int_equal(aiolog_open(uv_default_loop(), LOG_PATH, &o, &log), 0);
    left_open = log;
    return log;
}

static void close_log(ah_sim *sim, aiolog *log)
{
    aiolog_close(log, on_closed, NULL);
    ah_run_until_idle(sim);
    assert_true(A.closed);
    left_open = NULL; /* freed by its close */
}

static size_t disk(ah_sim *sim, char *buf, size_t cap)
{
    ssize_t n = ah_fs_get(sim, LOG_PATH, buf, cap);
    return n < 0 ? 0 : (size_t)n;
}

static void appends_are_acknowledged_at_the_write_latency(void **state)
{
    ah_sim *sim = *state;
    aiolog *log = open_log(sim, 0);
    char buf[64];

    ah_fs_latency(sim, UV_FS_WRITE, 4);
    assert_int_equal(aiolog_append(log, "a;", 2, on_ack, NULL), 0);
    ah_advance(sim, 2);
    assert_int_equal(aiolog_append(log, "bb;", 3, on_ack, NULL), 0);
    ah_run_until_idle(sim);
    assert_int_equal(A.n, 2);
    assert_int_equal(A.status[0], 0);
    assert_int_equal(A.at_ms[0], 4); /* written at +4: the eventfd is readable at once */
    assert_int_equal(A.at_ms[1], 6);
    assert_int_equal(disk(sim, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "a;bb;", 5);
    close_log(sim, log);
}

static void a_sync_acknowledges_after_the_writes_and_the_flush(void **state)
{
    ah_sim *sim = *state;
    aiolog *log = open_log(sim, 0);

    ah_fs_latency(sim, UV_FS_WRITE, 3);
    ah_fs_latency(sim, UV_FS_FDATASYNC, 10);
    aiolog_append(log, "x;", 2, on_ack, NULL);
    aiolog_sync(log, on_sync, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(A.synced, 1);
    assert_int_equal(A.synced_ms, 13); /* writes done at +3, then the flush */
    close_log(sim, log);
}

static void a_short_write_is_finished_by_the_writer(void **state)
{
    ah_sim *sim = *state;
    aiolog *log = open_log(sim, 0);
    char buf[64];

    ah_fs_latency(sim, UV_FS_WRITE, 2);
    ah_fs_short_io(sim, LOG_PATH, 4);
    aiolog_append(log, "0123456789;", 11, on_ack, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(A.n, 1);
    assert_int_equal(A.status[0], 0);
    assert_int_equal(A.at_ms[0], 6); /* 4 + 4 + 3 bytes, 2 ms each */
    assert_int_equal(disk(sim, buf, sizeof(buf)), 11);
    close_log(sim, log);
}

static void an_eio_reaches_the_caller_and_breaks_the_log(void **state)
{
    ah_sim *sim = *state;
    aiolog *log = open_log(sim, 0);

    ah_fs_fail(sim, UV_FS_WRITE, LOG_PATH, UV_EIO, 1);
    aiolog_append(log, "a;", 2, on_ack, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(A.n, 1);
    assert_int_equal(A.status[0], UV_EIO);
    assert_int_equal(aiolog_append(log, "b;", 2, on_ack, NULL), UV_EIO);
    assert_int_equal(aiolog_sync(log, on_sync, NULL), UV_EIO);
    close_log(sim, log);
}

static void a_full_disk_reaches_the_caller_as_enospc(void **state)
{
    ah_sim *sim = *state;
    aiolog *log = open_log(sim, 0);
    char buf[64];

    ah_fs_capacity(sim, 6);
    aiolog_append(log, "abcd;", 5, on_ack, NULL);
    aiolog_append(log, "efgh;", 5, on_ack, NULL); /* 1 byte fits, then no room */
    ah_run_until_idle(sim);
    assert_int_equal(A.n, 2);
    assert_int_equal(A.status[0], 0);
    assert_int_equal(A.status[1], UV_ENOSPC);
    assert_int_equal(disk(sim, buf, sizeof(buf)), 6);
    close_log(sim, log);
}

static void a_crash_loses_unsynced_records_and_keeps_synced_ones(void **state)
{
    ah_sim *sim = *state;
    aiolog *log = open_log(sim, 0);
    char buf[64];

    ah_fs_latency(sim, UV_FS_WRITE, 5);
    ah_fs_latency(sim, UV_FS_FDATASYNC, 1);
    aiolog_append(log, "kept;", 5, on_ack, NULL);
    aiolog_sync(log, on_sync, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(A.synced, 1); /* the caller was told: durable */
    aiolog_append(log, "lost;", 5, on_ack, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(A.n, 2);
    assert_int_equal(disk(sim, buf, sizeof(buf)), 10);
    ah_fs_crash(sim);
    /* what a sync acknowledged survives; what was only written is gone */
    if (disk(sim, buf, sizeof(buf)) != 5 || memcmp(buf, "kept;", 5) != 0)
        fail_msg("aiolog: a record acknowledged as durable (sync at +%llu ms) was lost in the "
                 "crash",
                 (unsigned long long)A.synced_ms);
    close_log(sim, log);
}

static void the_eventfd_is_a_fake_one(void **state)
{
    char p[64], t[64];
    int fd = eventfd(0, 0);
    ssize_t n;

    (void)state;
    snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
    n = readlink(p, t, sizeof(t) - 1);
    close(fd);
    /* a real one could not be polled in virtual time: the tests above would not be exact */
    assert_false(n > 0 && strncmp(t, "anon_inode:[eventfd]", (size_t)n) == 0);
}

static void the_timer_reaper_acknowledges_at_its_next_tick(void **state)
{
    ah_sim *sim = *state;
    aiolog *log = open_log(sim, 3);

    ah_fs_latency(sim, UV_FS_WRITE, 4);
    aiolog_append(log, "a;", 2, on_ack, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(A.n, 1);
    assert_int_equal(A.at_ms[0], 6); /* written at +4, reaped by the tick at +6 */
    close_log(sim, log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(appends_are_acknowledged_at_the_write_latency),
        ah_unit_test(a_sync_acknowledges_after_the_writes_and_the_flush),
        ah_unit_test(a_short_write_is_finished_by_the_writer),
        ah_unit_test(an_eio_reaches_the_caller_and_breaks_the_log),
        ah_unit_test(a_full_disk_reaches_the_caller_as_enospc),
        ah_unit_test(a_crash_loses_unsynced_records_and_keeps_synced_ones),
        ah_unit_test(the_eventfd_is_a_fake_one),
        ah_unit_test(the_timer_reaper_acknowledges_at_its_next_tick),
    };
    int failed = ah_run_tests(tests);

    free(left_open);
    return failed;
}
