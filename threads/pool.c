/* The thread pool behind uv_queue_work (and the requests other layers submit: DNS, fs).
 *
 * As libuv: UV_THREADPOOL_SIZE slots (4 by default, at most 1024, read from the environment at
 * the pool's first use), taking jobs in submission order, so several jobs run in parallel in
 * virtual time: five jobs whose work sleeps 1 s finish four at +1000 ms and the fifth at
 * +2000 ms. A job's extra duration (ah_threadpool_duration*, a DNS entry's latency, the fs
 * latencies) is virtual time the slot stays taken after the work. The after-work callback runs on
 * the loop's thread from its poll, as libuv delivers completions through its async handle.
 * uv_cancel succeeds (UV_ECANCELED) until the job's work started, and returns UV_EBUSY after.
 *
 * A test pays for what it uses: the harness's own jobs (DNS, fs) run on no thread. A slot that
 * takes one marks the sim (jobs_due_ns), and the next poll of any loop, or a verb letting time
 * pass, runs its work on the polling thread at that instant before delivering (where a worker
 * would have run, at the loop's next switch point), then stops the clock at the end of its
 * duration (an event, `tick`) to free the slot and complete it. Only uv_queue_work's work
 * callback, user code that may block, needs a thread: a simulated worker thread (threads/sched.c)
 * made when a job needs one and the pool has fewer workers than slots (libuv's workers all exist
 * from the first job), and kept for the sim's life as libuv keeps its pool. */
#define _GNU_SOURCE 1
#include "internal_threads.h"
#include "pool.h"

#include <stdio.h>
#include <string.h>

/* QUEUED: waits for a slot. STARTING: has a slot, its work has not started (a job on a thread:
 * handed to a worker that has not run yet); uv_cancel still takes it back. RUNNING: its work ran
 * or runs. FINISHED: the slot is free, the completion waits for the loop's poll. */
enum { JOB_QUEUED, JOB_STARTING, JOB_RUNNING, JOB_FINISHED };

typedef struct duration_rule {
    ah__list link;
    uv_work_cb cb;
    char file[128]; /* empty: a rule for `cb` */
    int line;
    uint64_t ms;
} duration_rule;

typedef struct pool {
    ah_sim *sim;
    unsigned size;
    unsigned busy;    /* slots taken: STARTING and RUNNING jobs */
    unsigned workers; /* worker threads made */
    unsigned idle;    /* workers waiting on idle_obj */
    ah__thr *handoff; /* a worker that finished a job and takes the next one itself */
    ah__list queue, running, free, durations;
    ah__sobj idle_obj; /* idle workers wait on it */
} pool;

static const int pool_key;

static void pool_destroy(ah_sim *sim, void *state);
static void pool_pending(ah_sim *sim, void *state, ah__buf *b);
static void jobs_step(ah_sim *sim);
static void job_tick(ah__event *ev);

static pool *pool_find(ah_sim *sim) { return ah__ext_get(sim, &pool_key); }
static int pool_forget_idle(ah_sim *sim, ah__thr *t);

static void pool_init(ah_sim *sim, void *state)
{
    pool *p = state;
    const char *env;

    p->sim = sim;
    ah__list_init(&p->queue);
    ah__list_init(&p->running);
    ah__list_init(&p->free);
    ah__list_init(&p->durations);
    ah__list_init(&p->idle_obj.waiters);
    p->idle_obj.kind = AH__O_SEM;
    p->size = 4;
    if ((env = getenv("UV_THREADPOOL_SIZE")) != NULL && atoi(env) > 0)
        p->size = atoi(env) > 1024 ? 1024 : (unsigned)atoi(env);
}

