/* The thread pool's generic job, for layers above mocks/ (fs/): the narrow door they use instead
 * of internal_net.h. Nothing here is public API. */
#ifndef AH_MOCKS_POOL_H
#define AH_MOCKS_POOL_H

#include "../harness/internal.h"

/* Runs the operation "on a worker" (at the job's start instant). */
typedef void (*ah__job_run_fn)(uv_req_t *req);
/* Completes it on the loop: called after the request was unregistered (ah__req_end), with 0 or
 * UV_ECANCELED; it calls the user's callback (through AH__DISPATCH). */
typedef void (*ah__job_done_fn)(uv_req_t *req, int status);

/* Queues `req` (already registered with ah__req_begin) on the sim's pool: `run` starts when a
 * thread is free, `done` follows `duration_ms` later from a poll. uv_cancel cancels it before it
 * started, as libuv does. `what` names it in reports ("uv_fs_open"). */
void ah__pool_submit(uv_loop_t *loop, uv_req_t *req, const char *what, ah__job_run_fn run,
                     ah__job_done_fn done, uint64_t duration_ms, ah__site site);

/* Fails the test when `req` is still in flight (mocks/net.c). */
void ah__req_require_idle(const void *req, const char *fn, ah__site site);

#endif
