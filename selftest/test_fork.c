/* fork() under the sim (proc/fork.c): the scenarios of libuv 1.44's test-fork.c (fork_timer,
 * fork_threadpool_queue_work_simple, fork_fs_events_child, fork_fs_events_file_parent_child,
 * fork_signal_to_child, fork_signal_to_child_closed, fork_socketpair, fork_socketpair_started),
 * rewritten for the harness: the
 * parent and the child each run their own copy of the sim in virtual time; the child's test ends
 * with the process, and the parent waits for it with the real waitpid. A child's stderr is caught
 * through a real pipe, so a report the child must give is checked here.
 *
 * fork_socketpair and fork_socketpair_started cannot work with fake descriptors (the two copies of
 * the sim cannot reach each other): they are the planted misuse, whose report must name the
 * descriptor and the fork, beside twins that make the socketpair after the fork. */
#define _GNU_SOURCE 1
#include <ah/ah.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define L uv_default_loop()

/* ---- a child whose exit status and stderr the parent reads ---- */

typedef struct child {
    pid_t pid;
    int err_fd; /* the read end of the child's stderr (a real pipe, not one of the sim's) */
} child;

/* Forks: returns 1 in the child (stderr goes to the parent), 0 in the parent. */
static int fork_child(child *c)
{
    int p[2];

    assert_int_equal(syscall(SYS_pipe2, p, O_CLOEXEC), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        return 1;
    }
    close(p[1]);
    c->err_fd = p[0];
    return 0;
}

