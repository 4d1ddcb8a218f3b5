/* The thread pool and the resolver, in steps that real threads cannot reorder: uv_queue_work's
 * work then after-work callback; uv_cancel of finished work (UV_EBUSY) and of requests that are
 * not thread-pool requests (UV_EINVAL); numeric uv_getaddrinfo in both forms; a name that does
 * not resolve; uv_getnameinfo with numeric flags. */
#include "trace.h"

#include <netdb.h>

static uv_loop_t *loop;
static uv_work_t work;
static uv_getaddrinfo_t gai, gai_sync, gai_bad;
static uv_getnameinfo_t gni;
static uv_connect_t not_pool;
static int worked;

static void work_cb(uv_work_t *req)
{
    (void)req;
    worked = 1;
}

static void after_work(uv_work_t *req, int status)
{
    V("after_work", status);
    V("  work ran", worked);
    V("cancel finished work", uv_cancel((uv_req_t *)req));
}

static void print_ai(const char *who, const struct addrinfo *ai)
{
    char ip[64];
    for (; ai != NULL; ai = ai->ai_next) {
        uv_ip4_name((const struct sockaddr_in *)ai->ai_addr, ip, sizeof(ip));
        P("%s: family %s socktype %d %s port %d", who, ai->ai_family == AF_INET ? "inet" : "other",
          ai->ai_socktype, ip, ntohs(((const struct sockaddr_in *)ai->ai_addr)->sin_port));
    }
}

static void on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    V("getaddrinfo_cb", status);
    V("  res is req->addrinfo", res == req->addrinfo);
    print_ai("  cb", res);
    uv_freeaddrinfo(res);
}

static void on_gai_bad(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    (void)req;
    V("getaddrinfo_cb of a bad name", status == UV_EAI_NONAME || status == UV_EAI_AGAIN ||
                                          status == UV_EAI_FAIL || status == UV_EAI_NODATA);
    V("  res", res == NULL);
}

static void on_gni(uv_getnameinfo_t *req, int status, const char *host, const char *service)
{
    (void)req;
    V("getnameinfo_cb", status);
    P("  host %s service %s", host, service);
}

int main(void)
{
    struct addrinfo hints;
    struct sockaddr_in a;

    loop = uv_default_loop();
    V("queue_work without work_cb", uv_queue_work(loop, &work, NULL, after_work));
    V("queue_work", uv_queue_work(loop, &work, work_cb, after_work));
    V("run", uv_run(loop, UV_RUN_DEFAULT));

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    V("getaddrinfo sync", uv_getaddrinfo(loop, &gai_sync, NULL, "127.0.0.1", "80", &hints));
    print_ai("  sync", gai_sync.addrinfo);
    uv_freeaddrinfo(gai_sync.addrinfo);
    V("getaddrinfo without host or service", uv_getaddrinfo(loop, &gai, on_gai, NULL, NULL, NULL));
    V("getaddrinfo", uv_getaddrinfo(loop, &gai, on_gai, "127.0.0.1", "6379", &hints));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    hints.ai_flags = AI_NUMERICHOST;
    V("getaddrinfo numeric-only of a name",
      uv_getaddrinfo(loop, &gai_bad, on_gai_bad, "no-such-host.invalid", NULL, &hints));
    V("run", uv_run(loop, UV_RUN_DEFAULT));

    uv_ip4_addr("127.0.0.1", 6379, &a);
    V("getnameinfo", uv_getnameinfo(loop, &gni, on_gni, (const struct sockaddr *)&a,
                                    NI_NUMERICHOST | NI_NUMERICSERV));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    V("getnameinfo sync", uv_getnameinfo(loop, &gni, NULL, (const struct sockaddr *)&a,
                                         NI_NUMERICHOST | NI_NUMERICSERV));
    P("  host %s service %s", gni.host, gni.service);
    not_pool.type = UV_CONNECT;
    V("cancel a connect request", uv_cancel((uv_req_t *)&not_pool));
    return scenario_end(loop);
}
