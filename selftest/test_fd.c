/* The descriptor layer (fd/): raw sockets on the fake network, libc's poll, uv_poll, the virtual
 * libc clocks, getaddrinfo from the DNS table, what passes through, and the diagnostics (each
 * planted misuse beside its correct twin). */
#define _GNU_SOURCE 1
#include <ah/ah.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#define SERVER "127.0.0.1:7000"

static struct sockaddr_in server_addr(void)
{
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 7000, &a);
    return a;
}

static int raw_connect(int nonblock)
{
    struct sockaddr_in a = server_addr();
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);

    assert_true(fd >= 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        assert_int_equal(errno, EINPROGRESS);
    return fd;
}

/* ---- clocks ---- */

static void libc_clocks_read_the_virtual_clock(void **state)
{
    ah_sim *sim = *state;
    struct timespec mono, real, cpu;
    struct timeval tv;
    uv_timeval64_t utv;

    assert_int_equal(time(NULL), 1767225600); /* 2026-01-01T00:00:00Z */
    ah_advance(sim, 1500);
    assert_int_equal(gettimeofday(&tv, NULL), 0);
    assert_int_equal(tv.tv_sec, 1767225601);
    assert_int_equal(tv.tv_usec, 500000);
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &real), 0);
    assert_int_equal(real.tv_sec, 1767225601);
    assert_int_equal(real.tv_nsec, 500000000);
    assert_int_equal(uv_gettimeofday(&utv), 0);
    assert_int_equal(utv.tv_sec, tv.tv_sec);
    assert_int_equal(utv.tv_usec, tv.tv_usec);
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &mono), 0);
    assert_int_equal((uint64_t)mono.tv_sec * 1000000000u + (uint64_t)mono.tv_nsec, uv_hrtime());
    assert_int_equal(clock_gettime(CLOCK_MONOTONIC_COARSE, &mono), 0);
    assert_int_equal((uint64_t)mono.tv_sec * 1000000000u + (uint64_t)mono.tv_nsec, uv_hrtime());
    assert_int_equal(clock_gettime(CLOCK_BOOTTIME, &mono), 0);
    assert_int_equal((uint64_t)mono.tv_sec * 1000000000u + (uint64_t)mono.tv_nsec, uv_hrtime());
    assert_int_equal(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu), 0); /* the real one */
    ah_wall_clock_set(sim, 86400);
    assert_int_equal(time(NULL), 86400 + 1);
}

/* A library that measures its own timeout with clock_gettime sees it pass in virtual time. */
static int deadline_passed(void *ctx)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec >= *(time_t *)ctx;
}

static void tick(uv_timer_t *t) { (void)t; }

static void a_clock_gettime_deadline_passes_in_virtual_time(void **state)
{
    ah_sim *sim = *state;
    struct timespec start;
    time_t deadline;
    uv_timer_t t;

    clock_gettime(CLOCK_MONOTONIC, &start);
    deadline = start.tv_sec + 30;
    uv_timer_init(uv_default_loop(), &t);
    uv_timer_start(&t, tick, 1000, 1000);
    ah_run_until(sim, deadline_passed, &deadline);
    ah_assert_now_ms(sim, 30000);
    uv_close((uv_handle_t *)&t, NULL);
    ah_run_until_idle(sim);
}

/* ---- what passes through ---- */

static void real_descriptors_pass_through(void **state)
{
    int p[2], s, f;
    char b[4];

    (void)state;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "abc", 3), 3);
    assert_int_equal(read(p[0], b, sizeof(b)), 3);
    assert_memory_equal(b, "abc", 3);
    s = socket(AF_INET, SOCK_STREAM, 0);
    f = open("/dev/null", O_RDONLY);
    assert_true(f >= 0 && s >= 0 && f != s && f != p[0] && f != p[1]);
    assert_int_equal(fcntl(f, F_GETFD), 0); /* a real file answers for itself */
    assert_int_equal(close(f), 0);
    assert_int_equal(close(p[0]), 0);
    assert_int_equal(close(p[1]), 0);
    assert_int_equal(close(s), 0);
    assert_int_equal(close(s), -1); /* the number went back to the kernel */
    assert_int_equal(errno, EBADF);
}

