/* The recorded timeline of a sim (harness/trace.c), shared by the explorer. Internal. */
#ifndef AH_HARNESS_TRACE_H
#define AH_HARNESS_TRACE_H

#include "internal.h"

typedef struct ah__trace_ev {
    uint64_t t_ns;  /* virtual time since the sim's epoch */
    uint32_t track; /* interned: "uv_tcp_t #2 [tcp 127.0.0.1:50001 -> 127.0.0.1:7000]" */
    uint32_t what;  /* interned: "read_cb", "peer: reply" */
} ah__trace_ev;

typedef struct ah__trace {
    ah__trace_ev *ev;
    size_t nev, cap;
    char **strs; /* interned strings */
    size_t nstr, strs_cap;
    uint32_t *slots; /* open addressing over strs */
    size_t slots_cap;
    char *path;    /* written there when the sim is freed (ah_trace_record) */
    int stream_fd; /* descriptor + 1 every step is also written to as it happens; 0: none */
} ah__trace;

/* Starts recording (idempotent). The sim owns the recording until ah__trace_take. */
void ah__trace_start(ah_sim *sim);
/* Detaches the recording from the sim (the caller frees it with ah__trace_free). */
ah__trace *ah__trace_take(ah_sim *sim);
void ah__trace_free(ah__trace *t);
/* "#12 +15.000000 ms uv_timer_t #1: timer_cb" */
void ah__trace_event_str(const ah__trace *t, size_t i, char *buf, size_t n);
/* The timeline a process streamed (stream_fd) to a file, read back (NULL if it cannot be read). */
ah__trace *ah__trace_read_stream(const char *path);
int ah__trace_write_text(const ah__trace *t, const char *path);
int ah__trace_write_json(const ah__trace *t, const char *process, const char *path);

#endif
