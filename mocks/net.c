/* The fake network's core: per-sim state, addresses, routes (listeners and faults per server
 * address), connections and their flows of segments, partitions, and the teardown and deadlock
 * reports. Streams (stream.c) and scripted peers (peer.c) are the two kinds of ends. */
#include "internal_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>

static const int net_key;

ah__net_parts_t ah__net_parts;

static void net_check(ah_sim *sim, void *state, ah__buf *b);
static void net_pending(ah_sim *sim, void *state, ah__buf *b);
static void net_destroy(ah_sim *sim, void *state);

ah__net *ah__net_find(ah_sim *sim) { return sim != NULL ? ah__ext_get(sim, &net_key) : NULL; }

static void net_init(ah_sim *sim, void *state)
{
    ah__net *net = state;

    net->sim = sim;
    ah__list_init(&net->routes);
    ah__list_init(&net->socks);
    ah__list_init(&net->conns);
    ah__list_init(&net->peers);
    ah__list_init(&net->parts);
    ah__list_init(&net->stalled);
    ah__list_init(&net->dns);
    ah__list_init(&net->addrinfos);
    net->next_port = 50001;
}

ah__net *ah__net_get(ah_sim *sim)
{
    static const ah__ext net_ext = {
        .key = &net_key,
        .name = "net",
        .check = net_check,
        .pending = net_pending,
        .destroy = net_destroy,
        .init = net_init,
    };

    return ah__ext_get_or_add(sim, &net_ext, sizeof(ah__net));
}

/* ---- addresses ---- */

static void addr_texts(ah__addr *a)
{
    char ip[INET6_ADDRSTRLEN];

    if (a->family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        a->port = ntohs(s4->sin_port);
        snprintf(a->host, sizeof(a->host), "%s", ip);
        snprintf(a->str, sizeof(a->str), "%s:%d", ip, a->port);
    } else if (a->family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        a->port = ntohs(s6->sin6_port);
        snprintf(a->host, sizeof(a->host), "%s", ip);
        snprintf(a->str, sizeof(a->str), "[%s]:%d", ip, a->port);
    }
}

void ah__addr_from_sockaddr(const struct sockaddr *sa, ah__addr *a)
{
    memset(a, 0, sizeof(*a));
    a->family = sa->sa_family;
    if (sa->sa_family == AF_INET)
        memcpy(&a->sa, sa, sizeof(struct sockaddr_in));
    else if (sa->sa_family == AF_INET6)
        memcpy(&a->sa, sa, sizeof(struct sockaddr_in6));
    addr_texts(a);
}

int ah__addr_parse(const char *s, int ip, ah__addr *a)
{
    char host[AH__ADDR_MAX];
    const char *colon, *end;
    char *tail;
    long port;
    size_t n;

    memset(a, 0, sizeof(*a));
    if (s == NULL)
        return UV_EINVAL;
    if (!ip) {
        if (*s == '\0' || strlen(s) >= sizeof(a->str))
            return UV_EINVAL;
        a->family = AF_UNIX;
        snprintf(a->str, sizeof(a->str), "%s", s);
        snprintf(a->host, sizeof(a->host), "%s", s);
        return 0;
    }
    if (*s == '[') {
        end = strchr(s, ']');
        if (end == NULL || end[1] != ':')
            return UV_EINVAL;
        n = (size_t)(end - s - 1);
        colon = end + 1;
        s++;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return UV_EINVAL;
        n = (size_t)(colon - s);
    }
    if (n == 0 || n >= sizeof(host))
        return UV_EINVAL;
    memcpy(host, s, n);
    host[n] = '\0';
    port = strtol(colon + 1, &tail, 10);
    if (colon[1] == '\0' || *tail != '\0' || port < 0 || port > 65535)
        return UV_EINVAL;
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&a->sa)->sin_addr) == 1) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&a->sa;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        a->family = AF_INET;
    } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&a->sa)->sin6_addr) == 1) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->sa;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        a->family = AF_INET6;
    } else {
        return UV_EINVAL;
    }
    addr_texts(a);
    return 0;
}

/* A test's address string: an IP endpoint, else a pipe path. Fails the test on a malformed IP. */
static void addr_of_test(ah_sim *sim, const char *fn, const char *s, ah__addr *a)
{
    if (s == NULL)
        ah__fail(sim, "%s: called with a NULL address", fn);
    if (ah__addr_parse(s, 1, a) == 0)
        return;
    if ((*s >= '0' && *s <= '9') || *s == '[')
        ah__fail(sim,
                 "%s: \"%s\" is not an address (write \"127.0.0.1:6379\", \"[::1]:80\" or a "
                 "pipe path)",
                 fn, s);
    if (ah__addr_parse(s, 0, a) != 0)
        ah__fail(sim, "%s: \"%s\" is not a pipe path the sim can hold", fn, s);
}

static int addr_is_loopback(const ah__addr *a)
{
    if (a->family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)&a->sa)->sin_addr.s_addr) >> 24) == 127;
    if (a->family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&a->sa)->sin6_addr);
    return 0;
}

void ah__local_for(const ah__addr *server, uint32_t port, ah__addr *out)
{
    char s[AH__ADDR_MAX];
    int lo = addr_is_loopback(server);

    if (server->family == AF_INET6)
        snprintf(s, sizeof(s), "[%s]:%u", lo ? "::1" : "fd00::1", (unsigned)port);
    else
        snprintf(s, sizeof(s), "%s:%u", lo ? "127.0.0.1" : "10.0.0.1", (unsigned)port);
    ah__addr_parse(s, 1, out);
}

