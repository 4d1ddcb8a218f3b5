/* The thread pool's job interface, for the layers that run requests on it as libuv does
 * (uv_queue_work here; uv_getaddrinfo/uv_getnameinfo in mocks/dns.c; later uv_fs_*).
 *
 * A job runs `work` on one of UV_THREADPOOL_SIZE simulated worker threads (in parallel, in
 * virtual time: a worker that sleeps blocks only itself), then lasts `duration_ms` more, then
 * `done` runs on the loop's thread from its poll phase (status 0, or UV_ECANCELED after a
 * uv_cancel while it was queued). The request is tracked as in flight from submission to done. */
#ifndef AH_THREADS_POOL_H
#define AH_THREADS_POOL_H

#include "../harness/internal.h"

#include <stddef.h>

typedef struct ah__job ah__job;
typedef void (*ah__job_work_fn)(ah__job *job);
typedef void (*ah__job_done_fn)(ah__job *job, int status);

struct ah__job {
    ah__list link; /* the pool's queue, running list or free list */
    ah__event ev;  /* the completion, delivered by the loop's poll */
    uv_req_t *req;
    uv_loop_t *loop;
    const char *what; /* "uv_queue_work", "uv_getaddrinfo" */
    ah__job_work_fn work;
    ah__job_done_fn done;
    int state, status;
    uint64_t duration_ms;
    ah__site site;
    /* the submitter's own copy of its arguments (libuv copies them too) */
    union {
        max_align_t align;
        unsigned char bytes[512];
    } data;
};

/* Queues `req` (already begun with ah__req_begin) on the pool. Fails the test when called from a
 * thread the sim does not schedule. The job's data is zeroed for the caller to fill before the
 * job can start (it starts at the caller's next switch point at the earliest). */
ah__job *ah__job_submit(uv_loop_t *loop, uv_req_t *req, const char *what, ah__job_work_fn work,
                        ah__job_done_fn done, uint64_t duration_ms, ah__site site);

#endif
