/* The explorer with every run in a process of its own: what ah-explore (tools/ah-explore.c)
 * shares with harness/explore.c. Internal.
 *
 * The driver side: ah__explore_processes runs the explorer (seeds, strategies, the determinism
 * check, AH_JOBS-style workers, shards, shrinking, the banner) with each run handed to a runner
 * that starts the program under the schedule described by an ah__xrun.
 *
 * The program side: a process whose environment carries a schedule (AH_STRATEGY=random|pct with
 * AH_SEED, or AH_REPLAY) takes its choices from it (its implicit sim and the sims of
 * ah_run_tests), and, when AH_EXPLORE_OUT names a file laid out as ah__xout, writes the choices
 * it made and its trace hash there; AH_EXPLORE_TRACE names a file it streams its timeline to,
 * one "t_ns\ttrack\twhat" line per step. */
#ifndef AH_HARNESS_EXPLORE_EXT_H
#define AH_HARNESS_EXPLORE_EXT_H

#include "internal.h"
#include "trace.h"

/* The file AH_EXPLORE_OUT names, mapped by the program (MAP_SHARED): what it holds survives an
 * abort or a fatal signal. The driver makes it (header zeroed, `cap` set, size
 * ah__xout_size(cap)); the first process that takes a schedule claims it by its pid. */
#define AH__XOUT_MAGIC 0x31784f4578504841ULL /* "AHPxEOx1" */
typedef struct ah__xout {
    uint64_t magic;    /* set by the program when it took the schedule */
    int32_t pid;       /* the process that claimed the file */
    uint32_t overflow; /* more choices than cap: the list is cut (no shrinking) */
    uint64_t cap;      /* choices the file holds (set by the driver) */
    uint64_t nchoices; /* choices made so far */
    uint64_t hash;     /* trace hashes of the sims freed so far, mixed (ah__xout_hash) */
    uint64_t live;     /* trace hash of the sim running now, 0 when none */
    uint64_t sims;     /* sims that took the schedule */
    uint64_t choice[]; /* pairs: number of options, value taken */
} ah__xout;

static inline size_t ah__xout_size(uint64_t cap)
{
    return sizeof(ah__xout) + (size_t)cap * 2 * sizeof(uint64_t);
}

/* The process's trace hash: the sims it freed, then the one it was running (if it died). */
static inline uint64_t ah__xout_fold(uint64_t h, uint64_t sim_hash)
{
    return h != 0 ? ah_fc_mix64(h ^ sim_hash) : sim_hash;
}

/* One run of a schedule, described for the runner, and what the runner found. */
typedef struct ah__xrun {
    ah_strategy strategy; /* RANDOM, PCT, or REPLAY of `fixed` (the default schedule: none) */
    uint64_t seed;
    unsigned pct_depth;
    uint64_t pct_steps; /* choices of the default schedule: where PCT's change points fall */
    const uint64_t *fixed;
    size_t nfixed;
    int record; /* the run's timeline is wanted in `trace` */

    /* filled by the runner */
    int failed;
    char *msg;         /* first line: how it failed; then its output (ah__malloc'd) */
    uint64_t hash;     /* the process's trace hash */
    uint64_t *choices; /* pairs (options, value), ah__malloc'd; NULL when none */
    size_t nchoices;
    ah__trace *trace; /* when `record` */
} ah__xrun;

typedef struct ah__runner {
    void (*run)(void *ctx, ah__xrun *x);
    /* after each schedule (and every quarter second while workers run): done of total */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
    const char *command; /* the program and its arguments, as the user types them */
} ah__runner;

/* Explores with every run in a new process (opts->name names it in the banner). Returns 1 when a
 * schedule failed, with res filled as ah_explore_run fills it. */
int ah__explore_processes(const ah_explore_opts *opts, const ah__runner *runner,
                          ah_explore_result *res);

#endif
