/* The timeline of a sim: a hash of every step for the determinism check and replay, and, when
 * recording, the list of steps itself (written as text or Chrome trace-event JSON). */
#include "internal.h"
#include "trace.h"

#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL

/* splitmix64's finaliser, inlined: it runs three times per dispatched callback. */
static inline uint64_t hash_u64(uint64_t h, uint64_t x)
{
    x ^= h;
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Eight bytes at a time (a note's track is a connection's label, 40 characters, hashed for every
 * step): the last word carries the length, so "ab"+"c" differs from "a"+"bc". */
static uint64_t hash_str(uint64_t h, const char *s)
{
    size_t n = strlen(s), i;
    uint64_t w;

    for (i = 0; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        h = hash_u64(h, w);
    }
    w = 0;
    memcpy(&w, s + i, n - i);
    return hash_u64(h, w ^ (uint64_t)(n & 0xff) << 56);
}

/* ---- recording ---- */

static uint32_t intern(ah__trace *t, const char *s)
{
    uint64_t h = hash_str(FNV_OFFSET, s);
    size_t i, n;

    if (t->nstr * 2 >= t->slots_cap) {
        size_t cap = t->slots_cap ? t->slots_cap * 2 : 64;
        uint32_t *slots = ah__malloc(cap * sizeof(*slots));
        memset(slots, 0xff, cap * sizeof(*slots));
        for (n = 0; n < t->nstr; n++) {
            uint64_t hh = hash_str(FNV_OFFSET, t->strs[n]);
            for (i = hh & (cap - 1); slots[i] != UINT32_MAX; i = (i + 1) & (cap - 1))
                ;
            slots[i] = (uint32_t)n;
        }
        ah__free(t->slots);
        t->slots = slots;
        t->slots_cap = cap;
    }
    for (i = h & (t->slots_cap - 1); t->slots[i] != UINT32_MAX; i = (i + 1) & (t->slots_cap - 1))
        if (strcmp(t->strs[t->slots[i]], s) == 0)
            return t->slots[i];
    if (t->nstr == t->strs_cap) {
        t->strs_cap = t->strs_cap ? t->strs_cap * 2 : 32;
        t->strs = ah__realloc(t->strs, t->strs_cap * sizeof(*t->strs));
    }
    t->strs[t->nstr] = ah__strdup(s);
    t->slots[i] = (uint32_t)t->nstr;
    return (uint32_t)t->nstr++;
}

static void trace_add(ah__trace *t, uint64_t t_ns, const char *track, const char *what)
{
    ah__trace_ev *e;

    if (t->nev == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->ev = ah__realloc(t->ev, t->cap * sizeof(*t->ev));
    }
    e = &t->ev[t->nev++];
    e->t_ns = t_ns;
    e->track = intern(t, track);
    e->what = intern(t, what);
}

/* One "t_ns\ttrack\twhat" line, written at once: a process that dies on a signal keeps every
 * step it made (ah-explore reads it back with ah__trace_read_stream). */
static void stream_line(int fd, uint64_t t_ns, const char *track, const char *what)
{
    char line[600];
    int n =
        snprintf(line, sizeof(line), "%llu\t%.250s\t%.250s", (unsigned long long)t_ns, track, what);
    int i;

    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    for (i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    (void)syscall(SYS_write, fd, line, (size_t)n);
}

static void record(ah_sim *sim, const char *track, const char *what)
{
    ah__trace *t = sim->trace;
    uint64_t t_ns = sim->clock.now_ns - sim->clock.epoch_ns;

    trace_add(t, t_ns, track, what);
    if (t->stream_fd > 0)
        stream_line(t->stream_fd - 1, t_ns, track, what);
}

ah__trace *ah__trace_read_stream(const char *path)
{
    FILE *f = fopen(path, "r");
    ah__trace *t;
    char line[1024];

    if (f == NULL)
        return NULL;
    t = ah__calloc(1, sizeof(*t));
    while (fgets(line, sizeof(line), f) != NULL) {
        char *tab1 = strchr(line, '\t'), *tab2 = tab1 != NULL ? strchr(tab1 + 1, '\t') : NULL;
        size_t n = strlen(line);
        if (tab2 == NULL)
            continue;
        if (n > 0 && line[n - 1] == '\n')
            line[n - 1] = '\0';
        *tab1 = *tab2 = '\0';
        trace_add(t, strtoull(line, NULL, 10), tab1 + 1, tab2 + 1);
    }
    fclose(f);
    return t;
}

void ah__trace_note(ah_sim *sim, const char *track, const char *what)
{
    uint64_t h = sim->trace_hash ? sim->trace_hash : FNV_OFFSET;

    h = hash_u64(h, sim->clock.now_ns);
    h = hash_str(h, track);
    h = hash_str(h, what);
    sim->trace_hash = h;
    if (sim->trace_hash_out != NULL) /* a process ah-explore runs: what it made if it dies */
        *sim->trace_hash_out = h;
    sim->trace_events++;
    if (sim->trace != NULL)
        record(sim, track, what);
}

/* The hash of a callback name, cached by address: dispatch passes the same literals again and
 * again, and this runs for every callback. */
static uint64_t what_hash(ah_sim *sim, const char *what)
{
    if (what != sim->trace_what_ptr) {
        sim->trace_what_ptr = what;
        sim->trace_what_hash = hash_str(FNV_OFFSET, what);
    }
    return sim->trace_what_hash;
}

void ah__trace_dispatch(ah_sim *sim, uint64_t track_key, const ah__hrec *r, const char *what)
{
    uint64_t h = sim->trace_hash ? sim->trace_hash : FNV_OFFSET;

    /* No formatting here: the track is hashed as (type, id), the text made only when recording. */
    h = hash_u64(h, sim->clock.now_ns);
    h = hash_u64(h, track_key);
    h = hash_u64(h, what_hash(sim, what));
    sim->trace_hash = h;
    if (sim->trace_hash_out != NULL) /* a process ah-explore runs: what it made if it dies */
        *sim->trace_hash_out = h;
    sim->trace_events++;
    if (sim->trace != NULL) {
        char track[96];
        if (r == NULL)
            snprintf(track, sizeof(track), "sim");
        else if (r->label[0] != '\0')
            snprintf(track, sizeof(track), "%s #%u [%s]", ah__handle_type_name(r->type),
                     (unsigned)r->id, r->label);
        else
            snprintf(track, sizeof(track), "%s #%u", ah__handle_type_name(r->type),
                     (unsigned)r->id);
        record(sim, track, what);
    }
}

uint64_t ah_trace_hash(const ah_sim *sim) { return sim->trace_hash; }

void ah__trace_free(ah__trace *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->nstr; i++)
        ah__free(t->strs[i]);
    ah__free(t->strs);
    ah__free(t->slots);
    ah__free(t->ev);
    ah__free(t->path);
    ah__free(t);
}

static const char trace_key = 0;

static void trace_destroy(ah_sim *sim, void *state)
{
    (void)state;
    if (sim->trace == NULL)
        return;
    if (sim->trace->path != NULL) {
        size_t n = strlen(sim->trace->path);
        if (n >= 5 && strcmp(sim->trace->path + n - 5, ".json") == 0)
            ah__trace_write_json(sim->trace, sim->name, sim->trace->path);
        else
            ah__trace_write_text(sim->trace, sim->trace->path);
    }
    ah__trace_free(sim->trace);
    sim->trace = NULL;
}

void ah__trace_start(ah_sim *sim)
{
    if (sim->trace != NULL)
        return;
    sim->trace = ah__calloc(1, sizeof(*sim->trace));
    if (ah__ext_get(sim, &trace_key) == NULL)
        ah__ext_add(
            sim,
            &(ah__ext){.key = &trace_key, .name = "trace", .state = sim, .destroy = trace_destroy});
}

ah__trace *ah__trace_take(ah_sim *sim)
{
    ah__trace *t = sim->trace;
    sim->trace = NULL;
    return t;
}

void ah_trace_record(ah_sim *sim, const char *path)
{
    ah__trace_start(sim);
    ah__free(sim->trace->path);
    sim->trace->path = path != NULL ? ah__strdup(path) : NULL;
}

/* ---- output ---- */

void ah__trace_event_str(const ah__trace *t, size_t i, char *buf, size_t n)
{
    const ah__trace_ev *e = &t->ev[i];
    snprintf(buf, n, "#%zu +%llu.%06llu ms %s: %s", i + 1,
             (unsigned long long)(e->t_ns / AH__NS_PER_MS),
             (unsigned long long)(e->t_ns % AH__NS_PER_MS), t->strs[e->track], t->strs[e->what]);
}

int ah__trace_write_text(const ah__trace *t, const char *path)
{
    FILE *f = fopen(path, "w");
    char line[512];
    size_t i;

    if (f == NULL)
        return -1;
    for (i = 0; i < t->nev; i++) {
        ah__trace_event_str(t, i, line, sizeof(line));
        fprintf(f, "%s\n", line);
    }
    return fclose(f) == 0 ? 0 : -1;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int ah__trace_write_json(const ah__trace *t, const char *process, const char *path)
{
    FILE *f = fopen(path, "w");
    unsigned char *seen;
    size_t i;
    int first = 1;

    if (f == NULL)
        return -1;
    seen = ah__calloc(t->nstr ? t->nstr : 1, 1);
    fprintf(f, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
    fprintf(f, "{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"process_name\",\"args\":{\"name\":");
    json_str(f, process);
    fprintf(f, "}}");
    first = 0;
    /* One track (a thread in the trace-event model) per handle or connection. */
    for (i = 0; i < t->nev; i++) {
        uint32_t tr = t->ev[i].track;
        if (seen[tr])
            continue;
        seen[tr] = 1;
        fprintf(
            f, ",\n{\"ph\":\"M\",\"pid\":1,\"tid\":%u,\"name\":\"thread_name\",\"args\":{\"name\":",
            tr + 1);
        json_str(f, t->strs[tr]);
        fprintf(f, "}}");
    }
    for (i = 0; i < t->nev; i++) {
        const ah__trace_ev *e = &t->ev[i];
        fprintf(f,
                "%s\n{\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":%u,\"ts\":%llu.%03llu,\"name\":",
                first ? "" : ",", e->track + 1, (unsigned long long)(e->t_ns / 1000),
                (unsigned long long)(e->t_ns % 1000));
        json_str(f, t->strs[e->what]);
        fprintf(f, ",\"args\":{\"step\":%zu}}", i + 1);
    }
    fprintf(f, "\n]}\n");
    ah__free(seen);
    return fclose(f) == 0 ? 0 : -1;
}

int ah_trace_write_text(ah_sim *sim, const char *path)
{
    if (sim->trace == NULL)
        return -1;
    return ah__trace_write_text(sim->trace, path);
}

int ah_trace_write_json(ah_sim *sim, const char *path)
{
    if (sim->trace == NULL)
        return -1;
    return ah__trace_write_json(sim->trace, sim->name, path);
}

/* ---- handle type names (the trace names its tracks by them; handle.c its reports) ---- */

static const char *const type_names[UV_HANDLE_TYPE_MAX] = {
#define X(uc, lc) [UV_##uc] = "uv_" #lc "_t",
    UV_HANDLE_TYPE_MAP(X)
#undef X
};

const char *ah__handle_type_name(uv_handle_type t)
{
    if (t > UV_UNKNOWN_HANDLE && t < UV_HANDLE_TYPE_MAX && type_names[t] != NULL)
        return type_names[t];
    return "uv_handle_t";
}
