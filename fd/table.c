/* The fake descriptor table: which descriptor numbers are the sim's, their per-sim state, the
 * teardown report of sockets never closed, and blocking calls that run the sim while they wait.
 *
 * A fake descriptor is a real descriptor of /dev/null opened by the layer: the kernel cannot give
 * its number to a file the code under test opens, and the number goes back to the kernel when
 * the fake socket is closed (docs/decisions.md). */
#define _GNU_SOURCE 1 /* RTLD_NEXT, F_DUPFD_CLOEXEC */
#include "internal_fd.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const int fd_key;
static ah__fsock **tab;
static unsigned char *tab_cloexec; /* FD_CLOEXEC of a duplicate (fs->fd's is fs->cloexec) */
static int tab_cap;

void *ah__fd_dlsym(const char *fn)
{
    void *p = dlsym(RTLD_NEXT, fn);

    if (p == NULL) {
        fprintf(stderr, "asyncharness: the C library has no %s\n", fn);
        abort();
    }
    return p;
}

unsigned ah__fd_fork_gen;
ah__site ah__fd_fork_site;

static void fd_check(ah_sim *sim, void *state, ah__buf *b)
{
    ah__fdstate *st = state;
    ah__list *q;
    char s[256];

    (void)sim;
    for (q = st->socks.next; q != &st->socks; q = q->next) {
        ah__fsock *fs = ah__container_of(q, ah__fsock, link);
        char hint[320] = "", conn[2 * AH__ADDR_MAX + 24] = "";
        Dl_info info;

        if (fs->kind != AH__FK_SOCK || fs->fork_gen != ah__fd_fork_gen)
            continue; /* one made before the fork of this child is the parent's to close */
        if (fs->what != NULL) {
            ah__buf_printf(b, "  - %s was never closed\n", ah__fd_str(fs, s, sizeof(s)));
            continue;
        }
        /* An unmarked site (a library built without ah/sites.h) comes with the command that
         * turns its address into a line. */
        if (fs->site.file == NULL && fs->site.ret != NULL && dladdr(fs->site.ret, &info) &&
            info.dli_fname != NULL)
            snprintf(
                hint, sizeof(hint), " (addr2line -f -e %s 0x%lx names it)", info.dli_fname,
                (unsigned long)((const char *)fs->site.ret - (const char *)info.dli_fbase - 1));
        if (fs->conn != NULL)
            snprintf(conn, sizeof(conn), " (%s)", fs->conn->label);
        ah__buf_printf(b, "  - socket descriptor %d%s created in %s%s was never closed\n", fs->fd,
                       conn, ah__site_str(&fs->site, s, sizeof(s)), hint);
    }
}

/* A report (a deadlock, say) of a sim that watched real descriptors says so: their readiness
 * came from outside the sim. In a forked child, a watcher waiting on a descriptor of the parent's
 * copy is named. */
static void fd_pending(ah_sim *sim, void *state, ah__buf *b)
{
    ah__fdstate *st = state;
    ah__list *q;
    char s[256], made[160], forked[160];

    (void)sim;
    for (q = st->reals.next; q != &st->reals; q = q->next)
        ah__buf_printf(b, "  - %s, watched by the loop: its readiness comes from outside the sim\n",
                       ah__fd_str(ah__container_of(q, ah__fsock, link), s, sizeof(s)));
    for (q = st->all_polls.next; q != &st->all_polls; q = q->next) {
        ah__fpoll *p = ah__container_of(q, ah__fpoll, all_link);
        if (p->handle == NULL || p->fs == NULL || p->fs->fork_gen == ah__fd_fork_gen ||
            !ah__is_active((uv_handle_t *)p->handle))
            continue;
        ah__buf_printf(b,
                       "  - uv_poll_t on %s waits in the child forked in %s, but the descriptor "
                       "was made before the fork: nothing the parent writes reaches the child's "
                       "copy of the sim (issue 25)\n",
                       ah__fd_str(p->fs, made, sizeof(made)),
                       ah__site_str(&ah__fd_fork_site, forked, sizeof(forked)));
    }
}

