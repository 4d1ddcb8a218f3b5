/* The thread pool behind uv_queue_work (and the requests other layers submit: DNS, fs).
 *
 * As libuv: UV_THREADPOOL_SIZE workers (4 by default, at most 1024, read from the environment at
 * the pool's first use), taking jobs in submission order. Each worker is a simulated thread
 * (threads/sched.c), started when a job finds no idle worker, so the work callbacks of several
 * jobs run in parallel in virtual time: five jobs whose work sleeps 1 s finish four at +1000 ms
 * and the fifth at +2000 ms. A job's extra duration (ah_threadpool_duration*) is virtual time
 * the worker spends after the work callback. The after-work callback runs on the loop's thread
 * from its poll, as libuv delivers completions through its async handle. uv_cancel succeeds
 * (UV_ECANCELED) only while the job waits for a worker, and returns UV_EBUSY once one took it. */
#define _GNU_SOURCE 1
#include "internal_threads.h"
#include "pool.h"

#include <stdio.h>
#include <string.h>

enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

typedef struct duration_rule {
    ah__list link;
    uv_work_cb cb;
    char file[128]; /* empty: a rule for `cb` */
    int line;
    uint64_t ms;
} duration_rule;

typedef struct pool {
    ah__sched *sched;
    unsigned size, workers;
    unsigned idle;  /* workers waiting on idle_obj */
    unsigned woken; /* workers woken for a job that have not run yet */
    ah__list queue, running, free, durations;
    ah__sobj idle_obj; /* idle workers wait on it */
} pool;

static void pool_destroy(ah__sched *s);
static void pool_pending(ah__sched *s, ah__buf *b);

static pool *pool_get(ah_sim *sim, const char *fn)
{
    ah__thr *self;
    ah__sched *s = ah__sched_get(&self, 1);
    pool *p;
    const char *env;

    if (s == NULL || s->sim != sim)
        ah__fail(sim, "%s called from a thread the sim does not schedule", fn);
    if (s->pool != NULL)
        return s->pool;
    p = ah__calloc(1, sizeof(*p));
    p->sched = s;
    ah__list_init(&p->queue);
    ah__list_init(&p->running);
    ah__list_init(&p->free);
    ah__list_init(&p->durations);
    ah__list_init(&p->idle_obj.waiters);
    p->idle_obj.kind = AH__O_SEM;
    p->size = 4;
    if ((env = getenv("UV_THREADPOOL_SIZE")) != NULL && atoi(env) > 0)
        p->size = atoi(env) > 1024 ? 1024 : (unsigned)atoi(env);
    s->pool = p;
    s->pool_destroy = pool_destroy;
    s->pool_pending = pool_pending;
    return p;
}

static struct uv__work *work_of(uv_req_t *req)
{
    switch (req->type) {
    case UV_WORK:
        return &((uv_work_t *)req)->work_req;
    case UV_GETADDRINFO:
        return &((uv_getaddrinfo_t *)req)->work_req;
    case UV_GETNAMEINFO:
        return &((uv_getnameinfo_t *)req)->work_req;
    case UV_FS:
        return &((uv_fs_t *)req)->work_req;
    case UV_RANDOM:
        return &((uv_random_t *)req)->work_req;
    default:
        return NULL;
    }
}

/* ---- completion on the loop ---- */

static void job_fire(ah__event *ev)
{
    ah__job *job = ah__container_of(ev, ah__job, ev);
    uv_req_t *req = job->req;
    ah__sched *s = ah_sim_current()->sched;
    pool *p = s->pool;
    int status = job->status;
    ah__job_done_fn done = job->done;

    ah__list_remove(&job->link);
    ah__qslot_set(&work_of(req)->wq, 0, NULL);
    ah__req_end(req);
    done(job, status);
    /* the job's data stays readable during done; recycle it after */
    ah__list_insert_tail(&p->free, &job->link);
}

static void complete(pool *p, ah__job *job, int status)
{
    ah_sim *sim = p->sched->sim;

    job->state = JOB_DONE;
    job->status = status;
    ah__event_schedule(job->loop, &job->ev, sim->clock.now_ns);
    if (sim->threads_live > 0)
        ah__threads_hooks.wake_loop(sim, job->loop); /* as libuv's uv_async_send */
}

/* ---- workers ---- */

static void *worker_main(void *arg)
{
    pool *p = arg;
    ah__sched *s = p->sched;
    ah__thr *self;
    ah__job *job;
    char what[320];

    ah__sched_get(&self, 0);
#if AH__UV_POOL_THREAD_NAME
    pthread_setname_np(pthread_self(), "libuv-worker");
#endif
    p->woken--; /* started for a job */
    for (;;) {
        while (ah__list_empty(&p->queue)) {
            p->idle++;
            ah__list_insert_tail(&p->idle_obj.waiters, &self->wait_link);
            ah__sched_block(s, self, AH__W_POOL, &p->idle_obj, "the thread pool", (ah__site){0},
                            UINT64_MAX);
            p->woken--; /* pump counted it out of idle when it woke it */
        }
        job = ah__container_of(p->queue.next, ah__job, link);
        ah__list_remove(&job->link);
        ah__list_insert_tail(&p->running, &job->link);
        job->state = JOB_RUNNING;
        {
            /* Named with its call site: which uv_fs_write of the code under test this is. */
            char site[160];
            snprintf(what, sizeof(what), "%s starts (called in %s)", job->what,
                     ah__site_str(&job->site, site, sizeof(site)));
        }
        ah__trace_note(s->sim, "thread pool", what);
        job->work(job);
        if (job->duration_ms > 0)
            ah__sched_block(s, self, AH__W_SLEEP, NULL, job->what, job->site,
                            s->sim->clock.now_ns + job->duration_ms * AH__NS_PER_MS);
        complete(p, job, 0);
    }
    return NULL;
}

