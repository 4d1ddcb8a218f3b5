/* A member that never returns (docs/world.md), as libuv's spawn_helper4: it sleeps 10 s at a
 * time, forever; a signal's default action ends it. Its sleeps hand the world's turn back. */
#include <uv.h>

int main(void)
{
    for (;;)
        uv_sleep(10000);
}
