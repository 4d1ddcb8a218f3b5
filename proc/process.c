#define _GNU_SOURCE 1
/* Child processes: uv_spawn, uv_process_kill, uv_process_get_pid, scripted and real children.
 *
 * As libuv 1.44's src/unix/process.c: uv_spawn initialises the handle even when it fails; an
 * exec failure (UV_ENOENT for a missing program) is returned synchronously, the handle stays
 * inactive and the UV_CREATE_PIPE streams are opened anyway (their other end is closed); the
 * loop's child watcher (SIGCHLD) reaps every exited child of the loop in spawn order, stops its
 * handle and runs exit_cb(exit_status, term_signal), after the other I/O of that poll.
 *
 * A UV_CREATE_PIPE stream is one end of a fake-network pair (mocks/pipe.c); the child holds the
 * other. A scripted child writes into it at virtual instants. A real child runs for real on a
 * socketpair: at spawn + ah_proc_real_ms the harness waits (in real time) for it to exit, feeding
 * it what the parent wrote to its stdin by then, and delivers its output, EOF and exit at that
 * instant. A child whose stdin is still open then gets a short real grace; if it has not exited,
 * its exit waits until the parent closes its stdin (docs/processes.md). */
#include "internal_proc.h"
#include "../fd/internal_fd.h" /* ah__fd_materialize_fd */
#include "../fd/tty.h"         /* ah__fd_is_fake */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* The real libc calls on the real child's descriptors: another room may interpose these names
 * for its fake descriptors (link-time definitions in the executable); RTLD_NEXT skips them. */
static struct {
    int (*socketpair)(int, int, int, int[2]);
    int (*close)(int);
    ssize_t (*recv)(int, void *, size_t, int);
    ssize_t (*send)(int, const void *, size_t, int);
    int (*poll)(struct pollfd *, nfds_t, int);
    ssize_t (*read)(int, void *, size_t);
    int (*shutdown)(int, int);
    int (*pipe2)(int *, int);
} libc;

static void libc_resolve(void)
{
    if (libc.close != NULL)
        return;
    *(void **)&libc.socketpair = dlsym(RTLD_NEXT, "socketpair");
    *(void **)&libc.recv = dlsym(RTLD_NEXT, "recv");
    *(void **)&libc.send = dlsym(RTLD_NEXT, "send");
    *(void **)&libc.poll = dlsym(RTLD_NEXT, "poll");
    *(void **)&libc.read = dlsym(RTLD_NEXT, "read");
    *(void **)&libc.shutdown = dlsym(RTLD_NEXT, "shutdown");
    *(void **)&libc.pipe2 = dlsym(RTLD_NEXT, "pipe2");
    *(void **)&libc.close = dlsym(RTLD_NEXT, "close");
}

static void proc_ev_fire(ah__event *ev);

/* A child in a trace note: a member of a world is not named by its real pid, which differs from
 * run to run (the trace hash of a schedule must not). */
static const char *pid_str(const ah__proc *pr, char *b, size_t n)
{
    if (pr->world != NULL)
        snprintf(b, n, "a process of the world");
    else
        snprintf(b, n, "pid %d", pr->pid);
    return b;
}

static const char *base_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* ---- scripts ---- */

static ah_program *script_find(ah__pstate *st, const char *file)
{
    ah__list *q;

    for (q = st->scripts.prev; q != &st->scripts; q = q->prev) {
        ah_program *p = ah__container_of(q, ah_program, link);
        if (strcmp(p->file, file) == 0 ||
            (strchr(p->file, '/') == NULL && strcmp(p->file, base_of(file)) == 0))
            return p;
    }
    return NULL;
}

static ah_program *script_new(ah_sim *sim, const char *file, ah__site site)
{
    ah__pstate *st = ah__pstate_get(sim);
    ah_program *p;

    if (file == NULL || *file == '\0')
        ah__fail(sim, "ah_proc_script: called with an empty program name");
    p = ah__calloc(1, sizeof(*p));
    p->file = ah__strdup(file);
    p->site = site;
    ah__list_insert_tail(&st->scripts, &p->link);
    return p;
}

ah_program *ah_proc_script(ah_sim *sim, const char *file)
{
    return script_new(sim, file, AH__CALLER("ah_proc_script"));
}

static ah__pstep *step_add(ah_program *p, int kind)
{
    ah__pstep *s;

    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->steps = ah__realloc(p->steps, p->cap * sizeof(*p->steps));
    }
    s = &p->steps[p->n++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    return s;
}

void ah_proc_write_n(ah_program *p, int fd, const void *bytes, size_t n)
{
    ah__pstep *s = step_add(p, AH__PSTEP_WRITE);
    s->fd = fd;
    s->bytes = ah__malloc(n ? n : 1);
    memcpy(s->bytes, bytes, n);
    s->n = n;
}

void ah_proc_write(ah_program *p, int fd, const char *text)
{
    ah_proc_write_n(p, fd, text, strlen(text));
}

void ah_proc_delay(ah_program *p, uint64_t ms) { step_add(p, AH__PSTEP_DELAY)->ms = ms; }
void ah_proc_wait_stdin_eof(ah_program *p) { step_add(p, AH__PSTEP_WAIT_EOF); }
void ah_proc_exit(ah_program *p, int status) { step_add(p, AH__PSTEP_EXIT)->value = status; }
void ah_proc_die(ah_program *p, int signum) { step_add(p, AH__PSTEP_DIE)->value = signum; }

void ah_proc_spawn_error(ah_sim *sim, const char *file, int err)
{
    ah_program *p = script_new(sim, file, AH__CALLER("ah_proc_spawn_error"));
    if (err >= 0)
        ah__fail(sim, "ah_proc_spawn_error: %d is not a UV_ error code", err);
    p->spawn_error = err;
}

void ah_proc_real_ms(ah_sim *sim, uint64_t ms) { ah__pstate_get(sim)->real_ms = ms; }

void ah_proc_exit_race(ah_sim *sim, int on) { ah__pstate_get(sim)->exit_race = on != 0; }

/* ---- the child's end of its pipes ---- */

static ah__pstdio *stdio_of(ah__proc *pr, int fd)
{
    return fd >= 0 && fd < pr->nstdio ? &pr->stdio[fd] : NULL;
}