int ah__addr_local(ah_sim *sim, const ah__addr *a)
{
    ah__net *net = ah__net_find(sim);
    size_t i;

    if (a->family == AF_UNIX || addr_is_loopback(a) || strcmp(a->host, "0.0.0.0") == 0 ||
        strcmp(a->host, "::") == 0 || strcmp(a->host, "10.0.0.1") == 0 ||
        strcmp(a->host, "fd00::1") == 0)
        return 1;
    for (i = 0; net != NULL && i < net->n_locals; i++)
        if (strcmp(net->locals[i], a->host) == 0)
            return 1;
    return 0;
}

void ah_net_local_address(ah_sim *sim, const char *host)
{
    ah__net *net = ah__net_get(sim);
    char s[AH__ADDR_MAX + 8];
    ah__addr a;

    snprintf(s, sizeof(s), strchr(host ? host : "", ':') ? "[%s]:0" : "%s:0", host ? host : "");
    if (host == NULL || ah__addr_parse(s, 1, &a) != 0)
        ah__fail(sim, "ah_net_local_address: \"%s\" is not an IP address", host ? host : "(null)");
    net->locals = ah__realloc(net->locals, (net->n_locals + 1) * sizeof(*net->locals));
    snprintf(net->locals[net->n_locals++], AH__ADDR_MAX, "%s", a.host);
}

int ah__net_out_of_fds(ah__net *net)
{
    int fd;

    struct rlimit lim;
    struct dirent *d;
    DIR *dir;
    size_t open_fds = 0;

    if (net->out_of_fds)
        return 1;
    /* The sim's sockets hold no real descriptors: a real probe answers for the real ones... */
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == EMFILE || errno == ENFILE;
    close(fd);
    /* ... and each of the sim's sockets counts as the descriptor it would hold, against
     * RLIMIT_NOFILE, as the kernel counts it (decision 142): the process is out when its open
     * descriptors and the sim's sockets leave none for the accept. */
    if (net->fds_held == 0 || getrlimit(RLIMIT_NOFILE, &lim) != 0 ||
        lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > net->fds_held + 65536u)
        return 0;
    if ((dir = opendir("/proc/self/fd")) == NULL)
        return errno == EMFILE || errno == ENFILE;
    while ((d = readdir(dir)) != NULL)
        if (d->d_name[0] != '.')
            open_fds++;
    closedir(dir);
    if (open_fds > 0)
        open_fds--; /* the folder's own descriptor */
    return open_fds + net->fds_held >= lim.rlim_cur;
}

void ah_net_out_of_descriptors(ah_sim *sim, int on) { ah__net_get(sim)->out_of_fds = on != 0; }

uint32_t ah__net_ephemeral_port(ah__net *net)
{
    uint32_t p = net->next_port++;
    if (net->next_port > 60999)
        net->next_port = 50001;
    return p;
}

/* ---- routes ---- */

/* `pipe`: 0 for an IP address, 1 for a path, 2 for an abstract unix name. */
static ah__route *route_lookup(ah__net *net, const char *str, int pipe)
{
    ah__list *q;
    for (q = net->routes.next; q != &net->routes; q = q->next) {
        ah__route *r = ah__container_of(q, ah__route, link);
        if ((r->addr.family == AF_UNIX ? 1 + r->addr.abstract : 0) == pipe &&
            strcmp(r->addr.str, str) == 0)
            return r;
    }
    return NULL;
}

ah__route *ah__route_get(ah__net *net, const ah__addr *a)
{
    ah__route *r = route_lookup(net, a->str, a->family == AF_UNIX ? 1 + a->abstract : 0);

    if (r != NULL)
        return r;
    r = ah__calloc(1, sizeof(*r));
    r->addr = *a;
    ah__list_insert_tail(&net->routes, &r->link);
    return r;
}

int ah__route_listens(const ah__route *r)
{
    return (r->peer != NULL && r->peer->listening) || r->listener != NULL || r->lops != NULL;
}

ah__route *ah__route_listening(ah__net *net, const ah__addr *a)
{
    char w[AH__ADDR_MAX];
    ah__route *r = route_lookup(net, a->str, a->family == AF_UNIX ? 1 + a->abstract : 0);

    if (r != NULL && ah__route_listens(r))
        return r;
    if (a->family == AF_UNIX)
        return NULL;
    /* Wildcard listeners: 0.0.0.0 takes IPv4, :: takes IPv6 and (unless IPv6-only) IPv4. */
    if (a->family == AF_INET) {
        snprintf(w, sizeof(w), "0.0.0.0:%d", a->port);
        if ((r = route_lookup(net, w, 0)) != NULL && ah__route_listens(r))
            return r;
    }
    snprintf(w, sizeof(w), "[::]:%d", a->port);
    if ((r = route_lookup(net, w, 0)) != NULL && ah__route_listens(r)) {
        if (a->family == AF_INET6 || r->peer != NULL || r->listener == NULL ||
            r->listener->stream == NULL || !(r->listener->stream->flags & AH__SF_IPV6ONLY))
            return r;
    }
    return NULL;
}

/* ---- partitions ---- */

static int pat_match(const char *pat, const ah__addr *a)
{
    return strcmp(pat, "*") == 0 || strcmp(pat, a->str) == 0 || strcmp(pat, a->host) == 0;
}

static int partitioned(ah__net *net, const ah__addr *x, const ah__addr *y)
{
    ah__list *q;
    for (q = net->parts.next; q != &net->parts; q = q->next) {
        ah__partition *p = ah__container_of(q, ah__partition, link);
        if ((pat_match(p->a, x) && pat_match(p->b, y)) ||
            (pat_match(p->a, y) && pat_match(p->b, x)))
            return 1;
    }
    return 0;
}

int ah__conn_blocked(ah__net *net, ah__conn *c)
{
    return c->held || c->route->held || partitioned(net, &c->end[0].addr, &c->end[1].addr);
}

/* ---- connections and flows ---- */

static void flow_arrive(ah__event *ev);

/* The loop a connection's own events run on when no user stream receives them: the connecting
 * side's loop while it is open, else the default loop. NULL when neither is open. */
