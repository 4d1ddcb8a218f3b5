/* uv_random in a sim: the bytes come from the sim's seed (the same seed gives the same bytes,
 * another seed others), synchronously or through a completion at the next poll; uv_loop_fork
 * changes nothing; the uv_os_* helpers are the real libuv's. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

static void draw(uint64_t seed, unsigned char *out, size_t n)
{
    ah_sim_opts o = {.seed = seed};
    ah_sim *sim = ah_sim_new(&o);
    assert_int_equal(uv_random(NULL, NULL, out, n, 0, NULL), 0);
    ah_sim_free(sim);
}

static void same_seed_same_bytes(void **state)
{
    unsigned char a[37], b[37], c[37];

    (void)state;
    draw(7, a, sizeof(a));
    draw(7, b, sizeof(b));
    draw(8, c, sizeof(c));
    assert_memory_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, c, sizeof(a));
}

static int done;
static unsigned char buf[16];
static void random_cb(uv_random_t *req, int status, void *p, size_t n)
{
    (void)req;
    assert_int_equal(status, 0);
    assert_ptr_equal(p, buf);
    assert_int_equal(n, sizeof(buf));
    done++;
}

static void async_random_completes_at_the_next_poll(void **state)
{
    ah_sim *sim = *state;
    uv_random_t req;

    assert_int_equal(uv_random(uv_default_loop(), &req, buf, sizeof(buf), 0, random_cb), 0);
    assert_int_equal(uv_loop_alive(uv_default_loop()), 1);
    assert_int_equal(done, 0);
    ah_run_until_idle(sim);
    assert_int_equal(done, 1);
    ah_assert_now_ms(sim, 0);
    assert_int_equal(uv_random(uv_default_loop(), &req, buf, sizeof(buf), 3, random_cb), UV_EINVAL);
}

static void helpers_pass_through(void **state)
{
    char v[64];
    size_t n = sizeof(v);

    (void)state;
    assert_int_equal(uv_loop_fork(uv_default_loop()), 0);
    assert_int_equal(uv_os_getpid(), getpid());
    assert_int_equal(uv_os_setenv("AH_PROC_TEST_VAR", "42"), 0);
    assert_int_equal(uv_os_getenv("AH_PROC_TEST_VAR", v, &n), 0);
    assert_string_equal(v, "42");
    assert_int_equal(uv_guess_handle(-1), UV_UNKNOWN_HANDLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(same_seed_same_bytes),
        ah_unit_test(async_random_completes_at_the_next_poll),
        ah_unit_test(helpers_pass_through),
    };
    return ah_run_tests(tests);
}