/* Waits for the child; returns its exit status and puts its stderr in `err`. */
static int wait_child(child *c, char *err, size_t cap)
{
    int status = 0;
    size_t n = 0;
    ssize_t r;

    assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
    while (n + 1 < cap && (r = read(c->err_fd, err + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    err[n] = '\0';
    close(c->err_fd);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void expect_clean_exit(child *c)
{
    char err[4096];
    int status = wait_child(c, err, sizeof(err));
    if (status != 0)
        fail_msg("the child exited %d:\n%s", status, err);
}

/* ---- fork_timer ---- */

static int timer_called;

static void timer_cb(uv_timer_t *t)
{
    timer_called++;
    uv_close((uv_handle_t *)t, NULL);
}

static void run_timer_loop_once(uv_loop_t *loop)
{
    uv_timer_t t;

    timer_called = 0;
    assert_int_equal(uv_timer_init(loop, &t), 0);
    assert_int_equal(uv_timer_start(&t, timer_cb, 1, 0), 0);
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(timer_called, 1);
}

static void timers_work_in_parent_and_child(void **state)
{
    ah_sim *sim = *state;
    child c;

    run_timer_loop_once(L);
    if (fork_child(&c)) {
        assert_int_equal(uv_loop_fork(L), 0);
        run_timer_loop_once(L);
        ah_assert_now_ms(sim, 2); /* the child's clock goes on from the fork */
        return;                   /* the child's test ends here, and the process with it */
    }
    run_timer_loop_once(L);
    expect_clean_exit(&c);
}

/* ---- fork_threadpool_queue_work_simple ---- */

static int work_count, after_count;

static void work_cb(uv_work_t *req)
{
    (void)req;
    work_count++;
}

static void after_cb(uv_work_t *req, int status)
{
    (void)req;
    assert_int_equal(status, 0);
    after_count++;
}

static void run_work(uv_loop_t *loop)
{
    uv_work_t req;

    work_count = after_count = 0;
    assert_int_equal(uv_queue_work(loop, &req, work_cb, after_cb), 0);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(work_count, 1);
    assert_int_equal(after_count, 1);
}

static void the_thread_pool_works_in_the_child(void **state)
{
    uv_loop_t loop;
    child c;

    (void)state;
    /* Known limit (issue 23's note): the child ends with its test without freeing the record of
     * the worker it started, which Valgrind's leak check in the child reports (exit 99); the
     * plain and ASan passes run it. */
    if (getenv("AH_UNDER_VALGRIND") != NULL)
        skip();
    run_work(L); /* its worker stays, idle, when the fork comes */
    if (fork_child(&c)) {
        assert_int_equal(uv_loop_init(&loop), 0);
        run_work(&loop);
        assert_int_equal(uv_loop_close(&loop), 0);
        assert_int_equal(uv_loop_fork(L), 0);
        run_work(L);
        return;
    }
    run_work(L);
    expect_clean_exit(&c);
}

/* ---- fork_fs_events_child, fork_fs_events_file_parent_child ---- */

static int touched, events_seen;

static void touch(const char *path)
{
    uv_fs_t req;
    uv_buf_t b = uv_buf_init("foo", 3);
    int fd = uv_fs_open(NULL, &req, path, O_RDWR | O_CREAT, 0644, NULL);

    uv_fs_req_cleanup(&req);
    assert_true(fd >= 0);
    assert_int_equal(uv_fs_write(NULL, &req, fd, &b, 1, -1, NULL), 3);
    uv_fs_req_cleanup(&req);
    uv_fs_close(NULL, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
}

static void touch_cb(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, NULL);
    touch("/tmp/watch_file");
    touched++;
}

static void event_cb(uv_fs_event_t *h, const char *name, int events, int status)
{
    (void)events;
    assert_int_equal(status, 0);
    assert_string_equal(name, "watch_file");
    events_seen++;
    uv_close((uv_handle_t *)h, NULL);
}

static void watch_once(uv_loop_t *loop, const char *what)
{
    uv_fs_event_t ev;
    uv_timer_t t;

    touched = events_seen = 0;
    touch("/tmp/watch_file");
    assert_int_equal(uv_fs_event_init(loop, &ev), 0);
    assert_int_equal(uv_fs_event_start(&ev, event_cb, what, 0), 0);
    assert_int_equal(uv_timer_init(loop, &t), 0);
    assert_int_equal(uv_timer_start(&t, touch_cb, 100, 0), 0);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(touched, 1);
    assert_int_equal(events_seen, 1);
}

static void fs_events_work_in_the_child(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t loop;
    child c;

    ah_fs_memory(sim);
    watch_once(L, "/tmp/watch_file");
    if (fork_child(&c)) {
        assert_int_equal(uv_loop_init(&loop), 0);
        watch_once(&loop, "/tmp/watch_file");
        assert_int_equal(uv_loop_close(&loop), 0);
        assert_int_equal(uv_loop_fork(L), 0);
        watch_once(L, "/tmp"); /* the directory this time */
        return;
    }
    expect_clean_exit(&c);
}

static void a_watcher_started_in_the_parent_works_in_the_child(void **state)
{
    ah_sim *sim = *state;
    uv_fs_event_t ev;
    uv_timer_t t;
    child c;

    ah_fs_memory(sim);
    touched = events_seen = 0;
    touch("/tmp/watch_file");
    assert_int_equal(uv_fs_event_init(L, &ev), 0);
    assert_int_equal(uv_fs_event_start(&ev, event_cb, "/tmp/watch_file", 0), 0);
    assert_int_equal(uv_timer_init(L, &t), 0);
    if (fork_child(&c)) {
        assert_int_equal(uv_loop_fork(L), 0);
        assert_int_equal(uv_timer_start(&t, touch_cb, 100, 0), 0);
        uv_run(L, UV_RUN_DEFAULT);
        assert_int_equal(touched, 1);
        assert_int_equal(events_seen, 1);
        return;
    }
    uv_close((uv_handle_t *)&ev, NULL);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(L, UV_RUN_DEFAULT);
    assert_int_equal(events_seen, 0); /* the child's write is not the parent's */
    expect_clean_exit(&c);
}

/* ---- SIGCHLD and waitpid in the parent ---- */

static int chld_seen;
static uint64_t chld_at;

static void chld_cb(uv_signal_t *h, int signum)
{
    assert_int_equal(signum, SIGCHLD);
    chld_seen++;
    chld_at = uv_now(h->loop);
    uv_close((uv_handle_t *)h, NULL);
}

static void the_childs_exit_reaches_uv_signal_and_waitpid(void **state)
{
    ah_sim *sim = *state;
    uv_signal_t sig;
    uint64_t t0 = uv_now(L);
    int status = 0;
    pid_t pid;

    assert_int_equal(uv_signal_init(L, &sig), 0);
    assert_int_equal(uv_signal_start(&sig, chld_cb, SIGCHLD), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(3);
    uv_run(L, UV_RUN_DEFAULT);
    assert_int_equal(chld_seen, 1);
    assert_int_equal(chld_at - t0, 1); /* looked at 1 ms after the fork (ah_proc_real_ms) */
    ah_assert_now_ms(sim, 1);
    assert_int_equal(waitpid(pid, &status, 0), pid); /* the sim left it to the program */
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
}

/* ---- fork_signal_to_child ---- */

static int usr1_seen;

static void usr1_cb(uv_signal_t *h, int signum)
{
    usr1_seen = signum;
    uv_close((uv_handle_t *)h, NULL);
}

static void a_signal_to_the_child_reaches_its_uv_signal(void **state)
{
    uv_signal_t sig;
    int sync[2];
    char b;
    child c;

    (void)state;
    assert_int_equal(syscall(SYS_pipe2, sync, 0), 0); /* real: it crosses the fork */
    run_timer_loop_once(L);
    assert_int_equal(uv_signal_init(L, &sig), 0);
    assert_int_equal(uv_signal_start(&sig, usr1_cb, SIGUSR1), 0);
    if (fork_child(&c)) {
        assert_int_equal(uv_loop_fork(L), 0);
        assert_int_equal(write(sync[1], "1", 1), 1);
        assert_true(uv_loop_alive(L));
        /* Nothing simulated is left: the poll waits in real time for the parent's real signal
         * (decision 128), and its callback runs in this one iteration, as in libuv. */
        assert_int_equal(uv_run(L, UV_RUN_ONCE), 0);
        assert_int_equal(usr1_seen, SIGUSR1);
        return;
    }
    assert_int_equal(read(sync[0], &b, 1), 1);
    assert_int_equal(kill(c.pid, SIGUSR1), 0);
    uv_unref((uv_handle_t *)&sig);
    assert_int_equal(uv_run(L, UV_RUN_NOWAIT), 0);
    assert_int_equal(usr1_seen, 0); /* only the child gets it */
    expect_clean_exit(&c);
    uv_close((uv_handle_t *)&sig, NULL);
    uv_run(L, UV_RUN_DEFAULT);
    close(sync[0]);
    close(sync[1]);
}

/* Planted: the child waits for a signal the parent never sends. The poll waits the real-time
 * budget (AH_REAL_FD_WAIT_MS, 1000 ms here), then the child's report names the signal and the
 * handle, where libuv would wait forever. */
static void a_child_waiting_for_a_signal_nobody_sends_names_it(void **state)
{
    uv_signal_t sig;
    char err[4096];
    child c;

    (void)state;
    usr1_seen = 0;
    assert_int_equal(uv_signal_init(L, &sig), 0);
    assert_int_equal(uv_signal_start(&sig, usr1_cb, SIGUSR2), 0);
    if (fork_child(&c)) {
        assert_int_equal(uv_loop_fork(L), 0);
        uv_run(L, UV_RUN_ONCE); /* the bug: nobody will send SIGUSR2 */
        return;
    }
    assert_int_equal(wait_child(&c, err, sizeof(err)), 1);
    if (strstr(err, "the real signals the loop waits on did not come within 1000 ms") == NULL ||
        strstr(err, "  - SIGUSR2, waited on by uv_signal_t #") == NULL ||
        strstr(err, "only a real signal from outside reaches it") == NULL)
        fail_msg("the child's report does not name the signal and its handle:\n%s", err);
    print_message("the child said:\n%s", err);
    uv_close((uv_handle_t *)&sig, NULL);
    uv_run(L, UV_RUN_DEFAULT);
}

/* fork_signal_to_child_closed: the child is signalled but never runs its loop: nobody's callback
 * runs, and the child exits without closing what it inherited. */
static void a_signal_to_a_child_that_never_runs_its_loop_runs_no_callback(void **state)
{
    uv_signal_t sig;
    int sync[2], sync2[2];
    char b;
    child c;

    (void)state;
    usr1_seen = 0;
    assert_int_equal(syscall(SYS_pipe2, sync, 0), 0);
    assert_int_equal(syscall(SYS_pipe2, sync2, 0), 0);
    run_timer_loop_once(L);
    assert_int_equal(uv_signal_init(L, &sig), 0);
    assert_int_equal(uv_signal_start(&sig, usr1_cb, SIGUSR1), 0);
    if (fork_child(&c)) {
        assert_int_equal(uv_loop_fork(L), 0);
        assert_true(uv_loop_alive(L));
        assert_int_equal(write(sync[1], "1", 1), 1);
        assert_true(read(sync2[0], &b, 1) <= 1); /* the parent may have failed: generous */
        assert_int_equal(usr1_seen, 0);
        fflush(NULL);
        _exit(0); /* the loop's handles were never closed: leave without the teardown */
    }
    assert_int_equal(read(sync[0], &b, 1), 1);
    assert_int_equal(kill(c.pid, SIGUSR1), 0);
    uv_unref((uv_handle_t *)&sig);
    run_timer_loop_once(L);
    assert_int_equal(uv_run(L, UV_RUN_ONCE), 0);
    assert_int_equal(usr1_seen, 0);
    assert_int_equal(write(sync2[1], "1", 1), 1);
    expect_clean_exit(&c);
    uv_close((uv_handle_t *)&sig, NULL);
    uv_run(L, UV_RUN_DEFAULT);
    close(sync[0]);
    close(sync[1]);
    close(sync2[0]);
    close(sync2[1]);
}

/* ---- fork_socketpair: planted misuse and its twin ---- */

static int poll_seen;

static void poll_cb(uv_poll_t *p, int status, int events)
{
    char buf[8];
    assert_int_equal(status, 0);
    assert_true(events & UV_READABLE);
    assert_int_equal(read(p->io_watcher.fd, buf, 3), 3);
    poll_seen++;
    uv_close((uv_handle_t *)p, NULL);
}

static void evt_cb(uv_poll_t *p, int status, int events)
{
    uint64_t v;
    assert_int_equal(status, 0);
    assert_true(events & UV_READABLE);
    assert_int_equal(read(p->io_watcher.fd, &v, 8), 8);
    poll_seen++;
    uv_close((uv_handle_t *)p, NULL);
}

/* An eventfd stays a fake object across a fork (decision 118 moves only pipes and socketpairs):
 * the child's copy of it never hears the parent's write. */
static void an_eventfd_made_before_the_fork_is_reported_in_the_child(void **state)
{
    uv_poll_t poll;
    uint64_t one = 1;
    char err[4096];
    child c;
    int efd;

    (void)state;
    efd = eventfd(0, EFD_NONBLOCK);
    assert_true(efd >= 0);
    assert_int_equal(uv_poll_init(L, &poll, efd), 0);
    if (fork_child(&c)) {
        assert_int_equal(uv_loop_fork(L), 0);
        uv_poll_start(&poll, UV_READABLE, evt_cb); /* the bug: a fake object from before the fork */
        uv_run(L, UV_RUN_DEFAULT);
        return;
    }
    assert_int_equal(write(efd, &one, 8), 8);
    assert_int_equal(wait_child(&c, err, sizeof(err)), 1);
    if (strstr(err, "uv_poll_start on ") == NULL ||
        strstr(err, "was made before the fork") == NULL ||
        strstr(err, "in the child forked in") == NULL)
        fail_msg("the child's report does not name the descriptor and the fork:\n%s", err);
    print_message("the child said:\n%s", err);
    uv_close((uv_handle_t *)&poll, NULL);
    uv_run(L, UV_RUN_DEFAULT);
    close(efd);
}

/* The twin, libuv's fork_socketpair: a socketpair made before the fork is the kernel's in both
 * processes (decision 118), so the child's watcher sees what the parent sends. */
static void a_socketpair_made_before_the_fork_is_shared_with_the_child(void **state)
{
    uv_poll_t poll;
    int sv[2];
    child c;

    (void)state;
    poll_seen = 0;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(uv_poll_init(L, &poll, sv[0]), 0);
    if (fork_child(&c)) {
        assert_int_equal(uv_loop_fork(L), 0);
        assert_int_equal(uv_poll_start(&poll, UV_READABLE, poll_cb), 0);
        assert_int_equal(uv_run(L, UV_RUN_DEFAULT), 0);
        assert_int_equal(poll_seen, 1);
        return;
    }
    assert_int_equal(send(sv[1], "hi\n", 3, 0), 3);
    expect_clean_exit(&c);
    uv_close((uv_handle_t *)&poll, NULL);
    uv_run(L, UV_RUN_DEFAULT);
    close(sv[0]);
    close(sv[1]);
}

static void a_watcher_started_before_the_fork_is_reported_in_the_child(void **state)
{
    uv_poll_t poll;
    uint64_t one = 1;
    char err[4096];
    child c;
    int efd;

    (void)state;
    efd = eventfd(0, EFD_NONBLOCK);
    assert_true(efd >= 0);
    assert_int_equal(uv_poll_init(L, &poll, efd), 0);
    assert_int_equal(uv_poll_start(&poll, UV_READABLE, evt_cb), 0);
    assert_int_equal(uv_run(L, UV_RUN_NOWAIT), 1);
    if (fork_child(&c)) {
        assert_int_equal(uv_loop_fork(L), 0);
        uv_run(L, UV_RUN_DEFAULT); /* the bug: its watcher waits on the parent's descriptor */
        return;
    }
    assert_int_equal(uv_poll_stop(&poll), 0);
    uv_close((uv_handle_t *)&poll, NULL);
    assert_int_equal(uv_run(L, UV_RUN_DEFAULT), 0);
    assert_int_equal(write(efd, &one, 8), 8);
    assert_int_equal(wait_child(&c, err, sizeof(err)), 1);
    print_message("the child said:\n%s", err);
    if (strstr(err, "was made before the fork") == NULL)
        fail_msg("the child's report does not name the descriptor and the fork:\n%s", err);
    close(efd);
}

static void a_socketpair_made_after_the_fork_works_in_the_child(void **state)
{
    uv_poll_t poll;
    int sv[2];
    child c;

    (void)state;
    if (fork_child(&c)) {
        assert_int_equal(uv_loop_fork(L), 0);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_int_equal(uv_poll_init(L, &poll, sv[0]), 0);
        assert_int_equal(uv_poll_start(&poll, UV_READABLE, poll_cb), 0);
        assert_int_equal(send(sv[1], "hi\n", 3, 0), 3);
        uv_run(L, UV_RUN_DEFAULT);
        assert_int_equal(poll_seen, 1);
        close(sv[0]);
        close(sv[1]);
        return;
    }
    expect_clean_exit(&c);
}

static void closing_a_descriptor_made_before_the_fork_is_fine(void **state)
{
    int sv[2];
    child c;

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    if (fork_child(&c)) {
        assert_int_equal(close(sv[0]), 0);
        assert_int_equal(close(sv[1]), 0);
        return;
    }
    expect_clean_exit(&c);
    close(sv[0]);
    close(sv[1]);
}

/* ---- Linux AIO contexts stay with the parent ---- */

static void an_aio_context_stays_with_the_parent(void **state)
{
    unsigned long ctx = 0;
    child c;

    (void)state;
    assert_int_equal(syscall(SYS_io_setup, 4, &ctx), 0);
    if (fork_child(&c)) {
        /* as the kernel: the child does not have it (and its teardown does not report it) */
        assert_int_equal(syscall(SYS_io_destroy, ctx), -1);
        assert_int_equal(errno, EINVAL);
        return;
    }
    expect_clean_exit(&c);
    assert_int_equal(syscall(SYS_io_destroy, ctx), 0);
}

/* ---- a multi-threaded sim: planted misuse and its twin ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int go;

static void *waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    while (!go)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return NULL;
}

static void stop_waiter(pthread_t t)
{
    pthread_mutex_lock(&mu);
    go = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(t, NULL);
    go = 0;
}

static void a_child_touching_a_thread_it_lost_is_reported(void **state)
{
    pthread_t t;
    char err[4096];
    child c;

    (void)state;
    assert_int_equal(pthread_create(&t, NULL, waiter, NULL), 0);
    uv_sleep(1); /* the thread waits on the condition variable */
    if (fork_child(&c)) {
        stop_waiter(t); /* the bug: that thread is not in the child */
        return;
    }
    assert_int_equal(wait_child(&c, err, sizeof(err)), 1);
    if (strstr(err, "copied only the calling thread") == NULL ||
        strstr(err, "thread 1 (pthread_create in ") == NULL) /* sites.h marks only uv_* calls */
        fail_msg("the child's report does not name the fork and the lost thread:\n%s", err);
    print_message("the child said:\n%s", err);
    stop_waiter(t);
}

static void a_child_of_a_threaded_sim_that_touches_no_thread_goes_on(void **state)
{
    pthread_t t;
    child c;

    (void)state;
    assert_int_equal(pthread_create(&t, NULL, waiter, NULL), 0);
    uv_sleep(1);
    if (fork_child(&c)) {
        run_timer_loop_once(L); /* no lock, no thread: fine */
        _exit(0);
    }
    expect_clean_exit(&c);
    stop_waiter(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(timers_work_in_parent_and_child),
        ah_unit_test(the_thread_pool_works_in_the_child),
        ah_unit_test(fs_events_work_in_the_child),
        ah_unit_test(a_watcher_started_in_the_parent_works_in_the_child),
        ah_unit_test(the_childs_exit_reaches_uv_signal_and_waitpid),
        ah_unit_test(a_signal_to_the_child_reaches_its_uv_signal),
        ah_unit_test(a_child_waiting_for_a_signal_nobody_sends_names_it),
        ah_unit_test(a_signal_to_a_child_that_never_runs_its_loop_runs_no_callback),
        ah_unit_test(an_eventfd_made_before_the_fork_is_reported_in_the_child),
        ah_unit_test(a_socketpair_made_before_the_fork_is_shared_with_the_child),
        ah_unit_test(a_watcher_started_before_the_fork_is_reported_in_the_child),
        ah_unit_test(a_socketpair_made_after_the_fork_works_in_the_child),
        ah_unit_test(closing_a_descriptor_made_before_the_fork_is_fine),
        ah_unit_test(an_aio_context_stays_with_the_parent),
        ah_unit_test(a_child_touching_a_thread_it_lost_is_reported),
        ah_unit_test(a_child_of_a_threaded_sim_that_touches_no_thread_goes_on),
    };
    setenv("AH_REAL_FD_WAIT_MS", "1000", 1); /* the planted child's real wait */
    return ah_run_tests(tests);
}
