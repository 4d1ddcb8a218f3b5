/* Asynchronous uv_fs_* through the sim's thread pool, in both modes: callbacks at virtual
 * instants (per-operation latency), libuv's request fields in the callback, uv_cancel before and
 * after a job started, and what the teardown checks say about requests left behind. */
#include "fskit.h"

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

static uv_fs_t open_req, write_req, read_req, close_req, stat_req, scan_req;
static char rbuf[32];
static uv_buf_t wb, rb;
static char path_arg[300];

static void on_close(uv_fs_t *req)
{
    logf_("close %d", (int)req->result);
    uv_fs_req_cleanup(req);
}

static void on_read(uv_fs_t *req)
{
    logf_("read %d %.*s", (int)req->result, (int)req->result, rbuf);
    uv_fs_req_cleanup(req);
    uv_fs_close(L, &close_req, (uv_file)open_req.result, on_close);
}

static void on_write(uv_fs_t *req)
{
    logf_("write %d", (int)req->result);
    uv_fs_req_cleanup(req);
    rb = uv_buf_init(rbuf, sizeof(rbuf));
    uv_fs_read(L, &read_req, (uv_file)open_req.result, &rb, 1, 0, on_read);
}

static void on_open(uv_fs_t *req)
{
    logf_("open %s", req->result >= 0 ? "fd" : uv_err_name((int)req->result));
    /* an asynchronous request holds its own copy of the path */
    assert_ptr_not_equal(req->path, path_arg);
    assert_string_equal(req->path, P("f"));
    assert_int_equal(req->fs_type, UV_FS_OPEN);
    wb = uv_buf_init("hello", 5);
    uv_fs_write(L, &write_req, (uv_file)req->result, &wb, 1, -1, on_write);
    uv_fs_req_cleanup(req);
    assert_null(req->path);
}

static void chain(ah_sim *sim, int memory)
{
    cur = sim;
    log_[0] = '\0';
    fsroot_make(sim, memory);
    ah_fs_latency(sim, UV_FS_UNKNOWN, 10);
    ah_fs_latency(sim, UV_FS_WRITE, 5);
    snprintf(path_arg, sizeof(path_arg), "%s", P("f"));
    assert_int_equal(uv_fs_open(L, &open_req, path_arg, O_RDWR | O_CREAT, 0644, on_open), 0);
    memset(path_arg, 'x', 10); /* the caller's string may change once the call returned */
    ah_run_until_idle(sim);
    assert_string_equal(log_, "10 open fd|25 write 5|35 read 5 hello|45 close 0|");
    fsroot_remove(sim);
}

static void chain_passthrough(void **state) { chain(*state, 0); }
static void chain_memory(void **state) { chain(*state, 1); }

static void on_stat(uv_fs_t *req)
{
    logf_("%s %s", req == &stat_req ? "stat" : "other",
          req->result == 0 ? "OK" : uv_err_name((int)req->result));
    if (req->result == 0)
        assert_ptr_equal(req->ptr, &req->statbuf);
    uv_fs_req_cleanup(req);
}

static void on_scan(uv_fs_t *req)
{
    uv_dirent_t e;
    logf_("scandir %d", (int)req->result);
    while (uv_fs_scandir_next(req, &e) == 0)
        logf_("entry %s", e.name);
    uv_fs_req_cleanup(req);
}

static void latency_orders_completions(void **state)
{
    ah_sim *sim = *state;
    uv_fs_t req;

    cur = sim;
    log_[0] = '\0';
    fsroot_make(sim, 1);
    uv_fs_mkdir(L, &req, P("sub"), 0755, NULL);
    uv_fs_req_cleanup(&req);
    ah_fs_latency(sim, UV_FS_STAT, 30);
    ah_fs_latency(sim, UV_FS_SCANDIR, 7);
    uv_fs_stat(L, &stat_req, P("none"), on_stat);
    uv_fs_scandir(L, &scan_req, fsroot, 0, on_scan);
    ah_run_until_idle(sim);
    assert_string_equal(log_, "7 scandir 1|7 entry sub|30 stat ENOENT|");
}

static uv_fs_t c1, c2, c3;

static void on_c(uv_fs_t *req)
{
    logf_("c%d %s",
          req == &c1   ? 1
          : req == &c2 ? 2
                       : 3,
          req->result < 0 ? uv_err_name((int)req->result) : "ok");
    uv_fs_req_cleanup(req);
}

static void cancel_before_and_after_start(ah_sim *sim, int memory)
{
    cur = sim;
    log_[0] = '\0';
    fsroot_make(sim, memory);
    ah_threadpool_size(sim, 1);
    ah_fs_latency(sim, UV_FS_UNKNOWN, 10);
    uv_fs_stat(L, &c1, fsroot, on_c);
    uv_fs_stat(L, &c2, fsroot, on_c);
    uv_fs_mkdir(L, &c3, P("never"), 0755, on_c);
    assert_int_equal(uv_cancel((uv_req_t *)&c3), 0); /* queued: cancelled */
    ah_advance(sim, 1);                              /* c1 runs on the only thread */
    assert_int_equal(uv_cancel((uv_req_t *)&c1), UV_EBUSY);
    assert_int_equal(uv_cancel((uv_req_t *)&c2), 0);
    ah_run_until_idle(sim);
    assert_string_equal(log_, "0 c3 ECANCELED|1 c2 ECANCELED|10 c1 ok|");
    assert_int_equal(uv_cancel((uv_req_t *)&c1), UV_EBUSY); /* done */
    /* the cancelled mkdir never ran */
    {
        uv_fs_t req;
        assert_int_equal(uv_fs_stat(L, &req, P("never"), NULL), UV_ENOENT);
        uv_fs_req_cleanup(&req);
    }
    fsroot_remove(sim);
}