/* With no sim, a socket is the kernel's (a plain cmocka test, outside any sim). */
static void with_no_sim_sockets_are_real(void **state)
{
    struct stat st;
    int s;

    (void)state;
    assert_null(ah_sim_current());
    s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    assert_int_equal(fstat(s, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(close(s), 0);
}

static void passthrough_sockets_are_real(void **state)
{
    ah_sim *sim = *state;
    struct stat st;
    int s;

    ah_fd_passthrough(sim, 1);
    s = socket(AF_INET, SOCK_STREAM, 0);
    ah_fd_passthrough(sim, 0);
    assert_int_equal(fstat(s, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    close(s);
}

/* ---- the socket of a uv_tcp_t closed behind libuv's back (libuv's tcp_write_fail) ---- */

static int behind_status = 1;
static void behind_write_cb(uv_write_t *req, int status)
{
    behind_status = status;
    uv_close((uv_handle_t *)req->handle, NULL);
}

static void behind_connect_cb(uv_connect_t *req, int status)
{
    static uv_write_t w;
    uv_buf_t b = uv_buf_init("hello", 5);
    uv_os_fd_t fd;

    assert_int_equal(status, 0);
    assert_int_equal(uv_fileno((uv_handle_t *)req->handle, &fd), 0);
    if (req->data != NULL) {
        assert_int_equal(close(fd), 0);  /* planted: the hard way */
        assert_int_equal(close(fd), -1); /* the kernel's answer to a second close */
        assert_int_equal(errno, EBADF);
    }
    assert_int_equal(uv_write(&w, req->handle, &b, 1, behind_write_cb), 0);
}

static void closed_behind_libuv(void **state, int planted)
{
    ah_sim *sim = *state;
    static uv_tcp_t t;
    static uv_connect_t c;
    struct sockaddr_in a;

    ah_peer_stall(ah_net_listen(sim, SERVER));
    uv_ip4_addr("127.0.0.1", 7000, &a);
    uv_tcp_init(uv_default_loop(), &t);
    c.data = planted ? &t : NULL;
    assert_int_equal(uv_tcp_connect(&c, &t, (const struct sockaddr *)&a, behind_connect_cb), 0);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    assert_int_equal(behind_status, planted ? UV_EBADF : 0);
}

static void a_tcp_socket_closed_behind_libuv_fails_the_next_write(void **state)
{
    closed_behind_libuv(state, 1);
}

static void a_tcp_socket_left_to_libuv_writes(void **state) { closed_behind_libuv(state, 0); }

/* ---- raw sockets against scripted peers and uv streams ---- */

static void blocking_calls_wait_in_virtual_time(void **state)
{
    ah_sim *sim = *state;
    ah_peer *p = ah_net_listen(sim, SERVER);
    struct pollfd pfd;
    char b[16];
    int fd;

    ah_net_latency(sim, SERVER, 5, 5);
    ah_peer_expect(p, "ping");
    ah_peer_reply_after(p, 100, "pong");
    ah_peer_expect_eof(p);
    ah_peer_close(p);
    fd = raw_connect(0);
    ah_assert_now_ms(sim, 10); /* the blocking connect took the round trip */
    assert_int_equal(write(fd, "ping", 4), 4);
    pfd.fd = fd;
    pfd.events = POLLIN;
    assert_int_equal(poll(&pfd, 1, 50), 0); /* times out at exactly +50 ms */
    ah_assert_now_ms(sim, 60);
    assert_int_equal(read(fd, b, sizeof(b)), 4); /* blocks until the reply */
    ah_assert_now_ms(sim, 120);
    assert_memory_equal(b, "pong", 4);
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    assert_int_equal(read(fd, b, sizeof(b)), 0); /* the peer's FIN */
    ah_assert_now_ms(sim, 130);
    assert_int_equal(close(fd), 0);
    ah_run_until_idle(sim);
}

static void nonblocking_semantics_are_linux(void **state)
{
    ah_sim *sim = *state;
    ah_peer *p = ah_net_listen(sim, SERVER);
    int fd, err = -1, n;
    socklen_t len = sizeof(err);
    struct pollfd pfd;
    char b[16];

    ah_net_latency(sim, SERVER, 1, 1);
    ah_peer_reply(p, "hello");
    ah_peer_delay(p, 10);
    ah_peer_reset(p);
    fd = raw_connect(1);
    pfd.fd = fd;
    pfd.events = POLLIN | POLLOUT;
    assert_int_equal(poll(&pfd, 1, 0), 0); /* connecting: nothing yet */
    assert_int_equal(read(fd, b, sizeof(b)), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(poll(&pfd, 1, -1), 1);
    ah_assert_now_ms(sim, 2);
    assert_true(pfd.revents & POLLOUT);
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    assert_int_equal(err, 0);
    assert_int_equal(poll(&pfd, 1, -1), 1);
    assert_true(pfd.revents & POLLIN);
    assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(recv(fd, b, 3, MSG_PEEK), 3);
    assert_int_equal(recv(fd, b, sizeof(b), 0), 5);
    assert_memory_equal(b, "hello", 5);
    assert_int_equal(read(fd, b, sizeof(b)), -1);
    assert_int_equal(errno, EAGAIN);
    pfd.events = POLLIN;
    assert_int_equal(poll(&pfd, 1, -1), 1); /* the reset */
    assert_int_equal(pfd.revents, POLLIN | POLLERR | POLLHUP);
    assert_int_equal(read(fd, b, sizeof(b)), -1);
    assert_int_equal(errno, ECONNRESET);
    assert_int_equal(read(fd, b, sizeof(b)), 0);
    assert_int_equal(send(fd, "x", 1, MSG_NOSIGNAL), -1);
    assert_int_equal(errno, EPIPE);
    close(fd);
    ah_run_until_idle(sim);
}

static void refused_connect_sets_so_error(void **state)
{
    ah_sim *sim = *state;
    int fd = raw_connect(1), err = 0;
    socklen_t len = sizeof(err);
    struct pollfd pfd = {fd, POLLOUT, 0};

    assert_int_equal(poll(&pfd, 1, -1), 1);
    assert_int_equal(pfd.revents, POLLOUT | POLLERR | POLLHUP);
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    assert_int_equal(err, ECONNREFUSED);
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    assert_int_equal(err, 0);
    close(fd);
    ah_run_until_idle(sim);
}

/* A small SO_SNDBUF: a non-blocking write takes what fits (Linux doubles the size asked). */
static void small_send_buffer_makes_partial_writes(void **state)
{
    ah_sim *sim = *state;
    static char big[20000];
    char b[8192];
    int sv[2], size = 4096;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)), 0);
    assert_int_equal(write(sv[0], big, sizeof(big)), 8192);
    assert_int_equal(write(sv[0], big, sizeof(big)), -1);
    assert_int_equal(errno, EAGAIN);
    ah_run_until_idle(sim);
    assert_int_equal(read(sv[1], b, sizeof(b)), 8192);
    assert_int_equal(write(sv[0], big, 100), 100);
    close(sv[0]);
    close(sv[1]);
    ah_run_until_idle(sim);
}

/* A raw listener accepts a uv_tcp_t client, and they talk over the same fake connection. */
static uv_tcp_t cli;
static uv_connect_t creq;
static uv_write_t wreq;
static char got[32];

static void cli_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h, (void)n;
    *b = uv_buf_init(got, sizeof(got));
}
static void cli_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if (n > 0)
        got[n] = '\0';
    if (n != 0)
        uv_close((uv_handle_t *)s, NULL);
}
static void cli_connected(uv_connect_t *r, int status)
{
    uv_buf_t b = uv_buf_init("from uv", 7);
    assert_int_equal(status, 0);
    uv_write(&wreq, r->handle, &b, 1, NULL);
    uv_read_start(r->handle, cli_alloc, cli_read);
}

