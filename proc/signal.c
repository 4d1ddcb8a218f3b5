/* Signals in the sim: uv_signal_*, uv_kill and the interposed kill(2)/raise(3) aimed at the own
 * process, SIGCHLD of the sim's children, and ah_signal_raise. As libuv 1.44's src/unix/signal.c:
 * a caught signal writes one message per watching handle into that handle's loop's signal pipe,
 * ordered by (signal, oneshot handles after the others, loop, handle); the loop reads the pipe
 * after every other I/O of the poll and runs the callback of each message whose handle still
 * watches that signal; a oneshot handle stops at its first message, and when only oneshot handles
 * watch a signal the handler is installed with SA_RESETHAND, so a second signal before a handle
 * re-registers it takes the default action. libuv compares loop and handle addresses; the sim
 * compares their creation order instead (docs/signals.md). No real handler is installed unless
 * the test asked for passthrough (ah_signal_passthrough). */
#define _GNU_SOURCE 1
#include "internal_proc.h"

#include "../fd/internal_fd.h"
#include "../fd/interrupt.h"
#include "../threads/wait.h"

#include <dlfcn.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Reached from proc/interpose.c, so that this file is linked (see there). */
const char ah__proc_interposer_signal = 0;

static int (*real_kill_fn)(pid_t, int);
static int (*real_raise_fn)(int);

int ah__real_kill(pid_t pid, int sig)
{
    if (real_kill_fn == NULL)
        real_kill_fn = (int (*)(pid_t, int))dlsym(RTLD_NEXT, "kill");
    return real_kill_fn(pid, sig);
}

static int real_raise(int sig)
{
    if (real_raise_fn == NULL)
        real_raise_fn = (int (*)(int))dlsym(RTLD_NEXT, "raise");
    return real_raise_fn(sig);
}

/* Real signals caught for passthrough, noticed at the next poll end. */
static volatile sig_atomic_t real_caught[AH__NSIG];
static volatile sig_atomic_t real_caught_any;

/* A forked child's uv_signal_t can only be reached by a real signal (from its parent): the real
 * handler also writes a byte into this pipe, which fd/real.c waits on when nothing simulated is
 * left, as on a real descriptor (decision 128). Made in the child at the fork, never closed: the
 * child ends with its test. */
static int wake_pipe[2] = {-1, -1};
static ssize_t (*wake_write)(int, const void *, size_t);

static void real_handler(int signum)
{
    int e = errno;

    if (signum > 0 && signum < AH__NSIG) {
        real_caught[signum] = 1;
        real_caught_any = 1;
    }
    if (wake_pipe[1] >= 0)
        (void)wake_write(wake_pipe[1], "s", 1);
    errno = e;
}

/* What sigaction(2) refuses: libuv returns its error as UV_EINVAL. glibc reserves 32 and 33. */
static int signum_valid(int signum)
{
    return signum > 0 && signum < AH__NSIG && signum != SIGKILL && signum != SIGSTOP &&
           signum != 32 && signum != 33;
}

static ah__list *sig_node(uv_signal_t *h) { return (ah__list *)(void *)&h->tree_entry; }
static uv_signal_t *node_sig(ah__list *q)
{
    return (uv_signal_t *)((char *)q - offsetof(uv_signal_t, tree_entry));
}
static int is_oneshot(const uv_signal_t *h) { return (h->flags & AH__SIGF_ONESHOT) != 0; }

static unsigned loop_index(ah_sim *sim, const uv_loop_t *loop)
{
    unsigned i = 0;
    ah__list *q;

    for (q = sim->loops.next; q != &sim->loops; q = q->next, i++)
        if (ah__container_of(q, ah__loop, link)->loop == loop)
            return i;
    return i;
}

/* A watcher of a signal: a user handle, or a loop's child watcher (handle NULL). */
typedef struct watcher {
    uv_signal_t *handle;
    uv_loop_t *loop;
    int oneshot;
    unsigned loop_idx;
    uint32_t order;
} watcher;

static int watcher_cmp(const void *a, const void *b)
{
    const watcher *x = a, *y = b;

    if (x->oneshot != y->oneshot)
        return x->oneshot - y->oneshot;
    if (x->loop_idx != y->loop_idx)
        return x->loop_idx < y->loop_idx ? -1 : 1;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return 0;
}

