/* The RESP encoder and the incremental parser, on their own: whole replies, replies split at
 * every byte, and the protocol errors a broken or hostile server can cause. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resp.h"

/* A reply as text: S"bulk" +status -error :int nil [a,b]. */
static void dump(const kv_reply *r, char *out, size_t cap)
{
    size_t n = strlen(out), i;

    switch (r->type) {
    case KV_REPLY_STRING:
        snprintf(out + n, cap - n, "S\"%.*s\"", (int)r->len, r->str);
        break;
    case KV_REPLY_STATUS:
        snprintf(out + n, cap - n, "+%s", r->str);
        break;
    case KV_REPLY_ERROR:
        snprintf(out + n, cap - n, "-%s", r->str);
        break;
    case KV_REPLY_INTEGER:
        snprintf(out + n, cap - n, ":%lld", r->integer);
        break;
    case KV_REPLY_NIL:
        snprintf(out + n, cap - n, "nil");
        break;
    case KV_REPLY_ARRAY:
        snprintf(out + n, cap - n, "[");
        for (i = 0; i < r->elements; i++) {
            if (i > 0)
                strncat(out, ",", cap - strlen(out) - 1);
            dump(r->element[i], out, cap);
        }
        strncat(out, "]", cap - strlen(out) - 1);
        break;
    default:
        snprintf(out + n, cap - n, "?%d", r->type);
    }
}

/* Feeds data in chunks of `chunk` bytes (0: all at once), collecting every reply as text,
 * separated by spaces. Returns the last kv_parser_next result (0 or -1). */
static int parse_all(const char *data, size_t len, size_t chunk, char *out, size_t cap)
{
    kv_parser p;
    kv_reply *r;
    size_t off = 0, n;
    int rc = 0;

    out[0] = '\0';
    kv_parser_init(&p);
    if (chunk == 0)
        chunk = len ? len : 1;
    while (off < len && rc >= 0) {
        n = len - off < chunk ? len - off : chunk;
        assert_int_equal(kv_parser_feed(&p, data + off, n), 0);
        off += n;
        while ((rc = kv_parser_next(&p, &r)) == 1) {
            if (out[0] != '\0')
                strncat(out, " ", cap - strlen(out) - 1);
            dump(r, out, cap);
            kv_reply_free(r);
        }
    }
    kv_parser_reset(&p);
    return rc;
}

static const char stream[] = "+OK\r\n"
                             "-ERR wrong type\r\n"
                             ":0\r\n"
                             ":-42\r\n"
                             ":9223372036854775807\r\n"
                             ":-9223372036854775808\r\n"
                             "$5\r\nhello\r\n"
                             "$0\r\n\r\n"
                             "$-1\r\n"
                             "$4\r\na\r\nb\r\n"
                             "*0\r\n"
                             "*-1\r\n"
                             "*3\r\n$1\r\na\r\n:7\r\n$-1\r\n"
                             "*2\r\n*2\r\n:1\r\n*0\r\n*1\r\n+x\r\n"
                             "+PONG\r\n";

static const char stream_text[] = "+OK -ERR wrong type :0 :-42 :9223372036854775807 "
                                  ":-9223372036854775808 S\"hello\" S\"\" nil S\"a\r\nb\" [] nil "
                                  "[S\"a\",:7,nil] [[:1,[]],[+x]] +PONG";