static void raw_listener_serves_a_uv_client(void **state)
{
    ah_sim *sim = *state;
    struct sockaddr_in a = server_addr(), peer;
    socklen_t len = sizeof(peer);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), c;
    struct pollfd pfd = {l, POLLIN, 0};
    char b[16];

    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 8), 0);
    ah_net_latency(sim, SERVER, 3, 3);
    uv_tcp_init(uv_default_loop(), &cli);
    uv_tcp_connect(&creq, &cli, (struct sockaddr *)&a, cli_connected);
    assert_int_equal(accept(l, NULL, NULL), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(poll(&pfd, 1, -1), 1);
    ah_assert_now_ms(sim, 3);
    c = accept(l, (struct sockaddr *)&peer, &len);
    assert_true(c >= 0);
    assert_int_equal(read(c, b, sizeof(b)), 7); /* blocks: the loop runs the uv client */
    assert_memory_equal(b, "from uv", 7);
    assert_int_equal(write(c, "from raw", 8), 8);
    ah_run_until_idle(sim);
    assert_string_equal(got, "from raw");
    close(c);
    close(l);
    ah_run_until_idle(sim);
}

/* ---- uv_poll ---- */

static int npolls;
static char seen[64];

static void one_byte_per_callback(uv_poll_t *h, int status, int events)
{
    char b;
    int fd = *(int *)h->data;

    assert_int_equal(status, 0);
    if (events & UV_READABLE) {
        if (read(fd, &b, 1) == 1) {
            seen[strlen(seen)] = b;
        } else {
            strcat(seen, "<eof>"); /* still readable at EOF: level-triggered, so stop */
            uv_poll_stop(h);
        }
    }
    if (events & UV_DISCONNECT) {
        strcat(seen, "|");
        uv_poll_stop(h);
    }
    npolls++;
}