/* What the parent wrote to the child's stdin is read by the child (recorded). */
static int stdin_take(ah__proc *pr, ah__pstdio *io, unsigned char **buf, size_t *len)
{
    ah__flow *f;
    size_t n;

    if (io->conn == NULL)
        return 1;
    f = &io->conn->flow[0];
    n = (size_t)(f->arr - f->rd);
    if (n > 0) {
        if (buf != NULL) {
            *buf = ah__realloc(*buf, *len + n + 1);
            memcpy(*buf + *len, f->buf + (f->rd - f->base), n);
            *len += n;
            (*buf)[*len] = '\0';
        }
        ah__flow_consume(f, n);
    }
    (void)pr;
    return f->fin_arrived || f->rst_arrived || io->conn->end[0].closed;
}

/* Bytes, EOF or a reset reached the child's end of one of its pipes. */
static void child_incoming(void *ctx)
{
    ah__proc *pr = ctx;
    ah__pstdio *io = stdio_of(pr, 0);
    ah__conn *c;

    if (pr->state == AH__PROC_RUNNING && pr->world != NULL) {
        ah__proc_world.stdio_arrived(pr); /* a member of the world reads it in its next turn */
        return;
    }
    if (pr->state != AH__PROC_RUNNING || io == NULL || (c = io->conn) == NULL)
        return;
    if (!pr->real) {
        int eof = stdin_take(pr, io, &io->out, &io->out_len);
        if (eof && pr->waiting_eof) {
            pr->waiting_eof = 0;
            pr->ev.flags = 0;
            ah__event_schedule(pr->loop, &pr->ev, pr->st->sim->clock.now_ns);
        }
    } else if (pr->stdin_gated) {
        ah__flow *f = &c->flow[0];
        if (f->fin_arrived || f->rst_arrived || c->end[0].closed) {
            pr->stdin_gated = 0;
            ah__event_schedule(pr->loop, &pr->ev, pr->st->sim->clock.now_ns);
        }
    }
}

static void child_writable(void *ctx) { (void)ctx; }
static int child_waiting(void *ctx) { return (void)ctx, 0; }
static uv_loop_t *child_loop(void *ctx) { return ((ah__proc *)ctx)->loop; }

/* The child's end of its pipes, as an end of a higher layer of the fake network. */
static const ah__end_ops child_end_ops = {child_incoming, child_writable, child_waiting,
                                          child_loop};

/* ---- exit and reaping ---- */

static void proc_exited(ah__proc *pr, int status, int signum)
{
    ah__pstate *st = pr->st;
    char note[320], pb[32];
    int i;

    if (pr->state != AH__PROC_RUNNING)
        return;
    ah__event_cancel(&pr->ev);
    for (i = 0; i < pr->nstdio; i++)
        if (pr->stdio[i].conn != NULL && !pr->stdio[i].conn->end[1].closed) {
            if (i == 0 && !pr->real) /* a script reads all its input */
                stdin_take(pr, &pr->stdio[0], &pr->stdio[0].out, &pr->stdio[0].out_len);
            ah__end_close(pr->stdio[i].conn, 1, 0);
        }
    pr->state = AH__PROC_EXITED;
    pr->exit_status = status;
    pr->term_signal = signum;
    pr->exit_ns = st->sim->clock.now_ns;
    ah__twait_wake(&st->exit_wq); /* a thread blocked in waitpid on it */
    if (signum != 0)
        snprintf(note, sizeof(note), "child %s (%s) killed by signal %d", pr->file,
                 pid_str(pr, pb, sizeof(pb)), signum);
    else
        snprintf(note, sizeof(note), "child %s (%s) exits %d", pr->file,
                 pid_str(pr, pb, sizeof(pb)), status);
    ah__trace_note(st->sim, "processes", note);
    /* The kernel closes the child's descriptors before it signals the parent: the parent's poll
     * that sees the pipes' EOF usually returns before SIGCHLD reaches the signal pipe, so the
     * signal is caught one poll later (proc_ev_fire). */
    if (st->exit_race && ah__choose(st->sim, 2, "SIGCHLD in the poll of the child's EOF") == 1) {
        /* the other order real life allows: the signal reaches the pipe before the poll */
        pr->chld_sent = 1;
        ah__sig_catch(st, SIGCHLD, "a child's exit", pr->site);
        return;
    }
    pr->ev.flags = 0;
    ah__event_schedule(pr->loop, &pr->ev, st->sim->clock.now_ns);
}

void ah__proc_exited(ah__proc *pr, int status, int signum) { proc_exited(pr, status, signum); }

void ah__proc_reap_loop(ah__ploop *pl)
{
    ah__list pending, *q, *next;
    ah__proc *pr;
    uv_process_t *h;

    ah__list_init(&pending);
    for (q = pl->procs.next; q != &pl->procs; q = next) {
        next = q->next;
        pr = ah__container_of(q, ah__proc, loop_link);
        if (pr->state != AH__PROC_EXITED)
            continue;
        ah__list_remove(&pr->loop_link);
        ah__list_insert_tail(&pending, &pr->loop_link);
        pr->state = AH__PROC_REAPED;
        pr->handle->status = pr->term_signal ? pr->term_signal : (pr->exit_status & 0xff) << 8;
    }
    while (!ah__list_empty(&pending)) {
        pr = ah__container_of(pending.next, ah__proc, loop_link);
        ah__list_remove(&pr->loop_link);
        h = pr->handle;
        ah__handle_stop((uv_handle_t *)h);
        if (h->exit_cb != NULL)
            AH__DISPATCH(pr->st->sim, h, "exit_cb",
                         h->exit_cb(h, pr->exit_status, pr->term_signal));
    }
}

/* ---- scripted children ---- */

