/* Linux AIO in virtual time: io_setup, io_submit, io_getevents, io_cancel, io_destroy, reached
 * through libc's syscall() (interposed here for those numbers only; every other number goes to
 * the C library's syscall with its arguments as they came). libaio (Debian 12: 0.3.113) issues
 * its system calls through that same syscall(), so a program on libaio needs nothing more.
 *
 * A request is checked at io_submit as the kernel checks it (the errors io_submit itself returns);
 * the file system room performs it at its completion instant, ah_fs_latency (+ ah_fs_slow) after
 * the submit: the bytes move from or to the caller's buffer then, the latest moment the kernel
 * may move them, so a buffer reused before its completion is caught. Its event joins the
 * context's completion queue at that instant and an IOCB_FLAG_RESFD eventfd gets its 8 bytes
 * through the interposed write(). docs/aio.md. */
#define _GNU_SOURCE 1
#include "internal.h"

#include "../fd/internal_fd.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

const char ah__fs_interposer_aio = 0;

#define AIO_IOV_MAX 1024
/* The sim's O_DIRECT rule: buffer, offset and length aligned to a 512-byte logical block. */
#define AIO_DIRECT_ALIGN 512
#define AIO_RWF_KNOWN (RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND)

/* The head of the kernel's completion ring, which user-space reapers (libaio's io_getevents,
 * seastar, SPDK) read at the context's address: with a zero magic they go to the system call. */
typedef struct aio_ring_head {
    unsigned id, nr, head, tail, magic, compat_features, incompat_features, header_length;
} aio_ring_head;

typedef struct aio_ctx {
    aio_ring_head ring; /* first: the context's value is its address */
    ah__list link;      /* aio->ctxs */
    unsigned nr_events; /* io_setup's: at most this many requests submitted and not reaped */
    unsigned queued;    /* submitted and not yet reaped */
    ah__list running;   /* aio_req by due, then submit order */
    ah__list done;      /* completed, not reaped: the ring */
    uint64_t submitted, reaped;
    ah__site site;
} aio_ctx;

typedef struct aio_req {
    ah__list link;
    aio_ctx *ctx;
    ah__event ev; /* the completion instant */
    uint64_t due_ns;
    int op, fd, resfd, rw_flags;
    uint64_t obj, data;
    int64_t off;
    struct iovec *iov; /* the kernel imports the vector at submit; the bytes move at completion */
    unsigned niov;
    struct iovec one;
    int64_t res;
    int decided; /* res was decided at submit: nothing is performed */
    ah__site site;
} aio_req;

typedef struct aio_state {
    ah_sim *sim;
    ah__list ctxs;
    uint32_t next_id;
} aio_state;

static int aio_key;

static long (*real_syscall)(long, ...);

/* Looked up before main: uv_spawn's child calls syscall() between fork and exec, where dlsym (its
 * lock possibly held by another thread at the fork) must not run. */
__attribute__((constructor)) static void real_syscall_resolve(void)
{
    *(void **)&real_syscall = dlsym(RTLD_NEXT, "syscall");
}

static long real_syscall6(long n, long a, long b, long c, long d, long e, long f)
{
    if (real_syscall == NULL)
        real_syscall_resolve();
    return real_syscall(n, a, b, c, d, e, f);
}

static void req_free(aio_req *r)
{
    ah__event_cancel(&r->ev);
    ah__list_remove(&r->link);
    if (r->iov != &r->one)
        ah__free(r->iov);
    ah__free(r);
}

static void ctx_free(aio_ctx *c)
{
    while (!ah__list_empty(&c->running))
        req_free(ah__container_of(c->running.next, aio_req, link));
    while (!ah__list_empty(&c->done))
        req_free(ah__container_of(c->done.next, aio_req, link));
    ah__list_remove(&c->link);
    ah__free(c);
}

