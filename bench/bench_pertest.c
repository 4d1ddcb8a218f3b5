/* The per-test cost of the harness: N empty tests run by cmocka's runner as plain cmocka tests
 * and as ah_unit_test (a fresh sim, the body, the teardown checks, the sim freed), in one run.
 *
 *   bench_pertest [N]      (default 20000)
 *
 * Prints ns of wall time per test for both and their difference: what ah_unit_test adds to a
 * test that uses nothing. cmocka's own output goes to /dev/null while the groups run. */
#include <ah/ah.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

static void empty_test(void **state) { (void)state; }

static double now_s(void)
{
    struct timespec ts;
    ah_real_clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs the group with stdout and stderr silenced; returns its wall time in s. */
static double run_group(const char *name, const struct CMUnitTest *tests, size_t n)
{
    int out = dup(1), err = dup(2), null = open("/dev/null", O_WRONLY);
    double t0, t1;
    int failed;

    fflush(stdout);
    fflush(stderr);
    dup2(null, 1);
    dup2(null, 2);
    t0 = now_s();
    failed = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
    t1 = now_s();
    fflush(stdout);
    fflush(stderr);
    dup2(out, 1);
    dup2(err, 2);
    close(out);
    close(err);
    close(null);
    if (failed != 0) {
        fprintf(stderr, "bench_pertest: %d test(s) of %s failed\n", failed, name);
        exit(1);
    }
    return t1 - t0;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 20000, i;
    struct CMUnitTest *plain = calloc(n, sizeof(*plain)), *harness = calloc(n, sizeof(*harness));
    struct ah__test_info info = {"empty_test", empty_test, __FILE__, __LINE__};
    struct CMUnitTest one = ah_unit_test(empty_test);
    double tp, th;

    if (plain == NULL || harness == NULL)
        return 1;
    for (i = 0; i < n; i++) {
        plain[i].name = "empty_test";
        plain[i].test_func = empty_test;
        harness[i] = one;
        harness[i].initial_state = &info;
    }
    tp = run_group("plain", plain, n);
    th = run_group("harness", harness, n);
    printf("tests=%zu plain_ns_per_test=%.0f harness_ns_per_test=%.0f harness_adds_ns=%.0f\n", n,
           tp * 1e9 / (double)n, th * 1e9 / (double)n, (th - tp) * 1e9 / (double)n);
    free(plain);
    free(harness);
    return 0;
}