static void uv_poll_is_level_triggered(void **state)
{
    ah_sim *sim = *state;
    ah_peer *p = ah_net_listen(sim, SERVER);
    uv_poll_t h;
    int fd;

    ah_peer_reply(p, "abc");
    ah_peer_close(p);
    fd = raw_connect(1);
    h.data = &fd;
    assert_int_equal(uv_poll_init_socket(uv_default_loop(), &h, fd), 0);
    assert_int_equal(uv_poll_start(&h, UV_READABLE | UV_DISCONNECT, one_byte_per_callback), 0);
    npolls = 0;
    seen[0] = '\0';
    ah_run_until_idle(sim);
    /* the FIN came with the bytes: epoll reports POLLRDHUP at once, the callback stops */
    assert_string_equal(seen, "a|");
    assert_int_equal(uv_poll_start(&h, UV_READABLE, one_byte_per_callback), 0);
    ah_run_until_idle(sim);
    assert_string_equal(seen, "a|bc<eof>");
    uv_poll_stop(&h);
    uv_close((uv_handle_t *)&h, NULL);
    close(fd);
    ah_run_until_idle(sim);
}

/* Two uv_poll_t on one descriptor (libuv's poll_multiple_handles): both init; from 1.41 the second
 * start answers UV_EEXIST while the first is active, and succeeds once it stopped (its twin: a
 * restart of the active handle itself is no conflict). 1.40 let both watch. */
static void noop_poll(uv_poll_t *h, int status, int events) { (void)h, (void)status, (void)events; }

