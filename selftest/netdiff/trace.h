/* What a network scenario prints: one line per callback or checked value, identical on the real
 * libuv and in the sim. Lines that depend on how bytes were split into reads start with "~" and
 * compare.sh skips them. No addresses, ports or times are printed. */
#ifndef NETDIFF_TRACE_H
#define NETDIFF_TRACE_H

#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include <uv.h>

/* The first line of every trace names the libuv that runs, and a program whose uv.h and loaded
 * libuv differ stops here: the version matrix (scripts/libuv-matrix.sh) relies on both sides of
 * a comparison really being the version they were built against. */
__attribute__((constructor)) static void trace_libuv_version(void)
{
    if (uv_version() != UV_VERSION_HEX) {
        fprintf(stderr, "built against libuv %d.%d.%d but running %s: check the rpath\n",
                UV_VERSION_MAJOR, UV_VERSION_MINOR, UV_VERSION_PATCH, uv_version_string());
        exit(3);
    }
    printf("libuv %s\n", uv_version_string());
}

static inline const char *rc_name(long long rc)
{
    static char buf[32];

    if (rc < 0)
        return uv_err_name((int)rc);
    snprintf(buf, sizeof(buf), "%lld", rc);
    return buf;
}

/* "what rc=NAME" */
#define V(what, rc) (printf("%s rc=%s\n", (what), rc_name((long long)(rc))), fflush(stdout))
/* a free-form line */
#define P(...) (printf(__VA_ARGS__), printf("\n"), fflush(stdout))

static inline void walk_close_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Ends a scenario: closes what is left, runs the loop dry, closes it. */
static inline int scenario_end(uv_loop_t *loop)
{
    uv_walk(loop, walk_close_cb, NULL);
    V("end run", uv_run(loop, UV_RUN_DEFAULT));
    V("end loop_close", uv_loop_close(loop));
    return 0;
}

/* The port a bound TCP handle got. */
static inline int bound_port(const uv_tcp_t *h)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    if (uv_tcp_getsockname(h, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

#endif
