/* uv_fs_*: every file-system request of uv.h, synchronous or through the sim's thread pool.
 *
 * A call records its arguments as libuv does (libuv's INIT/PATH/PATH2: the request's public
 * fields, a copy of the paths for an asynchronous call) and then runs at once (NULL callback) or
 * as a pool job whose callback the loop runs at a virtual instant. Running it means, in
 * passthrough mode, the real libuv's own synchronous call (reached with dlsym(RTLD_NEXT): it never
 * touches the loop on that path), so results, errors and the request's fields are libuv's by
 * construction; in memory mode, memfs.c. uv_fs_req_cleanup and uv_fs_scandir_next are the real
 * libuv's too: memfs.c builds its results in the same layout. */
#define _GNU_SOURCE 1 /* RTLD_NEXT */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void *real_sym(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);

    if (p == NULL)
        ah__fail(ah__sim(),
                 "%s: the real libuv's %s was not found; file-system passthrough needs libuv "
                 "linked after the harness (use ah_fs_memory otherwise)",
                 name, name);
    return p;
}

/* The real libuv's function `name`, looked up once. */
#define REAL(name)                                                                                 \
    ({                                                                                             \
        static __typeof__(name) *real_##name;                                                      \
        if (real_##name == NULL)                                                                   \
            real_##name = (__typeof__(name) *)real_sym(#name);                                     \
        real_##name;                                                                               \
    })

static const char *const op_names[] = {
#define N(t, s) [UV_FS_##t + 1] = s
    N(UNKNOWN, "uv_fs_*"),         N(CUSTOM, "uv_fs_custom"),       N(OPEN, "uv_fs_open"),
    N(CLOSE, "uv_fs_close"),       N(READ, "uv_fs_read"),           N(WRITE, "uv_fs_write"),
    N(SENDFILE, "uv_fs_sendfile"), N(STAT, "uv_fs_stat"),           N(LSTAT, "uv_fs_lstat"),
    N(FSTAT, "uv_fs_fstat"),       N(FTRUNCATE, "uv_fs_ftruncate"), N(UTIME, "uv_fs_utime"),
    N(FUTIME, "uv_fs_futime"),     N(ACCESS, "uv_fs_access"),       N(CHMOD, "uv_fs_chmod"),
    N(FCHMOD, "uv_fs_fchmod"),     N(FSYNC, "uv_fs_fsync"),         N(FDATASYNC, "uv_fs_fdatasync"),
    N(UNLINK, "uv_fs_unlink"),     N(RMDIR, "uv_fs_rmdir"),         N(MKDIR, "uv_fs_mkdir"),
    N(MKDTEMP, "uv_fs_mkdtemp"),   N(RENAME, "uv_fs_rename"),       N(SCANDIR, "uv_fs_scandir"),
    N(LINK, "uv_fs_link"),         N(SYMLINK, "uv_fs_symlink"),     N(READLINK, "uv_fs_readlink"),
    N(CHOWN, "uv_fs_chown"),       N(FCHOWN, "uv_fs_fchown"),       N(REALPATH, "uv_fs_realpath"),
    N(COPYFILE, "uv_fs_copyfile"), N(LCHOWN, "uv_fs_lchown"),       N(OPENDIR, "uv_fs_opendir"),
    N(READDIR, "uv_fs_readdir"),   N(CLOSEDIR, "uv_fs_closedir"),   N(STATFS, "uv_fs_statfs"),
    N(MKSTEMP, "uv_fs_mkstemp"),   N(LUTIME, "uv_fs_lutime"),
#undef N
};

const char *ah__fs_op_name(uv_fs_type t)
{
    if ((int)t + 1 >= 0 && (size_t)t + 1 < sizeof(op_names) / sizeof(op_names[0]) &&
        op_names[t + 1] != NULL)
        return op_names[t + 1];
    return "uv_fs_*";
}

static void abs_path(ah__fs *fs, const char *path, char *out, size_t n)
{
    char cwd[AH__FS_PATH_MAX];

    if (fs->mem != NULL || getcwd(cwd, sizeof(cwd)) == NULL)
        snprintf(cwd, sizeof(cwd), "/");
    ah__fs_normalize(cwd, path, out, n);
}

const char *ah__fs_fd_path(ah__fs *fs, uv_file fd)
{
    ah__list *q;

    if (fs->mem != NULL && ah__memfs_owns_fd(fs->mem, fd))
        return ah__memfs_fd_path(fs->mem, fd);
    for (q = fs->realfds.next; q != &fs->realfds; q = q->next) {
        ah__fsfd *f = ah__container_of(q, ah__fsfd, link);
        if (f->fd == fd)
            return f->path;
    }
    return NULL;
}

static int is_fd_op(uv_fs_type t)
{
    switch (t) {
    case UV_FS_CLOSE:
    case UV_FS_READ:
    case UV_FS_WRITE:
    case UV_FS_FSTAT:
    case UV_FS_FTRUNCATE:
    case UV_FS_FUTIME:
    case UV_FS_FCHMOD:
    case UV_FS_FSYNC:
    case UV_FS_FDATASYNC:
    case UV_FS_FCHOWN:
    case UV_FS_SENDFILE:
        return 1;
    default:
        return 0;
    }
}

/* The absolute path an operation is about (for rules and events), or 0 when it has none. */
static int op_path(ah__fs *fs, const ah__fsop *o, char *out, size_t n)
{
    const char *p;

    if (is_fd_op(o->type)) {
        p = ah__fs_fd_path(fs, o->type == UV_FS_SENDFILE ? o->in_fd : o->file);
        if (p == NULL)
            return 0;
        snprintf(out, n, "%s", p);
        return 1;
    }
    if (o->path == NULL)
        return 0;
    abs_path(fs, o->path, out, n);
    return 1;
}

/* ---- running an operation ---- */

static void passthrough(uv_loop_t *loop, uv_fs_t *req, const ah__fsop *o)
{
    switch (o->type) {
    case UV_FS_OPEN:
        REAL(uv_fs_open)(loop, req, o->path, o->flags, o->mode, NULL);
        break;
    case UV_FS_CLOSE:
        REAL(uv_fs_close)(loop, req, o->file, NULL);
        break;
    case UV_FS_READ:
        REAL(uv_fs_read)(loop, req, o->file, o->bufs, o->nbufs, o->off, NULL);
        break;
    case UV_FS_WRITE:
        REAL(uv_fs_write)(loop, req, o->file, o->bufs, o->nbufs, o->off, NULL);
        break;
    case UV_FS_SENDFILE:
        REAL(uv_fs_sendfile)(loop, req, o->file, o->in_fd, o->off, o->len, NULL);
        break;
    case UV_FS_STAT:
        REAL(uv_fs_stat)(loop, req, o->path, NULL);
        break;
    case UV_FS_LSTAT:
        REAL(uv_fs_lstat)(loop, req, o->path, NULL);
        break;
    case UV_FS_FSTAT:
        REAL(uv_fs_fstat)(loop, req, o->file, NULL);
        break;
    case UV_FS_FTRUNCATE:
        REAL(uv_fs_ftruncate)(loop, req, o->file, o->off, NULL);
        break;
    case UV_FS_UTIME:
        REAL(uv_fs_utime)(loop, req, o->path, o->atime, o->mtime, NULL);
        break;
    case UV_FS_FUTIME:
        REAL(uv_fs_futime)(loop, req, o->file, o->atime, o->mtime, NULL);
        break;
    case UV_FS_LUTIME:
        REAL(uv_fs_lutime)(loop, req, o->path, o->atime, o->mtime, NULL);
        break;
    case UV_FS_ACCESS:
        REAL(uv_fs_access)(loop, req, o->path, o->flags, NULL);
        break;
    case UV_FS_CHMOD:
        REAL(uv_fs_chmod)(loop, req, o->path, o->mode, NULL);
        break;
    case UV_FS_FCHMOD:
        REAL(uv_fs_fchmod)(loop, req, o->file, o->mode, NULL);
        break;
    case UV_FS_FSYNC:
        REAL(uv_fs_fsync)(loop, req, o->file, NULL);
        break;
    case UV_FS_FDATASYNC:
        REAL(uv_fs_fdatasync)(loop, req, o->file, NULL);
        break;
    case UV_FS_UNLINK:
        REAL(uv_fs_unlink)(loop, req, o->path, NULL);
        break;
    case UV_FS_RMDIR:
        REAL(uv_fs_rmdir)(loop, req, o->path, NULL);
        break;
    case UV_FS_MKDIR:
        REAL(uv_fs_mkdir)(loop, req, o->path, o->mode, NULL);
        break;
    case UV_FS_MKDTEMP:
        REAL(uv_fs_mkdtemp)(loop, req, o->path, NULL);
        break;
    case UV_FS_MKSTEMP:
        REAL(uv_fs_mkstemp)(loop, req, o->path, NULL);
        break;
    case UV_FS_RENAME:
        REAL(uv_fs_rename)(loop, req, o->path, o->new_path, NULL);
        break;
    case UV_FS_SCANDIR:
        REAL(uv_fs_scandir)(loop, req, o->path, o->flags, NULL);
        break;
    case UV_FS_LINK:
        REAL(uv_fs_link)(loop, req, o->path, o->new_path, NULL);
        break;
    case UV_FS_SYMLINK:
        REAL(uv_fs_symlink)(loop, req, o->path, o->new_path, o->flags, NULL);
        break;
    case UV_FS_READLINK:
        REAL(uv_fs_readlink)(loop, req, o->path, NULL);
        break;
    case UV_FS_REALPATH:
        REAL(uv_fs_realpath)(loop, req, o->path, NULL);
        break;
    case UV_FS_CHOWN:
        REAL(uv_fs_chown)(loop, req, o->path, o->uid, o->gid, NULL);
        break;
    case UV_FS_FCHOWN:
        REAL(uv_fs_fchown)(loop, req, o->file, o->uid, o->gid, NULL);
        break;
    case UV_FS_LCHOWN:
        REAL(uv_fs_lchown)(loop, req, o->path, o->uid, o->gid, NULL);
        break;
    case UV_FS_COPYFILE:
        REAL(uv_fs_copyfile)(loop, req, o->path, o->new_path, o->flags, NULL);
        break;
    case UV_FS_OPENDIR:
        REAL(uv_fs_opendir)(loop, req, o->path, NULL);
        break;
    case UV_FS_READDIR:
        REAL(uv_fs_readdir)(loop, req, o->dir, NULL);
        break;
    case UV_FS_CLOSEDIR:
        REAL(uv_fs_closedir)(loop, req, o->dir, NULL);
        break;
    case UV_FS_STATFS:
        REAL(uv_fs_statfs)(loop, req, o->path, NULL);
        break;
    default:
        ah__fail(ah__sim(), "%s: operation %d is not simulated", o->fn, (int)o->type);
    }
}

static int on_memory(ah__fs *fs, const ah__fsop *o)
{
    if (fs->mem == NULL)
        return 0;
    if (o->type == UV_FS_READDIR || o->type == UV_FS_CLOSEDIR)
        return ah__memfs_owns_dir(fs->mem, o->dir);
    if (o->type == UV_FS_SENDFILE)
        return ah__memfs_owns_fd(fs->mem, o->file) || ah__memfs_owns_fd(fs->mem, o->in_fd);
    if (is_fd_op(o->type))
        return ah__memfs_owns_fd(fs->mem, o->file);
    return 1;
}

static int exists(ah__fs *fs, const ah__fsop *o, const char *path)
{
    uv_fs_t r;
    ah__fsop st = {.type = UV_FS_LSTAT, .fn = "uv_fs_lstat", .path = path};
    struct stat sb;

    if (!on_memory(fs, o))
        return lstat(path, &sb) == 0;
    memset(&r, 0, sizeof(r));
    ah__memfs_run(fs, &r, &st);
    return r.result == 0;
}

static void track_real_fd(ah__fs *fs, int fd, const char *abs)
{
    ah__fsfd *f = ah__calloc(1, sizeof(*f));

    f->fd = fd;
    f->path = ah__strdup(abs);
    ah__list_insert_head(&fs->realfds, &f->link);
}

static void untrack_real_fd(ah__fs *fs, int fd)
{
    ah__list *q;

    for (q = fs->realfds.next; q != &fs->realfds; q = q->next) {
        ah__fsfd *f = ah__container_of(q, ah__fsfd, link);
        if (f->fd == fd) {
            ah__list_remove(&f->link);
            ah__free(f->path);
            ah__free(f);
            return;
        }
    }
}

void ah__fs_notify_path(ah__fs *fs, const char *path, int events, int kind)
{
    char abs[AH__FS_PATH_MAX];

    abs_path(fs, path, abs, sizeof(abs));
    ah__fs_changed(fs, abs, events, kind);
}

int ah__fs_fault(ah__fs *fs, uv_fs_type op, const char *abs)
{
    ah__fsrule *rule = ah__fs_rule(fs, AH__FSR_FAIL, op, abs);
    int err;

    if (rule == NULL)
        return 0;
    err = rule->err;
    if (rule->times > 0 && --rule->times == 0) {
        ah__list_remove(&rule->link);
        ah__free(rule->path);
        ah__free(rule);
    }
    return err;
}

static void run_op(ah__fs *fs, uv_loop_t *loop, uv_fs_t *req, const ah__fsop *o)
{
    char abs[AH__FS_PATH_MAX];
    int has_path = op_path(fs, o, abs, sizeof(abs));
    int existed = 0, mem = on_memory(fs, o);
    int err = ah__fs_fault(fs, o->type, has_path ? abs : NULL);

    if (err != 0) {
        req->result = err;
        if (o->type == UV_FS_MKDTEMP || o->type == UV_FS_MKSTEMP) {
            req->path = strdup(o->path); /* libuv always owns a copy of the template */
            if (req->path != NULL && o->type == UV_FS_MKSTEMP)
                ((char *)req->path)[0] = '\0';
        }
        return;
    }
    if (o->type == UV_FS_OPEN && (o->flags & O_CREAT))
        existed = exists(fs, o, o->path);
    if (o->type == UV_FS_COPYFILE)
        existed = exists(fs, o, o->new_path);
    if (mem)
        ah__memfs_run(fs, req, o);
    else {
        fs->in_real++;
        passthrough(loop, req, o);
        fs->in_real--;
    }
    if (req->result < 0)
        return;

    switch (o->type) {
    case UV_FS_OPEN:
        if (!mem)
            track_real_fd(fs, (int)req->result, abs);
        if ((o->flags & O_CREAT) && !existed)
            ah__fs_changed(fs, abs, UV_RENAME, o->type);
        else if ((o->flags & O_TRUNC) && (o->flags & O_ACCMODE) != O_RDONLY)
            ah__fs_changed(fs, abs, UV_CHANGE, o->type);
        break;
    case UV_FS_CLOSE:
        if (!mem)
            untrack_real_fd(fs, o->file);
        break;
    case UV_FS_WRITE:
    case UV_FS_FTRUNCATE:
    case UV_FS_FUTIME:
    case UV_FS_FCHMOD:
    case UV_FS_FCHOWN:
        if (has_path && (o->type != UV_FS_WRITE || req->result > 0))
            ah__fs_changed(fs, abs, UV_CHANGE, o->type);
        break;
    case UV_FS_SENDFILE:
        if (req->result > 0 && ah__fs_fd_path(fs, o->file) != NULL)
            ah__fs_changed(fs, ah__fs_fd_path(fs, o->file), UV_CHANGE, o->type);
        break;
    case UV_FS_UTIME:
    case UV_FS_LUTIME:
    case UV_FS_CHMOD:
    case UV_FS_CHOWN:
    case UV_FS_LCHOWN:
        ah__fs_changed(fs, abs, UV_CHANGE, o->type);
        break;
    case UV_FS_UNLINK:
    case UV_FS_RMDIR:
    case UV_FS_MKDIR:
        ah__fs_changed(fs, abs, UV_RENAME, o->type);
        break;
    case UV_FS_MKDTEMP:
    case UV_FS_MKSTEMP:
        if (req->path != NULL)
            ah__fs_notify_path(fs, req->path, UV_RENAME, o->type);
        if (o->type == UV_FS_MKSTEMP && !mem && req->path != NULL) {
            char p[AH__FS_PATH_MAX];
            abs_path(fs, req->path, p, sizeof(p));
            track_real_fd(fs, (int)req->result, p);
        }
        break;
    case UV_FS_RENAME:
        ah__fs_changed(fs, abs, UV_RENAME, o->type);
        ah__fs_notify_path(fs, o->new_path, UV_RENAME, o->type + AH__FS_KIND_TO);
        break;
    case UV_FS_LINK:
    case UV_FS_SYMLINK:
        ah__fs_notify_path(fs, o->new_path, UV_RENAME, o->type);
        break;
    case UV_FS_COPYFILE:
        /* In passthrough, libuv's copyfile made its own uv_fs_open/sendfile calls, which
         * reached this file and reported themselves. */
        if (mem)
            ah__fs_notify_path(fs, o->new_path, existed ? UV_CHANGE : UV_RENAME, o->type);
        break;
    default:
        break;
    }
}

/* ---- requests that hold memory until uv_fs_req_cleanup ---- */

static int holds_memory(const uv_fs_t *req)
{
    if (req->path != NULL &&
        (req->cb != NULL || req->fs_type == UV_FS_MKDTEMP || req->fs_type == UV_FS_MKSTEMP))
        return 1;
    if (req->bufs != NULL && req->bufs != req->bufsml)
        return 1;
    if (req->fs_type == UV_FS_READDIR)
        return req->ptr != NULL && req->result > 0;
    return req->fs_type != UV_FS_OPENDIR && req->ptr != NULL && req->ptr != &req->statbuf;
}

static void leak_forget(ah__fs *fs, const uv_fs_t *req)
{
    ah__list *q;

    for (q = fs->leaks.prev; q != &fs->leaks; q = q->prev) {
        ah__fsleak *l = ah__container_of(q, ah__fsleak, link);
        if (l->req == req) {
            ah__list_remove(&l->link);
            ah__free(l);
            return;
        }
    }
}

static void completed(ah__fs *fs, const uv_fs_t *req, const char *fn, ah__site site)
{
    ah__fsleak *l;

    if (!holds_memory(req))
        return;
    l = ah__calloc(1, sizeof(*l));
    l->req = req;
    l->fn = fn;
    l->site = site;
    l->done_ns = fs->sim->clock.now_ns;
    ah__list_insert_tail(&fs->leaks, &l->link);
}

void uv_fs_req_cleanup(uv_fs_t *req)
{
    ah_sim *sim = ah__sim();
    ah__fs *fs = ah__fs_find(sim);

    (void)AH__CALLER("uv_fs_req_cleanup"); /* its site, for a failure below */
    if (req == NULL)
        return;
    /* A zeroed uv_fs_t holds nothing and is libuv's no-op; any other request the sim never
     * made (or whose memory was freed and scribbled) would have libuv free its pointers. */
    if (!ah__req_known((uv_req_t *)req) && (req->type != UV_UNKNOWN_REQ || holds_memory(req)))
        ah__req_unknown_at((uv_req_t *)req, "uv_fs_req_cleanup", __builtin_return_address(0),
                           "a second uv_fs_req_cleanup is harmless only while its memory is the "
                           "request's");
    if (ah__req_rec((uv_req_t *)req) != NULL)
        ah__fail(sim,
                 "uv_fs_req_cleanup on a uv_fs_t (%p) of %s that is still in flight: its callback "
                 "has not run (libuv would free memory its thread pool still uses)",
                 (void *)req, ah__req_rec((uv_req_t *)req)->what);
    if (fs != NULL)
        leak_forget(fs, req);
    REAL(uv_fs_req_cleanup)(req);
}

int uv_fs_scandir_next(uv_fs_t *req, uv_dirent_t *ent)
{
    ah__fs *fs = ah__fs_find(ah__sim());
    int r = REAL(uv_fs_scandir_next)(req, ent);

    /* Reading to the end frees the entries: nothing is left to leak unless the path is. */
    if (fs != NULL && r == UV_EOF && !holds_memory(req))
        leak_forget(fs, req);
    return r;
}

/* ---- the asynchronous path ---- */

uint64_t ah__fs_duration(ah__fs *fs, const ah__fsop *o)
{
    char abs[AH__FS_PATH_MAX];
    uint64_t ms = fs->latency_ms[0] + fs->latency_ms[o->type + 1];
    ah__list *q;

    if (op_path(fs, o, abs, sizeof(abs)))
        for (q = fs->rules.next; q != &fs->rules; q = q->next) {
            ah__fsrule *r = ah__container_of(q, ah__fsrule, link);
            if (r->kind == AH__FSR_SLOW && ah__fs_under(r->path, abs))
                ms += r->n;
        }
    return ms;
}

static void job_run(ah__job *job)
{
    uv_fs_t *req = (uv_fs_t *)job->req;
    ah__fsasync *a = req->reserved[2];
    ah__fs *fs = ah__fs_get(ah__sim());
    uv_fs_cb cb = req->cb;
    char *tpl = a->tpl_copy;

    run_op(fs, req->loop, req, &a->op);
    /* The synchronous call cleared the callback, which uv_fs_req_cleanup reads to know the
     * paths are copies. The template copy was copied again by the call. */
    req->cb = cb;
    if (tpl != NULL && req->path != tpl) {
        free(tpl);
        a->tpl_copy = NULL;
    }
}

static void job_done(ah__job *job, int status)
{
    uv_fs_t *req = (uv_fs_t *)job->req;
    ah__fsasync *a = req->reserved[2];
    ah_sim *sim = ah__sim();
    ah__fs *fs = ah__fs_get(sim);
    ah__site site = a->op.site;
    const char *fn = a->op.fn;

    {
        /* The completion names the operation's call site and what it was on, so a trace line
         * says which uv_fs_write of the code under test completed, not just "uv_fs_write". */
        char note[900], where[160], hint[320];
        /* req->path, not the op's: a template (uv_fs_mkdtemp) was copied again by the call and
         * its first copy freed in job_run */
        if (req->path != NULL)
            snprintf(note, sizeof(note), "%s of %s completes (%lld), called in %s%s", fn, req->path,
                     (long long)req->result, ah__site_str(&site, where, sizeof(where)),
                     ah__trace_site_hint(sim, &site, hint, sizeof(hint)));
        else
            snprintf(note, sizeof(note), "%s on descriptor %d completes (%lld), called in %s%s", fn,
                     (int)a->op.file, (long long)req->result,
                     ah__site_str(&site, where, sizeof(where)),
                     ah__trace_site_hint(sim, &site, hint, sizeof(hint)));
        ah__trace_note(sim, "file system", note);
    }
    req->reserved[2] = NULL;
    ah__list_remove(&a->link);
    ah__free(a->bufs_copy);
    ah__free(a);
    if (status == UV_ECANCELED)
        req->result = UV_ECANCELED;
    completed(fs, req, fn, site);
    AH__DISPATCH(sim, NULL, fn, req->cb(req));
}

static char *dup_paths(const char *path, const char *new_path, const char **new_out)
{
    size_t a = strlen(path) + 1, b = new_path != NULL ? strlen(new_path) + 1 : 0;
    char *p = malloc(a + b); /* freed by libuv's uv_fs_req_cleanup: its allocator */

    if (p == NULL)
        return NULL;
    memcpy(p, path, a);
    if (new_path != NULL) {
        memcpy(p + a, new_path, b);
        *new_out = p + a;
    }
    return p;
}

static int start(uv_loop_t *loop, uv_fs_t *req, uv_fs_cb cb, ah__fsop *o, ah__site site)
{
    ah_sim *sim = (loop == NULL && cb == NULL) ? ah__sim() : ah__loop_sim(loop, o->fn);
    ah__fs *fs = ah__fs_get(sim);
    ah__fsasync *a;
    int two = o->type == UV_FS_RENAME || o->type == UV_FS_LINK || o->type == UV_FS_SYMLINK ||
              o->type == UV_FS_COPYFILE;
    int tpl = o->type == UV_FS_MKDTEMP || o->type == UV_FS_MKSTEMP;

    if (req == NULL)
        return UV_EINVAL;
    if (cb != NULL)
        ah__req_require_idle(req, o->fn, site);
    /* libuv's INIT */
    req->type = UV_FS;
    req->fs_type = o->type;
    req->result = 0;
    req->ptr = NULL;
    req->loop = loop;
    req->path = NULL;
    req->new_path = NULL;
    req->bufs = NULL;
    req->cb = cb;
    ah__req_done_here((uv_req_t *)req); /* made here: uv_fs_req_cleanup may take it */
    switch (o->type) {
    case UV_FS_READ:
    case UV_FS_WRITE:
        if (o->bufs == NULL || o->nbufs == 0)
            return UV_EINVAL;
        break;
    case UV_FS_READDIR:
        if (o->dir == NULL || o->dir->dir == NULL || o->dir->dirents == NULL)
            return UV_EINVAL;
        req->ptr = o->dir;
        break;
    case UV_FS_CLOSEDIR:
        if (o->dir == NULL)
            return UV_EINVAL;
        req->ptr = o->dir;
        break;
    case UV_FS_COPYFILE:
        /* before anything runs, so also with a NULL loop (libuv's test fs_copyfile) */
        if (o->flags &
            ~(UV_FS_COPYFILE_EXCL | UV_FS_COPYFILE_FICLONE | UV_FS_COPYFILE_FICLONE_FORCE))
            return UV_EINVAL;
        break;
    default:
        break;
    }
    if ((o->path == NULL && !is_fd_op(o->type) && o->type != UV_FS_READDIR &&
         o->type != UV_FS_CLOSEDIR) ||
        (two && o->new_path == NULL)) {
        char s[160];
        ah__fail(sim, "%s in %s: called with a NULL path (libuv asserts on this)", o->fn,
                 ah__site_str(&site, s, sizeof(s)));
    }
    req->file = o->file;
    req->off = o->off;
    req->nbufs = o->nbufs;

    if (cb == NULL) {
        /* not in flight: what uv_fs_req_cleanup's in-flight check reads */
        req->reserved[2] = NULL;
        run_op(fs, loop, req, o);
        completed(fs, req, o->fn, site);
        return (int)req->result;
    }

    a = ah__calloc(1, sizeof(*a));
    a->op = *o;
    if (o->path != NULL && (tpl || !is_fd_op(o->type))) {
        char *p = dup_paths(o->path, two ? o->new_path : NULL, &a->op.new_path);
        if (p == NULL) {
            ah__free(a);
            return UV_ENOMEM;
        }
        req->path = a->op.path = p;
        req->new_path = a->op.new_path;
        if (tpl)
            a->tpl_copy = p;
    }
    if (o->bufs != NULL) {
        a->bufs_copy = ah__malloc(sizeof(uv_buf_t) * o->nbufs);
        memcpy(a->bufs_copy, o->bufs, sizeof(uv_buf_t) * o->nbufs);
        a->op.bufs = a->bufs_copy;
    }
    req->reserved[2] = a;
    ah__list_insert_tail(&fs->asyncs, &a->link);
    ah__req_begin(loop, (uv_req_t *)req, UV_FS, o->fn, site);
    ah__job_submit(loop, (uv_req_t *)req, o->fn, job_run, job_done, ah__fs_duration(fs, o), site);
    return 0;
}

/* ---- the entry points ---- */

#define OP(t, ...)                                                                                 \
    ah__fsop o = {.type = UV_FS_##t, .fn = op_names[UV_FS_##t + 1], __VA_ARGS__};                  \
    o.site = AH__CALLER(o.fn);                                                                     \
    return start(loop, req, cb, &o, o.site)

int uv_fs_open(uv_loop_t *loop, uv_fs_t *req, const char *path, int flags, int mode, uv_fs_cb cb)
{
    OP(OPEN, .path = path, .flags = flags, .mode = mode);
}
int uv_fs_close(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_fs_cb cb)
{
    OP(CLOSE, .file = file);
}
int uv_fs_read(uv_loop_t *loop, uv_fs_t *req, uv_file file, const uv_buf_t bufs[],
               unsigned int nbufs, int64_t off, uv_fs_cb cb)
{
    OP(READ, .file = file, .bufs = bufs, .nbufs = nbufs, .off = off);
}
int uv_fs_write(uv_loop_t *loop, uv_fs_t *req, uv_file file, const uv_buf_t bufs[],
                unsigned int nbufs, int64_t off, uv_fs_cb cb)
{
    OP(WRITE, .file = file, .bufs = bufs, .nbufs = nbufs, .off = off);
}
int uv_fs_unlink(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb)
{
    OP(UNLINK, .path = path);
}
int uv_fs_copyfile(uv_loop_t *loop, uv_fs_t *req, const char *path, const char *new_path, int flags,
                   uv_fs_cb cb)
{
    OP(COPYFILE, .path = path, .new_path = new_path, .flags = flags);
}
int uv_fs_mkdir(uv_loop_t *loop, uv_fs_t *req, const char *path, int mode, uv_fs_cb cb)
{
    OP(MKDIR, .path = path, .mode = mode);
}
int uv_fs_mkdtemp(uv_loop_t *loop, uv_fs_t *req, const char *tpl, uv_fs_cb cb)
{
    OP(MKDTEMP, .path = tpl);
}
int uv_fs_mkstemp(uv_loop_t *loop, uv_fs_t *req, const char *tpl, uv_fs_cb cb)
{
    OP(MKSTEMP, .path = tpl);
}
int uv_fs_rmdir(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb)
{
    OP(RMDIR, .path = path);
}
int uv_fs_scandir(uv_loop_t *loop, uv_fs_t *req, const char *path, int flags, uv_fs_cb cb)
{
    OP(SCANDIR, .path = path, .flags = flags);
}
int uv_fs_opendir(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb)
{
    OP(OPENDIR, .path = path);
}
int uv_fs_readdir(uv_loop_t *loop, uv_fs_t *req, uv_dir_t *dir, uv_fs_cb cb)
{
    OP(READDIR, .dir = dir);
}
int uv_fs_closedir(uv_loop_t *loop, uv_fs_t *req, uv_dir_t *dir, uv_fs_cb cb)
{
    OP(CLOSEDIR, .dir = dir);
}
int uv_fs_stat(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb)
{
    OP(STAT, .path = path);
}
int uv_fs_fstat(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_fs_cb cb)
{
    OP(FSTAT, .file = file);
}
int uv_fs_lstat(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb)
{
    OP(LSTAT, .path = path);
}
int uv_fs_statfs(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb)
{
    OP(STATFS, .path = path);
}
int uv_fs_rename(uv_loop_t *loop, uv_fs_t *req, const char *path, const char *new_path, uv_fs_cb cb)
{
    OP(RENAME, .path = path, .new_path = new_path);
}
int uv_fs_fsync(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_fs_cb cb)
{
    OP(FSYNC, .file = file);
}
int uv_fs_fdatasync(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_fs_cb cb)
{
    OP(FDATASYNC, .file = file);
}
int uv_fs_ftruncate(uv_loop_t *loop, uv_fs_t *req, uv_file file, int64_t off, uv_fs_cb cb)
{
    OP(FTRUNCATE, .file = file, .off = off);
}
int uv_fs_sendfile(uv_loop_t *loop, uv_fs_t *req, uv_file out_fd, uv_file in_fd, int64_t in_offset,
                   size_t length, uv_fs_cb cb)
{
    OP(SENDFILE, .file = out_fd, .in_fd = in_fd, .off = in_offset, .len = length);
}
int uv_fs_access(uv_loop_t *loop, uv_fs_t *req, const char *path, int mode, uv_fs_cb cb)
{
    OP(ACCESS, .path = path, .flags = mode);
}
int uv_fs_chmod(uv_loop_t *loop, uv_fs_t *req, const char *path, int mode, uv_fs_cb cb)
{
    OP(CHMOD, .path = path, .mode = mode);
}
int uv_fs_fchmod(uv_loop_t *loop, uv_fs_t *req, uv_file file, int mode, uv_fs_cb cb)
{
    OP(FCHMOD, .file = file, .mode = mode);
}
int uv_fs_utime(uv_loop_t *loop, uv_fs_t *req, const char *path, double atime, double mtime,
                uv_fs_cb cb)
{
    OP(UTIME, .path = path, .atime = atime, .mtime = mtime);
}
int uv_fs_futime(uv_loop_t *loop, uv_fs_t *req, uv_file file, double atime, double mtime,
                 uv_fs_cb cb)
{
    OP(FUTIME, .file = file, .atime = atime, .mtime = mtime);
}
int uv_fs_lutime(uv_loop_t *loop, uv_fs_t *req, const char *path, double atime, double mtime,
                 uv_fs_cb cb)
{
    OP(LUTIME, .path = path, .atime = atime, .mtime = mtime);
}
int uv_fs_link(uv_loop_t *loop, uv_fs_t *req, const char *path, const char *new_path, uv_fs_cb cb)
{
    OP(LINK, .path = path, .new_path = new_path);
}
int uv_fs_symlink(uv_loop_t *loop, uv_fs_t *req, const char *path, const char *new_path, int flags,
                  uv_fs_cb cb)
{
    OP(SYMLINK, .path = path, .new_path = new_path, .flags = flags);
}
int uv_fs_readlink(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb)
{
    OP(READLINK, .path = path);
}
int uv_fs_realpath(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb)
{
    OP(REALPATH, .path = path);
}
int uv_fs_chown(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_uid_t uid, uv_gid_t gid,
                uv_fs_cb cb)
{
    OP(CHOWN, .path = path, .uid = uid, .gid = gid);
}
int uv_fs_fchown(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_uid_t uid, uv_gid_t gid,
                 uv_fs_cb cb)
{
    OP(FCHOWN, .file = file, .uid = uid, .gid = gid);
}
int uv_fs_lchown(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_uid_t uid, uv_gid_t gid,
                 uv_fs_cb cb)
{
    OP(LCHOWN, .path = path, .uid = uid, .gid = gid);
}

uv_fs_type uv_fs_get_type(const uv_fs_t *req) { return req->fs_type; }
ssize_t uv_fs_get_result(const uv_fs_t *req) { return req->result; }
void *uv_fs_get_ptr(const uv_fs_t *req) { return req->ptr; }
const char *uv_fs_get_path(const uv_fs_t *req) { return req->path; }
uv_stat_t *uv_fs_get_statbuf(uv_fs_t *req) { return &req->statbuf; }
#if UV_VERSION_HEX >= 0x012600 /* 1.38 */
int uv_fs_get_system_error(const uv_fs_t *req) { return -(int)req->result; }
#endif

/* ---- the test's verbs ---- */

void ah_fs_memory(ah_sim *sim)
{
    ah__fs *fs = ah__fs_get(sim);

    ah__fs_hooks.mem_check = ah__memfs_check;
    ah__fs_hooks.mem_free = ah__memfs_free;
    if (fs->mem == NULL)
        fs->mem = ah__memfs_new(sim);
}

int ah_fs_is_memory(ah_sim *sim)
{
    ah__fs *fs = ah__fs_find(sim);
    return fs != NULL && fs->mem != NULL;
}

static ah__fs *ah__fsmem_required(ah_sim *sim, const char *fn)
{
    ah__fs *fs = ah__fs_get(sim);

    if (fs->mem == NULL)
        ah__fail(sim, "%s works on the in-memory file system: call ah_fs_memory(sim) first", fn);
    return fs;
}

void ah_fs_latency(ah_sim *sim, uv_fs_type op, uint64_t ms)
{
    ah__fs *fs = ah__fs_get(sim);

    if ((int)op < UV_FS_UNKNOWN || (int)op > UV_FS_LUTIME)
        ah__fail(sim, "ah_fs_latency: unknown operation %d", (int)op);
    fs->latency_ms[op == UV_FS_UNKNOWN ? 0 : op + 1] = ms;
}

static ah__fsrule *rule_add(ah_sim *sim, int kind, uv_fs_type op, const char *path)
{
    ah__fs *fs = ah__fs_get(sim);
    ah__fsrule *r = ah__calloc(1, sizeof(*r));
    char abs[AH__FS_PATH_MAX];

    r->kind = kind;
    r->op = op;
    if (path != NULL) {
        abs_path(fs, path, abs, sizeof(abs));
        r->path = ah__strdup(abs);
    }
    ah__list_insert_tail(&fs->rules, &r->link);
    return r;
}

void ah_fs_slow(ah_sim *sim, const char *path, uint64_t ms)
{
    if (path == NULL)
        ah__fail(sim, "ah_fs_slow: called with a NULL path (use ah_fs_latency for every file)");
    rule_add(sim, AH__FSR_SLOW, UV_FS_UNKNOWN, path)->n = ms;
}

void ah_fs_fail(ah_sim *sim, uv_fs_type op, const char *path, int err, unsigned times)
{
    ah__fsrule *r;

    if (err >= 0)
        ah__fail(sim, "ah_fs_fail: the error must be a negative UV_E* code, not %d", err);
    r = rule_add(sim, AH__FSR_FAIL, op, path);
    r->err = err;
    r->times = times;
}

void ah_fs_capacity(ah_sim *sim, uint64_t bytes)
{
    ah__fs *fs = ah__fsmem_required(sim, "ah_fs_capacity");

    fs->capacity = bytes;
    fs->has_capacity = 1;
}

void ah_fs_short_io(ah_sim *sim, const char *path, size_t max_bytes)
{
    ah__fsmem_required(sim, "ah_fs_short_io");
    if (max_bytes == 0)
        ah__fail(sim, "ah_fs_short_io: max_bytes must be at least 1");
    rule_add(sim, AH__FSR_SHORT, UV_FS_UNKNOWN, path)->n = max_bytes;
}

void ah_fs_clear(ah_sim *sim)
{
    ah__fs *fs = ah__fs_get(sim);

    ah__fs_rules_free(fs);
    fs->has_capacity = 0;
}

void ah_fs_crash(ah_sim *sim)
{
    ah__fs *fs = ah__fsmem_required(sim, "ah_fs_crash");

    ah__trace_note(sim, "fs", "crash: unsynced data lost");
    ah__memfs_crash(fs->mem);
}

int ah_fs_put(ah_sim *sim, const char *path, const void *data, size_t n)
{
    ah__fs *fs = ah__fsmem_required(sim, "ah_fs_put");
    return ah__memfs_put(fs->mem, path, data, n);
}

ssize_t ah_fs_get(ah_sim *sim, const char *path, void *buf, size_t cap)
{
    ah__fs *fs = ah__fsmem_required(sim, "ah_fs_get");
    return ah__memfs_get(fs->mem, path, buf, cap);
}
