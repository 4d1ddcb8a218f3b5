/* The thread pool's job interface, for the layers that run requests on it as libuv does
 * (uv_queue_work here; uv_getaddrinfo/uv_getnameinfo in mocks/dns.c; uv_fs_* in fs/fs.c).
 *
 * A job takes one of UV_THREADPOOL_SIZE slots (in parallel, in virtual time), runs `work`, then
 * lasts `duration_ms` more, then `done` runs on the loop's thread from its poll phase (status 0,
 * or UV_ECANCELED after a uv_cancel before its work started). The request is tracked as in flight
 * from submission to done.
 *
 * The jobs submitted here are the harness's own (its work is harness code): they run on no
 * thread. Their work runs on the thread that polls, at the instant a slot takes them, before the
 * poll delivers; their duration is an instant on the clock (docs/threads.md, "Pay for what you
 * use"). Only uv_queue_work's work callback, which is the user's code, runs on a simulated
 * worker thread. */
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
    int on_thread;          /* uv_queue_work: the work runs on a worker thread */
    struct ah__thr *worker; /* the worker a job on a thread was handed to */
    uint64_t duration_ms;
    uint64_t finish_ns; /* a job on no thread: when its duration ends */
    ah__event tick;     /* ...an event then, so the clock stops there */
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
