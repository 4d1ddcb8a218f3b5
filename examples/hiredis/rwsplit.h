/* rwsplit: a small client around hiredis's async API and its unmodified libuv adapter. Writes go
 * to one connection (the primary) and reads to another (a replica, here the same server), as
 * read/write-splitting clients do. rw_set_then_get writes a value and reads it back.
 *
 * Built with -DRW_PLANTED_BUG, it sends the GET without waiting for the SET's reply: the two
 * commands travel on different connections, and nothing orders them at the server. */
#ifndef RWSPLIT_H
#define RWSPLIT_H

#include <uv.h>

typedef struct rw_client rw_client;

/* The value read back (NULL: the key had none, or the command failed), or an error text. */
typedef void (*rw_get_cb)(rw_client *c, const char *value, const char *error, void *data);

/* Connects both connections to host:port on `loop`. NULL when hiredis cannot start them. */
rw_client *rw_new(uv_loop_t *loop, const char *host, int port);
/* SET key value on the primary, then GET key on the replica; cb gets what the GET read. */
void rw_set_then_get(rw_client *c, const char *key, const char *value, rw_get_cb cb, void *data);
/* Disconnects both connections; pending commands get their callbacks first (hiredis). */
void rw_free(rw_client *c);

#endif
