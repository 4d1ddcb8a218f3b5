/* aiolog: an append-only log written with Linux AIO under a libuv loop, the way storage engines
 * do it: each record is one io_submit'd write at the log's end, completions come back through an
 * eventfd (IOCB_FLAG_RESFD) that a uv_poll_t watches, io_getevents reaps them, and the caller is
 * told by callback. aiolog_sync makes every record acknowledged so far durable (IOCB_CMD_FDSYNC,
 * submitted once those writes have completed: AIO does not order a sync after writes in flight).
 * Plain libuv and libc: the tests compile it unchanged against asyncharness. */
#ifndef AIOLOG_H
#define AIOLOG_H

#include <stddef.h>
#include <uv.h>

typedef struct aiolog aiolog;

/* status: 0, or a negative errno (UV_EIO, UV_ENOSPC, ...) the disk gave; once a write failed,
 * the log is broken and every later call answers that error. */
typedef void (*aiolog_cb)(aiolog *log, void *arg, int status);

typedef struct aiolog_opts {
    /* 0: completions through an eventfd under uv_poll (the default); N > 0: a uv_timer_t reaps
     * them every N ms instead (for systems where the eventfd cannot be polled). */
    unsigned reap_ms;
    /* Most writes in flight at once (the AIO context's size); 0: 64. */
    unsigned depth;
} aiolog_opts;

/* Opens (creating) the log at `path` and appends after what it holds. 0 or a negative errno. */
int aiolog_open(uv_loop_t *loop, const char *path, const aiolog_opts *opts, aiolog **out);
/* Appends a copy of `len` bytes; cb(status) once they are written (not yet durable). */
int aiolog_append(aiolog *log, const void *rec, size_t len, aiolog_cb cb, void *arg);
/* cb(status) once every record appended before this call is durable. */
int aiolog_sync(aiolog *log, aiolog_cb cb, void *arg);
/* Bytes the log holds, written or in flight. */
size_t aiolog_size(const aiolog *log);
/* Closes the log once nothing is in flight; `closed` (may be NULL) then runs. Appends after this
 * fail with UV_ECANCELED. */
void aiolog_close(aiolog *log, void (*closed)(void *arg), void *arg);

#endif