uv_loop_t *ah__conn_loop(ah__conn *c)
{
    ah_sim *sim = ah__sim();
    ah__list *q;

    for (q = sim->loops.next; q != &sim->loops; q = q->next)
        if (ah__container_of(q, ah__loop, link)->loop == c->loop)
            return c->loop;
    return sim->default_loop_open ? &sim->default_loop : NULL;
}

ah__conn *ah__conn_new(ah__net *net, int kind, ah__route *route, uv_loop_t *loop,
                       const ah__addr *client, const ah__addr *server)
{
    ah__conn *c = ah__calloc(1, sizeof(*c));
    int i;

    c->id = ++net->next_conn_id;
    c->kind = kind;
    c->route = route;
    c->loop = loop;
    c->end[0].addr = *client;
    c->end[1].addr = *server;
    if (kind == UV_NAMED_PIPE)
        snprintf(c->label, sizeof(c->label), "pipe -> %s", server->str);
    else
        snprintf(c->label, sizeof(c->label), "tcp %s -> %s", client->str, server->str);
    for (i = 0; i < 2; i++) {
        c->flow[i].conn = c;
        c->flow[i].from = i;
        c->flow[i].ev.fire = flow_arrive;
        c->flow[i].ev.what = i == 0 ? "bytes from the client" : "bytes from the server";
    }
    ah__list_init(&c->backlog_link);
    ah__list_insert_tail(&net->conns, &c->link);
    return c;
}

uint64_t ah__conn_latency(ah__conn *c)
{
    ah_sim *sim = ah__sim();

    if (c->has_lat)
        return ah__choose_range(sim, c->lat_min, c->lat_max, "net latency");
    if (c->route->has_lat)
        return ah__choose_range(sim, c->route->lat_min, c->route->lat_max, "net latency");
    return 0;
}

int ah__route_chunked(const ah__route *r) { return r->chunk != 0 || r->chunk_random != 0; }

static void flow_push_seg(ah__flow *f, uint64_t end, int kind, uint64_t due)
{
    if (due < f->last_due)
        due = f->last_due; /* bytes never overtake each other */
    f->last_due = due;
    if (f->seg_n == f->seg_cap) {
        if (f->seg_head > 0) {
            memmove(f->segs, f->segs + f->seg_head, (f->seg_n - f->seg_head) * sizeof(*f->segs));
            f->seg_n -= f->seg_head;
            f->seg_arr -= f->seg_head;
            f->seg_head = 0;
        } else {
            f->seg_cap = f->seg_cap ? f->seg_cap * 2 : 8;
            f->segs = ah__realloc(f->segs, f->seg_cap * sizeof(*f->segs));
        }
    }
    f->segs[f->seg_n].end = end;
    f->segs[f->seg_n].kind = kind;
    f->segs[f->seg_n].due_ns = due;
    f->seg_n++;
}

static void flow_gc(ah__flow *f)
{
    while (f->seg_head < f->seg_arr &&
           (f->segs[f->seg_head].kind != AH__SEG_DATA || f->segs[f->seg_head].end <= f->rd))
        f->seg_head++;
    if (f->seg_head == f->seg_n)
        f->seg_head = f->seg_arr = f->seg_n = 0;
}

static uint64_t now_ns(void) { return ah__sim()->clock.now_ns; }

void ah__flow_send(ah__conn *c, int from, const void *data, size_t n)
{
    ah_sim *sim = ah__sim();
    ah__flow *f = &c->flow[from];
    ah__route *r = c->route;
    size_t live = (size_t)(f->wr - f->rd), off = 0, piece;

    if (n == 0 || f->fin_sent || f->rst_sent)
        return;
    if ((size_t)(f->wr - f->base) + n > f->cap) {
        if (live > 0 && f->rd > f->base)
            memmove(f->buf, f->buf + (f->rd - f->base), live);
        f->base = f->rd;
        if (live + n > f->cap) {
            f->cap = live + n > f->cap * 2 ? live + n : f->cap * 2;
            if (f->cap < 256)
                f->cap = 256;
            f->buf = ah__realloc(f->buf, f->cap);
        }
    }
    memcpy(f->buf + (f->wr - f->base), data, n);
    while (off < n) {
        piece = n - off;
        if (r->chunk != 0 && piece > r->chunk)
            piece = r->chunk;
        else if (r->chunk_random != 0)
            piece = (size_t)ah__choose_range(
                sim, 1, piece < r->chunk_random ? piece : r->chunk_random, "net chunk size");
        off += piece;
        flow_push_seg(f, f->wr + off, AH__SEG_DATA,
                      sim->clock.now_ns + ah__conn_latency(c) * AH__NS_PER_MS);
    }
    f->wr += n;
    ah__flow_arm(f);
}

void ah__flow_send_fin(ah__conn *c, int from)
{
    ah__flow *f = &c->flow[from];

    if (f->fin_sent || f->rst_sent)
        return;
    f->fin_sent = 1;
    f->fin_at = f->wr;
    flow_push_seg(f, f->wr, AH__SEG_FIN, now_ns() + ah__conn_latency(c) * AH__NS_PER_MS);
    ah__flow_arm(f);
}

void ah__flow_send_rst(ah__conn *c, int from, int now)
{
    ah__flow *f = &c->flow[from];

    if (f->rst_sent)
        return;
    f->rst_sent = 1;
    if (now) {
        /* An injected reset: what is still in flight is lost. */
        f->wr = f->arr;
        f->seg_n = f->seg_arr;
        f->last_due = 0;
        flow_push_seg(f, f->wr, AH__SEG_RST, now_ns());
    } else {
        flow_push_seg(f, f->wr, AH__SEG_RST, now_ns() + ah__conn_latency(c) * AH__NS_PER_MS);
    }
    ah__flow_arm(f);
}

