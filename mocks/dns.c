/* Name resolution from a table the test fills: uv_getaddrinfo, uv_getnameinfo, uv_freeaddrinfo.
 *
 * Lookups with a callback run on the simulated thread pool (their latency is the job's duration);
 * without one they answer at once, as libuv's synchronous form does. Results are allocated like
 * glibc's (one block per node with its address, the canonical name apart) and recorded, so that
 * uv_freeaddrinfo - and freeaddrinfo(3), which the harness interposes - free them, and a result
 * never freed is reported at teardown. */
#define _GNU_SOURCE 1 /* RTLD_NEXT */
#include "internal_net.h"
#include "../threads/pool.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A result handed to the code under test, until it is freed. */
typedef struct ah__ai_rec {
    ah__list link; /* net->addrinfos */
    struct addrinfo *ai;
    char name[64];
    ah__site site;
    uint64_t at_ns;
} ah__ai_rec;

static int name_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    /* "example.com." is "example.com" */
    if (la > 0 && a[la - 1] == '.')
        la--;
    if (lb > 0 && b[lb - 1] == '.')
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

static ah__dns_entry *entry_find(ah__net *net, const char *name)
{
    ah__list *q;
    for (q = net->dns.next; q != &net->dns; q = q->next) {
        ah__dns_entry *e = ah__container_of(q, ah__dns_entry, link);
        if (name_eq(e->name, name))
            return e;
    }
    return NULL;
}

/* The sim's network, with DNS's part filled in (ah__net_parts: internal_net.h). */
static ah__net *dns_net(ah_sim *sim)
{
    ah__net_parts.dns_check = ah__dns_check;
    ah__net_parts.dns_free_all = ah__dns_free_all;
    return ah__net_get(sim);
}

static ah__dns_entry *entry_get(ah_sim *sim, const char *name, const char *fn)
{
    ah__net *net = dns_net(sim);
    ah__dns_entry *e;

    if (name == NULL || *name == '\0')
        ah__fail(sim, "%s: called without a name", fn);
    if ((e = entry_find(net, name)) != NULL)
        return e;
    e = ah__calloc(1, sizeof(*e));
    e->name = ah__strdup(name);
    ah__list_insert_tail(&net->dns, &e->link);
    return e;
}

/* A numeric IPv4 or IPv6 address, port 0. Returns 0 or -1. */
static int parse_ip(const char *s, struct sockaddr_storage *ss)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        return 0;
    }
    return -1;
}

void ah_dns_add(ah_sim *sim, const char *name, const char *address)
{
    ah__dns_entry *e = entry_get(sim, name, "ah_dns_add");
    struct sockaddr_storage ss;

    if (address == NULL || parse_ip(address, &ss) != 0)
        ah__fail(sim, "ah_dns_add(\"%s\", \"%s\"): not a numeric IPv4 or IPv6 address", name,
                 address ? address : "(null)");
    e->addrs = ah__realloc(e->addrs, (e->naddrs + 1) * sizeof(*e->addrs));
    e->addrs[e->naddrs++] = ss;
}

void ah_dns_latency(ah_sim *sim, const char *name, uint64_t ms)
{
    entry_get(sim, name, "ah_dns_latency")->latency_ms = ms;
}

void ah_dns_fail(ah_sim *sim, const char *name, int err)
{
    if (err >= 0)
        ah__fail(sim, "ah_dns_fail(\"%s\", %d): the error must be a negative UV_EAI_* code", name,
                 err);
    entry_get(sim, name, "ah_dns_fail")->fail = err;
}

/* ---- getaddrinfo ---- */

static int service_port(const char *service, int socktype, int flags, int *port)
{
    struct servent *se;
    char *end;
    long p;

    *port = 0;
    if (service == NULL)
        return 0;
    p = strtol(service, &end, 10);
    if (*service != '\0' && *end == '\0') {
        if (p < 0 || p > 65535)
            return UV_EAI_SERVICE;
        *port = (int)p;
        return 0;
    }
    if (flags & AI_NUMERICSERV)
        return UV_EAI_NONAME;
    se = getservbyname(service, socktype == SOCK_DGRAM ? "udp" : "tcp");
    if (se == NULL)
        return UV_EAI_SERVICE;
    *port = ntohs((uint16_t)se->s_port);
    return 0;
}

static void set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

