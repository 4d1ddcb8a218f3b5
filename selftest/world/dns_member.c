/* A member that resolves a name the owner's DNS table holds (docs/world.md): uv_getaddrinfo, then
 * getaddrinfo(3). Plain libuv: dns_member NAME ADDRESS LATENCY_MS. Exits 0 when both answered
 * ADDRESS and the callback came LATENCY_MS after the call, else 2 (libuv's lookup), 3 (the C
 * library's) or 4 (the instant). */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <uv.h>

static const char *want;
static uint64_t t0, want_ms;
static int result = 1;

static int has(const struct addrinfo *ai, const char *addr)
{
    char b[64];
    for (; ai != NULL; ai = ai->ai_next)
        if (ai->ai_family == AF_INET &&
            inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, b, sizeof(b)) &&
            strcmp(b, addr) == 0)
            return 1;
    return 0;
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    (void)req;
    if (status != 0 || !has(res, want))
        result = 2;
    else if (uv_now(uv_default_loop()) - t0 != want_ms)
        result = 4;
    else
        result = 0;
    if (res != NULL)
        uv_freeaddrinfo(res);
}

int main(int argc, char **argv)
{
    uv_getaddrinfo_t req;
    struct addrinfo hints, *res = NULL;

    if (argc < 4)
        return 1;
    want = argv[2];
    want_ms = (uint64_t)atoi(argv[3]);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    t0 = uv_now(uv_default_loop());
    if (uv_getaddrinfo(uv_default_loop(), &req, gai_cb, argv[1], "80", &hints) != 0)
        return 2;
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    if (result != 0)
        return result;
    if (getaddrinfo(argv[1], "80", &hints, &res) != 0 || !has(res, want))
        result = 3;
    if (res != NULL)
        freeaddrinfo(res);
    return result;
}
