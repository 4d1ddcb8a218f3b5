/* cmocka glue: a fresh sim per test, teardown checks, the runner and its knobs. */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <cmocka.h>

int ah__setup(void **state)
{
    const struct ah__test_info *info = *state;
    ah_sim *sim;

    ah__implicit_suite(1); /* a cmocka suite: each test has its own sim, none is implicit */
    sim = ah_sim_new(&(ah_sim_opts){.name = info->name});

    sim->test = info;
    snprintf(sim->replay_hint, sizeof(sim->replay_hint), "replay: AH_SEED=%llu %.150s --test %.80s",
             (unsigned long long)sim->opts.seed, ah__program_name(), info->name);
    {
        /* AH_TRACE=path: record every test's timeline (the last test run writes the file). */
        const char *trace = getenv("AH_TRACE");
        if (trace != NULL && *trace != '\0')
            ah_trace_record(sim, trace);
    }
    if (ah__explore_env.attach != NULL) /* a schedule from the environment (ah-explore) */
        ah__explore_env.attach(sim);
    *state = sim;
    return 0;
}

/* The teardown checks of a test whose body returned, as a failure of the test itself: cmocka
 * counts a failing teardown as an error apart from the failures ("[  FAILED  ] 3 test(s)" beside
 * "4 FAILED TEST(S)"), and its message would have no replay line. */
static void check_after_body(ah_sim *sim)
{
    char *report = ah_sim_check(sim);
    ah__buf b = {0};

    sim->checked = 1;
    if (report == NULL)
        return;
    ah__buf_printf(&b, "%s", report);
    free(report);
    while (b.len > 0 && b.s[b.len - 1] == '\n')
        b.s[--b.len] = '\0';
    ah__fail_at(sim, sim->test->file, sim->test->line, "%s", ah__buf_keep(sim, &b));
}

void ah__trampoline(void **state)
{
    ah_sim *sim = *state;

    ah__crash_arm(); /* over cmocka's handler, which it chains to */
    sim->test->fn(state);
    sim->body_done = 1;
    check_after_body(sim);
}

/* For the runner's summary line. */
static uint64_t virtual_ms_total;
static unsigned tests_torn_down;

int ah__teardown(void **state)
{
    ah_sim *sim = *state;
    char *report = NULL;

    virtual_ms_total += ah_now_ms(sim);
    tests_torn_down++;
    /* After a failed body the sim is half-run: free it without judging what it left. A body
     * that returned was checked already (check_after_body). */
    if (sim->body_done && !sim->failed && !sim->checked)
        report = ah_sim_check(sim);
    *state = (void *)sim->test;
    if (sim->forked_child) {
        /* A child the test forked ends with its copy of the test: cmocka must not go on to the
         * next test in it. Its parent's waitpid sees 0, or 1 with the report on stderr. */
        if (report != NULL)
            fprintf(stderr, "%s\n(in the child process %d the test forked)\n", report,
                    (int)getpid());
        fflush(NULL);
        _exit(report != NULL ? 1 : 0);
    }
    ah_sim_free(sim);
    if (report != NULL) {
        print_error("%s\n", report);
        free(report);
        return -1;
    }
    return 0;
}

/* The command line, read from /proc so that ah_run_tests(tests) needs no argc/argv. */
static int read_cmdline(char *buf, size_t n, size_t *len)
{
    FILE *f = fopen("/proc/self/cmdline", "rb");

    if (f == NULL)
        return -1;
    *len = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[*len] = '\0';
    return 0;
}

/* `--list`: one test per line, "NAME" or "NAME explore" for an ah_explore_test entry, for
 * ah_discover_tests (cmake/AsyncharnessTesting.cmake) to register each as its own CTest test. */
static int list_tests(const struct CMUnitTest *tests, size_t count)
{
    size_t i;

    for (i = 0; i < count; i++)
        if (tests[i].name != NULL)
            printf("%s%s\n", tests[i].name,
                   tests[i].test_func == ah__explore_trampoline ? " explore" : "");
    return fflush(stdout) == 0 ? 0 : 1;
}

/* A --test NAME without a wildcard must name a test: cmocka would run nothing and pass, so a
 * renamed test registered in CTest under its old name would pass forever. */
static int filter_names_nothing(const struct CMUnitTest *tests, size_t count, const char *filter)
{
    size_t i;

    if (strpbrk(filter, "*?") != NULL)
        return 0;
    for (i = 0; i < count; i++)
        if (tests[i].name != NULL && strcmp(tests[i].name, filter) == 0)
            return 0;
    return 1;
}

int ah__run_tests(const struct CMUnitTest *tests, size_t count, const char *file)
{
    char cmd[4096];
    size_t len = 0, i;
    const char *filter = getenv("AH_TEST");
    const char *group = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    int list = 0;

    /* First: even reading the command line may reach an interposed call (a sanitizer's malloc
     * reads clock_gettime), which must not make an implicit sim for the suite. */
    ah__implicit_suite(1);
    if (read_cmdline(cmd, sizeof(cmd), &len) == 0 && len > 0) {
        ah__program_name_set(cmd);
        for (i = strlen(cmd) + 1; i < len; i += strlen(cmd + i) + 1) {
            if (strcmp(cmd + i, "--test") == 0 && i + strlen(cmd + i) + 1 < len)
                filter = cmd + i + strlen(cmd + i) + 1;
            else if (strncmp(cmd + i, "--test=", 7) == 0)
                filter = cmd + i + 7;
            else if (strcmp(cmd + i, "--list") == 0)
                list = 1;
        }
    }
    if (list)
        return list_tests(tests, count);
    if (filter != NULL && *filter != '\0') {
        if (filter_names_nothing(tests, count, filter)) {
            fprintf(stderr, "asyncharness: %s: no test named \"%s\" (--list shows them)\n", group,
                    filter);
            return 1;
        }
        cmocka_set_test_filter(filter);
    }
    {
        struct timespec t0, t1;
        int failed;
        double wall;

        ah__real_clock_gettime(CLOCK_MONOTONIC, &t0);
        failed = _cmocka_run_group_tests(group, tests, count, NULL, NULL);
        ah__real_clock_gettime(CLOCK_MONOTONIC, &t1);
        wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        /* One line for humans and the demo; stderr keeps cmocka's xml/tap stdout clean. */
        fprintf(stderr,
                "asyncharness: %s: %u test(s), %.3f s of virtual time simulated in %.3f s of "
                "wall time\n",
                group, tests_torn_down, (double)(virtual_ms_total + ah__virtual_ms_inner) / 1000.0,
                wall);
        return failed;
    }
}