static void record_result(ah__net *net, struct addrinfo *ai, const char *name, ah__site site)
{
    ah__ai_rec *r;

    /* With the program's own freeaddrinfo, a result may be freed where the sim cannot see it:
     * it is not recorded (nor reported as never freed). */
    if (ah__libc_double("freeaddrinfo"))
        return;
    r = ah__calloc(1, sizeof(*r));

    r->ai = ai;
    {
        size_t n = strnlen(name, sizeof(r->name) - 1); /* no snprintf: one per lookup explored */
        memcpy(r->name, name, n);
        r->name[n] = 0;
    }
    r->site = site;
    r->at_ns = net->sim->clock.now_ns;
    ah__list_insert_tail(&net->addrinfos, &r->link);
}

/* The answer to getaddrinfo(host, service, hints), in glibc's layout. Returns 0 or UV_EAI_*. */
static int resolve(ah__net *net, const char *host, const char *service,
                   const struct addrinfo *hints, struct addrinfo **res)
{
    int family = hints ? hints->ai_family : AF_UNSPEC;
    int socktype = hints ? hints->ai_socktype : 0;
    int protocol = hints ? hints->ai_protocol : 0;
    int flags = hints ? hints->ai_flags : 0;
    static const int all_types[3] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW};
    struct sockaddr_storage tmp[2], *addrs = tmp;
    size_t naddrs = 0, i, j, ntypes;
    const int *types;
    struct addrinfo *head = NULL, **tail = &head;
    ah__dns_entry *e;
    int port, err;

    *res = NULL;
    if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
        return UV_EAI_FAMILY;
    if (socktype != 0 && socktype != SOCK_STREAM && socktype != SOCK_DGRAM && socktype != SOCK_RAW)
        return UV_EAI_SOCKTYPE;
    if ((err = service_port(service, socktype, flags, &port)) != 0)
        return err;
    if (host == NULL) {
        /* No host: the wildcard for a server (AI_PASSIVE), else loopback. */
        parse_ip(flags & AI_PASSIVE ? "0.0.0.0" : "127.0.0.1", &tmp[0]);
        parse_ip(flags & AI_PASSIVE ? "::" : "::1", &tmp[1]);
        naddrs = 2;
    } else if (parse_ip(host, &tmp[0]) == 0) {
        naddrs = 1;
        if (family != AF_UNSPEC && tmp[0].ss_family != family)
            return UV_EAI_ADDRFAMILY;
    } else if (flags & AI_NUMERICHOST) {
        return UV_EAI_NONAME;
    } else if ((e = entry_find(net, host)) != NULL) {
        if (e->fail != 0)
            return e->fail;
        addrs = e->addrs;
        naddrs = e->naddrs;
        if (naddrs == 0)
            return UV_EAI_NODATA;
    } else if (name_eq(host, "localhost")) {
        parse_ip("127.0.0.1", &tmp[0]);
        parse_ip("::1", &tmp[1]);
        naddrs = 2;
    } else {
        return UV_EAI_NONAME;
    }
    types = socktype != 0 ? &socktype : all_types;
    ntypes = socktype != 0 ? 1 : 3;
    for (i = 0; i < naddrs; i++) {
        socklen_t len;
        if (family != AF_UNSPEC && addrs[i].ss_family != family)
            continue;
        len = addrs[i].ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                            : sizeof(struct sockaddr_in6);
        for (j = 0; j < ntypes; j++) {
            struct addrinfo *ai = ah__calloc(1, sizeof(*ai) + sizeof(struct sockaddr_storage));
            ai->ai_flags = flags;
            ai->ai_family = addrs[i].ss_family;
            ai->ai_socktype = types[j];
            ai->ai_protocol = protocol != 0             ? protocol
                              : types[j] == SOCK_STREAM ? IPPROTO_TCP
                              : types[j] == SOCK_DGRAM  ? IPPROTO_UDP
                                                        : 0;
            ai->ai_addrlen = len;
            ai->ai_addr = (struct sockaddr *)(ai + 1);
            memcpy(ai->ai_addr, &addrs[i], len);
            set_port((struct sockaddr_storage *)ai->ai_addr, port);
            *tail = ai;
            tail = &ai->ai_next;
        }
    }
    if (head == NULL)
        return UV_EAI_NODATA; /* the name has no address of that family */
    if (flags & AI_CANONNAME)
        head->ai_canonname = ah__strdup(host != NULL ? host : "localhost");
    *res = head;
    return 0;
}

static void free_chain(struct addrinfo *ai)
{
    struct addrinfo *next;

    for (; ai != NULL; ai = next) {
        next = ai->ai_next;
        ah__free(ai->ai_canonname);
        ah__free(ai);
    }
}

