/* An unreferenced signal handle and a timer that signals the process at +250 ms: on libuv 1.44
 * the timer runs first in the iteration and the poll that follows delivers the signal before
 * uv_run returns; from 1.45 timers run last, the loop is no longer alive, and uv_run returns with
 * the signal undelivered (a later uv_run on a dead loop does not poll either). */
#include "trace.h"

#include <signal.h>
#include <unistd.h>

static uv_signal_t sig;
static uv_timer_t timer;

static void on_sig(uv_signal_t *h, int signum)
{
    (void)h;
    P("signal %s", signum == SIGUSR2 ? "SIGUSR2" : "other");
}

static void on_timer(uv_timer_t *t)
{
    (void)t;
    P("timer");
    V("kill", uv_kill(getpid(), SIGUSR2));
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    V("signal init", uv_signal_init(loop, &sig));
    V("signal start", uv_signal_start(&sig, on_sig, SIGUSR2));
    uv_unref((uv_handle_t *)&sig);
    V("alive", uv_loop_alive(loop));
    V("timer init", uv_timer_init(loop, &timer));
    V("timer start", uv_timer_start(&timer, on_timer, 250, 0));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    V("run nowait", uv_run(loop, UV_RUN_NOWAIT));
    uv_close((uv_handle_t *)&timer, NULL);
    uv_close((uv_handle_t *)&sig, NULL);
    V("end run", uv_run(loop, UV_RUN_DEFAULT));
    V("loop_close", uv_loop_close(loop));
    return 0;
}
