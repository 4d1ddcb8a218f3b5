/* Kernel objects made under the sim (fd/pipe.c, fd/eventfd.c, fd/timerfd.c): pipes, eventfds and
 * timerfds with Linux's semantics in virtual time, through read/write, poll, uv_poll,
 * uv_pipe_open and blocking calls on simulated threads; each planted misuse beside its twin. */
#define _GNU_SOURCE 1
#include <ah/ah.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>
#include <cmocka.h>

/* The force-included ah/sites.h may have read <fcntl.h> and <unistd.h> before _GNU_SOURCE. */
#ifndef F_SETPIPE_SZ
#define F_SETPIPE_SZ 1031
#define F_GETPIPE_SZ 1032
#endif
int pipe2(int fds[2], int flags);
int dup3(int fd, int to, int flags);
#ifndef F_DUPFD_CLOEXEC
#define F_DUPFD_CLOEXEC 1030
#endif

/* ---- pipes ---- */

static void a_pipe_has_linux_semantics(void **state)
{
    ah_sim *sim = *state;
    static char big[70000];
    char b[16];
    int p[2], n;
    struct pollfd pf[2];
    struct sigaction sa, old;

    (void)sim;
    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    assert_int_equal(fcntl(p[0], F_GETFL) & O_ACCMODE, O_RDONLY);
    assert_int_equal(fcntl(p[1], F_GETFL) & O_ACCMODE, O_WRONLY);
    assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    assert_int_equal(fcntl(p[1], F_GETFD), FD_CLOEXEC);
    assert_int_equal(fcntl(p[0], F_GETPIPE_SZ), 65536);
    /* empty: EAGAIN; the wrong end: EBADF; socket calls: ENOTSOCK */
    assert_int_equal(read(p[0], b, sizeof(b)), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(write(p[0], "x", 1), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(read(p[1], b, 1), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(send(p[1], "x", 1, 0), -1);
    assert_int_equal(errno, ENOTSOCK);
    pf[0].fd = p[0];
    pf[0].events = POLLIN;
    pf[1].fd = p[1];
    pf[1].events = POLLOUT;
    assert_int_equal(poll(pf, 2, 0), 1);
    assert_int_equal(pf[0].revents, 0);
    assert_int_equal(pf[1].revents, POLLOUT);
    /* a write is readable at once; FIONREAD counts it */
    assert_int_equal(write(p[1], "hello", 5), 5);
    assert_int_equal(ioctl(p[0], FIONREAD, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(poll(pf, 1, 0), 1);
    assert_int_equal(pf[0].revents, POLLIN);
    assert_int_equal(read(p[0], b, sizeof(b)), 5);
    assert_memory_equal(b, "hello", 5);
    /* 64 KiB and no more; a small write is atomic */
    assert_int_equal(write(p[1], big, sizeof(big)), 65536);
    assert_int_equal(write(p[1], "x", 1), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(poll(pf + 1, 1, 0), 0);
    assert_int_equal(read(p[0], big, 100), 100);
    assert_int_equal(write(p[1], big, 200), -1); /* <= PIPE_BUF: all or nothing */
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(write(p[1], big, 5000), 100); /* > PIPE_BUF: what fits */
    assert_int_equal(fcntl(p[1], F_SETPIPE_SZ, 4096), -1);
    assert_int_equal(errno, EBUSY);
    while (read(p[0], big, sizeof(big)) > 0)
        ;
    assert_int_equal(fcntl(p[1], F_SETPIPE_SZ, 5000), 8192);
    assert_int_equal(fcntl(p[0], F_GETPIPE_SZ), 8192);
    /* the writer closes: the rest, then EOF, and POLLHUP */
    assert_int_equal(write(p[1], "end", 3), 3);
    assert_int_equal(close(p[1]), 0);
    assert_int_equal(poll(pf, 1, 0), 1);
    assert_int_equal(pf[0].revents, POLLIN | POLLHUP);
    assert_int_equal(read(p[0], b, sizeof(b)), 3);
    assert_int_equal(read(p[0], b, sizeof(b)), 0);
    assert_int_equal(close(p[0]), 0);
    /* the reader closes: EPIPE (SIGPIPE ignored) and POLLERR */
    assert_int_equal(pipe(p), 0);
    assert_int_equal(close(p[0]), 0);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &old);
    assert_int_equal(write(p[1], "x", 1), -1);
    assert_int_equal(errno, EPIPE);
    sigaction(SIGPIPE, &old, NULL);
    pf[1].fd = p[1];
    assert_int_equal(poll(pf + 1, 1, 0), 1);
    assert_int_equal(pf[1].revents, POLLOUT | POLLERR); /* pipe_poll: both */
    assert_int_equal(close(p[1]), 0);
    assert_int_equal(close(p[1]), -1); /* the number went back to the kernel */
    assert_int_equal(errno, EBADF);
}

static uv_timer_t wtimer;
static int wfd;
static char rbuf[64];
static char got[256];
static uint64_t got_at[8];
static int ngot;

static void write_later(uv_timer_t *t)
{
    const char *s = t->data;
    assert_int_equal(write(wfd, s, strlen(s)), (ssize_t)strlen(s));
}

static void on_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h, (void)n;
    *b = uv_buf_init(rbuf, sizeof(rbuf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n > 0) {
        strncat(got, b->base, (size_t)n);
        got_at[ngot++ & 7] = uv_now(s->loop);
    } else if (n == UV_EOF) {
        strcat(got, "|EOF");
        uv_close((uv_handle_t *)s, NULL);
    }
}

/* uv_pipe_open adopts the read end; a write at +100 ms is read at +100 ms. */
static void uv_pipe_open_reads_a_pipe_in_virtual_time(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t *loop = uv_default_loop();
    uv_pipe_t r;
    uint64_t t0 = uv_now(loop);
    int p[2];

    got[0] = '\0';
    ngot = 0;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(uv_pipe_init(loop, &r, 0), 0);
    assert_int_equal(uv_pipe_open(&r, p[0]), 0);
    assert_true(uv_is_readable((uv_stream_t *)&r));
    assert_false(uv_is_writable((uv_stream_t *)&r));
    assert_int_equal(uv_guess_handle(p[1]), UV_NAMED_PIPE);
    assert_int_equal(uv_read_start((uv_stream_t *)&r, on_alloc, on_read), 0);
    wfd = p[1];
    uv_timer_init(loop, &wtimer);
    wtimer.data = "ping";
    uv_timer_start(&wtimer, write_later, 100, 0);
    ah_advance(sim, 150);
    assert_string_equal(got, "ping");
    assert_int_equal(got_at[0] - t0, 100);
    close(p[1]);
    ah_run_until_idle(sim);
    assert_string_equal(got, "ping|EOF");
    uv_close((uv_handle_t *)&wtimer, NULL);
    ah_run_until_idle(sim);
}

/* A blocking read in the test body runs the sim until a timer writes. */
static void a_blocking_read_waits_in_virtual_time(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t *loop = uv_default_loop();
    char b[16];
    int p[2];

    assert_int_equal(pipe(p), 0);
    wfd = p[1];
    uv_timer_init(loop, &wtimer);
    wtimer.data = "late";
    uv_timer_start(&wtimer, write_later, 250, 0);
    assert_int_equal(read(p[0], b, sizeof(b)), 4);
    ah_assert_now_ms(sim, 250);
    close(p[0]);
    close(p[1]);
    uv_close((uv_handle_t *)&wtimer, NULL);
    ah_run_until_idle(sim);
}

static int tpipe[2];
static void sleeper_writes(void *arg)
{
    (void)arg;
    uv_sleep(300);
    assert_int_equal(write(tpipe[1], "T", 1), 1);
    uv_sleep(100);
    close(tpipe[1]);
}

static void blocked_reader(void *arg)
{
    char b[4];
    uint64_t *at = arg;

    assert_int_equal(read(tpipe[0], b, sizeof(b)), 1);
    at[0] = uv_hrtime() / 1000000;
    assert_int_equal(read(tpipe[0], b, sizeof(b)), 0); /* EOF when the writer closes */
    at[1] = uv_hrtime() / 1000000;
}

/* Per-thread waits: a thread blocked in read wakes when another thread writes, in virtual time. */
static void threads_block_on_a_pipe_in_virtual_time(void **state)
{
    ah_sim *sim = *state;
    uv_thread_t w, r;
    uint64_t at[2], t0 = uv_hrtime() / 1000000;

    assert_int_equal(pipe(tpipe), 0);
    assert_int_equal(uv_thread_create(&r, blocked_reader, at), 0);
    assert_int_equal(uv_thread_create(&w, sleeper_writes, NULL), 0);
    assert_int_equal(uv_thread_join(&w), 0);
    assert_int_equal(uv_thread_join(&r), 0);
    assert_int_equal(at[0] - t0, 300);
    assert_int_equal(at[1] - t0, 400);
    close(tpipe[0]);
    (void)sim;
}

/* ---- eventfd ---- */

static void an_eventfd_counts_as_linux(void **state)
{
    eventfd_t v;
    uint64_t u;
    int fd, sfd;
    struct pollfd pf;

    (void)state;
    fd = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_GETFD), FD_CLOEXEC);
    assert_int_equal(eventfd_write(fd, 4), 0);
    pf.fd = fd;
    pf.events = POLLIN | POLLOUT;
    assert_int_equal(poll(&pf, 1, 0), 1);
    assert_int_equal(pf.revents, POLLIN | POLLOUT);
    assert_int_equal(eventfd_read(fd, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(read(fd, &u, sizeof(u)), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(read(fd, &u, 4), -1); /* under 8 bytes */
    assert_int_equal(errno, EINVAL);
    u = UINT64_MAX;
    assert_int_equal(write(fd, &u, sizeof(u)), -1);
    assert_int_equal(errno, EINVAL);
    u = 0xfffffffffffffffeULL;
    assert_int_equal(write(fd, &u, sizeof(u)), 8);
    u = 1;
    assert_int_equal(write(fd, &u, sizeof(u)), -1); /* would pass the maximum */
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(uv_guess_handle(fd), UV_UNKNOWN_HANDLE);
    assert_int_equal(close(fd), 0);
    /* semaphore mode: one at a time */
    sfd = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    assert_int_equal(eventfd_read(sfd, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(eventfd_read(sfd, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(eventfd_read(sfd, &v), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(eventfd(0, 0x7), -1);
    assert_int_equal(errno, EINVAL);
    close(sfd);
}

static int efd;
static uint64_t poll_seen[8];
static int npoll;
static uv_poll_t eph;

static void on_efd(uv_poll_t *h, int status, int events)
{
    eventfd_t v;

    assert_int_equal(status, 0);
    assert_true(events & UV_READABLE);
    assert_int_equal(eventfd_read(efd, &v), 0);
    poll_seen[npoll++ & 7] = uv_now(h->loop) * 1000 + v;
}

static void bump_efd(uv_timer_t *t)
{
    assert_int_equal(eventfd_write(efd, (eventfd_t)(uintptr_t)t->data), 0);
}

/* uv_poll on an eventfd: each write from a timer is seen at its instant. */
static void uv_poll_watches_an_eventfd(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t *loop = uv_default_loop();
    uint64_t t0 = uv_now(loop);
    uv_timer_t t1, t2;

    npoll = 0;
    efd = eventfd(0, EFD_NONBLOCK);
    assert_int_equal(uv_poll_init(loop, &eph, efd), 0);
    assert_int_equal(uv_poll_start(&eph, UV_READABLE, on_efd), 0);
    uv_timer_init(loop, &t1);
    uv_timer_init(loop, &t2);
    t1.data = (void *)(uintptr_t)5;
    t2.data = (void *)(uintptr_t)9;
    uv_timer_start(&t1, bump_efd, 100, 0);
    uv_timer_start(&t2, bump_efd, 200, 0);
    ah_advance(sim, 300);
    assert_int_equal(npoll, 2);
    assert_int_equal(poll_seen[0], (t0 + 100) * 1000 + 5);
    assert_int_equal(poll_seen[1], (t0 + 200) * 1000 + 9);
    uv_close((uv_handle_t *)&eph, NULL);
    uv_close((uv_handle_t *)&t1, NULL);
    uv_close((uv_handle_t *)&t2, NULL);
    ah_run_until_idle(sim);
    close(efd);
}

/* ---- timerfd ---- */

static void a_timerfd_expires_in_virtual_time(void **state)
{
    ah_sim *sim = *state;
    struct itimerspec its, cur;
    uint64_t n;
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);

    assert_true(fd >= 0);
    assert_int_equal(read(fd, &n, sizeof(n)), -1);
    assert_int_equal(errno, EAGAIN);
    memset(&its, 0, sizeof(its));
    its.it_value.tv_nsec = 50 * 1000000;
    its.it_interval.tv_nsec = 20 * 1000000;
    assert_int_equal(timerfd_settime(fd, 0, &its, NULL), 0);
    ah_advance(sim, 30);
    assert_int_equal(timerfd_gettime(fd, &cur), 0);
    assert_int_equal(cur.it_value.tv_nsec, 20 * 1000000);
    assert_int_equal(read(fd, &n, sizeof(n)), -1);
    ah_advance(sim, 60); /* +90: expired at 50, 70, 90 */
    assert_int_equal(read(fd, &n, sizeof(n)), 8);
    assert_int_equal(n, 3);
    /* blocking read: waits for the next expiry, at +110 */
    fcntl(fd, F_SETFL, 0);
    assert_int_equal(read(fd, &n, sizeof(n)), 8);
    assert_int_equal(n, 1);
    ah_assert_now_ms(sim, 110);
    close(fd);
}

static int tfd;
static uint64_t tfd_seen[8];
static int ntfd;

static void on_tfd(uv_poll_t *h, int status, int events)
{
    uint64_t n;

    assert_int_equal(status, 0);
    assert_true(events & UV_READABLE);
    assert_int_equal(read(tfd, &n, sizeof(n)), 8);
    tfd_seen[ntfd++] = uv_now(h->loop) * 10 + n;
    if (ntfd == 3)
        uv_close((uv_handle_t *)h, NULL);
}

/* uv_poll on an interval timerfd: a callback at each expiry, at its exact instant; the loop ends
 * when the watcher is closed (the timer alone does not keep it alive). */
static void uv_poll_watches_a_timerfd(void **state)
{
    uv_loop_t *loop = uv_default_loop();
    uint64_t t0 = uv_now(loop);
    struct itimerspec its;
    uv_poll_t h;

    (void)state;
    ntfd = 0;
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    memset(&its, 0, sizeof(its));
    its.it_value.tv_nsec = 250 * 1000000;
    its.it_interval.tv_nsec = 100 * 1000000;
    assert_int_equal(timerfd_settime(tfd, 0, &its, NULL), 0);
    assert_int_equal(uv_poll_init(loop, &h, tfd), 0);
    assert_int_equal(uv_poll_start(&h, UV_READABLE, on_tfd), 0);
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(tfd_seen[0], (t0 + 250) * 10 + 1);
    assert_int_equal(tfd_seen[1], (t0 + 350) * 10 + 1);
    assert_int_equal(tfd_seen[2], (t0 + 450) * 10 + 1);
    close(tfd);
}

/* ---- EINTR ---- */

static int ipipe[2];
static volatile int handled;
static void on_usr1(int sig)
{
    (void)sig;
    handled++;
}

static void set_usr1(int flags)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    sigaction(SIGUSR1, &sa, NULL);
}

typedef struct intr_result {
    ssize_t r;
    int err;
    uint64_t at_ms;
    struct timespec rem;
} intr_result;

static void reader_thread(void *arg)
{
    intr_result *res = arg;
    char b[4];

    res->r = read(ipipe[0], b, sizeof(b));
    res->err = errno;
    res->at_ms = uv_hrtime() / 1000000;
}

static void poller_thread(void *arg)
{
    intr_result *res = arg;
    struct pollfd pf;

    pf.fd = ipipe[0];
    pf.events = POLLIN;
    res->r = poll(&pf, 1, 5000);
    res->err = errno;
    res->at_ms = uv_hrtime() / 1000000;
}

static void sleeper_thread(void *arg)
{
    intr_result *res = arg;
    struct timespec ts = {2, 0};

    res->r = nanosleep(&ts, &res->rem);
    res->err = errno;
    res->at_ms = uv_hrtime() / 1000000;
}

/* kill at +100 ms; with SA_RESTART the read goes on and takes the write at +200 ms. */
static void run_intr(void (*fn)(void *), int sa_flags, intr_result *res, uint64_t *t0)
{
    uv_thread_t t;

    memset(res, 0, sizeof(*res));
    handled = 0;
    set_usr1(sa_flags);
    assert_int_equal(pipe(ipipe), 0);
    *t0 = uv_hrtime() / 1000000;
    assert_int_equal(uv_thread_create(&t, fn, res), 0);
    uv_sleep(100);
    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    uv_sleep(100);
    assert_int_equal(write(ipipe[1], "x", 1), 1);
    assert_int_equal(uv_thread_join(&t), 0);
    assert_int_equal(handled, 1);
    close(ipipe[0]);
    close(ipipe[1]);
    signal(SIGUSR1, SIG_DFL);
}

static void a_signal_interrupts_a_blocked_read_unless_sa_restart(void **state)
{
    intr_result res;
    uint64_t t0;

    (void)state;
    run_intr(reader_thread, 0, &res, &t0);
    assert_int_equal(res.r, -1);
    assert_int_equal(res.err, EINTR);
    assert_int_equal(res.at_ms - t0, 100);
    run_intr(reader_thread, SA_RESTART, &res, &t0);
    assert_int_equal(res.r, 1);
    assert_int_equal(res.at_ms - t0, 200);
}

static void a_signal_interrupts_poll_even_with_sa_restart(void **state)
{
    intr_result res;
    uint64_t t0;

    (void)state;
    run_intr(poller_thread, SA_RESTART, &res, &t0);
    assert_int_equal(res.r, -1);
    assert_int_equal(res.err, EINTR);
    assert_int_equal(res.at_ms - t0, 100);
}

static void a_signal_interrupts_nanosleep_with_the_time_left(void **state)
{
    intr_result res;
    uint64_t t0;

    (void)state;
    run_intr(sleeper_thread, SA_RESTART, &res, &t0);
    assert_int_equal(res.r, -1);
    assert_int_equal(res.err, EINTR);
    assert_int_equal(res.at_ms - t0, 100);
    assert_int_equal(res.rem.tv_sec, 1);
    assert_int_equal(res.rem.tv_nsec, 900000000L);
}

static sem_t isem;
static void sem_thread(void *arg)
{
    intr_result *res = arg;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 2;
    res->r = sem_timedwait(&isem, &ts);
    res->err = errno;
    res->at_ms = uv_hrtime() / 1000000;
}

static pthread_mutex_t imu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t icv = PTHREAD_COND_INITIALIZER;
static void cond_thread(void *arg)
{
    intr_result *res = arg;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 300000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&imu);
    res->r = pthread_cond_timedwait(&icv, &imu, &ts);
    pthread_mutex_unlock(&imu);
    res->at_ms = uv_hrtime() / 1000000;
}

/* sem_timedwait returns EINTR when a handler runs, SA_RESTART or not (signal(7)); a
 * pthread_cond_timedwait is not interrupted and times out at its deadline (POSIX). */
static void a_signal_interrupts_sem_timedwait_but_not_a_condition_wait(void **state)
{
    intr_result res;
    uint64_t t0;

    (void)state;
    assert_int_equal(sem_init(&isem, 0, 0), 0);
    run_intr(sem_thread, SA_RESTART, &res, &t0);
    assert_int_equal(res.r, -1);
    assert_int_equal(res.err, EINTR);
    assert_int_equal(res.at_ms - t0, 100);
    assert_int_equal(sem_destroy(&isem), 0);
    run_intr(cond_thread, 0, &res, &t0);
    assert_int_equal(res.r, ETIMEDOUT);
    assert_int_equal(res.at_ms - t0, 300);
}

/* pthread_kill of a thread is a simulated signal too: a real SIGUSR1 would end the process. */
static void pthread_kill_is_a_simulated_signal(void **state)
{
    intr_result res;
    uv_thread_t t;
    uint64_t t0;

    (void)state;
    memset(&res, 0, sizeof(res));
    handled = 0;
    set_usr1(0);
    assert_int_equal(pipe(ipipe), 0);
    t0 = uv_hrtime() / 1000000;
    assert_int_equal(uv_thread_create(&t, reader_thread, &res), 0);
    uv_sleep(100);
    assert_int_equal(pthread_kill(t, 0), 0);
    assert_int_equal(pthread_kill(t, SIGUSR1), 0);
    assert_int_equal(pthread_kill(t, 99), EINVAL);
    assert_int_equal(uv_thread_join(&t), 0);
    assert_int_equal(handled, 1);
    assert_int_equal(res.r, -1);
    assert_int_equal(res.err, EINTR);
    assert_int_equal(res.at_ms - t0, 100);
    close(ipipe[0]);
    close(ipipe[1]);
    signal(SIGUSR1, SIG_DFL);
}

/* libuv's eintr_handling: a uv_signal_t watches SIGUSR1 (libuv's handler has SA_RESTART); a thread
 * signals the process and then writes a pipe that the test's thread reads with a synchronous
 * uv_fs_read. */
static uv_signal_t usr1;
static void usr1_cb(uv_signal_t *h, int signum)
{
    (void)signum;
    uv_signal_stop(h);
}

static void kill_then_write(void *arg)
{
    ssize_t n;

    (void)arg;
    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    do
        n = write(ipipe[1], "test-buffer\n", 12);
    while (n == -1 && errno == EINTR);
    assert_int_equal(n, 12);
}

static void uv_fs_read_of_a_pipe_survives_a_signal(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t *loop = uv_default_loop();
    uv_thread_t t;
    uv_fs_t req;
    char b[32] = {0};
    uv_buf_t iov = uv_buf_init(b, sizeof(b));

    assert_int_equal(uv_signal_init(loop, &usr1), 0);
    assert_int_equal(uv_signal_start(&usr1, usr1_cb, SIGUSR1), 0);
    assert_int_equal(pipe(ipipe), 0);
    assert_int_equal(uv_thread_create(&t, kill_then_write, NULL), 0);
    assert_int_equal(uv_fs_read(loop, &req, ipipe[0], &iov, 1, -1, NULL), 12);
    uv_fs_req_cleanup(&req);
    assert_string_equal(b, "test-buffer\n");
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_thread_join(&t), 0);
    close(ipipe[0]);
    close(ipipe[1]);
    uv_close((uv_handle_t *)&usr1, NULL);
    ah_run_until_idle(sim);
}

static int usr1_calls;
static void usr1_count_stop(uv_signal_t *h, int signum)
{
    (void)signum;
    usr1_calls++;
    uv_signal_stop(h);
}

static void kill_twice_then_write(void *arg)
{
    (void)arg;
    uv_sleep(10);
    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    uv_sleep(10);
    assert_int_equal(kill(getpid(), SIGUSR1), 0); /* the handle must still watch it */
    uv_sleep(10);
    assert_int_equal(write(ipipe[1], "x", 1), 1);
}

/* libuv's fs_partial_read: the loop of the test's blocked thread does not run its signal
 * callbacks until the call returns, so a callback that stops its handle cannot leave the next
 * signal to its default action. */
static void a_signal_callback_waits_for_the_blocked_call_to_return(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t *loop = uv_default_loop();
    uv_thread_t t;
    uv_signal_t h;
    char b[4];

    usr1_calls = 0;
    assert_int_equal(uv_signal_init(loop, &h), 0);
    assert_int_equal(uv_signal_start(&h, usr1_count_stop, SIGUSR1), 0);
    assert_int_equal(pipe(ipipe), 0);
    assert_int_equal(uv_thread_create(&t, kill_twice_then_write, NULL), 0);
    assert_int_equal(read(ipipe[0], b, sizeof(b)), 1); /* SA_RESTART: goes on waiting */
    ah_assert_now_ms(sim, 30);
    assert_int_equal(usr1_calls, 0);
    assert_int_equal(uv_thread_join(&t), 0);
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0); /* both signals, one callback */
    assert_int_equal(usr1_calls, 1);
    close(ipipe[0]);
    close(ipipe[1]);
    uv_close((uv_handle_t *)&h, NULL);
    ah_run_until_idle(sim);
}

static int epipe_status = 1;
static void on_big_write(uv_write_t *req, int status)
{
    epipe_status = status;
    uv_close((uv_handle_t *)req->handle, NULL);
}

/* libuv's signal_pending_on_close: on a loop of its own, a uv_write bigger than the pipe waits for
 * room; the read end closes meanwhile, and the write fails with EPIPE. Before, the pipe's reset
 * was an event of the default loop, which nobody ran: the write waited forever. */
static void a_queued_write_fails_when_the_reader_closes(void **state)
{
    ah_sim *sim = *state;
    static char big[1 << 24]; /* as libuv's test: more than the sim's stream window too */
    static uv_loop_t loop;    /* static, as libuv's: the sim's teardown still looks at it */
    static uv_pipe_t w;
    static uv_write_t req;
    uv_buf_t b = uv_buf_init(big, sizeof(big));
    int p[2];

    (void)sim;
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(uv_pipe_init(&loop, &w, 0), 0);
    assert_int_equal(uv_pipe_open(&w, p[1]), 0);
    assert_int_equal(uv_write(&req, (uv_stream_t *)&w, &b, 1, on_big_write), 0);
    assert_int_equal(close(p[0]), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(epipe_status, UV_EPIPE);
    assert_int_equal(uv_loop_close(&loop), 0);
    signal(SIGPIPE, SIG_DFL);
}

/* ---- duplicates (fd/dup.c) ---- */

static void a_duplicate_is_the_same_open_object(void **state)
{
    ah_sim *sim = *state;
    int p[2], d, r2, e, n;
    char b[8];
    struct pollfd pf;

    (void)sim;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(fcntl(p[1], F_SETFD, FD_CLOEXEC), 0);
    d = dup(p[1]);
    assert_true(d >= 0);
    assert_int_equal(fcntl(d, F_GETFD), 0); /* FD_CLOEXEC is the number's own */
    assert_int_equal(fcntl(p[1], F_GETFD), FD_CLOEXEC);
    assert_int_equal(fcntl(d, F_GETFL) & O_ACCMODE, O_WRONLY);
    assert_int_equal(write(d, "ab", 2), 2);
    assert_int_equal(read(p[0], b, sizeof(b)), 2);
    /* O_NONBLOCK is the open object's: set through one number, seen through the other */
    assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    /* one write end closed, its duplicate open: no end of file yet */
    assert_int_equal(close(p[1]), 0);
    assert_int_equal(read(p[0], b, sizeof(b)), -1);
    assert_int_equal(errno, EAGAIN);
    pf.fd = p[0];
    pf.events = POLLIN;
    assert_int_equal(poll(&pf, 1, 0), 0);
    assert_int_equal(write(d, "c", 1), 1);
    assert_int_equal(close(d), 0);
    assert_int_equal(read(p[0], b, sizeof(b)), 1); /* what was written comes first */
    assert_int_equal(read(p[0], b, sizeof(b)), 0); /* then end of file */
    assert_int_equal(poll(&pf, 1, 0), 1);
    assert_true(pf.revents & POLLHUP);

    /* F_DUPFD and F_DUPFD_CLOEXEC from a minimum; a reader's duplicate keeps writes going */
    r2 = fcntl(p[0], F_DUPFD_CLOEXEC, 100);
    assert_true(r2 >= 100);
    assert_int_equal(fcntl(r2, F_GETFD), FD_CLOEXEC);
    n = fcntl(p[0], F_DUPFD, 200);
    assert_true(n >= 200);
    assert_int_equal(fcntl(n, F_GETFD), 0);
    assert_int_equal(fcntl(p[0], F_DUPFD, -1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(close(n), 0);
    assert_int_equal(close(p[0]), 0);
    assert_int_equal(close(r2), 0);

    /* dup2 and dup3: onto itself, bad flags, onto another fake object (closed silently) */
    assert_int_equal(pipe(p), 0);
    assert_int_equal(dup2(p[0], p[0]), p[0]);
    assert_int_equal(dup3(p[0], p[0], 0), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(dup3(p[0], 300, O_NONBLOCK), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(dup2(p[0], -1), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(dup(987654), -1);
    assert_int_equal(errno, EBADF);
    e = eventfd(0, 0);
    assert_int_equal(dup3(p[0], e, O_CLOEXEC), e); /* the eventfd is closed, e reads the pipe */
    assert_int_equal(fcntl(e, F_GETFD), FD_CLOEXEC);
    assert_int_equal(write(p[1], "z", 1), 1);
    assert_int_equal(read(e, b, 1), 1); /* an eventfd would say EINVAL for 1 byte */
    assert_int_equal(b[0], 'z');
    /* dup2 of a real descriptor onto the write end: the pipe loses its writer */
    n = open("/dev/null", O_RDONLY);
    assert_true(n >= 0);
    assert_int_equal(dup2(n, p[1]), p[1]);
    assert_int_equal(close(e), 0);
    assert_int_equal(read(p[0], b, 1), 0);
    assert_int_equal(close(p[0]), 0);
    assert_int_equal(close(p[1]), 0); /* the real /dev/null now */
    assert_int_equal(close(n), 0);
}

static int dup_reads;
static uint64_t dup_read_ms;
static void on_dup_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if (n > 0) {
        dup_reads += (int)n;
        dup_read_ms = uv_now(s->loop);
    } else if (n < 0) {
        assert_int_equal(n, UV_EOF);
        uv_close((uv_handle_t *)s, NULL);
    }
}

static int dup_w;
static void write_dup_later(uv_timer_t *t)
{
    assert_int_equal(write(dup_w, "hi", 2), 2);
    assert_int_equal(close(dup_w), 0);
    uv_close((uv_handle_t *)t, NULL);
}

static void uv_pipe_open_adopts_a_duplicate(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t *loop = uv_default_loop();
    uv_pipe_t h;
    uv_timer_t t;
    uint64_t t0 = uv_now(loop);
    int p[2], d;

    assert_int_equal(pipe(p), 0);
    d = dup(p[0]);
    assert_int_equal(uv_pipe_init(loop, &h, 0), 0);
    assert_int_equal(uv_pipe_open(&h, d), 0);
    assert_int_equal(close(p[0]), 0); /* the original goes; the handle's number stays */
    dup_w = dup(p[1]);
    assert_int_equal(close(p[1]), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&h, on_alloc, on_dup_read), 0);
    assert_int_equal(uv_timer_init(loop, &t), 0);
    assert_int_equal(uv_timer_start(&t, write_dup_later, 100, 0), 0);
    ah_run_until_idle(sim);
    assert_int_equal(dup_reads, 2);
    assert_int_equal(dup_read_ms - t0, 100);
}

static int dt_pipe[2], dt_dup;
static void dup_writer(void *arg)
{
    (void)arg;
    uv_sleep(300);
    assert_int_equal(write(dt_dup, "x", 1), 1);
    uv_sleep(100);
    assert_int_equal(close(dt_pipe[1]), 0); /* one number of the write end: no EOF yet */
    uv_sleep(100);
    assert_int_equal(close(dt_dup), 0); /* the last one */
}

static void dup_reader(void *arg)
{
    uint64_t *at = arg;
    char b[4];

    assert_int_equal(read(dt_pipe[0], b, sizeof(b)), 1);
    at[0] = uv_hrtime() / 1000000;
    assert_int_equal(read(dt_pipe[0], b, sizeof(b)), 0);
    at[1] = uv_hrtime() / 1000000;
}

/* A thread blocked reading a pipe sees end of file when the last duplicate of the write end
 * closes, not the first. */
static void a_thread_blocks_until_every_writer_is_closed(void **state)
{
    ah_sim *sim = *state;
    uv_thread_t w, r;
    uint64_t at[2], t0 = uv_hrtime() / 1000000;

    (void)sim;
    assert_int_equal(pipe(dt_pipe), 0);
    dt_dup = dup(dt_pipe[1]);
    assert_int_equal(uv_thread_create(&r, dup_reader, at), 0);
    assert_int_equal(uv_thread_create(&w, dup_writer, NULL), 0);
    assert_int_equal(uv_thread_join(&w), 0);
    assert_int_equal(uv_thread_join(&r), 0);
    assert_int_equal(at[0] - t0, 300);
    assert_int_equal(at[1] - t0, 500);
    assert_int_equal(close(dt_pipe[0]), 0);
}

static void writes_then_closes(void *arg)
{
    (void)arg;
    uv_sleep(300);
    assert_int_equal(write(dt_pipe[1], "x", 1), 1);
    assert_int_equal(close(dt_pipe[1]), 0);
}

/* The test's thread blocks in read while a simulated thread sleeps, writes and ends: the read
 * returns at +300 ms (before, the sim saw every thread gone and reported a deadlock without
 * looking at the read again). */
static void the_test_thread_reads_what_a_thread_wrote_before_ending(void **state)
{
    ah_sim *sim = *state;
    uv_thread_t t;
    char b[4];
    uint64_t t0 = uv_hrtime();

    (void)sim;
    assert_int_equal(pipe(dt_pipe), 0);
    assert_int_equal(uv_thread_create(&t, writes_then_closes, NULL), 0);
    assert_int_equal(read(dt_pipe[0], b, sizeof(b)), 1);
    assert_int_equal(read(dt_pipe[0], b, sizeof(b)), 0);
    assert_int_equal((uv_hrtime() - t0) / 1000000, 300);
    assert_int_equal(uv_thread_join(&t), 0);
    assert_int_equal(close(dt_pipe[0]), 0);
}

/* ---- message socketpairs (fd/unixdgram.c) ---- */

static int mp[2];
static void sends_later(void *arg)
{
    (void)arg;
    uv_sleep(100);
    assert_int_equal(send(mp[1], "one", 3, 0), 3);
    assert_int_equal(send(mp[1], "two!", 4, 0), 4);
}

/* A thread's blocking recv on a SOCK_SEQPACKET pair takes whole messages at the virtual instant
 * they are sent; the test's thread waits for them in a blocking recv too. */
static void a_message_pair_keeps_boundaries_in_virtual_time(void **state)
{
    ah_sim *sim = *state;
    uv_thread_t t;
    char b[16];
    uint64_t t0 = uv_hrtime();
    int v;
    socklen_t len = sizeof(v);

    (void)sim;
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, mp), 0);
    assert_int_equal(getsockopt(mp[0], SOL_SOCKET, SO_TYPE, &v, &len), 0);
    assert_int_equal(v, SOCK_SEQPACKET);
    assert_int_equal(uv_thread_create(&t, sends_later, NULL), 0);
    assert_int_equal(uv_thread_join(&t), 0);
    assert_int_equal(recv(mp[0], b, sizeof(b), 0), 3);
    assert_int_equal((uv_hrtime() - t0) / 1000000, 100);
    assert_int_equal(recv(mp[0], b, 2, 0), 2); /* cut at the buffer: the rest is dropped */
    assert_int_equal(close(mp[1]), 0);
    assert_int_equal(recv(mp[0], b, sizeof(b), 0), 0); /* SOCK_SEQPACKET: end of file */
    assert_int_equal(close(mp[0]), 0);
}

static int drained_at;
static void drains_later(void *arg)
{
    char b[2048];
    (void)arg;
    uv_sleep(250);
    assert_int_equal(recv(mp[0], b, sizeof(b), 0), 1000);
    drained_at = (int)(uv_hrtime() / 1000000);
}

/* A blocking send on a full SOCK_DGRAM pair waits until the reader takes a message. */
static void a_send_on_a_full_message_pair_waits_for_the_reader(void **state)
{
    ah_sim *sim = *state;
    uv_thread_t t;
    static char b[1000];
    int n = 0, t0 = (int)(uv_hrtime() / 1000000);

    (void)sim;
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, mp), 0);
    while (send(mp[1], b, sizeof(b), MSG_DONTWAIT) == (ssize_t)sizeof(b))
        n++;
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(n, 93); /* 212992 bytes of send buffer, 2304 charged per message */
    assert_int_equal(uv_thread_create(&t, drains_later, NULL), 0);
    assert_int_equal(send(mp[1], b, sizeof(b), 0), (ssize_t)sizeof(b)); /* waits for the reader */
    assert_int_equal((int)(uv_hrtime() / 1000000) - t0, 250);
    assert_int_equal(uv_thread_join(&t), 0);
    assert_int_equal(drained_at - t0, 250);
    assert_int_equal(close(mp[0]), 0);
    assert_int_equal(send(mp[1], "x", 1, 0), -1); /* the peer went: refused, then not connected */
    assert_int_equal(errno, ECONNREFUSED);
    assert_int_equal(send(mp[1], "x", 1, 0), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_int_equal(close(mp[1]), 0);
}

static int dgram_polls;
static void on_dgram(uv_poll_t *h, int status, int events)
{
    char b[16];
    assert_int_equal(status, 0);
    assert_true(events & UV_READABLE);
    assert_int_equal(recv(mp[0], b, sizeof(b), 0), 5);
    if (++dgram_polls == 2)
        uv_close((uv_handle_t *)h, NULL);
}

static void send_dgram(uv_timer_t *t)
{
    assert_int_equal(send(mp[1], "hello", 5, 0), 5);
    if (dgram_polls == 1)
        uv_close((uv_handle_t *)t, NULL);
}

static void uv_poll_watches_a_message_pair(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t *loop = uv_default_loop();
    uv_poll_t p;
    uv_timer_t t;

    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, mp), 0);
    assert_int_equal(uv_poll_init(loop, &p, mp[0]), 0);
    assert_int_equal(uv_poll_start(&p, UV_READABLE, on_dgram), 0);
    assert_int_equal(uv_timer_init(loop, &t), 0);
    assert_int_equal(uv_timer_start(&t, send_dgram, 100, 100), 0);
    ah_run_until_idle(sim);
    assert_int_equal(dgram_polls, 2);
    ah_assert_now_ms(sim, 200);
    close(mp[0]);
    close(mp[1]);
}

/* ---- signalfd (fd/signalfd.c) ---- */

static void block_usr(int how)
{
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    sigaddset(&m, SIGUSR2);
    assert_int_equal(pthread_sigmask(how, &m, NULL), 0);
}

static void kill_later(uv_timer_t *t)
{
    assert_int_equal(kill(getpid(), SIGUSR2), 0);
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(kill(getpid(), SIGUSR2), 0); /* a standard signal pending already: coalesces */
    uv_close((uv_handle_t *)t, NULL);
}

/* Blocked signals sent at +100 ms are read from a signalfd at +100 ms, lowest number first, with
 * the sender's pid and code; a signal the mask leaves out is not taken. */
static void a_signalfd_reads_blocked_signals_in_virtual_time(void **state)
{
    ah_sim *sim = *state;
    uv_timer_t t;
    struct signalfd_siginfo si[4];
    sigset_t m;
    uint64_t t0 = uv_hrtime();
    int fd;

    (void)sim;
    block_usr(SIG_BLOCK);
    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    sigaddset(&m, SIGUSR2);
    fd = signalfd(-1, &m, SFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_GETFD), FD_CLOEXEC);
    assert_int_equal(read(fd, si, 8), -1); /* under one siginfo */
    assert_int_equal(errno, EINVAL);
    assert_int_equal(uv_timer_init(uv_default_loop(), &t), 0);
    assert_int_equal(uv_timer_start(&t, kill_later, 100, 0), 0);
    assert_int_equal(read(fd, si, sizeof(si)), 2 * (int)sizeof(si[0])); /* waits for the timer */
    assert_int_equal((uv_hrtime() - t0) / 1000000, 100);
    assert_int_equal(si[0].ssi_signo, SIGUSR1);
    assert_int_equal(si[0].ssi_code, SI_TKILL);
    assert_int_equal(si[0].ssi_pid, getpid());
    assert_int_equal(si[1].ssi_signo, SIGUSR2);
    assert_int_equal(si[1].ssi_code, SI_USER);
    /* signalfd(fd, ...) changes the mask; non-blocking: EAGAIN */
    sigdelset(&m, SIGUSR2);
    assert_int_equal(signalfd(fd, &m, 0), fd);
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(read(fd, si, sizeof(si)), -1);
    assert_int_equal(errno, EAGAIN);
    ah_run_until_idle(sim);
    assert_int_equal(close(fd), 0);
    block_usr(SIG_UNBLOCK);
}

static int sfd_polls;
static int sfd_fd;
static void on_sfd(uv_poll_t *h, int status, int events)
{
    struct signalfd_siginfo si;
    assert_int_equal(status, 0);
    assert_true(events & UV_READABLE);
    assert_int_equal(read(sfd_fd, &si, sizeof(si)), (int)sizeof(si));
    assert_int_equal(si.ssi_signo, SIGUSR1);
    sfd_polls++;
    uv_close((uv_handle_t *)h, NULL);
}

static void signal_from_outside(uv_timer_t *t)
{
    ah_signal_raise(uv_handle_get_data((uv_handle_t *)t), SIGUSR1);
    uv_close((uv_handle_t *)t, NULL);
}

static void uv_poll_watches_a_signalfd(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t *loop = uv_default_loop();
    uv_poll_t p;
    uv_timer_t t;
    sigset_t m;

    block_usr(SIG_BLOCK);
    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    sfd_fd = signalfd(-1, &m, SFD_NONBLOCK);
    assert_int_equal(uv_poll_init(loop, &p, sfd_fd), 0);
    assert_int_equal(uv_poll_start(&p, UV_READABLE, on_sfd), 0);
    assert_int_equal(uv_timer_init(loop, &t), 0);
    uv_handle_set_data((uv_handle_t *)&t, sim);
    assert_int_equal(uv_timer_start(&t, signal_from_outside, 250, 0), 0);
    ah_run_until_idle(sim);
    assert_int_equal(sfd_polls, 1);
    ah_assert_now_ms(sim, 250);
    close(sfd_fd);
    block_usr(SIG_UNBLOCK);
}

/* ---- a blocking write of up to PIPE_BUF bytes waits for room for all of it ---- */

static int pb_pipe[2];
static int pb_wrote_at;
static void writes_1000(void *arg)
{
    static char b[1000];
    (void)arg;
    assert_int_equal(write(pb_pipe[1], b, sizeof(b)), (ssize_t)sizeof(b)); /* 500 free: waits */
    pb_wrote_at = (int)(uv_hrtime() / 1000000);
}

/* libuv's fs_partial_read: a thread's 1000-byte write to a pipe with less room than that. */
static void a_small_write_waits_for_room_for_all_of_it(void **state)
{
    ah_sim *sim = *state;
    static char b[65536];
    uv_thread_t t;
    size_t got = 0;
    ssize_t n;
    int t0 = (int)(uv_hrtime() / 1000000);

    (void)sim;
    assert_int_equal(pipe(pb_pipe), 0);
    assert_int_equal(write(pb_pipe[1], b, sizeof(b) - 500), (ssize_t)(sizeof(b) - 500));
    assert_int_equal(uv_thread_create(&t, writes_1000, NULL), 0);
    uv_sleep(50);
    assert_int_equal(read(pb_pipe[0], b, 400), 400); /* 900 free: still too little */
    uv_sleep(50);
    assert_int_equal(read(pb_pipe[0], b, 400), 400); /* 1300 free: the write goes in */
    assert_int_equal(uv_thread_join(&t), 0);
    assert_int_equal(pb_wrote_at - t0, 100);
    assert_int_equal(close(pb_pipe[1]), 0);
    while ((n = read(pb_pipe[0], b, sizeof(b))) > 0)
        got += (size_t)n;
    assert_int_equal(got, sizeof(b) - 500 - 800 + 1000);
    assert_int_equal(close(pb_pipe[0]), 0);
}

/* ---- uv_stream_set_blocking on an adopted socketpair (libuv's pipe_set_non_blocking) ---- */

static int bw_fd;
static size_t bw_read;
static void bw_reader(void *arg)
{
    char b[4096];
    ssize_t n;
    (void)arg;
    uv_sleep(100); /* the writer fills the kernel's buffers and waits */
    while ((n = read(bw_fd, b, sizeof(b))) > 0)
        bw_read += (size_t)n;
    assert_int_equal(n, 0);
}

static void blocking_try_write_body(ah_sim *sim, void *ctx)
{
    uv_pipe_t p;
    uv_thread_t t;
    static char data[4096];
    uv_buf_t buf = uv_buf_init(data, sizeof(data));
    size_t written = 0;
    int fd[2];

    assert_int_equal(uv_pipe_init(uv_default_loop(), &p, 0), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
    assert_int_equal(uv_pipe_open(&p, fd[1]), 0);
    assert_int_equal(uv_stream_set_blocking((uv_stream_t *)&p, 1), 0);
    bw_fd = fd[0];
    bw_read = 0;
    if (ctx != NULL) /* the twin: a thread reads; planted: nobody does */
        assert_int_equal(uv_thread_create(&t, bw_reader, NULL), 0);
    while (written < (6u << 20)) { /* more than the kernel's buffers hold */
        assert_int_equal(uv_try_write((uv_stream_t *)&p, &buf, 1), (int)sizeof(data));
        written += sizeof(data);
    }
    uv_close((uv_handle_t *)&p, NULL);
    assert_int_equal(uv_run(uv_default_loop(), UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_thread_join(&t), 0);
    assert_int_equal(bw_read, 6u << 20);
    ah_assert_now_ms(sim, 100); /* the writer waited for the reader's first read */
    assert_int_equal(close(fd[0]), 0);
}

static uv_pipe_t bcb_pipe;
static void try_write_full(uv_timer_t *t)
{
    static char data[65536];
    uv_buf_t buf = uv_buf_init(data, sizeof(data));
    int i;

    uv_close((uv_handle_t *)t, NULL);
    /* 64 MiB into the 4 MiB window: planted, nobody reads, and the wait is the loop's own */
    for (i = 0; i < 1024; i++)
        assert_int_equal(uv_try_write((uv_stream_t *)&bcb_pipe, &buf, 1), (int)sizeof(data));
}

static void blocking_try_write_in_callback_body(ah_sim *sim, void *ctx)
{
    static uv_timer_t t;
    int fd[2];

    assert_int_equal(uv_pipe_init(uv_default_loop(), &bcb_pipe, 0), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
    assert_int_equal(uv_pipe_open(&bcb_pipe, fd[1]), 0);
    assert_int_equal(uv_stream_set_blocking((uv_stream_t *)&bcb_pipe, ctx == NULL), 0);
    assert_int_equal(uv_timer_init(uv_default_loop(), &t), 0);
    if (ctx == NULL) {
        assert_int_equal(uv_timer_start(&t, try_write_full, 10, 0), 0);
    } else { /* the twin: non-blocking, the window's end is UV_EAGAIN */
        static char data[65536];
        uv_buf_t buf = uv_buf_init(data, sizeof(data));
        int i;
        for (i = 0; i < 64; i++)
            assert_int_equal(uv_try_write((uv_stream_t *)&bcb_pipe, &buf, 1), (int)sizeof(data));
        assert_int_equal(uv_try_write((uv_stream_t *)&bcb_pipe, &buf, 1), UV_EAGAIN);
        uv_close((uv_handle_t *)&t, NULL);
    }
    ah_run_until_idle(sim);
    uv_close((uv_handle_t *)&bcb_pipe, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(close(fd[0]), 0);
}

static void a_blocking_uv_try_write_in_a_callback_is_named(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, blocking_try_write_in_callback_body, NULL, "inside a loop callback");
    ah_assert_passes(NULL, blocking_try_write_in_callback_body, "non-blocking");
}

static void uv_try_write_in_blocking_mode_waits_for_room(void **state)
{
    (void)state;
    ah_assert_passes(NULL, blocking_try_write_body, "reads");
}

static void a_blocking_uv_try_write_nobody_reads_is_a_deadlock(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, blocking_try_write_body, NULL, "uv_try_write on uv_pipe_t");
}

/* ---- planted misuse beside correct twins ---- */

static void read_unwritten_pipe_body(ah_sim *sim, void *ctx)
{
    int p[2];
    char b[4];

    (void)sim;
    assert_int_equal(pipe(p), 0);
    if (ctx != NULL) { /* the twin: someone writes */
        assert_int_equal(write(p[1], "x", 1), 1);
    }
    assert_int_equal(read(p[0], b, sizeof(b)), 1); /* planted: nobody will write */
    close(p[0]);
    close(p[1]);
}

static void a_read_on_a_pipe_nobody_writes_is_a_deadlock(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, read_unwritten_pipe_body, NULL, "read on the read end of pipe");
    ah_assert_passes(NULL, read_unwritten_pipe_body, "writes");
}

static int dl_pipe[2];
static void thread_reads_forever(void *arg)
{
    char b[4];
    (void)arg;
    (void)read(dl_pipe[0], b, sizeof(b));
}

static void thread_read_unwritten_body(ah_sim *sim, void *ctx)
{
    uv_thread_t t;

    (void)sim;
    assert_int_equal(pipe(dl_pipe), 0);
    assert_int_equal(uv_thread_create(&t, thread_reads_forever, NULL), 0);
    if (ctx != NULL)
        assert_int_equal(write(dl_pipe[1], "x", 1), 1);
    uv_thread_join(&t); /* planted without ctx: the thread waits forever */
    close(dl_pipe[0]);
    close(dl_pipe[1]);
}

static void a_thread_reading_a_pipe_nobody_writes_is_a_deadlock(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, thread_read_unwritten_body, NULL,
                         "blocked in read on the read end of pipe");
    ah_assert_passes(NULL, thread_read_unwritten_body, "writes");
}

static void write_closed_eventfd_body(ah_sim *sim, void *ctx)
{
    int fd = eventfd(0, 0);
    int closed_first = ctx == NULL;

    (void)sim;
    if (closed_first)
        close(fd);
    /* planted: a write to a closed eventfd is EBADF, as the kernel's */
    if (eventfd_write(fd, 1) != 0)
        ah_fail(sim, "eventfd_write: %s", strerror(errno));
    if (!closed_first)
        close(fd);
}

static void a_write_to_a_closed_eventfd_is_ebadf(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, write_closed_eventfd_body, NULL,
                         "eventfd_write: Bad file descriptor");
    ah_assert_passes(NULL, write_closed_eventfd_body, "open");
}

static void sigpipe_body(ah_sim *sim, void *ctx)
{
    int p[2];

    (void)sim;
    assert_int_equal(pipe(p), 0);
    if (ctx == NULL)
        close(p[0]);
    signal(SIGPIPE, SIG_DFL);
    (void)write(p[1], "x", 1); /* planted: nobody reads, and SIGPIPE would kill */
    if (ctx != NULL)
        close(p[0]);
    close(p[1]);
}

static void a_write_to_a_pipe_without_reader_raises_sigpipe(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, sigpipe_body, NULL, "Linux raises SIGPIPE");
    ah_assert_passes(NULL, sigpipe_body, "reader");
}

static void unclosed_pipe_body(ah_sim *sim, void *ctx)
{
    int p[2];

    (void)sim;
    assert_int_equal(pipe(p), 0);
    close(p[1]);
    if (ctx != NULL)
        close(p[0]);
}

static void a_pipe_never_closed_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, unclosed_pipe_body, NULL, "the read end of pipe");
    ah_assert_passes(NULL, unclosed_pipe_body, "closes");
}

