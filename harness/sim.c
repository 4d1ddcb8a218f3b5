/* The sim: lifecycle, the current sim, failure and capture, reports, call sites. */
#define _GNU_SOURCE 1 /* dladdr */
#include "internal.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static ah_sim *current_sim;

int ah__real_clock_gettime(clockid_t id, struct timespec *ts)
{
    static int (*real)(clockid_t, struct timespec *);

    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "clock_gettime");
    return real(id, ts);
}
static ah_sim *implicit_sim;
static uint64_t sim_counter;
ah__explore_env_hooks ah__explore_env;
ah__world_hooks_t ah__world_hooks;
void (*ah__implicit_sim_hook)(void);
uint64_t ah__virtual_ms_inner;

/* ---- allocation ---- */

static void oom(size_t n)
{
    fprintf(stderr, "asyncharness: out of memory allocating %zu bytes\n", n);
    abort();
}

void *ah__malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *ah__calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom(n * size);
    return p;
}

void *ah__realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

void ah__free(void *p) { free(p); }

char *ah__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(ah__malloc(n), s, n);
}

/* ---- text ---- */

void ah__buf_vprintf(ah__buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->s = ah__realloc(b->s, b->cap);
    }
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    b->len += (size_t)n;
}

void ah__buf_printf(ah__buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ah__buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void ah__buf_escape(ah__buf *b, const void *data, size_t n)
{
    const unsigned char *p = data;
    size_t i;

    for (i = 0; i < n; i++) {
        switch (p[i]) {
        case '\r':
            ah__buf_printf(b, "\\r");
            break;
        case '\n':
            ah__buf_printf(b, "\\n");
            break;
        case '\t':
            ah__buf_printf(b, "\\t");
            break;
        case '\\':
            ah__buf_printf(b, "\\\\");
            break;
        case '"':
            ah__buf_printf(b, "\\\"");
            break;
        default:
            if (p[i] >= 0x20 && p[i] < 0x7f)
                ah__buf_printf(b, "%c", p[i]);
            else
                ah__buf_printf(b, "\\x%02x", p[i]);
        }
    }
}

char *ah__buf_take(ah__buf *b)
{
    char *s = b->s;
    if (s == NULL)
        s = ah__strdup("");
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

const char *ah__buf_keep(ah_sim *sim, ah__buf *b)
{
    int i = sim->n_kept % 4;

    ah__free(sim->kept[i]);
    sim->kept[i] = ah__buf_take(b);
    sim->n_kept++;
    return sim->kept[i];
}

void ah__buf_free(ah__buf *b)
{
    ah__free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

/* ---- call sites ---- */

/* Per OS thread: a thread the sim does not schedule must not lend its mark to another. */
static __thread struct {
    const char *file;
    int line;
    const char *func;
    const char *fn;
} site_mark;

/* The last marked site a call took, with the return address of the call that took it: a
 * diagnostic raised later inside that same call (a check after the site was taken) names it. */
static __thread struct {
    ah__site site;
    const char *fn;
} site_last;

void ah__site_mark(const char *file, int line, const char *func, const char *fn)
{
    site_mark.file = file;
    site_mark.line = line;
    site_mark.func = func;
    site_mark.fn = fn;
}

ah__site ah__site_take(const char *fn, const void *ret)
{
    ah__site s = {NULL, 0, NULL, ret};

    /* The mark is for this call only if it names this function: a marked call that reached
     * another entry point (or the real libuv) must not lend its site to a later call. */
    if (site_mark.fn != NULL && (site_mark.fn == fn || strcmp(site_mark.fn, fn) == 0)) {
        s.file = site_mark.file;
        s.line = site_mark.line;
        s.func = site_mark.func;
        site_last.site = s;
        site_last.fn = site_mark.fn;
        site_mark.fn = NULL;
    }
    /* Another name: a call made while evaluating the marked call's arguments (uv_default_loop()
     * inside uv_timer_init(...)); the mark stays for the call it belongs to. An unmarked call
     * (code built without ah/sites.h) is remembered by its return address, so that a failure
     * inside it names that address with its addr2line command; never over a marked call's
     * site, which a call the harness makes inside it would otherwise replace. */
    else if (site_mark.fn == NULL && (site_last.fn == NULL || site_last.site.file == NULL)) {
        site_last.site = s;
        site_last.fn = fn;
    }
    return s;
}

int ah__site_current(ah__site *out, const char **fn)
{
    if (site_mark.fn != NULL) {
        out->file = site_mark.file;
        out->line = site_mark.line;
        out->func = site_mark.func;
        out->ret = NULL;
        *fn = site_mark.fn;
        return 1;
    }
    if (site_last.fn != NULL) {
        *out = site_last.site;
        *fn = site_last.fn;
        return 1;
    }
    return 0;
}

void ah__site_forget(void)
{
    site_mark.fn = NULL;
    site_last.fn = NULL;
}

ah__site ah__call_site(const char *fn, const void *ret)
{
    ah__site s = {NULL, 0, NULL, ret};

    if (site_mark.fn != NULL && strcmp(site_mark.fn, fn) == 0)
        return ah__site_take(fn, ret);
    if (site_last.fn != NULL && site_last.site.ret == ret && strcmp(site_last.fn, fn) == 0)
        return site_last.site;
    return s;
}

const char *ah__site_hint(const ah__site *s, char *buf, size_t n)
{
    Dl_info info;

    buf[0] = '\0';
    /* Without a mark, the return address: `addr2line` turns its offset into a line (minus one:
     * the address is that of the instruction after the call). */
    if (s->file == NULL && s->ret != NULL && dladdr(s->ret, &info) && info.dli_fname != NULL)
        snprintf(buf, n, " (addr2line -f -e %s 0x%lx names it)", info.dli_fname,
                 (unsigned long)((const char *)s->ret - (const char *)info.dli_fbase - 1));
    return buf;
}

const char *ah__base_name(const char *path)
{
    const char *s = path ? strrchr(path, '/') : NULL;
    return s ? s + 1 : path ? path : "?";
}

uint64_t ah__rel_ms(const ah_sim *sim, uint64_t ns)
{
    return (ns - sim->clock.epoch_ns) / AH__NS_PER_MS;
}

int ah__under_valgrind(void)
{
    const char *v = getenv("AH_UNDER_VALGRIND");
    return v != NULL && strcmp(v, "1") == 0;
}

const char *ah__site_str(const ah__site *s, char *buf, size_t n)
{
    Dl_info info;

    if (s->file != NULL) {
        snprintf(buf, n, "%s (%s:%d)", s->func ? s->func : "?", ah__base_name(s->file), s->line);
    } else if (s->ret != NULL && dladdr(s->ret, &info) && info.dli_fname != NULL) {
        snprintf(buf, n, "%s+0x%lx in %s", info.dli_sname ? info.dli_sname : "?",
                 info.dli_sname
                     ? (unsigned long)((const char *)s->ret - (const char *)info.dli_saddr)
                     : (unsigned long)((const char *)s->ret - (const char *)info.dli_fbase),
                 ah__base_name(info.dli_fname));
    } else if (s->ret != NULL) {
        snprintf(buf, n, "%p", s->ret);
    } else {
        snprintf(buf, n, "(unknown site)");
    }
    return buf;
}

/* ---- the sim ---- */

/* The AH_* knobs a new sim reads, found in one pass over the environment: five getenv calls
 * (five passes) and a snprintf of the name were half of an empty schedule (issue 21). */
enum { KNOB_SEED, KNOB_RUNAWAY, KNOB_TIME_LIMIT, KNOB_REAL_FD_WAIT, KNOB_SLOW_CB, KNOB_N };
static const char *const knob_names[KNOB_N] = {
    "AH_SEED", "AH_RUNAWAY_LIMIT", "AH_TIME_LIMIT_MS", "AH_REAL_FD_WAIT_MS", "AH_SLOW_CALLBACK_MS",
};

static void env_knobs(const char *v[KNOB_N])
{
    char **e;
    int k;

    for (k = 0; k < KNOB_N; k++)
        v[k] = NULL;
    for (e = environ; e != NULL && *e != NULL; e++) {
        const char *s = *e;
        if (s[0] != 'A' || s[1] != 'H' || s[2] != '_')
            continue;
        for (k = 0; k < KNOB_N; k++) {
            size_t len = strlen(knob_names[k]);
            if (v[k] == NULL && strncmp(s, knob_names[k], len) == 0 && s[len] == '=') {
                v[k] = s + len + 1; /* the first one, as getenv */
                break;
            }
        }
    }
}

static uint64_t env_u64(const char *name, const char *v, uint64_t dflt)
{
    char *end;
    unsigned long long x;

    if (v == NULL || *v == '\0')
        return dflt;
    x = strtoull(v, &end, 0);
    if (*end != '\0') {
        fprintf(stderr, "asyncharness: ignoring %s=%s (not a number)\n", name, v);
        return dflt;
    }
    return x;
}

ah_sim *ah_sim_new(const ah_sim_opts *opts)
{
    ah_sim *sim = ah__calloc(1, sizeof(*sim));
    const char *knob[KNOB_N], *name;
    size_t len;

    if (opts != NULL)
        sim->opts = *opts;
    env_knobs(knob);
    if (sim->opts.seed == 0)
        sim->opts.seed = env_u64(knob_names[KNOB_SEED], knob[KNOB_SEED], 1);
    if (sim->opts.runaway_limit == 0)
        sim->opts.runaway_limit = env_u64(knob_names[KNOB_RUNAWAY], knob[KNOB_RUNAWAY], 100000);
    if (sim->opts.time_limit_ms == 0)
        sim->opts.time_limit_ms =
            env_u64(knob_names[KNOB_TIME_LIMIT], knob[KNOB_TIME_LIMIT], 7ULL * 24 * 3600 * 1000);
    if (sim->opts.real_fd_wait_ms == 0)
        sim->opts.real_fd_wait_ms =
            env_u64(knob_names[KNOB_REAL_FD_WAIT], knob[KNOB_REAL_FD_WAIT], 3000);
    if (sim->opts.slow_callback_ms == 0)
        sim->opts.slow_callback_ms = env_u64(knob_names[KNOB_SLOW_CB], knob[KNOB_SLOW_CB], 100);
    name = sim->opts.name ? sim->opts.name : "sim";
    len = strnlen(name, sizeof(sim->name) - 1);
    memcpy(sim->name, name, len); /* the rest is zero (calloc) */
    sim->opts.name = sim->name;

    ah_fc_clock_init(&sim->clock, AH__EPOCH_NS);
    ah_fc_oracle_seed(&sim->oracle, sim->opts.seed);
    sim->instant_ns = sim->clock.now_ns;
    sim->key = ah_fc_mix64(++sim_counter ^ (uintptr_t)sim);
    ah__list_init(&sim->loops);
    ah__list_init(&sim->handles);
    ah__list_init(&sim->reqs);
    ah__list_init(&sim->reqs_free);
    ah__list_init(&sim->tasks);
    sim->owner = pthread_self();

    sim->prev_current = current_sim;
    current_sim = sim;
    return sim;
}

static void free_loop_state(ah__loop *lp)
{
    ah__list_remove(&lp->link);
    ah__free(lp->batch);
    ah__free(lp);
}

void ah_sim_free(ah_sim *sim)
{
    ah__list *q;
    ah_sim **pp;
    int i;

    if (sim == NULL)
        return;
    if (ah__explore_env.release != NULL)
        ah__explore_env.release(sim);
    /* Unqueue every pending event first, while all of them are alive: an extension frees the
     * memory of its events (sockets, peer timers) and a later one cancels its own, which would
     * walk the loop's heap through the freed nodes (found by fuzz/fuzz_ops). */
    for (q = sim->loops.next; q != &sim->loops; q = q->next) {
        ah__loop *lp = ah__container_of(q, ah__loop, link);
        size_t k;
        ah_fc_node *n;
        for (k = 0; k < lp->batch_len; k++)
            if (lp->batch[k] != NULL)
                lp->batch[k]->batch_index = 0;
        lp->batch_len = 0;
        while ((n = ah_fc_queue_pop(&lp->events)) != NULL)
            (void)n;
        lp->ref_events = 0;
    }
    for (i = sim->n_ext - 1; i >= 0; i--)
        if (sim->ext[i].destroy != NULL)
            sim->ext[i].destroy(sim, sim->ext[i].state);
    /* Loops, records and tasks are the sim's own memory; handles and requests are the user's
     * and are never touched here (they may be gone with a failed test's stack). */
    while (!ah__list_empty(&sim->loops))
        free_loop_state(ah__container_of(sim->loops.next, ah__loop, link));
    ah__free(sim->live_tab);
    sim->live_tab = NULL;
    sim->live_cap = sim->live_n = 0;
    while (sim->hrec_blocks != NULL) {
        void *next = *(void **)sim->hrec_blocks;
        ah__free(sim->hrec_blocks);
        sim->hrec_blocks = next;
    }
    while (!ah__list_empty(&sim->reqs)) {
        q = sim->reqs.next;
        ah__list_remove(q);
        ah__free(ah__container_of(q, ah__rrec, link));
    }
    while (!ah__list_empty(&sim->reqs_free)) {
        q = sim->reqs_free.next;
        ah__list_remove(q);
        ah__free(ah__container_of(q, ah__rrec, link));
    }
    ah__buf_free(&sim->slow);
    for (i = 0; i < 4; i++)
        ah__free(sim->kept[i]);

    /* Unlink from the chain of current sims wherever it is. */
    if (current_sim == sim) {
        current_sim = sim->prev_current;
    } else {
        ah_sim *s;
        for (s = current_sim; s != NULL; s = s->prev_current)
            if (s->prev_current == sim) {
                s->prev_current = sim->prev_current;
                break;
            }
    }
    if (implicit_sim == sim)
        implicit_sim = NULL;
    (void)pp;
    ah__free(sim);
}

ah_sim *ah_sim_current(void) { return current_sim; }

/* The implicit sim of a plain program (docs/threads.md, "Simulated from the first instruction").
 * It is made by the program's first call that needs a sim, from the thread that runs main: a
 * uv_* call, or a C library call the rooms stand in for (a lock, a socket, a clock). Nothing is
 * made before that, so a program that never asks costs nothing. `main_thread` is set before main
 * (the constructor below); calls from other threads, from libraries' constructors that run before
 * it, while a cmocka suite runs (each test has its own sim), and once the process exits, get no
 * implicit sim: they reach the C library. */
static pthread_t main_thread;
static int implicit_state; /* 0: not yet armed, 1: armed, 2: a suite runs, 3: exiting */
static int implicit_making;

static void free_implicit_sim(void)
{
    implicit_state = 3;
    if (implicit_sim != NULL)
        ah_sim_free(implicit_sim);
}

/* Before the program's own constructors (101: the first priority not reserved). */
__attribute__((constructor(101))) static void implicit_arm(void)
{
    main_thread = pthread_self();
    implicit_state = 1;
    /* Registered now, so that it runs after every atexit handler the program registers (they may
     * still close what the sim made); the C library's destructors (libuv's) run after it. */
    atexit(free_implicit_sim);
}

static ah_sim *implicit_make(void)
{
    implicit_making = 1;
    implicit_sim = ah_sim_new(&(ah_sim_opts){.name = "implicit"});
    implicit_making = 0;
    if (ah__explore_env.attach != NULL)
        ah__explore_env.attach(implicit_sim);
    if (ah__implicit_sim_hook != NULL) /* a plain program gets the crash report (crash.c) */
        ah__implicit_sim_hook();
    if (ah__world_hooks.attach != NULL) /* a member of a world takes the world's clock */
        ah__world_hooks.attach(implicit_sim);
    if (implicit_state == 0)
        atexit(free_implicit_sim); /* made before the constructor ran (another constructor) */
    return implicit_sim;
}

ah_sim *ah__sim(void)
{
    if (current_sim != NULL)
        return current_sim;
    return implicit_make();
}

ah_sim *ah__sim_libc(void)
{
    if (current_sim != NULL)
        return current_sim;
    if (implicit_state != 1 || implicit_making || !pthread_equal(pthread_self(), main_thread))
        return NULL;
    return implicit_make();
}

void ah__implicit_suite(int on)
{
    if (implicit_state == 1 && on)
        implicit_state = 2;
    else if (implicit_state == 2 && !on)
        implicit_state = 1;
}

ah_sim *ah__implicit_sim(void) { return implicit_sim; }

uint64_t ah_sim_seed(const ah_sim *sim) { return sim->opts.seed; }
const char *ah_sim_name(const ah_sim *sim) { return sim->name; }
uint64_t ah_now_ns(const ah_sim *sim) { return ah_fc_clock_elapsed_ns(&sim->clock); }
uint64_t ah_now_ms(const ah_sim *sim)
{
    return ah_fc_clock_elapsed_ns(&sim->clock) / AH__NS_PER_MS;
}

void ah__clock_set(ah_sim *sim, uint64_t to_ns)
{
    ah_fc_clock_set(&sim->clock, to_ns);
    if (sim->clock.now_ns != sim->instant_ns) {
        sim->instant_ns = sim->clock.now_ns;
        sim->callbacks_at_instant = 0;
        sim->iterations_at_instant = 0;
    }
}

/* ---- extensions and hooks ---- */

void *ah__ext_get(ah_sim *sim, const void *key)
{
    int i;
    for (i = 0; i < sim->n_ext; i++)
        if (sim->ext[i].key == key)
            return sim->ext[i].state;
    return NULL;
}

void ah__ext_add(ah_sim *sim, const ah__ext *ext)
{
    if (sim->n_ext == AH__MAX_EXT)
        ah__fail(sim, "asyncharness: too many extensions on one sim (%d)", AH__MAX_EXT);
    sim->ext[sim->n_ext++] = *ext;
}

void *ah__ext_get_or_add(ah_sim *sim, const ah__ext *ext, size_t size)
{
    void *state = ah__ext_get(sim, ext->key);
    ah__ext e;

    if (state != NULL)
        return state;
    state = ah__calloc(1, size);
    if (ext->init != NULL)
        ext->init(sim, state);
    e = *ext;
    e.state = state;
    ah__ext_add(sim, &e);
    return state;
}

const char *ah__sim_rooms(ah_sim *sim, char *buf, size_t n)
{
    size_t len = 0;
    int i;

    if (n == 0)
        return buf;
    buf[0] = '\0';
    for (i = 0; i < sim->n_ext && len < n; i++) {
        int w = snprintf(buf + len, n - len, "%s%s", len > 0 ? " " : "",
                         sim->ext[i].name != NULL ? sim->ext[i].name : "?");
        if (w < 0)
            break;
        len += (size_t)w;
    }
    return buf;
}

void ah__after_callback_add(ah_sim *sim, ah__after_cb_fn fn, void *ctx)
{
    int n = (int)(sizeof(sim->after_cb) / sizeof(sim->after_cb[0]));
    if (sim->n_after_cb == n)
        ah__fail(sim, "asyncharness: too many after-callback hooks on one sim (%d)", n);
    sim->after_cb[sim->n_after_cb].fn = fn;
    sim->after_cb[sim->n_after_cb].ctx = ctx;
    sim->n_after_cb++;
}

/* ---- tasks ---- */

void ah__task_post(ah_sim *sim, ah__task *t) { ah__list_insert_tail(&sim->tasks, &t->link); }

void ah__task_cancel(ah__task *t)
{
    if (t->link.next != NULL)
        ah__list_remove(&t->link);
}

/* ---- failure ---- */

void ah__banner(ah_sim *sim, ah__buf *b)
{
    ah__buf_printf(b, "\n  [virtual time +%llu ms, seed %llu, %s]",
                   (unsigned long long)ah_now_ms(sim), (unsigned long long)sim->opts.seed,
                   sim->name);
    if (sim->replay_hint[0] != '\0')
        ah__buf_printf(b, "\n  %s", sim->replay_hint);
    if (sim->outside[0] != '\0')
        ah__buf_printf(b, "\n  %s", sim->outside);
}

ah__thread_hooks ah__threads_hooks;

static void fail_with(ah_sim *sim, const char *file, int line, ah__buf b) __attribute__((noreturn));

void ah__failv(ah_sim *sim, const char *file, int line, const char *fmt, va_list ap)
{
    ah__buf b = {0};

    ah__buf_vprintf(&b, fmt, ap);
    if (file == NULL) {
        /* No site given: the marked libuv call this failure happened in, if any (marks are
         * forgotten when a callback starts or ends and when a test verb starts). */
        ah__site s;
        const char *fn;
        char tail[48];
        if (ah__site_current(&s, &fn) && s.file != NULL) {
            snprintf(tail, sizeof(tail), "(%s:%d)", ah__base_name(s.file), s.line);
            if (b.s == NULL || strstr(b.s, tail) == NULL)
                ah__buf_printf(&b, "\n  (during the call of %s in %s %s)", fn,
                               s.func ? s.func : "?", tail);
            file = s.file;
            line = s.line;
        } else if (ah__site_current(&s, &fn) && s.ret != NULL) {
            /* unmarked: its address, and cmocka's LINE stays the test's own */
            char where[160], hint[320];
            ah__site_hint(&s, hint, sizeof(hint));
            if (b.s == NULL || strstr(b.s, "addr2line") == NULL)
                ah__buf_printf(&b, "\n  (during the call of %s in %s%s)", fn,
                               ah__site_str(&s, where, sizeof(where)), hint);
        }
    }
    if (sim != NULL) {
        ah__banner(sim, &b);
        /* On a thread the test started, the test's own thread fails with it. */
        if (sim->threads_live > 0 && ah__threads_hooks.off_main != NULL &&
            ah__threads_hooks.off_main(sim))
            ah__threads_hooks.raise_elsewhere(sim, ah__buf_keep(sim, &b));
    }
    fail_with(sim, file, line, b);
}

void ah__fail_msg(ah_sim *sim, const char *msg)
{
    ah__buf b = {0};
    ah__buf_printf(&b, "%s", msg);
    fail_with(sim, NULL, 0, b);
}

int ah__time_pass(ah_sim *sim, uv_loop_t *loop, uint64_t due_ns)
{
    int r = 0;

    if (sim->jobs_due_ns != 0) {
        ah__jobs_due(sim);
        /* A pool job's instant stops the clock even when another loop waits (its event is on
         * its own loop). */
        if (sim->jobs_due_ns != 0 && sim->jobs_due_ns < due_ns)
            due_ns = sim->jobs_due_ns > sim->clock.now_ns ? sim->jobs_due_ns : sim->clock.now_ns;
    }
    if (ah__world_hooks.time_pass != NULL && ah__world_hooks.time_pass(sim, due_ns, &r)) {
        ah__jobs_due(sim);
        return r;
    }
    if (sim->threads_live > 0 && ah__threads_hooks.wait_until != NULL) {
        r = ah__threads_hooks.wait_until(sim, loop, due_ns);
    } else if (due_ns == UINT64_MAX) {
        return 1;
    } else if (due_ns > sim->clock.now_ns) {
        ah__clock_set(sim, due_ns);
    }
    ah__jobs_due(sim);
    return r;
}

static void fail_with(ah_sim *sim, const char *file, int line, ah__buf b)
{
    char *msg;

    if (sim != NULL) {
        sim->failed = 1;
        if (sim->forked_child) {
            /* The child's copy of the test ends here; its parent sees the exit status. */
            msg = ah__buf_take(&b);
            fprintf(stderr, "%s\n(in the child process %d the test forked)\n", msg, (int)getpid());
            fflush(NULL);
            _exit(1);
        }
        if (sim->capture != NULL) {
            sim->capture->msg = ah__buf_take(&b);
            longjmp(sim->capture->jb, 1);
        }
        if (sim->on_fail != NULL)
            sim->on_fail(sim, b.s);
    }
    msg = ah__buf_take(&b);
    print_error("%s\n", msg);
    ah__free(msg);
    /* cmocka's LINE: the call's site, else the test's own line, never the harness. */
    if (file == NULL && sim != NULL && sim->test != NULL) {
        file = sim->test->file;
        line = sim->test->line;
    }
    _fail(file ? file : "(no call site)", file ? line : 0);
    abort(); /* _fail does not return */
}

void ah__fail(ah_sim *sim, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ah__failv(sim, NULL, 0, fmt, ap);
}

void ah__fail_at(ah_sim *sim, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ah__failv(sim, file, line, fmt, ap);
}

void ah__fail_call(ah_sim *sim, const ah__site *site, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ah__failv(sim, site != NULL ? site->file : NULL, site != NULL ? site->line : 0, fmt, ap);
}

void ah__not_simulated_at(const char *fn, const void *ret)
{
    ah__site site = ah__site_take(fn, ret);
    char where[160], hint[320];

    ah__fail_call(ah__sim(), &site,
                  "%s is not simulated by asyncharness (called in %s%s); mock it or run this test "
                  "on real libuv",
                  fn, ah__site_str(&site, where, sizeof(where)),
                  ah__site_hint(&site, hint, sizeof(hint)));
}

void ah__not_simulated(const char *fn) { ah__not_simulated_at(fn, __builtin_return_address(0)); }

void ah__assert_now_ms(ah_sim *sim, uint64_t ms, const char *file, int line)
{
    uint64_t now = ah_now_ms(sim);
    uint64_t ns = ah_now_ns(sim);

    if (now != ms || ns % AH__NS_PER_MS != 0)
        ah__fail_at(sim, file, line,
                    "ah_assert_now_ms: virtual time is +%llu.%06llu ms, expected +%llu ms",
                    (unsigned long long)now, (unsigned long long)(ns % AH__NS_PER_MS),
                    (unsigned long long)ms);
}

/* ---- choices ---- */

uint64_t ah__choose(ah_sim *sim, uint64_t n, const char *what)
{
    uint64_t c;

    if (n <= 1)
        return 0;
    sim->choices++;
    if (sim->chooser != NULL)
        c = sim->chooser(sim, n, what);
    else
        c = ah_fc_oracle_below(&sim->oracle, n);
    return c < n ? c : n - 1;
}

uint64_t ah__choose_among(ah_sim *sim, uint64_t n, const void *const *owners, const char *what)
{
    uint64_t c;

    sim->choose_owners = owners;
    c = ah__choose(sim, n, what);
    sim->choose_owners = NULL;
    return c;
}

uint64_t ah__choose_range(ah_sim *sim, uint64_t lo, uint64_t hi, const char *what)
{
    if (hi <= lo)
        return lo;
    return lo + ah__choose(sim, hi - lo + 1, what);
}

int ah__choose_chance(ah_sim *sim, uint64_t num, uint64_t den, const char *what)
{
    if (num == 0 || den == 0)
        return 0;
    if (num >= den)
        return 1;
    /* choice 0 (the explorer's default) is "no fault": a shrunk schedule has fewer faults */
    return ah__choose(sim, den, what) >= den - num;
}

/* ---- the program's name, for replay lines (set by the cmocka glue from /proc/self/cmdline) ----
 */

static char program_name[256] = "./test";

const char *ah__program_name(void) { return program_name; }

void ah__program_name_set(const char *name)
{
    snprintf(program_name, sizeof(program_name), "%.255s", name);
}
