/* socketpair(AF_UNIX, SOCK_DGRAM or SOCK_SEQPACKET) under a sim: two fake sockets that exchange
 * whole messages, with Linux's semantics (net/unix/af_unix.c, unix_dgram_sendmsg and
 * unix_dgram_recvmsg, which SOCK_SEQPACKET shares), checked against the kernel by
 * selftest/kdiff/kdiff_unix_dgram.c:
 *
 *  - a send is one message (zero bytes included), EMSGSIZE over the send buffer less 32 bytes; a
 *    receive takes one message, cut at the buffer (MSG_TRUNC in msg_flags; with MSG_TRUNC in the
 *    flags the full length is returned), MSG_PEEK leaves it;
 *  - capacity is the sender's send buffer (212992 bytes, wmem_default), charged with each queued
 *    message's truesize (the sk_buff, 256 bytes, plus the kmalloc bucket of its data and shared
 *    info) until the reader takes it: a send waits, or EAGAIN, while the charge is at or over the
 *    buffer; writable (POLLOUT) while four times the charge is within it. A connected pair skips
 *    max_dgram_qlen, as Linux does;
 *  - FIONREAD: the next message's size (SOCK_DGRAM), every queued byte (SOCK_SEQPACKET);
 *  - the peer closed: SOCK_DGRAM reads wait (EAGAIN) as before, and the next send is
 *    ECONNREFUSED, then ENOTCONN; SOCK_SEQPACKET reads give the queued messages then 0, sends EPIPE
 *    (and SIGPIPE), poll says POLLIN|POLLRDHUP|POLLHUP.
 *
 * The messages never ride the fake network: no latency, holds or faults apply to them. */
#define _GNU_SOURCE 1
#include "internal_fd.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

/* Reached from fd/interpose.c, so that this file is linked (see there). */
const char ah__fd_interposer_unixdgram = 0;

enum { SNDBUF = 212992, SKB = 256, SHINFO = 320 };

typedef struct umsg {
    struct umsg *next;
    size_t len, truesize;
    int *fds; /* passed with SCM_RIGHTS (socket.c's held numbers), or NULL */
    int nfds;
    char data[];
} umsg;

/* Shared by the two ends; q[i] holds the messages end i will read. */
typedef struct upair {
    umsg *head[2], *tail[2];
    size_t wmem[2]; /* what end i sent and its peer has not read yet */
    int closed[2], refused[2];
    ah__fsock *end[2];
    int seqpacket;
} upair;

static size_t truesize(size_t len)
{
    size_t need = ((len + 63) & ~(size_t)63) + SHINFO, b = 32;

    if (need > 8192)
        return SKB + ((need + 4095) & ~(size_t)4095);
    while (b < need)
        b = b < 64 ? 64 : b < 128 ? b + 32 : b == 128 ? 192 : b == 192 ? 256 : b * 2;
    return SKB + b;
}

static int side(ah__fsock *fs) { return fs->side; }

static int can_read(void *ctx)
{
    ah__fsock *fs = ctx;
    upair *u = fs->priv;
    int me = side(fs);

    return u->head[me] != NULL || (u->seqpacket && u->closed[1 - me]);
}

static ssize_t ud_recv(ah__fsock *fs, struct msghdr *msg, int flags, const char *call,
                       ah__site site)
{
    upair *u = fs->priv;
    int me = side(fs);
    size_t done = 0, piece, i, mlen;
    umsg *m;

    while (u->head[me] == NULL) {
        if (u->seqpacket && u->closed[1 - me])
            return 0;
        if (fs->nonblock || (flags & MSG_DONTWAIT))
            return ah__fd_fail_errno(EAGAIN);
        if (ah__fd_block(fs, call, can_read, fs, ah__fd_deadline(fs, fs->rcvtimeo_ms), site) <= 0)
            return errno == EINTR ? -1 : ah__fd_fail_errno(EAGAIN);
    }
    m = u->head[me];
    for (i = 0; i < msg->msg_iovlen && done < m->len; i++) {
        piece = msg->msg_iov[i].iov_len < m->len - done ? msg->msg_iov[i].iov_len : m->len - done;
        memcpy(msg->msg_iov[i].iov_base, m->data + done, piece);
        done += piece;
    }
    mlen = m->len;
    msg->msg_flags = done < mlen ? MSG_TRUNC : 0;
    if (!(flags & MSG_PEEK) && m->nfds > 0 && msg->msg_control != NULL)
        ah__fd_rights_put(msg, m->fds, m->nfds, flags, site); /* unix_dgram_recvmsg's scm_recv */
    else if (!(flags & MSG_PEEK) && m->nfds > 0) {
        ah__fd_rights_drop(m->fds, m->nfds); /* read(2), recv(2): closed, as the kernel does */
        msg->msg_flags |= MSG_CTRUNC;
        msg->msg_controllen = 0;
    } else
        msg->msg_controllen = 0;
    if (!(flags & MSG_PEEK)) {
        u->head[me] = m->next;
        if (u->head[me] == NULL)
            u->tail[me] = NULL;
        u->wmem[1 - me] -= m->truesize;
        if (u->end[1 - me] != NULL)
            ah__fd_changed(u->end[1 - me]); /* the writer has room again */
        ah__free(m->fds);
        ah__free(m);
    }
    return (ssize_t)((flags & MSG_TRUNC) ? mlen : done);
}

