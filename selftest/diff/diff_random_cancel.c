/* uv_random is thread-pool work: behind four busy workers it waits in the queue, uv_cancel takes
 * it out (0, then its callback with UV_ECANCELED and the buffer untouched), and one already done
 * cannot be cancelled (UV_EBUSY). libuv's test threadpool_cancel_random does the first half. */
#include "trace.h"

#include <stdlib.h>
#include <string.h>

#define WORKERS 4

static uv_work_t busy[WORKERS];
static uv_sem_t gate[WORKERS];
static uv_random_t req;
static unsigned char buf[16], zero[16];

static void block(uv_work_t *w) { uv_sem_wait(&gate[w - busy]); }
static void unblocked(uv_work_t *w, int status)
{
    (void)w;
    V("busy work done", status);
}

static void random_cb(uv_random_t *r, int status, void *b, size_t n)
{
    (void)r;
    V("random_cb", status);
    V("length", n);
    V("buffer untouched", memcmp(b, zero, sizeof(zero)) == 0);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    int i;

    setenv("UV_THREADPOOL_SIZE", "4", 1);
    trace_begin(loop);
    for (i = 0; i < WORKERS; i++) {
        uv_sem_init(&gate[i], 0);
        V("queue busy work", uv_queue_work(loop, &busy[i], block, unblocked));
    }
    V("uv_random", uv_random(loop, &req, buf, sizeof(buf), 0, random_cb));
    V("uv_cancel", uv_cancel((uv_req_t *)&req));
    for (i = 0; i < WORKERS; i++)
        uv_sem_post(&gate[i]);
    V("run", uv_run(loop, UV_RUN_DEFAULT));

    /* done: nothing left to cancel */
    V("uv_random again", uv_random(loop, &req, buf, sizeof(buf), 0, random_cb));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    V("uv_cancel after", uv_cancel((uv_req_t *)&req));
    for (i = 0; i < WORKERS; i++)
        uv_sem_destroy(&gate[i]);
    V("close", uv_loop_close(loop));
    return 0;
}
