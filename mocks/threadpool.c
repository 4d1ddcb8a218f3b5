/* The thread pool behind uv_queue_work, uv_getaddrinfo and uv_getnameinfo, on the virtual clock.
 *
 * The pool has UV_THREADPOOL_SIZE threads (4 by default), taken in submission order as libuv's
 * work queue is. A job STARTS at its start instant: the poll at the instant a thread is free for
 * it (at once when one is free, else when an earlier job ends). Starting runs the work callback on
 * the loop thread; the job then lasts its duration (default 0) and its after-work callback runs
 * from a later poll, as libuv delivers completions through its async handle. uv_cancel succeeds
 * (returns 0, the after-callback gets UV_ECANCELED) only before the job started; after it, it
 * returns UV_EBUSY, as libuv does for work a thread has taken. */
#include "internal_net.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *kind_name(int kind)
{
    return kind == AH__JOB_WORK          ? "uv_queue_work"
           : kind == AH__JOB_GETADDRINFO ? "uv_getaddrinfo"
                                         : "uv_getnameinfo";
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
    default:
        return NULL;
    }
}

static void job_fire(ah__event *ev);

static void pump(ah__net *net)
{
    ah__job *job;

    while (net->pool_busy < net->pool_size && !ah__list_empty(&net->jobs_wait)) {
        job = ah__container_of(net->jobs_wait.next, ah__job, link);
        ah__list_remove(&job->link);
        ah__list_insert_tail(&net->jobs_live, &job->link);
        job->state = AH__JOB_STARTING;
        net->pool_busy++;
        ah__event_schedule(job->loop, &job->ev, net->sim->clock.now_ns);
    }
}

ah__job *ah__job_submit(ah__net *net, uv_loop_t *loop, uv_req_t *req, int kind,
                        uint64_t duration_ms, ah__site site)
{
    ah__job *job;

    if (!ah__list_empty(&net->jobs_free)) {
        job = ah__container_of(net->jobs_free.next, ah__job, link);
        ah__list_remove(&job->link);
    } else {
        job = ah__malloc(sizeof(*job));
    }
    memset(job, 0, sizeof(*job));
    job->req = req;
    job->loop = loop;
    job->kind = kind;
    job->state = AH__JOB_QUEUED;
    job->duration_ms = duration_ms;
    job->site = site;
    job->ev.fire = job_fire;
    job->ev.what = kind_name(kind);
    job->ev.site = site;
    job->ev.owner = req;
    ah__qslot_set(&work_of(req)->wq, 0, job);
    ah__qslot_set(&work_of(req)->wq, 1, NULL);
    ah__list_insert_tail(&net->jobs_wait, &job->link);
    pump(net);
    return job;
}

static void job_finish(ah__net *net, ah__job *job)
{
    uv_req_t *req = job->req;
    int kind = job->kind, status = job->status;
    uv_work_t *w;

    ah__list_remove(&job->link);
    ah__list_insert_tail(&net->jobs_free, &job->link);
    ah__qslot_set(&work_of(req)->wq, 0, NULL);
    ah__req_end(req);
    if (kind == AH__JOB_WORK) {
        w = (uv_work_t *)req;
        if (w->after_work_cb != NULL)
            AH__DISPATCH(net->sim, NULL, "after_work_cb", w->after_work_cb(w, status));
    } else {
        ah__dns_done(req, kind, status);
    }
}

static void job_fire(ah__event *ev)
{
    ah__job *job = ah__container_of(ev, ah__job, ev);
    ah__net *net = ah__net_get(ah__sim());
    ah_sim *sim = net->sim;
    uv_work_t *w;

    switch (job->state) {
    case AH__JOB_STARTING:
        job->state = AH__JOB_RUNNING;
        ah__trace_note(sim, kind_name(job->kind), "job starts");
        if (job->kind == AH__JOB_WORK) {
            /* The work runs on the loop thread here, but in real life on a pool thread: its real
             * CPU time does not count as blocking the loop. */
            w = (uv_work_t *)job->req;
            ah__cb_enter(sim, NULL, "work_cb");
            w->work_cb(w);
            ah__cb_restart_clock(sim);
            ah__cb_leave(sim);
        } else {
            ah__dns_start(job);
        }
        ah__event_schedule(job->loop, &job->ev,
                           sim->clock.now_ns + job->duration_ms * AH__NS_PER_MS);
        break;
    case AH__JOB_RUNNING:
        job->state = AH__JOB_DONE;
        net->pool_busy--;
        pump(net);
        job_finish(net, job);
        break;
    default: /* cancelled */
        job_finish(net, job);
        break;
    }
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
    ah__net *net;
    ah__job *job;

    (void)site;
    if (req == NULL)
        ah__fail(sim, "uv_cancel: called with a NULL request");
    switch (req->type) {
    case UV_WORK:
    case UV_GETADDRINFO:
    case UV_GETNAMEINFO:
        break;
    case UV_FS:
        ah__fail(sim, "uv_cancel on a uv_fs_t: the file system is not simulated");
    case UV_RANDOM:
        ah__fail(sim, "uv_cancel on a uv_random_t: uv_random is not simulated");
    default:
        return UV_EINVAL;
    }
    net = ah__net_get(sim);
    job = job_of(req);
    if (job == NULL)
        return UV_EBUSY; /* done already: libuv finds no queued work either */
    if (job->state == AH__JOB_QUEUED) {
        ah__list_remove(&job->link);
        ah__list_insert_tail(&net->jobs_live, &job->link);
    } else if (job->state == AH__JOB_STARTING) {
        ah__event_cancel(&job->ev);
        net->pool_busy--;
        pump(net);
    } else {
        return UV_EBUSY;
    }
    /* As libuv: the after-callback comes through the loop's wake-up, in the next poll. */
    job->state = AH__JOB_DONE;
    job->status = UV_ECANCELED;
    ah__trace_note(sim, kind_name(job->kind), "job cancelled");
    ah__event_schedule(job->loop, &job->ev, sim->clock.now_ns);
    return 0;
}

