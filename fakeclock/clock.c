#include "fakeclock.h"

void ah_fc_clock_init(ah_fc_clock *clock, uint64_t epoch_ns)
{
    clock->now_ns = epoch_ns;
    clock->epoch_ns = epoch_ns;
}

uint64_t ah_fc_clock_set(ah_fc_clock *clock, uint64_t to_ns)
{
    if (to_ns > clock->now_ns)
        clock->now_ns = to_ns;
    return clock->now_ns;
}
