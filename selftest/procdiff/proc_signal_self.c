/* Signals to the own process: three handles on SIGUSR1 (one oneshot) all get it, the others
 * first; a oneshot handle stops; a handle stopped inside another's callback gets no callback for
 * the message already in the pipe; an unreferenced handle does not keep the loop alive; caught
 * and dispatched counters; the handles are in an array, so their addresses ascend in creation
 * order (libuv orders by address, the sim by creation). */
#include "trace.h"

#include <signal.h>
#include <unistd.h>

static uv_loop_t *loop;
static uv_signal_t sig[4];
static uv_timer_t timer;
static int round_no;

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void on_sig(uv_signal_t *h, int signum)
{
    P("%s signal_cb %d active=%d", (const char *)h->data, signum, uv_is_active((uv_handle_t *)h));
    if (h == &sig[0] && round_no == 2) {
        V("  stop sig2", uv_signal_stop(&sig[2]));
    }
}

static void on_timer(uv_timer_t *t)
{
    round_no++;
    P("timer round %d", round_no);
    if (round_no == 1) {
        V("uv_kill self", uv_kill(getpid(), SIGUSR1));
        P("  caught sig0=%u", sig[0].caught_signals);
    } else if (round_no == 2) {
        V("uv_kill self", uv_kill(getpid(), SIGUSR1));
        V("uv_kill self SIGUSR2", uv_kill(getpid(), SIGUSR2));
    } else {
        P("dispatched %u %u %u %u", sig[0].dispatched_signals, sig[1].dispatched_signals,
          sig[2].dispatched_signals, sig[3].dispatched_signals);
        uv_close((uv_handle_t *)t, on_close);
        uv_close((uv_handle_t *)&sig[0], on_close);
        uv_close((uv_handle_t *)&sig[1], on_close);
        uv_close((uv_handle_t *)&sig[2], on_close);
        return;
    }
}

int main(void)
{
    int i;
    static char *names[] = {"sig0", "sig1", "sig2", "sig3"};

    loop = uv_default_loop();
    for (i = 0; i < 4; i++) {
        sig[i].data = names[i];
        V("init", uv_signal_init(loop, &sig[i]));
    }
    timer.data = "timer";
    V("start sig0", uv_signal_start(&sig[0], on_sig, SIGUSR1));
    V("start sig1 oneshot", uv_signal_start_oneshot(&sig[1], on_sig, SIGUSR1));
    V("start sig2", uv_signal_start(&sig[2], on_sig, SIGUSR1));
    V("start sig3", uv_signal_start(&sig[3], on_sig, SIGUSR2));
    uv_unref((uv_handle_t *)&sig[3]);
    V("start bad", uv_signal_start(&sig[3], on_sig, 0));
    V("sig3 active", uv_is_active((uv_handle_t *)&sig[3]));
    V("start sig3 again", uv_signal_start(&sig[3], on_sig, SIGUSR2));
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, on_timer, 10, 10);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    V("sig3 active", uv_is_active((uv_handle_t *)&sig[3]));
    V("alive", uv_loop_alive(loop));
    return scenario_end(loop);
}