/* uv_getaddrinfo's arguments, copied as libuv does (here in the job's own memory). */
typedef struct gai_args {
    char host[256], service[64];
    int has_host, has_service, has_hints;
    struct addrinfo hints;
    ah__site site;
} gai_args;
_Static_assert(sizeof(gai_args) <= sizeof(((ah__job *)0)->data), "gai_args fits a job's data");

/* libuv's translation of getaddrinfo's EAI_* codes (uv__getaddrinfo_translate_error). */
static int uv_eai_of(int eai)
{
    switch (eai) {
    case 0:
        return 0;
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
        return UV_EAI_ADDRFAMILY;
#endif
    case EAI_AGAIN:
        return UV_EAI_AGAIN;
    case EAI_BADFLAGS:
        return UV_EAI_BADFLAGS;
#ifdef EAI_CANCELED
    case EAI_CANCELED:
        return UV_EAI_CANCELED;
#endif
    case EAI_FAIL:
        return UV_EAI_FAIL;
    case EAI_FAMILY:
        return UV_EAI_FAMILY;
    case EAI_MEMORY:
        return UV_EAI_MEMORY;
#ifdef EAI_NODATA
    case EAI_NODATA:
        return UV_EAI_NODATA;
#endif
    case EAI_NONAME:
        return UV_EAI_NONAME;
    case EAI_OVERFLOW:
        return UV_EAI_OVERFLOW;
    case EAI_SERVICE:
        return UV_EAI_SERVICE;
    case EAI_SOCKTYPE:
        return UV_EAI_SOCKTYPE;
    case EAI_SYSTEM:
        return -errno;
    default:
        return UV_EAI_FAIL;
    }
}

static int gai_work(ah__net *net, gai_args *job, uv_getaddrinfo_t *req)
{
    struct addrinfo *res = NULL;
    int err;

    if (ah__libc_double("getaddrinfo")) {
        /* The program has its own getaddrinfo: libuv's pool thread would call it, so the job
         * does (its result is the program's to free, with freeaddrinfo or uv_freeaddrinfo). */
        err = uv_eai_of(getaddrinfo(job->has_host ? job->host : NULL,
                                    job->has_service ? job->service : NULL,
                                    job->has_hints ? &job->hints : NULL, &res));
        req->addrinfo = err == 0 ? res : NULL;
        req->retcode = err;
        return err;
    }
    err = resolve(net, job->has_host ? job->host : NULL, job->has_service ? job->service : NULL,
                  job->has_hints ? &job->hints : NULL, &res);
    req->addrinfo = res;
    req->retcode = err;
    if (res != NULL)
        record_result(net, res, job->has_host ? job->host : "(null)", job->site);
    return err;
}

static void dns_work(ah__job *job);
static void dns_done(ah__job *job, int status);

int ah__dns_resolve_now(ah__net *net, const char *host, const char *service,
                        const struct addrinfo *hints, struct addrinfo **res, ah__site site)
{
    int err = resolve(net, host, service, hints, res);

    if (*res != NULL)
        record_result(net, *res, host != NULL ? host : "(null)", site);
    return err;
}

static uint64_t latency_of(ah__net *net, const char *host)
{
    ah__dns_entry *e = host != NULL ? entry_find(net, host) : NULL;
    return e != NULL ? e->latency_ms : 0;
}

int uv_getaddrinfo(uv_loop_t *loop, uv_getaddrinfo_t *req, uv_getaddrinfo_cb cb,
                   const char *hostname, const char *service, const struct addrinfo *hints)
{
    ah__site site = AH__CALLER("uv_getaddrinfo");
    ah_sim *sim = ah__loop_sim(loop, "uv_getaddrinfo");
    ah__net *net = dns_net(sim);
    gai_args *job, sync_job;
    ah__job *pj;

    memset(&sync_job, 0, sizeof(sync_job));
    if (req == NULL || (hostname == NULL && service == NULL))
        return UV_EINVAL;
    if ((hostname != NULL && strlen(hostname) >= sizeof(job->host)) ||
        (service != NULL && strlen(service) >= sizeof(job->service)))
        return UV_EINVAL;
    ah__req_require_idle(req, "uv_getaddrinfo", site);
    ah__req_begin(loop, (uv_req_t *)req, UV_GETADDRINFO, "uv_getaddrinfo", site);
    req->loop = loop;
    req->cb = cb;
    req->addrinfo = NULL;
    req->hints = NULL;
    req->service = NULL;
    req->hostname = NULL;
    req->retcode = 0;
    if (cb != NULL) {
        pj = ah__job_submit(loop, (uv_req_t *)req, "uv_getaddrinfo", dns_work, dns_done,
                            latency_of(net, hostname), site);
        job = (gai_args *)(void *)pj->data.bytes;
    } else {
        job = &sync_job;
    }
    job->site = site;
    if ((job->has_host = hostname != NULL))
        snprintf(job->host, sizeof(job->host), "%s", hostname);
    if ((job->has_service = service != NULL))
        snprintf(job->service, sizeof(job->service), "%s", service);
    if ((job->has_hints = hints != NULL))
        job->hints = *hints;
    if (cb != NULL)
        return 0;
    /* The synchronous form: the lookup runs now, on the caller's thread, and takes no time. */
    gai_work(net, job, req);
    ah__req_end((uv_req_t *)req);
    return req->retcode;
}