static void fd_destroy(ah_sim *sim, void *state)
{
    ah__fdstate *st = state;

    (void)sim;
    ah__fpoll_free_all(st);
    while (!ah__list_empty(&st->adopted)) {
        ah__list *q = st->adopted.next;
        ah__list_remove(q);
        ah__free(q);
    }
    while (
        !ah__list_empty(&st->reals)) { /* their watchers are gone; the descriptors are not ours */
        ah__fsock *fs = ah__container_of(st->reals.next, ah__fsock, link);
        ah__list_remove(&fs->link);
        ah__free(fs);
    }
    while (!ah__list_empty(&st->socks)) {
        ah__fsock *fs = ah__container_of(st->socks.next, ah__fsock, link);
        fs->conn = NULL; /* the network frees its connections itself */
        ah__fd_release(fs);
    }
    ah__free(st);
}

static void fd_init(ah_sim *sim, void *state)
{
    ah__fdstate *st = state;

    st->sim = sim;
    ah__list_init(&st->socks);
    ah__list_init(&st->all_polls);
    ah__list_init(&st->reals);
    ah__list_init(&st->adopted);
    ah__list_init(&st->blocked);
    st->wall_epoch_s = ah__fd_wall_epoch_s(NULL);
}

ah__fdstate *ah__fd_find(ah_sim *sim) { return ah__ext_get(sim, &fd_key); }

int64_t ah__fd_wall_epoch_s(ah_sim *sim)
{
    const ah__fdstate *st = sim != NULL ? ah__fd_find(sim) : NULL;
    const char *env;

    if (st != NULL)
        return st->wall_epoch_s;
    if ((env = getenv("AH_WALL_EPOCH")) != NULL && *env != '\0')
        return strtoll(env, NULL, 10);
    return 1767225600; /* 2026-01-01T00:00:00Z */
}

int ah__fd_passthrough(const ah_sim *sim)
{
    const ah__fdstate *st = ah__ext_get((ah_sim *)sim, &fd_key);
    return st != NULL && st->passthrough;
}

ah__fdstate *ah__fd_state(ah_sim *sim)
{
    static const ah__ext fd_ext = {
        .key = &fd_key,
        .name = "fd",
        .check = fd_check,
        .pending = fd_pending,
        .destroy = fd_destroy,
        .init = fd_init,
    };

    return ah__ext_get_or_add(sim, &fd_ext, sizeof(ah__fdstate));
}

void ah__fd_fork_check(ah__fsock *fs, const char *call)
{
    char what[256], forked[160];

    if (fs->fork_gen == ah__fd_fork_gen || fs->kind == AH__FK_REAL)
        return; /* a real descriptor is the kernel's, shared by both processes */
    ah__fail(fs->sim,
             "%s on %s in the child forked in %s: the descriptor was made before the fork, and "
             "the child runs its own copy of the sim, which cannot reach the parent's: what one "
             "side writes the other would never read. Descriptors shared across processes are "
             "not simulated (issue 25); make them after the fork, or use real ones the sim did "
             "not make",
             call, ah__fd_str(fs, what, sizeof(what)),
             ah__site_str(&ah__fd_fork_site, forked, sizeof(forked)));
}

ah__fsock *ah__fd_get_any(int fd)
{
    ah__fsock *fs;
    ah_sim *cur;

    if (fd < 0 || fd >= tab_cap || (fs = tab[fd]) == NULL)
        return NULL;
    cur = ah_sim_current();
    if (fs->sim != cur && cur != NULL) {
        /* Made under another sim that is still alive (the implicit sim of main, under a cmocka
         * test's own sim): acting on the /dev/null behind it would pass silently. */
        char where[160];
        ah__fail(cur,
                 "descriptor %d is a fake socket of sim \"%s\" (made in %s), used while sim "
                 "\"%s\" runs: a test's sim cannot use what another sim made (make it in the "
                 "test)",
                 fd, fs->sim->name, ah__site_str(&fs->site, where, sizeof(where)), cur->name);
    }
    return fs->sim == cur ? fs : NULL;
}

ah__fsock *ah__fd_get(int fd)
{
    ah__fsock *fs = ah__fd_get_any(fd);

    if (fs != NULL && fs->fork_gen != ah__fd_fork_gen)
        ah__fd_fork_check(fs, "a call");
    return fs;
}

