/* The timeline of a sim: a hash of every step for the determinism check. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* FNV-1a over a NUL-terminated string: the names hashed here are short literals. */
static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    while (*s != '\0')
        h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
    return h;
}

/* splitmix64's finaliser, inlined here: it runs three times per dispatched callback. */
static inline uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* One step of the timeline hash. Only values that replay are mixed in (virtual time, handle
 * type and per-type id, names by content), never pointers. */
static void hash_step(ah_sim *sim, uint64_t track, uint64_t what)
{
    uint64_t h = sim->trace_hash;

    h = mix(h ^ sim->clock.now_ns);
    h = mix(h ^ track);
    h = mix(h ^ what);
    sim->trace_hash = h;
    sim->trace_events++;
}

/* The hash of a callback name, cached by address: dispatch passes the same literals again and
 * again, and this runs for every callback. */
static uint64_t what_hash(ah_sim *sim, const char *what)
{
    if (what != sim->trace_what_ptr) {
        sim->trace_what_ptr = what;
        sim->trace_what_hash = hash_str(what);
    }
    return sim->trace_what_hash;
}

void ah__trace_note(ah_sim *sim, const char *track, const char *what)
{
    hash_step(sim, hash_str(track), hash_str(what));
}

void ah__trace_step(ah_sim *sim, uint64_t track_key, const char *what)
{
    hash_step(sim, track_key, what_hash(sim, what));
}

void ah__trace_cb(ah_sim *sim, const ah__hrec *r, const char *what)
{
    ah__trace_step(sim, r != NULL ? ah__trace_key(r->type, r->id) : 0, what);
}