static void script_run(ah__proc *pr)
{
    ah_program *p = pr->script;
    ah_sim *sim = pr->st->sim;
    ah__pstdio *io;
    ah__pstep *s;

    while (pr->state == AH__PROC_RUNNING && pr->step < p->n) {
        s = &p->steps[pr->step++];
        switch (s->kind) {
        case AH__PSTEP_WRITE:
            io = stdio_of(pr, s->fd);
            if (io != NULL && io->conn != NULL && !io->conn->end[1].closed)
                ah__flow_send(io->conn, 1, s->bytes, s->n);
            else if (io != NULL && io->fd >= 0 && io->conn == NULL && s->fd <= 2 &&
                     (io->flags & (UV_INHERIT_FD | UV_INHERIT_STREAM)) && io->fd <= 2)
                (void)!write(io->fd, s->bytes, s->n); /* a real descriptor it inherited */
            break;
        case AH__PSTEP_DELAY:
            pr->ev.flags = 0;
            ah__event_schedule(pr->loop, &pr->ev, sim->clock.now_ns + s->ms * AH__NS_PER_MS);
            return;
        case AH__PSTEP_WAIT_EOF:
            io = stdio_of(pr, 0);
            if (io != NULL && io->conn != NULL && !stdin_take(pr, io, &io->out, &io->out_len)) {
                pr->waiting_eof = 1;
                return;
            }
            break;
        case AH__PSTEP_EXIT:
            proc_exited(pr, s->value, 0);
            return;
        case AH__PSTEP_DIE:
            proc_exited(pr, 0, s->value);
            return;
        }
    }
    if (pr->state == AH__PROC_RUNNING)
        proc_exited(pr, 0, 0);
}

/* ---- real children ---- */

static uint64_t mono_ms(void)
{
    struct timespec ts;
    ah__real_clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void out_append(ah__pstdio *io, const void *b, size_t n)
{
    if (io->out_len + n + 1 > io->out_cap) {
        io->out_cap = (io->out_len + n + 1) * 2;
        io->out = ah__realloc(io->out, io->out_cap);
    }
    memcpy(io->out + io->out_len, b, n);
    io->out_len += n;
}

/* The child's input: bytes the parent wrote that arrived by now, then its EOF. Returns whether
 * the input is finished (EOF forwarded). Writes what the socket takes without blocking. */
static int feed_stdin(ah__proc *pr, ah__pstdio *io)
{
    ah__flow *f;
    ssize_t w;
    size_t n;

    if (io->conn == NULL || io->real_fd < 0 || !(io->flags & UV_READABLE_PIPE))
        return 1;
    if (io->real_wr_closed)
        return 1;
    f = &io->conn->flow[0];
    while ((n = (size_t)(f->arr - f->rd)) > 0) {
        w = libc.send(io->real_fd, f->buf + (f->rd - f->base), n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w <= 0)
            break;
        if (io == &pr->stdio[0] && !(io->flags & UV_WRITABLE_PIPE)) {
            /* the record of what the child read (ah_proc_stdin_of) */
            out_append(io, f->buf + (f->rd - f->base), (size_t)w);
            io->out[io->out_len] = '\0';
        }
        ah__flow_consume(f, (size_t)w);
    }
    if (f->arr == f->rd && (f->fin_arrived || f->rst_arrived || io->conn->end[0].closed)) {
        libc.shutdown(io->real_fd, SHUT_WR);
        io->real_wr_closed = 1;
        return 1;
    }
    return 0;
}

/* Waits in real time for the real child to exit, feeding and draining its pipes. Returns 1 when it
 * exited, 0 when `limit_ms` of real time passed. */
static int real_wait(ah__proc *pr, uint64_t limit_ms)
{
    uint64_t start = mono_ms();
    struct pollfd pf[16];
    int idx[16], np, i, status, r;
    unsigned char buf[65536];
    ssize_t n;

    for (;;) {
        np = 0;
        for (i = 0; i < pr->nstdio && np < 16; i++) {
            ah__pstdio *io = &pr->stdio[i];
            if (io->real_fd < 0)
                continue;
            short ev = 0;
            if ((io->flags & UV_WRITABLE_PIPE) && !io->out_eof)
                ev |= POLLIN;
            if ((io->flags & UV_READABLE_PIPE) && !feed_stdin(pr, io))
                ev |= POLLOUT;
            if (ev == 0)
                continue;
            pf[np].fd = io->real_fd;
            pf[np].events = ev;
            pf[np].revents = 0;
            idx[np++] = i;
        }
        if (!pr->real_reaped) {
            r = ah__real_waitpid(pr->real_pid, &status, WNOHANG);
            if (r == pr->real_pid) {
                pr->real_reaped = 1;
                pr->real_status = status;
            }
        }
        /* Done once it exited and its outputs reached EOF (or nothing more comes at once:
         * a grandchild may hold them open). */
        if (pr->real_reaped) {
            int more = 0;
            for (i = 0; i < np; i++)
                if (pf[i].events & POLLIN)
                    more = 1;
            if (!more)
                return 1;
        }
        if (mono_ms() - start >= limit_ms && !pr->real_reaped)
            return 0;
        r = libc.poll(pf, (nfds_t)np, pr->real_reaped ? 50 : 10);
        if (r == 0 && pr->real_reaped)
            return 1;
        for (i = 0; i < np; i++) {
            ah__pstdio *io = &pr->stdio[idx[i]];
            if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                n = libc.recv(io->real_fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n > 0)
                    out_append(io, buf, (size_t)n);
                else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                    io->out_eof = 1;
            }
        }
    }
}

