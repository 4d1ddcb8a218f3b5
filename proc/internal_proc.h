/* Internals of the proc/ room: child processes (process.c), signals (signal.c), ttys, uv_random
 * and uv_loop_fork (misc.c). Nothing here is public API. proc/ sits above mocks/ (a child's
 * stdio pipes are pairs of the fake network) and below nothing: no lower layer includes this. */
#ifndef AH_PROC_INTERNAL_PROC_H
#define AH_PROC_INTERNAL_PROC_H

#include "../mocks/internal_net.h"
#include "../threads/wait.h"

#include <ah/proc.h>

#include <signal.h>
#include <sys/types.h>

#define AH__NSIG 65 /* signals 1..64, as kill(2) accepts on Linux */
/* Fake pids of scripted children: above Linux's largest pid_max (2^22), so never a real one. */
#define AH__FAKE_PID_BASE 5000000
/* A real child still running is looked at again after this much virtual time. */
#define AH__REAL_CHECK_MS 1000

/* uv_signal_t flag (type-specific bit of handle->flags): started with uv_signal_start_oneshot.
 * As libuv 1.44's UV_SIGNAL_ONE_SHOT it is never cleared once set. */
enum { AH__SIGF_ONESHOT = AH__HF_TYPE0 << 0 };

/* A message in a loop's signal pipe: libuv writes one per watching handle when it catches a
 * signal, and the loop dispatches them after the other I/O of a poll. */
typedef struct ah__sigmsg {
    uv_loop_t *loop;
    uv_signal_t *handle; /* NULL: the loop's internal child watcher (SIGCHLD) */
    int signum;
    uint64_t seq;
} ah__sigmsg;

/* Per-loop state of the room. */
typedef struct ah__ploop {
    ah__list link;
    uv_loop_t *loop;
    ah__event sig_ev; /* the signal pipe is readable: scheduled at the catch instant */
    int have_signals; /* sig_ev fired in the current poll */
    int held;         /* fired while the test's thread blocked in a call: waits for its end */
    int child_watch;  /* libuv's loop->child_watcher is started (a spawn happened) */
    ah__list procs;   /* ah__proc of live process handles, in spawn order (process_handles) */
} ah__ploop;

enum { AH__PSTEP_WRITE, AH__PSTEP_DELAY, AH__PSTEP_WAIT_EOF, AH__PSTEP_EXIT, AH__PSTEP_DIE };
typedef struct ah__pstep {
    int kind;
    int fd;
    char *bytes;
    size_t n;
    uint64_t ms;
    int value; /* exit status or signal */
} ah__pstep;

struct ah_program {
    ah__list link;
    char *file;
    ah__pstep *steps;
    size_t n, cap;
    int spawn_error; /* uv_spawn fails with it (ah_proc_spawn_error) */
    unsigned spawns;
    ah__site site;
};

enum { AH__PROC_RUNNING, AH__PROC_EXITED, AH__PROC_REAPED };

typedef struct ah__pstdio {
    int flags;          /* the container's flags */
    ah__conn *conn;     /* UV_CREATE_PIPE: the fake pair; end 0 is the user's pipe */
    int fd;             /* UV_INHERIT_FD / _STREAM: the descriptor, else -1 */
    int real_fd;        /* real child: the parent's end of the socketpair, or -1 */
    int real_wr_closed; /* real child: its input was shut down (the parent's EOF forwarded) */
    unsigned char *out; /* real child: what it wrote, delivered at the exit */
    size_t out_len, out_cap;
    int out_eof;
} ah__pstdio;

typedef struct ah__proc {
    ah__list link;      /* state->procs, every child ever spawned */
    ah__list loop_link; /* ploop->procs while its handle is open and it was not reaped */
    struct ah__pstate *st;
    uv_process_t *handle; /* NULL once the handle closed */
    uv_loop_t *loop;
    char file[128];
    int pid;
    int state;
    int exit_status, term_signal;
    int detached;
    uint64_t spawn_ns, exit_ns;
    ah__site site;
    ah__pstdio *stdio;
    int nstdio;
    /* scripted */
    ah_program *script;
    size_t step;
    ah__event ev; /* the next step (scripted) or the reap of a real child */
    int waiting_eof;
    int chld_sent; /* its SIGCHLD was caught */
    /* real */
    int real;
    int real_pid;
    int real_reaped; /* the harness waitpid'ed it */
    int real_status;
    int stdin_gated;         /* the reap waits for the parent to close the child's input */
    uint64_t real_waited_ms; /* real time the harness waited for it so far */
    void *world;             /* a member of the world (world/): the world drives it */
    int bare; /* started outside libuv (posix_spawn: world/): no handle; the program's waitpid */
} ah__proc;