static void encode_array_of_bulk_strings(void **state)
{
    const char *argv[] = {"SET", "k", "v"};
    char *out;
    size_t len;

    (void)state;
    assert_int_equal(kv_resp_encode(3, argv, NULL, &out, &len), 0);
    assert_int_equal(len, strlen("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"));
    assert_memory_equal(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", len);
    free(out);
}

static void encode_is_binary_safe(void **state)
{
    const char *argv[] = {"SET", "a\0\r\nb", ""};
    const size_t lens[] = {3, 5, 0};
    const char want[] = "*3\r\n$3\r\nSET\r\n$5\r\na\0\r\nb\r\n$0\r\n\r\n";
    char *out;
    size_t len;

    (void)state;
    assert_int_equal(kv_resp_encode(3, argv, lens, &out, &len), 0);
    assert_int_equal(len, sizeof(want) - 1);
    assert_memory_equal(out, want, len);
    free(out);
}

static void encode_rejects_no_arguments(void **state)
{
    const char *argv[] = {"PING"};
    char *out = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(kv_resp_encode(0, argv, NULL, &out, &len), -1);
    assert_null(out);
}

static void parse_every_type_whole(void **state)
{
    char out[1024];

    (void)state;
    assert_int_equal(parse_all(stream, sizeof(stream) - 1, 0, out, sizeof(out)), 0);
    assert_string_equal(out, stream_text);
}

static void parse_one_byte_at_a_time(void **state)
{
    char out[1024];

    (void)state;
    assert_int_equal(parse_all(stream, sizeof(stream) - 1, 1, out, sizeof(out)), 0);
    assert_string_equal(out, stream_text);
}

static void parse_split_at_every_byte(void **state)
{
    char out[1024];
    kv_parser p;
    kv_reply *r;
    size_t len = sizeof(stream) - 1, k;

    (void)state;
    for (k = 0; k <= len; k++) {
        out[0] = '\0';
        kv_parser_init(&p);
        assert_int_equal(kv_parser_feed(&p, stream, k), 0);
        while (kv_parser_next(&p, &r) == 1) {
            if (out[0] != '\0')
                strcat(out, " ");
            dump(r, out, sizeof(out));
            kv_reply_free(r);
        }
        assert_int_equal(kv_parser_feed(&p, stream + k, len - k), 0);
        while (kv_parser_next(&p, &r) == 1) {
            if (out[0] != '\0')
                strcat(out, " ");
            dump(r, out, sizeof(out));
            kv_reply_free(r);
        }
        assert_int_equal(p.depth, 0);
        assert_int_equal(p.len - p.pos, 0);
        assert_string_equal(out, stream_text);
        kv_parser_reset(&p);
    }
}

static void parse_needs_more_until_complete(void **state)
{
    const char *parts[] = {"*2\r", "\n$3\r\nfo", "o\r\n", ":1", "\r"};
    kv_parser p;
    kv_reply *r;
    size_t i;

    (void)state;
    kv_parser_init(&p);
    for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        assert_int_equal(kv_parser_feed(&p, parts[i], strlen(parts[i])), 0);
        assert_int_equal(kv_parser_next(&p, &r), 0);
    }
    assert_int_equal(kv_parser_feed(&p, "\n", 1), 0);
    assert_int_equal(kv_parser_next(&p, &r), 1);
    assert_int_equal(r->type, KV_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[0]->str, "foo");
    assert_int_equal(r->element[1]->integer, 1);
    kv_reply_free(r);
    assert_int_equal(kv_parser_next(&p, &r), 0);
    kv_parser_reset(&p);
}

static void parse_large_bulk_in_chunks(void **state)
{
    size_t n = 200000, hdr, i;
    char *data = malloc(n + 32);
    kv_parser p;
    kv_reply *r;
    int rc = 0;

    (void)state;
    assert_non_null(data);
    hdr = (size_t)sprintf(data, "$%zu\r\n", n);
    for (i = 0; i < n; i++)
        data[hdr + i] = (char)('a' + i % 26);
    memcpy(data + hdr + n, "\r\n:5\r\n", 6);
    kv_parser_init(&p);
    for (i = 0; i < hdr + n + 6; i += 4093) {
        assert_int_equal(
            kv_parser_feed(&p, data + i, hdr + n + 6 - i < 4093 ? hdr + n + 6 - i : 4093), 0);
        rc = kv_parser_next(&p, &r);
        if (rc == 1)
            break;
        assert_int_equal(rc, 0);
    }
    assert_int_equal(rc, 1);
    assert_int_equal(r->type, KV_REPLY_STRING);
    assert_int_equal(r->len, n);
    assert_memory_equal(r->str, data + hdr, n);
    assert_int_equal(r->str[n], '\0');
    kv_reply_free(r);
    assert_int_equal(kv_parser_next(&p, &r), 1);
    assert_int_equal(r->integer, 5);
    kv_reply_free(r);
    /* A drained parser gives back a big buffer. */
    assert_null(p.buf);
    kv_parser_reset(&p);
    free(data);
}