static void real_reap(ah__proc *pr)
{
    ah__pstate *st = pr->st;
    int has_input = 0, i;
    char note[320];

    for (i = 0; i < pr->nstdio; i++) {
        ah__pstdio *io = &pr->stdio[i];
        if (io->conn != NULL && (io->flags & UV_READABLE_PIPE) && !feed_stdin(pr, io))
            has_input = 1;
    }
    if (!real_wait(pr, st->grace_ms)) {
        pr->real_waited_ms += st->grace_ms;
        if (has_input) {
            /* It may wait for its input: it is looked at again when the parent closes it. */
            pr->stdin_gated = 1;
            snprintf(note, sizeof(note), "real child %s (pid %d) waits for its stdin to close",
                     pr->file, pr->pid);
            ah__trace_note(st->sim, "processes", note);
            return;
        }
        if (pr->real_waited_ms >= st->real_timeout_ms)
            ah__fail(st->sim,
                     "the real program %s (pid %d, spawned in %s at +%llu ms) still runs after "
                     "%llu ms of real time (virtual +%llu ms); a long-running program is better "
                     "scripted (ah_proc_script), or killed by the test",
                     pr->file, pr->pid, ah__site_str(&pr->site, note, sizeof(note)),
                     (unsigned long long)ah__rel_ms(st->sim, pr->spawn_ns),
                     (unsigned long long)pr->real_waited_ms,
                     (unsigned long long)ah_now_ms(st->sim));
        /* Still running: looked at again every AH__REAL_CHECK_MS of virtual time, and at once
         * when the parent signals it. */
        pr->ev.flags = AH__EV_SILENT;
        ah__event_schedule(pr->loop, &pr->ev,
                           st->sim->clock.now_ns + AH__REAL_CHECK_MS * AH__NS_PER_MS);
        return;
    }
    for (i = 0; i < pr->nstdio; i++) {
        ah__pstdio *io = &pr->stdio[i];
        if (io->conn != NULL && io->out_len > 0 && (io->flags & UV_WRITABLE_PIPE) &&
            !io->conn->end[1].closed)
            ah__flow_send(io->conn, 1, io->out, io->out_len);
        if (io->flags & UV_WRITABLE_PIPE)
            io->out_len = 0;
        if (io->real_fd >= 0) {
            libc.close(io->real_fd);
            io->real_fd = -1;
        }
    }
    if (WIFSIGNALED(pr->real_status))
        proc_exited(pr, 0, WTERMSIG(pr->real_status));
    else
        proc_exited(pr, WIFEXITED(pr->real_status) ? WEXITSTATUS(pr->real_status) : 0, 0);
}

static void proc_ev_fire(ah__event *ev)
{
    ah__proc *pr = ah__container_of(ev, ah__proc, ev);

    if (pr->state == AH__PROC_EXITED && !pr->chld_sent) {
        pr->chld_sent = 1;
        ah__sig_catch(pr->st, SIGCHLD, "a child's exit", pr->site);
        return;
    }
    if (pr->state != AH__PROC_RUNNING || pr->world != NULL)
        return;
    if (pr->real)
        real_reap(pr);
    else
        script_run(pr);
}

/* In the forked child only system calls: another room's interposed libc descriptor calls (close,
 * dup2, fcntl, write) must not run between fork and exec. */
static void child_fail(int fd, int err)
{
    (void)!syscall(SYS_write, fd, &err, sizeof(err));
    _exit(127);
}

static int child_fcntl(int fd, int cmd, long arg) { return (int)syscall(SYS_fcntl, fd, cmd, arg); }

/* fork and exec, as libuv's uv__spawn_and_init_child_fork / uv__process_child_init do it: the
 * parent learns an exec failure through a close-on-exec pipe. `fds[i]` is what the child gets as
 * descriptor i (-1: /dev/null for 0..2, nothing above). Returns 0 or a UV_ error. */