static void a_second_poll_on_one_descriptor_is_eexist(void **state)
{
    ah_sim *sim = *state;
    uv_poll_t a, b;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(uv_poll_init_socket(uv_default_loop(), &a, fd), 0);
    assert_int_equal(uv_poll_init_socket(uv_default_loop(), &b, fd), 0);
    assert_int_equal(uv_poll_start(&a, UV_READABLE, noop_poll), 0);
    assert_int_equal(uv_poll_start(&a, UV_READABLE | UV_WRITABLE, noop_poll), 0);
#if UV_VERSION_HEX >= 0x012900
    assert_int_equal(uv_poll_start(&b, UV_READABLE, noop_poll), UV_EEXIST);
#else
    assert_int_equal(uv_poll_start(&b, UV_READABLE, noop_poll), 0);
    assert_int_equal(uv_poll_stop(&b), 0);
#endif
    assert_int_equal(uv_poll_stop(&a), 0);
    assert_int_equal(uv_poll_start(&b, UV_READABLE, noop_poll), 0);
    uv_close((uv_handle_t *)&a, NULL);
    uv_close((uv_handle_t *)&b, NULL);
    ah_run_until_idle(sim);
    close(fd);
}

/* ---- getaddrinfo ---- */

static void getaddrinfo_answers_from_the_dns_table(void **state)
{
    ah_sim *sim = *state;
    struct addrinfo hints, *res = NULL;
    char ip[32];

    ah_dns_add(sim, "redis.internal", "10.0.0.5");
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    assert_int_equal(getaddrinfo("redis.internal", "6379", &hints, &res), 0);
    assert_non_null(res);
    assert_null(res->ai_next);
    uv_ip4_name((struct sockaddr_in *)res->ai_addr, ip, sizeof(ip));
    assert_string_equal(ip, "10.0.0.5");
    assert_int_equal(ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port), 6379);
    freeaddrinfo(res);
    assert_int_equal(getaddrinfo("nowhere.internal", "80", &hints, &res), EAI_NONAME);
    assert_non_null(gai_strerror(EAI_NONAME));
}

/* ---- raw UDP ---- */

static uv_udp_t echo_udp;
static uv_udp_send_t echo_req;
static char echo_buf[2048];

static void echo_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h, (void)n;
    *b = uv_buf_init(echo_buf, sizeof(echo_buf));
}

static void echo_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from,
                      unsigned flags)
{
    uv_buf_t out;

    (void)flags;
    if (n <= 0 || from == NULL)
        return;
    out = uv_buf_init(b->base, (unsigned)n);
    assert_int_equal(uv_udp_send(&echo_req, h, &out, 1, from, NULL), 0);
}

/* A raw socket and a uv_udp_t meet on the same datagram network, its latency and its loss. */
static void raw_udp_meets_uv_udp_with_faults(void **state)
{
    ah_sim *sim = *state;
    struct sockaddr_in a, from;
    socklen_t flen = sizeof(from);
    struct timeval tv = {0, 200000};
    char b[64];
    int fd;

    uv_ip4_addr("127.0.0.1", 7001, &a);
    assert_int_equal(uv_udp_init(uv_default_loop(), &echo_udp), 0);
    assert_int_equal(uv_udp_bind(&echo_udp, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_udp_recv_start(&echo_udp, echo_alloc, echo_recv), 0);
    ah_udp_latency(sim, "*", 25, 25);

    fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    assert_int_equal(sendto(fd, "hello", 5, 0, (struct sockaddr *)&a, sizeof(a)), 5);
    /* A blocking recvfrom runs the sim: the echo lands after two 25 ms legs. */
    assert_int_equal(recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&from, &flen), 5);
    assert_memory_equal(b, "hello", 5);
    assert_int_equal(ntohs(from.sin_port), 7001);
    assert_int_equal(ah_now_ms(sim), 50);

    /* A lost datagram: the receive times out after SO_RCVTIMEO, in virtual time. */
    ah_udp_drop_next(sim, "127.0.0.1:7001", 1);
    assert_int_equal(send(fd, "x", 1, 0), -1); /* not connected */
    assert_int_equal(errno, EDESTADDRREQ);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(send(fd, "lost", 4, 0), 4);
    assert_int_equal(recv(fd, b, sizeof(b), 0), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(ah_now_ms(sim), 250);
    assert_int_equal(ah_udp_get_stats(sim).lost, 1);

    /* A poll(2) on it waits in virtual time too. */
    assert_int_equal(send(fd, "again", 5, 0), 5);
    {
        struct pollfd p = {fd, POLLIN, 0};
        assert_int_equal(poll(&p, 1, 1000), 1);
        assert_true(p.revents & POLLIN);
    }
    assert_int_equal(ah_now_ms(sim), 300);
    assert_int_equal(read(fd, b, sizeof(b)), 5);
    ah_udp_clear(sim, "*");
    close(fd);
    uv_close((uv_handle_t *)&echo_udp, NULL);
    ah_run_until_idle(sim);
}

static void udp_leak_body(ah_sim *sim, void *ctx)
{
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    (void)sim;
    assert_true(fd >= 0);
    if (ctx != NULL)
        close(fd);
}

static void a_udp_socket_never_closed_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, udp_leak_body, NULL, "was never closed");
    ah_assert_passes(NULL, udp_leak_body, "closes");
}