static void dup_writer_left_body(ah_sim *sim, void *ctx)
{
    int p[2], d;
    char b[4];

    (void)sim;
    assert_int_equal(pipe(p), 0);
    d = dup(p[1]);
    close(p[1]);
    if (ctx != NULL) /* the twin closes every number of the write end */
        close(d);
    assert_int_equal(read(p[0], b, sizeof(b)), 0); /* planted: the duplicate still writes */
    close(p[0]);
    if (ctx == NULL)
        close(d);
}

static void eof_waits_for_every_duplicate_of_the_writer(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, dup_writer_left_body, NULL, "read on the read end of pipe");
    ah_assert_passes(NULL, dup_writer_left_body, "closes both");
}

/* libuv's iouring_pollhup: a duplicate of an adopted pipe's read end, made after the adoption,
 * keeps the pipe open after the handle closed; the handle still sees the end of file when the
 * writer goes. Reading through the duplicate (planted) acts behind libuv's back: named. */
static int dup_h_eof;
static void dup_h_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if (n == UV_EOF) {
        dup_h_eof++;
        uv_close((uv_handle_t *)s, NULL);
    }
}

static void dup_of_handle_body(ah_sim *sim, void *ctx)
{
    uv_pipe_t h;
    int p[2], d = -1;
    char c;

    dup_h_eof = 0;
    assert_int_equal(pipe(p), 0);
    if (ctx != NULL && strcmp(ctx, "before") == 0)
        d = dup(p[0]);
    assert_int_equal(uv_pipe_init(uv_default_loop(), &h, 0), 0);
    assert_int_equal(uv_pipe_open(&h, p[0]), 0);
    if (d < 0)
        d = dup(p[0]); /* as iouring_pollhup */
    assert_true(d >= 0);
    if (ctx == NULL)
        (void)read(d, &c, 1); /* planted: behind libuv's back */
    assert_int_equal(uv_read_start((uv_stream_t *)&h, on_alloc, dup_h_read), 0);
    assert_int_equal(close(p[1]), 0);
    ah_run_until_idle(sim);
    assert_int_equal(dup_h_eof, 1);
    assert_int_equal(close(d), 0); /* the last number of the read end */
    assert_int_equal(close(d), -1);
    ah_run_until_idle(sim);
}