static void parse_many_elements(void **state)
{
    size_t n = 5000, i, len = 0;
    char *data = malloc(n * 8 + 16);
    kv_parser p;
    kv_reply *r;

    (void)state;
    assert_non_null(data);
    len += (size_t)sprintf(data, "*%zu\r\n", n);
    for (i = 0; i < n; i++)
        len += (size_t)sprintf(data + len, ":%zu\r\n", i);
    kv_parser_init(&p);
    for (i = 0; i < len; i++) {
        assert_int_equal(kv_parser_feed(&p, data + i, 1), 0);
        if (i + 1 < len)
            assert_int_equal(kv_parser_next(&p, &r), 0);
    }
    assert_int_equal(kv_parser_next(&p, &r), 1);
    assert_int_equal(r->elements, n);
    for (i = 0; i < n; i++)
        assert_int_equal(r->element[i]->integer, (long long)i);
    kv_reply_free(r);
    kv_parser_reset(&p);
    free(data);
}

/* The input fails with a protocol error, whole and fed 1 byte at a time, and keeps failing. */
static void expect_error(const char *data, size_t len, const char *why)
{
    char out[256];
    kv_parser p;
    kv_reply *r;

    assert_int_equal(parse_all(data, len, 0, out, sizeof(out)), -1);
    assert_int_equal(parse_all(data, len, 1, out, sizeof(out)), -1);
    kv_parser_init(&p);
    assert_int_equal(kv_parser_feed(&p, data, len), 0);
    while (kv_parser_next(&p, &r) == 1)
        kv_reply_free(r);
    assert_non_null(p.error);
    assert_string_equal(p.error, why);
    assert_int_equal(kv_parser_feed(&p, "+OK\r\n", 5), 0);
    assert_int_equal(kv_parser_next(&p, &r), -1);
    kv_parser_reset(&p);
    assert_null(p.error);
    assert_int_equal(kv_parser_feed(&p, "+OK\r\n", 5), 0);
    assert_int_equal(kv_parser_next(&p, &r), 1);
    kv_reply_free(r);
    kv_parser_reset(&p);
}

#define EXPECT_ERROR(lit, why) expect_error(lit, sizeof(lit) - 1, why)

static void reject_unknown_type(void **state)
{
    (void)state;
    EXPECT_ERROR("?what\r\n", "unknown reply type");
    EXPECT_ERROR("+OK\r\nOK\r\n", "unknown reply type");
    EXPECT_ERROR("\r\n", "empty line");
}

static void reject_bad_integers(void **state)
{
    (void)state;
    EXPECT_ERROR(":\r\n", "bad integer");
    EXPECT_ERROR(":-\r\n", "bad integer");
    EXPECT_ERROR(":12a\r\n", "bad integer");
    EXPECT_ERROR(": 1\r\n", "bad integer");
    EXPECT_ERROR(":+1\r\n", "bad integer");
    EXPECT_ERROR(":9223372036854775808\r\n", "bad integer");
    EXPECT_ERROR(":-9223372036854775809\r\n", "bad integer");
    EXPECT_ERROR(":99999999999999999999999\r\n", "bad integer");
}

static void reject_absurd_lengths(void **state)
{
    (void)state;
    EXPECT_ERROR("$-2\r\n", "bad bulk length");
    EXPECT_ERROR("$x\r\n", "bad bulk length");
    EXPECT_ERROR("$536870913\r\n", "bad bulk length");
    EXPECT_ERROR("$99999999999999999999\r\n", "bad bulk length");
    EXPECT_ERROR("*-2\r\n", "bad array length");
    EXPECT_ERROR("*16777217\r\n", "bad array length");
    EXPECT_ERROR("*1\r\n*99999999999\r\n", "bad array length");
}

