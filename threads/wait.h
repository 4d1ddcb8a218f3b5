/* Waiting on an object of a higher layer (a fake descriptor of fd/): a simulated thread other than
 * the test's own blocks until the object changes, while the others run, as a kernel's wait queue
 * does. The test's thread waits by running the sim instead (fd/table.c). */
#ifndef AH_THREADS_WAIT_H
#define AH_THREADS_WAIT_H

#include "../harness/internal.h"

#include <pthread.h>

/* A wait queue, embedded in the object (zeroed memory is an empty queue). */
typedef struct ah__twaitq {
    ah__list waiters;
} ah__twaitq;

/* Blocks the calling thread until ah__twait_wake(q) or `deadline_ns` (UINT64_MAX: none). `what`
 * names the wait in a deadlock report ("read on the read end of pipe 5 ..."), and must live until
 * the call returns. Returns -1 when the caller is not a simulated thread other than the test's
 * (nothing waited), 0 when woken, 1 at the deadline. */
int ah__twait(ah_sim *sim, ah__twaitq *q, const char *what, ah__site site, uint64_t deadline_ns);
/* Makes every thread waiting on `q` runnable (they run at their next turn). */
void ah__twait_wake(ah__twaitq *q);
/* A signal with a handler reached the process while no blocking call on a descriptor took it: a
 * thread sleeping in nanosleep, usleep, sleep or clock_nanosleep (the test's thread first) wakes
 * with EINTR, as Linux's sleeps are never restarted. Returns 1 when one was interrupted. */
int ah__twait_interrupt_sleep(ah_sim *sim);
/* Whether the caller is a simulated thread other than the test's own. */
int ah__twait_off_main(ah_sim *sim);
/* The OS thread carrying `tid` (itself unless it names a simulated thread run as a context). */
pthread_t ah__thread_carrier(pthread_t tid);

#endif