static void tab_grow(int fd)
{
    int cap = tab_cap ? tab_cap : 64;

    if (fd < tab_cap)
        return;
    while (cap <= fd)
        cap *= 2;
    tab = ah__realloc(tab, (size_t)cap * sizeof(*tab));
    tab_cloexec = ah__realloc(tab_cloexec, (size_t)cap);
    memset(tab + tab_cap, 0, (size_t)(cap - tab_cap) * sizeof(*tab));
    memset(tab_cloexec + tab_cap, 0, (size_t)(cap - tab_cap));
    tab_cap = cap;
}

ah__fsock *ah__fd_new(ah_sim *sim, int kind, ah__site site)
{
    ah__fdstate *st = ah__fd_state(sim);
    ah__fsock *fs;
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (fd < 0)
        return NULL; /* EMFILE, as socket(2) would say */
    tab_grow(fd);
    fs = ah__calloc(1, sizeof(*fs));
    fs->fd = fd;
    fs->sim = sim;
    fs->kind = kind;
    fs->site = site;
    fs->fork_gen = ah__fd_fork_gen;
    fs->accmode = O_RDWR;
    fs->nfds = 1;
    ah__list_init(&fs->backlog);
    ah__list_init(&fs->polls);
    ah__list_insert_tail(&st->socks, &fs->link);
    tab[fd] = fs;
    return fs;
}

void ah__fd_release(ah__fsock *fs)
{
    AH__REAL(close);
    ah__list *q, *next;
    int i;

    for (q = fs->polls.next; q != &fs->polls; q = next) {
        next = q->next;
        ah__fpoll_detach(ah__container_of(q, ah__fpoll, link));
    }
    ah__event_cancel(&fs->conn_ev);
    ah__free(fs->tty);
    fs->tty = NULL;
    if (fs->ops != NULL)
        fs->ops->release(fs);
    fs->ops = NULL;
    ah__list_remove(&fs->link);
    for (i = 0; fs->nfds > 1 && i < tab_cap; i++) /* its duplicates (the sim's end) */
        if (tab[i] == fs && i != fs->fd) {
            tab[i] = NULL;
            real_close(i);
            fs->nfds--;
        }
    if (fs->fd >= 0 && fs->fd < tab_cap && tab[fs->fd] == fs)
        tab[fs->fd] = NULL;
    real_close(fs->fd);
    ah__free(fs);
}

/* ---- duplicates: several numbers, one open object (fd/dup.c) ---- */

void ah__fd_add_number(ah__fsock *fs, int fd, int cloexec)
{
    tab_grow(fd);
    tab[fd] = fs;
    tab_cloexec[fd] = cloexec != 0;
    fs->nfds++;
}

int ah__fd_drop_number(ah__fsock *fs, int fd)
{
    AH__REAL(close);
    int i;

    tab[fd] = NULL;
    real_close(fd);
    fs->nfds--;
    if (fd == fs->fd) /* another number names it now */
        for (i = 0; i < tab_cap; i++)
            if (tab[i] == fs) {
                fs->fd = i;
                fs->cloexec = tab_cloexec[i];
                break;
            }
    return 0;
}

void ah__fd_make_primary(ah__fsock *fs, int fd)
{
    if (fd == fs->fd)
        return;
    tab_cloexec[fs->fd] = (unsigned char)(fs->cloexec != 0);
    fs->cloexec = tab_cloexec[fd];
    fs->fd = fd;
}

void ah__fd_handle_owned(ah__fsock *fs, int fd, const char *call, ah__site site)
{
    char where[160], what[256];

    if (fs->kind == AH__FK_SOCK)
        return;
    ah__fail(fs->sim,
             "%s(%d) in %s: %s belongs to a uv handle (uv_pipe_open, uv_tcp_open, uv_udp_open "
             "or uv_fileno); duplicating it behind libuv's back is not simulated (duplicate it "
             "before the handle adopts it)",
             call, fd, ah__site_str(&site, where, sizeof(where)),
             ah__fd_str(fs, what, sizeof(what)));
}

