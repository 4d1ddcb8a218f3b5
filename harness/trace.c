/* The timeline of a sim: a hash of every step for the determinism check. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL; /* FNV-1a */
    return h;
}

void ah__trace_note(ah_sim *sim, const char *track, const char *what)
{
    uint64_t h = sim->trace_hash ? sim->trace_hash : 0xcbf29ce484222325ULL;
    uint64_t now = sim->clock.now_ns;

    h = hash_bytes(h, &now, sizeof(now));
    h = hash_bytes(h, track, strlen(track) + 1);
    h = hash_bytes(h, what, strlen(what) + 1);
    sim->trace_hash = h;
    sim->trace_events++;
}

void ah__trace_cb(ah_sim *sim, const ah__hrec *r, const char *what)
{
    char track[64];

    if (r != NULL)
        snprintf(track, sizeof(track), "%s #%u", ah__handle_type_name(r->type), (unsigned)r->id);
    else
        snprintf(track, sizeof(track), "sim");
    ah__trace_note(sim, track, what);
}
