/* The client of the world scenario (docs/world.md, issue 25): plain libuv. Spawns its server
 * (argv[1], port argv[2]), connects over TCP retrying every 50 ms, sends PING (answered after
 * 2 s) and SLOW (never answered: it gives up after 5 s), then sends SIGTERM to the server and
 * prints its exit. Times are ms since the client started.
 *
 * Built with WORLD_POSIX_SPAWN, it starts the server with posix_spawn, sends the SIGTERM with
 * kill and collects the exit with waitpid(WNOHANG) when a uv_signal_t sees SIGCHLD, as a program
 * that does not use uv_spawn does; with WORLD_FORK_EXEC too, it starts it with fork and execv. */
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_loop_t *loop;
static uv_process_t server;
#ifdef WORLD_POSIX_SPAWN
static pid_t server_pid;
static uv_signal_t chld;
extern char **environ;
#endif
static uv_tcp_t tcp;
static uv_connect_t creq;
static uv_timer_t retry, timeout;
static uv_write_t wr1, wr2;
static struct sockaddr_in addr;
static uint64_t t0, t_conn, t_pong;
static int attempts;

static uint64_t now(void) { return uv_now(loop) - t0; }

static void connect_now(uv_timer_t *t);

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    static char b[256];
    (void)h;
    (void)size;
    *buf = uv_buf_init(b, sizeof(b));
}

static void gave_up(uv_timer_t *t)
{
    uint64_t n = now();
    (void)t;
    printf("SLOW timed out at +%llu ms (%llu ms after PONG)\n", (unsigned long long)n,
           (unsigned long long)(n - t_pong));
    uv_close((uv_handle_t *)&tcp, NULL);
#ifdef WORLD_POSIX_SPAWN
    kill(server_pid, SIGTERM);
#else
    uv_process_kill(&server, SIGTERM);
#endif
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    uv_buf_t slow = uv_buf_init("SLOW\n", 5);
    (void)s;
    if (n < 0) {
        printf("connection: %s at +%llu ms\n", uv_err_name((int)n), (unsigned long long)now());
        uv_read_stop(s);
        return;
    }
    if (n >= 4 && memcmp(buf->base, "PONG", 4) == 0) {
        t_pong = now();
        printf("PONG at +%llu ms (%llu ms after the connection)\n", (unsigned long long)t_pong,
               (unsigned long long)(t_pong - t_conn));
        uv_write(&wr2, (uv_stream_t *)&tcp, &slow, 1, NULL);
        uv_timer_start(&timeout, gave_up, 5000, 0);
    }
}

static void tcp_closed(uv_handle_t *h)
{
    (void)h;
    uv_timer_start(&retry, connect_now, 50, 0);
}

static void connect_cb(uv_connect_t *req, int status)
{
    uv_buf_t ping = uv_buf_init("PING\n", 5);
    (void)req;
    if (status < 0) {
        uv_close((uv_handle_t *)&tcp, tcp_closed);
        return;
    }
    t_conn = now();
    printf("connected at +%llu ms\n", (unsigned long long)t_conn);
    uv_read_start((uv_stream_t *)&tcp, alloc_cb, read_cb);
    uv_write(&wr1, (uv_stream_t *)&tcp, &ping, 1, NULL);
}

static void connect_now(uv_timer_t *t)
{
    (void)t;
    attempts++;
    uv_tcp_init(loop, &tcp);
    if (uv_tcp_connect(&creq, &tcp, (const struct sockaddr *)&addr, connect_cb) != 0)
        uv_close((uv_handle_t *)&tcp, tcp_closed);
}

static void exit_cb(uv_process_t *p, int64_t status, int signum)
{
    printf("server exit %lld signal %d at +%llu ms\n", (long long)status, signum,
           (unsigned long long)now());
    uv_close((uv_handle_t *)p, NULL);
    uv_close((uv_handle_t *)&retry, NULL);
}

#ifdef WORLD_POSIX_SPAWN
static void chld_cb(uv_signal_t *h, int signum)
{
    int status;
#if WORLD_EXEC_L == 1
    struct rusage ru;
    pid_t r = wait4(server_pid, &status, WNOHANG, &ru);
#elif WORLD_EXEC_L == 2
    siginfo_t si;
    pid_t r;
    memset(&si, 0, sizeof(si));
    r = waitid(P_PID, (id_t)server_pid, &si, WEXITED | WNOHANG) == 0 ? si.si_pid : -1;
    status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : si.si_status;
#elif WORLD_EXEC_L == 3
    pid_t r = wait3(&status, WNOHANG, NULL);
#else
    pid_t r = waitpid(server_pid, &status, WNOHANG);
#endif

    (void)signum;
    if (r != server_pid)
        return;
    printf("server exit %d signal %d at +%llu ms\n", WIFEXITED(status) ? WEXITSTATUS(status) : 0,
           WIFSIGNALED(status) ? WTERMSIG(status) : 0, (unsigned long long)now());
    uv_close((uv_handle_t *)h, NULL);
    uv_close((uv_handle_t *)&retry, NULL);
}
#endif

int main(int argc, char **argv)
{
    char *args[3];
    uv_process_options_t o;
    uv_stdio_container_t io[3];
    int r;

    if (argc < 3) {
        fprintf(stderr, "usage: %s SERVER PORT\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    loop = uv_default_loop();
    uv_update_time(loop);
    t0 = uv_now(loop);
    uv_ip4_addr("127.0.0.1", atoi(argv[2]), &addr);
    args[0] = argv[1];
    args[1] = argv[2];
    args[2] = NULL;
    memset(&o, 0, sizeof(o));
    io[0].flags = UV_IGNORE;
    io[1].flags = UV_INHERIT_FD;
    io[1].data.fd = 1;
    io[2].flags = UV_INHERIT_FD;
    io[2].data.fd = 2;
    o.file = argv[1];
    o.args = args;
    o.exit_cb = exit_cb;
    o.stdio = io;
    o.stdio_count = 3;
#ifdef WORLD_POSIX_SPAWN
    (void)exit_cb;
    (void)server;
    uv_signal_init(loop, &chld);
    uv_signal_start(&chld, chld_cb, SIGCHLD);
#ifdef WORLD_FORK_EXEC
    if ((server_pid = fork()) == 0) {
#if WORLD_EXEC_L == 1
        execl(argv[1], argv[1], argv[2], (char *)NULL);
#elif WORLD_EXEC_L == 2
        execlp(argv[1], argv[1], argv[2], (char *)NULL);
#elif WORLD_EXEC_L == 3
        execle(argv[1], argv[1], argv[2], (char *)NULL, environ);
#else
        execv(argv[1], args);
#endif
        _exit(127);
    }
    if ((r = server_pid < 0 ? errno : 0) != 0) {
#else
    if ((r = posix_spawn(&server_pid, argv[1], NULL, NULL, args, environ)) != 0) {
#endif
        fprintf(stderr, "posix_spawn: %s\n", strerror(r));
        return 1;
    }
#ifdef PLANTED_BLOCKING_WAIT
    /* planted: a blocking wait on a process of the world before the loop ever runs */
#if WORLD_EXEC_L == 1
    wait4(server_pid, &r, 0, NULL);
#else
    waitpid(server_pid, &r, 0);
#endif
#endif
#else
    if ((r = uv_spawn(loop, &server, &o)) != 0) {
        fprintf(stderr, "uv_spawn: %s\n", uv_strerror(r));
        return 1;
    }
#endif
    uv_timer_init(loop, &retry);
    uv_timer_init(loop, &timeout);
    connect_now(NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&timeout, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    printf("done after %d connect attempt(s)\n", attempts);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}