/* The watchers of signum in libuv's tree order; returns how many (up to max). */
static size_t watchers_of(ah__pstate *st, int signum, watcher *out, size_t max)
{
    size_t n = 0;
    ah__list *q;

    for (q = st->sigs.next; q != &st->sigs && n < max; q = q->next) {
        uv_signal_t *h = node_sig(q);
        if (h->signum != signum)
            continue;
        out[n].handle = h;
        out[n].loop = h->loop;
        out[n].oneshot = is_oneshot(h);
        out[n].loop_idx = loop_index(st->sim, h->loop);
        out[n].order = ((ah__hrec *)h->u.reserved[0])->id;
        n++;
    }
    if (signum == SIGCHLD)
        for (q = st->loops.next; q != &st->loops && n < max; q = q->next) {
            ah__ploop *pl = ah__container_of(q, ah__ploop, link);
            if (!pl->child_watch)
                continue;
            out[n].handle = NULL;
            out[n].loop = pl->loop;
            out[n].oneshot = 0;
            out[n].loop_idx = loop_index(st->sim, pl->loop);
            /* loop->child_watcher lives in the loop, usually above the user's handles */
            out[n].order = UINT32_MAX;
            n++;
        }
    qsort(out, n, sizeof(*out), watcher_cmp);
    return n;
}

#define MAX_WATCHERS 256

static int first_is(ah__pstate *st, int signum, int *oneshot)
{
    watcher w[MAX_WATCHERS];
    size_t n = watchers_of(st, signum, w, MAX_WATCHERS);

    if (n == 0)
        return 0;
    *oneshot = w[0].oneshot;
    return 1;
}

int ah__sig_watched(ah__pstate *st, int signum)
{
    int oneshot;
    return !st->reset_dfl[signum] && first_is(st, signum, &oneshot);
}

/* libuv (re)installs its handler: the disposition is the handler again. */
static void register_handler(ah__pstate *st, int signum, int oneshot)
{
    struct sigaction sa;

    st->reset_dfl[signum] = 0;
    if (!st->passthrough[signum])
        return;
    memset(&sa, 0, sizeof(sa));
    sigfillset(&sa.sa_mask);
    sa.sa_handler = real_handler;
    sa.sa_flags = SA_RESTART | (oneshot ? SA_RESETHAND : 0);
    if (!st->real_installed[signum])
        sigaction(signum, &sa, &st->saved[signum]);
    else
        sigaction(signum, &sa, NULL);
    st->real_installed[signum] = 1;
}

static void unregister_handler(ah__pstate *st, int signum)
{
    st->reset_dfl[signum] = 0;
    if (st->real_installed[signum]) {
        sigaction(signum, &st->saved[signum], NULL);
        st->real_installed[signum] = 0;
    }
}

void ah__sig_restore_all(ah__pstate *st)
{
    int i;

    for (i = 1; i < AH__NSIG; i++)
        unregister_handler(st, i);
}

/* ---- catching ---- */

static int default_ignores(int signum)
{
    return signum == SIGCHLD || signum == SIGCONT || signum == SIGURG || signum == SIGWINCH;
}

static void sig_ev_fire(ah__event *ev)
{
    ah__ploop *pl = ah__container_of(ev, ah__ploop, sig_ev);
    pl->have_signals = 1;
}

static void push_msg(ah__pstate *st, uv_loop_t *loop, uv_signal_t *h, int signum)
{
    ah__ploop *pl = ah__ploop_get(st, loop);

    if (st->nmsgs == st->capmsgs) {
        st->capmsgs = st->capmsgs ? st->capmsgs * 2 : 16;
        st->msgs = ah__realloc(st->msgs, st->capmsgs * sizeof(*st->msgs));
    }
    st->msgs[st->nmsgs].loop = loop;
    st->msgs[st->nmsgs].handle = h;
    st->msgs[st->nmsgs].signum = signum;
    st->msgs[st->nmsgs].seq = ++st->msg_seq;
    st->nmsgs++;
    /* The pipe is readable: the poll returns at once and reads it after the other I/O. */
    if (!ah__event_scheduled(&pl->sig_ev) && pl->sig_ev.batch_index == 0) {
        pl->sig_ev.fire = sig_ev_fire;
        pl->sig_ev.flags = 0;
        ah__event_schedule(loop, &pl->sig_ev, st->sim->clock.now_ns);
    }
}

/* "SIGUSR1" */
static const char *sig_name(int signum, char *buf, size_t n)
{
    const char *a = sigabbrev_np(signum);
    if (a != NULL)
        snprintf(buf, n, "SIG%s", a);
    else
        snprintf(buf, n, "signal %d", signum);
    return buf;
}