typedef struct ah__pstate {
    ah_sim *sim;
    ah__list loops; /* ah__ploop */
    ah__list procs;
    ah__list scripts;
    int next_fake_pid;
    uint64_t real_ms;         /* virtual run time of a real child (ah_proc_real_ms) */
    uint64_t real_timeout_ms; /* real time the harness waits for a real child, in all */
    uint64_t grace_ms;        /* real time one look at a real child waits for its exit */
    int exit_race;            /* ah_proc_exit_race: the oracle places SIGCHLD */
    /* signals */
    ah__list sigs; /* started uv_signal_t, through their tree_entry */
    ah__sigmsg *msgs;
    size_t nmsgs, capmsgs;
    uint64_t msg_seq;
    unsigned char reset_dfl[AH__NSIG]; /* SA_RESETHAND took the handler (oneshot) */
    unsigned char passthrough[AH__NSIG];
    unsigned char real_installed[AH__NSIG];
    struct sigaction saved[AH__NSIG];
    uint64_t random_state;
    ah__list ttys; /* per-tty state (misc.c) */
    /* simulated threads blocked in waitpid on a process of the world (woken at every exit) */
    ah__twaitq exit_wq;
} ah__pstate;

/* The room's state of the sim, created on first use (registers the hooks). */
/* What the state's lifetime calls in the room's parts; set by room.c, which alone knows them all.
 */
typedef struct ah__pstate_hooks {
    void (*check)(ah__pstate *st, ah__buf *b);
    void (*pending)(ah__pstate *st, ah__buf *b);
    void (*ops)(ah__pstate *st, ah__buf *b, unsigned *n);
    void (*free_all)(ah__pstate *st);
    void (*install)(void); /* the hooks in the layers below, when a sim first uses the room */
    /* For signals (signal.c), which processes sit above: SIGCHLD reaps a loop's children; a
     * signal sent to a pid reaches the simulated child (ah__proc_signal's contract). */
    void (*reap_loop)(ah__ploop *pl);
    int (*child_signal)(ah__pstate *st, int pid, int signum);
} ah__pstate_hooks;
extern ah__pstate_hooks ah__pstate_ops;

ah__pstate *ah__pstate_get(ah_sim *sim);
ah__pstate *ah__pstate_find(ah_sim *sim); /* NULL when the sim never used the room */
ah__ploop *ah__ploop_get(ah__pstate *st, uv_loop_t *loop);

/* signal.c */
/* The own process caught `signum` now (uv_kill, kill, raise, a child's exit, a test). `what`
 * and `site` name the sender for diagnostics. */
void ah__sig_catch(ah__pstate *st, int signum, const char *what, ah__site site);
/* Whether some handle (or child watcher) watches signum. */
void ah__sig_poll_end(uv_loop_t *loop);
void ah__sig_close(uv_handle_t *h);
void ah__sig_restore_all(ah__pstate *st);
/* The real libc functions this room interposes or must not have interposed. */
int ah__real_kill(pid_t pid, int sig);

/* process.c */
/* The loop's child watcher dispatch: reaps the exited children of the loop, runs exit_cbs. */
void ah__proc_reap_loop(ah__ploop *pl);
/* A signal sent to a child of the sim by pid; returns 0 or a UV_ error, or 1 when `pid` is not a
 * child of the sim. */
int ah__proc_signal(ah__pstate *st, int pid, int signum);
void ah__proc_close(uv_handle_t *h);
void ah__proc_check(ah__pstate *st, ah__buf *b);
void ah__proc_ops(ah__pstate *st, ah__buf *b, unsigned *n);
void ah__proc_pending(ah__pstate *st, ah__buf *b);
void ah__proc_free_all(ah__pstate *st);