/* ctx: 0 opens a real pipe, 1 a TCP socket, 2 closes the adopted socket behind libuv's back,
 * 3 is correct (the handle closes its socket). */
static void udp_open_body(ah_sim *sim, void *ctx)
{
    static uv_udp_t h;
    uintptr_t how = (uintptr_t)ctx;
    int p[2], fd;

    uv_udp_init(uv_default_loop(), &h);
    if (how == 0) {
        ah_fd_passthrough(sim, 1); /* a real pipe */
        assert_int_equal(pipe(p), 0);
        uv_udp_open(&h, p[0]); /* planted */
    }
    if (how == 1) {
        fd = eventfd(0, 0);
        uv_udp_open(&h, fd); /* planted: not a socket at all */
    }
    fd = socket(AF_INET, how == 4 ? SOCK_STREAM : SOCK_DGRAM, 0);
    assert_int_equal(uv_udp_open(&h, fd), 0);
    if (how == 2)
        close(fd);  /* planted */
    if (how == 4) { /* planted: a datagram on a TCP socket (Linux: EPIPE and SIGPIPE) */
        static uv_udp_send_t req;
        struct sockaddr_in to;
        uv_buf_t b = uv_buf_init("x", 1);
        uv_ip4_addr("127.0.0.1", 7000, &to);
        uv_udp_send(&req, &h, &b, 1, (const struct sockaddr *)&to, NULL);
    }
    uv_close((uv_handle_t *)&h, NULL);
    ah_run_until_idle(sim);
}

/* libuv's udp_send_unix: uv_udp_open adopts a listening AF_UNIX stream socket (libuv checks only
 * the descriptor), and a send to an address fails as Linux's unix_stream_sendmsg says:
 * EOPNOTSUPP, given to the send callback. */
static int unix_send_status = 1;
static void unix_send_cb(uv_udp_send_t *req, int status)
{
    (void)req;
    unix_send_status = status;
}

static void a_udp_handle_on_a_unix_stream_socket_fails_its_sends_as_linux(void **state)
{
    uv_loop_t *loop = uv_default_loop();
    struct sockaddr_un addr;
    uv_udp_send_t req;
    uv_udp_t h;
    uv_buf_t b = uv_buf_init("PING", 4);
    int fd, n = (int)sizeof(addr);

    (void)state;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, "/tmp/ah-udp-unix");
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (const struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(uv_udp_init(loop, &h), 0);
    assert_int_equal(uv_udp_open(&h, fd), 0);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    {
        struct sockaddr_un peer;
        assert_int_equal(uv_udp_getpeername(&h, (struct sockaddr *)&peer, &n), UV_ENOTCONN);
    }
    assert_int_equal(uv_udp_send(&req, &h, &b, 1, (const struct sockaddr *)&addr, unix_send_cb), 0);
    /* the failed send waits in the completed queue for its callback: libuv says EAGAIN */
    assert_int_equal(uv_udp_try_send(&h, &b, 1, (const struct sockaddr *)&addr), UV_EAGAIN);
    assert_int_equal(uv_run(loop, UV_RUN_NOWAIT), 0);
    assert_int_equal(unix_send_status, UV_ENOTSUP);
    assert_int_equal(uv_udp_try_send(&h, &b, 1, (const struct sockaddr *)&addr), UV_ENOTSUP);
    uv_close((uv_handle_t *)&h, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(close(fd), -1); /* the handle closed it */
    assert_int_equal(errno, EBADF);
}

static void uv_udp_open_misuse_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, udp_open_body, (void *)0,
                         "the real descriptor is not a datagram socket");
    ah_assert_fails_with(NULL, udp_open_body, (void *)1, "is not a UDP socket");
    ah_assert_fails_with(NULL, udp_open_body, (void *)2, "is the socket of uv_udp_t #1");
    ah_assert_fails_with(NULL, udp_open_body, (void *)4,
                         "the handle adopted a TCP stream socket of the sim; sending on it is not "
                         "simulated");
    ah_assert_passes(NULL, udp_open_body, (void *)3);
}

