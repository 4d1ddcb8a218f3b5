/* A small Redis-protocol (RESP2) server for the kvclient example run against a server process
 * (test_world_kv.c, docs/world.md): PING, SET key value [PX ms] (the expiry is ignored), GET and
 * DEL, in memory, one connection at a time per uv_tcp_t. Plain libuv: kv_server PORT. SIGTERM
 * closes the listener and the connections, and it exits 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MAX_KEYS 64
#define MAX_CONNS 8

typedef struct conn {
    uv_tcp_t tcp;
    char buf[4096];
    size_t len;
    int used;
} conn;

static uv_loop_t *loop;
static uv_tcp_t server;
static uv_signal_t sigterm;
static conn conns[MAX_CONNS];
static char keys[MAX_KEYS][64], vals[MAX_KEYS][256];
static int nkeys;

static void conn_closed(uv_handle_t *h) { ((conn *)h)->used = 0; }

static void write_cb(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void reply(conn *c, const char *s, size_t n)
{
    uv_write_t *w = malloc(sizeof(*w) + n);
    uv_buf_t b = uv_buf_init((char *)(w + 1), (unsigned)n);
    memcpy(w + 1, s, n);
    uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
}

static int key_index(const char *k)
{
    int i;
    for (i = 0; i < nkeys; i++)
        if (strcmp(keys[i], k) == 0)
            return i;
    return -1;
}

static void command(conn *c, int argc, char **argv)
{
    char out[300];
    int i;

    if (argc >= 1 && strcasecmp(argv[0], "PING") == 0) {
        reply(c, "+PONG\r\n", 7);
    } else if (argc >= 3 && strcasecmp(argv[0], "SET") == 0) {
        if ((i = key_index(argv[1])) < 0 && nkeys < MAX_KEYS)
            i = nkeys++;
        if (i >= 0) {
            snprintf(keys[i], sizeof(keys[i]), "%s", argv[1]);
            snprintf(vals[i], sizeof(vals[i]), "%s", argv[2]);
        }
        reply(c, "+OK\r\n", 5);
    } else if (argc >= 2 && strcasecmp(argv[0], "GET") == 0) {
        if ((i = key_index(argv[1])) < 0) {
            reply(c, "$-1\r\n", 5);
        } else {
            int n = snprintf(out, sizeof(out), "$%zu\r\n%s\r\n", strlen(vals[i]), vals[i]);
            reply(c, out, (size_t)n);
        }
    } else if (argc >= 2 && strcasecmp(argv[0], "DEL") == 0) {
        int n = 0;
        if ((i = key_index(argv[1])) >= 0) {
            nkeys--;
            memmove(keys[i], keys[nkeys], sizeof(keys[i]));
            memmove(vals[i], vals[nkeys], sizeof(vals[i]));
            n = 1;
        }
        snprintf(out, sizeof(out), ":%d\r\n", n);
        reply(c, out, strlen(out));
    } else {
        reply(c, "-ERR unknown command\r\n", 22);
    }
}

/* One complete RESP array of bulk strings at the start of c->buf: its length, or 0. */
static size_t parse(conn *c, int *argc, char **argv, size_t max)
{
    char *p = c->buf, *end = c->buf + c->len, *nl;
    long n, len;
    int i;

    if (c->len == 0 || *p != '*' || (nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
        return 0;
    n = strtol(p + 1, NULL, 10);
    p = nl + 1;
    for (i = 0; i < n; i++) {
        if (p >= end || *p != '$' || (nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
            return 0;
        len = strtol(p + 1, NULL, 10);
        p = nl + 1;
        if (end - p < len + 2)
            return 0;
        if ((size_t)i < max)
            argv[i] = p;
        p[len] = '\0'; /* over the \r */
        p += len + 2;
    }
    *argc = (int)(n < (long)max ? n : (long)max);
    return (size_t)(p - c->buf);
}

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    conn *c = (conn *)h;
    (void)size;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn *c = (conn *)s;
    char *argv[8];
    int argc;
    size_t used;

    (void)buf;
    if (n < 0) {
        uv_close((uv_handle_t *)s, conn_closed);
        return;
    }
    c->len += (size_t)n;
    while ((used = parse(c, &argc, argv, 8)) > 0) {
        command(c, argc, argv);
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
    }
}

static void on_connection(uv_stream_t *s, int status)
{
    int i;

    if (status < 0)
        return;
    for (i = 0; i < MAX_CONNS && conns[i].used; i++)
        ;
    if (i == MAX_CONNS)
        return;
    conns[i].used = 1;
    conns[i].len = 0;
    uv_tcp_init(loop, &conns[i].tcp);
    if (uv_accept(s, (uv_stream_t *)&conns[i].tcp) == 0)
        uv_read_start((uv_stream_t *)&conns[i].tcp, alloc_cb, read_cb);
}

static void on_sigterm(uv_signal_t *h, int signum)
{
    int i;
    (void)signum;
    uv_close((uv_handle_t *)h, NULL);
    uv_close((uv_handle_t *)&server, NULL);
    for (i = 0; i < MAX_CONNS; i++)
        if (conns[i].used && !uv_is_closing((uv_handle_t *)&conns[i].tcp))
            uv_close((uv_handle_t *)&conns[i].tcp, conn_closed);
}

int main(int argc, char **argv)
{
    struct sockaddr_in a;

    loop = uv_default_loop();
    uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 6379, &a);
    uv_tcp_init(loop, &server);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&a, 0) != 0 ||
        uv_listen((uv_stream_t *)&server, 16, on_connection) != 0) {
        fprintf(stderr, "kv_server: cannot listen\n");
        return 1;
    }
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_sigterm, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}