static void aio_check(ah_sim *sim, void *state, ah__buf *b)
{
    aio_state *st = state;
    ah__list *q, *p;
    char s[160];

    (void)sim;
    for (q = st->ctxs.next; q != &st->ctxs; q = q->next) {
        aio_ctx *c = ah__container_of(q, aio_ctx, link);
        unsigned running = 0, done = 0;
        for (p = c->running.next; p != &c->running; p = p->next)
            running++;
        for (p = c->done.next; p != &c->done; p = p->next)
            done++;
        ah__buf_printf(b,
                       "  - AIO context 0x%llx made by io_setup in %s was never destroyed "
                       "(io_destroy): %u request(s) still in flight, %u completion(s) never reaped "
                       "with io_getevents\n",
                       (unsigned long long)(uintptr_t)c, ah__site_str(&c->site, s, sizeof(s)),
                       running, done);
    }
}

static void aio_destroy(ah_sim *sim, void *state)
{
    aio_state *st = state;

    (void)sim;
    while (!ah__list_empty(&st->ctxs))
        ctx_free(ah__container_of(st->ctxs.next, aio_ctx, link));
    ah__free(st);
}

static void aio_init(ah_sim *sim, void *state)
{
    aio_state *st = state;

    st->sim = sim;
    ah__list_init(&st->ctxs);
}

static aio_state *state_get(ah_sim *sim)
{
    static const ah__ext aio_ext = {.key = &aio_key,
                                    .name = "aio",
                                    .check = aio_check,
                                    .destroy = aio_destroy,
                                    .init = aio_init};

    return ah__ext_get_or_add(sim, &aio_ext, sizeof(aio_state));
}

static aio_ctx *ctx_find(aio_state *st, aio_context_t id)
{
    ah__list *q;

    for (q = st->ctxs.next; q != &st->ctxs; q = q->next) {
        aio_ctx *c = ah__container_of(q, aio_ctx, link);
        if ((aio_context_t)(uintptr_t)c == id)
            return c;
    }
    return NULL;
}

/* ---- performing a request at its completion instant ---- */

static uv_fs_type fs_type_of(int op)
{
    switch (op) {
    case IOCB_CMD_PREAD:
    case IOCB_CMD_PREADV:
        return UV_FS_READ;
    case IOCB_CMD_PWRITE:
    case IOCB_CMD_PWRITEV:
        return UV_FS_WRITE;
    case IOCB_CMD_FSYNC:
        return UV_FS_FSYNC;
    default:
        return UV_FS_FDATASYNC;
    }
}

static int64_t perform(ah__fs *fs, aio_req *r)
{
    uv_fs_type t = fs_type_of(r->op);
    const char *path = ah__fs_fd_path(fs, r->fd);
    int64_t res;
    int err = ah__fs_fault(fs, t, path);

    if (err != 0)
        return err;
    if (fs->mem != NULL && ah__memfs_owns_fd(fs->mem, r->fd)) {
        uv_fs_t req;
        ah__fsop o;
        memset(&req, 0, sizeof(req));
        memset(&o, 0, sizeof(o));
        o.type = t;
        o.fn = "io_submit";
        o.file = r->fd;
        o.bufs = (const uv_buf_t *)r->iov; /* uv_buf_t is struct iovec's layout on Unix */
        o.nbufs = r->niov;
        o.off = r->off;
        o.once = 1;
        o.site = r->site;
        ah__memfs_run(fs, &req, &o);
        res = req.result;
    } else if (t == UV_FS_READ) {
        res = preadv2(r->fd, r->iov, (int)r->niov, r->off, r->rw_flags);
        res = res < 0 ? -errno : res;
    } else if (t == UV_FS_WRITE) {
        res = pwritev2(r->fd, r->iov, (int)r->niov, r->off, r->rw_flags);
        res = res < 0 ? -errno : res;
    } else {
        res = t == UV_FS_FSYNC ? fsync(r->fd) : fdatasync(r->fd);
        res = res < 0 ? -errno : res;
    }
    if (t == UV_FS_WRITE && res > 0 && path != NULL)
        ah__fs_changed(fs, path, UV_CHANGE, UV_FS_WRITE);
    return res;
}