/* One more number of `fs`, the lowest free one from `min` (F_DUPFD's rule, and dup's with 0). */
int ah__fd_dup_from(ah__fsock *fs, int fd, int min, int cloexec, const char *call, ah__site site)
{
    AH__REAL(fcntl);
    int nfd;

    /* dup and F_DUPFD of a handle's descriptor are allowed (the copy may only be closed:
     * decision 130); passing it to another process's view (SCM_RIGHTS) is not. */
    if (strcmp(call, "dup") != 0 && strcmp(call, "fcntl") != 0)
        ah__fd_handle_owned(fs, fd, call, site);
    if ((nfd = real_fcntl(fs->fd, F_DUPFD_CLOEXEC, min)) < 0)
        return -1; /* EMFILE, EINVAL: the kernel's answer */
    ah__fd_add_number(fs, nfd, cloexec);
    return nfd;
}

int ah__fd_dupfd(ah__fsock *fs, int fd, long min, int cloexec)
{
    if (min < 0 || min > INT32_MAX) {
        errno = EINVAL;
        return -1;
    }
    return ah__fd_dup_from(fs, fd, (int)min, cloexec, "fcntl", AH__CALLER("fcntl"));
}

int ah__fd_number_cloexec(ah__fsock *fs, int fd, int set)
{
    if (fd == fs->fd) {
        if (set >= 0)
            fs->cloexec = set != 0;
        return fs->cloexec;
    }
    if (set >= 0)
        tab_cloexec[fd] = set != 0;
    return tab_cloexec[fd];
}

/* ---- the watchers of a descriptor (their state; poll.c owns what they do) ---- */

void (*ah__fpoll_notify_hook)(ah__fpoll *p);

uv_loop_t *ah__fd_loop(ah__fsock *fs)
{
    ah__list *q;

    for (q = fs->polls.next; q != &fs->polls; q = q->next) {
        ah__fpoll *p = ah__container_of(q, ah__fpoll, link);
        if (p->handle != NULL)
            return p->handle->loop;
    }
    return uv_default_loop();
}

const char *ah__fd_str(const ah__fsock *fs, char *buf, size_t n)
{
    char where[160];

    snprintf(buf, n, "%s %d (%s in %s)", fs->what != NULL ? fs->what : "fake descriptor", fs->fd,
             fs->kind == AH__FK_REAL ? "adopted" : "made",
             ah__site_str(&fs->site, where, sizeof(where)));
    return buf;
}

void ah__fd_changed(ah__fsock *fs)
{
    ah__list *q, *next;

    ah__twait_wake(&fs->twq);

    for (q = fs->polls.next; q != &fs->polls; q = next) {
        next = q->next;
        ah__fpoll_notify_hook(ah__container_of(q, ah__fpoll, link));
    }
}

void ah__fpoll_detach(ah__fpoll *p)
{
    ah__event_cancel(&p->ev);
    ah__list_remove(&p->link);
    p->fs = NULL;
}

void ah__fpoll_free_all(ah__fdstate *st)
{
    while (!ah__list_empty(&st->all_polls)) {
        ah__fpoll *p = ah__container_of(st->all_polls.next, ah__fpoll, all_link);
        ah__list_remove(&p->all_link);
        ah__list_remove(&p->link);
        ah__free(p);
    }
}

void ah__fd_rearm(ah__fsock *fs)
{
    if (fs->conn != NULL) {
        ah__flow_arm(&fs->conn->flow[0]);
        ah__flow_arm(&fs->conn->flow[1]);
    }
    if (fs->ops != NULL)
        fs->ops->rearm(fs);
}

uint64_t ah__fd_deadline(const ah__fsock *fs, int ms)
{
    return ms > 0 ? fs->sim->clock.now_ns + (uint64_t)ms * AH__NS_PER_MS : UINT64_MAX;
}

void ah_fd_passthrough(ah_sim *sim, int on) { ah__fd_state(sim)->passthrough = on != 0; }

/* ---- blocking calls ---- */

typedef struct block_ctx {
    int (*pred)(void *ctx);
    void *ctx;
    ah_sim *sim;
    uint64_t deadline_ns;
    ah__list link; /* st->blocked */
    ah__fsock *fs;
    int on_main;
    int restartable; /* read, write, ...: SA_RESTART restarts them; poll and select never */
    int interrupted;
} block_ctx;

static int block_pred(void *p)
{
    block_ctx *b = p;
    return b->interrupted || b->pred(b->ctx) || b->sim->clock.now_ns >= b->deadline_ns;
}

