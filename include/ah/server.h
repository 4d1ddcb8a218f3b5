/* A ready server inside the sim (docs/network.md, "A ready server: ah_server").
 *
 * For a client under test that needs something to talk to which is more than a script: an
 * ah_server listens on an address, cuts what each connection sends into requests (lines, or
 * length-prefixed frames), and answers each request with a handler the test writes (or echoes
 * it). Per request the handler may delay its answer, close or reset the connection, or never
 * answer. Clients may close, reset and reconnect at any moment: nothing about a vanished client
 * is a failure, so it serves sweeps and explorations where a scripted peer's unreached steps
 * would fail the test.
 */
#ifndef AH_SERVER_H
#define AH_SERVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ah_sim ah_sim;
typedef struct ah_server ah_server;

/* How a connection's bytes are cut into requests. */
typedef enum ah_framing {
    AH_FRAME_LINE = 0,   /* up to and including "\n"; the request's data has no "\r\n" / "\n" */
    AH_FRAME_LENGTH = 1, /* a 4-byte big-endian length, then that many bytes of data */
} ah_framing;

/* One request, valid during the handler's call. */
typedef struct ah_request {
    const char *data; /* the request's body, NUL-terminated (a copy: may hold NUL bytes) */
    size_t len;       /* its length, without the delimiter or the length prefix */
    unsigned conn;    /* the connection's number on this server, 1-based, in accept order */
    unsigned index;   /* the request's number on its connection, 1-based */
    unsigned number;  /* the request's number on the server, 1-based */
    ah_server *server;
    void *internal_; /* the harness's */
} ah_request;

/* Answers a request: called once per request, at the virtual instant its last byte arrived (a
 * connection's requests are handled in order, each after the previous one's answer went out). */
typedef void (*ah_server_fn)(ah_request *req, void *ctx);

/* Starts a server on `addr` ("127.0.0.1:7000") owned by the sim; `handler` NULL echoes each
 * request back as it came (delimiter or prefix included). Fails the test if something already
 * listens there. */
ah_server *ah_server_start(ah_sim *sim, const char *addr, ah_framing framing, ah_server_fn handler,
                           void *ctx);
/* Stops accepting: later connects are refused. Open connections go on. */
void ah_server_stop(ah_server *srv);

/* What the handler does with `req` (any number of replies, then at most one ending): */
/* Appends raw bytes to the answer. */
void ah_request_reply(ah_request *req, const void *bytes, size_t n);
void ah_request_reply_str(ah_request *req, const char *text);
/* Appends one framed answer: the text and "\r\n" (lines) or the length prefix and the bytes. */
void ah_request_reply_frame(ah_request *req, const void *bytes, size_t n);
/* The answer (and the requests after it on the connection) go out `ms` later. */
void ah_request_delay(ah_request *req, uint64_t ms);
/* After the answer, close the connection (FIN) / reset it instead of answering / never answer
 * (the connection reads on and answers nothing again: a hung server). */
void ah_request_close(ah_request *req);
void ah_request_reset(ah_request *req);
void ah_request_hang(ah_request *req);

/* Counts so far: connections accepted, requests handled. */
unsigned ah_server_connections(const ah_server *srv);
unsigned ah_server_requests(const ah_server *srv);

#ifdef __cplusplus
}
#endif

#endif
