#include "resp.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kv_reply_free(kv_reply *reply)
{
    size_t i;

    if (reply == NULL)
        return;
    for (i = 0; i < reply->elements; i++)
        kv_reply_free(reply->element[i]);
    free(reply->element);
    free(reply->str);
    free(reply);
}

static size_t digits(size_t n)
{
    size_t d = 1;

    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

int kv_resp_encode(int argc, const char **argv, const size_t *argvlen, char **out, size_t *outlen)
{
    size_t total, off, len;
    char *buf;
    int i;

    if (argc < 1 || argv == NULL)
        return -1;
    total = 1 + digits((size_t)argc) + 2;
    for (i = 0; i < argc; i++) {
        len = argvlen ? argvlen[i] : strlen(argv[i]);
        total += 1 + digits(len) + 2 + len + 2;
    }
    buf = malloc(total + 1); /* +1: room for snprintf's NUL */
    if (buf == NULL)
        return -1;
    off = (size_t)snprintf(buf, total + 1, "*%d\r\n", argc);
    for (i = 0; i < argc; i++) {
        len = argvlen ? argvlen[i] : strlen(argv[i]);
        off += (size_t)snprintf(buf + off, total + 1 - off, "$%zu\r\n", len);
        memcpy(buf + off, argv[i], len);
        off += len;
        buf[off++] = '\r';
        buf[off++] = '\n';
    }
    *out = buf;
    *outlen = off;
    return 0;
}

void kv_parser_init(kv_parser *p) { memset(p, 0, sizeof(*p)); }

int kv_parser_feed(kv_parser *p, const char *data, size_t len)
{
    size_t cap;
    char *buf;

    if (len == 0)
        return 0;
    if (p->len + len > p->cap && p->pos > 0) {
        /* Drop consumed bytes before growing. */
        memmove(p->buf, p->buf + p->pos, p->len - p->pos);
        p->len -= p->pos;
        p->pos = 0;
    }
    if (p->len + len > p->cap) {
        cap = p->cap ? p->cap : 4096;
        while (cap < p->len + len)
            cap *= 2;
        buf = realloc(p->buf, cap);
        if (buf == NULL)
            return -1;
        p->buf = buf;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, data, len);
    p->len += len;
    return 0;
}

static int fail(kv_parser *p, const char *why)
{
    p->error = why;
    return -1;
}

/* Strict RESP integer: an optional '-' then 1 to 19 digits, no overflow. */
static int parse_ll(const char *s, size_t n, long long *out)
{
    unsigned long long v = 0, limit = (unsigned long long)LLONG_MAX;
    int neg = 0;
    size_t i = 0;

    if (n > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
        limit += 1;
    }
    if (i == n)
        return -1;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v > (limit - (unsigned long long)(s[i] - '0')) / 10)
            return -1;
        v = v * 10 + (unsigned long long)(s[i] - '0');
    }
    if (neg)
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    else
        *out = (long long)v;
    return 0;
}

static kv_reply *new_reply(int type)
{
    kv_reply *r = calloc(1, sizeof(*r));

    if (r != NULL)
        r->type = type;
    return r;
}

static kv_reply *new_string(int type, const char *s, size_t n)
{
    kv_reply *r = new_reply(type);

    if (r == NULL)
        return NULL;
    r->str = malloc(n + 1);
    if (r->str == NULL) {
        free(r);
        return NULL;
    }
    memcpy(r->str, s, n);
    r->str[n] = '\0';
    r->len = n;
    return r;
}

static void consume(kv_parser *p, size_t n)
{
    p->pos += n;
    p->scanned = 0;
}

/* Parses one element at p->pos. Returns 1 with a complete value in *out, 2 when it opened an
 * array (pushed on the stack), 0 when more bytes are needed, -1 on a protocol error. */
