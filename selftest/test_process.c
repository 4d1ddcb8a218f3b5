/* Child processes in the sim: scripted programs (output, delays, exit codes, signals, stdin),
 * real programs (/bin/echo, /bin/sh -c 'exit 3', cat fed through a pipe), a missing program
 * (UV_ENOENT synchronously, the handle initialised), uv_process_kill, and the planted bugs: a
 * client that closes the process handle before its exit (never reaped), one that never closes
 * it, one that never closes the child's stdin (the child never exits). */
#include <ah/ah.h>

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

static char log_buf[1024];
static void logf_(const char *fmt, ...)
{
    va_list ap;
    size_t n = strlen(log_buf);
    va_start(ap, fmt);
    vsnprintf(log_buf + n, sizeof(log_buf) - n, fmt, ap);
    va_end(ap);
}
static uint64_t now(void) { return ah_now_ms(ah_sim_current()); }

static uv_process_t proc;
static uv_pipe_t out, in;
static uv_stdio_container_t stdio[3];
static uv_process_options_t opts;
static char rbuf[4096];
static uv_write_t wreq;
static uv_shutdown_t sreq;

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    const char *name = s == (uv_stream_t *)&out ? "out" : "err";
    if (n > 0)
        logf_("%s[%.*s]@%llu ", name, (int)n, buf->base, (unsigned long long)now());
    else if (n < 0) {
        logf_("%s:%s@%llu ", name, uv_err_name((int)n), (unsigned long long)now());
        uv_close((uv_handle_t *)s, NULL);
    }
}

static void exit_cb(uv_process_t *p, int64_t status, int term)
{
    logf_("exit(%d,%d)@%llu ", (int)status, term, (unsigned long long)now());
    uv_close((uv_handle_t *)p, NULL);
}

static void setup(const char *file, char **args, int npipes)
{
    uv_loop_t *loop = uv_default_loop();

    log_buf[0] = '\0';
    memset(&opts, 0, sizeof(opts));
    memset(stdio, 0, sizeof(stdio));
    opts.file = file;
    opts.args = args;
    opts.exit_cb = exit_cb;
    opts.stdio = stdio;
    opts.stdio_count = 3;
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_IGNORE;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    if (npipes >= 1) {
        uv_pipe_init(loop, &out, 0);
        stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        stdio[1].data.stream = (uv_stream_t *)&out;
    }
    if (npipes >= 2) {
        uv_pipe_init(loop, &in, 0);
        stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
        stdio[0].data.stream = (uv_stream_t *)&in;
    }
}

static void scripted_program_prints_and_exits_in_virtual_time(void **state)
{
    ah_sim *sim = *state;
    ah_program *git = ah_proc_script(sim, "git");
    char *args[] = {"git", "status", NULL};

    ah_proc_write(git, 1, "on branch main\n");
    ah_proc_delay(git, 250);
    ah_proc_write(git, 1, "clean");
    ah_proc_exit(git, 3);
    setup("git", args, 1);
    assert_int_equal(uv_spawn(uv_default_loop(), &proc, &opts), 0);
    assert_true(uv_process_get_pid(&proc) > 0);
    assert_true(uv_is_active((uv_handle_t *)&proc));
    assert_int_equal(uv_read_start((uv_stream_t *)&out, alloc_cb, read_cb), 0);
    ah_run_until_idle(sim);
    assert_string_equal(log_buf,
                        "out[on branch main\n]@0 out[clean]@250 out:EOF@250 exit(3,0)@250 ");
    ah_assert_now_ms(sim, 250);
}

static void missing_program_fails_synchronously_with_enoent(void **state)
{
    ah_sim *sim = *state;
    char *args[] = {"no-such-program-here", NULL};

    setup("no-such-program-here", args, 1);
    assert_int_equal(uv_spawn(uv_default_loop(), &proc, &opts), UV_ENOENT);
    assert_false(uv_is_active((uv_handle_t *)&proc));
    /* the pipe is opened anyway, its other end closed: EOF */
    assert_int_equal(uv_read_start((uv_stream_t *)&out, alloc_cb, read_cb), 0);
    uv_close((uv_handle_t *)&proc, NULL); /* initialised: it must be closed */
    ah_run_until_idle(sim);
    assert_string_equal(log_buf, "out:EOF@0 ");
}

