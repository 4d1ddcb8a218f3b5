/* For the processes room (proc/signal.c): a signal delivered to the process interrupts a blocking
 * call on a fake descriptor (fd/table.c). */
#ifndef AH_FD_INTERRUPT_H
#define AH_FD_INTERRUPT_H

#include "../harness/internal.h"

/* A signal whose handler has `sa_restart` (SA_RESTART) reached the process: the blocking call
 * of the test's thread (else of the first blocked simulated thread) returns EINTR, unless it is
 * a read/write-like call and sa_restart. Returns 1 when a call was interrupted. */
int ah__fd_interrupt(ah_sim *sim, int sa_restart);

/* A signal reached the process (fd/signalfd.c): when the calling thread blocks it and a fake
 * signalfd's mask holds it, it becomes pending for the signalfds (siginfo's code and pid as given)
 * and 1 is returned: no handler or default action runs. 0 otherwise. */
int ah__fd_signalfd_deliver(ah_sim *sim, int signum, int code, int pid);

/* Whether the test's thread is blocked in a call on a fake descriptor (fd/table.c), running the
 * sim meanwhile: the loops it would run itself cannot run their signal callbacks then. */
int ah__fd_body_blocked(ah_sim *sim);

/* Called once such a call returns, when set (proc/signal.c: signals held meanwhile). */
extern void (*ah__fd_body_unblocked_hook)(ah_sim *sim);

#endif