/* ---- uv_queue_work ---- */

static uint64_t duration_of(ah__net *net, uv_work_cb cb, const ah__site *site)
{
    ah__list *q;

    for (q = net->durations.next; q != &net->durations; q = q->next) {
        ah__duration_rule *r = ah__container_of(q, ah__duration_rule, link);
        if (r->file[0] != '\0' && site->file != NULL && r->line == site->line &&
            strcmp(ah__base_name(r->file), ah__base_name(site->file)) == 0)
            return r->ms;
    }
    for (q = net->durations.next; q != &net->durations; q = q->next) {
        ah__duration_rule *r = ah__container_of(q, ah__duration_rule, link);
        if (r->file[0] == '\0' && r->cb == cb)
            return r->ms;
    }
    return 0;
}

int uv_queue_work(uv_loop_t *loop, uv_work_t *req, uv_work_cb work_cb,
                  uv_after_work_cb after_work_cb)
{
    ah__site site = AH__CALLER("uv_queue_work");
    ah_sim *sim = ah__loop_sim(loop, "uv_queue_work");
    ah__net *net = ah__net_get(sim);

    if (work_cb == NULL)
        return UV_EINVAL;
    if (req == NULL)
        ah__fail(sim, "uv_queue_work: called with a NULL request");
    ah__req_require_idle(req, "uv_queue_work", site);
    ah__req_begin(loop, (uv_req_t *)req, UV_WORK, "uv_queue_work", site);
    req->loop = loop;
    req->work_cb = work_cb;
    req->after_work_cb = after_work_cb;
    ah__job_submit(net, loop, (uv_req_t *)req, AH__JOB_WORK, duration_of(net, work_cb, &site),
                   site);
    return 0;
}

static void add_rule(ah_sim *sim, uv_work_cb cb, const char *file, int line, uint64_t ms)
{
    ah__net *net = ah__net_get(sim);
    ah__duration_rule *r = ah__calloc(1, sizeof(*r));

    r->cb = cb;
    snprintf(r->file, sizeof(r->file), "%s", file != NULL ? file : "");
    r->line = line;
    r->ms = ms;
    ah__list_insert_head(&net->durations, &r->link); /* the newest rule wins */
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
    ah__net *net = ah__net_get(sim);

    if (threads == 0 || threads > 1024)
        ah__fail(sim, "ah_threadpool_size(%u): libuv's pool has 1 to 1024 threads", threads);
    net->pool_size = threads;
    pump(net);
}

void ah__pool_pending(ah__net *net, ah__buf *b)
{
    ah__list *q;
    char s[160];

    for (q = net->jobs_wait.next; q != &net->jobs_wait; q = q->next) {
        ah__job *job = ah__container_of(q, ah__job, link);
        ah__buf_printf(b, "  - %s from %s waits for a thread-pool thread (all %u busy)\n",
                       kind_name(job->kind), ah__site_str(&job->site, s, sizeof(s)),
                       net->pool_size);
    }
    for (q = net->jobs_live.next; q != &net->jobs_live; q = q->next) {
        ah__job *job = ah__container_of(q, ah__job, link);
        if (job->state == AH__JOB_RUNNING && ah__event_scheduled(&job->ev))
            ah__buf_printf(b, "  - %s from %s runs on the thread pool until +%llu ms\n",
                           kind_name(job->kind), ah__site_str(&job->site, s, sizeof(s)),
                           (unsigned long long)((job->ev.node.due - net->sim->clock.epoch_ns) /
                                                AH__NS_PER_MS));
    }
}

void ah__pool_free_all(ah__net *net)
{
    ah__list *lists[3] = {&net->jobs_wait, &net->jobs_live, &net->jobs_free};
    int i;

    for (i = 0; i < 3; i++)
        while (!ah__list_empty(lists[i])) {
            ah__list *q = lists[i]->next;
            ah__list_remove(q);
            ah__free(ah__container_of(q, ah__job, link));
        }
    while (!ah__list_empty(&net->durations)) {
        ah__list *q = net->durations.next;
        ah__list_remove(q);
        ah__free(ah__container_of(q, ah__duration_rule, link));
    }
}