/* The request's instant came: it is performed, its event joins the ring, its eventfd is told. */
static void complete(aio_req *r)
{
    aio_ctx *c = r->ctx;
    ah_sim *sim = ah__sim();
    uint64_t one = 1;

    ah__event_cancel(&r->ev);
    if (!r->decided)
        r->res = perform(ah__fs_get(sim), r);
    ah__list_remove(&r->link);
    ah__list_insert_tail(&c->done, &r->link);
    if (r->resfd >= 0 && write(r->resfd, &one, sizeof(one)) != (ssize_t)sizeof(one)) {
        char s[160];
        ah__fail(sim,
                 "io_submit in %s: the completion's eventfd %d (IOCB_FLAG_RESFD) could not be "
                 "signalled: %s (was it closed before the request completed?)",
                 ah__site_str(&r->site, s, sizeof(s)), r->resfd, strerror(errno));
    }
}

static void complete_fire(ah__event *ev) { complete(ah__container_of(ev, aio_req, ev)); }

/* Completes every request of `c` due by now, in order. */
static void catch_up(ah_sim *sim, aio_ctx *c)
{
    while (!ah__list_empty(&c->running)) {
        aio_req *r = ah__container_of(c->running.next, aio_req, link);
        if (r->due_ns > sim->clock.now_ns)
            break;
        complete(r);
    }
}

void ah__aio_forked_child(ah_sim *sim)
{
    aio_state *st = ah__ext_get(sim, &aio_key);

    /* The kernel's AIO contexts stay with the parent: in the child they answer EINVAL. */
    if (st != NULL)
        while (!ah__list_empty(&st->ctxs))
            ctx_free(ah__container_of(st->ctxs.next, aio_ctx, link));
}

/* The calling thread blocks in the kernel until `until_ns`; inside a loop callback that blocks
 * the loop thread, and the teardown report says so (as for uv_sleep). */
static void block_until(ah_sim *sim, const char *call, ah__site site, uint64_t until_ns)
{
    char b[320], st[160];

    if (sim->in_callback > 0 && until_ns > sim->clock.now_ns) {
        ah__site_str(&site, st, sizeof(st));
        if (sim->current_hrec != NULL)
            ah__buf_printf(&sim->slow,
                           "  - blocking call %s in %s waited %llu ms for AIO completions, inside "
                           "%s of %s at virtual time +%llu ms: it blocks the loop thread (reap "
                           "with a zero timeout when the eventfd says so)\n",
                           call, st,
                           (unsigned long long)((until_ns - sim->clock.now_ns) / AH__NS_PER_MS),
                           sim->current_what, ah__handle_str(sim->current_hrec, b, sizeof(b)),
                           (unsigned long long)ah_now_ms(sim));
    }
    ah__time_pass(sim, NULL, until_ns);
}

/* ---- io_setup, io_destroy ---- */

static long do_setup(ah_sim *sim, unsigned nr_events, aio_context_t *ctxp, ah__site site)
{
    aio_state *st = state_get(sim);
    aio_ctx *c;

    if (ctxp == NULL)
        return -EFAULT;
    if (*ctxp != 0 || nr_events == 0)
        return -EINVAL;
    if (nr_events > 65536)
        return -EAGAIN; /* /proc/sys/fs/aio-max-nr's default */
    c = ah__calloc(1, sizeof(*c));
    c->ring.id = ++st->next_id;
    c->ring.nr = nr_events;
    c->ring.magic = 0;
    c->nr_events = nr_events;
    ah__list_init(&c->running);
    ah__list_init(&c->done);
    c->site = site;
    ah__list_insert_tail(&st->ctxs, &c->link);
    *ctxp = (aio_context_t)(uintptr_t)c;
    return 0;
}

/* How long until the `k`-th event (1-based) of `c` exists: its due time, UINT64_MAX if fewer
 * requests are in flight. */
static uint64_t kth_due(aio_ctx *c, long k)
{
    ah__list *q;
    long n = 0;

    for (q = c->done.next; q != &c->done && n < k; q = q->next)
        n++;
    if (n >= k)
        return 0;
    for (q = c->running.next; q != &c->running; q = q->next)
        if (++n >= k)
            return ah__container_of(q, aio_req, link)->due_ns;
    return UINT64_MAX;
}

