/* aiolog: see aiolog.h. Linux only (Linux AIO and eventfd through libc's syscall()). */
#define _GNU_SOURCE 1
#include "aiolog.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { E_WRITE, E_SYNC };

typedef struct entry {
    struct iocb iocb;
    struct entry *next;
    int kind;
    char *buf;
    size_t len, done;
    uint64_t off;
    aiolog_cb cb;
    void *arg;
    struct entry *waiters; /* E_SYNC: the aiolog_sync calls it answers */
} entry;

struct aiolog {
    uv_loop_t *loop;
    int fd, efd;
    aio_context_t ctx;
    uv_poll_t poll;
    uv_timer_t timer;
    unsigned reap_ms, depth;
    uint64_t end;
    int broken;
    unsigned inflight, writes_inflight;
    entry *queue, *queue_tail; /* appends waiting for room in the context */
    entry *sync_waiters;       /* aiolog_sync calls waiting for the writes before them */
    int closing;
    void (*closed)(void *arg);
    void *closed_arg;
};

static long sys_io_setup(unsigned n, aio_context_t *ctx) { return syscall(__NR_io_setup, n, ctx); }
static long sys_io_destroy(aio_context_t ctx) { return syscall(__NR_io_destroy, ctx); }
static long sys_io_submit(aio_context_t ctx, long n, struct iocb **v)
{
    return syscall(__NR_io_submit, ctx, n, v);
}
static long sys_io_getevents(aio_context_t ctx, long min, long max, struct io_event *ev,
                             struct timespec *t)
{
    return syscall(__NR_io_getevents, ctx, min, max, ev, t);
}

static uv_handle_t *reaper(aiolog *log)
{
    return log->reap_ms > 0 ? (uv_handle_t *)&log->timer : (uv_handle_t *)&log->poll;
}

static void reap(aiolog *log);

static void on_timer(uv_timer_t *t) { reap(t->data); }

static void on_eventfd(uv_poll_t *p, int status, int events)
{
    aiolog *log = p->data;
    uint64_t n;

    (void)events;
    if (status < 0)
        return;
    while (read(log->efd, &n, sizeof(n)) == (ssize_t)sizeof(n))
        ;
    reap(log);
}

/* The reaper keeps the loop alive only while something is in flight. */
static void reaper_update(aiolog *log)
{
    if (log->reap_ms > 0) {
        if (log->inflight > 0 && !uv_is_active((uv_handle_t *)&log->timer))
            uv_timer_start(&log->timer, on_timer, log->reap_ms, log->reap_ms);
        else if (log->inflight == 0)
            uv_timer_stop(&log->timer);
    } else if (log->inflight > 0) {
        uv_ref((uv_handle_t *)&log->poll);
    } else {
        uv_unref((uv_handle_t *)&log->poll);
    }
}

static int submit(aiolog *log, entry *e)
{
    struct iocb *p = &e->iocb;

    memset(&e->iocb, 0, sizeof(e->iocb));
    e->iocb.aio_data = (uint64_t)(uintptr_t)e;
    e->iocb.aio_fildes = (uint32_t)log->fd;
    if (e->kind == E_WRITE) {
        e->iocb.aio_lio_opcode = IOCB_CMD_PWRITE;
        e->iocb.aio_buf = (uint64_t)(uintptr_t)(e->buf + e->done);
        e->iocb.aio_nbytes = e->len - e->done;
        e->iocb.aio_offset = (int64_t)(e->off + e->done);
    } else {
        e->iocb.aio_lio_opcode = IOCB_CMD_FDSYNC;
    }
    if (log->reap_ms == 0) {
        e->iocb.aio_flags = IOCB_FLAG_RESFD;
        e->iocb.aio_resfd = (uint32_t)log->efd;
    }
    if (sys_io_submit(log->ctx, 1, &p) != 1)
        return -errno;
    log->inflight++;
    return 0;
}

static void answer(aiolog *log, entry *e, int status)
{
    entry *w, *next;

    if (e->kind == E_SYNC) {
        for (w = e->waiters; w != NULL; w = next) {
            next = w->next;
            w->cb(log, w->arg, status);
            free(w);
        }
    } else if (e->cb != NULL) {
        e->cb(log, e->arg, status);
    }
    free(e->buf);
    free(e);
}

static void break_log(aiolog *log, int status)
{
    entry *e;

    if (log->broken == 0)
        log->broken = status;
    while ((e = log->queue) != NULL) {
        log->queue = e->next;
        answer(log, e, log->broken);
    }
    log->queue_tail = NULL;
    while ((e = log->sync_waiters) != NULL) {
        log->sync_waiters = e->next;
        e->cb(log, e->arg, log->broken);
        free(e);
    }
}

static void close_done(uv_handle_t *h)
{
    aiolog *log = h->data;
    void (*closed)(void *) = log->closed;
    void *arg = log->closed_arg;

    free(log);
    if (closed != NULL)
        closed(arg);
}

static void maybe_finish_close(aiolog *log)
{
    uv_fs_t req;

    if (!log->closing || log->inflight > 0 || log->queue != NULL || log->sync_waiters != NULL ||
        uv_is_closing(reaper(log)))
        return;
    sys_io_destroy(log->ctx);
    if (log->efd >= 0)
        close(log->efd);
    uv_fs_close(NULL, &req, log->fd, NULL);
    uv_fs_req_cleanup(&req);
    uv_close(reaper(log), close_done);
}

/* Moves what waits into the context: queued appends while there is room, then a sync once the
 * writes before it are done. */