/* A handler ran: the blocking call it lands on is interrupted as Linux's are (EINTR, or restarted
 * under SA_RESTART), else a sleep (never restarted). */
static void interrupt(ah_sim *sim, int sa_restart)
{
    if (!ah__fd_interrupt(sim, sa_restart))
        ah__twait_interrupt_sleep(sim);
}

static void default_action(ah__pstate *st, int signum, const char *what, ah__site site,
                           int was_reset)
{
    struct sigaction cur;
    char where[160], name[32];

    /* No libuv handler: what the process's own disposition does. A handler the program
     * installed itself (or SIG_IGN) is honoured by raising the signal for real. */
    if (sigaction(signum, NULL, &cur) == 0 && cur.sa_handler != SIG_DFL) {
        if (cur.sa_handler != SIG_IGN) {
            real_raise(signum);
            interrupt(st->sim, (cur.sa_flags & SA_RESTART) != 0);
        }
        return;
    }
    if (default_ignores(signum))
        return;
    ah__fail(st->sim,
             "%s sent to the process itself by %s in %s at +%llu ms: %s, so its default action "
             "would %s the process",
             sig_name(signum, name, sizeof(name)), what, ah__site_str(&site, where, sizeof(where)),
             (unsigned long long)ah_now_ms(st->sim),
             was_reset ? "only oneshot uv_signal_t handles watched it and the first one took the "
                         "handler (libuv installs it with SA_RESETHAND)"
                       : "no uv_signal_t watches it",
             signum == SIGSTOP || signum == SIGTSTP || signum == SIGTTIN || signum == SIGTTOU
                 ? "stop"
                 : "terminate");
}

void ah__sig_catch(ah__pstate *st, int signum, const char *what, ah__site site)
{
    watcher w[MAX_WATCHERS];
    char note[96], name[32];
    size_t n, i;
    int outside;

    /* Blocked by the thread and read through a signalfd: it waits there (fd/signalfd.c). Sent
     * by the process itself (kill, raise, uv_kill: its pid) or from outside (ah_signal_raise, a
     * child's exit, a real signal: pid 0, the sim does not know the sender). */
    outside = strcmp(what, "ah_signal_raise") == 0 || strncmp(what, "a ", 2) == 0;
    if (ah__fd_signalfd_deliver(
            st->sim, signum,
            strcmp(what, "raise") == 0 || strcmp(what, "pthread_kill") == 0 ? SI_TKILL : SI_USER,
            outside ? 0 : (int)getpid())) {
        snprintf(note, sizeof(note), "%s pending for a signalfd (%s)",
                 sig_name(signum, name, sizeof(name)), what);
        ah__trace_note(st->sim, "signals", note);
        return;
    }
    snprintf(note, sizeof(note), "%s caught (%s)", sig_name(signum, name, sizeof(name)), what);
    ah__trace_note(st->sim, "signals", note);
    if (st->reset_dfl[signum]) {
        default_action(st, signum, what, site, 1);
        return;
    }
    n = watchers_of(st, signum, w, MAX_WATCHERS);
    if (n == 0) {
        default_action(st, signum, what, site, 0);
        return;
    }
    if (w[0].oneshot)
        st->reset_dfl[signum] = 1; /* SA_RESETHAND: this delivery took the handler */
    for (i = 0; i < n; i++) {
        push_msg(st, w[i].loop, w[i].handle, signum);
        if (w[i].handle != NULL)
            w[i].handle->caught_signals++;
    }
    interrupt(st->sim, 1); /* libuv's handler is installed with SA_RESTART */
}

/* ---- dispatch: the end of a poll ---- */

static void sig_stop(ah__pstate *st, uv_signal_t *h);

static void dispatch_loop(ah__pstate *st, ah__ploop *pl)
{
    uint64_t last = st->msg_seq;
    ah__sigmsg m;
    size_t i;

    for (;;) {
        for (i = 0; i < st->nmsgs; i++)
            if (st->msgs[i].loop == pl->loop && st->msgs[i].seq <= last)
                break;
        if (i == st->nmsgs)
            return;
        m = st->msgs[i];
        memmove(st->msgs + i, st->msgs + i + 1, (st->nmsgs - i - 1) * sizeof(*st->msgs));
        st->nmsgs--;
        if (m.handle == NULL) {
            if (pl->child_watch)
                ah__pstate_ops.reap_loop(pl);
            continue;
        }
        if (m.signum == m.handle->signum)
            AH__DISPATCH(st->sim, m.handle, "signal_cb",
                         m.handle->signal_cb(m.handle, m.handle->signum));
        m.handle->dispatched_signals++;
        if (is_oneshot(m.handle))
            sig_stop(st, m.handle);
    }
}

