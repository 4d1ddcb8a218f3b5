/* Planted (docs/world.md): a test waits for the exit of a server process it never stops. Nothing
 * in the world can end the wait: the deadlock report names the process, says it waits for a
 * delivery, and what it listens on. The twin is test_world_kv.c, which stops its servers. */
#include <ah/ah.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static void exit_cb(uv_process_t *p, int64_t status, int signum)
{
    (void)status;
    (void)signum;
    ah_future_fulfil(p->data, 1);
    uv_close((uv_handle_t *)p, NULL);
}

static void waits_for_a_server_that_never_exits(void **state)
{
    ah_sim *sim = *state;
    char *args[] = {SERVER_PROGRAM, "7411", NULL};
    uv_process_options_t o;
    uv_process_t p;

    memset(&o, 0, sizeof(o));
    o.file = args[0];
    o.args = args;
    o.exit_cb = exit_cb;
    p.data = ah_future_new(sim);
    assert_int_equal(uv_spawn(uv_default_loop(), &p, &o), 0);
    ah_await(sim, p.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {ah_unit_test(waits_for_a_server_that_never_exits)};
    return ah_run_tests(tests);
}