static int real_spawn(const uv_process_options_t *o, int *fds, int n, int wfd, int *pid_out)
{
    int ep[2], err = 0, i, fd, status;
    sigset_t all, old;
    ssize_t r;
    pid_t pid;

    libc_resolve();
    if (libc.pipe2(ep, O_CLOEXEC) != 0) /* a real pipe: the sim's would be a fake one */
        return -errno;
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGABRT);
    sigdelset(&all, SIGTRAP);
    sigdelset(&all, SIGSYS);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pid = ah__real_fork();
    if (pid == 0) {
        sigset_t none;
        for (i = 1; i < 32; i++)
            if (i != SIGKILL && i != SIGSTOP)
                signal(i, SIG_DFL);
        if (o->flags & UV_PROCESS_DETACHED)
            setsid();
        /* Move low sources out of the way first, so that swapping 1 and 2 works. */
        for (i = 0; i < n; i++)
            if (fds[i] >= 0 && fds[i] < i) {
                fds[i] = child_fcntl(fds[i], F_DUPFD_CLOEXEC, n);
                if (fds[i] < 0)
                    child_fail(ep[1], -errno);
            }
        for (i = 0; i < n; i++) {
            fd = fds[i];
            if (fd < 0) {
                if (i > 2)
                    continue;
                syscall(SYS_close, i);
                fd = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", i == 0 ? O_RDONLY : O_RDWR);
                if (fd < 0)
                    child_fail(ep[1], -errno);
                if (fd != i) {
                    syscall(SYS_dup3, fd, i, 0);
                    syscall(SYS_close, fd);
                }
                continue;
            }
            if (fd == i) {
                int fl = child_fcntl(fd, F_GETFD, 0);
                child_fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
            } else if (syscall(SYS_dup3, fd, i, 0) < 0) {
                child_fail(ep[1], -errno);
            }
            if (i <= 2) {
                int fl = child_fcntl(i, F_GETFL, 0);
                child_fcntl(i, F_SETFL, fl & ~O_NONBLOCK);
            }
        }
        if (wfd >= 0) /* the world's descriptor (world/), named in the environment */
            child_fcntl(wfd, F_SETFD, 0);
        if (o->cwd != NULL && chdir(o->cwd) != 0)
            child_fail(ep[1], -errno);
        if (o->flags & (UV_PROCESS_SETUID | UV_PROCESS_SETGID))
            (void)!setgroups(0, NULL);
        if ((o->flags & UV_PROCESS_SETGID) && setgid(o->gid) != 0)
            child_fail(ep[1], -errno);
        if ((o->flags & UV_PROCESS_SETUID) && setuid(o->uid) != 0)
            child_fail(ep[1], -errno);
        if (o->env != NULL)
            environ = o->env;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execvp(o->file, o->args);
        child_fail(ep[1], -errno);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    libc.close(ep[1]);
    if (pid < 0) {
        err = -errno;
        libc.close(ep[0]);
        return err;
    }
    do
        r = libc.read(ep[0], &err, sizeof(err));
    while (r < 0 && errno == EINTR);
    libc.close(ep[0]);
    if (r == 0) {
        *pid_out = pid;
        return 0;
    }
    while (ah__real_waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return r == sizeof(err) ? err : UV_EPIPE;
}

/* ---- uv_spawn ---- */

static ah__proc *proc_new(ah__pstate *st, uv_loop_t *loop, uv_process_t *h,
                          const uv_process_options_t *o, ah__site site)
{
    ah__proc *pr = ah__calloc(1, sizeof(*pr));
    int i, n = o->stdio_count < 3 ? 3 : o->stdio_count;

    pr->st = st;
    pr->handle = h;
    pr->loop = loop;
    snprintf(pr->file, sizeof(pr->file), "%s", o->file);
    pr->site = site;
    pr->spawn_ns = st->sim->clock.now_ns;
    pr->detached = (o->flags & UV_PROCESS_DETACHED) != 0;
    pr->nstdio = n;
    pr->stdio = ah__calloc((size_t)n, sizeof(*pr->stdio));
    for (i = 0; i < n; i++) {
        pr->stdio[i].fd = -1;
        pr->stdio[i].real_fd = -1;
    }
    pr->ev.fire = proc_ev_fire;
    pr->ev.what = "child process";
    pr->ev.site = site;
    pr->ev.owner = h;
    ah__list_init(&pr->loop_link);
    ah__list_insert_tail(&st->procs, &pr->link);
    return pr;
}

/* ---- children started outside libuv (posix_spawn: world/) ---- */

ah__proc *ah__proc_bare_new(ah_sim *sim, const char *file, ah__site site)
{
    ah__pstate *st = ah__pstate_get(sim);
    uv_process_options_t o;
    ah__proc *pr;

    memset(&o, 0, sizeof(o));
    o.file = file;
    /* libuv knows nothing of it: its exit is only a SIGCHLD, on the loop that runs now */
    pr = proc_new(st, sim->current_hrec != NULL ? sim->current_hrec->loop : ah_sim_loop(sim), NULL,
                  &o, site);
    pr->bare = 1;
    pr->ev.what = "a child started with posix_spawn";
    return pr;
}

void ah__proc_bare_drop(ah__proc *pr)
{
    ah__list_remove(&pr->link);
    if (ah__event_scheduled(&pr->ev))
        ah__event_cancel(&pr->ev);
    ah__free(pr->stdio);
    ah__free(pr);
}

void ah__proc_bare_started(ah__proc *pr, int real_pid)
{
    char note[320], pb[32];

    pr->real = 1;
    pr->real_pid = real_pid;
    pr->pid = real_pid;
    snprintf(note, sizeof(note), "posix_spawn %s (%s)", pr->file, pid_str(pr, pb, sizeof(pb)));
    ah__trace_note(pr->st->sim, "processes", note);
}

const char *ah__proc_wait_name;

/* A blocking waitpid on processes of the world (docs/world.md, "The owner's blocking waits"):
 * the world runs until one that `pid` names has exited. The test's thread runs the sim, as a
 * blocking call on a fake descriptor does; another simulated thread (libuv's runner waits in one)
 * sleeps until a child's exit wakes it, while the others run. */
typedef struct bare_waiting {
    ah__pstate *st;
    int pid;
} bare_waiting;

static int bare_exited(void *ctx)
{
    bare_waiting *w = ctx;
    ah__list *q;

    for (q = w->st->procs.next; q != &w->st->procs; q = q->next) {
        ah__proc *pr = ah__container_of(q, ah__proc, link);
        if (pr->bare && pr->state != AH__PROC_REAPED && (w->pid == -1 || pr->pid == w->pid) &&
            (pr->state == AH__PROC_EXITED || pr->world == NULL))
            return 1;
    }
    return 0;
}

static void bare_wait_blocking(ah__pstate *st, int pid, ah__proc *running, ah__site site)
{
    bare_waiting w = {st, pid};
    char verb[400], b[160];

    snprintf(verb, sizeof(verb), "%s(%d) in %s waits for %s (pid %d), a process of this world",
             ah__proc_wait_name != NULL ? ah__proc_wait_name : "waitpid", pid,
             ah__site_str(&site, b, sizeof(b)), running->file, running->pid);
    if (ah__proc_world.hold != NULL)
        ah__proc_world.hold(st->sim, 1);
    if (ah__twait_off_main(st->sim))
        while (!bare_exited(&w))
            ah__twait(st->sim, &st->exit_wq, verb, site, UINT64_MAX);
    else
        ah__run_until_pred(st->sim, verb, bare_exited, &w);
    if (ah__proc_world.hold != NULL)
        ah__proc_world.hold(st->sim, 0);
}

int ah__proc_bare_wait(ah__pstate *st, int pid, int *status, int options, ah__site site)
{
    ah__list *q;
    ah__proc *pr, *found = NULL, *running = NULL;
    char b[160];

    if (pid < -1 || pid == 0)
        return -2;
    for (q = st->procs.next; q != &st->procs; q = q->next) {
        pr = ah__container_of(q, ah__proc, link);
        if (!pr->bare || pr->state == AH__PROC_REAPED || (pid != -1 && pr->pid != pid))
            continue;
        if (pr->state == AH__PROC_EXITED) {
            found = pr;
            break;
        }
        if (running == NULL)
            running = pr;
    }
    if (found != NULL) {
        found->state = AH__PROC_REAPED;
        if (status != NULL)
            *status = found->term_signal ? found->term_signal : (found->exit_status & 0xff) << 8;
        return found->pid;
    }
    if (running == NULL)
        return -2;
    if (options & WNOHANG)
        return 0;
    if (running->world == NULL)
        return -2; /* a real child that did not join: the C library waits for it */
    if (!ah__twait_off_main(st->sim) && (st->sim->in_callback > 0 || st->sim->in_verb))
        ah__fail(st->sim,
                 "%s(%d) in %s, inside a loop callback, blocks on %s (pid %d), a process of "
                 "this world that is still running: the world cannot run while a callback runs, "
                 "so this wait would never end; wait for its SIGCHLD (a uv_signal_t) and then "
                 "call waitpid with WNOHANG (docs/world.md)",
                 ah__proc_wait_name != NULL ? ah__proc_wait_name : "waitpid", pid,
                 ah__site_str(&site, b, sizeof(b)), running->file, running->pid);
    bare_wait_blocking(st, pid, running, site);
    return ah__proc_bare_wait(st, pid, status, options, site);
}

pid_t ah__real_waitpid(pid_t pid, int *status, int options)
{
    static pid_t (*real)(pid_t, int *, int);

    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "waitpid");
    return real(pid, status, options);
}

/* waitpid: a child started with posix_spawn that joined the world (world/) is collected here,
 * at the virtual instant of its exit; any other child is the C library's. */
