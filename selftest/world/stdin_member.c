/* A member fed through its stdin (test_world_kv.c, docs/world.md "Pipes"). "fgets": blocks in
 * fgets on stdin (the C library's own read, which no interposition sees), answers "got: LINE" and
 * exits 0. "uv": reads stdin through libuv (uv_pipe_open(0)) and echoes every chunk on stdout
 * through libuv, until end of file; exits 0. Plain libuv and libc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_pipe_t in, out;
static char rbuf[256];

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h;
    (void)n;
    *b = uv_buf_init(rbuf, sizeof(rbuf));
}

static void written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    uv_write_t *w;
    uv_buf_t o;

    if (n < 0) {
        uv_close((uv_handle_t *)st, NULL);
        uv_close((uv_handle_t *)&out, NULL);
        return;
    }
    if (n == 0)
        return;
    w = malloc(sizeof(*w));
    w->data = malloc((size_t)n);
    memcpy(w->data, b->base, (size_t)n);
    o = uv_buf_init(w->data, (unsigned)n);
    uv_write(w, (uv_stream_t *)&out, &o, 1, written);
}

int main(int argc, char **argv)
{
    char line[128];

    if (argc > 1 && strcmp(argv[1], "fgets") == 0) {
        if (fgets(line, sizeof(line), stdin) == NULL)
            return 1;
        printf("got: %s", line);
        fflush(stdout);
        return 0;
    }
    uv_pipe_init(uv_default_loop(), &in, 0);
    uv_pipe_init(uv_default_loop(), &out, 0);
    uv_pipe_open(&in, 0);
    uv_pipe_open(&out, 1);
    uv_read_start((uv_stream_t *)&in, alloc_cb, on_read);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    return 0;
}
