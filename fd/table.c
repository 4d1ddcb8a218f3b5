/* The fake descriptor table: which descriptor numbers are the sim's, their per-sim state, the
 * teardown report of sockets never closed, and blocking calls that run the sim while they wait.
 *
 * A fake descriptor is a real descriptor of /dev/null opened by the layer: the kernel cannot give
 * its number to a file the code under test opens, and the number goes back to the kernel when
 * the fake socket is closed (docs/decisions.md). */
#define _GNU_SOURCE 1 /* RTLD_NEXT */
#include "internal_fd.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const int fd_key;
static ah__fsock **tab;
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

static void fd_check(ah_sim *sim, void *state, ah__buf *b)
{
    ah__fdstate *st = state;
    ah__list *q;
    char s[160];

    (void)sim;
    for (q = st->socks.next; q != &st->socks; q = q->next) {
        ah__fsock *fs = ah__container_of(q, ah__fsock, link);
        if (fs->kind == AH__FK_SOCK)
            ah__buf_printf(b, "  - socket descriptor %d created in %s was never closed\n", fs->fd,
                           ah__site_str(&fs->site, s, sizeof(s)));
    }
}

static void fd_destroy(ah_sim *sim, void *state)
{
    ah__fdstate *st = state;

    (void)sim;
    ah__fpoll_free_all(st);
    while (!ah__list_empty(&st->socks)) {
        ah__fsock *fs = ah__container_of(st->socks.next, ah__fsock, link);
        fs->conn = NULL; /* the network frees its connections itself */
        ah__fd_release(fs);
    }
    ah__free(st);
}

ah__fdstate *ah__fd_state(ah_sim *sim)
{
    ah__fdstate *st = ah__ext_get(sim, &fd_key);
    const char *env;
    ah__ext ext;

    if (st != NULL)
        return st;
    st = ah__calloc(1, sizeof(*st));
    st->sim = sim;
    ah__list_init(&st->socks);
    ah__list_init(&st->all_polls);
    st->wall_epoch_s = 1767225600; /* 2026-01-01T00:00:00Z */
    if ((env = getenv("AH_WALL_EPOCH")) != NULL && *env != '\0')
        st->wall_epoch_s = strtoll(env, NULL, 10);
    memset(&ext, 0, sizeof(ext));
    ext.key = &fd_key;
    ext.state = st;
    ext.check = fd_check;
    ext.destroy = fd_destroy;
    ah__ext_add(sim, &ext);
    return st;
}

ah__fsock *ah__fd_get(int fd)
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

ah__fsock *ah__fd_new(ah_sim *sim, int kind, ah__site site)
{
    ah__fdstate *st = ah__fd_state(sim);
    ah__fsock *fs;
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (fd < 0)
        return NULL; /* EMFILE, as socket(2) would say */
    if (fd >= tab_cap) {
        int cap = tab_cap ? tab_cap : 64;
        while (cap <= fd)
            cap *= 2;
        tab = ah__realloc(tab, (size_t)cap * sizeof(*tab));
        memset(tab + tab_cap, 0, (size_t)(cap - tab_cap) * sizeof(*tab));
        tab_cap = cap;
    }
    fs = ah__calloc(1, sizeof(*fs));
    fs->fd = fd;
    fs->sim = sim;
    fs->kind = kind;
    fs->site = site;
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
    if (fs->fd >= 0 && fs->fd < tab_cap && tab[fs->fd] == fs)
        tab[fs->fd] = NULL;
    real_close(fs->fd);
    ah__free(fs);
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

void ah__fd_changed(ah__fsock *fs)
{
    ah__list *q, *next;

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
} block_ctx;

static int block_pred(void *p)
{
    block_ctx *b = p;
    return b->pred(b->ctx) || b->sim->clock.now_ns >= b->deadline_ns;
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

int ah__fd_block(ah__fsock *fs, const char *call, int (*pred)(void *ctx), void *ctx,
                 uint64_t deadline_ns, ah__site site)
{
    ah_sim *sim = fs->sim;
    block_ctx b;
    ah__event dl;
    char verb[256], where[160];

    if (pred(ctx))
        return 1;
    ah__site_str(&site, where, sizeof(where));
    if (sim->in_callback > 0 || sim->in_verb) {
        /* The loop thread is blocked: nothing in the sim can run to satisfy the call. */
        if (deadline_ns == UINT64_MAX)
            ah__fail(sim,
                     "%s on fake descriptor %d in %s, inside a loop callback, would block the "
                     "loop thread forever: the sim cannot deliver anything while a callback "
                     "runs (make the descriptor non-blocking and wait with uv_poll)",
                     call, fs->fd, where);
        if (deadline_ns > sim->clock.now_ns)
            ah__clock_set(sim, deadline_ns);
        return pred(ctx);
    }
    snprintf(verb, sizeof(verb), "%s on fake descriptor %d in %s", call, fs->fd, where);
    memset(&dl, 0, sizeof(dl));
    dl.fire = deadline_fire;
    dl.what = "the timeout of a blocking call";
    dl.flags = AH__EV_REF;
    if (deadline_ns != UINT64_MAX)
        ah__event_schedule(ah__fd_loop(fs), &dl, deadline_ns);
    b.pred = pred;
    b.ctx = ctx;
    b.sim = sim;
    b.deadline_ns = deadline_ns;
    set_blocking(sim, 1);
    ah__run_until_pred(sim, verb, block_pred, &b);
    set_blocking(sim, -1);
    ah__event_cancel(&dl);
    return pred(ctx);
}
