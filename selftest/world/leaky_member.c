/* A member that exits with a timer handle it never closed (docs/world.md, teardown across the
 * world): the owner reports it, naming this process. Built with CLEAN it closes it (the twin). */
#include <uv.h>

static void tick(uv_timer_t *t) { (void)t; }

int main(void)
{
    uv_timer_t t;

    uv_timer_init(uv_default_loop(), &t);
    uv_timer_start(&t, tick, 1000, 1000);
    uv_unref((uv_handle_t *)&t); /* the loop ends without it */
#ifdef CLEAN
    uv_close((uv_handle_t *)&t, NULL);
#endif
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    return 0;
}