/* The test's blocking call returned: the signals held meanwhile make their loops' signal pipes
 * readable again, at this instant. */
static void release_held(ah_sim *sim)
{
    ah__pstate *st = ah__pstate_find(sim);
    ah__list *q;

    if (st == NULL || ah__fd_body_blocked(sim))
        return;
    for (q = st->loops.next; q != &st->loops; q = q->next) {
        ah__ploop *pl = ah__container_of(q, ah__ploop, link);
        if (!pl->held)
            continue;
        pl->held = 0;
        if (!ah__event_scheduled(&pl->sig_ev) && pl->sig_ev.batch_index == 0) {
            pl->sig_ev.fire = sig_ev_fire;
            pl->sig_ev.flags = 0;
            ah__event_schedule(pl->loop, &pl->sig_ev, sim->clock.now_ns);
        }
    }
}

/* The real signals caught since the last look become the sim's, at this instant. */
static void take_real(ah__pstate *st)
{
    int i;

    if (!real_caught_any)
        return;
    real_caught_any = 0;
    for (i = 1; i < AH__NSIG; i++)
        if (real_caught[i]) {
            real_caught[i] = 0;
            ah__sig_catch(st, i, "a real signal (passthrough)", (ah__site){0});
        }
}

void ah__sig_poll_end(uv_loop_t *loop)
{
    ah__pstate *st = ah__pstate_find(ah__lp(loop)->sim);
    ah__list *q;

    if (st == NULL)
        return;
    take_real(st);
    for (q = st->loops.next; q != &st->loops; q = q->next) {
        ah__ploop *pl = ah__container_of(q, ah__ploop, link);
        if (pl->loop == loop) {
            if (pl->have_signals) {
                /* The test's thread runs this loop itself, and it is blocked in a call (a
                 * readv of a pipe): libuv's signal pipe is read only when its loop polls
                 * again, so the callbacks wait for the call's end (libuv's fs_partial_read). */
                if (!ah__twait_off_main(st->sim) && ah__fd_body_blocked(st->sim)) {
                    pl->have_signals = 0;
                    pl->held = 1;
                    ah__fd_body_unblocked_hook = release_held;
                    return;
                }
                pl->have_signals = 0;
                dispatch_loop(st, pl);
            }
            return;
        }
    }
}

/* ---- the uv_signal_* API ---- */

int uv_signal_init(uv_loop_t *loop, uv_signal_t *handle)
{
    ah__site site = AH__CALLER("uv_signal_init");
    ah_sim *sim = ah__loop_sim(loop, "uv_signal_init");

    if (handle == NULL)
        ah__fail(sim, "uv_signal_init: called with a NULL handle");
    ah__pstate_get(sim);
    ah__handle_init(loop, (uv_handle_t *)handle, UV_SIGNAL, site);
    handle->signum = 0;
    handle->signal_cb = NULL;
    handle->caught_signals = 0;
    handle->dispatched_signals = 0;
    ah__list_init(sig_node(handle));
    return 0;
}

static void sig_stop(ah__pstate *st, uv_signal_t *h)
{
    int signum = h->signum, oneshot;

    if (signum == 0)
        return;
    ah__list_remove(sig_node(h));
    h->signum = 0;
    if (!first_is(st, signum, &oneshot))
        unregister_handler(st, signum);
    else if (oneshot && !is_oneshot(h))
        register_handler(st, signum, 1);
    ah__handle_stop((uv_handle_t *)h);
}