static void a_dup_of_a_handles_descriptor_is_closable_and_named_when_used(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, dup_of_handle_body, NULL,
                         "the descriptor is the socket of uv_pipe_t #1");
    ah_assert_passes(NULL, dup_of_handle_body, "before");
    ah_assert_passes(NULL, dup_of_handle_body, "after");
}

static void dup_left_open_body(ah_sim *sim, void *ctx)
{
    int p[2], d;

    (void)sim;
    assert_int_equal(pipe(p), 0);
    d = dup(p[0]);
    close(p[0]);
    close(p[1]);
    if (ctx != NULL)
        close(d); /* planted without ctx: the duplicate keeps the read end open */
}

static void a_duplicate_never_closed_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, dup_left_open_body, NULL, "the read end of pipe");
    ah_assert_passes(NULL, dup_left_open_body, "closes");
}

static void on_child_exit(uv_process_t *p, int64_t status, int sig)
{
    (void)status, (void)sig;
    uv_close((uv_handle_t *)p, NULL);
}

static void spawn_inherit_body(ah_sim *sim, void *ctx)
{
    uv_process_t pr;
    uv_process_options_t o;
    uv_stdio_container_t io[2];
    char *args[] = {"sh", "-c", "echo hi", NULL};
    char b[8];
    int p[2], e = -1;

    assert_int_equal(pipe(p), 0);
    memset(&o, 0, sizeof(o));
    memset(io, 0, sizeof(io));
    o.file = "sh";
    o.args = args;
    o.exit_cb = on_child_exit;
    o.stdio = io;
    o.stdio_count = 2;
    io[0].flags = UV_IGNORE;
    io[1].flags = UV_INHERIT_FD;
    /* planted without ctx: an eventfd has no kernel object a real child could inherit; a fake
     * pipe becomes the kernel's at the spawn (decision 131), as at a fork */
    if (ctx == NULL)
        e = eventfd(0, 0);
    io[1].data.fd = ctx == NULL ? e : strcmp(ctx, "pipe") == 0 ? p[1] : 2;
    assert_int_equal(uv_spawn(uv_default_loop(), &pr, &o), 0);
    ah_run_until_idle(sim);
    if (ctx != NULL && strcmp(ctx, "pipe") == 0) { /* the child wrote the real pipe */
        close(p[1]);
        assert_int_equal(read(p[0], b, sizeof(b)), 3);
        assert_memory_equal(b, "hi\n", 3);
        assert_int_equal(read(p[0], b, sizeof(b)), 0);
        close(p[0]);
        return;
    }
    close(p[0]);
    close(p[1]);
}