static void accept_lengths_at_the_limits(void **state)
{
    kv_parser p;
    kv_reply *r;

    (void)state;
    /* Headers at the limit are fine: nothing is allocated for what has not arrived. */
    kv_parser_init(&p);
    assert_int_equal(kv_parser_feed(&p, "$536870912\r\nab", 14), 0);
    assert_int_equal(kv_parser_next(&p, &r), 0);
    kv_parser_reset(&p);
    assert_int_equal(kv_parser_feed(&p, "*16777216\r\n:1\r\n", 15), 0);
    assert_int_equal(kv_parser_next(&p, &r), 0);
    assert_int_equal(p.depth, 1);
    assert_int_equal(p.stack[0].cap, 16);
    kv_parser_reset(&p);
}

static void reject_unterminated_bulk(void **state)
{
    (void)state;
    EXPECT_ERROR("$3\r\nabcXY", "bulk string not terminated by CRLF");
    EXPECT_ERROR("$3\r\nabc\rX", "bulk string not terminated by CRLF");
}

static void reject_long_line(void **state)
{
    size_t n = KV_RESP_MAX_LINE + 10;
    char *data = malloc(n + 2);

    (void)state;
    assert_non_null(data);
    data[0] = '+';
    memset(data + 1, 'x', n - 1);
    /* Without a CRLF in sight... */
    expect_error(data, n, "line too long");
    /* ...and with one too far away. */
    memcpy(data + n, "\r\n", 2);
    expect_error(data, n + 2, "line too long");
    free(data);
}

static void reject_deep_nesting(void **state)
{
    char data[4 * (KV_RESP_MAX_DEPTH + 1) + 8];
    char out[512];
    int i;

    (void)state;
    data[0] = '\0';
    for (i = 0; i < KV_RESP_MAX_DEPTH; i++)
        strcat(data, "*1\r\n");
    strcat(data, ":1\r\n");
    /* KV_RESP_MAX_DEPTH levels are fine... */
    assert_int_equal(parse_all(data, strlen(data), 1, out, sizeof(out)), 0);
    assert_int_equal(strncmp(out, "[[[[", 4), 0);
    /* ...one more is not. */
    data[0] = '\0';
    for (i = 0; i <= KV_RESP_MAX_DEPTH; i++)
        strcat(data, "*1\r\n");
    strcat(data, ":1\r\n");
    expect_error(data, strlen(data), "arrays nested too deep");
}

static void error_inside_array_frees_partial_tree(void **state)
{
    (void)state;
    /* Valgrind checks that the half-built arrays are freed by reset. */
    EXPECT_ERROR("*3\r\n:1\r\n*2\r\n$3\r\nabc\r\n!\r\n", "unknown reply type");
}

static void reset_drops_partial_reply(void **state)
{
    kv_parser p;
    kv_reply *r;

    (void)state;
    kv_parser_init(&p);
    assert_int_equal(kv_parser_feed(&p, "*2\r\n*2\r\n:1\r\n$5\r\nhel", 20), 0);
    assert_int_equal(kv_parser_next(&p, &r), 0);
    assert_int_equal(p.depth, 2);
    kv_parser_reset(&p);
    assert_int_equal(p.depth, 0);
    assert_int_equal(kv_parser_feed(&p, ":3\r\n", 4), 0);
    assert_int_equal(kv_parser_next(&p, &r), 1);
    assert_int_equal(r->integer, 3);
    kv_reply_free(r);
    kv_parser_reset(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_array_of_bulk_strings),
        cmocka_unit_test(encode_is_binary_safe),
        cmocka_unit_test(encode_rejects_no_arguments),
        cmocka_unit_test(parse_every_type_whole),
        cmocka_unit_test(parse_one_byte_at_a_time),
        cmocka_unit_test(parse_split_at_every_byte),
        cmocka_unit_test(parse_needs_more_until_complete),
        cmocka_unit_test(parse_large_bulk_in_chunks),
        cmocka_unit_test(parse_many_elements),
        cmocka_unit_test(reject_unknown_type),
        cmocka_unit_test(reject_bad_integers),
        cmocka_unit_test(reject_absurd_lengths),
        cmocka_unit_test(accept_lengths_at_the_limits),
        cmocka_unit_test(reject_unterminated_bulk),
        cmocka_unit_test(reject_long_line),
        cmocka_unit_test(reject_deep_nesting),
        cmocka_unit_test(error_inside_array_frees_partial_tree),
        cmocka_unit_test(reset_drops_partial_reply),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