static void pump(aiolog *log)
{
    int r;

    while (log->broken == 0 && log->queue != NULL && log->inflight < log->depth) {
        entry *e = log->queue;
        log->queue = e->next;
        if (log->queue == NULL)
            log->queue_tail = NULL;
        if ((r = submit(log, e)) < 0) {
            answer(log, e, r);
            break_log(log, r);
            break;
        }
        log->writes_inflight++;
    }
#ifdef AIOLOG_PLANTED_BUG
    /* The bug: the sync goes out with the writes still in flight. AIO does not order it after
     * them, so the writes may land after the sync and be lost in a crash. */
    if (log->broken == 0 && log->sync_waiters != NULL && log->inflight < log->depth) {
#else
    if (log->broken == 0 && log->sync_waiters != NULL && log->writes_inflight == 0 &&
        log->queue == NULL && log->inflight < log->depth) {
#endif
        entry *s = calloc(1, sizeof(*s));
        s->kind = E_SYNC;
        s->waiters = log->sync_waiters;
        log->sync_waiters = NULL;
        if ((r = submit(log, s)) < 0) {
            answer(log, s, r);
            break_log(log, r);
        }
    }
    reaper_update(log);
    maybe_finish_close(log);
}

static void reap(aiolog *log)
{
    struct io_event evs[16];
    struct timespec zero = {0, 0};
    long n, i;

    while ((n = sys_io_getevents(log->ctx, 0, 16, evs, &zero)) > 0) {
        for (i = 0; i < n; i++) {
            entry *e = (entry *)(uintptr_t)evs[i].data;
            int64_t res = evs[i].res;
            log->inflight--;
            if (e->kind == E_SYNC) {
                answer(log, e, res < 0 ? (int)res : 0);
                if (res < 0)
                    break_log(log, (int)res);
                continue;
            }
            if (res >= 0 && (size_t)res < e->len - e->done && log->broken == 0) {
                int r;
                e->done += (size_t)res; /* a short write: the rest goes out again */
                if ((r = submit(log, e)) == 0)
                    continue;
                res = r;
            }
            log->writes_inflight--;
            if (res < 0) {
                answer(log, e, (int)res);
                break_log(log, (int)res);
            } else {
                answer(log, e, log->broken);
            }
        }
    }
    pump(log);
}

int aiolog_open(uv_loop_t *loop, const char *path, const aiolog_opts *opts, aiolog **out)
{
    aiolog *log = calloc(1, sizeof(*log));
    uv_fs_t req;
    int r;

    if (log == NULL)
        return UV_ENOMEM;
    log->loop = loop;
    log->reap_ms = opts != NULL ? opts->reap_ms : 0;
    log->depth = opts != NULL && opts->depth > 0 ? opts->depth : 64;
    log->efd = -1;
    log->fd = uv_fs_open(NULL, &req, path, O_WRONLY | O_CREAT, 0644, NULL);
    uv_fs_req_cleanup(&req);
    if (log->fd < 0) {
        r = log->fd;
        free(log);
        return r;
    }
    if ((r = uv_fs_fstat(NULL, &req, log->fd, NULL)) == 0)
        log->end = req.statbuf.st_size;
    uv_fs_req_cleanup(&req);
    if (r == 0 && sys_io_setup(log->depth, &log->ctx) != 0)
        r = -errno;
    if (r == 0 && log->reap_ms == 0 && (log->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        r = -errno;
    if (r == 0 && log->reap_ms == 0) {
        r = uv_poll_init(loop, &log->poll, log->efd);
        if (r == 0)
            r = uv_poll_start(&log->poll, UV_READABLE, on_eventfd);
    } else if (r == 0) {
        r = uv_timer_init(loop, &log->timer);
    }
    if (r != 0) {
        if (log->ctx != 0)
            sys_io_destroy(log->ctx);
        if (log->efd >= 0)
            close(log->efd);
        uv_fs_close(NULL, &req, log->fd, NULL);
        uv_fs_req_cleanup(&req);
        free(log);
        return r;
    }
    reaper(log)->data = log;
    reaper_update(log);
    *out = log;
    return 0;
}

int aiolog_append(aiolog *log, const void *rec, size_t len, aiolog_cb cb, void *arg)
{
    entry *e;

    if (log->closing)
        return UV_ECANCELED;
    if (log->broken != 0)
        return log->broken;
    if (len == 0)
        return UV_EINVAL;
    e = calloc(1, sizeof(*e));
    if (e == NULL || (e->buf = malloc(len)) == NULL) {
        free(e);
        return UV_ENOMEM;
    }
    memcpy(e->buf, rec, len);
    e->kind = E_WRITE;
    e->len = len;
    e->off = log->end;
    e->cb = cb;
    e->arg = arg;
    log->end += len;
    if (log->queue_tail != NULL)
        log->queue_tail->next = e;
    else
        log->queue = e;
    log->queue_tail = e;
    pump(log);
    return 0;
}

int aiolog_sync(aiolog *log, aiolog_cb cb, void *arg)
{
    entry *w, **tail;

    if (log->closing)
        return UV_ECANCELED;
    if (log->broken != 0)
        return log->broken;
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return UV_ENOMEM;
    w->cb = cb;
    w->arg = arg;
    for (tail = &log->sync_waiters; *tail != NULL; tail = &(*tail)->next)
        ;
    *tail = w; /* answered in call order */
    pump(log);
    return 0;
}

size_t aiolog_size(const aiolog *log) { return (size_t)log->end; }

void aiolog_close(aiolog *log, void (*closed)(void *arg), void *arg)
{
    log->closing = 1;
    log->closed = closed;
    log->closed_arg = arg;
    if (log->reap_ms == 0)
        uv_ref((uv_handle_t *)&log->poll); /* keep the loop until the close completes */
    maybe_finish_close(log);
}
