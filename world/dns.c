/* The DNS table of a world is the owner's (docs/world.md): before a member's turn the owner sends
 * its table when it changed since the member last got it (world.c), and the member's table
 * becomes that copy, so ah_dns_add, ah_dns_latency and ah_dns_fail made in the owner answer a
 * member's getaddrinfo(3) and uv_getaddrinfo. */
#include "internal_world.h"

#include <string.h>

/* One entry: the name (NUL-terminated), then latency (8 bytes), fail (4), naddrs (4), then the
 * addresses. */
void ah__world_dns_pack(ah_sim *sim, unsigned char **p, size_t *n)
{
    ah__net *net = ah__net_find(sim);
    size_t len = 0, at = 0;
    ah__list *q;

    *p = NULL;
    *n = 0;
    if (net == NULL || ah__list_empty(&net->dns))
        return;
    for (q = net->dns.next; q != &net->dns; q = q->next) {
        ah__dns_entry *e = ah__container_of(q, ah__dns_entry, link);
        len += strlen(e->name) + 1 + 16 + e->naddrs * sizeof(*e->addrs);
    }
    *p = ah__malloc(len);
    for (q = net->dns.next; q != &net->dns; q = q->next) {
        ah__dns_entry *e = ah__container_of(q, ah__dns_entry, link);
        uint32_t fail = (uint32_t)e->fail, na = (uint32_t)e->naddrs;
        size_t nl = strlen(e->name) + 1;
        memcpy(*p + at, e->name, nl);
        at += nl;
        memcpy(*p + at, &e->latency_ms, 8);
        memcpy(*p + at + 8, &fail, 4);
        memcpy(*p + at + 12, &na, 4);
        at += 16;
        if (na > 0)
            memcpy(*p + at, e->addrs, na * sizeof(*e->addrs));
        at += na * sizeof(*e->addrs);
    }
    *n = len;
}

void ah__world_dns_apply(ah_sim *sim, const unsigned char *p, size_t n)
{
    ah__net *net = ah__net_get(sim);
    size_t at = 0;

    ah__dns_table_clear(net);
    while (at < n) {
        const char *name = (const char *)p + at;
        size_t nl = strnlen(name, n - at) + 1;
        ah__dns_entry *e;
        uint64_t lat;
        uint32_t fail, na;

        if (at + nl + 16 > n)
            break;
        at += nl;
        memcpy(&lat, p + at, 8);
        memcpy(&fail, p + at + 8, 4);
        memcpy(&na, p + at + 12, 4);
        at += 16;
        if (at + na * sizeof(*e->addrs) > n)
            break;
        /* through the public call, which makes the entry and wires the DNS part of the net */
        ah_dns_latency(sim, name, lat);
        e = ah__container_of(net->dns.prev, ah__dns_entry, link);
        e->fail = (int)fail;
        e->naddrs = na;
        e->addrs = na > 0 ? ah__malloc(na * sizeof(*e->addrs)) : NULL;
        if (na > 0)
            memcpy(e->addrs, p + at, na * sizeof(*e->addrs));
        at += na * sizeof(*e->addrs);
    }
}