static long do_destroy(ah_sim *sim, aio_context_t id, ah__site site)
{
    aio_state *st = state_get(sim);
    aio_ctx *c = ctx_find(st, id);

    if (c == NULL)
        return -EINVAL;
    /* The kernel waits for every request in flight before io_destroy returns. */
    if (!ah__list_empty(&c->running)) {
        aio_req *last = ah__container_of(c->running.prev, aio_req, link);
        block_until(sim, "io_destroy", site, last->due_ns);
        catch_up(sim, c);
    }
    ctx_free(c);
    return 0;
}

/* ---- io_submit ---- */

static int fd_flags(ah__fs *fs, int fd)
{
    if (fs->mem != NULL && ah__memfs_owns_fd(fs->mem, fd))
        return ah__memfs_fd_flags(fs->mem, fd);
    return fcntl(fd, F_GETFL);
}

/* Whether `fd` can be an IOCB_FLAG_RESFD: 0, or the errno the kernel answers. A fake descriptor
 * must be the fd layer's eventfd; a real one "anon_inode:[eventfd]". */
static int resfd_check(ah__fs *fs, int fd)
{
    ah__fsock *f = ah__fd_get_any(fd);
    char p[32], t[64];
    ssize_t n;

    if (f != NULL)
        return f->what != NULL && strcmp(f->what, "eventfd") == 0 ? 0 : EINVAL;
    if (fs->mem != NULL && ah__memfs_fd_flags(fs->mem, fd) >= 0)
        return EINVAL; /* a file of the memory file system */
    if (fcntl(fd, F_GETFD) < 0)
        return EBADF;
    snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
    n = readlink(p, t, sizeof(t) - 1);
    if (n < 0)
        return 0;
    t[n] = '\0';
    return strcmp(t, "anon_inode:[eventfd]") == 0 ? 0 : EINVAL;
}

static int misaligned(uint64_t v) { return (v & (AIO_DIRECT_ALIGN - 1)) != 0; }