static void a_real_child_inheriting_a_fake_pipe_gets_the_kernels(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, spawn_inherit_body, NULL,
                         "a fake kernel object of the sim that cannot be made the kernel's (an "
                         "eventfd,");
    ah_assert_passes(NULL, spawn_inherit_body, "pipe");
    ah_assert_passes(NULL, spawn_inherit_body, "stderr");
}

/* libuv's closed_fd_events: the sim's looks at a running real child are no I/O libuv would see,
 * so a uv_run(UV_RUN_ONCE) waiting for a timer is not woken early by them (AH__EV_SILENT). */
static int silent_timer_fired;
static void silent_timer_cb(uv_timer_t *t) { silent_timer_fired = (int)uv_now(t->loop); }

static void a_look_at_a_real_child_wakes_no_poll(void **state)
{
    uv_loop_t *loop = uv_default_loop();
    uv_process_t pr;
    uv_process_options_t o;
    uv_timer_t t;
    char *args[] = {"sleep", "30", NULL};
    uint64_t t0 = uv_now(loop);

    (void)state;
    memset(&o, 0, sizeof(o));
    o.file = "sleep";
    o.args = args;
    o.exit_cb = on_child_exit;
    assert_int_equal(uv_spawn(loop, &pr, &o), 0);
    uv_unref((uv_handle_t *)&pr);
    assert_int_equal(uv_timer_init(loop, &t), 0);
    assert_int_equal(uv_timer_start(&t, silent_timer_cb, 2500, 0), 0);
    /* the child is looked at after 1 ms and 1 s, 2 s of virtual time: the poll sleeps on */
    assert_int_equal(uv_run(loop, UV_RUN_ONCE), 0);
    assert_int_equal(silent_timer_fired - (int)t0, 2500);
    assert_int_equal(uv_process_kill(&pr, SIGTERM), 0);
    uv_ref((uv_handle_t *)&pr);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
}

