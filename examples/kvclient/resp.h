/* RESP2: the Redis wire protocol. An encoder for commands (arrays of bulk strings) and an
 * incremental parser for replies that may arrive split at any byte. Depends on libc only. */
#ifndef KV_RESP_H
#define KV_RESP_H

#include <stddef.h>

/* Reply types, numbered as hiredis numbers them. */
enum {
    KV_REPLY_STRING = 1,  /* bulk string: str/len, binary-safe */
    KV_REPLY_ARRAY = 2,   /* element[0..elements) */
    KV_REPLY_INTEGER = 3, /* integer */
    KV_REPLY_NIL = 4,     /* null bulk ($-1) and null array (*-1) */
    KV_REPLY_STATUS = 5,  /* simple string (+OK): str/len */
    KV_REPLY_ERROR = 6    /* error (-ERR ...): str/len, without the '-' */
};

typedef struct kv_reply kv_reply;
struct kv_reply {
    int type;
    long long integer;
    char *str; /* NUL-terminated copy for STRING, STATUS and ERROR; NULL otherwise */
    size_t len;
    size_t elements;
    kv_reply **element;
};

/* Frees a reply and everything below it. NULL is allowed. */
void kv_reply_free(kv_reply *reply);

/* Limits: a reply beyond them is a protocol error, so a hostile or broken peer cannot make the
 * parser allocate more than it has received (the bulk limit is Redis's proto-max-bulk-len). */
#define KV_RESP_MAX_BULK_LEN (512LL * 1024 * 1024)
#define KV_RESP_MAX_ELEMENTS (1LL << 24)
#define KV_RESP_MAX_LINE 65536
#define KV_RESP_MAX_DEPTH 32

/* Encodes argv as a RESP array of bulk strings into a new malloc'd buffer (*out, *outlen; the
 * caller frees it). argvlen may be NULL for NUL-terminated arguments. Returns 0, or -1 when
 * argc < 1 or memory runs out. */
int kv_resp_encode(int argc, const char **argv, const size_t *argvlen, char **out, size_t *outlen);

typedef struct kv_parser kv_parser;
struct kv_parser {
    char *buf; /* received bytes not consumed yet: buf[pos..len) */
    size_t len, cap, pos;
    size_t scanned; /* bytes after pos already searched for "\r\n" */
    int depth;      /* open arrays in stack[0..depth) */
    struct {
        kv_reply *array; /* array->elements counts the children attached so far */
        size_t count;    /* children the header announced */
        size_t cap;      /* room in array->element */
    } stack[KV_RESP_MAX_DEPTH];
    const char *error; /* static text of the protocol error, once there is one */
};

/* Prepares an empty parser. It owns no memory until kv_parser_feed. */
void kv_parser_init(kv_parser *p);

/* Appends received bytes (copied). Returns 0, or -1 when memory runs out. */
int kv_parser_feed(kv_parser *p, const char *data, size_t len);

/* Takes the next complete reply. Returns 1 and sets *out (the caller frees it with
 * kv_reply_free), 0 when more bytes are needed, -1 on a protocol error (p->error says which;
 * the parser keeps failing until kv_parser_reset). */
int kv_parser_next(kv_parser *p, kv_reply **out);

/* Drops buffered bytes and any partial reply and frees all memory; the parser is empty again. */
void kv_parser_reset(kv_parser *p);

#endif
