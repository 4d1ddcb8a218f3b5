/* Child processes and signals in the sim (docs/processes.md, docs/signals.md).
 *
 * uv_spawn runs the real program by default: it is started for real, its output is collected
 * and delivered with its exit at a virtual instant (ah_proc_real_ms after the spawn). A program
 * scripted here runs no binary at all: its writes, delays and exit happen in virtual time.
 * Signals sent to the own process (uv_kill, kill, raise) reach the uv_signal_t handles of the
 * sim at virtual instants; no real signal handler is installed unless a test asks for it. */
#ifndef AH_PROC_H
#define AH_PROC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ah_sim ah_sim;
typedef struct ah_program ah_program; /* a scripted program */

/* Scripts the program `file`: every uv_spawn whose options.file equals it (or whose base name
 * does, "git" for "/usr/bin/git") runs this script instead of a binary. Steps run in order from
 * the spawn instant; without an exit step the child exits 0 after the last one. Owned by the sim;
 * a script never spawned is reported at teardown. */
ah_program *ah_proc_script(ah_sim *sim, const char *file);
/* The child writes `text` (ah_proc_write_n: `n` bytes) to its descriptor `fd` (1: stdout). */
void ah_proc_write(ah_program *p, int fd, const char *text);
void ah_proc_write_n(ah_program *p, int fd, const void *bytes, size_t n);
/* The child does nothing for `ms` virtual ms. */
void ah_proc_delay(ah_program *p, uint64_t ms);
/* The child reads its stdin (fd 0) until EOF: the next step waits for the parent to close or
 * shut down its end. */
void ah_proc_wait_stdin_eof(ah_program *p);
/* The child exits with `status`, or dies of signal `signum` (exit_cb gets (0, signum)). */
void ah_proc_exit(ah_program *p, int status);
void ah_proc_die(ah_program *p, int signum);
/* uv_spawn of `file` fails with `err` (a UV_ error such as UV_EACCES), as an exec failure does. */
void ah_proc_spawn_error(ah_sim *sim, const char *file, int err);
/* The bytes the scripted or real children of `file` read on their stdin so far (owned by the
 * sim, NUL-terminated, "" when none); `*n` gets the length when not NULL. */
const char *ah_proc_stdin_of(ah_sim *sim, const char *file, size_t *n);

/* Real programs: the virtual time a real child appears to run (default 1 ms): its output, EOF
 * and exit are delivered at spawn + ms (or when the parent closes the child's stdin, if the child
 * needs it). */
void ah_proc_real_ms(ah_sim *sim, uint64_t ms);

/* A child's SIGCHLD usually reaches the parent one poll after its pipes' EOF; with `on`, the
 * oracle (ah_explore) also tries the other order real life allows: exit_cb in the same poll as
 * the EOF, before the pipe's close callback. Off by default. */
void ah_proc_exit_race(ah_sim *sim, int on);

/* Signals. Injects `signum` into the own process at the current instant, as kill(getpid()) from
 * outside would: every uv_signal_t watching it gets it at the next poll. */
void ah_signal_raise(ah_sim *sim, int signum);
#if !defined(AH_NO_SITES) && !defined(AH_BUILDING_HARNESS)
void ah__site_mark(const char *file, int line, const char *func, const char *fn);
#define ah_signal_raise(sim, signum)                                                               \
    (ah__site_mark(__FILE__, __LINE__, __func__, "ah_signal_raise"),                               \
     ah_signal_raise((sim), (signum)))
#endif
/* Real signals of number `signum` sent from outside the process reach the sim's handles: while a
 * uv_signal_t watches it, a real handler is installed; a signal caught is delivered at the next
 * poll. Off by default. */
void ah_signal_passthrough(ah_sim *sim, int signum);

#ifdef __cplusplus
}
#endif

#endif