static int sig_start(uv_signal_t *h, uv_signal_cb cb, int signum, int oneshot, const char *fn,
                     ah__site site)
{
    ah__hrec *r = ah__handle_rec((uv_handle_t *)h, fn);
    ah_sim *sim = ah__lp(h->loop)->sim;
    ah__pstate *st = ah__pstate_get(sim);
    int first_oneshot;
    char b[320];

    if (h->type != UV_SIGNAL)
        ah__fail(sim, "%s on %s, which is not a uv_signal_t", fn, ah__handle_str(r, b, sizeof(b)));
    if (ah__is_closing((uv_handle_t *)h))
        ah__fail(sim, "%s on %s, which is closing (libuv asserts on this)", fn,
                 ah__handle_str(r, b, sizeof(b)));
    if (signum == 0)
        return UV_EINVAL;
    if (signum == h->signum) {
        h->signal_cb = cb;
        return 0;
    }
    if (h->signum != 0)
        sig_stop(st, h);
    if (!signum_valid(signum))
        return UV_EINVAL;
    if (!first_is(st, signum, &first_oneshot) || (!oneshot && first_oneshot))
        register_handler(st, signum, oneshot);
    h->signum = signum;
    if (oneshot)
        h->flags |= AH__SIGF_ONESHOT;
    ah__list_insert_tail(&st->sigs, sig_node(h));
    h->signal_cb = cb;
    r->start_site = site;
    ah__handle_start((uv_handle_t *)h);
    return 0;
}

int uv_signal_start(uv_signal_t *handle, uv_signal_cb cb, int signum)
{
    ah__site site = AH__CALLER("uv_signal_start");
    return sig_start(handle, cb, signum, 0, "uv_signal_start", site);
}

int uv_signal_start_oneshot(uv_signal_t *handle, uv_signal_cb cb, int signum)
{
    ah__site site = AH__CALLER("uv_signal_start_oneshot");
    return sig_start(handle, cb, signum, 1, "uv_signal_start_oneshot", site);
}

int uv_signal_stop(uv_signal_t *handle)
{
    ah__hrec *r = ah__handle_rec((uv_handle_t *)handle, "uv_signal_stop");
    ah_sim *sim = ah__lp(handle->loop)->sim;
    char b[320];

    (void)AH__CALLER("uv_signal_stop"); /* its site, for a failure below */
    if (ah__is_closing((uv_handle_t *)handle))
        ah__fail(sim, "uv_signal_stop on %s, which is closing (libuv asserts on this)",
                 ah__handle_str(r, b, sizeof(b)));
    sig_stop(ah__pstate_get(sim), handle);
    return 0;
}

/* uv_close: stop, and drop the handle's messages still in the pipe (libuv would only count them
 * on the closed handle's memory). */
void ah__sig_close(uv_handle_t *h)
{
    ah__pstate *st = ah__pstate_get(ah__lp(h->loop)->sim);
    size_t i, j;

    sig_stop(st, (uv_signal_t *)h);
    for (i = j = 0; i < st->nmsgs; i++)
        if (st->msgs[i].handle != (uv_signal_t *)h)
            st->msgs[j++] = st->msgs[i];
    st->nmsgs = j;
}

/* ---- sending: uv_kill, kill, raise ---- */

/* 0, a negative errno-style UV_ error. */
static int send_signal(const char *what, int pid, int signum, ah__site site)
{
    ah_sim *sim = ah__sim();
    ah__pstate *st;
    char where[160];
    int r;

    if (signum < 0 || signum >= AH__NSIG)
        return UV_EINVAL;
    st = ah__pstate_get(sim);
    if (pid == getpid()) {
        if (signum != 0)
            ah__sig_catch(st, signum, what, site);
        return 0;
    }
    if (pid <= 0)
        ah__fail(sim,
                 "%s(%d, %d) in %s: signalling a process group (or every process) is not "
                 "simulated: it would reach the test runner",
                 what, pid, signum, ah__site_str(&site, where, sizeof(where)));
    r = ah__pstate_ops.child_signal(st, pid, signum);
    if (r <= 0)
        return r;
    /* Not a child of the sim: a real process, signalled for real. */
    if (ah__real_kill(pid, signum) != 0)
        return -errno;
    return 0;
}

int uv_kill(int pid, int signum)
{
    ah__site site = AH__CALLER("uv_kill");
    return send_signal("uv_kill", pid, signum, site);
}

/* kill(2) and raise(3) of the code under test: link-time definitions that win over libc's. */
AH__LIBC(kill, 9, AH__LIBC_SIGNAL);
int kill(pid_t pid, int sig)
{
    ah__site site = AH__CALLER("kill");
    int r = send_signal("kill", pid, sig, site);

    if (r != 0) {
        errno = -r;
        return -1;
    }
    return 0;
}

AH__LIBC(raise, 10, AH__LIBC_SIGNAL);
int raise(int sig)
{
    ah__site site = AH__CALLER("raise");
    int r = send_signal("raise", getpid(), sig, site);

    if (r != 0) {
        errno = -r;
        return -1;
    }
    return 0;
}

