/* A member that runs thread-pool work (docs/world.md, "Not done yet"): its threads would move its
 * clock apart from the world's, so the world fails clearly, naming it, instead of hanging. */
#include <uv.h>

static void work(uv_work_t *w) { (void)w; }
static void done(uv_work_t *w, int status)
{
    (void)w;
    (void)status;
}

int main(void)
{
    uv_work_t w;
    uv_queue_work(uv_default_loop(), &w, work, done);
    return uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}
