/* uv_fs_event and uv_fs_poll on the sim.
 *
 * uv_fs_poll is built as libuv builds it (src/fs-poll.c): an internal unreferenced timer and a
 * uv_fs_stat per interval, compared field by field; here both are the sim's, so the polls happen
 * at virtual instants and reach whichever file system the sim has (real files or memory).
 *
 * uv_fs_event cannot watch the real kernel's inotify deterministically, so it sees the changes made
 * through uv_fs_* in the sim (both modes): each successful operation reports its entry to the
 * watchers of that entry and of its directory (ah__fs_notify), as inotify would (UV_CHANGE for
 * data and attributes, UV_RENAME for names appearing, going or moving), and the events are
 * delivered from the next poll at the instant the operation ran. Changes by other processes are
 * not seen. */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fswatch_ev {
    char *name;
    int events;
    int kind; /* what inotify would have seen (the operation): equal ones merge */
} fswatch_ev;

typedef struct fswatch {
    ah__list link; /* fs->watchers */
    uv_fs_event_t *handle;
    char *abs;
    fswatch_ev *q;
    size_t n, cap;
    ah__event ev;
} fswatch;

typedef struct pctx {
    ah__list link;        /* fs->polls */
    uv_fs_poll_t *parent; /* NULL once stopped: the context finishes on its own */
    uv_fs_poll_t *owner;  /* the handle it was started on, until the context is freed */
    ssize_t busy_polling;
    unsigned interval;
    uint64_t start_time;
    uv_loop_t *loop;
    uv_fs_poll_cb poll_cb;
    uv_timer_t timer;
    uv_fs_t fs_req;
    uv_stat_t statbuf;
    char *path;
} pctx;

static const uv_stat_t zero_statbuf;

/* ---- uv_fs_event ---- */

/* The watcher's record lives in the first pointer of the handle's `watchers` field: void *[2] up
 * to libuv 1.45, a struct uv__queue (two pointers) after. */
static void **watch_slot(uv_fs_event_t *h) { return (void **)(void *)&h->watchers; }
static fswatch *watch_of(uv_fs_event_t *h) { return *watch_slot(h); }

static void watch_clear(fswatch *w)
{
    size_t i;

    for (i = 0; i < w->n; i++)
        ah__free(w->q[i].name);
    w->n = 0;
    ah__event_cancel(&w->ev);
}

static void watch_fire(ah__event *ev)
{
    fswatch *w = ah__container_of(ev, fswatch, ev);
    ah_sim *sim = ah__sim();

    /* Delivered one by one: a callback may stop the watcher (then the rest is dropped). */
    while (w->n > 0 && w->handle != NULL && ah__is_active((uv_handle_t *)w->handle)) {
        fswatch_ev e = w->q[0];
        uv_fs_event_t *h = w->handle;
        memmove(&w->q[0], &w->q[1], (w->n - 1) * sizeof(*w->q));
        w->n--;
        AH__DISPATCH(sim, h, "fs_event_cb", h->cb(h, e.name, e.events, 0));
        ah__free(e.name);
        if (watch_of(h) != w)
            return; /* the callback stopped or closed the watcher: `w` is freed */
    }
}

static void watch_queue(fswatch *w, const char *name, int events, int kind)
{
    if (w->n > 0 && w->q[w->n - 1].kind == kind && w->q[w->n - 1].events == events &&
        strcmp(w->q[w->n - 1].name, name) == 0)
        return; /* inotify merges an event equal to the last one not yet read */
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 4;
        w->q = ah__realloc(w->q, w->cap * sizeof(*w->q));
    }
    w->q[w->n].name = ah__strdup(name);
    w->q[w->n].events = events;
    w->q[w->n].kind = kind;
    w->n++;
    if (!ah__event_scheduled(&w->ev))
        ah__event_schedule(w->handle->loop, &w->ev, ah__sim()->clock.now_ns);
}