/* The world room above (world/, docs/world.md): a harness-linked real program joins its parent's
 * world instead of running on its own. Set by world/ when it is linked; NULL members otherwise.
 * `prepare`: before the fork, whether `o->file` may join; if so it returns the descriptor the
 * child inherits and an environment for it (*env, freed by `started`/`abandon`). `started`: after
 * the exec, waits for the child's hello; nonzero when it joined (pr->world is set). `signal`: a
 * signal to a member (0 or a UV_ error). `gone`: the sim is freed. */
typedef struct ah__proc_world_hooks {
    int (*prepare)(ah__proc *pr, const uv_process_options_t *o, char ***env);
    int (*started)(ah__proc *pr, int ok);
    int (*signal)(ah__proc *pr, int signum);
    void (*gone)(ah__proc *pr);
    void (*describe)(ah__proc *pr, ah__buf *b); /* what a running member waits for */
    void (*stdio_arrived)(ah__proc *pr);        /* the parent wrote to a pipe of the member */
    /* fork() (fork.c): `fork_prepare` before the fork gives the descriptor a child may pass to a
     * harness-linked program it execs (-1: none), `fork_child` hands it to the child, and
     * `fork_parent` keeps the parent's end for the child `pid`; `fork_look` (while fork.c looks
     * at the child) is nonzero once the child exec'd a program that joined the world (it is then
     * a bare child of proc/, fork.c forgets it); `fork_forget` when fork.c forgets the child. */
    int (*fork_prepare)(void);
    void (*fork_child)(int fd);
    void (*fork_parent)(int pid, int fd);
    int (*fork_look)(ah_sim *sim, int pid, ah__site site);
    void (*fork_forget)(int pid);
    /* A blocking waitpid on the forked child `pid` (-1: any): waits in real time until each such
     * child not yet known to have joined either says hello (it joins now, a bare child of proc/)
     * or is seen outside the world (exited, or exec'd another program). */
    void (*fork_settle)(ah_sim *sim, int pid, ah__site site);
    /* A blocking wait of the program for processes of the world begins (1) or ends (0): the
     * members' turns keep their loops alive meanwhile (the program runs no loop of its own). */
    void (*hold)(ah_sim *sim, int on);
} ah__proc_world_hooks;
extern ah__proc_world_hooks ah__proc_world;
/* A child started outside libuv (posix_spawn in world/): no handle, no exit_cb; its exit is a
 * SIGCHLD caught by the sim and the program's waitpid collects it (ah__proc_bare_wait). `new`
 * before the spawn, `drop` when it did not join (the program's real child then), `started` with
 * the real pid. */
ah__proc *ah__proc_bare_new(ah_sim *sim, const char *file, ah__site site);
void ah__proc_bare_drop(ah__proc *pr);
void ah__proc_bare_started(ah__proc *pr, int real_pid);
/* waitpid(pid, status, options) for the bare children: the pid it returns (0: WNOHANG and still
 * running), or -2 when `pid` names none of them (the C library's waitpid answers). */
int ah__proc_bare_wait(ah__pstate *st, int pid, int *status, int options, ah__site site);
/* The call a blocking wait's diagnostic names ("wait4": world/calls.c), NULL: waitpid. */
extern const char *ah__proc_wait_name;
/* A child's exit at the current instant (its pipes close, SIGCHLD follows). */
void ah__proc_exited(ah__proc *pr, int status, int signum);
/* Whether a uv_signal_t (or the loop's child watcher) would catch `signum` now. */
int ah__sig_watched(ah__pstate *st, int signum);

/* misc.c */
void ah__tty_close(uv_handle_t *h);
void ah__tty_hooks_install(void);
void ah__tty_free_all(ah__pstate *st);

/* fork.c: the C library's fork (uv_spawn's own fork must not be the interposed one). */
pid_t ah__real_fork(void);
/* process.c: the C library's waitpid (the room defines waitpid for the bare children above). */
pid_t ah__real_waitpid(pid_t pid, int *status, int options);
/* signal.c: in a child the test forked, the signals uv_signal_t handles watch get real handlers:
 * a signal from the parent can only arrive for real. */
void ah__sig_forked_child(ah__pstate *st);

#endif
