/* Fake terminals (ah_tty_open): the program's uv_tty_t reads what the test types and writes what
 * the test reads, at virtual instants; modes and window size as a terminal's; SIGWINCH on a
 * resize; EOF on hangup; uv_guess_handle on fake descriptors; reading a real descriptor fails
 * naming the call. */
#include <ah/ah.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

static char seen[512];
static void note(const char *fmt, ...)
{
    va_list ap;
    size_t n = strlen(seen);
    va_start(ap, fmt);
    vsnprintf(seen + n, sizeof(seen) - n, fmt, ap);
    va_end(ap);
}

static char rbuf[64];
static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    (void)h;
    (void)size;
    *b = uv_buf_init(rbuf, sizeof(rbuf));
}

/* The program under test: an echo prompt on its terminal. */
static uv_tty_t tty;
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    static uv_write_t w;
    static char out[80];
    if (n > 0) {
        note("read '%.*s'@%llu ", (int)n, b->base, (unsigned long long)ah_now_ms(ah_sim_current()));
        snprintf(out, sizeof(out), "> %.*s", (int)n, b->base);
        uv_buf_t ob = uv_buf_init(out, (unsigned)strlen(out));
        assert_int_equal(uv_write(&w, s, &ob, 1, NULL), 0);
    } else if (n == UV_EOF) {
        note("eof@%llu ", (unsigned long long)ah_now_ms(ah_sim_current()));
        uv_close((uv_handle_t *)s, NULL);
    } else if (n < 0) {
        note("error %s ", uv_err_name((int)n));
    }
}

static uv_timer_t typist;
static int term_fd;
static void type_line(uv_timer_t *t)
{
    (void)t;
    assert_int_equal(write(term_fd, "ls\n", 3), 3);
}

static void program_reads_what_the_test_types(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t *loop = uv_default_loop();
    int fd = ah_tty_open(sim, &term_fd);
    char out[64];
    ssize_t n;

    seen[0] = '\0';
    assert_true(fd >= 0);
    assert_true(isatty(fd));
    assert_false(isatty(term_fd));
    assert_int_equal(uv_guess_handle(fd), UV_TTY);
    assert_int_equal(uv_tty_init(loop, &tty, fd, 1), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&tty, on_alloc, on_read), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&tty, on_alloc, on_read),
                     UV_VERSION_HEX >= 0x012900 ? UV_EALREADY : 0);
    uv_timer_init(loop, &typist);
    uv_timer_start(&typist, type_line, 250, 0);
    ah_advance(sim, 300);
    assert_string_equal(seen, "read 'ls\n'@250 ");
    n = read(term_fd, out, sizeof(out));
    assert_int_equal(n, 5);
    assert_memory_equal(out, "> ls\n", 5);
    uv_close((uv_handle_t *)&typist, NULL);
    /* hanging up: the program reads EOF and closes its terminal (which closes the descriptor) */
    close(term_fd);
    ah_run_until_idle(sim);
    assert_string_equal(seen, "read 'ls\n'@250 eof@300 ");
    errno = 0;
    assert_int_equal(isatty(fd), 0); /* closed by uv_close, as libuv's does above stderr */
}

static void read_stop_pauses_input(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t *loop = uv_default_loop();
    int fd = ah_tty_open(sim, &term_fd);

    seen[0] = '\0';
    assert_int_equal(uv_tty_init(loop, &tty, fd, 1), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&tty, on_alloc, on_read), 0);
    assert_int_equal(uv_read_stop((uv_stream_t *)&tty), 0);
    assert_int_equal(write(term_fd, "a", 1), 1);
    ah_advance(sim, 10);
    assert_string_equal(seen, ""); /* not reading: the byte waits, and the loop is not held */
    assert_false(uv_is_active((uv_handle_t *)&tty));
    assert_int_equal(uv_read_start((uv_stream_t *)&tty, on_alloc, on_read), 0);
    ah_advance(sim, 1);
    assert_string_equal(seen, "read 'a'@10 ");
    uv_close((uv_handle_t *)&tty, NULL);
    close(term_fd);
    ah_run_until_idle(sim);
}

static uv_signal_t winch;
static void on_winch(uv_signal_t *h, int signum)
{
    int w, r;
    (void)h;
    assert_int_equal(signum, SIGWINCH);
    assert_int_equal(uv_tty_get_winsize(&tty, &w, &r), 0);
    note("winch %dx%d@%llu ", w, r, (unsigned long long)ah_now_ms(ah_sim_current()));
}