/* ---- diagnostics: planted misuse and correct twins ---- */

static void sigpipe_body(ah_sim *sim, void *ctx)
{
    int sv[2];

    (void)sim;
    signal(SIGPIPE, SIG_DFL);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    shutdown(sv[0], SHUT_WR);
    if (ctx != NULL)
        assert_int_equal(send(sv[0], "x", 1, MSG_NOSIGNAL), -1);
    else
        write(sv[0], "x", 1); /* planted: Linux would kill the process */
    close(sv[0]);
    close(sv[1]);
}

static void write_after_shutdown_raises_sigpipe(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, sigpipe_body, NULL, "raises SIGPIPE, which kills the process");
    ah_assert_passes(NULL, sigpipe_body, "nosignal");
}

static void read_in_cb(uv_timer_t *t)
{
    char b[4];
    int fd = *(int *)t->data;
    ssize_t r = read(fd, b, sizeof(b)); /* blocking socket: planted */
    assert_int_equal(r, -1);
    uv_close((uv_handle_t *)t, NULL);
}

static int bfd;
static uv_timer_t bt;
static void blocking_body(ah_sim *sim, void *ctx)
{
    ah_peer *p = ah_net_listen(sim, SERVER);

    ah_peer_stall(p);
    bfd = raw_connect(ctx != NULL);
    if (ctx == NULL) {
        int fl = fcntl(bfd, F_GETFL);
        fcntl(bfd, F_SETFL, fl & ~O_NONBLOCK);
    }
    uv_timer_init(uv_default_loop(), &bt);
    bt.data = &bfd;
    uv_timer_start(&bt, read_in_cb, 1, 0);
    ah_run_until_idle(sim);
    close(bfd);
    ah_run_until_idle(sim);
}

static void blocking_read_inside_a_callback_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, blocking_body, NULL, "would block the loop thread forever");
    ah_assert_passes(NULL, blocking_body, "nonblocking");
}

static void leak_body(ah_sim *sim, void *ctx)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    (void)sim;
    if (ctx != NULL)
        close(fd);
}

/* A socket made where ah/sites.h did not mark the call (a library built without it): the report
 * gives the address and the addr2line command; a connected one names its connection. */
static void unmarked_leak_body(ah_sim *sim, void *ctx)
{
    int fd = (socket)(AF_INET, SOCK_STREAM, 0);
    (void)sim;
    (void)ctx;
    (void)fd;
}

static void a_socket_never_closed_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, leak_body, NULL, "was never closed");
    ah_assert_fails_with(NULL, unmarked_leak_body, NULL, "(addr2line -f -e ");
    ah_assert_passes(NULL, leak_body, "closes");
}

static int real_p[2];
static uint64_t real_seen_ms;
static uv_poll_t real_h;
static uv_timer_t real_t;

static void real_readable(uv_poll_t *h, int status, int events)
{
    char b[8];

    assert_int_equal(status, 0);
    assert_true(events & UV_READABLE);
    assert_int_equal(read(real_p[0], b, sizeof(b)), 1);
    real_seen_ms = uv_now(h->loop);
    uv_close((uv_handle_t *)h, NULL);
}

