/* What the descriptor layer offers the rooms above it (proc/'s uv_tty_t) about fake descriptors:
 * whether a descriptor is one, and a watcher of its readiness that runs in the loop's poll as a
 * uv_poll_t's callback would. */
#ifndef AH_FD_TTY_H
#define AH_FD_TTY_H

#include <uv.h>

struct ah__fpoll;

/* uv_guess_handle without taking a site (uv_tty_init's own site stays the one a failure names). */
uv_handle_type ah__fd_guess_handle(int fd);

/* 1 when `fd` is a fake descriptor of the current sim. */
int ah__fd_is_fake(int fd);

/* Watches fake descriptor `fd` for `events` (POLLIN, POLLRDHUP...) on behalf of `h`, which
 * must be active for the watcher to fire: io(p, revents) runs in the poll where fd is ready, and
 * again in each later poll while it stays ready (level-triggered). NULL when fd is not fake. */
struct ah__fpoll *ah__fd_watch(uv_handle_t *h, int fd, short events,
                               void (*io)(struct ah__fpoll *p, int revents), void *ctx);
void *ah__fd_watch_ctx(const struct ah__fpoll *p);
/* The same for a real descriptor the sim did not make (a terminal): the kernel is asked for its
 * readiness (fd/real.c), and `site` is where it was adopted, for reports. NULL when `fd` is not
 * open or is a regular file. */
struct ah__fpoll *ah__fd_watch_real(uv_handle_t *h, int fd, short events,
                                    void (*io)(struct ah__fpoll *p, int revents), void *ctx,
                                    ah__site site);
void ah__fd_unwatch(struct ah__fpoll *p);

#endif
