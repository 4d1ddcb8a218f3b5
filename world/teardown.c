/* Teardown across the world (docs/world.md): a member that is a plain program runs the teardown
 * check of its sim when it exits (world.c, at its exit) and sends the report to the owner, which
 * reports it at its own teardown, naming the process (its program and pid). */
#include "internal_world.h"

#include <stdio.h>
#include <string.h>

typedef struct wreport {
    ah__list link;
    char *text;
} wreport;

typedef struct wteardown {
    ah__list reports;
} wteardown;

static void td_init(ah_sim *sim, void *state)
{
    (void)sim;
    ah__list_init(&((wteardown *)state)->reports);
}

static void td_check(ah_sim *sim, void *state, ah__buf *b)
{
    wteardown *w = state;
    ah__list *q;

    (void)sim;
    for (q = w->reports.next; q != &w->reports; q = q->next)
        ah__buf_printf(b, "%s", ah__container_of(q, wreport, link)->text);
}

static void td_destroy(ah_sim *sim, void *state)
{
    wteardown *w = state;
    (void)sim;
    while (!ah__list_empty(&w->reports)) {
        wreport *r = ah__container_of(w->reports.next, wreport, link);
        ah__list_remove(&r->link);
        ah__free(r->text);
        ah__free(r);
    }
    ah__free(w);
}

static const char td_key = 0;
static const ah__ext td_ext = {
    .key = &td_key,
    .name = "world teardown",
    .check = td_check,
    .destroy = td_destroy,
    .init = td_init,
};

void ah__world_teardown_report(ah_sim *sim, const ah__proc *pr, const char *report, uint64_t at_ms)
{
    wteardown *w = ah__ext_get_or_add(sim, &td_ext, sizeof(wteardown));
    wreport *r = ah__calloc(1, sizeof(*r));
    ah__buf b = {0};
    const char *p = report, *nl;

    ah__buf_printf(&b,
                   "  - %s (pid %d), a process of this world, exited at +%llu ms leaving behind:\n",
                   pr->file, pr->pid, (unsigned long long)at_ms);
    while (*p != '\0') { /* its own lines, one level deeper */
        nl = strchr(p, '\n');
        if (nl == NULL)
            nl = p + strlen(p);
        ah__buf_printf(&b, "    %.*s\n", (int)(nl - p), p);
        p = *nl ? nl + 1 : nl;
    }
    r->text = ah__buf_take(&b);
    ah__list_insert_tail(&w->reports, &r->link);
}