static void pump(pool *p)
{
    ah__sched *s = p->sched;
    ah__thr *t;
    ah__list *q;
    unsigned queued = 0;
    int err;

    for (q = p->queue.next; q != &p->queue; q = q->next)
        queued++;
    if (queued <= p->woken)
        return;
    queued -= p->woken;
    /* one idle worker per queued job, in the order they became idle, then new workers */
    while (queued > 0 && p->idle > 0) {
        ah__sched_wake(ah__container_of(p->idle_obj.waiters.next, ah__thr, wait_link));
        p->idle--;
        p->woken++;
        queued--;
    }
    while (queued > 0 && p->workers < p->size) {
        t = ah__thr_create(s, worker_main, p, "the thread pool", (ah__site){0}, 0, &err);
        if (t == NULL)
            ah__fail(s->sim, "the thread pool could not start a worker thread (error %d)", err);
        t->pool_worker = 1;
        p->workers++;
        p->woken++; /* a new worker takes a job before it idles */
        queued--;
    }
}

ah__job *ah__job_submit(uv_loop_t *loop, uv_req_t *req, const char *what, ah__job_work_fn work,
                        ah__job_done_fn done, uint64_t duration_ms, ah__site site)
{
    pool *p = pool_get(ah__lp(loop)->sim, what);
    ah__job *job;

    if (!ah__list_empty(&p->free)) {
        job = ah__container_of(p->free.next, ah__job, link);
        ah__list_remove(&job->link);
    } else {
        job = ah__malloc(sizeof(*job));
    }
    memset(job, 0, sizeof(*job));
    job->req = req;
    job->loop = loop;
    job->what = what;
    job->work = work;
    job->done = done;
    job->state = JOB_QUEUED;
    job->duration_ms = duration_ms;
    job->site = site;
    job->ev.fire = job_fire;
    job->ev.what = what;
    job->ev.site = site;
    job->ev.owner = req;
    ah__qslot_set(&work_of(req)->wq, 0, job);
    ah__qslot_set(&work_of(req)->wq, 1, NULL);
    ah__list_insert_tail(&p->queue, &job->link);
    pump(p);
    return job;
}

static ah__job *job_of(uv_req_t *req)
{
    struct uv__work *w = work_of(req);
    ah__job *job;

    if (w == NULL || ah__req_rec(req) == NULL)
        return NULL;
    job = ah__qslot_get(&w->wq, 0);
    return job != NULL && job->req == req ? job : NULL;
}

int uv_cancel(uv_req_t *req)
{
    ah__site site = AH__CALLER("uv_cancel");
    ah_sim *sim = ah__sim();
    ah__job *job;

    (void)site;
    if (req == NULL)
        ah__fail(sim, "uv_cancel: called with a NULL request");
    if (work_of(req) == NULL)
        return UV_EINVAL;
    job = job_of(req);
    if (job == NULL || job->state != JOB_QUEUED)
        return UV_EBUSY; /* taken by a worker, or done: libuv finds no queued work either */
    ah__list_remove(&job->link);
    ah__list_insert_tail(&((pool *)sim->sched->pool)->running, &job->link);
    ah__trace_note(sim, "thread pool", "job cancelled");
    /* As libuv: the done callback comes through the loop's wake-up, in the next poll. */
    complete(sim->sched->pool, job, UV_ECANCELED);
    return 0;
}

/* ---- uv_queue_work ---- */

static uint64_t duration_of(pool *p, uv_work_cb cb, const ah__site *site)
{
    ah__list *q;

    for (q = p->durations.next; q != &p->durations; q = q->next) {
        duration_rule *r = ah__container_of(q, duration_rule, link);
        if (r->file[0] != '\0' && site->file != NULL && r->line == site->line &&
            strcmp(ah__base_name(r->file), ah__base_name(site->file)) == 0)
            return r->ms;
    }
    for (q = p->durations.next; q != &p->durations; q = q->next) {
        duration_rule *r = ah__container_of(q, duration_rule, link);
        if (r->file[0] == '\0' && r->cb == cb)
            return r->ms;
    }
    return 0;
}

static void work_run(ah__job *job)
{
    uv_work_t *w = (uv_work_t *)job->req;
    w->work_cb(w);
}

static void work_done(ah__job *job, int status)
{
    uv_work_t *w = (uv_work_t *)job->req;
    ah_sim *sim = ah_sim_current();

    if (w->after_work_cb != NULL)
        AH__DISPATCH(sim, NULL, "after_work_cb", w->after_work_cb(w, status));
}