/* One iocb: the errors io_submit returns (a positive errno) or 0 with `r` queued. */
static int submit_one(ah_sim *sim, aio_ctx *c, const struct iocb *cb, ah__site site)
{
    ah__fs *fs = ah__fs_get(sim);
    aio_req *r;
    int flags, wr, rd, vec, sync;
    unsigned i;
    uint64_t bytes = 0;
    ah__fsop o;
    ah__list *q;

    if (cb == NULL)
        return EFAULT;
    if (cb->aio_reserved2 != 0)
        return EINVAL;
    if (c->queued >= c->nr_events)
        return EAGAIN;
    if ((cb->aio_flags & IOCB_FLAG_RESFD)) {
        int e = resfd_check(fs, (int)cb->aio_resfd);
        if (e != 0)
            return e;
    }
    rd = cb->aio_lio_opcode == IOCB_CMD_PREAD || cb->aio_lio_opcode == IOCB_CMD_PREADV;
    wr = cb->aio_lio_opcode == IOCB_CMD_PWRITE || cb->aio_lio_opcode == IOCB_CMD_PWRITEV;
    vec = cb->aio_lio_opcode == IOCB_CMD_PREADV || cb->aio_lio_opcode == IOCB_CMD_PWRITEV;
    sync = cb->aio_lio_opcode == IOCB_CMD_FSYNC || cb->aio_lio_opcode == IOCB_CMD_FDSYNC;
    if (cb->aio_lio_opcode == IOCB_CMD_POLL) {
        char s[160];
        ah__fail(sim,
                 "io_submit in %s: IOCB_CMD_POLL is not simulated (use uv_poll, or "
                 "io_submit on files)",
                 ah__site_str(&site, s, sizeof(s)));
    }
    if (!rd && !wr && !sync)
        return EINVAL;
    flags = fd_flags(fs, (int)cb->aio_fildes);
    if (flags < 0)
        return EBADF;
    if (sync) {
        if (cb->aio_buf != 0 || cb->aio_offset != 0 || cb->aio_nbytes != 0 || cb->aio_rw_flags != 0)
            return EINVAL;
    } else {
        if ((cb->aio_rw_flags & ~AIO_RWF_KNOWN) != 0)
            return EOPNOTSUPP;
        if ((rd && (flags & O_ACCMODE) == O_WRONLY) || (wr && (flags & O_ACCMODE) == O_RDONLY))
            return EBADF;
        if (cb->aio_offset < 0)
            return EINVAL;
    }

    r = ah__calloc(1, sizeof(*r));
    r->ctx = c;
    r->op = cb->aio_lio_opcode;
    r->fd = (int)cb->aio_fildes;
    r->resfd = (cb->aio_flags & IOCB_FLAG_RESFD) ? (int)cb->aio_resfd : -1;
    r->rw_flags = (int)cb->aio_rw_flags;
    r->obj = (uint64_t)(uintptr_t)cb;
    r->data = cb->aio_data;
    r->off = cb->aio_offset;
    r->site = site;
    r->iov = &r->one;
    if (vec) {
        if (cb->aio_nbytes > AIO_IOV_MAX) {
            ah__free(r);
            return EINVAL;
        }
        r->niov = (unsigned)cb->aio_nbytes;
        if (r->niov > 0) {
            r->iov = ah__malloc(sizeof(struct iovec) * r->niov);
            memcpy(r->iov, (const void *)(uintptr_t)cb->aio_buf, sizeof(struct iovec) * r->niov);
        }
    } else if (!sync) {
        r->one.iov_base = (void *)(uintptr_t)cb->aio_buf;
        r->one.iov_len = cb->aio_nbytes;
        r->niov = 1;
    }
    for (i = 0; i < r->niov; i++)
        bytes += r->iov[i].iov_len;

    memset(&o, 0, sizeof(o));
    o.type = fs_type_of(r->op);
    o.file = r->fd;
    r->due_ns = sim->clock.now_ns + ah__fs_duration(fs, &o) * AH__NS_PER_MS;
    /* Answers decided now and delivered at the completion instant. The kernel finds O_DIRECT
     * misalignment in the file system's submit path and completes the request with it; RWF_NOWAIT
     * gives EAGAIN where it would wait, which in the sim is where the room gives the operation
     * virtual time. */
    if (!sync && (flags & O_DIRECT)) {
        int bad = misaligned((uint64_t)r->off) || misaligned(bytes);
        for (i = 0; i < r->niov; i++)
            bad |= misaligned((uint64_t)(uintptr_t)r->iov[i].iov_base);
        if (bad) {
            r->res = -EINVAL;
            r->decided = 1;
        }
    }
    if (!sync && !r->decided && (r->rw_flags & RWF_NOWAIT) && r->due_ns > sim->clock.now_ns) {
        r->res = -EAGAIN;
        r->decided = 1;
        r->due_ns = sim->clock.now_ns;
    }

    for (q = c->running.prev; q != &c->running; q = q->prev)
        if (ah__container_of(q, aio_req, link)->due_ns <= r->due_ns)
            break;
    ah__list_insert_head(q, &r->link); /* after q: due order, then submit order */
    c->queued++;
    c->submitted++;
    r->ev.fire = complete_fire;
    r->ev.what = "an AIO completion";
    r->ev.site = site;
    r->ev.owner = r;
    ah__event_schedule(sim->current_hrec != NULL ? sim->current_hrec->loop : ah_sim_loop(sim),
                       &r->ev, r->due_ns);
    return 0;
}

static long do_submit(ah_sim *sim, aio_context_t id, long nr, struct iocb **iocbpp, ah__site site)
{
    aio_ctx *c;
    long i;

    if (nr < 0)
        return -EINVAL;
    c = ctx_find(state_get(sim), id);
    if (c == NULL)
        return -EINVAL;
    if (nr > 0 && iocbpp == NULL)
        return -EFAULT;
    for (i = 0; i < nr; i++) {
        int e = submit_one(sim, c, iocbpp[i], site);
        if (e != 0)
            return i > 0 ? i : -e;
    }
    return nr;
}

/* ---- io_getevents, io_cancel ---- */

static long do_getevents(ah_sim *sim, aio_context_t id, long min_nr, long nr,
                         struct io_event *events, const struct timespec *timeout, ah__site site)
{
    aio_ctx *c = ctx_find(state_get(sim), id);
    uint64_t deadline = UINT64_MAX, due;
    long n = 0;

