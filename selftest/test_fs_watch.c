/* uv_fs_event and uv_fs_poll in both modes: fs events for changes made through uv_fs_* in the
 * sim, delivered at the instant the change happened; fs polls at virtual intervals, reporting a
 * missing file once and each change of its stat. */
#include "fskit.h"

#include <errno.h>

#define L uv_default_loop()

static char log_[1024];
static ah_sim *cur;

static void logf_(const char *fmt, ...)
{
    va_list ap;
    size_t n = strlen(log_);
    n += (size_t)snprintf(log_ + n, sizeof(log_) - n, "%llu ", (unsigned long long)ah_now_ms(cur));
    va_start(ap, fmt);
    vsnprintf(log_ + n, sizeof(log_) - n, fmt, ap);
    va_end(ap);
    strncat(log_, "|", sizeof(log_) - strlen(log_) - 1);
}

static void on_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    (void)h;
    logf_("%s%s %s %d", events & UV_RENAME ? "rename" : "", events & UV_CHANGE ? "change" : "",
          name, status);
}

static uv_fs_t wreq;
static void on_write(uv_fs_t *req) { uv_fs_req_cleanup(req); }

static void events_for_changes_through_uv_fs(ah_sim *sim, int memory)
{
    uv_fs_event_t ev;
    uv_fs_t req;
    uv_file fd;
    uv_buf_t b = uv_buf_init("data", 4);
    char path[300];
    size_t n = sizeof(path);

    cur = sim;
    log_[0] = '\0';
    fsroot_make(sim, memory);
    assert_int_equal(uv_fs_event_init(L, &ev), 0);
    assert_int_equal(uv_fs_event_getpath(&ev, path, &n), UV_EINVAL);
    assert_int_equal(uv_fs_event_start(&ev, on_event, P("none"), 0), UV_ENOENT);
    assert_int_equal(uv_fs_event_start(&ev, on_event, fsroot, 0), 0);
    n = sizeof(path);
    assert_int_equal(uv_fs_event_getpath(&ev, path, &n), 0);
    assert_string_equal(path, fsroot);
    n = 3;
    assert_int_equal(uv_fs_event_getpath(&ev, path, &n), UV_ENOBUFS);
    assert_int_equal(n, strlen(fsroot) + 1);

    fd = uv_fs_open(L, &req, P("f"), O_WRONLY | O_CREAT, 0644, NULL);
    uv_fs_req_cleanup(&req);
    ah_advance(sim, 5);
    ah_fs_latency(sim, UV_FS_WRITE, 20);
    uv_fs_write(L, &wreq, fd, &b, 1, -1, on_write); /* runs at +5 on the pool, done at +25 */
    ah_run_until_idle(sim);
    uv_fs_close(L, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
    uv_fs_rename(L, &req, P("f"), P("g"), NULL);
    uv_fs_req_cleanup(&req);
    uv_fs_unlink(L, &req, P("g"), NULL);
    uv_fs_req_cleanup(&req);
    ah_run_until_idle(sim);
    assert_string_equal(log_,
                        "0 rename f 0|5 change f 0|25 rename f 0|25 rename g 0|25 rename g 0|");

    /* stopped: nothing more */
    assert_int_equal(uv_fs_event_stop(&ev), 0);
    uv_fs_mkdir(L, &req, P("d"), 0755, NULL);
    uv_fs_req_cleanup(&req);
    ah_run_until_idle(sim);
    assert_string_equal(log_,
                        "0 rename f 0|5 change f 0|25 rename f 0|25 rename g 0|25 rename g 0|");
    uv_close((uv_handle_t *)&ev, NULL);
    ah_run_until_idle(sim);
    fsroot_remove(sim);
}

static void events_passthrough(void **state) { events_for_changes_through_uv_fs(*state, 0); }
static void events_memory(void **state) { events_for_changes_through_uv_fs(*state, 1); }

static void watching_a_file_names_the_file(void **state)
{
    ah_sim *sim = *state;
    uv_fs_event_t ev;
    uv_fs_t req;

    cur = sim;
    log_[0] = '\0';
    ah_fs_memory(sim);
    ah_fs_put(sim, "/tmp/conf", "a=1", 3);
    uv_fs_event_init(L, &ev);
    uv_fs_event_start(&ev, on_event, "/tmp/conf", 0);
    uv_fs_chmod(L, &req, "/tmp/conf", 0600, NULL);
    uv_fs_req_cleanup(&req);
    uv_fs_utime(L, &req, "/tmp/other", 1, 1, NULL); /* another file: no event */
    uv_fs_req_cleanup(&req);
    ah_run_ready(sim);
    uv_close((uv_handle_t *)&ev, NULL); /* closing drops what was not delivered */
    uv_fs_chmod(L, &req, "/tmp/conf", 0644, NULL);
    uv_fs_req_cleanup(&req);
    ah_run_until_idle(sim);
    assert_string_equal(log_, "0 change conf 0|");
}

/* libc's remove, unlink, rmdir and rename are seen in passthrough (libuv's fs_event_watch_dir
 * removes its files with remove()), each once; in memory mode they act on the real file system,
 * which is not the sim's, and nothing is reported. */
static void touch(const char *path)
{
    uv_fs_t req;
    uv_file fd = uv_fs_open(L, &req, path, O_WRONLY | O_CREAT, 0644, NULL);
    uv_fs_req_cleanup(&req);
    assert_true(fd >= 0);
    uv_fs_close(L, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
}

static void libc_removals_are_seen(void **state)
{
    ah_sim *sim = *state;
    uv_fs_event_t ev;
    uv_fs_t req;
    char a[300], b[300];

    cur = sim;
    log_[0] = '\0';
    fsroot_make(sim, 0);
    touch(P("a"));
    touch(P("b"));
    uv_fs_mkdir(L, &req, P("d"), 0755, NULL);
    uv_fs_req_cleanup(&req);
    snprintf(a, sizeof(a), "%s", P("a"));
    snprintf(b, sizeof(b), "%s", P("c"));
    assert_int_equal(uv_fs_event_init(L, &ev), 0);
    assert_int_equal(uv_fs_event_start(&ev, on_event, fsroot, 0), 0);
    assert_int_equal(rename(a, b), 0);
    ah_advance(sim, 1);
    assert_int_equal(remove(P("b")), 0);
    assert_int_equal(unlink(P("c")), 0);
    ah_advance(sim, 1);
    assert_int_equal(remove(P("d")), 0);     /* a folder: rmdir */
    assert_int_equal(remove(P("none")), -1); /* fails: nothing to report */
    assert_int_equal(errno, ENOENT);
    ah_run_until_idle(sim);
    assert_string_equal(log_, "0 rename a 0|0 rename c 0|1 rename b 0|1 rename c 0|2 rename d 0|");
    uv_close((uv_handle_t *)&ev, NULL);
    ah_run_until_idle(sim);
    fsroot_remove(sim);
}

static void libc_removals_in_memory_are_not_the_sims(void **state)
{
    ah_sim *sim = *state;
    uv_fs_event_t ev;
    char real[64];
    int fd;

    cur = sim;
    log_[0] = '\0';
    ah_fs_memory(sim);
    ah_fs_put(sim, "/tmp/x", "1", 1);
    snprintf(real, sizeof(real), "/tmp/ah_watch_real_XXXXXX");
    fd = mkstemp(real);
    assert_true(fd >= 0);
    close(fd);
    uv_fs_event_init(L, &ev);
    uv_fs_event_start(&ev, on_event, "/tmp", 0);
    assert_int_equal(remove(real), 0); /* the real file system's file */
    ah_run_until_idle(sim);
    assert_string_equal(log_, "");
    uv_close((uv_handle_t *)&ev, NULL);
    ah_run_until_idle(sim);
}

/* ---- uv_fs_poll ---- */

static void on_poll(uv_fs_poll_t *h, int status, const uv_stat_t *prev, const uv_stat_t *curr)
{
    (void)h;
    logf_("poll %s %d->%d", status == 0 ? "ok" : uv_err_name(status), (int)prev->st_size,
          (int)curr->st_size);
}

static void grow(const char *path, const char *data, int memory, ah_sim *sim)
{
    if (memory) {
        ah_fs_put(sim, path, data, strlen(data));
    } else {
        FILE *f = fopen(path, "w"); /* a change the sim does not make: only polling sees it */
        fputs(data, f);
        fclose(f);
    }
}

static void polls_at_virtual_intervals(ah_sim *sim, int memory)
{
    uv_fs_poll_t p;
    char path[300];
    size_t n = sizeof(path);

    cur = sim;
    log_[0] = '\0';
    fsroot_make(sim, memory);
    assert_int_equal(uv_fs_poll_init(L, &p), 0);
    assert_int_equal(uv_fs_poll_start(&p, on_poll, P("f"), 100), 0);
    assert_int_equal(uv_fs_poll_getpath(&p, path, &n), 0);
    assert_string_equal(path, P("f"));
    ah_advance(sim, 250); /* missing: reported once */
    grow(P("f"), "abc", memory, sim);
    ah_advance(sim, 100);
    grow(P("f"), "abcdef", memory, sim);
    ah_advance(sim, 200);
    assert_int_equal(uv_fs_poll_stop(&p), 0);
    grow(P("f"), "", memory, sim);
    ah_advance(sim, 300);
    uv_close((uv_handle_t *)&p, NULL);
    ah_run_until_idle(sim);
    assert_string_equal(log_, "0 poll ENOENT 0->0|300 poll ok 0->3|400 poll ok 3->6|");
    fsroot_remove(sim);
}

static void poll_passthrough(void **state) { polls_at_virtual_intervals(*state, 0); }
static void poll_memory(void **state) { polls_at_virtual_intervals(*state, 1); }

static void closing_a_poll_while_its_stat_runs(void **state)
{
    ah_sim *sim = *state;
    uv_fs_poll_t p;

    cur = sim;
    log_[0] = '\0';
    ah_fs_memory(sim);
    ah_fs_latency(sim, UV_FS_STAT, 30);
    uv_fs_poll_init(L, &p);
    uv_fs_poll_start(&p, on_poll, "/tmp", 10);
    ah_advance(sim, 5);
    uv_close((uv_handle_t *)&p, NULL);
    ah_run_until_idle(sim); /* the stat finishes, nothing is reported, nothing is left */
    assert_string_equal(log_, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(events_passthrough),
        ah_unit_test(events_memory),
        ah_unit_test(watching_a_file_names_the_file),
        ah_unit_test(libc_removals_are_seen),
        ah_unit_test(libc_removals_in_memory_are_not_the_sims),
        ah_unit_test(poll_passthrough),
        ah_unit_test(poll_memory),
        ah_unit_test(closing_a_poll_while_its_stat_runs),
    };
    return ah_run_tests(tests);
}