/* pthread_kill(3) of a thread of the process: a simulated signal, as raise's (a real one would
 * run the real disposition: SIGUSR1's kills). Which thread it was sent to is not kept: it
 * interrupts a blocking call by the same rule as kill's (the test's thread first). Signal 0 only
 * checks the thread, for real. */
AH__LIBC(pthread_kill, 17, AH__LIBC_SIGNAL);
int pthread_kill(pthread_t t, int sig)
{
    static int (*real_pthread_kill)(pthread_t, int);
    ah__site site = AH__CALLER("pthread_kill");
    ah_sim *sim = ah__sim_libc();

    if (real_pthread_kill == NULL)
        *(void **)&real_pthread_kill = dlsym(RTLD_NEXT, "pthread_kill");
    if (sim == NULL || sig == 0)
        return real_pthread_kill(ah__thread_carrier(t), sig);
    if (sig < 0 || sig >= AH__NSIG)
        return EINVAL;
    ah__sig_catch(ah__pstate_get(sim), sig, "pthread_kill", site);
    return 0;
}

void ah_signal_raise(ah_sim *sim, int signum)
{
    ah__site site = AH__CALLER("ah_signal_raise");

    if (signum <= 0 || signum >= AH__NSIG)
        ah__fail(sim, "ah_signal_raise: %d is not a signal number", signum);
    ah__sig_catch(ah__pstate_get(sim), signum, "ah_signal_raise", site);
}

/* The wake pipe is waited on while an active, referenced uv_signal_t watches a signal whose real
 * handler is installed: what keeps the child's loop alive can only come from outside. */
static int wake_wanted(ah_sim *sim, ah__buf *b)
{
    ah__pstate *st = ah__pstate_find(sim);
    ah__list *q;
    char name[32], h[320], where[160];
    int n = 0;

    if (st == NULL)
        return 0;
    for (q = st->sigs.next; q != &st->sigs; q = q->next) {
        uv_signal_t *sh = node_sig(q);
        ah__hrec *r = sh->u.reserved[0];
        if (sh->signum <= 0 || sh->signum >= AH__NSIG || !st->real_installed[sh->signum] ||
            !uv_is_active((uv_handle_t *)sh) || uv_is_closing((uv_handle_t *)sh) ||
            !uv_has_ref((uv_handle_t *)sh))
            continue;
        n++;
        if (b != NULL)
            ah__buf_printf(b,
                           "  - %s, waited on by %s (started in %s): in a forked child only a "
                           "real signal from outside reaches it\n",
                           sig_name(sh->signum, name, sizeof(name)),
                           ah__handle_str(r, h, sizeof(h)),
                           ah__site_str(&r->start_site, where, sizeof(where)));
    }
    return n;
}

static void wake_ready(ah_sim *sim)
{
    ah__pstate *st = ah__pstate_find(sim);
    char buf[64];

    while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
        ;
    if (st != NULL)
        take_real(st); /* the loop's signal pipe is readable in the poll that saw this */
}

static ah__real_wake wake = {-1, wake_wanted, wake_ready};

void ah__sig_forked_child(ah__pstate *st)
{
    watcher w[MAX_WATCHERS];
    int i, oneshot, any = 0;

    for (i = 1; i < AH__NSIG; i++) {
        if (!signum_valid(i) || watchers_of(st, i, w, MAX_WATCHERS) == 0 || w[0].handle == NULL)
            continue;
        if (!any && wake_pipe[0] < 0) {
            int (*real_pipe2)(int *, int) = (int (*)(int *, int))dlsym(RTLD_NEXT, "pipe2");
            *(void **)&wake_write = dlsym(RTLD_NEXT, "write");
            if (real_pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
                wake_pipe[0] = wake_pipe[1] = -1;
        }
        any = 1;
        st->passthrough[i] = 1;
        if (first_is(st, i, &oneshot))
            register_handler(st, i, oneshot);
    }
    if (any && wake_pipe[0] >= 0) {
        wake.fd = wake_pipe[0];
        ah__fd_real_wake_set(st->sim, &wake);
    }
}

void ah_signal_passthrough(ah_sim *sim, int signum)
{
    ah__pstate *st = ah__pstate_get(sim);
    int oneshot;

    if (!signum_valid(signum))
        ah__fail(sim, "ah_signal_passthrough: %d is not a signal a handler can be installed for",
                 signum);
    st->passthrough[signum] = 1;
    if (first_is(st, signum, &oneshot))
        register_handler(st, signum, oneshot);
}
