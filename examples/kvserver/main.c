/* kvserver on the real libuv: kvserver [port] [log path]. SIGTERM or SIGINT drains and exits. */
#include "kvserver.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static kv_server *srv;
static uv_signal_t sigterm, sigint;

static void drained(void *arg)
{
    (void)arg;
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    fprintf(stderr, "kvserver: signal %d, draining\n", signum);
    uv_signal_stop(&sigterm);
    uv_signal_stop(&sigint);
    kv_server_shutdown(srv, drained, NULL);
}

int main(int argc, char **argv)
{
    kv_server_opts o = {0};
    uv_loop_t *loop = uv_default_loop();
    int r;

    o.port = argc > 1 ? atoi(argv[1]) : 7000;
    o.log_path = argc > 2 ? argv[2] : NULL;
    o.idle_timeout_ms = 60000;
    if ((r = kv_server_start(loop, &o, &srv)) != 0) {
        fprintf(stderr, "kvserver: %s\n", uv_strerror(r));
        return 1;
    }
    uv_signal_init(loop, &sigterm);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    fprintf(stderr, "kvserver: listening on 127.0.0.1:%d\n", o.port);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
