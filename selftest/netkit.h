/* A small plain-libuv TCP client for the network tests: it connects, writes, reads into a buffer
 * and logs every callback with the virtual time, so a test can assert what happened and when:
 * "10 connect 0|20 write 0|40 read 5|40 read EOF|40 close". */
#ifndef AH_SELFTEST_NETKIT_H
#define AH_SELFTEST_NETKIT_H

#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static char netlog[4096];

static __attribute__((unused)) void netlog_add(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), unused));
static __attribute__((unused)) void netlog_add(const char *fmt, ...)
{
    va_list ap;
    size_t n = strlen(netlog);

    if (n > 0 && n < sizeof(netlog) - 1)
        netlog[n++] = '|';
    n += (size_t)snprintf(netlog + n, sizeof(netlog) - n, "%llu ",
                          (unsigned long long)ah_now_ms(ah_sim_current()));
    if (n >= sizeof(netlog))
        return;
    va_start(ap, fmt);
    vsnprintf(netlog + n, sizeof(netlog) - n, fmt, ap);
    va_end(ap);
}

static const char *rc_str(int rc)
{
    static char b[16];
    if (rc < 0)
        return uv_err_name(rc);
    snprintf(b, sizeof(b), "%d", rc);
    return b;
}

typedef struct tclient {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq[8];
    int nw;
    uv_shutdown_t sreq;
    char in[1 << 16];
    size_t got;
    size_t max_read; /* alloc gives at most this much (0: all the room left) */
    int read_on_connect;
    int close_on_eof;
    int connect_status, read_error, closed;
    const char *send_on_connect;
} tclient;

static __attribute__((unused)) void tc_on_close(uv_handle_t *h)
{
    ((tclient *)h->data)->closed = 1;
    netlog_add("close");
}

static __attribute__((unused)) void tc_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    tclient *c = h->data;
    size_t room = sizeof(c->in) - c->got;

    (void)size;
    if (c->max_read != 0 && room > c->max_read)
        room = c->max_read;
    *buf = uv_buf_init(c->in + c->got, (unsigned)room);
}

static __attribute__((unused)) void tc_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    tclient *c = s->data;

    (void)buf;
    if (nread > 0) {
        c->got += (size_t)nread;
        netlog_add("read %d", (int)nread);
    } else if (nread < 0) {
        c->read_error = (int)nread;
        netlog_add("read %s", uv_err_name((int)nread));
        if (c->close_on_eof && nread != UV_ENOBUFS)
            uv_close((uv_handle_t *)s, tc_on_close);
    }
}

static __attribute__((unused)) void tc_written(uv_write_t *req, int status)
{
    (void)req;
    netlog_add("write %s", rc_str(status));
}

/* Queues a write of `text` (static storage) on the client. */
static __attribute__((unused)) int tc_write(tclient *c, const char *text)
{
    uv_buf_t b = uv_buf_init((char *)text, (unsigned)strlen(text));
    assert_true(c->nw < 8);
    return uv_write(&c->wreq[c->nw++], (uv_stream_t *)&c->tcp, &b, 1, tc_written);
}

static __attribute__((unused)) void tc_connected(uv_connect_t *req, int status)
{
    tclient *c = req->handle->data;

    c->connect_status = status;
    netlog_add("connect %s", rc_str(status));
    if (status < 0) {
        if (!uv_is_closing((uv_handle_t *)&c->tcp))
            uv_close((uv_handle_t *)&c->tcp, tc_on_close);
        return;
    }
    if (c->read_on_connect)
        assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, tc_alloc, tc_read), 0);
    if (c->send_on_connect != NULL)
        assert_int_equal(tc_write(c, c->send_on_connect), 0);
}

/* Starts a connect of `c` to "ip:port"; reads from the start and closes at EOF or error. */
static __attribute__((unused)) void tc_connect(tclient *c, const char *ip, int port,
                                               const char *send)
{
    struct sockaddr_in a;

    memset(c, 0, sizeof(*c));
    c->read_on_connect = 1;
    c->close_on_eof = 1;
    c->send_on_connect = send;
    uv_tcp_init(uv_default_loop(), &c->tcp);
    c->tcp.data = c;
    uv_ip4_addr(ip, port, &a);
    assert_int_equal(uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&a, tc_connected),
                     0);
}

static __attribute__((unused)) void tc_close(tclient *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, tc_on_close);
}

#define assert_log(expected) assert_string_equal(netlog, (expected))

#endif