static int can_write(void *ctx)
{
    ah__fsock *fs = ctx;
    upair *u = fs->priv;

    return u->closed[1 - side(fs)] || u->wmem[side(fs)] < SNDBUF;
}

static ssize_t ud_send(ah__fsock *fs, const struct msghdr *msg, int flags, const char *call,
                       ah__site site)
{
    /* SCM_RIGHTS: held before waiting for room, as unix_dgram_sendmsg's scm_send; they ride with
     * the message. */
    upair *u = fs->priv;
    int me = side(fs);
    size_t len = 0, done = 0, i;
    umsg *m;

    for (i = 0; i < msg->msg_iovlen; i++)
        len += msg->msg_iov[i].iov_len;
    if (len > SNDBUF - 32)
        return ah__fd_fail_errno(EMSGSIZE);
    if (msg->msg_controllen != 0) {
        int held[AH__FD_MAX_RIGHTS], n = ah__fd_rights_hold(fs, fs->fd, msg, site, held);
        ssize_t r;
        struct msghdr plain = *msg;

        if (n < 0)
            return -1;
        plain.msg_control = NULL;
        plain.msg_controllen = 0;
        r = ud_send(fs, &plain, flags, call, site);
        if (r < 0 || n == 0) {
            ah__fd_rights_drop(held, n);
            return r;
        }
        m = u->tail[1 - me]; /* the message just queued carries them */
        m->fds = ah__malloc((size_t)n * sizeof(int));
        memcpy(m->fds, held, (size_t)n * sizeof(int));
        m->nfds = n;
        return r;
    }
    for (;;) {
        if (u->closed[1 - me]) {
            if (u->seqpacket)
                return ah__fd_epipe(fs, flags, call, site);
            if (u->refused[me])
                return ah__fd_fail_errno(ENOTCONN);
            u->refused[me] = 1;
            return ah__fd_fail_errno(ECONNREFUSED);
        }
        if (u->wmem[me] < SNDBUF)
            break;
        if (fs->nonblock || (flags & MSG_DONTWAIT))
            return ah__fd_fail_errno(EAGAIN);
        if (ah__fd_block(fs, call, can_write, fs, ah__fd_deadline(fs, fs->sndtimeo_ms), site) <= 0)
            return errno == EINTR ? -1 : ah__fd_fail_errno(EAGAIN);
    }
    m = ah__malloc(sizeof(*m) + (len > 0 ? len : 1));
    m->next = NULL;
    m->fds = NULL;
    m->nfds = 0;
    m->len = len;
    m->truesize = truesize(len);
    for (i = 0; i < msg->msg_iovlen; i++) {
        memcpy(m->data + done, msg->msg_iov[i].iov_base, msg->msg_iov[i].iov_len);
        done += msg->msg_iov[i].iov_len;
    }
    if (u->tail[1 - me] != NULL)
        u->tail[1 - me]->next = m;
    else
        u->head[1 - me] = m;
    u->tail[1 - me] = m;
    u->wmem[me] += m->truesize;
    if (u->end[1 - me] != NULL)
        ah__fd_changed(u->end[1 - me]); /* readable, and a blocked reader wakes */
    return (ssize_t)len;
}

static int ud_nread(ah__fsock *fs)
{
    upair *u = fs->priv;
    umsg *m = u->head[side(fs)];
    size_t n = 0;

    if (!u->seqpacket)
        return m != NULL ? (int)m->len : 0;
    for (; m != NULL; m = m->next)
        n += m->len;
    return (int)n;
}

