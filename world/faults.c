/* Faults across the processes of one world (docs/world.md, include/ah/world.h): the owner crashes
 * its members (ah_world_kill, and the sweep fault AH_FAULT_PROCESS_CRASH), and cuts or slows the
 * traffic between two of its processes (ah_world_partition, ah_world_latency).
 *
 * Every process of a world has the address 127.0.0.1, as it does on a real host, so a fault
 * between two processes cannot be an address pattern (ah_net_partition): it is a rule on the
 * pair of processes, applied in the owner's network, which every byte between two processes
 * crosses. A connection of the owner's network knows the process at each of its ends
 * (ah__world_end_proc: a member's remote end, or the owner's own socket), and a rule that matches
 * the pair holds the connection (ah__conn's `held`) or sets its latency. */
#include "internal_world.h"

#include <stdio.h>
#include <string.h>

ah__proc *(*ah__world_end_proc)(const ah__conn *c, int side);

typedef struct pair_rule {
    ah__list link;
    char a[128], b[128];
    int partition; /* else a latency */
    uint64_t lat_min, lat_max;
} pair_rule;

typedef struct wfaults {
    ah__list rules;
} wfaults;

static void wfaults_init(ah_sim *sim, void *state)
{
    (void)sim;
    ah__list_init(&((wfaults *)state)->rules);
}

static void wfaults_destroy(ah_sim *sim, void *state)
{
    wfaults *w = state;
    (void)sim;
    while (!ah__list_empty(&w->rules)) {
        pair_rule *r = ah__container_of(w->rules.next, pair_rule, link);
        ah__list_remove(&r->link);
        ah__free(r);
    }
    ah__free(w);
}

static const char wfaults_key = 0;
static const ah__ext wfaults_ext = {
    .key = &wfaults_key,
    .name = "world faults",
    .destroy = wfaults_destroy,
    .init = wfaults_init,
};

static wfaults *wfaults_find(ah_sim *sim) { return ah__ext_get(sim, &wfaults_key); }

static const char *base_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s != NULL ? s + 1 : p;
}

/* Whether the process `pr` (NULL: the owner) matches the pattern `pat`. */
static int proc_matches(const char *pat, const ah__proc *pr)
{
    if (pat == NULL || strcmp(pat, "*") == 0)
        return 1;
    if (pr == NULL)
        return strcmp(pat, "self") == 0;
    return strcmp(pat, pr->file) == 0 || strcmp(pat, base_of(pr->file)) == 0 ||
           strcmp(base_of(pat), base_of(pr->file)) == 0;
}

static int rule_matches(const pair_rule *r, const ah__proc *x, const ah__proc *y)
{
    return (proc_matches(r->a, x) && proc_matches(r->b, y)) ||
           (proc_matches(r->a, y) && proc_matches(r->b, x));
}

/* Applies the rules to one connection between two processes (one end at least a member). */
static void conn_apply(wfaults *w, ah__conn *c)
{
    ah__proc *x, *y;
    int held = 0, was = c->held, lat = 0;
    ah__list *q;

    if (ah__world_end_proc == NULL)
        return;
    x = ah__world_end_proc(c, 0);
    y = ah__world_end_proc(c, 1);
    if (x == NULL && y == NULL)
        return; /* inside the owner: its own faults (ah_net_*) */
    for (q = w->rules.next; q != &w->rules; q = q->next) {
        pair_rule *r = ah__container_of(q, pair_rule, link);
        if (!rule_matches(r, x, y))
            continue;
        if (r->partition) {
            held = 1;
        } else if (!lat) {
            lat = 1;
            c->has_lat = 1;
            c->lat_min = r->lat_min;
            c->lat_max = r->lat_max;
        }
    }
    c->held = held;
    if (was && !held) {
        ah__flow_arm(&c->flow[0]);
        ah__flow_arm(&c->flow[1]);
    }
}

int ah__world_pair_cut(ah_sim *sim, const ah__proc *x, const ah__proc *y)
{
    wfaults *w = wfaults_find(sim);
    ah__list *q;

    if (w == NULL)
        return 0;
    for (q = w->rules.next; q != &w->rules; q = q->next) {
        pair_rule *r = ah__container_of(q, pair_rule, link);
        if (r->partition && rule_matches(r, x, y))
            return 1;
    }
    return 0;
}

void ah__world_conn_made(ah_sim *sim, ah__conn *c)
{
    wfaults *w = wfaults_find(sim);
    if (w != NULL)
        conn_apply(w, c);
}

