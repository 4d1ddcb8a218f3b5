/* signalfd(2) under a sim (Linux's fs/signalfd.c), fed by the sim's simulated signals
 * (proc/signal.c calls ah__fd_signalfd_deliver): a signal sent to the process while the sending
 * thread blocks it (sigprocmask, pthread_sigmask) and some signalfd's mask holds it becomes
 * pending for the process, at that virtual instant, instead of running a handler; a read of a
 * signalfd takes the pending signals of its mask, lowest number first, one struct
 * signalfd_siginfo each (as many as the buffer holds; EINVAL under one), and waits in virtual
 * time while none is pending (EAGAIN with SFD_NONBLOCK). Readable while one is pending.
 * signalfd(fd, ...) on a fake signalfd changes its mask. Standard signals coalesce, as Linux's do;
 * real-time signals coalesce too here (one pending instance per number). */
#define _GNU_SOURCE 1
#include "internal_fd.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* Reached from fd/interpose.c, so that this file is linked (see there). */
const char ah__fd_interposer_signalfd = 0;

typedef struct fsigfd {
    uint64_t mask; /* bit n-1: signal n */
} fsigfd;

/* The signals pending for signalfds, per sim: bit n-1 for signal n, and how each came. `tbits`
 * were sent to a thread (raise: tgkill), `bits` to the process; Linux's dequeue_signal takes the
 * thread's own first. Whose thread is not tracked: any reader takes them. */
typedef struct sigpend {
    uint64_t bits, tbits;
    int code[2][65];
    int pid[2][65];
} sigpend;

static const int pend_key;

static void pend_destroy(ah_sim *sim, void *state)
{
    (void)sim;
    ah__free(state);
}

static sigpend *pend_get(ah_sim *sim)
{
    sigpend *p = ah__ext_get(sim, &pend_key);
    ah__ext ext;

    if (p != NULL)
        return p;
    p = ah__calloc(1, sizeof(*p));
    memset(&ext, 0, sizeof(ext));
    ext.key = &pend_key;
    ext.state = p;
    ext.destroy = pend_destroy;
    ah__ext_add(sim, &ext);
    return p;
}

static const ah__fsock_ops signalfd_ops;

static uint64_t mask_of(const sigset_t *set)
{
    uint64_t m = 0;
    int s;

    for (s = 1; s <= 64; s++)
        if (sigismember(set, s) == 1)
            m |= 1ULL << (s - 1);
    return m & ~((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)));
}

static uint64_t ready(ah__fsock *fs)
{
    sigpend *p = pend_get(fs->sim);
    return (p->bits | p->tbits) & ((fsigfd *)fs->priv)->mask;
}

static int has_signal(void *ctx) { return ready(ctx) != 0; }

static ssize_t sfd_recv(ah__fsock *fs, struct msghdr *msg, int flags, const char *call,
                        ah__site site)
{
    sigpend *p = pend_get(fs->sim);
    struct signalfd_siginfo si;
    size_t len = 0, done = 0, i, off, piece;
    uint64_t r;
    int s;

    (void)flags;
    if (ah__fd_sock_call(call))
        return ah__fd_fail_errno(ENOTSOCK);
    for (i = 0; i < msg->msg_iovlen; i++)
        len += msg->msg_iov[i].iov_len;
    if (len < sizeof(si))
        return ah__fd_fail_errno(EINVAL);
    if (!has_signal(fs)) {
        if (fs->nonblock)
            return ah__fd_fail_errno(EAGAIN);
        if (ah__fd_block(fs, call, has_signal, fs, UINT64_MAX, site) < 0)
            return -1; /* EINTR */
    }
    while (done + sizeof(si) <= len && (r = ready(fs)) != 0) {
        uint64_t own = p->tbits & ((fsigfd *)fs->priv)->mask;
        int k = own != 0; /* 1: the thread's own */
        s = __builtin_ctzll(own != 0 ? own : r) + 1;
        if (k)
            p->tbits &= ~(1ULL << (s - 1));
        else
            p->bits &= ~(1ULL << (s - 1));
        memset(&si, 0, sizeof(si));
        si.ssi_signo = (uint32_t)s;
        si.ssi_code = p->code[k][s];
        si.ssi_pid = (uint32_t)p->pid[k][s];
        si.ssi_uid = p->pid[k][s] != 0 ? (uint32_t)getuid() : 0;
        /* the bytes go across the iovecs from `done` on */
        for (i = 0, off = done, piece = 0; i < msg->msg_iovlen && piece < sizeof(si); i++) {
            size_t l = msg->msg_iov[i].iov_len, n;
            if (off >= l) {
                off -= l;
                continue;
            }
            n = l - off < sizeof(si) - piece ? l - off : sizeof(si) - piece;
            memcpy((char *)msg->msg_iov[i].iov_base + off, (char *)&si + piece, n);
            piece += n;
            off = 0;
        }
        done += sizeof(si);
    }
    return (ssize_t)done;
}

