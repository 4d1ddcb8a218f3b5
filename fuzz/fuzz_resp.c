/* libFuzzer target: the example client's RESP2 parser (examples/kvclient/resp.c).
 *
 * The input is the byte stream a server sends. The first byte picks how it is cut into reads.
 * The same bytes are parsed twice: fed at once, and fed in those reads with kv_parser_next
 * called after each one. Both must give the same replies and the same verdict (a protocol error
 * or not), whatever the split, and neither may crash, leak or misbehave under ASan/UBSan.
 * A disagreement is a finding: the target aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

typedef struct {
    char *s;
    size_t len, cap;
} text;

static void put(text *t, const void *p, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        if (t->s == NULL)
            abort();
    }
    memcpy(t->s + t->len, p, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void put_reply(text *t, const kv_reply *r)
{
    char head[64];
    size_t i;

    snprintf(head, sizeof(head), "(%d %lld %zu %zu|", r->type, r->integer, r->len, r->elements);
    put(t, head, strlen(head));
    if (r->str != NULL)
        put(t, r->str, r->len);
    if ((r->type == KV_REPLY_STRING || r->type == KV_REPLY_STATUS || r->type == KV_REPLY_ERROR) &&
        (r->str == NULL || r->str[r->len] != '\0'))
        abort(); /* documented: a NUL-terminated copy */
    for (i = 0; i < r->elements; i++)
        put_reply(t, r->element[i]);
    put(t, ")", 1);
}

/* Takes every complete reply; returns the parser's last verdict (0 need more, -1 error). */
static int drain(kv_parser *p, text *t)
{
    kv_reply *r;
    int rc;

    while ((rc = kv_parser_next(p, &r)) == 1) {
        put_reply(t, r);
        kv_reply_free(r);
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kv_parser whole, split;
    text a = {0}, b = {0};
    int rc_a, rc_b = 0;
    size_t off = 0, step;
    unsigned cut;

    if (size < 1)
        return 0;
    cut = data[0];
    data++;
    size--;

    kv_parser_init(&whole);
    if (kv_parser_feed(&whole, (const char *)data, size) != 0)
        abort();
    rc_a = drain(&whole, &a);

    kv_parser_init(&split);
    while (off < size && rc_b != -1) {
        /* Read sizes from 1 to 16, varying with the offset so that splits land everywhere. */
        step = 1 + ((cut + off * 7) % 16);
        if (cut & 0x80)
            step = 1; /* byte by byte */
        if (step > size - off)
            step = size - off;
        if (kv_parser_feed(&split, (const char *)data + off, step) != 0)
            abort();
        off += step;
        rc_b = drain(&split, &b);
    }
    if (size == 0)
        rc_b = drain(&split, &b);

    /* An error found in the whole stream is found after the same replies when split, and a
     * stream without an error gives exactly the same replies either way. */
    if (rc_a != rc_b || a.len != b.len || (a.len > 0 && memcmp(a.s, b.s, a.len) != 0)) {
        fprintf(stderr,
                "fuzz_resp: whole and split parses differ: rc %d vs %d\n  whole: %.*s\n"
                "  split: %.*s\n",
                rc_a, rc_b, (int)(a.len > 400 ? 400 : a.len), a.s ? a.s : "",
                (int)(b.len > 400 ? 400 : b.len), b.s ? b.s : "");
        abort();
    }
    kv_parser_reset(&whole);
    kv_parser_reset(&split);
    free(a.s);
    free(b.s);
    return 0;
}