/* ---- getnameinfo ---- */

static const char *name_of_addr(ah__net *net, const struct sockaddr *sa)
{
    ah__list *q;
    size_t i;

    for (q = net->dns.next; q != &net->dns; q = q->next) {
        ah__dns_entry *e = ah__container_of(q, ah__dns_entry, link);
        for (i = 0; i < e->naddrs; i++) {
            const struct sockaddr_storage *a = &e->addrs[i];
            if (a->ss_family != sa->sa_family)
                continue;
            if (sa->sa_family == AF_INET &&
                memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                       &((const struct sockaddr_in *)sa)->sin_addr, sizeof(struct in_addr)) == 0)
                return e->name;
            if (sa->sa_family == AF_INET6 &&
                memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                       &((const struct sockaddr_in6 *)sa)->sin6_addr, sizeof(struct in6_addr)) == 0)
                return e->name;
        }
    }
    return NULL;
}

static void gni_work(ah__net *net, uv_getnameinfo_t *req)
{
    const struct sockaddr *sa = (const struct sockaddr *)&req->storage;
    const char *name = NULL;
    struct servent *se;
    ah__addr a;

    ah__addr_from_sockaddr(sa, &a);
    req->retcode = 0;
    if (!(req->flags & NI_NUMERICHOST)) {
        name = name_of_addr(net, sa);
        if (name == NULL && (strcmp(a.host, "127.0.0.1") == 0 || strcmp(a.host, "::1") == 0))
            name = "localhost";
    }
    if (name == NULL && (req->flags & NI_NAMEREQD)) {
        req->retcode = UV_EAI_NONAME;
        return;
    }
    snprintf(req->host, sizeof(req->host), "%s", name != NULL ? name : a.host);
    se = (req->flags & NI_NUMERICSERV)
             ? NULL
             : getservbyport(htons((uint16_t)a.port), (req->flags & NI_DGRAM) ? "udp" : "tcp");
    if (se != NULL)
        snprintf(req->service, sizeof(req->service), "%s", se->s_name);
    else
        snprintf(req->service, sizeof(req->service), "%d", a.port);
}

int uv_getnameinfo(uv_loop_t *loop, uv_getnameinfo_t *req, uv_getnameinfo_cb cb,
                   const struct sockaddr *addr, int flags)
{
    ah__site site = AH__CALLER("uv_getnameinfo");
    ah_sim *sim = ah__loop_sim(loop, "uv_getnameinfo");
    ah__net *net = dns_net(sim);
    const char *name;
    if (req == NULL || addr == NULL)
        return UV_EINVAL;
    ah__req_require_idle(req, "uv_getnameinfo", site);
    if (addr->sa_family == AF_INET)
        memcpy(&req->storage, addr, sizeof(struct sockaddr_in));
    else if (addr->sa_family == AF_INET6)
        memcpy(&req->storage, addr, sizeof(struct sockaddr_in6));
    else
        return UV_EINVAL;
    ah__req_begin(loop, (uv_req_t *)req, UV_GETNAMEINFO, "uv_getnameinfo", site);
    req->getnameinfo_cb = cb;
    req->flags = flags;
    req->loop = loop;
    req->retcode = 0;
    if (cb == NULL) {
        gni_work(net, req);
        ah__req_end((uv_req_t *)req);
        return req->retcode;
    }
    name = name_of_addr(net, addr);
    ah__job_submit(loop, (uv_req_t *)req, "uv_getnameinfo", dns_work, dns_done,
                   name != NULL ? latency_of(net, name) : 0, site);
    return 0;
}

/* ---- completion, from the thread pool ---- */

