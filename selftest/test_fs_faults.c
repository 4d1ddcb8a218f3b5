/* Faults of the in-memory file system (and ah_fs_fail in passthrough): injected errors, a full
 * disk, short reads, slow paths, and a crash that loses what was not fsync'd. The planted bug is
 * a client that ignores ENOSPC: it must be caught by a test that fills the disk, and its correct
 * twin must pass the same test. */
#include "fskit.h"

#define L uv_default_loop()

/* ---- a small client in plain libuv: save_file(path, data) -> status ---- */

typedef struct saver {
    uv_fs_t req;
    uv_buf_t buf;
    const char *data;
    size_t len, done;
    uv_file fd;
    int status;
    int finished;
    int careful; /* 0: the planted bug, ignoring what the write returned */
} saver;

static void saver_closed(uv_fs_t *req)
{
    saver *s = req->data;
    uv_fs_req_cleanup(req);
    s->finished = 1;
}

static void saver_finish(saver *s, int status)
{
    s->status = status;
    uv_fs_close(L, &s->req, s->fd, saver_closed);
    s->req.data = s;
}

static void saver_wrote(uv_fs_t *req)
{
    saver *s = req->data;
    ssize_t r = req->result;

    uv_fs_req_cleanup(req);
    if (!s->careful) { /* the bug: whatever came back, report success */
        saver_finish(s, 0);
        return;
    }
    if (r < 0) {
        saver_finish(s, (int)r);
        return;
    }
    s->done += (size_t)r;
    if (s->done == s->len) {
        saver_finish(s, 0);
        return;
    }
    /* a short write: write the rest; on a full disk that one fails with ENOSPC */
    s->buf = uv_buf_init((char *)s->data + s->done, (unsigned)(s->len - s->done));
    uv_fs_write(L, &s->req, s->fd, &s->buf, 1, (int64_t)s->done, saver_wrote);
    s->req.data = s;
}

static void saver_opened(uv_fs_t *req)
{
    saver *s = req->data;

    s->fd = (uv_file)req->result;
    uv_fs_req_cleanup(req);
    if (s->fd < 0) {
        s->status = s->fd;
        s->finished = 1;
        return;
    }
    s->buf = uv_buf_init((char *)s->data, (unsigned)s->len);
    uv_fs_write(L, &s->req, s->fd, &s->buf, 1, 0, saver_wrote);
    s->req.data = s;
}

static void save_file(saver *s, const char *path, const char *data)
{
    s->data = data;
    s->len = strlen(data);
    s->done = 0;
    s->finished = 0;
    uv_fs_open(L, &s->req, path, O_WRONLY | O_CREAT | O_TRUNC, 0644, saver_opened);
    s->req.data = s;
}

/* The test a user would write: on a disk with 10 bytes free, saving 32 bytes must not report
 * success unless the file really holds them. */
static saver the_saver;

static void full_disk_body(ah_sim *sim, void *ctx)
{
    static const char data[] = "0123456789abcdefghijklmnopqrstuv";
    char back[64];
    ssize_t n;

    ah_fs_memory(sim);
    ah_fs_capacity(sim, 10);
    memset(&the_saver, 0, sizeof(the_saver));
    the_saver.careful = ctx != NULL;
    save_file(&the_saver, "/tmp/out", data);
    ah_run_until_idle(sim);
    if (!the_saver.finished)
        ah_fail(sim, "the client never finished");
    n = ah_fs_get(sim, "/tmp/out", back, sizeof(back));
    if (the_saver.status == 0 && (n != (ssize_t)strlen(data) || memcmp(back, data, (size_t)n) != 0))
        ah_fail(sim, "the client reported success but the file holds %zd of %zu bytes", n,
                strlen(data));
    if (the_saver.status != 0 && the_saver.status != UV_ENOSPC)
        ah_fail(sim, "the client failed with %s, not ENOSPC", uv_err_name(the_saver.status));
}

static void client_that_ignores_enospc_is_caught(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, full_disk_body, NULL,
                         "the client reported success but the file holds 10 of 32 bytes");
    ah_assert_passes(NULL, full_disk_body, (void *)1);
}

/* ---- the faults one by one ---- */

static void capacity_gives_a_short_write_then_enospc(void **state)
{
    ah_sim *sim = *state;
    uv_fs_t req;
    uv_buf_t b = uv_buf_init("abcdefgh", 8);
    uv_file fd;

    fsroot_make(sim, 1);
    ah_fs_capacity(sim, 10);
    fd = uv_fs_open(L, &req, P("f"), O_WRONLY | O_CREAT, 0644, NULL);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_write(L, &req, fd, &b, 1, -1, NULL), 8);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_write(L, &req, fd, &b, 1, -1, NULL), 2);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_write(L, &req, fd, &b, 1, -1, NULL), UV_ENOSPC);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_write(L, &req, fd, &b, 1, 0, NULL), 8); /* overwriting needs no room */
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_statfs(L, &req, fsroot, NULL), 0);
    assert_int_equal(((uv_statfs_t *)req.ptr)->f_bavail, 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_ftruncate(L, &req, fd, 0, NULL), 0); /* frees the space */
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_write(L, &req, fd, &b, 1, 0, NULL), 8);
    uv_fs_req_cleanup(&req);
    uv_fs_close(L, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_copyfile(L, &req, P("f"), P("g"), 0, NULL), UV_ENOSPC);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_access(L, &req, P("g"), F_OK, NULL), UV_ENOENT);
    uv_fs_req_cleanup(&req);
}