static void dgram_peer_gone_body(ah_sim *sim, void *ctx)
{
    int sv[2];
    char b[4];

    (void)sim;
    /* planted without ctx: a SOCK_DGRAM pair has no end of file; SOCK_SEQPACKET does */
    assert_int_equal(socketpair(AF_UNIX, ctx == NULL ? SOCK_DGRAM : SOCK_SEQPACKET, 0, sv), 0);
    close(sv[1]);
    assert_int_equal(recv(sv[0], b, sizeof(b), 0), 0);
    close(sv[0]);
}

static void a_dgram_pair_read_after_its_peer_closed_is_a_deadlock(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, dgram_peer_gone_body, NULL, "recv on a SOCK_DGRAM socketpair end");
    ah_assert_passes(NULL, dgram_peer_gone_body, "seqpacket");
}

static void dgram_as_stream_body(ah_sim *sim, void *ctx)
{
    uv_pipe_t h;
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, ctx == NULL ? SOCK_DGRAM : SOCK_STREAM, 0, sv), 0);
    assert_int_equal(uv_pipe_init(uv_default_loop(), &h, 0), 0);
    assert_int_equal(uv_pipe_open(&h, sv[0]), 0); /* planted without ctx: not a stream */
    uv_close((uv_handle_t *)&h, NULL);
    close(sv[1]);
    ah_run_until_idle(sim);
}