static short ud_revents(ah__fsock *fs)
{
    upair *u = fs->priv;
    int me = side(fs);
    short r = 0;

    if (u->head[me] != NULL)
        r |= POLLIN | POLLRDNORM;
    if (u->seqpacket && u->closed[1 - me])
        r |= POLLIN | POLLRDNORM | POLLRDHUP | POLLHUP;
    if (u->wmem[me] * 4 <= SNDBUF)
        r |= POLLOUT | POLLWRNORM | POLLWRBAND;
    return r;
}

static int ud_shutdown(ah__fsock *fs, int how)
{
    (void)fs, (void)how;
    return EOPNOTSUPP; /* not simulated yet: shutdown of a message pair */
}

static int ud_name(ah__fsock *fs, int peer, ah__addr *out)
{
    (void)fs, (void)peer;
    memset(out, 0, sizeof(*out));
    out->family = AF_UNIX;
    return 0;
}

static int ud_getsockopt(ah__fsock *fs, int level, int name, void *val, socklen_t *len, int *r)
{
    (void)fs, (void)level, (void)name, (void)val, (void)len, (void)r;
    return 0; /* the common options (SO_TYPE, SO_ERROR, ...) */
}

static int ud_setsockopt(ah__fsock *fs, int level, int name, const void *val, socklen_t len, int *r)
{
    (void)fs, (void)level, (void)name, (void)val, (void)len, (void)r;
    return 0;
}

static int ud_addr(ah__fsock *fs, const ah__addr *a)
{
    (void)fs, (void)a;
    return EISCONN;
}

static void ud_close(ah__fsock *fs)
{
    upair *u = fs->priv;
    int me = side(fs);

    umsg *m;

    u->closed[me] = 1;
    u->end[me] = NULL;
    for (m = u->head[me]; m != NULL; m = m->next) {
        /* unix_release_sock purges the receive queue: descriptors in flight are closed */
        ah__fd_rights_drop(m->fds, m->nfds);
        m->nfds = 0;
    }
    if (u->end[1 - me] != NULL)
        ah__fd_changed(u->end[1 - me]);
}

static void ud_release(ah__fsock *fs)
{
    upair *u = fs->priv;
    int me = side(fs), i;
    umsg *m;

    fs->priv = NULL;
    if (u == NULL)
        return;
    u->closed[me] = 1;
    u->end[me] = NULL;
    if (u->end[1 - me] != NULL)
        return; /* the other end still uses it */
    for (i = 0; i < 2; i++)
        while ((m = u->head[i]) != NULL) {
            u->head[i] = m->next;
            ah__free(m->fds);
            ah__free(m);
        }
    ah__free(u);
}

static const ah__fsock_ops unixdgram_ops = {
    ud_addr,       /* bind */
    ud_addr,       /* connect */
    ud_recv,       /* recv */
    ud_send,       /* send */
    ud_shutdown,   /* shutdown */
    ud_name,       /* name */
    ud_getsockopt, /* getsockopt */
    ud_setsockopt, /* setsockopt */
    ud_nread,      /* nread */
    ud_revents,    /* revents */
    ah__fd_nop,    /* rearm */
    ud_close,      /* close */
    ud_release,    /* release */
    NULL,          /* adopt */
    NULL,          /* fcntl */
};

static int make_pair(ah_sim *sim, int type, int flags, ah__site site, int sv[2])
{
    ah__fsock *fs[2];
    upair *u;
    int i;

    for (i = 0; i < 2; i++) {
        if ((fs[i] = ah__fd_new(sim, AH__FK_SOCK, site)) == NULL) {
            if (i == 1)
                ah__fd_release(fs[0]);
            return -1;
        }
    }
    u = ah__calloc(1, sizeof(*u));
    u->seqpacket = type == SOCK_SEQPACKET;
    for (i = 0; i < 2; i++) {
        fs[i]->domain = AF_UNIX;
        fs[i]->type = type;
        fs[i]->nonblock = (flags & SOCK_NONBLOCK) != 0;
        fs[i]->cloexec = (flags & SOCK_CLOEXEC) != 0;
        fs[i]->state = AH__FS_CONNECTED;
        fs[i]->side = i;
        fs[i]->ops = &unixdgram_ops;
        fs[i]->priv = u;
        fs[i]->what =
            u->seqpacket ? "a SOCK_SEQPACKET socketpair end" : "a SOCK_DGRAM socketpair end";
        u->end[i] = fs[i];
        sv[i] = fs[i]->fd;
    }
    return 0;
}

__attribute__((constructor)) static void install(void) { ah__fd_msgpair_open = make_pair; }