size_t ah__flow_readable(const ah__flow *f, int chunked)
{
    size_t avail = (size_t)(f->arr - f->rd), i;

    if (!chunked || avail == 0)
        return avail;
    for (i = f->seg_head; i < f->seg_arr; i++)
        if (f->segs[i].kind == AH__SEG_DATA && f->segs[i].end > f->rd)
            return (size_t)(f->segs[i].end - f->rd) < avail ? (size_t)(f->segs[i].end - f->rd)
                                                            : avail;
    return avail;
}

void ah__flow_consume(ah__flow *f, size_t n)
{
    ah__sock *sender = f->conn->end[f->from].sock;

    const ah__end *se = &f->conn->end[f->from];

    if (n > 0 && sender != NULL && f->wr - f->rd >= AH__FLOW_WINDOW)
        ah__net_parts.sock_writable(sender); /* the window opens again */
    f->rd += n;
    if (n > 0 && se->ops != NULL)
        se->ops->writable(se->ctx);
    flow_gc(f);
    if (f->rd == f->wr) {
        f->base = f->rd; /* empty: start the buffer over */
    }
}

void ah__flow_rights_add(ah__flow *f, uint64_t at, uint64_t end, const int *fds, int n)
{
    ah__rights *r = ah__calloc(1, sizeof(*r) + (size_t)n * sizeof(int)), **tail = &f->rights;

    r->at = at;
    r->end = end;
    r->n = n;
    memcpy(r->fds, fds, (size_t)n * sizeof(int));
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = r;
}

ah__rights *ah__flow_rights_take(ah__flow *f, size_t *n)
{
    ah__rights *r = f->rights;

    if (r == NULL || r->at >= f->rd + *n)
        return NULL;
    f->rights = r->next;
    r->next = NULL;
    if (r->end > f->rd && r->end - f->rd < *n)
        *n = (size_t)(r->end - f->rd);
    return r;
}

static int receiver_refs(ah__conn *c, int r)
{
    if (c->end[r].pc != NULL)
        return 1;
    if (c->end[r].sock != NULL)
        return ah__net_parts.sock_reading(c->end[r].sock);
    if (c->end[r].ops != NULL)
        return c->end[r].ops->waiting(c->end[r].ctx);
    return 0;
}

void ah__flow_arm(ah__flow *f)
{
    ah__conn *c = f->conn;
    ah__net *net = ah__net_get(ah__sim());
    int r = 1 - f->from;
    uv_loop_t *loop;
    uint64_t due;
    unsigned flags;

    if (f->ev.batch_index != 0)
        return; /* it fires in this poll and takes everything due by then */
    if (f->seg_arr == f->seg_n || ah__conn_blocked(net, c)) {
        ah__event_cancel(&f->ev);
        return;
    }
    loop = c->end[r].sock != NULL  ? c->end[r].sock->loop
           : c->end[r].ops != NULL ? c->end[r].ops->loop(c->end[r].ctx)
                                   : ah__conn_loop(c);
    if (loop == NULL) {
        ah__event_cancel(&f->ev);
        return;
    }
    due = f->segs[f->seg_arr].due_ns;
    if (due < net->sim->clock.now_ns)
        due = net->sim->clock.now_ns;
    flags = receiver_refs(c, r) ? AH__EV_REF : 0;
    if (ah__event_scheduled(&f->ev) && f->ev.node.due == due && f->ev.flags == flags &&
        f->ev.loop == loop)
        return;
    ah__event_cancel(&f->ev);
    f->ev.flags = flags;
    f->ev.owner = c->end[r].sock != NULL ? (const void *)c->end[r].sock->stream : NULL;
    ah__event_schedule(loop, &f->ev, due);
}

/* "to server 12 bytes +FIN": a note for every arrival, written without printf (it was a quarter
 * of an explored kvclient schedule). */
static void arrive_note(char *out, const char *dir, uint64_t n, int fin, int rst)
{
    char digits[24];
    size_t k = 0, len = strlen(dir);

    memcpy(out, dir, len);
    do
        digits[k++] = (char)('0' + n % 10);
    while ((n /= 10) != 0);
    while (k > 0)
        out[len++] = digits[--k];
    memcpy(out + len, " bytes", 6);
    len += 6;
    if (fin) {
        memcpy(out + len, " +FIN", 5);
        len += 5;
    }
    if (rst) {
        memcpy(out + len, " +RST", 5);
        len += 5;
    }
    out[len] = '\0';
}

/* Takes the segments of `f` due now: what arrived, traced on the connection's track; a reset
 * marks the receiving end. Returns whether a reset arrived. */
static int take_arrived(ah_sim *sim, ah__flow *f)
{
    ah__conn *c = f->conn;
    uint64_t now = sim->clock.now_ns, before = f->arr;
    int fin = 0, rst = 0;
    char what[64];

    while (f->seg_arr < f->seg_n && f->segs[f->seg_arr].due_ns <= now) {
        ah__seg *s = &f->segs[f->seg_arr++];
        if (s->kind == AH__SEG_DATA)
            f->arr = s->end;
        else if (s->kind == AH__SEG_FIN)
            fin = f->fin_arrived = 1;
        else
            rst = f->rst_arrived = 1;
    }
    arrive_note(what, f->from == 0 ? "to server " : "to client ", f->arr - before, fin, rst);
    ah__trace_note(sim, c->label, what);
    if (rst)
        c->end[1 - f->from].reset = 1;
    return rst;
}