static void a_message_pair_adopted_as_a_stream_is_named(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, dgram_as_stream_body, NULL,
                         "adopting an end of a SOCK_DGRAM or SOCK_SEQPACKET socketpair");
    ah_assert_passes(NULL, dgram_as_stream_body, "stream");
}

static void sfd_unblocked_body(ah_sim *sim, void *ctx)
{
    struct signalfd_siginfo si;
    sigset_t m;
    int fd;

    (void)sim;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    if (ctx != NULL) /* the twin blocks it, as signalfd(2) says a program must */
        assert_int_equal(pthread_sigmask(SIG_BLOCK, &m, NULL), 0);
    fd = signalfd(-1, &m, SFD_NONBLOCK);
    /* planted without ctx: not blocked, SIGUSR2's default action runs instead */
    kill(getpid(), SIGUSR2);
    assert_int_equal(read(fd, &si, sizeof(si)), (int)sizeof(si));
    close(fd);
    if (ctx != NULL)
        assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &m, NULL), 0);
}

static void a_signal_a_signalfd_waits_for_must_be_blocked(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, sfd_unblocked_body, NULL,
                         "no uv_signal_t watches it, so its default action would terminate");
    ah_assert_passes(NULL, sfd_unblocked_body, "blocked");
}

/* ---- descriptor passing (SCM_RIGHTS) over a fake socketpair ---- */