static void scripted_spawn_error(void **state)
{
    ah_sim *sim = *state;
    char *args[] = {"tool", NULL};

    ah_proc_spawn_error(sim, "tool", UV_EACCES);
    setup("/opt/bin/tool", args, 0);
    assert_int_equal(uv_spawn(uv_default_loop(), &proc, &opts), UV_EACCES);
    uv_close((uv_handle_t *)&proc, NULL);
    ah_run_until_idle(sim);
}

static void stdio_errors_before_anything_runs(void **state)
{
    ah_sim *sim = *state;
    ah_program *p = ah_proc_script(sim, "x");
    char *args[] = {"x", NULL};
    uv_tcp_t tcp;

    ah_proc_exit(p, 0);
    setup("x", args, 0);
    uv_tcp_init(uv_default_loop(), &tcp);
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&tcp; /* not a uv_pipe_t */
    assert_int_equal(uv_spawn(uv_default_loop(), &proc, &opts), UV_EINVAL);
    uv_close((uv_handle_t *)&proc, NULL);
    ah_run_until_idle(sim); /* the handle may be initialised again once closed */
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = -1;
    assert_int_equal(uv_spawn(uv_default_loop(), &proc, &opts), UV_EINVAL);
    uv_close((uv_handle_t *)&proc, NULL);
    uv_close((uv_handle_t *)&tcp, NULL);
    ah_run_until_idle(sim);
    stdio[1].flags = UV_IGNORE;
    assert_int_equal(uv_spawn(uv_default_loop(), &proc, &opts), 0);
    ah_run_until_idle(sim);
    assert_string_equal(log_buf, "exit(0,0)@0 ");
}

static void null_file_body(ah_sim *sim, void *ctx)
{
    char *args[] = {"x", NULL};
    (void)sim, (void)ctx;
    setup(NULL, args, 0);
    uv_spawn(uv_default_loop(), &proc, &opts);
}

static void spawn_without_a_file_fails_the_test(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, null_file_body, NULL, "uv_spawn: called with a NULL options.file");
}

static void real_echo_output_then_eof_then_exit(void **state)
{
    ah_sim *sim = *state;
    char *args[] = {"echo", "hello", NULL};

    setup("/bin/echo", args, 1);
    assert_int_equal(uv_spawn(uv_default_loop(), &proc, &opts), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&out, alloc_cb, read_cb), 0);
    ah_run_until_idle(sim);
    assert_string_equal(log_buf, "out[hello\n]@1 out:EOF@1 exit(0,0)@1 ");
}

static void real_sh_exit_status(void **state)
{
    ah_sim *sim = *state;
    char *args[] = {"sh", "-c", "exit 3", NULL};

    ah_proc_real_ms(sim, 40);
    setup("/bin/sh", args, 0);
    assert_int_equal(uv_spawn(uv_default_loop(), &proc, &opts), 0);
    ah_run_until_idle(sim);
    assert_string_equal(log_buf, "exit(3,0)@40 ");
}

static void written_cb(uv_write_t *req, int status)
{
    (void)req;
    logf_("write(%d) ", status);
}

static void shut_cb(uv_shutdown_t *req, int status)
{
    (void)req;
    logf_("shutdown(%d) ", status);
    uv_close((uv_handle_t *)&in, NULL);
}

static void on_stdin_timer(uv_timer_t *t)
{
    uv_buf_t b = uv_buf_init("abc\n", 4);
    uv_write(&wreq, (uv_stream_t *)&in, &b, 1, written_cb);
    uv_shutdown(&sreq, (uv_stream_t *)&in, shut_cb);
    uv_close((uv_handle_t *)t, NULL);
}

static void real_cat_waits_for_its_stdin(void **state)
{
    ah_sim *sim = *state;
    char *args[] = {"cat", NULL};
    static uv_timer_t t;

    setup("cat", args, 2);
    assert_int_equal(uv_spawn(uv_default_loop(), &proc, &opts), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&out, alloc_cb, read_cb), 0);
    uv_timer_init(uv_default_loop(), &t);
    uv_timer_start(&t, on_stdin_timer, 500, 0);
    ah_run_until_idle(sim);
    assert_string_equal(log_buf, "write(0) shutdown(0) out[abc\n]@500 out:EOF@500 exit(0,0)@500 ");
    assert_string_equal(ah_proc_stdin_of(sim, "cat", NULL), "abc\n");
}

