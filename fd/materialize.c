/* At a fork, the pipes and socketpairs the sim made become real kernel objects. The child runs its
 * own copy of the sim (decision 85), and two copies cannot share a fake object: what the parent
 * writes would never reach the child's copy. The kernel can share them, so just before the fork
 * each fake pipe and AF_UNIX socketpair whose ends are both plain descriptors of the program (or
 * closed) is replaced, under the same numbers, by a real one holding the bytes not yet read; a
 * uv_poll watching an end goes on watching the real one (fd/real.c). Both processes then read and
 * write the kernel's object, as on real libuv. Ends adopted by a uv stream, eventfds, timerfds
 * and sockets on the fake network stay fake, and the child is refused their use as before.
 *
 * uv_spawn of a real program with UV_INHERIT_FD of such an end does the same for that one object
 * (ah__fd_materialize_fd, decision 131): the child inherits the kernel's pipe. */
#define _GNU_SOURCE 1
#include "internal_fd.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The fake end at the other side of `fs`'s connection in the table, or NULL. */
static ah__fsock *other_end(ah__fdstate *st, const ah__fsock *fs)
{
    ah__list *q;

    for (q = st->socks.next; q != &st->socks; q = q->next) {
        ah__fsock *o = ah__container_of(q, ah__fsock, link);
        if (o != fs && o->conn == fs->conn && o->side == 1 - fs->side)
            return o;
    }
    return NULL;
}

static int is_pipe(const ah__fsock *fs) { return fs->ops != NULL && fs->accmode != O_RDWR; }

/* A pipe's end or a socketpair's, both of whose ends are the program's (or closed). */
static int movable(ah__fdstate *st, const ah__fsock *fs, ah__fsock **peer)
{
    if (fs->kind != AH__FK_SOCK || fs->conn == NULL || fs->domain != AF_UNIX ||
        fs->fork_gen != ah__fd_fork_gen)
        return 0;
    if (fs->ops != NULL && !is_pipe(fs))
        return 0;
    *peer = other_end(st, fs);
    return *peer != NULL || fs->conn->end[1 - fs->side].closed;
}

/* The bytes end `from` sent that were not read yet go into the real end `fd`. */
static void copy_unread(ah__flow *f, int fd)
{
    AH__REAL(write);
    uint64_t off = f->rd;

    while (off < f->wr) {
        ssize_t n = real_write(fd, f->buf + (off - f->base), (size_t)(f->wr - off));
        if (n <= 0)
            break; /* more than the kernel's buffer holds: the rest is lost */
        off += (uint64_t)n;
    }
}

/* `fs`'s number now holds the real end `real`; its watchers watch the real descriptor. */
static void replace(ah_sim *sim, ah__fsock *fs, int real)
{
    AH__REAL(fcntl);
    AH__REAL(close);
    ah__list polls, *q;
    ah__fsock *rec;
    ah__site site = fs->site;
    int fd = fs->fd, nonblock = fs->nonblock, cloexec = fs->cloexec, err;

    ah__list_init(&polls);
    while (!ah__list_empty(&fs->polls)) {
        q = fs->polls.next;
        ah__list_remove(q);
        ah__list_insert_tail(&polls, q);
    }
    ah__fd_release(fs); /* closes the /dev/null behind the number */
    if (dup3(real, fd, cloexec ? O_CLOEXEC : 0) < 0) {
        real_close(real);
        return;
    }
    real_close(real);
    if (nonblock)
        real_fcntl(fd, F_SETFL, real_fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (ah__list_empty(&polls))
        return;
    if ((rec = ah__fd_real_watch(sim, fd, site, &err)) == NULL)
        return;
    while (!ah__list_empty(&polls)) {
        ah__fpoll *p;
        q = polls.next;
        ah__list_remove(q);
        p = ah__container_of(q, ah__fpoll, link);
        p->fs = rec;
        ah__list_insert_tail(&rec->polls, q);
    }
}

/* Replaces `fs` (and `peer`, its other end, NULL when closed) by a real pipe or socketpair. */
static int move(ah_sim *sim, ah__fsock *fs, ah__fsock *peer)
{
    AH__REAL(shutdown);
    AH__REAL(close);
    ah__fsock *end[2];
    ah__conn *c = fs->conn;
    int rv[2], real[2], k, pipe_ = is_pipe(fs);

    if (pipe_ ? syscall(SYS_pipe2, rv, 0) != 0
              : syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, rv) != 0)
        return 0;
    end[fs->side] = fs;
    end[1 - fs->side] = peer;
    /* real[side]: the real end that stands for end `side` of the connection. */
    if (pipe_) {
        int fs_reads = fs->accmode == O_RDONLY;
        real[fs->side] = fs_reads ? rv[0] : rv[1];
        real[1 - fs->side] = fs_reads ? rv[1] : rv[0];
    } else {
        real[0] = rv[0];
        real[1] = rv[1];
    }
    for (k = 0; k < 2; k++) {
        copy_unread(&c->flow[k], real[k]);
        if (!pipe_ && c->flow[k].fin_sent && end[k] != NULL)
            real_shutdown(real[k], SHUT_WR);
    }
    /* The connection is left to the network with no owner at either end. */
    for (k = 0; k < 2; k++) {
        ah__event_cancel(&c->flow[k].ev);
        c->end[k].ops = NULL;
        c->end[k].ctx = NULL;
        c->end[k].closed = 1;
        if (end[k] != NULL)
            end[k]->conn = NULL;
    }
    for (k = 0; k < 2; k++) {
        if (end[k] != NULL)
            replace(sim, end[k], real[k]);
        else
            real_close(real[k]); /* that end was closed: EOF, or EPIPE for a writer */
    }
    return 1;
}

void ah__fd_materialize(ah_sim *sim)
{
    ah__fdstate *st = ah__fd_state(sim);
    ah__list *q, *next;

    for (q = st->socks.next; q != &st->socks; q = next) {
        ah__fsock *fs = ah__container_of(q, ah__fsock, link), *peer = NULL;

        next = q->next;
        if (!movable(st, fs, &peer))
            continue;
        /* The iteration goes on past both ends, which leave the list. */
        while (next != &st->socks && (next == &fs->link || (peer != NULL && next == &peer->link)))
            next = next->next;
        move(sim, fs, peer);
    }
}

int ah__fd_materialize_fd(ah_sim *sim, int fd)
{
    ah__fsock *fs = ah__fd_get(fd), *peer = NULL;

    if (fs == NULL || fs->sim != sim || fs->nfds > 1 || !movable(ah__fd_state(sim), fs, &peer) ||
        (peer != NULL && peer->nfds > 1))
        return 0;
    return move(sim, fs, peer);
}