/* While a blocking call waits, bytes to any raw socket keep their loop alive. */
static void set_blocking(ah_sim *sim, int d)
{
    ah__fdstate *st = ah__fd_state(sim);
    ah__list *q;

    st->blocking += d;
    for (q = st->socks.next; q != &st->socks; q = q->next) {
        ah__fd_rearm(ah__container_of(q, ah__fsock, link));
    }
}

static void deadline_fire(ah__event *ev) { (void)ev; }

/* A signal with a handler reached the process: the blocking call it lands on returns EINTR, as
 * Linux's signal_pending check in a wait does; the test's thread takes it when it is blocked (a
 * process-directed signal goes to the thread-group leader first), else the first simulated thread
 * blocked on a fake descriptor. With SA_RESTART, read/write/connect/accept go on waiting and only
 * poll and select return EINTR. Returns 1 when a call was interrupted. */
int ah__fd_interrupt(ah_sim *sim, int sa_restart)
{
    ah__fdstate *st = ah__fd_find(sim);
    block_ctx *pick = NULL;
    ah__list *q;

    if (st == NULL || st->blocked.next == NULL)
        return 0;
    for (q = st->blocked.next; q != &st->blocked; q = q->next) {
        block_ctx *b = ah__container_of(q, block_ctx, link);
        if (b->on_main || pick == NULL)
            pick = b->on_main ? b : pick == NULL ? b : pick;
        if (b->on_main)
            break;
    }
    if (pick == NULL || (sa_restart && pick->restartable))
        return 0;
    pick->interrupted = 1;
    ah__twait_wake(&pick->fs->twq);
    return 1;
}

static int restartable(const char *call)
{
    return strcmp(call, "poll") != 0 && strcmp(call, "ppoll") != 0 && strcmp(call, "select") != 0;
}

void (*ah__fd_body_unblocked_hook)(ah_sim *sim);

int ah__fd_body_blocked(ah_sim *sim)
{
    ah__fdstate *st = ah__fd_find(sim);
    ah__list *q;

    if (st != NULL && st->resuming > 0)
        return 1;
    if (st == NULL || st->blocked.next == NULL)
        return 0;
    for (q = st->blocked.next; q != &st->blocked; q = q->next)
        if (ah__container_of(q, block_ctx, link)->on_main)
            return 1;
    return 0;
}

int ah__fd_block(ah__fsock *fs, const char *call, int (*pred)(void *ctx), void *ctx,
                 uint64_t deadline_ns, ah__site site)
{
    ah_sim *sim = fs->sim;
    ah__fdstate *st = ah__fd_state(sim);
    block_ctx b;
    ah__event dl;
    char verb[512], where[160], d[200];
    int ok;

    if (pred(ctx)) {
        ah__fd_body_resumes(sim);
        return 1;
    }
    ah__site_str(&site, where, sizeof(where));
    memset(&b, 0, sizeof(b));
    b.pred = pred;
    b.ctx = ctx;
    b.sim = sim;
    b.deadline_ns = deadline_ns;
    b.fs = fs;
    b.restartable = restartable(call);
    if (st->blocked.next == NULL)
        ah__list_init(&st->blocked);
    if (ah__twait_off_main(sim)) {
        /* A thread of the code under test: it alone blocks, the others (the loop's) run. */
        snprintf(fs->wait_desc, sizeof(fs->wait_desc), "%s on %s", call,
                 ah__fd_str(fs, d, sizeof(d)));
        ah__list_insert_tail(&st->blocked, &b.link);
        set_blocking(sim, 1);
        while (!(ok = pred(ctx)) && !b.interrupted && sim->clock.now_ns < deadline_ns)
            ah__twait(sim, &fs->twq, fs->wait_desc, site, deadline_ns);
        set_blocking(sim, -1);
        ah__list_remove(&b.link);
        if (!ok && b.interrupted) {
            errno = EINTR;
            return -1;
        }
        return ok;
    }
    if (sim->in_callback > 0 || sim->in_verb) {
        /* The loop thread is blocked: nothing in the sim can run to satisfy the call. */
        if (deadline_ns == UINT64_MAX)
            ah__fail(sim,
                     "%s on %s in %s, inside a loop callback, would block the loop thread "
                     "forever: the sim cannot deliver anything while a callback runs (make the "
                     "descriptor non-blocking and wait with uv_poll)",
                     call, ah__fd_str(fs, d, sizeof(d)), where);
        if (deadline_ns > sim->clock.now_ns)
            ah__clock_set(sim, deadline_ns);
        return pred(ctx);
    }
    snprintf(verb, sizeof(verb), "%s on %s in %s", call, ah__fd_str(fs, d, sizeof(d)), where);
    memset(&dl, 0, sizeof(dl));
    dl.fire = deadline_fire;
    dl.what = "the timeout of a blocking call";
    dl.flags = AH__EV_REF;
    if (deadline_ns != UINT64_MAX)
        ah__event_schedule(ah__fd_loop(fs), &dl, deadline_ns);
    b.on_main = 1;
    ah__list_insert_tail(&st->blocked, &b.link);
    set_blocking(sim, 1);
    ah__run_until_pred(sim, verb, block_pred, &b);
    set_blocking(sim, -1);
    ah__list_remove(&b.link);
    ah__event_cancel(&dl);
    if (!(ok = pred(ctx)) && b.interrupted) {
        if (ah__fd_body_unblocked_hook != NULL)
            ah__fd_body_unblocked_hook(sim);
        errno = EINTR;
        return -1;
    }
    ah__fd_body_resumes(sim);
    return ok;
}

