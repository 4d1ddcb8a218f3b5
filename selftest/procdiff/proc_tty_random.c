/* uv_tty_t on descriptors that are not terminals (a pipe: accepted as a stream; a file: refused),
 * its mode and window size errors; uv_random's argument errors, its synchronous form and its
 * asynchronous callback (status and length; the bytes differ by design); uv_loop_fork. */
#include "trace.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static uv_loop_t *loop;
static uv_tty_t tty_r, tty_w, tty_f, tty_x;
static uv_random_t rreq;
static unsigned char bytes[64];

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static uv_write_t wreq, wreq2;

static void write_cb(uv_write_t *req, int status)
{
    V(req == &wreq ? "write_cb" : "write_cb of the closed tty", status);
}

static void random_cb(uv_random_t *req, int status, void *buf, size_t len)
{
    V("random_cb", status);
    V("  same request and buffer", req == &rreq && buf == bytes);
    V("  length", (long long)len);
    uv_close((uv_handle_t *)&tty_r, on_close);
    uv_close((uv_handle_t *)&tty_w, on_close);
}

int main(void)
{
    int fds[2], w = 0, h = 0, file;
    char path[] = "/tmp/ahprocdiffXXXXXX";

    loop = uv_default_loop();
    tty_r.data = "tty on pipe read end";
    tty_w.data = "tty on pipe write end";
    if (pipe(fds) != 0)
        return 2;
    V("guess pipe", uv_guess_handle(fds[0]) == UV_NAMED_PIPE);
    V("tty_init read end", uv_tty_init(loop, &tty_r, fds[0], 0));
    V("tty_init write end", uv_tty_init(loop, &tty_w, fds[1], 0));
    V("  readable", uv_is_readable((uv_stream_t *)&tty_r));
    V("  writable", uv_is_writable((uv_stream_t *)&tty_r));
    V("  w readable", uv_is_readable((uv_stream_t *)&tty_w));
    V("  w writable", uv_is_writable((uv_stream_t *)&tty_w));
    V("  type", uv_handle_get_type((uv_handle_t *)&tty_r) == UV_TTY);
    V("winsize", uv_tty_get_winsize(&tty_w, &w, &h));
    V("set_mode normal", uv_tty_set_mode(&tty_w, UV_TTY_MODE_NORMAL));
    V("set_mode raw", uv_tty_set_mode(&tty_w, UV_TTY_MODE_RAW));
    V("reset_mode", uv_tty_reset_mode());
    file = mkstemp(path);
    unlink(path);
    V("guess file", uv_guess_handle(file) == UV_FILE);
    V("tty_init file", uv_tty_init(loop, &tty_f, file, 0));
    V("tty_init bad fd", uv_tty_init(loop, &tty_f, -1, 0));
    close(file);

    {
        uv_buf_t b[2] = {uv_buf_init("he", 2), uv_buf_init("llo", 3)};
        char got[16];
        ssize_t n;
        V("write to the tty", uv_write(&wreq, (uv_stream_t *)&tty_w, b, 2, write_cb));
        V("try_write to the tty", uv_try_write((uv_stream_t *)&tty_w, b, 1));
        V("write to the read end", uv_write(&wreq2, (uv_stream_t *)&tty_r, b, 1, write_cb));
        tty_x.data = "second tty on the write end";
        V("tty_init second", uv_tty_init(loop, &tty_x, fds[1], 0));
        V("write then close", uv_write(&wreq2, (uv_stream_t *)&tty_x, b + 1, 1, write_cb));
        uv_close((uv_handle_t *)&tty_x, on_close);
        n = read(fds[0], got, sizeof(got));
        P("the pipe got \"%.*s\"", (int)(n > 0 ? n : 0), got);
        V("run the writes", uv_run(loop, UV_RUN_DEFAULT));
    }
    V("random too big", uv_random(loop, &rreq, bytes, 0x80000000u, 0, random_cb));
    V("random flags", uv_random(loop, &rreq, bytes, sizeof(bytes), 1, random_cb));
    V("random sync", uv_random(NULL, NULL, bytes, sizeof(bytes), 0, NULL));
    V("random async", uv_random(loop, &rreq, bytes, sizeof(bytes), 0, random_cb));
    V("alive with the request", uv_loop_alive(loop));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    V("loop_fork", uv_loop_fork(loop));
    V("os_getpid", uv_os_getpid() == getpid());
    close(fds[0]);
    close(fds[1]);
    return scenario_end(loop);
}