static void scripted_reads_stdin_until_eof(void **state)
{
    ah_sim *sim = *state;
    ah_program *p = ah_proc_script(sim, "wc");
    char *args[] = {"wc", NULL};
    static uv_timer_t t;

    ah_proc_wait_stdin_eof(p);
    ah_proc_write(p, 1, "1\n");
    setup("wc", args, 2);
    assert_int_equal(uv_spawn(uv_default_loop(), &proc, &opts), 0);
    uv_read_start((uv_stream_t *)&out, alloc_cb, read_cb);
    uv_timer_init(uv_default_loop(), &t);
    uv_timer_start(&t, on_stdin_timer, 70, 0);
    ah_run_until_idle(sim);
    assert_string_equal(log_buf, "write(0) shutdown(0) out[1\n]@70 out:EOF@70 exit(0,0)@70 ");
    assert_string_equal(ah_proc_stdin_of(sim, "wc", NULL), "abc\n");
}

static void kill_timer_cb(uv_timer_t *t)
{
    logf_("kill=%d ", uv_process_kill(&proc, SIGTERM));
    uv_close((uv_handle_t *)t, NULL);
}

static void process_kill_ends_a_hanging_child(void **state)
{
    ah_sim *sim = *state;
    ah_program *p = ah_proc_script(sim, "server");
    char *args[] = {"server", NULL};
    static uv_timer_t t;

    ah_proc_delay(p, 1000000);
    setup("server", args, 0);
    assert_int_equal(uv_spawn(uv_default_loop(), &proc, &opts), 0);
    uv_timer_init(uv_default_loop(), &t);
    uv_timer_start(&t, kill_timer_cb, 100, 0);
    ah_run_until_idle(sim);
    assert_string_equal(log_buf, "kill=0 exit(0,15)@100 ");
    assert_int_equal(uv_kill(proc.pid, 0), UV_ESRCH);
}

static void real_sleep_killed(void **state)
{
    ah_sim *sim = *state;
    char *args[] = {"sleep", "30", NULL};
    static uv_timer_t t;

    ah_proc_real_ms(sim, 5000);
    setup("sleep", args, 0);
    assert_int_equal(uv_spawn(uv_default_loop(), &proc, &opts), 0);
    uv_timer_init(uv_default_loop(), &t);
    uv_timer_start(&t, kill_timer_cb, 100, 0);
    ah_run_until_idle(sim);
    assert_string_equal(log_buf, "kill=0 exit(0,15)@100 ");
}

static uv_signal_t chld;
static void on_chld(uv_signal_t *h, int signum)
{
    logf_("SIGCHLD(%d) ", signum);
    uv_close((uv_handle_t *)h, NULL);
}

static void sigchld_reaches_user_handles_too(void **state)
{
    ah_sim *sim = *state;
    ah_program *p = ah_proc_script(sim, "true");
    char *args[] = {"true", NULL};

    ah_proc_delay(p, 5);
    setup("true", args, 0);
    uv_signal_init(uv_default_loop(), &chld);
    uv_signal_start(&chld, on_chld, SIGCHLD);
    assert_int_equal(uv_spawn(uv_default_loop(), &proc, &opts), 0);
    ah_run_until_idle(sim);
    assert_string_equal(log_buf, "SIGCHLD(17) exit(0,0)@5 ");
}

static void pipe_closed(uv_handle_t *h)
{
    (void)h;
    logf_("pipe closed ");
}

static void read_close_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    if (n < 0)
        uv_close((uv_handle_t *)s, pipe_closed);
}

static void race_body(ah_sim *sim, void *ctx)
{
    ah_program *p = ah_proc_script(sim, "echo");
    char *args[] = {"echo", NULL};

    (void)ctx;
    ah_proc_exit_race(sim, 1);
    ah_proc_write(p, 1, "x");
    setup("echo", args, 1);
    uv_spawn(uv_default_loop(), &proc, &opts);
    uv_read_start((uv_stream_t *)&out, alloc_cb, read_close_cb);
    ah_run_until_idle(sim);
}

