/* A test suite's own doubles of C library functions, as suites write them: getaddrinfo,
 * freeaddrinfo and clock_gettime defined by the program, answering some calls themselves and
 * passing the rest to the C library with dlsym(RTLD_NEXT). Against the harness, which defines
 * the same names, this linked with "multiple definition" before; now the program's definitions
 * win, and uv_getaddrinfo / uv_freeaddrinfo call them as libuv's pool thread does. */
#define _GNU_SOURCE 1 /* RTLD_NEXT */
#include "trace.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static int gai_calls, gai_mocked, free_calls, free_mocked;

/* "db.example" is the double's own answer (10.0.0.7), in a block it frees itself; "nowhere" does
 * not exist; every other name goes to the C library. */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    int (*next)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

    gai_calls++;
    if (node != NULL && strcmp(node, "db.example") == 0) {
        struct {
            struct addrinfo ai;
            struct sockaddr_in sin;
        } *b = calloc(1, sizeof(*b));
        b->sin.sin_family = AF_INET;
        b->sin.sin_port = htons(service != NULL ? (uint16_t)atoi(service) : 0);
        inet_pton(AF_INET, "10.0.0.7", &b->sin.sin_addr);
        b->ai.ai_family = AF_INET;
        b->ai.ai_socktype = hints != NULL ? hints->ai_socktype : SOCK_STREAM;
        b->ai.ai_addrlen = sizeof(b->sin);
        b->ai.ai_addr = (struct sockaddr *)&b->sin;
        b->ai.ai_flags = 0x4000000; /* marks the double's own result for its freeaddrinfo */
        *res = &b->ai;
        gai_mocked++;
        return 0;
    }
    if (node != NULL && strcmp(node, "nowhere") == 0)
        return EAI_NONAME;
    *(void **)&next = dlsym(RTLD_NEXT, "getaddrinfo");
    return next(node, service, hints, res);
}

void freeaddrinfo(struct addrinfo *ai)
{
    void (*next)(struct addrinfo *);

    free_calls++;
    if (ai != NULL && ai->ai_flags == 0x4000000) {
        free(ai);
        free_mocked++;
        return;
    }
    *(void **)&next = dlsym(RTLD_NEXT, "freeaddrinfo");
    next(ai);
}

/* A frozen wall clock (a suite's classic: make "now" a known date); the others are the C
 * library's. */
int clock_gettime(clockid_t id, struct timespec *ts)
{
    int (*next)(clockid_t, struct timespec *);

    if (id == CLOCK_REALTIME) {
        ts->tv_sec = 1234567890;
        ts->tv_nsec = 0;
        return 0;
    }
    *(void **)&next = dlsym(RTLD_NEXT, "clock_gettime");
    return next(id, ts);
}

static void print_result(const char *what, int status, struct addrinfo *res)
{
    char ip[64] = "-";

    if (status == 0 && res != NULL && res->ai_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, sizeof(ip));
    printf("%s status=%s %s\n", what, status == 0 ? "0" : uv_err_name(status), ip);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    print_result((const char *)req->data, status, res);
    uv_freeaddrinfo(res);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_getaddrinfo_t a, b, c, sync;
    struct addrinfo hints, *res = NULL;
    struct timespec ts;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    /* The program's own calls reach its doubles. */
    rc = getaddrinfo("db.example", "6379", &hints, &res);
    print_result("getaddrinfo db.example", rc, res);
    freeaddrinfo(res);
    clock_gettime(CLOCK_REALTIME, &ts);
    V("clock_gettime realtime", (long long)ts.tv_sec);

    /* libuv's calls on the program's behalf reach them too. */
    trace_begin(loop);
    a.data = "uv_getaddrinfo db.example";
    b.data = "uv_getaddrinfo nowhere";
    c.data = "uv_getaddrinfo 127.0.0.1";
    V("start a", uv_getaddrinfo(loop, &a, on_resolved, "db.example", "6379", &hints));
    V("run a", uv_run(loop, UV_RUN_DEFAULT));
    V("start b", uv_getaddrinfo(loop, &b, on_resolved, "nowhere", NULL, &hints));
    V("run b", uv_run(loop, UV_RUN_DEFAULT));
    hints.ai_flags = AI_NUMERICHOST;
    V("start c", uv_getaddrinfo(loop, &c, on_resolved, "127.0.0.1", "80", &hints));
    V("run c", uv_run(loop, UV_RUN_DEFAULT));
    hints.ai_flags = 0;
    rc = uv_getaddrinfo(loop, &sync, NULL, "db.example", "80", &hints);
    print_result("uv_getaddrinfo sync db.example", rc, sync.addrinfo);
    uv_freeaddrinfo(sync.addrinfo);
    V("getaddrinfo double calls", gai_calls);
    V("getaddrinfo double answers", gai_mocked);
    V("freeaddrinfo double calls", free_calls);
    V("freeaddrinfo double frees", free_mocked);
    return trace_end(loop);
}