static int parse_one(kv_parser *p, kv_reply **out)
{
    size_t avail = p->len - p->pos, i, need;
    /* No buffer until the first bytes arrive (and none after a large one was released). */
    const char *s = p->buf != NULL ? p->buf + p->pos : NULL;
    long long v;
    kv_reply *r;

    for (i = p->scanned; i + 1 < avail; i++)
        if (s[i] == '\r' && s[i + 1] == '\n')
            break;
    if (i + 1 >= avail) {
        if (avail > KV_RESP_MAX_LINE)
            return fail(p, "line too long");
        p->scanned = avail > 0 ? avail - 1 : 0;
        return 0;
    }
    p->scanned = i; /* found: a bulk waiting for its payload finds its header at once */
    if (i > KV_RESP_MAX_LINE)
        return fail(p, "line too long");
    if (i == 0)
        return fail(p, "empty line");

    switch (s[0]) {
    case '+':
    case '-':
        r = new_string(s[0] == '+' ? KV_REPLY_STATUS : KV_REPLY_ERROR, s + 1, i - 1);
        if (r == NULL)
            return fail(p, "out of memory");
        consume(p, i + 2);
        *out = r;
        return 1;
    case ':':
        if (parse_ll(s + 1, i - 1, &v) != 0)
            return fail(p, "bad integer");
        r = new_reply(KV_REPLY_INTEGER);
        if (r == NULL)
            return fail(p, "out of memory");
        r->integer = v;
        consume(p, i + 2);
        *out = r;
        return 1;
    case '$':
        if (parse_ll(s + 1, i - 1, &v) != 0 || v < -1 || v > KV_RESP_MAX_BULK_LEN)
            return fail(p, "bad bulk length");
        if (v == -1) {
            r = new_reply(KV_REPLY_NIL);
            need = i + 2;
        } else {
            need = i + 2 + (size_t)v + 2;
            if (avail < need)
                return 0;
            if (s[need - 2] != '\r' || s[need - 1] != '\n')
                return fail(p, "bulk string not terminated by CRLF");
            r = new_string(KV_REPLY_STRING, s + i + 2, (size_t)v);
        }
        if (r == NULL)
            return fail(p, "out of memory");
        consume(p, need);
        *out = r;
        return 1;
    case '*':
        if (parse_ll(s + 1, i - 1, &v) != 0 || v < -1 || v > KV_RESP_MAX_ELEMENTS)
            return fail(p, "bad array length");
        if (v > 0 && p->depth == KV_RESP_MAX_DEPTH)
            return fail(p, "arrays nested too deep");
        r = new_reply(v == -1 ? KV_REPLY_NIL : KV_REPLY_ARRAY);
        if (r == NULL)
            return fail(p, "out of memory");
        consume(p, i + 2);
        if (v <= 0) {
            *out = r;
            return 1;
        }
        /* elements counts the children attached so far, so a partial tree frees cleanly. */
        p->stack[p->depth].array = r;
        p->stack[p->depth].count = (size_t)v;
        p->stack[p->depth].cap = 0;
        p->depth++;
        return 2;
    default:
        return fail(p, "unknown reply type");
    }
}

/* Adds a finished child to the innermost open array. */
static int attach(kv_parser *p, kv_reply *child)
{
    kv_reply *a = p->stack[p->depth - 1].array;
    size_t *cap = &p->stack[p->depth - 1].cap;
    size_t count = p->stack[p->depth - 1].count, n;
    kv_reply **el;

    if (a->elements == *cap) {
        /* Grow with what arrives, not with what the header claims. */
        n = *cap ? *cap * 2 : 16;
        if (n > count)
            n = count;
        el = realloc(a->element, n * sizeof(*el));
        if (el == NULL) {
            kv_reply_free(child);
            return fail(p, "out of memory");
        }
        a->element = el;
        *cap = n;
    }
    a->element[a->elements++] = child;
    return 0;
}

static void settle(kv_parser *p)
{
    if (p->pos == p->len) {
        p->pos = p->len = p->scanned = 0;
        if (p->cap > KV_RESP_MAX_LINE) {
            /* Do not keep a large bulk's buffer forever. */
            free(p->buf);
            p->buf = NULL;
            p->cap = 0;
        }
    }
}

int kv_parser_next(kv_parser *p, kv_reply **out)
{
    kv_reply *r;
    int rc;

    if (p->error != NULL)
        return -1;
    for (;;) {
        r = NULL;
        rc = parse_one(p, &r);
        if (rc == 2)
            continue;
        if (rc <= 0) {
            settle(p);
            return rc;
        }
        while (p->depth > 0) {
            if (attach(p, r) != 0)
                return -1;
            if (p->stack[p->depth - 1].array->elements < p->stack[p->depth - 1].count) {
                r = NULL;
                break;
            }
            r = p->stack[--p->depth].array;
        }
        if (r != NULL) {
            settle(p);
            *out = r;
            return 1;
        }
    }
}

void kv_parser_reset(kv_parser *p)
{
    /* Open arrays are not attached to their parents yet: free each one. */
    while (p->depth > 0)
        kv_reply_free(p->stack[--p->depth].array);
    free(p->buf);
    kv_parser_init(p);
}
