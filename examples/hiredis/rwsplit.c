/* rwsplit: see rwsplit.h. Plain hiredis and libuv: nothing here knows about the harness. */
#include "rwsplit.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

struct rw_client {
    redisAsyncContext *primary, *replica;
};

typedef struct rw_op {
    rw_client *c;
    char *key;
    rw_get_cb cb;
    void *data;
} rw_op;

static redisAsyncContext *open_one(uv_loop_t *loop, const char *host, int port)
{
    redisAsyncContext *ac = redisAsyncConnect(host, port);

    if (ac == NULL)
        return NULL;
    if (ac->err != 0 || redisLibuvAttach(ac, loop) != REDIS_OK) {
        redisAsyncFree(ac);
        return NULL;
    }
    return ac;
}

rw_client *rw_new(uv_loop_t *loop, const char *host, int port)
{
    rw_client *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->primary = open_one(loop, host, port);
    c->replica = c->primary != NULL ? open_one(loop, host, port) : NULL;
    if (c->replica == NULL) {
        if (c->primary != NULL)
            redisAsyncFree(c->primary);
        free(c);
        return NULL;
    }
    return c;
}

static void got(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply *reply = r;
    rw_op *op = privdata;

    (void)ac;
    if (reply == NULL)
        op->cb(op->c, NULL, "disconnected", op->data);
    else if (reply->type == REDIS_REPLY_STRING)
        op->cb(op->c, reply->str, NULL, op->data);
    else if (reply->type == REDIS_REPLY_ERROR)
        op->cb(op->c, NULL, reply->str, op->data);
    else
        op->cb(op->c, NULL, NULL, op->data);
    free(op->key);
    free(op);
}

static void get(rw_op *op) { redisAsyncCommand(op->c->replica, got, op, "GET %s", op->key); }

#ifndef RW_PLANTED_BUG
static void set_done(redisAsyncContext *ac, void *r, void *privdata)
{
    rw_op *op = privdata;

    (void)ac;
    if (r == NULL) {
        op->cb(op->c, NULL, "disconnected", op->data);
        free(op->key);
        free(op);
        return;
    }
    get(op); /* the write is acknowledged: a read now sees it */
}
#endif

void rw_set_then_get(rw_client *c, const char *key, const char *value, rw_get_cb cb, void *data)
{
    rw_op *op = calloc(1, sizeof(*op));

    op->c = c;
    op->key = strdup(key);
    op->cb = cb;
    op->data = data;
#ifdef RW_PLANTED_BUG
    redisAsyncCommand(c->primary, NULL, NULL, "SET %s %s", key, value);
    get(op); /* planted: nothing says the SET reached the server before this GET */
#else
    redisAsyncCommand(c->primary, set_done, op, "SET %s %s", key, value);
#endif
}

void rw_free(rw_client *c)
{
    redisAsyncDisconnect(c->primary);
    redisAsyncDisconnect(c->replica);
    free(c);
}