static void flow_arrive(ah__event *ev)
{
    ah__flow *f = ah__container_of(ev, ah__flow, ev);
    ah__conn *c = f->conn;
    ah_sim *sim = ah__sim();
    ah__net *net = ah__net_get(sim);
    int r = 1 - f->from;
    ah__end *e = &c->end[r];
    int rst;

    if (ah__conn_blocked(net, c))
        return; /* held after it was armed: ah_net_release re-arms it */
    rst = take_arrived(sim, f);
    if (e->closed) {
        /* A socket that is gone answers data with a reset, as a kernel does. */
        int data = f->arr > f->rd;
        f->rd = f->arr;
        flow_gc(f);
        if (data && !rst && !c->flow[r].rst_sent)
            ah__flow_send_rst(c, r, 0);
    } else if (e->sock != NULL) {
        ah__net_parts.sock_incoming(e->sock);
    } else if (e->pc != NULL) {
        ah__net_parts.peer_incoming(e->pc);
    } else if (e->ops != NULL) {
        e->ops->incoming(e->ctx);
    }
    ah__flow_arm(f);
}

int ah__flow_take_due(ah__flow *f)
{
    ah__conn *c = f->conn;
    ah_sim *sim = ah__sim();

    if (ah__conn_blocked(ah__net_get(sim), c) || f->ev.batch_index != 0 || f->seg_arr == f->seg_n ||
        f->segs[f->seg_arr].due_ns > sim->clock.now_ns)
        return 0;
    take_arrived(sim, f);
    return 1;
}

void ah__flow_deliver_due(ah__flow *f)
{
    if (ah__event_scheduled(&f->ev) && f->ev.batch_index == 0 &&
        f->ev.node.due <= ah__sim()->clock.now_ns) {
        ah__event_cancel(&f->ev);
        flow_arrive(&f->ev);
    }
}

void ah__end_close(ah__conn *c, int side, int rst)
{
    ah__end *e = &c->end[side];
    ah__flow *in = &c->flow[1 - side];

    if (e->closed)
        return;
    e->closed = 1;
    e->sock = NULL;
    e->pc = NULL;
    e->ops = NULL;
    e->ctx = NULL;
    if (c->end[1 - side].pc != NULL)
        ah__net_parts.peer_client_gone(c->end[1 - side].pc);
    /* Linux resets instead of closing when unread bytes are left in the receive queue. */
    if (!e->reset) {
        if (rst || in->arr > in->rd)
            ah__flow_send_rst(c, side, 0);
        else
            ah__flow_send_fin(c, side);
    }
    in->rd = in->arr;
    while (in->rights != NULL) {
        /* Descriptors in flight to a closed socket are closed (Linux's unix_release_sock
         * purges the receive queue), through close(2) so that the fd/ layer sees it. */
        ah__rights *r = in->rights;
        int i;
        in->rights = r->next;
        for (i = 0; i < r->n; i++)
            close(r->fds[i]);
        ah__free(r);
    }
    flow_gc(in);
    ah__flow_arm(in);
}

/* ---- connects waiting for a fault to lift ---- */

void ah__net_retry_stalled(ah__net *net)
{
    ah__list *q, *next;

    for (q = net->stalled.next; q != &net->stalled; q = next) {
        ah__sock *s = ah__container_of(q, ah__sock, stalled_link);
        next = q->next;
        if (s->connect_route->connect_timeout || partitioned(net, &s->local, &s->remote))
            continue;
        ah__list_remove(&s->stalled_link);
        s->stalled = 0;
        ah__net_connect(s);
    }
}

static void accept_arrive(ah__event *ev)
{
    ah__conn *c = ah__container_of(ev, ah__conn, accept_ev);
    ah__net *net = ah__net_get(ah__sim());
    ah__route *lst = ah__route_listening(net, &c->end[1].addr);
    ah__sock *client = c->end[0].sock;

    if (c->end[0].closed || c->flow[0].rst_sent)
        return; /* the client gave up before its SYN arrived */
    if (lst == NULL) {
        /* The listener went away while the SYN was on its way. */
        ah__trace_note(net->sim, c->label, "refused: the listener is gone");
        c->end[1].closed = 1;
        if (client != NULL && client->stream != NULL && client->stream->connect_req != NULL)
            client->connect_status = UV_ECONNREFUSED;
        else
            ah__flow_send_rst(c, 1, 0);
        return;
    }
    ah__trace_note(net->sim, c->label, "accepted by the listener");
    if (lst->peer != NULL && lst->peer->listening)
        ah__net_parts.peer_accept(lst->peer, c);
    else if (lst->listener != NULL)
        ah__net_parts.sock_backlog_add(lst->listener, c);
    else
        lst->lops->arrived(lst->lctx, c);
}

/* A unix socket's name is the sim's, but a path that names a real file which is no socket of the
 * sim (a regular file, a folder) is there all the same: Linux's connect(2) answers ECONNREFUSED
 * for it, not ENOENT. */
static int real_file_at(const char *path)
{
    struct stat st;

    return path[0] != '\0' && stat(path, &st) == 0;
}