static void real_write(uv_timer_t *t)
{
    assert_int_equal(write(real_p[1], "x", 1), 1); /* a real pipe: the kernel's write */
    uv_close((uv_handle_t *)t, NULL);
}

/* A real pipe under uv_poll: the kernel is asked at every poll phase. ctx NULL: planted, nobody
 * writes, and the sim waits its real budget for it, then fails naming the descriptor. */
static void poll_real_body(ah_sim *sim, void *ctx)
{
    uv_loop_t *loop = uv_default_loop();
    uint64_t t0 = uv_now(loop);
    int f;

    ah_fd_passthrough(sim, 1); /* a real pipe, as if inherited */
    assert_int_equal(pipe(real_p), 0);
    ah_fd_passthrough(sim, 0);
    f = open("/etc/hostname", O_RDONLY);
    assert_int_equal(uv_poll_init(loop, &real_h, f), UV_EPERM); /* epoll refuses regular files */
    close(f);
    assert_int_equal(uv_poll_init(loop, &real_h, real_p[0]), 0);
    assert_true(fcntl(real_p[0], F_GETFL) & O_NONBLOCK); /* uv__nonblock, for real */
    assert_int_equal(uv_poll_start(&real_h, UV_READABLE, real_readable), 0);
    if (ctx != NULL) {
        uv_timer_init(loop, &real_t);
        uv_timer_start(&real_t, real_write, 100, 0);
    }
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(real_seen_ms - t0, 100); /* seen at the instant of the write */
    close(real_p[0]);
    close(real_p[1]);
}

static void uv_poll_of_a_real_descriptor_asks_the_kernel(void **state)
{
    ah_sim_opts o;

    (void)state;
    memset(&o, 0, sizeof(o));
    o.real_fd_wait_ms = 50;
    ah_assert_fails_with(&o, poll_real_body, NULL,
                         "did not become ready within 50 ms of real time");
    close(real_p[0]);
    close(real_p[1]);
    /* every failure of a sim that watched one says so under its banner */
    ah_assert_fails_with(&o, poll_real_body, NULL, "the test watched real descriptors, first");
    close(real_p[0]);
    close(real_p[1]);
    ah_assert_passes(&o, poll_real_body, "writes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(libc_clocks_read_the_virtual_clock),
        ah_unit_test(a_second_poll_on_one_descriptor_is_eexist),
        ah_unit_test(a_clock_gettime_deadline_passes_in_virtual_time),
        ah_unit_test(real_descriptors_pass_through),
        cmocka_unit_test(with_no_sim_sockets_are_real),
        ah_unit_test(passthrough_sockets_are_real),
        ah_unit_test(blocking_calls_wait_in_virtual_time),
        ah_unit_test(nonblocking_semantics_are_linux),
        ah_unit_test(refused_connect_sets_so_error),
        ah_unit_test(small_send_buffer_makes_partial_writes),
        ah_unit_test(raw_listener_serves_a_uv_client),
        ah_unit_test(uv_poll_is_level_triggered),
        ah_unit_test(getaddrinfo_answers_from_the_dns_table),
        cmocka_unit_test(write_after_shutdown_raises_sigpipe),
        cmocka_unit_test(blocking_read_inside_a_callback_is_reported),
        cmocka_unit_test(a_socket_never_closed_is_reported),
        cmocka_unit_test(uv_poll_of_a_real_descriptor_asks_the_kernel),
        ah_unit_test(raw_udp_meets_uv_udp_with_faults),
        ah_unit_test(a_tcp_socket_closed_behind_libuv_fails_the_next_write),
        ah_unit_test(a_tcp_socket_left_to_libuv_writes),
        cmocka_unit_test(a_udp_socket_never_closed_is_reported),
        cmocka_unit_test(uv_udp_open_misuse_is_reported),
        ah_unit_test(a_udp_handle_on_a_unix_stream_socket_fails_its_sends_as_linux),
    };
    return ah_run_tests(tests);
}