static void cancel_passthrough(void **state) { cancel_before_and_after_start(*state, 0); }
static void cancel_memory(void **state) { cancel_before_and_after_start(*state, 1); }

static void sync_call_inside_a_callback_and_loop_alive(void **state)
{
    ah_sim *sim = *state;

    cur = sim;
    log_[0] = '\0';
    fsroot_make(sim, 1);
    ah_fs_latency(sim, UV_FS_UNKNOWN, 100);
    uv_fs_stat(L, &stat_req, fsroot, on_stat);
    assert_true(uv_loop_alive(L)); /* a request in flight keeps the loop alive */
    assert_int_equal(uv_run(L, UV_RUN_DEFAULT), 0);
    ah_assert_now_ms(sim, 100);
    assert_string_equal(log_, "100 stat OK|");
}

/* ---- teardown reports ---- */

static uv_fs_t leak_req;
static void forget_cleanup_cb(uv_fs_t *req) { (void)req; }

static void in_flight_body(ah_sim *sim, void *ctx)
{
    (void)ctx;
    fsroot_make(sim, 1);
    ah_fs_latency(sim, UV_FS_UNKNOWN, 50);
    uv_fs_stat(L, &leak_req, fsroot, forget_cleanup_cb);
    ah_advance(sim, 10);
}

static void async_path_not_cleaned_body(ah_sim *sim, void *ctx)
{
    (void)ctx;
    fsroot_make(sim, 1);
    uv_fs_stat(L, &leak_req, fsroot, forget_cleanup_cb);
    ah_run_until_idle(sim);
    if (ctx != NULL)
        uv_fs_req_cleanup(&leak_req);
}

static void cleanup_in_flight_body(ah_sim *sim, void *ctx)
{
    (void)ctx;
    fsroot_make(sim, 1);
    uv_fs_stat(L, &leak_req, fsroot, forget_cleanup_cb);
    uv_fs_req_cleanup(&leak_req);
}

/* The results libuv allocates: scandir's entries, readlink's and realpath's strings. */
static uv_fs_t a, b, c;

static void clean_abc(void)
{
    uv_fs_req_cleanup(&a);
    uv_fs_req_cleanup(&b);
    uv_fs_req_cleanup(&c);
}

static void results_not_cleaned_body(ah_sim *sim, void *ctx)
{
    int memory = ctx != NULL;

    fsroot_make(sim, memory);
    uv_fs_symlink(L, &a, "target", P("ln"), 0, NULL);
    uv_fs_req_cleanup(&a);
    uv_fs_scandir(L, &a, fsroot, 0, NULL);
    uv_fs_readlink(L, &b, P("ln"), NULL);
    uv_fs_realpath(L, &c, fsroot, NULL);
    fsroot_remove(sim);
}

static uv_file left_open;

static void file_left_open_body(ah_sim *sim, void *ctx)
{
    uv_fs_t req;

    fsroot_make(sim, 1);
    left_open = uv_fs_open(L, &req, P("f"), O_WRONLY | O_CREAT, 0644, NULL);
    uv_fs_req_cleanup(&req);
    if (ctx != NULL) {
        uv_fs_close(L, &req, left_open, NULL);
        uv_fs_req_cleanup(&req);
    }
}

static void teardown_reports(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, in_flight_body, NULL, "request still in flight: uv_fs_stat");
    free((void *)leak_req.path); /* its callback never came: nobody will clean it */
    leak_req.path = NULL;
    ah_assert_fails_with(NULL, async_path_not_cleaned_body, NULL,
                         "of uv_fs_stat started in async_path_not_cleaned_body (test_fs_async.c:");
    uv_fs_req_cleanup(&leak_req);
    ah_assert_passes(NULL, async_path_not_cleaned_body, (void *)1);
    ah_assert_fails_with(NULL, cleanup_in_flight_body, NULL, "uv_fs_req_cleanup on a uv_fs_t");
    uv_fs_req_cleanup(&leak_req);
    ah_assert_fails_with(NULL, results_not_cleaned_body, NULL,
                         "of uv_fs_scandir started in results_not_cleaned_body (test_fs_async.c:");
    clean_abc();
    ah_assert_fails_with(NULL, results_not_cleaned_body, NULL,
                         "of uv_fs_readlink started in results_not_cleaned_body (test_fs_async.c:");
    clean_abc();
    ah_assert_fails_with(NULL, results_not_cleaned_body, (void *)1,
                         "of uv_fs_realpath started in results_not_cleaned_body (test_fs_async.c:");
    clean_abc();
    ah_assert_fails_with(NULL, file_left_open_body, NULL,
                         "file left open (leaked descriptor): fd 10000 (/tmp/t/f) opened in "
                         "file_left_open_body (test_fs_async.c:");
    ah_assert_passes(NULL, file_left_open_body, (void *)1);
    /* what the planted bodies leaked on purpose (Valgrind runs these too) */
    uv_fs_req_cleanup(&leak_req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(chain_passthrough),
        ah_unit_test(chain_memory),
        ah_unit_test(latency_orders_completions),
        ah_unit_test(cancel_passthrough),
        ah_unit_test(cancel_memory),
        ah_unit_test(sync_call_inside_a_callback_and_loop_alive),
        ah_unit_test(teardown_reports),
    };
    return ah_run_tests(tests);
}