    if (c == NULL || min_nr > nr || min_nr < 0 || nr < 0)
        return -EINVAL;
    if (timeout != NULL && (timeout->tv_sec < 0 || timeout->tv_nsec < 0))
        deadline = sim->clock.now_ns; /* already past: what is there, at once */
    else if (timeout != NULL)
        deadline = sim->clock.now_ns + (uint64_t)timeout->tv_sec * 1000000000ULL +
                   (uint64_t)timeout->tv_nsec;
    catch_up(sim, c);
    due = kth_due(c, min_nr);
    if (due > sim->clock.now_ns) {
        uint64_t until = due < deadline ? due : deadline;
        if (until == UINT64_MAX) {
            char s[160], w[160];
            ah__fail(sim,
                     "io_getevents in %s waits for %ld event(s) with no timeout, and AIO context "
                     "0x%llx (made in %s) has only %ld request(s) in flight or completed: it "
                     "would block forever",
                     ah__site_str(&site, s, sizeof(s)), min_nr, (unsigned long long)id,
                     ah__site_str(&c->site, w, sizeof(w)), (long)c->queued);
        }
        /* The thread blocks in the kernel: time passes, nothing of this thread runs. */
        block_until(sim, "io_getevents", site, until);
        catch_up(sim, c);
    }
    while (n < nr && !ah__list_empty(&c->done)) {
        aio_req *r = ah__container_of(c->done.next, aio_req, link);
        if (events == NULL)
            return n > 0 ? n : -EFAULT;
        events[n].data = r->data;
        events[n].obj = r->obj;
        events[n].res = r->res;
        events[n].res2 = 0;
        n++;
        c->queued--;
        c->reaped++;
        req_free(r);
    }
    return n;
}

static long do_cancel(ah_sim *sim, aio_context_t id, struct iocb *cb, struct io_event *result)
{
    (void)cb;
    (void)result;
    /* Reads, writes and syncs of files cannot be cancelled: the kernel answers EINVAL, for a
     * request in flight as for one it does not know. */
    (void)ctx_find(state_get(sim), id);
    return -EINVAL;
}

/* ---- the entry points ---- */

static int is_aio(long n)
{
    return n == SYS_io_setup || n == SYS_io_destroy || n == SYS_io_submit ||
           n == SYS_io_getevents || n == SYS_io_cancel;
}

static long aio_call(long n, const long *a, const void *ret)
{
    ah_sim *sim = ah__sim();
    ah__site site;

    switch (n) {
    case SYS_io_setup:
        site = ah__site_take("io_setup", ret);
        return do_setup(sim, (unsigned)a[0], (aio_context_t *)a[1], site);
    case SYS_io_destroy:
        site = ah__site_take("io_destroy", ret);
        return do_destroy(sim, (aio_context_t)a[0], site);
    case SYS_io_submit:
        site = ah__site_take("io_submit", ret);
        return do_submit(sim, (aio_context_t)a[0], a[1], (struct iocb **)a[2], site);
    case SYS_io_getevents:
        site = ah__site_take("io_getevents", ret);
        return do_getevents(sim, (aio_context_t)a[0], a[1], a[2], (struct io_event *)a[3],
                            (const struct timespec *)a[4], site);
    default:
        return do_cancel(sim, (aio_context_t)a[0], (struct iocb *)a[1], (struct io_event *)a[2]);
    }
}

/* syscall(2) takes up to six register arguments; the C library's reads all six whatever the
 * number, and so does this, passing them on unchanged. */
AH__LIBC(syscall, 12, AH__LIBC_FD);
/* Reads six arguments whatever the caller passed, as the kernel's entry does: the sixth comes from
 * the caller's stack, which AddressSanitizer would report as an underflow of the caller's frame. */
__attribute__((no_sanitize_address)) long syscall(long number, ...)
{
    va_list ap;
    long a[6], r;
    int i;

    va_start(ap, number);
    for (i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (!is_aio(number))
        return real_syscall6(number, a[0], a[1], a[2], a[3], a[4], a[5]);
    r = aio_call(number, a, __builtin_return_address(0));
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    return r;
}
