/* A supervisor that spawns two workers (docs/world.md): it listens, spawns worker "A" then worker
 * "B", and records the order in which they register. The planted bug (built as
 * world_race_planted) takes the first to register as worker A: true when A runs first, which the
 * default schedule does, and false when the world runs B's process first at that instant, which
 * ah-explore finds. The twin (world_race_correct, RACE_CORRECT) reads the name each worker sends.
 * Plain libuv; argv[1] is the worker program, argv[2] the port. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_loop_t *loop;
static uv_tcp_t server, conns[2];
static uv_process_t workers[2];
static int nconns, exited;
static char names[2][16];
static size_t name_len[2];

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    static char b[64];
    (void)h;
    (void)size;
    *buf = uv_buf_init(b, sizeof(b));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    int i = s == (uv_stream_t *)&conns[0] ? 0 : 1;
    ssize_t k;

    for (k = 0; k < n; k++)
        if (buf->base[k] == '\n') {
            names[i][name_len[i]] = '\0';
#ifdef RACE_CORRECT
            printf("worker %s registered %s\n", names[i], i == 0 ? "first" : "second");
#else
            /* the planted bug: the first to register must be the first spawned */
            printf("worker %s registered %s\n", i == 0 ? "A" : "B", i == 0 ? "first" : "second");
            if (strcmp(names[i], i == 0 ? "A" : "B") != 0) {
                fprintf(stderr, "supervisor: connection %d is worker %s, not %s\n", i, names[i],
                        i == 0 ? "A" : "B");
                abort();
            }
#endif
            uv_close((uv_handle_t *)s, NULL); /* registered: the worker may go */
            return;
        } else if (name_len[i] < sizeof(names[i]) - 1) {
            names[i][name_len[i]++] = buf->base[k];
        }
    if (n < 0)
        uv_close((uv_handle_t *)s, NULL);
}

static void on_connection(uv_stream_t *s, int status)
{
    if (status < 0 || nconns == 2)
        return;
    uv_tcp_init(loop, &conns[nconns]);
    if (uv_accept(s, (uv_stream_t *)&conns[nconns]) == 0)
        uv_read_start((uv_stream_t *)&conns[nconns], alloc_cb, read_cb);
    nconns++;
}

static void exit_cb(uv_process_t *p, int64_t status, int signum)
{
    printf("a worker exits %lld signal %d\n", (long long)status, signum);
    uv_close((uv_handle_t *)p, NULL);
    if (++exited == 2)
        uv_close((uv_handle_t *)&server, NULL);
}

static void spawn(int i, const char *file, char *port)
{
    char *args[4];
    uv_process_options_t o;
    uv_stdio_container_t io[3];
    int r;

    args[0] = (char *)file;
    args[1] = i == 0 ? "A" : "B";
    args[2] = port;
    args[3] = NULL;
    memset(&o, 0, sizeof(o));
    io[0].flags = UV_IGNORE;
    io[1].flags = UV_INHERIT_FD;
    io[1].data.fd = 1;
    io[2].flags = UV_INHERIT_FD;
    io[2].data.fd = 2;
    o.file = file;
    o.args = args;
    o.exit_cb = exit_cb;
    o.stdio = io;
    o.stdio_count = 3;
    if ((r = uv_spawn(loop, &workers[i], &o)) != 0) {
        fprintf(stderr, "uv_spawn: %s\n", uv_strerror(r));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_in a;

    if (argc < 3)
        return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    loop = uv_default_loop();
    uv_ip4_addr("127.0.0.1", atoi(argv[2]), &a);
    uv_tcp_init(loop, &server);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&a, 0) != 0 ||
        uv_listen((uv_stream_t *)&server, 8, on_connection) != 0)
        return 2;
    spawn(0, argv[1], argv[2]);
    spawn(1, argv[1], argv[2]);
    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}