void ah__fs_notify(ah__fs *fs, const char *abs, int events, int kind)
{
    const char *base = strrchr(abs, '/');
    size_t dirlen = base != NULL ? (size_t)(base - abs) : 0;
    ah__list *q;

    base = base != NULL ? base + 1 : abs;
    for (q = fs->watchers.next; q != &fs->watchers; q = q->next) {
        fswatch *w = ah__container_of(q, fswatch, link);
        if (w->handle == NULL || !ah__is_active((uv_handle_t *)w->handle))
            continue;
        if (strcmp(w->abs, abs) == 0 ||
            (strlen(w->abs) == (dirlen ? dirlen : 1) &&
             strncmp(w->abs, dirlen ? abs : "/", dirlen ? dirlen : 1) == 0))
            watch_queue(w, base, events, kind);
    }
}

int uv_fs_event_init(uv_loop_t *loop, uv_fs_event_t *handle)
{
    ah__site site = AH__CALLER("uv_fs_event_init");

    ah__loop_sim(loop, "uv_fs_event_init");
    ah__watch_hooks_install();
    ah__handle_init(loop, (uv_handle_t *)handle, UV_FS_EVENT, site);
    handle->path = NULL;
    handle->cb = NULL;
    memset(&handle->watchers, 0, sizeof(handle->watchers));
    handle->wd = -1;
    return 0;
}

int uv_fs_event_start(uv_fs_event_t *handle, uv_fs_event_cb cb, const char *path,
                      unsigned int flags)
{
    ah__site site = AH__CALLER("uv_fs_event_start");
    ah__hrec *r = ah__handle_rec((uv_handle_t *)handle, "uv_fs_event_start");
    ah_sim *sim = ah__sim();
    ah__fs *fs = ah__fs_get(sim);
    fswatch *w;
    uv_fs_t req;
    int err;
    char abs[AH__FS_PATH_MAX], cwd[AH__FS_PATH_MAX];

    (void)flags;
    if (ah__is_active((uv_handle_t *)handle))
        return UV_EINVAL;
    ah__handle_require_open((uv_handle_t *)handle, "uv_fs_event_start");
    if (path == NULL)
        ah__fail(sim, "uv_fs_event_start: called with a NULL path (libuv crashes on this)");
    /* inotify_add_watch: the path must exist (symlinks followed). */
    err = uv_fs_stat(NULL, &req, path, NULL);
    uv_fs_req_cleanup(&req);
    if (err < 0)
        return err;
    w = ah__calloc(1, sizeof(*w));
    w->handle = handle;
    if (ah_fs_is_memory(sim) || getcwd(cwd, sizeof(cwd)) == NULL)
        snprintf(cwd, sizeof(cwd), "/");
    ah__fs_normalize(cwd, path, abs, sizeof(abs));
    w->abs = ah__strdup(abs);
    w->ev.fire = watch_fire;
    w->ev.what = "fs event";
    w->ev.site = site;
    w->ev.owner = handle;
    ah__list_insert_tail(&fs->watchers, &w->link);
    *watch_slot(handle) = w;
    handle->wd = 1;
    handle->path = strdup(path); /* libuv's copy; uv_fs_event_getpath reads it */
    handle->cb = cb;
    r->start_site = site;
    ah__handle_start((uv_handle_t *)handle);
    return 0;
}

static void watch_free(fswatch *w, int cancel)
{
    if (cancel)
        watch_clear(w);
    while (w->n > 0)
        ah__free(w->q[--w->n].name);
    ah__list_remove(&w->link);
    ah__free(w->q);
    ah__free(w->abs);
    ah__free(w);
}

int uv_fs_event_stop(uv_fs_event_t *handle)
{
    fswatch *w;

    ah__handle_rec((uv_handle_t *)handle, "uv_fs_event_stop");
    if (!ah__is_active((uv_handle_t *)handle))
        return 0;
    w = watch_of(handle);
    if (w != NULL)
        watch_free(w, 1);
    *watch_slot(handle) = NULL;
    handle->wd = -1;
    free(handle->path);
    handle->path = NULL;
    ah__handle_stop((uv_handle_t *)handle);
    return 0;
}