/* Both orders of the exit and the pipe's close callback are reachable through the oracle. */
static void exit_race_is_a_choice_of_the_oracle(void **state)
{
    int seen_before = 0, seen_after = 0;
    uint64_t seed;

    (void)state;
    for (seed = 1; seed <= 16; seed++) {
        ah_sim_opts o = {.seed = seed};
        char *msg = ah_capture_failure(&o, race_body, NULL);
        assert_null(msg);
        if (strncmp(log_buf, "pipe closed", 11) == 0)
            seen_before++;
        else
            seen_after++;
    }
    assert_true(seen_before > 0);
    assert_true(seen_after > 0);
}

/* ---- planted bugs ---- */

static void noop_exit(uv_process_t *p, int64_t s, int t) { (void)p, (void)s, (void)t; }

/* Kills the child and closes the handle at once: the exit (SIGCHLD) is never collected. */
static void closes_before_exit_body(ah_sim *sim, void *ctx)
{
    ah_program *p = ah_proc_script(sim, "daemon");
    char *args[] = {"daemon", NULL};

    ah_proc_delay(p, 100000);
    setup("daemon", args, 0);
    opts.exit_cb = ctx ? exit_cb : noop_exit;
    uv_spawn(uv_default_loop(), &proc, &opts);
    uv_process_kill(&proc, SIGTERM);
    if (ctx == NULL)
        uv_close((uv_handle_t *)&proc, NULL);
    ah_run_until_idle(sim);
}

static void planted_client_forgets_the_exit(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, closes_before_exit_body, NULL, "was never reaped");
    ah_assert_fails_with(NULL, closes_before_exit_body, NULL,
                         "spawned in closes_before_exit_body (test_process.c:");
    ah_assert_passes(NULL, closes_before_exit_body, (void *)1);
}

static void keep_open_exit(uv_process_t *p, int64_t s, int t) { (void)p, (void)s, (void)t; }

static void never_closes_body(ah_sim *sim, void *ctx)
{
    ah_program *p = ah_proc_script(sim, "job");
    char *args[] = {"job", NULL};

    ah_proc_exit(p, 0);
    setup("job", args, 0);
    opts.exit_cb = ctx ? exit_cb : keep_open_exit;
    uv_spawn(uv_default_loop(), &proc, &opts);
    ah_run_until_idle(sim);
}

static void planted_client_never_closes_the_process_handle(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, never_closes_body, NULL, "uv_process_t #1");
    ah_assert_passes(NULL, never_closes_body, (void *)1);
}

static void never_closes_stdin_body(ah_sim *sim, void *ctx)
{
    ah_program *p = ah_proc_script(sim, "sort");
    char *args[] = {"sort", NULL};
    uv_buf_t b = uv_buf_init("b\na\n", 4);

    ah_proc_wait_stdin_eof(p);
    setup("sort", args, 2);
    uv_spawn(uv_default_loop(), &proc, &opts);
    uv_close((uv_handle_t *)&out, NULL);
    uv_write(&wreq, (uv_stream_t *)&in, &b, 1, NULL);
    if (ctx != NULL)
        uv_close((uv_handle_t *)&in, NULL);
    ah_run_until_idle(sim);
    if (ctx == NULL)
        uv_close((uv_handle_t *)&in, NULL);
}

static void planted_client_never_gets_the_exit(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, never_closes_stdin_body, NULL,
                         "waiting for EOF on its stdin, which the parent never closes");
    ah_assert_passes(NULL, never_closes_stdin_body, (void *)1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(scripted_program_prints_and_exits_in_virtual_time),
        ah_unit_test(missing_program_fails_synchronously_with_enoent),
        ah_unit_test(scripted_spawn_error),
        ah_unit_test(stdio_errors_before_anything_runs),
        ah_unit_test(spawn_without_a_file_fails_the_test),
        ah_unit_test(real_echo_output_then_eof_then_exit),
        ah_unit_test(real_sh_exit_status),
        ah_unit_test(real_cat_waits_for_its_stdin),
        ah_unit_test(scripted_reads_stdin_until_eof),
        ah_unit_test(process_kill_ends_a_hanging_child),
        ah_unit_test(real_sleep_killed),
        ah_unit_test(sigchld_reaches_user_handles_too),
        ah_unit_test(exit_race_is_a_choice_of_the_oracle),
        ah_unit_test(planted_client_forgets_the_exit),
        ah_unit_test(planted_client_never_closes_the_process_handle),
        ah_unit_test(planted_client_never_gets_the_exit),
    };
    return ah_run_tests(tests);
}