AH__LIBC(waitpid, 12, AH__LIBC_SIGNAL);
pid_t waitpid(pid_t pid, int *status, int options)
{
    ah_sim *sim = ah_sim_current();
    ah__pstate *st;
    ah__site site;
    int r;

    if (sim == NULL)
        return ah__real_waitpid(pid, status, options);
    site = AH__CALLER("waitpid");
    /* a forked child that may still exec a harness-linked program: whether it joins first */
    if (!(options & WNOHANG) && ah__proc_world.fork_settle != NULL)
        ah__proc_world.fork_settle(sim, pid, site);
    if ((st = ah__pstate_find(sim)) != NULL &&
        (r = ah__proc_bare_wait(st, pid, status, options, site)) != -2)
        return r;
    return ah__real_waitpid(pid, status, options);
}

/* Opens the parent's ends of the UV_CREATE_PIPE streams (also after an exec failure, as libuv). */
static void open_pipes(ah__proc *pr, const uv_process_options_t *o)
{
    char label[AH__ADDR_MAX];
    int i;

    for (i = 0; i < o->stdio_count; i++) {
        const uv_stdio_container_t *c = &o->stdio[i];
        ah__pstdio *io = &pr->stdio[i];
        if (!(c->flags & UV_CREATE_PIPE))
            continue;
        snprintf(label, sizeof(label), "<%.40s fd %d>", base_of(pr->file), i);
        io->conn =
            ah__pipe_open_pair((uv_pipe_t *)c->data.stream, (c->flags & UV_WRITABLE_PIPE) != 0,
                               (c->flags & UV_READABLE_PIPE) != 0, label);
        if (io->conn == NULL)
            continue;
        io->conn->end[1].ops = &child_end_ops;
        io->conn->end[1].ctx = pr;
        if (pr->state != AH__PROC_RUNNING || pr->pid == 0)
            ah__end_close(io->conn, 1, 0); /* no child holds the other end */
    }
}

int uv_spawn(uv_loop_t *loop, uv_process_t *process, const uv_process_options_t *o)
{
    ah__site site = AH__CALLER("uv_spawn");
    ah_sim *sim = ah__loop_sim(loop, "uv_spawn");
    ah__pstate *st = ah__pstate_get(sim);
    ah__ploop *pl;
    ah_program *script;
    ah__proc *pr;
    int known = UV_PROCESS_DETACHED | UV_PROCESS_SETGID | UV_PROCESS_SETUID |
                UV_PROCESS_WINDOWS_HIDE | UV_PROCESS_WINDOWS_HIDE_CONSOLE |
                UV_PROCESS_WINDOWS_HIDE_GUI | UV_PROCESS_WINDOWS_VERBATIM_ARGUMENTS;
    int i, err = 0, real_fds[64], n;
    int child_fds[64];
    char note[320], pb[32];

    libc_resolve();
    if (process == NULL || o == NULL || o->file == NULL)
        ah__fail(sim, "uv_spawn: called with a NULL %s (libuv asserts on this)",
                 process == NULL ? "process"
                 : o == NULL     ? "options"
                                 : "options.file");
    if (o->flags & ~(unsigned)known)
        ah__fail(sim, "uv_spawn: unknown flags 0x%x (libuv asserts on this)",
                 o->flags & ~(unsigned)known);
    if (o->stdio_count > 64)
        ah__fail(sim, "uv_spawn: more than 64 stdio entries are not simulated");
    ah__handle_init(loop, (uv_handle_t *)process, UV_PROCESS, site);
    process->status = 0;
    process->pid = 0;
    process->exit_cb = NULL;
    ((ah__hrec *)process->u.reserved[0])->start_site = site;

    /* uv__process_init_stdio: errors before anything runs */
    for (i = 0; i < o->stdio_count; i++) {
        const uv_stdio_container_t *c = &o->stdio[i];
        int kind = c->flags & (UV_IGNORE | UV_CREATE_PIPE | UV_INHERIT_FD | UV_INHERIT_STREAM);
        if (kind == UV_CREATE_PIPE) {
            if (c->data.stream == NULL)
                ah__fail(sim, "uv_spawn: stdio[%d] is UV_CREATE_PIPE with a NULL stream", i);
            if (c->data.stream->type != UV_NAMED_PIPE)
                return UV_EINVAL;
            ah__handle_rec((uv_handle_t *)c->data.stream, "uv_spawn");
        } else if (kind == UV_INHERIT_FD) {
            if (c->data.fd == -1)
                return UV_EINVAL;
        } else if (kind == UV_INHERIT_STREAM) {
            if (c->data.stream == NULL || c->data.stream->io_watcher.fd == -1)
                return UV_EINVAL;
        } else if (kind != UV_IGNORE) {
            ah__fail(sim, "uv_spawn: stdio[%d] has unexpected flags 0x%x (libuv asserts)", i,
                     c->flags);
        }
    }
    pl = ah__ploop_get(st, loop);
    pl->child_watch = 1; /* uv_signal_start(&loop->child_watcher, ...) before the spawn */
    pr = proc_new(st, loop, process, o, site);
    for (i = 0; i < o->stdio_count; i++) {
        const uv_stdio_container_t *c = &o->stdio[i];
        pr->stdio[i].flags = c->flags;
        if (c->flags & UV_INHERIT_FD)
            pr->stdio[i].fd = c->data.fd;
        else if (c->flags & UV_INHERIT_STREAM)
            pr->stdio[i].fd = c->data.stream->io_watcher.fd;
    }

    script = script_find(st, o->file);
    if (script != NULL) {
        script->spawns++;
        if (script->spawn_error != 0) {
            err = script->spawn_error;
        } else {
            pr->script = script;
            pr->pid = AH__FAKE_PID_BASE + ++st->next_fake_pid;
        }
    } else {
        /* A real program: a socketpair per UV_CREATE_PIPE, as libuv. */
        n = pr->nstdio;
        for (i = 0; i < n; i++) {
            real_fds[i] = -1;
            child_fds[i] = -1;
        }
        for (i = 0; i < o->stdio_count && err == 0; i++) {
            const uv_stdio_container_t *c = &o->stdio[i];
            int sp[2];
            if (c->flags & UV_CREATE_PIPE) {
                if (libc.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
                    err = -errno;
                    break;
                }
                real_fds[i] = sp[0];
                child_fds[i] = sp[1];
            } else if (c->flags & UV_INHERIT_STREAM) {
                if (c->data.stream->type != UV_TTY)
                    ah__fail(sim,
                             "uv_spawn of the real program %s in %s: stdio[%d] inherits a stream "
                             "of the fake network, which a real process cannot use; script the "
                             "program (ah_proc_script)",
                             o->file, ah__site_str(&site, note, sizeof(note)), i);
                child_fds[i] = c->data.stream->io_watcher.fd;
            } else if (c->flags & UV_INHERIT_FD) {
                /* A fake pipe or socketpair both of whose ends are plain descriptors becomes
                 * the kernel's, as at a fork (decision 131); other fake objects cannot. */
                if (ah__fd_is_fake(c->data.fd) && !ah__fd_materialize_fd(sim, c->data.fd))
                    ah__fail(sim,
                             "uv_spawn of the real program %s in %s: stdio[%d] inherits "
                             "descriptor %d, a fake kernel object of the sim that cannot be made "
                             "the kernel's (an eventfd, a timerfd, a socket of the fake network, "
                             "an end a uv handle adopted, or one with duplicates), which a real "
                             "process cannot inherit: it has no kernel object behind it "
                             "(docs/decisions.md); script the program (ah_proc_script), give it "
                             "UV_CREATE_PIPE, or make the object real (ah_fd_passthrough)",
                             o->file, ah__site_str(&site, note, sizeof(note)), i, c->data.fd);
                child_fds[i] = c->data.fd;
            }
        }
        if (err == 0) {
            /* A harness-linked program joins the parent's world (world/). */
            uv_process_options_t wo = *o;
            char **wenv = NULL;
            int wfd = ah__proc_world.prepare != NULL ? ah__proc_world.prepare(pr, o, &wenv) : -1;
            if (wfd >= 0)
                wo.env = wenv;
            err = real_spawn(&wo, child_fds, n, wfd, &pr->real_pid);
            if (wfd >= 0)
                ah__proc_world.started(pr, err == 0);
        }
        for (i = 0; i < o->stdio_count; i++)
            if (o->stdio[i].flags & UV_CREATE_PIPE && child_fds[i] >= 0)
                libc.close(child_fds[i]);
        for (i = 0; i < n; i++) {
            if (err == 0)
                pr->stdio[i].real_fd = real_fds[i];
            else if (real_fds[i] >= 0)
                libc.close(real_fds[i]);
        }
        if (err == 0) {
            pr->real = 1;
            pr->pid = pr->real_pid;
        }
    }
    if (err != 0) {
        pr->state = AH__PROC_REAPED; /* never ran */
        snprintf(note, sizeof(note), "uv_spawn %s fails: %s", o->file, uv_err_name(err));
        ah__trace_note(sim, "processes", note);
        open_pipes(pr, o);
        return err;
    }
    process->pid = pr->pid;
    process->exit_cb = o->exit_cb;
    ah__list_insert_tail(&pl->procs, &pr->loop_link);
    ah__handle_start((uv_handle_t *)process);
    snprintf(note, sizeof(note), "uv_spawn %s (%s%s)", o->file, pid_str(pr, pb, sizeof(pb)),
             pr->real ? ", real" : ", scripted");
    ah__trace_note(sim, "processes", note);
    open_pipes(pr, o);
    pr->ev.flags = pr->real ? AH__EV_SILENT : 0; /* the kernel wakes no poll for a look */
    ah__event_schedule(loop, &pr->ev,
                       sim->clock.now_ns + (pr->real ? st->real_ms * AH__NS_PER_MS : 0));
    return 0;
}