static int getpath(const uv_handle_t *h, const char *path, char *buffer, size_t *size)
{
    size_t need;

    if (!ah__is_active(h)) {
        *size = 0;
        return UV_EINVAL;
    }
    need = strlen(path);
    if (need >= *size) {
        *size = need + 1;
        return UV_ENOBUFS;
    }
    memcpy(buffer, path, need);
    buffer[need] = '\0';
    *size = need;
    return 0;
}

int uv_fs_event_getpath(uv_fs_event_t *handle, char *buffer, size_t *size)
{
    AH__ENTRY("uv_fs_event_getpath");
    ah__handle_rec((uv_handle_t *)handle, "uv_fs_event_getpath");
    return getpath((uv_handle_t *)handle, handle->path, buffer, size);
}

static void event_close(uv_handle_t *h) { uv_fs_event_stop((uv_fs_event_t *)h); }

/* ---- uv_fs_poll ---- */

static void poll_stat_cb(uv_fs_t *req);

static void ctx_free(pctx *c)
{
    ah__list_remove(&c->link);
    ah__free(c->path);
    ah__free(c);
}

/* Whether a context started on `h` is still finishing (its stat in flight or its timer closing). */
static int ctx_left(uv_fs_poll_t *h)
{
    ah__fs *fs = ah__fs_get(ah__sim());
    ah__list *q;

    for (q = fs->polls.next; q != &fs->polls; q = q->next)
        if (ah__container_of(q, pctx, link)->owner == h)
            return 1;
    return 0;
}

/* As libuv, a closed uv_fs_poll_t's close callback waits until its last context is gone. */
static void timer_close_cb(uv_handle_t *t)
{
    pctx *c = ah__container_of(t, pctx, timer);
    uv_fs_poll_t *h = c->owner;

    ctx_free(c);
    if ((h->flags & AH__HF_CLOSE_WAITS) && !ctx_left(h))
        ah__close_pending((uv_handle_t *)h);
}

static void poll_timer_cb(uv_timer_t *t)
{
    pctx *c = ah__container_of(t, pctx, timer);

    c->start_time = uv_now(c->loop);
    if (uv_fs_stat(c->loop, &c->fs_req, c->path, poll_stat_cb) != 0)
        ah__fail(ah__sim(), "uv_fs_poll: its uv_fs_stat failed to start");
}

static int statbuf_eq(const uv_stat_t *a, const uv_stat_t *b)
{
    return a->st_ctim.tv_nsec == b->st_ctim.tv_nsec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_birthtim.tv_nsec == b->st_birthtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_birthtim.tv_sec == b->st_birthtim.tv_sec && a->st_size == b->st_size &&
           a->st_mode == b->st_mode && a->st_uid == b->st_uid && a->st_gid == b->st_gid &&
           a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_flags == b->st_flags &&
           a->st_gen == b->st_gen;
}

static void poll_stat_cb(uv_fs_t *req)
{
    pctx *c = ah__container_of(req, pctx, fs_req);
    uv_fs_poll_t *h = c->parent;
    uint64_t interval;

    if (h == NULL)
        goto out;
    if (req->result != 0) {
        if (c->busy_polling != req->result) {
            c->poll_cb(h, (int)req->result, &c->statbuf, &zero_statbuf);
            c->busy_polling = req->result;
        }
        goto out;
    }
    if (c->busy_polling != 0 && (c->busy_polling < 0 || !statbuf_eq(&c->statbuf, &req->statbuf)))
        c->poll_cb(h, 0, &c->statbuf, &req->statbuf);
    c->statbuf = req->statbuf;
    c->busy_polling = 1;
out:
    uv_fs_req_cleanup(req);
    if (c->parent == NULL) {
        uv_close((uv_handle_t *)&c->timer, timer_close_cb);
        return;
    }
    /* As libuv: the next poll is an interval after this one started, less the stat's time. */
    interval = c->interval;
    interval -= (uv_now(c->loop) - c->start_time) % interval;
    uv_timer_start(&c->timer, poll_timer_cb, interval, 0);
}

