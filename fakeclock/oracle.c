#include "fakeclock.h"

uint64_t ah_fc_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void ah_fc_oracle_seed(ah_fc_oracle *o, uint64_t seed)
{
    uint64_t x = seed;
    int i;

    for (i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        o->s[i] = ah_fc_mix64(x);
    }
    o->seed = seed;
    o->draws = 0;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ah_fc_oracle_next(ah_fc_oracle *o)
{
    uint64_t *s = o->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    o->draws++;
    return result;
}

uint64_t ah_fc_oracle_below(ah_fc_oracle *o, uint64_t n)
{
    unsigned __int128 m;
    uint64_t lo, threshold;

    if (n == 0)
        return 0;
    m = (unsigned __int128)ah_fc_oracle_next(o) * n;
    lo = (uint64_t)m;
    if (lo < n) {
        threshold = -n % n;
        while (lo < threshold) {
            m = (unsigned __int128)ah_fc_oracle_next(o) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

uint64_t ah_fc_oracle_range(ah_fc_oracle *o, uint64_t lo, uint64_t hi)
{
    if (hi <= lo)
        return lo;
    if (hi - lo == UINT64_MAX)
        return ah_fc_oracle_next(o);
    return lo + ah_fc_oracle_below(o, hi - lo + 1);
}

int ah_fc_oracle_chance(ah_fc_oracle *o, uint32_t num, uint32_t den)
{
    if (den == 0 || num == 0)
        return 0;
    if (num >= den)
        return 1;
    return ah_fc_oracle_below(o, den) < num;
}
