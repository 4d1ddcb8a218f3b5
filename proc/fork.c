/* fork(2) under the sim: the child goes on with a copy of the sim (the process's memory is
 * copied; its threads are not), in virtual time of its own; the parent sees the child's exit as a
 * SIGCHLD caught by the sim, and waits for it with the real waitpid. docs/processes.md.
 *
 * In the child: the sim is marked forked (a failure or the end of the test ends the process with
 * the report on stderr: harness/sim.c, cmocka_glue.c), fake descriptors made before the fork are
 * refused (fd/table.c: the two copies of the sim cannot reach each other), simulated threads other
 * than the caller are forgotten or reported (threads/sched.c), signals watched by uv_signal_t get
 * real handlers (a signal from the parent can only arrive for real), and the parent's own forked
 * children are no longer looked at. In the parent: the child is looked at ah_proc_real_ms (1 ms)
 * of virtual time after the fork, waiting up to 250 ms of real time for its exit, then every
 * virtual second; its exit is caught as SIGCHLD at that instant, without reaping it. */
#define _GNU_SOURCE 1
#include "internal_proc.h"

#include "../fd/internal_fd.h"
#include "../fs/internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Reached from proc/interpose.c, so that this file is linked (see there). */
const char ah__proc_interposer_fork = 0;

typedef struct forked {
    ah__list link;
    ah__pstate *st;
    pid_t pid;
    ah__site site;
    uint64_t fork_ns;
    ah__event ev;
} forked;

typedef struct fork_state {
    ah__list kids;
} fork_state;

static int fork_key;

pid_t ah__real_fork(void)
{
    static pid_t (*real)(void);

    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "fork");
    return real();
}

static void kid_free(forked *k)
{
    if (ah__proc_world.fork_forget != NULL)
        ah__proc_world.fork_forget(k->pid);
    ah__event_cancel(&k->ev);
    ah__list_remove(&k->link);
    ah__free(k);
}

static void fork_destroy(ah_sim *sim, void *state)
{
    fork_state *fs = state;

    (void)sim;
    while (!ah__list_empty(&fs->kids))
        kid_free(ah__container_of(fs->kids.next, forked, link));
    ah__free(fs);
}

static void fork_init(ah_sim *sim, void *state)
{
    fork_state *fs = state;

    (void)sim;
    ah__list_init(&fs->kids);
}

static fork_state *fork_state_get(ah_sim *sim)
{
    static const ah__ext fork_ext = {
        .key = &fork_key, .name = "fork", .destroy = fork_destroy, .init = fork_init};

    return ah__ext_get_or_add(sim, &fork_ext, sizeof(fork_state));
}

static uint64_t real_ms(void)
{
    struct timespec ts;
    ah__real_clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Whether the child has exited (1), runs (0) or is gone (-1: the program reaped it already). It
 * is left for the program's own waitpid (WNOWAIT). */
static int kid_exited(pid_t pid)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return -1;
    return si.si_pid == pid;
}

static void kid_look(ah__event *ev)
{
    forked *k = ah__container_of(ev, forked, ev);
    ah__pstate *st = k->st;
    uint64_t start = real_ms();
    /* Under Valgrind the child starts and ends some hundred times slower. */
    uint64_t grace = ah__under_valgrind() ? 20 * st->grace_ms : st->grace_ms;
    char note[96];
    int r;

    while ((r = kid_exited(k->pid)) == 0 && real_ms() - start < grace) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        /* it exec'd a harness-linked program, which joined the world (world/): no longer ours */
        if (ah__proc_world.fork_look != NULL &&
            ah__proc_world.fork_look(st->sim, k->pid, k->site)) {
            kid_free(k);
            return;
        }
        (void)syscall(SYS_nanosleep, &ts, NULL); /* real time: the child runs for real */
    }
    if (r == 0) {
        /* still running (a server, a child waiting for something): looked at again later */
        ah__event_schedule(ev->loop, ev, st->sim->clock.now_ns + AH__REAL_CHECK_MS * AH__NS_PER_MS);
        return;
    }
    if (r > 0) {
        snprintf(note, sizeof(note), "forked child (pid %d) exits", (int)k->pid);
        ah__trace_note(st->sim, "processes", note);
        ah__sig_catch(st, SIGCHLD, "a forked child's exit", k->site);
    }
    kid_free(k);
}

static void in_parent(ah_sim *sim, pid_t pid, ah__site site)
{
    ah__pstate *st = ah__pstate_get(sim);
    forked *k = ah__calloc(1, sizeof(*k));

    k->st = st;
    k->pid = pid;
    k->site = site;
    k->fork_ns = sim->clock.now_ns;
    k->ev.fire = kid_look;
    k->ev.what = "a look at a forked child";
    k->ev.site = site;
    k->ev.flags = AH__EV_SILENT; /* libuv knows nothing of it: no loop alive, no wakeup */
    ah__list_insert_tail(&fork_state_get(sim)->kids, &k->link);
    ah__event_schedule(sim->current_hrec != NULL ? sim->current_hrec->loop : ah_sim_loop(sim),
                       &k->ev, sim->clock.now_ns + st->real_ms * AH__NS_PER_MS);
}

static void in_child(ah_sim *sim, ah__site site)
{
    fork_state *fs = ah__ext_get(sim, &fork_key);

    sim->forked_child = 1;
    ah__fd_fork_gen++;
    ah__fd_fork_site = site;
    if (fs != NULL) /* the parent's children are not this process's */
        while (!ah__list_empty(&fs->kids))
            kid_free(ah__container_of(fs->kids.next, forked, link));
    if (ah__threads_hooks.forked_child != NULL)
        ah__threads_hooks.forked_child(sim, site);
    ah__sig_forked_child(ah__pstate_get(sim));
    ah__aio_forked_child(sim);
}

AH__LIBC(fork, 9, AH__LIBC_FD);
pid_t fork(void)
{
    ah_sim *sim = ah_sim_current();
    ah__site site;
    pid_t pid;
    int wfd;

    if (sim == NULL)
        return ah__real_fork();
    site = AH__CALLER("fork");
    ah__fd_materialize(sim); /* pipes and socketpairs both processes may use: the kernel's */
    fflush(NULL);            /* what stdio holds is written once, not by both processes */
    wfd = ah__proc_world.fork_prepare != NULL ? ah__proc_world.fork_prepare() : -1;
    pid = ah__real_fork();
    if (pid == 0) {
        in_child(sim, site);
        if (wfd >= 0)
            ah__proc_world.fork_child(wfd);
    } else {
        if (pid > 0)
            in_parent(sim, pid, site);
        if (wfd >= 0)
            ah__proc_world.fork_parent(pid, wfd);
    }
    return pid;
}