/* Fails the test when `req` is still in flight: libuv would corrupt its queues on reuse. The
 * request's own fields may be uninitialised (libuv reads none before it starts a request), so it
 * is looked up among the sim's requests in flight, newest first (at most 1024). */
static void require_idle(ah_sim *sim, const void *req, ah__site site)
{
    ah__rrec *r = NULL;
    ah__list *q;
    char s1[160], s2[160];
    int n = 0;

    for (q = sim->reqs.prev; q != &sim->reqs && n < 1024; q = q->prev, n++)
        if (ah__container_of(q, ah__rrec, link)->req == req) {
            r = ah__container_of(q, ah__rrec, link);
            break;
        }
    if (r != NULL)
        ah__fail(sim,
                 "uv_queue_work in %s: request %p is still in flight (%s started in %s); a "
                 "request may be reused only after its callback ran",
                 ah__site_str(&site, s1, sizeof(s1)), req, r->what,
                 ah__site_str(&r->site, s2, sizeof(s2)));
}

int uv_queue_work(uv_loop_t *loop, uv_work_t *req, uv_work_cb work_cb,
                  uv_after_work_cb after_work_cb)
{
    ah__site site = AH__CALLER("uv_queue_work");
    ah_sim *sim = ah__loop_sim(loop, "uv_queue_work");
    pool *p;

    if (work_cb == NULL)
        return UV_EINVAL;
    if (req == NULL)
        ah__fail(sim, "uv_queue_work: called with a NULL request");
    p = pool_get(sim, "uv_queue_work");
    require_idle(sim, req, site);
    ah__req_begin(loop, (uv_req_t *)req, UV_WORK, "uv_queue_work", site);
    req->loop = loop;
    req->work_cb = work_cb;
    req->after_work_cb = after_work_cb;
    ah__job_submit(loop, (uv_req_t *)req, "uv_queue_work", work_run, work_done,
                   duration_of(p, work_cb, &site), site);
    return 0;
}

/* ---- the test's knobs ---- */

static void add_rule(ah_sim *sim, uv_work_cb cb, const char *file, int line, uint64_t ms)
{
    pool *p = pool_get(sim, "ah_threadpool_duration");
    duration_rule *r = ah__calloc(1, sizeof(*r));

    r->cb = cb;
    snprintf(r->file, sizeof(r->file), "%s", file != NULL ? file : "");
    r->line = line;
    r->ms = ms;
    ah__list_insert_head(&p->durations, &r->link); /* the newest rule wins */
}

void ah_threadpool_duration(ah_sim *sim, uv_work_cb work_cb, uint64_t ms)
{
    if (work_cb == NULL)
        ah__fail(sim, "ah_threadpool_duration: called with a NULL work callback");
    add_rule(sim, work_cb, NULL, 0, ms);
}

void ah_threadpool_duration_at(ah_sim *sim, const char *file, int line, uint64_t ms)
{
    if (file == NULL)
        ah__fail(sim, "ah_threadpool_duration_at: called with a NULL file");
    add_rule(sim, NULL, file, line, ms);
}

void ah_threadpool_size(ah_sim *sim, unsigned threads)
{
    pool *p;

    if (threads == 0 || threads > 1024)
        ah__fail(sim, "ah_threadpool_size(%u): libuv's pool has 1 to 1024 threads", threads);
    p = pool_get(sim, "ah_threadpool_size");
    p->size = threads;
    pump(p);
}

/* ---- reports and teardown ---- */

static void pool_pending(ah__sched *s, ah__buf *b)
{
    pool *p = s->pool;
    ah__list *q;
    char st[160];

    for (q = p->queue.next; q != &p->queue; q = q->next) {
        ah__job *job = ah__container_of(q, ah__job, link);
        ah__buf_printf(b, "  - %s from %s waits for a thread-pool thread (all %u busy)\n",
                       job->what, ah__site_str(&job->site, st, sizeof(st)), p->size);
    }
    for (q = p->running.next; q != &p->running; q = q->next) {
        ah__job *job = ah__container_of(q, ah__job, link);
        if (job->state == JOB_RUNNING)
            ah__buf_printf(b, "  - %s from %s runs on the thread pool\n", job->what,
                           ah__site_str(&job->site, st, sizeof(st)));
    }
}

static void pool_destroy(ah__sched *s)
{
    pool *p = s->pool;
    ah__list *lists[3] = {&p->queue, &p->running, &p->free};
    int i;

    for (i = 0; i < 3; i++)
        while (!ah__list_empty(lists[i])) {
            ah__list *q = lists[i]->next;
            ah__job *job = ah__container_of(q, ah__job, link);
            ah__list_remove(q);
            ah__free(job); /* a completion still queued dies with its loop's queue */
        }
    while (!ah__list_empty(&p->durations)) {
        ah__list *q = p->durations.next;
        ah__list_remove(q);
        ah__free(ah__container_of(q, duration_rule, link));
    }
    ah__free(p);
    s->pool = NULL;
}