/* sendmsg with SCM_RIGHTS of `n` descriptors and the one byte `c`. */
static ssize_t send_fds(int sock, char c, const int *fds, int n)
{
    char space[CMSG_SPACE(8 * sizeof(int))];
    struct iovec iov = {&c, 1};
    struct msghdr m;
    struct cmsghdr *cm;

    memset(&m, 0, sizeof(m));
    memset(space, 0, sizeof(space));
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = space;
    m.msg_controllen = CMSG_LEN((size_t)n * sizeof(int));
    cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = m.msg_controllen;
    memcpy(CMSG_DATA(cm), fds, (size_t)n * sizeof(int));
    return sendmsg(sock, &m, 0);
}

static void passed_descriptors_are_the_same_open_objects(void **state)
{
    ah_sim *sim = *state;
    int sv[2], p[2], e, got[4], k;
    char b[8], space[CMSG_SPACE(2 * sizeof(int))];
    struct iovec iov = {b, sizeof(b)};
    struct msghdr m;
    struct cmsghdr *cm;

    (void)sim;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(send_fds(sv[0], 'A', p, 2), 1);
    assert_int_equal(write(sv[0], "bc", 2), 2);
    memset(&m, 0, sizeof(m));
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = space;
    m.msg_controllen = CMSG_LEN(sizeof(int)); /* room for one of the two: MSG_CTRUNC */
    /* the read stops after the byte the descriptors came with */
    assert_int_equal(recvmsg(sv[1], &m, MSG_CMSG_CLOEXEC), 1);
    assert_int_equal(b[0], 'A');
    assert_true(m.msg_flags & MSG_CTRUNC);
    cm = CMSG_FIRSTHDR(&m);
    assert_non_null(cm);
    assert_int_equal(cm->cmsg_type, SCM_RIGHTS);
    assert_int_equal(cm->cmsg_len, CMSG_LEN(sizeof(int)));
    memcpy(&got[0], CMSG_DATA(cm), sizeof(int));
    assert_int_equal(fcntl(got[0], F_GETFD), FD_CLOEXEC);
    assert_int_equal(fcntl(got[0], F_GETFL) & O_ACCMODE, O_RDONLY); /* the read end */
    /* the same open object: bytes written to the pipe read through the new number */
    assert_int_equal(write(p[1], "z", 1), 1);
    assert_int_equal(read(got[0], b, sizeof(b)), 1);
    assert_int_equal(b[0], 'z');
    assert_int_equal(read(sv[1], b, sizeof(b)), 2); /* the plain bytes that followed */
    /* the cut write end was closed by the kernel: only p[1] is left; a second passing with room */
    assert_int_equal(send_fds(sv[0], 'B', p + 1, 1), 1);
    assert_int_equal(close(p[1]), 0);
    m.msg_controllen = sizeof(space);
    m.msg_flags = 0;
    assert_int_equal(recvmsg(sv[1], &m, 0), 1);
    assert_false(m.msg_flags & MSG_CTRUNC);
    memcpy(&got[1], CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
    assert_int_equal(write(got[1], "y", 1), 1); /* the passed write end writes the pipe */
    assert_int_equal(read(got[0], b, sizeof(b)), 1);
    assert_int_equal(close(got[1]), 0);
    assert_int_equal(read(got[0], b, sizeof(b)), 0); /* its last writer gone: end of file */
    /* a plain read of bytes that carried descriptors closes them, as Linux */
    assert_int_equal(send_fds(sv[0], 'C', got, 1), 1);
    assert_int_equal(read(sv[1], b, sizeof(b)), 1);
    /* a closed number: EBADF, nothing sent */
    k = 1000;
    assert_int_equal(send_fds(sv[0], 'D', &k, 1), -1);
    e = errno;
    assert_int_equal(e, EBADF);
    close(got[0]);
    close(p[0]);
    close(sv[0]);
    close(sv[1]);
}

static void a_message_pair_passes_descriptors_with_a_message(void **state)
{
    ah_sim *sim = *state;
    int sv[2], p[2], got, i;
    char b[8], space[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {b, sizeof(b)};
    struct msghdr m;

    (void)sim;
    for (i = 0; i < 2; i++) {
        assert_int_equal(socketpair(AF_UNIX, i == 0 ? SOCK_DGRAM : SOCK_SEQPACKET, 0, sv), 0);
        assert_int_equal(pipe(p), 0);
        assert_int_equal(send_fds(sv[0], 'M', p + 1, 1), 1);
        assert_int_equal(close(p[1]), 0); /* in flight: the write end stays open */
        memset(&m, 0, sizeof(m));
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = space;
        m.msg_controllen = sizeof(space);
        assert_int_equal(recvmsg(sv[1], &m, 0), 1);
        assert_int_equal(b[0], 'M');
        assert_false(m.msg_flags & MSG_CTRUNC);
        memcpy(&got, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
        assert_int_equal(write(got, "w", 1), 1);
        assert_int_equal(read(p[0], b, sizeof(b)), 1);
        assert_int_equal(close(got), 0);
        assert_int_equal(read(p[0], b, sizeof(b)), 0); /* its only writer closed */
        /* one never received is closed with the receiving socket */
        assert_int_equal(send_fds(sv[0], 'N', p, 1), 1);
        close(p[0]);
        close(sv[1]);
        close(sv[0]);
    }
}

/* libuv's test-pipe-sendmsg.c, on the sim: four socketpair ends passed to an IPC uv_pipe_t. */
static uv_pipe_t ipc_incoming[4];
static unsigned ipc_count, ipc_closed;

static void ipc_close_cb(uv_handle_t *h)
{
    (void)h;
    ipc_closed++;
}

static void ipc_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    static char one[1];
    (void)h, (void)n;
    *b = uv_buf_init(one, 1);
}

static void ipc_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    uv_pipe_t *p = (uv_pipe_t *)st;
    unsigned i;

    (void)b;
    assert_true(n >= 0);
    while (uv_pipe_pending_count(p) != 0) {
        assert_int_equal(uv_pipe_pending_type(p), UV_NAMED_PIPE);
        assert_true(ipc_count < 4);
        assert_int_equal(uv_pipe_init(st->loop, &ipc_incoming[ipc_count], 0), 0);
        assert_int_equal(uv_accept(st, (uv_stream_t *)&ipc_incoming[ipc_count++]), 0);
    }
    if (ipc_count != 4)
        return;
    assert_int_equal(uv_read_stop(st), 0);
    uv_close((uv_handle_t *)st, ipc_close_cb);
    for (i = 0; i < 4; i++)
        uv_close((uv_handle_t *)&ipc_incoming[i], ipc_close_cb);
}

static void uv_pipe_ipc_receives_passed_descriptors(void **state)
{
    ah_sim *sim = *state;
    uv_pipe_t p;
    int sv[2], send[4], i;

    (void)sim;
    ipc_count = ipc_closed = 0;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    for (i = 0; i < 4; i += 2)
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, send + i), 0);
    assert_int_equal(uv_pipe_init(uv_default_loop(), &p, 1), 0);
    assert_int_equal(uv_pipe_open(&p, sv[1]), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&p, ipc_alloc, ipc_read), 0);
    assert_int_equal(send_fds(sv[0], 'X', send, 4), 1);
    for (i = 0; i < 4; i++)
        close(send[i]); /* the receiver's numbers keep the objects open */
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    assert_int_equal(ipc_count, 4);
    assert_int_equal(ipc_closed, 5);
    close(sv[0]);
}