int uv_fs_poll_init(uv_loop_t *loop, uv_fs_poll_t *handle)
{
    ah__site site = AH__CALLER("uv_fs_poll_init");

    ah__loop_sim(loop, "uv_fs_poll_init");
    ah__watch_hooks_install();
    ah__handle_init(loop, (uv_handle_t *)handle, UV_FS_POLL, site);
    handle->poll_ctx = NULL;
    return 0;
}

int uv_fs_poll_start(uv_fs_poll_t *handle, uv_fs_poll_cb cb, const char *path,
                     unsigned int interval)
{
    ah__site site = AH__CALLER("uv_fs_poll_start");
    ah__hrec *r = ah__handle_rec((uv_handle_t *)handle, "uv_fs_poll_start");
    ah__fs *fs = ah__fs_get(ah__sim());
    pctx *c;
    int err;

    if (ah__is_active((uv_handle_t *)handle))
        return 0;
    ah__handle_require_open((uv_handle_t *)handle, "uv_fs_poll_start");
    if (path == NULL)
        ah__fail(ah__sim(), "uv_fs_poll_start: called with a NULL path (libuv crashes on this)");
    c = ah__calloc(1, sizeof(*c));
    c->loop = handle->loop;
    c->poll_cb = cb;
    c->interval = interval ? interval : 1;
    c->start_time = uv_now(handle->loop);
    c->parent = handle;
    c->owner = handle;
    c->path = ah__strdup(path);
    ah__list_insert_tail(&fs->polls, &c->link);
    uv_timer_init(handle->loop, &c->timer);
    c->timer.flags |= AH__HF_INTERNAL;
    uv_unref((uv_handle_t *)&c->timer);
    err = uv_fs_stat(handle->loop, &c->fs_req, c->path, poll_stat_cb);
    if (err < 0) {
        uv_close((uv_handle_t *)&c->timer, timer_close_cb);
        c->parent = NULL;
        return err;
    }
    handle->poll_ctx = c;
    r->start_site = site;
    ah__handle_start((uv_handle_t *)handle);
    return 0;
}

int uv_fs_poll_stop(uv_fs_poll_t *handle)
{
    pctx *c;

    ah__handle_rec((uv_handle_t *)handle, "uv_fs_poll_stop");
    if (!ah__is_active((uv_handle_t *)handle))
        return 0;
    c = handle->poll_ctx;
    c->parent = NULL;
    /* With the timer waiting, close it now; else a stat is in flight and its callback does. */
    if (ah__is_active((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, timer_close_cb);
    handle->poll_ctx = NULL;
    ah__handle_stop((uv_handle_t *)handle);
    return 0;
}

int uv_fs_poll_getpath(uv_fs_poll_t *handle, char *buffer, size_t *size)
{
    AH__ENTRY("uv_fs_poll_getpath");
    pctx *c;

    ah__handle_rec((uv_handle_t *)handle, "uv_fs_poll_getpath");
    c = handle->poll_ctx;
    return getpath((uv_handle_t *)handle, c != NULL ? c->path : "", buffer, size);
}

static void poll_close(uv_handle_t *h)
{
    uv_fs_poll_stop((uv_fs_poll_t *)h);
    if (ctx_left((uv_fs_poll_t *)h))
        h->flags |= AH__HF_CLOSE_WAITS;
}

/* ---- per-sim ---- */

void ah__watch_hooks_install(void)
{
    ah__close_hooks[UV_FS_EVENT] = event_close;
    ah__close_hooks[UV_FS_POLL] = poll_close;
    ah__fs_hooks.watch_check = ah__watch_check;
    ah__fs_hooks.watch_free_all = ah__watch_free_all;
    ah__fs_hooks.notify = ah__fs_notify;
}

void ah__watch_check(ah__fs *fs, ah__buf *b)
{
    (void)fs;
    (void)b;
}

void ah__watch_free_all(ah__fs *fs)
{
    while (!ah__list_empty(&fs->watchers)) {
        fswatch *w = ah__container_of(fs->watchers.next, fswatch, link);
        w->handle = NULL;
        watch_free(w, 0); /* the loops go next: no event needs cancelling */
    }
    while (!ah__list_empty(&fs->polls))
        ctx_free(ah__container_of(fs->polls.next, pctx, link));
}
