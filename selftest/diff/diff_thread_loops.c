/* A program whose first libuv call is uv_thread_create (as libuv's docs example `signal`): two
 * threads each make a loop of their own with uv_loop_init and run a timer on it. */
#include "trace.h"

#include <stdlib.h>
#include <string.h>

static uv_mutex_t mu;

static void on_timer(uv_timer_t *t)
{
    uv_mutex_lock(&mu);
    printf("timer of %s\n", (const char *)t->data);
    fflush(stdout);
    uv_mutex_unlock(&mu);
}

static void worker(void *arg)
{
    uv_loop_t *loop = malloc(sizeof(*loop));
    uv_timer_t t;
    int rc;

    rc = uv_loop_init(loop);
    t.data = arg;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, on_timer, strcmp((const char *)arg, "first") == 0 ? 20 : 200, 0);
    rc |= uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    rc |= uv_run(loop, UV_RUN_DEFAULT);
    rc |= uv_loop_close(loop);
    free(loop);
    uv_mutex_lock(&mu);
    printf("%s thread done rc=%d\n", (const char *)arg, rc);
    fflush(stdout);
    uv_mutex_unlock(&mu);
}

int main(void)
{
    uv_thread_t a, b;

    uv_mutex_init(&mu);
    V("create first", uv_thread_create(&a, worker, "first"));
    V("create second", uv_thread_create(&b, worker, "second"));
    V("join first", uv_thread_join(&a));
    V("join second", uv_thread_join(&b));
    uv_mutex_destroy(&mu);
    V("exit", 0);
    return 0;
}