static void injected_errors_count_down(ah_sim *sim, int memory)
{
    uv_fs_t req;
    uv_file fd;
    char buf[8];
    uv_buf_t b = uv_buf_init(buf, sizeof(buf));

    fsroot_make(sim, memory);
    ah_fs_fail(sim, UV_FS_OPEN, P("locked"), UV_EACCES, 1);
    assert_int_equal(uv_fs_open(L, &req, P("locked"), O_WRONLY | O_CREAT, 0644, NULL), UV_EACCES);
    uv_fs_req_cleanup(&req);
    fd = uv_fs_open(L, &req, P("locked"), O_RDWR | O_CREAT, 0644, NULL);
    assert_true(fd >= 0);
    uv_fs_req_cleanup(&req);
    ah_fs_fail(sim, UV_FS_READ, fsroot, UV_EIO, 0); /* every read under the root, until cleared */
    assert_int_equal(uv_fs_read(L, &req, fd, &b, 1, 0, NULL), UV_EIO);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_read(L, &req, fd, &b, 1, 0, NULL), UV_EIO);
    uv_fs_req_cleanup(&req);
    ah_fs_clear(sim);
    assert_int_equal(uv_fs_read(L, &req, fd, &b, 1, 0, NULL), 0);
    uv_fs_req_cleanup(&req);
    ah_fs_fail(sim, UV_FS_MKSTEMP, NULL, UV_ENOSPC, 1);
    assert_int_equal(uv_fs_mkstemp(L, &req, P("tXXXXXX"), NULL), UV_ENOSPC);
    uv_fs_req_cleanup(&req);
    uv_fs_close(L, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
    fsroot_remove(sim);
}

static void errors_passthrough(void **state) { injected_errors_count_down(*state, 0); }
static void errors_memory(void **state) { injected_errors_count_down(*state, 1); }

static void short_reads(void **state)
{
    ah_sim *sim = *state;
    uv_fs_t req;
    char buf[16];
    uv_buf_t b = uv_buf_init(buf, sizeof(buf));
    uv_file fd;

    ah_fs_memory(sim);
    ah_fs_put(sim, "/tmp/f", "0123456789", 10);
    ah_fs_short_io(sim, "/tmp", 3);
    fd = uv_fs_open(L, &req, "/tmp/f", O_RDONLY, 0, NULL);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_read(L, &req, fd, &b, 1, -1, NULL), 3);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_read(L, &req, fd, &b, 1, -1, NULL), 3);
    assert_memory_equal(buf, "345", 3);
    uv_fs_req_cleanup(&req);
    uv_fs_close(L, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
}

static uint64_t done_at[2];
static uv_fs_t sreq[2];
static ah_sim *cur;
static void on_stat(uv_fs_t *req)
{
    done_at[req == &sreq[1]] = ah_now_ms(cur);
    uv_fs_req_cleanup(req);
}

static void slow_paths(ah_sim *sim, int memory)
{
    cur = sim;
    fsroot_make(sim, memory);
    ah_fs_slow(sim, P("slow"), 200);
    ah_fs_latency(sim, UV_FS_UNKNOWN, 1);
    uv_fs_stat(L, &sreq[0], P("slow/x"), on_stat);
    uv_fs_stat(L, &sreq[1], P("fast"), on_stat);
    ah_run_until_idle(sim);
    assert_int_equal(done_at[0], 201);
    assert_int_equal(done_at[1], 1);
    fsroot_remove(sim);
}

static void slow_passthrough(void **state) { slow_paths(*state, 0); }
static void slow_memory(void **state) { slow_paths(*state, 1); }

/* ---- crash ---- */

static void crash_loses_what_was_not_synced(void **state)
{
    ah_sim *sim = *state;
    uv_fs_t req;
    uv_buf_t b;
    uv_file a, c;
    char back[32];

    ah_fs_memory(sim);
    a = uv_fs_open(L, &req, "/tmp/a", O_WRONLY | O_CREAT, 0644, NULL);
    uv_fs_req_cleanup(&req);
    b = uv_buf_init("synced", 6);
    uv_fs_write(L, &req, a, &b, 1, -1, NULL);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_fsync(L, &req, a, NULL), 0);
    uv_fs_req_cleanup(&req);
    b = uv_buf_init("+later", 6);
    uv_fs_write(L, &req, a, &b, 1, -1, NULL);
    uv_fs_req_cleanup(&req);
    uv_fs_close(L, &req, a, NULL);
    uv_fs_req_cleanup(&req);

    c = uv_fs_open(L, &req, "/tmp/c", O_WRONLY | O_CREAT, 0644, NULL);
    uv_fs_req_cleanup(&req);
    b = uv_buf_init("never synced", 12);
    uv_fs_write(L, &req, c, &b, 1, -1, NULL);
    uv_fs_req_cleanup(&req);
    assert_int_equal(ah_fs_get(sim, "/tmp/c", back, sizeof(back)), 12);

    ah_fs_crash(sim); /* c is still open: after the crash it is gone, and not a leak */
    assert_int_equal(ah_fs_get(sim, "/tmp/a", back, sizeof(back)), 6);
    assert_memory_equal(back, "synced", 6);
    assert_int_equal(ah_fs_get(sim, "/tmp/c", back, sizeof(back)), 0);
    assert_int_equal(uv_fs_close(L, &req, c, NULL), UV_EBADF);
    uv_fs_req_cleanup(&req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(client_that_ignores_enospc_is_caught),
        ah_unit_test(capacity_gives_a_short_write_then_enospc),
        ah_unit_test(errors_passthrough),
        ah_unit_test(errors_memory),
        ah_unit_test(short_reads),
        ah_unit_test(slow_passthrough),
        ah_unit_test(slow_memory),
        ah_unit_test(crash_loses_what_was_not_synced),
    };
    return ah_run_tests(tests);
}