static void pass_real_body(ah_sim *sim, void *ctx)
{
    int sv[2], p[2], real = -1;

    (void)sim;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(p), 0);
    if (ctx == NULL)
        real = open("/dev/null", O_RDONLY);
    /* planted without ctx: a real descriptor cannot travel over a fake socket */
    assert_int_equal(send_fds(sv[0], 'x', ctx == NULL ? &real : p, 1), 1);
    if (real >= 0)
        close(real);
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}

static void passing_a_real_descriptor_is_named(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, pass_real_body, NULL, "passing real descriptor");
    ah_assert_passes(NULL, pass_real_body, "fake");
}

static void pass_owned_body(ah_sim *sim, void *ctx)
{
    int sv[2], p[2];
    uv_pipe_t h;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(uv_pipe_init(uv_default_loop(), &h, 0), 0);
    assert_int_equal(uv_pipe_open(&h, p[0]), 0);
    /* planted without ctx: the handle's descriptor, behind libuv's back */
    assert_int_equal(send_fds(sv[0], 'x', ctx == NULL ? &p[0] : &p[1], 1), 1);
    uv_close((uv_handle_t *)&h, NULL);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
    ah_run_until_idle(sim);
}

static void passing_a_handles_descriptor_is_named(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, pass_owned_body, NULL, "belongs to a uv handle");
    ah_assert_passes(NULL, pass_owned_body, "the write end");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(a_pipe_has_linux_semantics),
        ah_unit_test(uv_pipe_open_reads_a_pipe_in_virtual_time),
        ah_unit_test(a_blocking_read_waits_in_virtual_time),
        ah_unit_test(threads_block_on_a_pipe_in_virtual_time),
        ah_unit_test(an_eventfd_counts_as_linux),
        ah_unit_test(uv_poll_watches_an_eventfd),
        ah_unit_test(a_timerfd_expires_in_virtual_time),
        ah_unit_test(uv_poll_watches_a_timerfd),
        ah_unit_test(a_signal_interrupts_a_blocked_read_unless_sa_restart),
        ah_unit_test(a_signal_interrupts_poll_even_with_sa_restart),
        ah_unit_test(a_signal_interrupts_nanosleep_with_the_time_left),
        ah_unit_test(a_signal_interrupts_sem_timedwait_but_not_a_condition_wait),
        ah_unit_test(pthread_kill_is_a_simulated_signal),
        ah_unit_test(uv_fs_read_of_a_pipe_survives_a_signal),
        ah_unit_test(a_signal_callback_waits_for_the_blocked_call_to_return),
        ah_unit_test(a_queued_write_fails_when_the_reader_closes),
        ah_unit_test(a_duplicate_is_the_same_open_object),
        ah_unit_test(uv_pipe_open_adopts_a_duplicate),
        ah_unit_test(a_thread_blocks_until_every_writer_is_closed),
        ah_unit_test(the_test_thread_reads_what_a_thread_wrote_before_ending),
        ah_unit_test(a_message_pair_keeps_boundaries_in_virtual_time),
        ah_unit_test(a_send_on_a_full_message_pair_waits_for_the_reader),
        ah_unit_test(uv_poll_watches_a_message_pair),
        ah_unit_test(a_signalfd_reads_blocked_signals_in_virtual_time),
        ah_unit_test(uv_poll_watches_a_signalfd),
        ah_unit_test(a_small_write_waits_for_room_for_all_of_it),
        ah_unit_test(passed_descriptors_are_the_same_open_objects),
        ah_unit_test(uv_pipe_ipc_receives_passed_descriptors),
        ah_unit_test(a_message_pair_passes_descriptors_with_a_message),
        cmocka_unit_test(a_read_on_a_pipe_nobody_writes_is_a_deadlock),
        cmocka_unit_test(a_thread_reading_a_pipe_nobody_writes_is_a_deadlock),
        cmocka_unit_test(a_write_to_a_closed_eventfd_is_ebadf),
        cmocka_unit_test(a_write_to_a_pipe_without_reader_raises_sigpipe),
        cmocka_unit_test(a_pipe_never_closed_is_reported),
        cmocka_unit_test(eof_waits_for_every_duplicate_of_the_writer),
        cmocka_unit_test(a_dup_of_a_handles_descriptor_is_closable_and_named_when_used),
        cmocka_unit_test(a_duplicate_never_closed_is_reported),
        cmocka_unit_test(a_real_child_inheriting_a_fake_pipe_gets_the_kernels),
        ah_unit_test(a_look_at_a_real_child_wakes_no_poll),
        cmocka_unit_test(a_dgram_pair_read_after_its_peer_closed_is_a_deadlock),
        cmocka_unit_test(a_message_pair_adopted_as_a_stream_is_named),
        cmocka_unit_test(a_signal_a_signalfd_waits_for_must_be_blocked),
        cmocka_unit_test(uv_try_write_in_blocking_mode_waits_for_room),
        cmocka_unit_test(a_blocking_uv_try_write_nobody_reads_is_a_deadlock),
        cmocka_unit_test(a_blocking_uv_try_write_in_a_callback_is_named),
        cmocka_unit_test(passing_a_real_descriptor_is_named),
        cmocka_unit_test(passing_a_handles_descriptor_is_named),
    };
    return ah_run_tests(tests);
}
