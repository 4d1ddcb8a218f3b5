/* Pipes and socketpairs made before a fork and used by both processes, as libuv's fork tests use
 * them: a socketpair watched by a uv_poll started in the parent and run in the child, which the
 * parent writes once a sync pipe told the child to go on (fork_socketpair_started); and a pipe
 * whose read end the child makes its stdin and reads through uv_pipe_open(0) until the parent
 * closes the write end (pipe_close_stdout_read_stdin). Only the parent prints; the child's
 * verdict is its exit status. On the harness the objects become the kernel's at the fork. */
#include <uv.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int cb_called;
static int read_fd = -1;
static char got[8];

static void socket_cb(uv_poll_t *h, int status, int events)
{
    cb_called++;
    if (status == 0 && (events & UV_READABLE) && read_fd >= 0)
        if (read(read_fd, got, 3) != 3)
            got[0] = '\0';
    uv_close((uv_handle_t *)h, NULL);
}

static int wait_child(pid_t pid)
{
    int st = 0;

    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static void socketpair_started(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_poll_t poll_h;
    int sv[2], sync_p[2];
    char c;
    pid_t pid;

    printf("pipe %d\n", pipe(sync_p));
    printf("socketpair %d\n", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    printf("poll_init %d\n", uv_poll_init(loop, &poll_h, sv[0]));
    printf("poll_start %d\n", uv_poll_start(&poll_h, UV_READABLE, socket_cb));
    printf("run nowait %d\n", uv_run(loop, UV_RUN_NOWAIT));
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        if (read(sync_p[0], &c, 1) != 1)
            _exit(2);
        if (uv_loop_fork(loop) != 0)
            _exit(3);
        read_fd = sv[0];
        if (uv_run(loop, UV_RUN_DEFAULT) != 0)
            _exit(4);
        _exit(cb_called == 1 && strcmp(got, "hi\n") == 0 ? 0 : 5);
    }
    printf("fork %d\n", pid > 0);
    printf("poll_stop %d\n", uv_poll_stop(&poll_h));
    uv_close((uv_handle_t *)&poll_h, NULL);
    printf("run %d\n", uv_run(loop, UV_RUN_DEFAULT));
    printf("sync %d\n", (int)write(sync_p[1], "1", 1));
    printf("send %d\n", (int)send(sv[1], "hi\n", 3, 0));
    printf("run %d\n", uv_run(loop, UV_RUN_DEFAULT));
    printf("parent callbacks %d\n", cb_called);
    printf("child exits %d\n", wait_child(pid));
    close(sv[0]);
    close(sv[1]);
    close(sync_p[0]);
    close(sync_p[1]);
}

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    static char slab[64];
    (void)h, (void)n;
    *b = uv_buf_init(slab, sizeof(slab));
}

static int eof_seen;

static void read_stdin(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if (n < 0) {
        eof_seen = n == UV_EOF;
        uv_close((uv_handle_t *)s, NULL);
    }
}

static void stdin_from_pipe(void)
{
    uv_pipe_t in;
    int fd[2];
    char c;
    pid_t pid;

    printf("pipe %d\n", pipe(fd));
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        close(fd[1]);
        if (read(fd[0], &c, 1) != 0) /* until the parent closes the write end */
            _exit(2);
        close(0);
        if (dup(fd[0]) != 0)
            _exit(3);
        if (uv_pipe_init(uv_default_loop(), &in, 0) != 0 || uv_pipe_open(&in, 0) != 0)
            _exit(4);
        if (uv_read_start((uv_stream_t *)&in, alloc_cb, read_stdin) != 0)
            _exit(5);
        if (uv_run(uv_default_loop(), UV_RUN_ONCE) != 0)
            _exit(6); /* the EOF was there: nothing left after one iteration */
        _exit(eof_seen ? 0 : 7);
    }
    printf("fork %d\n", pid > 0);
    printf("close %d\n", close(fd[1]));
    printf("child exits %d\n", wait_child(pid));
    close(fd[0]);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    socketpair_started();
    stdin_from_pipe();
    printf("loop_close %d\n", uv_loop_close(uv_default_loop()));
    return 0;
}