int uv_process_kill(uv_process_t *process, int signum)
{
    ah__site site = AH__CALLER("uv_process_kill");
    ah__hrec *r = ah__handle_rec((uv_handle_t *)process, "uv_process_kill");
    char b[320];

    (void)site;
    if (process->type != UV_PROCESS)
        ah__fail(ah__sim(), "uv_process_kill on %s, which is not a uv_process_t",
                 ah__handle_str(r, b, sizeof(b)));
    return uv_kill(process->pid, signum);
}

uv_pid_t uv_process_get_pid(const uv_process_t *process) { return process->pid; }

static int default_ignores(int signum)
{
    return signum == SIGCHLD || signum == SIGCONT || signum == SIGURG || signum == SIGWINCH;
}

int ah__proc_signal(ah__pstate *st, int pid, int signum)
{
    ah__list *q;
    ah__proc *pr = NULL;
    char note[320], pb[32];

    for (q = st->procs.prev; q != &st->procs; q = q->prev) {
        ah__proc *c = ah__container_of(q, ah__proc, link);
        if (c->pid == pid && c->pid != 0) {
            pr = c;
            break;
        }
    }
    if (pr == NULL)
        return 1;
    if (pr->state == AH__PROC_REAPED)
        return UV_ESRCH;
    if (pr->state == AH__PROC_EXITED || signum == 0)
        return 0; /* a zombie takes signals and ignores them */
    snprintf(note, sizeof(note), "signal %d to child %s (%s)", signum, pr->file,
             pid_str(pr, pb, sizeof(pb)));
    ah__trace_note(st->sim, "processes", note);
    if (pr->world != NULL)
        return ah__proc_world.signal(pr, signum);
    if (pr->real) {
        if (!pr->real_reaped && ah__real_kill(pr->real_pid, signum) != 0)
            return -errno;
        /* Its exit (if the signal ends it) is observed now. */
        pr->stdin_gated = 0;
        ah__event_schedule(pr->loop, &pr->ev, st->sim->clock.now_ns);
        return 0;
    }
    if (default_ignores(signum) || signum == SIGSTOP || signum == SIGTSTP || signum == SIGTTIN ||
        signum == SIGTTOU)
        return 0;
    proc_exited(pr, 0, signum);
    return 0;
}

/* ---- close, reports, cleanup ---- */

void ah__proc_close(uv_handle_t *h)
{
    ah__pstate *st = ah__pstate_get(ah__lp(h->loop)->sim);
    ah__ploop *pl = ah__ploop_get(st, h->loop);
    ah__list *q;

    for (q = st->procs.next; q != &st->procs; q = q->next) {
        ah__proc *pr = ah__container_of(q, ah__proc, link);
        if (pr->handle == (uv_process_t *)h) {
            ah__list_remove(&pr->loop_link);
            pr->handle = NULL;
        }
    }
    ah__handle_stop(h);
    if (ah__list_empty(&pl->procs))
        pl->child_watch = 0;
}