void ah__fd_body_resumes(ah_sim *sim)
{
    /* The test body is a flow like the others: when it resumes from a blocking call, what else
     * is due at this instant (another client's bytes, the server's next read) may go first. The
     * default lets the body go on at once, as before; the explorer tries the other order. */
    if (sim->in_callback > 0 || sim->in_verb || ah__twait_off_main(sim))
        return;
    if (ah__next_due_ns(sim) <= sim->clock.now_ns &&
        ah__choose(sim, 2, "the test body resumes after the flows due now")) {
        ah__fdstate *st = ah__fd_state(sim);
        st->resuming++; /* still in the call: its loop's signal callbacks wait */
        ah_run_ready(sim);
        st->resuming--;
    }
    if (ah__fd_body_unblocked_hook != NULL)
        ah__fd_body_unblocked_hook(sim);
}

/* ---- the socket calls of descriptors that are not sockets (pipes, eventfd, timerfd) ---- */

int ah__fd_notsock_addr(ah__fsock *fs, const ah__addr *a)
{
    (void)fs, (void)a;
    return ENOTSOCK;
}

int ah__fd_notsock_shutdown(ah__fsock *fs, int how)
{
    (void)fs, (void)how;
    return ENOTSOCK;
}

int ah__fd_notsock_name(ah__fsock *fs, int peer, ah__addr *out)
{
    (void)fs, (void)peer, (void)out;
    return ENOTSOCK;
}

int ah__fd_notsock_getsockopt(ah__fsock *fs, int level, int name, void *val, socklen_t *len, int *r)
{
    (void)fs, (void)level, (void)name, (void)val, (void)len;
    errno = ENOTSOCK;
    *r = -1;
    return 1;
}

int ah__fd_notsock_setsockopt(ah__fsock *fs, int level, int name, const void *val, socklen_t len,
                              int *r)
{
    (void)fs, (void)level, (void)name, (void)val, (void)len;
    errno = ENOTSOCK;
    *r = -1;
    return 1;
}

void ah__fd_nop(ah__fsock *fs) { (void)fs; }

int ah__fd_sock_call(const char *call)
{
    return strcmp(call, "read") != 0 && strcmp(call, "readv") != 0 && strcmp(call, "write") != 0 &&
           strcmp(call, "writev") != 0;
}

/* Whether a uv_poll watcher reads `fs`, or a blocking call waits: what is due to it then keeps
 * its loop alive. */
int ah__fd_waited(ah__fsock *fs)
{
    ah__list *q;

    if (ah__fd_state(fs->sim)->blocking)
        return 1;
    for (q = fs->polls.next; q != &fs->polls; q = q->next) {
        ah__fpoll *p = ah__container_of(q, ah__fpoll, link);
        if (p->handle != NULL && (p->events & POLLIN) && uv_is_active((uv_handle_t *)p->handle))
            return 1;
    }
    return 0;
}