void ah__net_connect(ah__sock *s)
{
    ah__net *net = s->net;
    ah_sim *sim = net->sim;
    ah__route *route = ah__route_get(net, &s->remote), *lst;
    int pipe = s->remote.family == AF_UNIX;
    uint64_t l1, l2, now = sim->clock.now_ns;
    ah__conn *c;

    s->connect_route = route;
    if (route->refuse) {
        ah__trace_note(sim, route->addr.str, "connect refused (ah_net_refuse)");
        goto refused;
    }
    if (route->connect_timeout || partitioned(net, &s->local, &s->remote)) {
        /* The SYN is lost; the connect completes only when the fault is lifted. */
        ah__trace_note(sim, route->addr.str, "connect stalls");
        s->stalled = 1;
        ah__list_insert_tail(&net->stalled, &s->stalled_link);
        return;
    }
    lst = ah__route_listening(net, &s->remote);
    if (lst == NULL) {
        ah__trace_note(sim, route->addr.str, "connect refused: nothing listens");
        if (pipe && route->bound == NULL && !s->remote.abstract && !real_file_at(s->remote.str)) {
            ah__net_parts.sock_connect_pending(s, UV_ENOENT); /* no socket file at that path */
            return;
        }
        goto refused;
    }
    c = ah__conn_new(net, pipe ? UV_NAMED_PIPE : UV_TCP, route, s->loop, &s->local, &s->remote);
    c->end[0].sock = s;
    s->conn = c;
    s->side = 0;
    ah__net_parts.sock_set_label(s);
    ah__trace_note(sim, c->label, "connect");
    l1 = ah__conn_latency(c);
    l2 = ah__conn_latency(c);
    if (pipe && lst->listener != NULL && (lst->peer == NULL || !lst->peer->listening)) {
        /* connect(2) on a unix socket completes inside the call when something listens: the
         * connection is in the listener's backlog now (its peer name is known, a close of the
         * client leaves it there to be accepted) and the listener is readable at its next poll;
         * libuv still reports the connect from the poll (POLLOUT). Decision 128. */
        ah__trace_note(sim, c->label, "in the listener's backlog");
        ah__net_parts.sock_backlog_queue(lst->listener, c);
        ah__net_parts.sock_connect_result(s, 0, now + (l1 + l2) * AH__NS_PER_MS);
        return;
    }
    /* The SYN reaches the listener after one way; the client learns it after the round trip. */
    c->accept_ev.fire = accept_arrive;
    c->accept_ev.what = "a connection reaches the listener";
    c->accept_ev.flags = AH__EV_REF;
    c->accept_ev.owner = s->stream;
    ah__event_schedule(lst->listener != NULL                    ? lst->listener->loop
                       : lst->lops != NULL && lst->peer == NULL ? lst->lops->loop(lst->lctx)
                                                                : s->loop,
                       &c->accept_ev, now + l1 * AH__NS_PER_MS);
    ah__net_parts.sock_connect_result(s, 0, now + (l1 + l2) * AH__NS_PER_MS);
    return;

refused:
    if (pipe) {
        ah__net_parts.sock_connect_pending(s, UV_ECONNREFUSED);
        return;
    }
    {
        /* A reset answers the SYN after a round trip; on loopback connect() fails at once and
         * libuv reports it from the pending queue. */
        ah__conn tmp;
        memset(&tmp, 0, sizeof(tmp));
        tmp.route = route;
        l1 = ah__conn_latency(&tmp);
        l2 = ah__conn_latency(&tmp);
        if (l1 + l2 == 0)
            ah__net_parts.sock_connect_pending(s, UV_ECONNREFUSED);
        else
            ah__net_parts.sock_connect_result(s, UV_ECONNREFUSED, now + (l1 + l2) * AH__NS_PER_MS);
    }
}

int ah__net_connect_end(ah__net *net, const ah__addr *local, const ah__addr *remote,
                        uv_loop_t *loop, ah__conn **out, uint64_t *due_ns)
{
    ah_sim *sim = net->sim;
    ah__route *route = ah__route_get(net, remote), *lst;
    uint64_t l1, l2, now = sim->clock.now_ns;
    ah__conn *c, tmp;

    *out = NULL;
    *due_ns = now;
    if (route->refuse) {
        ah__trace_note(sim, route->addr.str, "connect refused (ah_net_refuse)");
    } else if (route->connect_timeout || partitioned(net, local, remote)) {
        ah__trace_note(sim, route->addr.str, "connect stalls");
        return 1;
    } else if ((lst = ah__route_listening(net, remote)) == NULL) {
        ah__trace_note(sim, route->addr.str, "connect refused: nothing listens");
    } else {
        c = ah__conn_new(net, remote->family == AF_UNIX ? UV_NAMED_PIPE : UV_TCP, route, loop,
                         local, remote);
        ah__trace_note(sim, c->label, "connect");
        l1 = ah__conn_latency(c);
        l2 = ah__conn_latency(c);
        c->accept_ev.fire = accept_arrive;
        c->accept_ev.what = "a connection reaches the listener";
        c->accept_ev.flags = AH__EV_REF;
        ah__event_schedule(lst->listener != NULL                    ? lst->listener->loop
                           : lst->lops != NULL && lst->peer == NULL ? lst->lops->loop(lst->lctx)
                                                                    : loop,
                           &c->accept_ev, now + l1 * AH__NS_PER_MS);
        *out = c;
        *due_ns = now + (l1 + l2) * AH__NS_PER_MS;
        return 0;
    }
    memset(&tmp, 0, sizeof(tmp));
    tmp.route = route;
    l1 = ah__conn_latency(&tmp);
    l2 = ah__conn_latency(&tmp);
    *due_ns = now + (l1 + l2) * AH__NS_PER_MS;
    return UV_ECONNREFUSED;
}

void ah__req_require_idle(const void *req, const char *fn, ah__site site)
{
    ah_sim *sim = ah__sim();
    ah__rrec *r = NULL;
    char here[160], first[160];
    ah__list *q;
    int n = 0;

    /* The request's own fields may be uninitialised (libuv never reads them before it starts a
     * request), so look it up among the sim's requests in flight, newest first; beyond the
     * newest 1024 the check gives up rather than cost time. */
    for (q = sim->reqs.prev; q != &sim->reqs && n < 1024; q = q->prev, n++)
        if (ah__container_of(q, ah__rrec, link)->req == req) {
            r = ah__container_of(q, ah__rrec, link);
            break;
        }
    if (r == NULL)
        return;
    ah__fail(ah__sim(),
             "%s in %s with a request (%p) still in flight: %s started it in %s at +%llu ms and "
             "its callback has not run yet (reusing it corrupts libuv's queues)",
             fn, ah__site_str(&site, here, sizeof(here)), req, r->what,
             ah__site_str(&r->site, first, sizeof(first)),
             (unsigned long long)((r->start_ns - ah__sim()->clock.epoch_ns) / AH__NS_PER_MS));
}

/* ---- the public API ---- */