static ssize_t sfd_send(ah__fsock *fs, const struct msghdr *msg, int flags, const char *call,
                        ah__site site)
{
    (void)fs, (void)msg, (void)flags, (void)site;
    return ah__fd_fail_errno(ah__fd_sock_call(call) ? ENOTSOCK : EINVAL);
}

static int sfd_nread(ah__fsock *fs)
{
    (void)fs;
    return 0;
}

static short sfd_revents(ah__fsock *fs) { return ready(fs) ? POLLIN | POLLRDNORM : 0; }

static void sfd_release(ah__fsock *fs)
{
    ah__free(fs->priv);
    fs->priv = NULL;
}

static const ah__fsock_ops signalfd_ops = {
    ah__fd_notsock_addr,       /* bind */
    ah__fd_notsock_addr,       /* connect */
    sfd_recv,                  /* recv */
    sfd_send,                  /* send */
    ah__fd_notsock_shutdown,   /* shutdown */
    ah__fd_notsock_name,       /* name */
    ah__fd_notsock_getsockopt, /* getsockopt */
    ah__fd_notsock_setsockopt, /* setsockopt */
    sfd_nread,                 /* nread */
    sfd_revents,               /* revents */
    ah__fd_nop,                /* rearm */
    ah__fd_nop,                /* close */
    sfd_release,               /* release */
    NULL,                      /* adopt */
    NULL,                      /* fcntl */
};

int ah__fd_signalfd_deliver(ah_sim *sim, int signum, int code, int pid)
{
    ah__fdstate *st;
    sigpend *p;
    sigset_t cur;
    ah__list *q;
    uint64_t *set;
    int taken = 0, k;

    if (signum < 1 || signum > 64)
        return 0;
    if (pthread_sigmask(SIG_BLOCK, NULL, &cur) != 0 || sigismember(&cur, signum) != 1)
        return 0; /* not blocked: its handler or default action runs */
    st = ah__fd_state(sim);
    for (q = st->socks.next; q != &st->socks && !taken; q = q->next) {
        ah__fsock *fs = ah__container_of(q, ah__fsock, link);
        taken = fs->ops == &signalfd_ops && (((fsigfd *)fs->priv)->mask >> (signum - 1) & 1);
    }
    if (!taken)
        return 0;
    p = pend_get(sim);
    k = code == SI_TKILL;
    set = k ? &p->tbits : &p->bits;
    if (!(*set >> (signum - 1) & 1)) { /* a standard signal already pending coalesces */
        *set |= 1ULL << (signum - 1);
        p->code[k][signum] = code;
        p->pid[k][signum] = pid;
    }
    for (q = st->socks.next; q != &st->socks; q = q->next) {
        ah__fsock *fs = ah__container_of(q, ah__fsock, link);
        if (fs->ops == &signalfd_ops)
            ah__fd_changed(fs);
    }
    return 1;
}

AH__LIBC(signalfd, 13, AH__LIBC_FD);
int signalfd(int fd, const sigset_t *mask, int flags)
{
    AH__REAL(signalfd);
    ah_sim *sim;
    ah__fsock *fs;
    fsigfd *f;

    if (fd != -1) {
        if ((fs = ah__fd_get(fd)) == NULL)
            return real_signalfd(fd, mask, flags);
        if (fs->ops != &signalfd_ops)
            return ah__fd_fail_errno(EINVAL);
        ((fsigfd *)fs->priv)->mask = mask_of(mask);
        ah__fd_changed(fs);
        return fd;
    }
    sim = ah__sim_libc();
    if (sim == NULL || ah__fd_passthrough(sim))
        return real_signalfd(fd, mask, flags);
    if (flags & ~(SFD_NONBLOCK | SFD_CLOEXEC))
        return ah__fd_fail_errno(EINVAL);
    if ((fs = ah__fd_new(sim, AH__FK_SOCK, AH__CALLER("signalfd"))) == NULL)
        return -1;
    f = ah__calloc(1, sizeof(*f));
    f->mask = mask_of(mask);
    fs->ops = &signalfd_ops;
    fs->priv = f;
    fs->what = "signalfd";
    fs->nonblock = (flags & SFD_NONBLOCK) != 0;
    fs->cloexec = (flags & SFD_CLOEXEC) != 0;
    fs->state = AH__FS_CONNECTED;
    return fs->fd;
}
