/* Requests and futures the sim does not know (issue 24, item 3): a request or a future used after
 * its memory was freed is "never initialised in this sim, closed, or freed (a use after free?)",
 * with the call site and the ways to see where it was freed. And calls ah/sites.h did not mark
 * (item 2; `(uv_write)(...)` is not expanded by its function-like macro, as in code built
 * without the header): a failure inside one names its address with the addr2line command. Each
 * planted test FAILS on purpose and CTest checks its report (selftest/planted/CMakeLists.txt); the
 * twins must pass (AH_UNKNOWN=twins). Freed memory is imitated by scribbling on memory that stays
 * allocated (as malloc's free list does), so that Valgrind, which runs this binary, sees no invalid
 * access of its own. */
#include <ah/ah.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

static void work_cb(uv_work_t *req) { (void)req; }
static void after_work(uv_work_t *req, int status)
{
    (void)status;
    *(int *)req->data += 1;
}

/* uv_cancel of a work request whose callback ran and whose memory was then freed */
static void cancel_freed_request(void **state)
{
    ah_sim *sim = *state;
    static uv_work_t req;
    int done = 0;

    req.data = &done;
    assert_int_equal(uv_queue_work(uv_default_loop(), &req, work_cb, after_work), 0);
    ah_run_until_idle(sim);
    assert_int_equal(done, 1);
    memset(&req, 0xa5, 16);      /* freed: malloc's free list writes over its first bytes */
    uv_cancel((uv_req_t *)&req); /* the planted use after free */
}

static void cancel_freed_request_twin(void **state)
{
    ah_sim *sim = *state;
    static uv_work_t req, zeroed;
    int done = 0;

    req.data = &done;
    assert_int_equal(uv_queue_work(uv_default_loop(), &req, work_cb, after_work), 0);
    ah_run_until_idle(sim);
    /* as on libuv: a finished request is no longer cancellable, a zeroed one is no request */
    assert_int_equal(uv_cancel((uv_req_t *)&req), UV_EBUSY);
    assert_int_equal(uv_cancel((uv_req_t *)&zeroed), UV_EINVAL);
    assert_int_equal(uv_queue_work(uv_default_loop(), &req, work_cb, after_work), 0);
    assert_int_equal(uv_cancel((uv_req_t *)&req), 0);
    ah_run_until_idle(sim);
    assert_int_equal(done, 2);
}

/* uv_cancel of a request this sim never made (one of an earlier test looks the same) */
static void cancel_unknown_request(void **state)
{
    static uv_getaddrinfo_t req;

    (void)state;
    req.type = UV_GETADDRINFO; /* what a lookup of another sim leaves */
    uv_cancel((uv_req_t *)&req);
}

static void on_open(uv_fs_t *req) { (void)req; }

/* uv_fs_req_cleanup again after the request's memory was freed */
static void cleanup_freed_request(void **state)
{
    ah_sim *sim = *state;
    static uv_fs_t req;

    ah_fs_memory(sim);
    assert_int_equal(uv_fs_open(uv_default_loop(), &req, "/a", O_CREAT | O_RDWR, 0644, on_open), 0);
    ah_run_until_idle(sim);
    uv_fs_req_cleanup(&req);
    memset(&req, 0xa5, 16);  /* freed */
    uv_fs_req_cleanup(&req); /* the planted use after free */
}

static void cleanup_freed_request_twin(void **state)
{
    ah_sim *sim = *state;
    static uv_fs_t req, zeroed;
    uv_fs_t sync;

    ah_fs_memory(sim);
    assert_int_equal(uv_fs_open(uv_default_loop(), &req, "/a", O_CREAT | O_RDWR, 0644, on_open), 0);
    ah_run_until_idle(sim);
    uv_fs_req_cleanup(&req);
    uv_fs_req_cleanup(&req); /* twice on live memory: harmless, as on libuv */
    uv_fs_req_cleanup(&zeroed);
    assert_int_equal(uv_fs_close(NULL, &sync, (uv_file)req.result, NULL), 0);
    uv_fs_req_cleanup(&sync);
    /* a call refused before it started still made the request */
    assert_int_equal(uv_fs_read(NULL, &sync, 0, NULL, 0, 0, NULL), UV_EINVAL);
    uv_fs_req_cleanup(&sync);
}

