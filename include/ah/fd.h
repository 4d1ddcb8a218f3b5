/* Descriptors and libc clocks of a sim (docs/descriptors.md).
 *
 * While a sim is current, the libc socket calls of the code under test and of the shared
 * libraries it links (socket, connect, read, write, poll, getaddrinfo, ...) act on fake
 * descriptors on the sim's fake network, and time(), gettimeofday() and clock_gettime() read the
 * virtual clock. Real descriptors (files, pipes, stdio) pass through untouched; with no sim,
 * everything does.
 */
#ifndef AH_FD_H
#define AH_FD_H

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ah_sim ah_sim;

/* The wall-clock date (seconds since 1970, UTC) that time(), gettimeofday(),
 * clock_gettime(CLOCK_REALTIME) and uv_gettimeofday() answer when the sim starts; they move with
 * the virtual clock. Default: AH_WALL_EPOCH from the environment, else 1767225600
 * (2026-01-01T00:00:00Z). */
void ah_wall_clock_set(ah_sim *sim, int64_t unix_seconds);
/* Sockets created while `on` is non-zero are real kernel sockets, untouched by the sim (for a
 * test that talks to a real server). Off by default. */
void ah_fd_passthrough(ah_sim *sim, int on);
/* A fake terminal (docs/descriptors.md, "Terminals"). Returns the descriptor the code under test
 * is to use as its terminal (isatty, tcgetattr/tcsetattr, ioctl TIOCGWINSZ, uv_guess_handle gives
 * UV_TTY, uv_tty_init and uv_read_start work on it) and sets *term to the test's end: what the
 * program writes to its terminal is read from *term, and what the test writes to *term is the
 * program's input; closing *term hangs the terminal up (the program reads EOF). Both are fake
 * descriptors of the sim, to be closed before it ends. 80 columns, 24 rows, cooked mode; the line
 * discipline (echo, line editing, ^C) is not simulated: bytes pass as they are. A negative errno
 * on failure. */
int ah_tty_open(ah_sim *sim, int *term);
/* Resizes the fake terminal `fd`, and, when the size changed, raises SIGWINCH in the process
 * (delivered to uv_signal_t handles at the current virtual instant), as Linux does. */
int ah_tty_set_winsize(ah_sim *sim, int fd, int cols, int rows);
/* The C library's own clock_gettime, for code that must measure real time under a sim (a
 * benchmark, a busy wait). */
int ah_real_clock_gettime(clockid_t id, struct timespec *ts);

#ifdef __cplusplus
}
#endif
#endif
