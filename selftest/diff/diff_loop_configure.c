/* uv_loop_configure: UV_LOOP_BLOCK_SIGNAL accepts only SIGPROF (else UV_EINVAL),
 * UV_METRICS_IDLE_TIME is accepted, any other option is UV_ENOSYS. */
#include "trace.h"

#include <signal.h>

int main(void)
{
    uv_loop_t loop;

    V("loop_init", uv_loop_init(&loop));
    V("block SIGPROF", uv_loop_configure(&loop, UV_LOOP_BLOCK_SIGNAL, SIGPROF));
    V("block SIGINT", uv_loop_configure(&loop, UV_LOOP_BLOCK_SIGNAL, SIGINT));
    V("metrics idle time", uv_loop_configure(&loop, UV_METRICS_IDLE_TIME));
    V("unknown option", uv_loop_configure(&loop, (uv_loop_option)42));
    trace_begin(&loop);
    return trace_end(&loop);
}