static pool *pool_get(ah_sim *sim, const char *fn)
{
    static const ah__ext pool_ext = {.key = &pool_key,
                                     .name = "pool",
                                     .pending = pool_pending,
                                     .destroy = pool_destroy,
                                     .init = pool_init};
    ah__thr *self;
    ah__sched *s = ah__sched_get(&self, 0);
    pool *p;

    /* The test's thread (with or without a scheduler) or one of the sim's simulated threads. */
    if (s != NULL ? s->sim != sim : !pthread_equal(pthread_self(), sim->owner))
        ah__fail(sim, "%s called from a thread the sim does not schedule", fn);
    if ((p = pool_find(sim)) != NULL)
        return p;
    p = ah__ext_get_or_add(sim, &pool_ext, sizeof(*p));
    ah__threads_hooks.jobs_step = jobs_step;
    ah__pool_forget_idle = pool_forget_idle;
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

/* The earliest instant the pool's jobs on no thread need the clock to stop at, for the harness
 * (0: none; an instant in the past: now). */
static void due_update(pool *p)
{
    ah__list *q;
    uint64_t due = 0;

    for (q = p->running.next; q != &p->running; q = q->next) {
        ah__job *job = ah__container_of(q, ah__job, link);
        uint64_t t;
        if (job->on_thread)
            continue;
        if (job->state == JOB_STARTING)
            t = 1;
        else if (job->state == JOB_RUNNING)
            t = job->finish_ns;
        else
            continue;
        if (due == 0 || t < due)
            due = t;
    }
    p->sim->jobs_due_ns = due;
}

/* ---- completion on the loop ---- */

static void job_fire(ah__event *ev)
{
    ah__job *job = ah__container_of(ev, ah__job, ev);
    uv_req_t *req = job->req;
    pool *p = pool_find(ah__lp(ev->loop)->sim);
    int status = job->status;
    ah__job_done_fn done = job->done;

    ah__list_remove(&job->link);
    ah__qslot_set(&work_of(req)->wq, 0, NULL);
    ah__req_end(req);
    done(job, status);
    /* the job's data stays readable during done; recycle it after */
    ah__list_insert_tail(&p->free, &job->link);
}

/* The job's slot is free and its completion goes to the loop, due at `at_ns`. */
static void complete(pool *p, ah__job *job, int status, uint64_t at_ns)
{
    if (job->state == JOB_STARTING || job->state == JOB_RUNNING)
        p->busy--;
    job->state = JOB_FINISHED;
    job->status = status;
    if (ah__event_scheduled(&job->tick))
        ah__event_cancel(&job->tick);
    ah__event_schedule(job->loop, &job->ev, at_ns);
}

/* ---- starting jobs ---- */

static void *worker_main(void *arg);

/* A job on a thread goes to the worker finishing a job, else to the worker idle the longest. libuv
 * starts all its workers at the pool's first use and each waits on one condition variable, whose
 * signal wakes the longest waiter: a worker not made yet stands for one waiting since then, so a
 * new one is made while the pool has fewer than its size (decision 121), else the first idle
 * one takes the job. Jobs queued one after another so rotate over the workers, as on libuv. */
static void hand_to_worker(pool *p, ah__job *job)
{
    ah__thr *self, *t;
    ah__sched *s;
    int err;

    if (p->handoff != NULL) {
        t = p->handoff;
        p->handoff = NULL;
    } else if (p->idle > 0 && p->workers >= p->size) {
        t = ah__container_of(p->idle_obj.waiters.next, ah__thr, wait_link);
        ah__sched_wake(t);
        p->idle--;
    } else {
        s = ah__sched_get(&self, 1);
        t = ah__thr_create(s, worker_main, p, "the thread pool", (ah__site){0}, 0, &err);
        if (t == NULL)
            ah__fail(p->sim, "the thread pool could not start a worker thread (error %d)", err);
        t->pool_worker = 1;
        p->workers++;
    }
    t->pool_job = job;
    job->worker = t;
}

/* Free slots take queued jobs, in submission order. */
static void pump(pool *p)
{
    while (p->busy < p->size && !ah__list_empty(&p->queue)) {
        ah__job *job = ah__container_of(p->queue.next, ah__job, link);
        ah__list_remove(&job->link);
        ah__list_insert_tail(&p->running, &job->link);
        job->state = JOB_STARTING;
        p->busy++;
        if (job->on_thread) {
            hand_to_worker(p, job);
        } else {
            /* Its work runs at the loop's next poll: an event now makes that poll come (and
             * wakes a thread waiting in it). */
            job->tick.fire = job_tick;
            job->tick.what = job->what;
            job->tick.site = job->site;
            job->tick.owner = job->req;
            ah__event_schedule(job->loop, &job->tick, p->sim->clock.now_ns);
        }
    }
    p->handoff = NULL;
    due_update(p);
}

static void jobs_step(ah_sim *sim);

/* A poll runs the step before it delivers, so a tick is delivered only when it fell due during
 * the delivery (a job submitted by a callback of the batch): the step runs now. */
static void job_tick(ah__event *ev) { jobs_step(ah__lp(ev->loop)->sim); }

static void run_work(pool *p, ah__job *job)
{
    char what[640], site[160], hint[320];

    job->state = JOB_RUNNING;
    /* Named with its call site: which uv_fs_write of the code under test this is. */
    snprintf(what, sizeof(what), "%s starts (called in %s%s)", job->what,
             ah__site_str(&job->site, site, sizeof(site)),
             ah__trace_site_hint(p->sim, &job->site, hint, sizeof(hint)));
    ah__trace_note(p->sim, "thread pool", what);
    job->work(job);
}

/* The jobs on no thread at the current instant: start the work of those that took a slot, free
 * the slots whose duration ended (their completions are delivered by this poll), and let queued
 * jobs take them; until nothing changes. Called by the harness (ah__jobs_due) from a poll before
 * it delivers and when a verb lets time pass. */
static void jobs_step(ah_sim *sim)
{
    pool *p = pool_find(sim);
    ah__list *q, *next;
    int progress;

    if (p == NULL) {
        sim->jobs_due_ns = 0;
        return;
    }
    do {
        progress = 0;
        for (q = p->running.next; q != &p->running; q = next) {
            ah__job *job = ah__container_of(q, ah__job, link);
            next = q->next;
            if (job->on_thread)
                continue;
            if (job->state == JOB_STARTING) {
                run_work(p, job);
                job->finish_ns = sim->clock.now_ns + job->duration_ms * AH__NS_PER_MS;
                if (job->duration_ms > 0)
                    ah__event_schedule(job->loop, &job->tick, job->finish_ns);
                next = q->next; /* the work may have submitted more */
                progress = 1;
            }
            if (job->state == JOB_RUNNING && job->finish_ns <= sim->clock.now_ns) {
                complete(p, job, 0, job->finish_ns);
                progress = 1;
            }
        }
        pump(p);
    } while (progress);
    due_update(p);
}

/* ---- workers: threads for uv_queue_work's work callbacks ---- */

static void *worker_main(void *arg)
{
    pool *p = arg;
    ah__thr *self;
    ah__sched *s = ah__sched_get(&self, 0);
    ah__job *job;

#if AH__UV_POOL_THREAD_NAME
    pthread_setname_np(pthread_self(), "libuv-worker");
#endif
    for (;;) {
        while ((job = self->pool_job) == NULL) {
            p->idle++;
            ah__list_insert_tail(&p->idle_obj.waiters, &self->wait_link);
            ah__sched_block(s, self, AH__W_POOL, &p->idle_obj, "the thread pool", (ah__site){0},
                            UINT64_MAX);
        }
        self->pool_job = NULL;
        job->worker = NULL;
        run_work(p, job);
        if (job->duration_ms > 0)
            ah__sched_block(s, self, AH__W_SLEEP, NULL, job->what, job->site,
                            s->sim->clock.now_ns + job->duration_ms * AH__NS_PER_MS);
        complete(p, job, 0, s->sim->clock.now_ns);
        p->handoff = self;
        pump(p);
        ah__threads_hooks.wake_loop(s->sim, job->loop); /* as libuv's uv_async_send */
    }
    return NULL;
}

static ah__job *submit(pool *p, uv_loop_t *loop, uv_req_t *req, const char *what,
                       ah__job_work_fn work, ah__job_done_fn done, uint64_t duration_ms,
                       ah__site site, int on_thread)
{
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
    job->on_thread = on_thread;
    job->duration_ms = duration_ms;
    job->site = site;
    job->ev.fire = job_fire;
    job->ev.what = what;
    job->ev.site = site;
    job->ev.owner = req;
    ah__qslot_set(&work_of(req)->wq, 0, job);
    ah__qslot_set(&work_of(req)->wq, 1, NULL);
    ah__list_insert_tail(&p->queue, &job->link);
    /* A slot takes it now, or it waits; either way its work runs later (at the next poll, or
     * when its worker thread runs), after the submitter filled the job's data. */
    pump(p);
    return job;
}

ah__job *ah__job_submit(uv_loop_t *loop, uv_req_t *req, const char *what, ah__job_work_fn work,
                        ah__job_done_fn done, uint64_t duration_ms, ah__site site)
{
    return submit(pool_get(ah__lp(loop)->sim, what), loop, req, what, work, done, duration_ms, site,
                  0);
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
    pool *p;

    if (req == NULL) {
        char where[160], hint[320];
        ah__fail_call(sim, &site, "uv_cancel in %s%s: called with a NULL request",
                      ah__site_str(&site, where, sizeof(where)),
                      ah__site_hint(&site, hint, sizeof(hint)));
    }
    /* A zeroed request (UV_UNKNOWN_REQ) is libuv's UV_EINVAL; a scribbled type, or a request of
     * a cancellable type this sim neither runs nor finished, is memory it never handed out. */
    if (req->type != UV_UNKNOWN_REQ &&
        ((unsigned)req->type >= UV_REQ_TYPE_MAX || work_of(req) != NULL) &&
        !ah__req_known(req)) /* last: libuv reads only the type of a request it cannot cancel */
        ah__req_unknown_at(req, "uv_cancel", __builtin_return_address(0),
                           "cancelling one whose callback ran returns UV_EBUSY only while its "
                           "memory is still the request's");
    if (work_of(req) == NULL)
        return UV_EINVAL;
    job = job_of(req);
    if (job == NULL || (job->state != JOB_QUEUED && job->state != JOB_STARTING))
        return UV_EBUSY; /* its work started, or it is done: libuv finds no queued work either */
    p = pool_find(sim);
    if (job->worker != NULL) { /* handed to a worker that has not run yet: it idles again */
        job->worker->pool_job = NULL;
        job->worker = NULL;
    }
    ah__list_remove(&job->link);
    ah__list_insert_tail(&p->running, &job->link);
    ah__trace_note(sim, "thread pool", "job cancelled");
    /* As libuv: the done callback comes through the loop's wake-up, in the next poll. */
    complete(p, job, UV_ECANCELED, sim->clock.now_ns);
    pump(p);
    if (sim->threads_live > 0)
        ah__threads_hooks.wake_loop(sim, job->loop);
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
    submit(p, loop, (uv_req_t *)req, "uv_queue_work", work_run, work_done,
           duration_of(p, work_cb, &site), site, 1);
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

static void pool_pending(ah_sim *sim, void *state, ah__buf *b)
{
    pool *p = state;
    ah__list *q;
    char st[160];

    for (q = p->queue.next; q != &p->queue; q = q->next) {
        ah__job *job = ah__container_of(q, ah__job, link);
        ah__buf_printf(b, "  - %s from %s waits for a thread-pool thread (all %u busy)\n",
                       job->what, ah__site_str(&job->site, st, sizeof(st)), p->size);
    }
    for (q = p->running.next; q != &p->running; q = q->next) {
        ah__job *job = ah__container_of(q, ah__job, link);
        (void)sim;
        if (job->state == JOB_RUNNING || job->state == JOB_STARTING)
            ah__buf_printf(b, "  - %s from %s runs on the thread pool\n", job->what,
                           ah__site_str(&job->site, st, sizeof(st)));
    }
}

/* A forked child has no OS thread behind its idle workers: they are forgotten, and the pool
 * starts new ones for the child's jobs (libuv re-creates its pool after a fork too). */
static int pool_forget_idle(ah_sim *sim, ah__thr *t)
{
    pool *p = pool_find(sim);

    if (p == NULL || !t->pool_worker || t->state != AH__T_BLOCKED || t->wait_kind != AH__W_POOL)
        return 0;
    ah__list_remove(&t->wait_link);
    p->idle--;
    p->workers--;
    return 1;
}

static void pool_destroy(ah_sim *sim, void *state)
{
    pool *p = state;
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
    sim->jobs_due_ns = 0;
}