static const char *proc_str(ah__proc *pr, char *buf, size_t n)
{
    char s[160];
    snprintf(buf, n, "child %s (pid %d, %s) spawned in %s at +%llu ms", pr->file, pr->pid,
             pr->world != NULL ? "a process of this world"
             : pr->real        ? "real"
                               : "scripted",
             ah__site_str(&pr->site, s, sizeof(s)),
             (unsigned long long)ah__rel_ms(pr->st->sim, pr->spawn_ns));
    return buf;
}

void ah__proc_check(ah__pstate *st, ah__buf *b)
{
    ah__list *q;
    char s[400], w[160];

    for (q = st->procs.next; q != &st->procs; q = q->next) {
        ah__proc *pr = ah__container_of(q, ah__proc, link);
        if (pr->handle != NULL || pr->detached || pr->state == AH__PROC_REAPED)
            continue;
        if (pr->bare)
            ah__buf_printf(b,
                           "  - %s, started with posix_spawn, %s: nobody collected it with "
                           "waitpid\n",
                           proc_str(pr, s, sizeof(s)),
                           pr->state == AH__PROC_EXITED ? "exited" : "is still running");
        else if (pr->state == AH__PROC_EXITED)
            ah__buf_printf(b,
                           "  - %s exited at +%llu ms but was never reaped: its uv_process_t was "
                           "closed before its exit callback (libuv leaves a zombie and the exit "
                           "status is lost)\n",
                           proc_str(pr, s, sizeof(s)),
                           (unsigned long long)ah__rel_ms(st->sim, pr->exit_ns));
        else
            ah__buf_printf(b,
                           "  - %s is still running, and its uv_process_t was closed: nobody "
                           "will reap it (kill it and wait for exit_cb before closing)\n",
                           proc_str(pr, s, sizeof(s)));
    }
    for (q = st->scripts.next; q != &st->scripts; q = q->next) {
        ah_program *p = ah__container_of(q, ah_program, link);
        if (p->spawns == 0)
            ah__buf_printf(b, "  - scripted program %s (%s in %s) was never spawned\n", p->file,
                           p->spawn_error ? "ah_proc_spawn_error" : "ah_proc_script",
                           ah__site_str(&p->site, w, sizeof(w)));
    }
}

static void describe_running(ah__proc *pr, ah__buf *b, const char *prefix)
{
    char s[400];

    ah__buf_printf(b, "%s%s is running", prefix, proc_str(pr, s, sizeof(s)));
    if (pr->world != NULL)
        ah__proc_world.describe(pr, b);
    else if (pr->waiting_eof || pr->stdin_gated)
        ah__buf_printf(b, ", waiting for EOF on its stdin, which the parent never closes");
    else if (ah__event_scheduled(&pr->ev))
        ah__buf_printf(b, ", its next step due at +%llu ms",
                       (unsigned long long)ah__rel_ms(pr->st->sim, pr->ev.node.due));
    ah__buf_printf(b, "\n");
}

void ah__proc_ops(ah__pstate *st, ah__buf *b, unsigned *n)
{
    ah__list *q;

    for (q = st->procs.next; q != &st->procs; q = q->next) {
        ah__proc *pr = ah__container_of(q, ah__proc, link);
        if (pr->state == AH__PROC_RUNNING && pr->handle != NULL &&
            (pr->waiting_eof || pr->stdin_gated)) {
            describe_running(pr, b, "    - ");
            (*n)++;
        }
    }
}

void ah__proc_pending(ah__pstate *st, ah__buf *b)
{
    ah__list *q;

    for (q = st->procs.next; q != &st->procs; q = q->next) {
        ah__proc *pr = ah__container_of(q, ah__proc, link);
        if (pr->state == AH__PROC_RUNNING)
            describe_running(pr, b, "  - ");
    }
}

const char *ah_proc_stdin_of(ah_sim *sim, const char *file, size_t *n)
{
    ah__pstate *st = ah__pstate_get(sim);
    ah__list *q;

    for (q = st->procs.prev; q != &st->procs; q = q->prev) {
        ah__proc *pr = ah__container_of(q, ah__proc, link);
        if (strcmp(pr->file, file) == 0 || strcmp(base_of(pr->file), file) == 0) {
            ah__pstdio *io = &pr->stdio[0];
            if (!pr->real && io->conn != NULL && pr->state == AH__PROC_RUNNING)
                stdin_take(pr, io, &io->out, &io->out_len);
            if (n != NULL)
                *n = io->out_len;
            return io->out != NULL ? (const char *)io->out : "";
        }
    }
    if (n != NULL)
        *n = 0;
    return "";
}

void ah__proc_free_all(ah__pstate *st)
{
    ah__list *q;
    int i, status;

    while (!ah__list_empty(&st->procs)) {
        q = st->procs.next;
        ah__proc *pr = ah__container_of(q, ah__proc, link);
        ah__list_remove(q);
        if (ah__event_scheduled(&pr->ev))
            ah__event_cancel(&pr->ev);
        if (pr->world != NULL)
            ah__proc_world.gone(pr);
        if (pr->real && !pr->real_reaped && !pr->detached) {
            /* A real child the test left behind: the harness kills and reaps it. */
            ah__real_kill(pr->real_pid, SIGKILL);
            while (ah__real_waitpid(pr->real_pid, &status, 0) < 0 && errno == EINTR)
                ;
        }
        for (i = 0; i < pr->nstdio; i++) {
            if (pr->stdio[i].real_fd >= 0)
                libc.close(pr->stdio[i].real_fd);
            ah__free(pr->stdio[i].out);
        }
        ah__free(pr->stdio);
        ah__free(pr);
    }
    while (!ah__list_empty(&st->scripts)) {
        q = st->scripts.next;
        ah_program *p = ah__container_of(q, ah_program, link);
        size_t k;
        ah__list_remove(q);
        for (k = 0; k < p->n; k++)
            ah__free(p->steps[k].bytes);
        ah__free(p->steps);
        ah__free(p->file);
        ah__free(p);
    }
}