ah__route *ah__test_route(ah_sim *sim, const char *fn, const char *addr)
{
    ah__addr a;
    addr_of_test(sim, fn, addr, &a);
    return ah__route_get(ah__net_get(sim), &a);
}

static void rearm_route(ah__net *net, ah__route *r)
{
    ah__list *q;
    for (q = net->conns.next; q != &net->conns; q = q->next) {
        ah__conn *c = ah__container_of(q, ah__conn, link);
        if (r == NULL || c->route == r) {
            ah__flow_arm(&c->flow[0]);
            ah__flow_arm(&c->flow[1]);
        }
    }
}

void ah_net_unlisten(ah_sim *sim, const char *addr)
{
    ah__route *r = ah__test_route(sim, "ah_net_unlisten", addr);

    if (r->peer != NULL)
        r->peer->listening = 0;
    if (r->listener != NULL)
        ah__fail(sim,
                 "ah_net_unlisten(\"%s\"): a uv_listen of the code under test listens there; "
                 "close its handle instead",
                 addr);
}

void ah_net_refuse(ah_sim *sim, const char *addr)
{
    ah__test_route(sim, "ah_net_refuse", addr)->refuse = 1;
}

void ah_net_connect_timeout(ah_sim *sim, const char *addr)
{
    ah__test_route(sim, "ah_net_connect_timeout", addr)->connect_timeout = 1;
}

void ah_net_latency(ah_sim *sim, const char *addr, uint64_t min_ms, uint64_t max_ms)
{
    ah__route *r = ah__test_route(sim, "ah_net_latency", addr);

    if (max_ms < min_ms)
        ah__fail(sim, "ah_net_latency(\"%s\", %llu, %llu): max_ms is below min_ms", addr,
                 (unsigned long long)min_ms, (unsigned long long)max_ms);
    r->has_lat = 1;
    r->lat_min = min_ms;
    r->lat_max = max_ms;
}

void ah_net_stream_latency(uv_stream_t *stream, uint64_t min_ms, uint64_t max_ms)
{
    ah__sock *s = ah__net_parts.sock_of(stream, "ah_net_stream_latency");

    if (s->conn == NULL)
        ah__fail(ah__sim(), "ah_net_stream_latency: the stream is not connected yet");
    s->conn->has_lat = 1;
    s->conn->lat_min = min_ms;
    s->conn->lat_max = max_ms < min_ms ? min_ms : max_ms;
}

void ah_net_chunking(ah_sim *sim, const char *addr, size_t size)
{
    ah__route *r = ah__test_route(sim, "ah_net_chunking", addr);
    r->chunk = size;
    r->chunk_random = 0;
}

void ah_net_chunking_random(ah_sim *sim, const char *addr, size_t max)
{
    ah__route *r = ah__test_route(sim, "ah_net_chunking_random", addr);
    r->chunk = 0;
    r->chunk_random = max;
}

void ah_net_short_write(ah_sim *sim, const char *addr, size_t max_bytes)
{
    ah__route *r = ah__test_route(sim, "ah_net_short_write", addr);
    r->short_write_on = 1;
    r->short_write = max_bytes;
}

void ah_net_write_error(ah_sim *sim, const char *addr, int err)
{
    if (err >= 0)
        ah__fail(sim, "ah_net_write_error(\"%s\", %d): the error must be a negative UV_E* code",
                 addr, err);
    ah__test_route(sim, "ah_net_write_error", addr)->write_error = err;
}

void ah_net_hold(ah_sim *sim, const char *addr)
{
    ah__route *r = ah__test_route(sim, "ah_net_hold", addr);
    r->held = 1;
    rearm_route(ah__net_get(sim), r);
}

void ah_net_release(ah_sim *sim, const char *addr)
{
    ah__route *r = ah__test_route(sim, "ah_net_release", addr);
    r->held = 0;
    rearm_route(ah__net_get(sim), r);
}

void ah_net_partition(ah_sim *sim, const char *a, const char *b)
{
    ah__net *net = ah__net_get(sim);
    ah__partition *p;

    if (a == NULL || b == NULL || strlen(a) >= AH__ADDR_MAX || strlen(b) >= AH__ADDR_MAX)
        ah__fail(sim, "ah_net_partition: give two address patterns (\"10.0.0.5:6379\", "
                      "\"10.0.0.5\" or \"*\")");
    p = ah__calloc(1, sizeof(*p));
    snprintf(p->a, sizeof(p->a), "%s", a);
    snprintf(p->b, sizeof(p->b), "%s", b);
    ah__list_insert_tail(&net->parts, &p->link);
    rearm_route(net, NULL);
}

void ah_net_heal(ah_sim *sim, const char *a, const char *b)
{
    ah__net *net = ah__net_get(sim);
    ah__list *q, *next;

    for (q = net->parts.next; q != &net->parts; q = next) {
        ah__partition *p = ah__container_of(q, ah__partition, link);
        next = q->next;
        if (a == NULL || b == NULL || (strcmp(p->a, a) == 0 && strcmp(p->b, b) == 0) ||
            (strcmp(p->a, b) == 0 && strcmp(p->b, a) == 0)) {
            ah__list_remove(&p->link);
            ah__free(p);
        }
    }
    rearm_route(net, NULL);
    ah__net_retry_stalled(net);
}

static void reset_conn(ah__net *net, ah__conn *c)
{
    int i;

    (void)net;
    ah__trace_note(ah__sim(), c->label, "reset (injected)");
    for (i = 0; i < 2; i++) {
        if (c->end[i].pc != NULL)
            ah__net_parts.peer_abort(c->end[i].pc);
        if (c->end[i].sock != NULL && c->end[i].sock->stream != NULL &&
            c->end[i].sock->stream->connect_req != NULL)
            c->end[i].sock->connect_status = UV_ECONNREFUSED;
    }
    for (i = 0; i < 2; i++)
        if (!c->end[i].closed && !c->flow[i].rst_sent)
            ah__flow_send_rst(c, i, 1);
}