static void modes_and_window_size(void **state)
{
    ah_sim *sim = *state;
    uv_loop_t *loop = uv_default_loop();
    int fd = ah_tty_open(sim, &term_fd), w = 0, r = 0;
    struct termios tio;

    seen[0] = '\0';
    assert_int_equal(uv_tty_init(loop, &tty, fd, 0), 0);
    assert_int_equal(uv_tty_get_winsize(&tty, &w, &r), 0);
    assert_int_equal(w, 80);
    assert_int_equal(r, 24);
    assert_int_equal(tcgetattr(fd, &tio), 0);
    assert_true(tio.c_lflag & ICANON);
    assert_int_equal(uv_tty_set_mode(&tty, UV_TTY_MODE_RAW), 0);
    assert_int_equal(tcgetattr(fd, &tio), 0);
    assert_false(tio.c_lflag & (ICANON | ECHO | ISIG));
    assert_int_equal(uv_tty_reset_mode(), 0);
    assert_int_equal(tcgetattr(fd, &tio), 0);
    assert_true(tio.c_lflag & ICANON);
    /* a terminal's other end, and a fake socket, are no terminals */
    assert_int_equal(tcgetattr(term_fd, &tio), -1);
    assert_int_equal(errno, ENOTTY);

    uv_signal_init(loop, &winch);
    uv_signal_start(&winch, on_winch, SIGWINCH);
    ah_advance(sim, 40);
    assert_int_equal(ah_tty_set_winsize(sim, fd, 132, 43), 0);
    assert_int_equal(ah_tty_set_winsize(sim, fd, 132, 43), 0); /* no change: no signal */
    ah_run_ready(sim);
    assert_string_equal(seen, "winch 132x43@40 ");
    uv_close((uv_handle_t *)&winch, NULL);
    uv_close((uv_handle_t *)&tty, NULL);
    close(term_fd);
    ah_run_until_idle(sim);
}

static void guess_handle_of_fake_descriptors(void **state)
{
    int sv[2], t;

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    t = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(uv_guess_handle(sv[0]), UV_NAMED_PIPE);
    assert_int_equal(uv_guess_handle(t), UV_TCP);
    assert_int_equal(uv_guess_handle(-1), UV_UNKNOWN_HANDLE);
    close(sv[0]);
    close(sv[1]);
    close(t);
}

static int real_pipe[2];
static int real_reads;

static void real_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    static char slab[64];
    (void)h, (void)size;
    *b = uv_buf_init(slab, sizeof(slab));
}

static void real_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if (n > 0)
        real_reads++;
    else if (n < 0)
        uv_close((uv_handle_t *)s, NULL);
}

/* A real descriptor under uv_tty_t is read for real (fd/real.c). ctx NULL: planted, nobody
 * writes: after the real-time budget the report names the pipe and the uv_tty_t reading it. */
static void read_real_body(ah_sim *sim, void *ctx)
{
    int *p = real_pipe;
    ah_fd_passthrough(sim, 1); /* a real pipe */
    assert_int_equal(pipe(p), 0);
    ah_fd_passthrough(sim, 0);
    real_reads = 0;
    assert_int_equal(uv_tty_init(uv_default_loop(), &tty, p[0], 1), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&tty, real_alloc, real_read), 0);
    if (ctx != NULL) {
        assert_int_equal(write(p[1], "ls\n", 3), 3);
        close(p[1]);
    }
    assert_int_equal(uv_run(uv_default_loop(), UV_RUN_DEFAULT), 0);
    assert_int_equal(real_reads, 1);
}

static void a_real_descriptor_under_uv_tty_t_is_read_for_real(void **state)
{
    ah_sim_opts o;

    (void)state;
    memset(&o, 0, sizeof(o));
    o.real_fd_wait_ms = 50;
    ah_assert_fails_with(&o, read_real_body, NULL, "waited on for reading by uv_tty_t #1");
    close(real_pipe[0]);
    close(real_pipe[1]);
    ah_assert_passes(&o, read_real_body, "writes");
    close(real_pipe[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(program_reads_what_the_test_types),
        ah_unit_test(read_stop_pauses_input),
        ah_unit_test(modes_and_window_size),
        ah_unit_test(guess_handle_of_fake_descriptors),
        cmocka_unit_test(a_real_descriptor_under_uv_tty_t_is_read_for_real),
    };
    return ah_run_tests(tests);
}
