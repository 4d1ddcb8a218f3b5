/* A long-running child (/bin/sleep 30) killed from a timer: uv_process_kill returns 0, exit_cb
 * gets (0, SIGTERM); signal 0 probes a live child; after the exit the pid answers UV_ESRCH;
 * uv_kill with a bad signal number gives UV_EINVAL. */
#include "trace.h"

#include <signal.h>

static uv_loop_t *loop;
static uv_process_t proc;
static uv_timer_t timer;

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void exit_cb(uv_process_t *p, int64_t status, int term)
{
    P("exit_cb status=%d term=%d", (int)status, term);
    uv_close((uv_handle_t *)p, on_close);
}

static void on_timer(uv_timer_t *t)
{
    V("probe", uv_process_kill(&proc, 0));
    V("bad signal", uv_kill(proc.pid, 100));
    V("kill", uv_process_kill(&proc, SIGTERM));
    uv_close((uv_handle_t *)t, on_close);
}

int main(void)
{
    uv_process_options_t o;
    char *args[] = {"sleep", "30", NULL};

    loop = uv_default_loop();
    proc.data = "sleep";
    timer.data = "timer";
    memset(&o, 0, sizeof(o));
    o.file = "sleep";
    o.args = args;
    o.exit_cb = exit_cb;
    V("spawn", uv_spawn(loop, &proc, &o));
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, on_timer, 50, 0);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    V("after exit", uv_process_kill(&proc, SIGTERM));
    return scenario_end(loop);
}