/* a future kept from an earlier test (freed with its sim) */
static void future_freed(void **state)
{
    static union {
        char bytes[512];
        void *align;
    } gone;

    (void)state;
    memset(&gone, 0xa5, sizeof(gone));
    ah_future_fulfil((ah_future *)&gone, 1); /* the planted use after free */
}

/* ah_await of one */
static void await_freed_future(void **state)
{
    ah_sim *sim = *state;
    static union {
        char bytes[512];
        void *align;
    } gone;

    memset(&gone, 0, sizeof(gone));
    ah_await(sim, (ah_future *)&gone); /* the planted use after free */
}

static void future_twin(void **state)
{
    ah_sim *sim = *state;
    ah_future *f = ah_future_new(sim);

    assert_int_equal(ah_future_fulfil(f, 7), 0);
    assert_int_equal(ah_future_fulfil(f, 8), UV_EALREADY);
    assert_int_equal(ah_await_value(sim, f), 7);
}

/* unmarked calls, as from a library built without ah/sites.h */
static void unmarked_write_without_buffers(void **state)
{
    ah_sim *sim = *state;
    static uv_tcp_t tcp;
    static uv_connect_t c;
    static uv_write_t w;
    struct sockaddr_in a;

    ah_net_listen(sim, "127.0.0.1:7100");
    uv_ip4_addr("127.0.0.1", 7100, &a);
    (uv_tcp_init)(uv_default_loop(), &tcp);
    (uv_tcp_connect)(&c, &tcp, (const struct sockaddr *)&a, NULL);
    ah_run_ready(sim);
    (uv_write)(&w, (uv_stream_t *)&tcp, NULL, 0, NULL); /* the planted misuse */
}

static void unmarked_udp_send_without_buffers(void **state)
{
    static uv_udp_t udp;
    static uv_udp_send_t req;
    struct sockaddr_in a;

    (void)state;
    uv_ip4_addr("127.0.0.1", 9000, &a);
    (uv_udp_init)(uv_default_loop(), &udp);
    (uv_udp_send)(&req, &udp, NULL, 0, (const struct sockaddr *)&a, NULL); /* the planted misuse */
}

static void unmarked_udp_call_on_a_tcp_handle(void **state)
{
    static uv_tcp_t tcp;

    (void)state;
    (uv_tcp_init)(uv_default_loop(), &tcp);
    (uv_udp_set_broadcast)((uv_udp_t *)&tcp, 1); /* the planted misuse */
}

static void unmarked_poll_stop_on_a_tcp_handle(void **state)
{
    static uv_tcp_t tcp;

    (void)state;
    (uv_tcp_init)(uv_default_loop(), &tcp);
    (uv_poll_stop)((uv_poll_t *)&tcp); /* the planted misuse */
}

static void unmarked_twin(void **state)
{
    ah_sim *sim = *state;
    static uv_udp_t udp;
    static uv_udp_send_t req;
    struct sockaddr_in a;
    uv_buf_t b = uv_buf_init("x", 1);

    uv_ip4_addr("127.0.0.1", 9000, &a);
    (uv_udp_init)(uv_default_loop(), &udp);
    assert_int_equal((uv_udp_send)(&req, &udp, &b, 1, (const struct sockaddr *)&a, NULL), 0);
    (uv_close)((uv_handle_t *)&udp, NULL);
    ah_run_until_idle(sim);
}

int main(void)
{
    const char *which = getenv("AH_UNKNOWN");
    const struct CMUnitTest planted[] = {
        ah_unit_test(cancel_freed_request),
        ah_unit_test(cancel_unknown_request),
        ah_unit_test(cleanup_freed_request),
        ah_unit_test(future_freed),
        ah_unit_test(await_freed_future),
        ah_unit_test(unmarked_write_without_buffers),
        ah_unit_test(unmarked_udp_send_without_buffers),
        ah_unit_test(unmarked_udp_call_on_a_tcp_handle),
        ah_unit_test(unmarked_poll_stop_on_a_tcp_handle),
    };
    const struct CMUnitTest twins[] = {
        ah_unit_test(cancel_freed_request_twin),
        ah_unit_test(cleanup_freed_request_twin),
        ah_unit_test(future_twin),
        ah_unit_test(unmarked_twin),
    };

    if (which != NULL && strcmp(which, "twins") == 0)
        return ah_run_tests(twins);
    return ah_run_tests(planted);
}