static void apply_all(ah_sim *sim, wfaults *w)
{
    ah__net *net = ah__net_find(sim);
    ah__list *q;

    if (net == NULL)
        return;
    for (q = net->conns.next; q != &net->conns; q = q->next)
        conn_apply(w, ah__container_of(q, ah__conn, link));
}

static void check_pattern(ah_sim *sim, const char *fn, const char *p)
{
    if (p == NULL || p[0] == '\0' || strlen(p) >= sizeof(((pair_rule *)0)->a))
        ah__fail(sim,
                 "%s: name two processes of the world: a program (\"kv_server\", "
                 "\"./bin/kv_server\"), \"self\" for this process, or \"*\"",
                 fn);
}

static void rule_add(ah_sim *sim, const char *fn, const char *a, const char *b, int partition,
                     uint64_t lat_min, uint64_t lat_max)
{
    wfaults *w;
    pair_rule *r;
    char note[320];

    check_pattern(sim, fn, a);
    check_pattern(sim, fn, b);
    w = ah__ext_get_or_add(sim, &wfaults_ext, sizeof(wfaults));
    r = ah__calloc(1, sizeof(*r));
    snprintf(r->a, sizeof(r->a), "%s", a);
    snprintf(r->b, sizeof(r->b), "%s", b);
    r->partition = partition;
    r->lat_min = lat_min;
    r->lat_max = lat_max < lat_min ? lat_min : lat_max;
    if (partition)
        ah__list_insert_tail(&w->rules, &r->link);
    else /* the newest latency between a pair wins */
        ah__list_insert_head(&w->rules, &r->link);
    snprintf(note, sizeof(note), "%s %s - %s", partition ? "partition" : "latency", r->a, r->b);
    ah__trace_note(sim, "world", note);
    apply_all(sim, w);
}

void ah_world_partition(ah_sim *sim, const char *a, const char *b)
{
    rule_add(sim, "ah_world_partition", a, b, 1, 0, 0);
}

void ah_world_latency(ah_sim *sim, const char *a, const char *b, uint64_t min_ms, uint64_t max_ms)
{
    rule_add(sim, "ah_world_latency", a, b, 0, min_ms, max_ms);
}

void ah_world_heal(ah_sim *sim, const char *a, const char *b)
{
    wfaults *w = wfaults_find(sim);
    ah__list *q, *next;

    if (w == NULL)
        return;
    for (q = w->rules.next; q != &w->rules; q = next) {
        pair_rule *r = ah__container_of(q, pair_rule, link);
        next = q->next;
        if (!r->partition)
            continue;
        if (a == NULL || b == NULL || (strcmp(r->a, a) == 0 && strcmp(r->b, b) == 0) ||
            (strcmp(r->a, b) == 0 && strcmp(r->b, a) == 0)) {
            ah__list_remove(&r->link);
            ah__free(r);
        }
    }
    ah__trace_note(sim, "world", "heal");
    apply_all(sim, w);
}

/* ---- crashes ---- */

int ah_world_kill(ah_sim *sim, const char *program, int signum)
{
    ah__pstate *st = sim != NULL ? ah__pstate_find(sim) : NULL;
    size_t used = strlen(sim != NULL ? sim->fault_note : "");
    ah__list *q;
    int n = 0;

    if (st == NULL)
        return 0;
    for (q = st->procs.next; q != &st->procs; q = q->next) {
        ah__proc *pr = ah__container_of(q, ah__proc, link);
        if (pr->world == NULL || pr->state != AH__PROC_RUNNING ||
            (program != NULL && !proc_matches(program, pr)))
            continue;
        if (ah__proc_signal(st, pr->pid, signum) != 0)
            continue;
        /* for a sweep's report: which process its fault hit */
        if (used < sizeof(sim->fault_note))
            used += (size_t)snprintf(sim->fault_note + used, sizeof(sim->fault_note) - used,
                                     "%ssignal %d sent to %s (pid %d)", n == 0 ? "" : ", ", signum,
                                     pr->file, pr->pid);
        n++;
    }
    return n;
}

void ah__fault_process_crash(ah_sim *sim, void *ctx, int signum)
{
    (void)ctx;
    if (ah_world_kill(sim, NULL, signum != 0 ? signum : SIGKILL) == 0)
        snprintf(sim->fault_note, sizeof(sim->fault_note),
                 "no process of the world was running to crash");
}