/* On a pool worker: the lookup itself. */
static void dns_work(ah__job *job)
{
    ah__net *net = dns_net(ah__sim());

    if (job->req->type == UV_GETADDRINFO)
        gai_work(net, (gai_args *)(void *)job->data.bytes, (uv_getaddrinfo_t *)job->req);
    else
        gni_work(net, (uv_getnameinfo_t *)job->req);
}

/* On the loop: the callback. */
static void dns_done(ah__job *job, int status)
{
    ah_sim *sim = ah__sim();
    uv_req_t *req = job->req;

    if (req->type == UV_GETADDRINFO) {
        uv_getaddrinfo_t *r = (uv_getaddrinfo_t *)req;
        if (status == UV_ECANCELED)
            r->retcode = UV_EAI_CANCELED;
        if (r->cb != NULL)
            AH__DISPATCH(sim, NULL, "getaddrinfo_cb", r->cb(r, r->retcode, r->addrinfo));
    } else {
        uv_getnameinfo_t *r = (uv_getnameinfo_t *)req;
        const char *host = NULL, *service = NULL;
        if (status == UV_ECANCELED)
            r->retcode = UV_EAI_CANCELED;
        else if (r->retcode == 0) {
            host = r->host;
            service = r->service;
        }
        if (r->getnameinfo_cb != NULL)
            AH__DISPATCH(sim, NULL, "getnameinfo_cb",
                         r->getnameinfo_cb(r, r->retcode, host, service));
    }
}

/* ---- freeing ---- */

static ah__ai_rec *rec_of(ah__net *net, const struct addrinfo *ai)
{
    ah__list *q;
    for (q = net->addrinfos.next; q != &net->addrinfos; q = q->next) {
        ah__ai_rec *r = ah__container_of(q, ah__ai_rec, link);
        if (r->ai == ai)
            return r;
    }
    return NULL;
}

/* freeaddrinfo(3) itself: a result of the sim is freed here, any other goes to the C library. */
AH__LIBC(freeaddrinfo, 17, AH__LIBC_DNS);
void freeaddrinfo(struct addrinfo *ai)
{
    ah__net *net = ah__net_find(ah_sim_current());
    ah__ai_rec *r = net != NULL && ai != NULL ? rec_of(net, ai) : NULL;
    static void (*real)(struct addrinfo *);

    if (r != NULL) {
        ah__list_remove(&r->link);
        ah__free(r);
        free_chain(ai);
        return;
    }
    if (ai == NULL)
        return;
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "freeaddrinfo");
    if (real != NULL)
        real(ai);
}

void uv_freeaddrinfo(struct addrinfo *ai)
{
    ah__net *net = ah__net_find(ah_sim_current());

    /* A result of the sim's table is the sim's to free; any other goes to freeaddrinfo, the
     * program's own when it has one, as libuv calls it. */
    if (ai != NULL && net != NULL && rec_of(net, ai) != NULL)
        ah__libc_freeaddrinfo(ai);
    else if (ai != NULL)
        freeaddrinfo(ai);
}

void ah__dns_check(ah__net *net, ah__buf *b)
{
    ah__list *q;
    char s[160];

    for (q = net->addrinfos.next; q != &net->addrinfos; q = q->next) {
        ah__ai_rec *r = ah__container_of(q, ah__ai_rec, link);
        ah__buf_printf(b,
                       "  - the result of uv_getaddrinfo(\"%s\") started in %s at +%llu ms was "
                       "never freed with uv_freeaddrinfo\n",
                       r->name, ah__site_str(&r->site, s, sizeof(s)),
                       (unsigned long long)((r->at_ns - net->sim->clock.epoch_ns) / AH__NS_PER_MS));
    }
}

void ah__dns_free_all(ah__net *net)
{
    while (!ah__list_empty(&net->addrinfos)) {
        ah__ai_rec *r = ah__container_of(net->addrinfos.next, ah__ai_rec, link);
        ah__list_remove(&r->link);
        free_chain(r->ai);
        ah__free(r);
    }
    ah__dns_table_clear(net);
}

/* The table of names ah_dns_* made (the world's copy replaces it: world/dns.c). */
void ah__dns_table_clear(ah__net *net)
{
    while (!ah__list_empty(&net->dns)) {
        ah__dns_entry *e = ah__container_of(net->dns.next, ah__dns_entry, link);
        ah__list_remove(&e->link);
        ah__free(e->name);
        ah__free(e->addrs);
        ah__free(e);
    }
}