static int conn_open(const ah__conn *c)
{
    return !(c->end[0].closed && c->end[1].closed) && !c->flow[0].rst_sent && !c->flow[1].rst_sent;
}

void ah_net_reset(ah_sim *sim, const char *addr)
{
    ah__net *net = ah__net_get(sim);
    ah__route *r = ah__test_route(sim, "ah_net_reset", addr);
    ah__list *q;

    for (q = net->conns.next; q != &net->conns; q = q->next) {
        ah__conn *c = ah__container_of(q, ah__conn, link);
        if (c->route == r && conn_open(c))
            reset_conn(net, c);
    }
}

void ah_net_reset_all(ah_sim *sim)
{
    ah__net *net = ah__net_get(sim);
    ah__list *q;

    for (q = net->conns.next; q != &net->conns; q = q->next) {
        ah__conn *c = ah__container_of(q, ah__conn, link);
        if (conn_open(c))
            reset_conn(net, c);
    }
}

void ah_net_clear(ah_sim *sim, const char *addr)
{
    ah__net *net = ah__net_get(sim);
    ah__route *r = ah__test_route(sim, "ah_net_clear", addr);

    r->refuse = r->connect_timeout = r->held = 0;
    r->has_lat = 0;
    r->lat_min = r->lat_max = 0;
    r->chunk = r->chunk_random = 0;
    r->short_write_on = 0;
    r->short_write = 0;
    r->write_error = 0;
    rearm_route(net, r);
    ah__net_retry_stalled(net);
}

/* ---- reports ---- */

static void net_check(ah_sim *sim, void *state, ah__buf *b)
{
    ah__net *net = state;
    (void)sim;
    if (ah__net_parts.peer_check != NULL)
        ah__net_parts.peer_check(net, b);
    if (ah__net_parts.dns_check != NULL)
        ah__net_parts.dns_check(net, b);
}

static void net_pending(ah_sim *sim, void *state, ah__buf *b)
{
    ah__net *net = state;
    ah__list *q;
    int i;

    for (q = net->stalled.next; q != &net->stalled; q = q->next) {
        ah__sock *s = ah__container_of(q, ah__sock, stalled_link);
        ah__buf_printf(b, "  - a connect to %s never completes (%s)\n", s->remote.str,
                       s->connect_route->connect_timeout ? "ah_net_connect_timeout"
                                                         : "partitioned: ah_net_partition");
    }
    for (q = net->conns.next; q != &net->conns; q = q->next) {
        ah__conn *c = ah__container_of(q, ah__conn, link);
        if (!ah__conn_blocked(net, c))
            continue;
        for (i = 0; i < 2; i++) {
            ah__flow *f = &c->flow[i];
            if (f->seg_arr < f->seg_n)
                ah__buf_printf(b, "  - %s: %llu bytes%s from the %s held in flight (%s)\n",
                               c->label, (unsigned long long)(f->wr - f->arr),
                               f->fin_sent ? " and a FIN" : "", i == 0 ? "client" : "server",
                               c->route->held ? "ah_net_hold"
                               : c->held      ? "ah_world_partition"
                                              : "ah_net_partition");
        }
    }
    if (ah__net_parts.peer_pending != NULL)
        ah__net_parts.peer_pending(net, b);
    (void)sim;
}

static void net_destroy(ah_sim *sim, void *state)
{
    ah__net *net = state;
    ah__list *q;
    int i;

    (void)sim;
    if (ah__net_parts.peer_free_all != NULL)
        ah__net_parts.peer_free_all(net);
    if (ah__net_parts.dns_free_all != NULL)
        ah__net_parts.dns_free_all(net);
    /* Events still queued on a loop leave it before their memory goes: a later destroyer (the
     * mocks' cancel) would walk the loop's heap through them (found by fuzz/fuzz_ops). */
    for (q = net->conns.next; q != &net->conns; q = q->next) {
        ah__conn *c = ah__container_of(q, ah__conn, link);
        ah__event_cancel(&c->accept_ev);
        for (i = 0; i < 2; i++)
            ah__event_cancel(&c->flow[i].ev);
    }
    for (q = net->socks.next; q != &net->socks; q = q->next) {
        ah__sock *s = ah__container_of(q, ah__sock, link);
        ah__event_cancel(&s->conn_ev);
        ah__event_cancel(&s->rd_ev);
        ah__event_cancel(&s->wr_ev);
        ah__event_cancel(&s->lst_ev);
    }
    while (!ah__list_empty(&net->conns)) {
        ah__conn *c = ah__container_of(net->conns.next, ah__conn, link);
        ah__list_remove(&c->link);
        for (i = 0; i < 2; i++) {
            ah__free(c->flow[i].buf);
            ah__free(c->flow[i].segs);
            while (c->flow[i].rights != NULL) {
                /* Never read: their numbers go with the descriptor table. */
                ah__rights *r = c->flow[i].rights;
                c->flow[i].rights = r->next;
                ah__free(r);
            }
        }
        ah__free(c);
    }
    while (!ah__list_empty(&net->socks)) {
        ah__sock *s;
        q = net->socks.next;
        ah__list_remove(q);
        s = ah__container_of(q, ah__sock, link);
        while (s->pending != NULL) {
            /* Received over an IPC pipe, never accepted: their numbers go with the table. */
            ah__rights *r = s->pending;
            s->pending = r->next;
            ah__free(r);
        }
        ah__free(s);
    }
    while (!ah__list_empty(&net->routes)) {
        q = net->routes.next;
        ah__list_remove(q);
        ah__free(ah__container_of(q, ah__route, link));
    }
    while (!ah__list_empty(&net->parts)) {
        q = net->parts.next;
        ah__list_remove(q);
        ah__free(ah__container_of(q, ah__partition, link));
    }
    ah__free(net->locals);
    ah__free(net);
}
