/* uv_handle_get_type, uv_handle_type_name and the handle sizes, for every simulated handle type
 * as initialised by its uv_<type>_init. */
#include "trace.h"

static uv_timer_t t;
static uv_idle_t i;
static uv_prepare_t p;
static uv_check_t c;
static uv_async_t a;

static void show(const uv_handle_t *h, size_t size)
{
    char line[96];
    uv_handle_type type = uv_handle_get_type(h);
    snprintf(line, sizeof(line), "type %d %s field_type=%d size_ok", (int)type,
             uv_handle_type_name(type), (int)h->type);
    V(line, uv_handle_size(type) == size);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    int ty;

    trace_begin(loop);
    uv_timer_init(loop, &t);
    uv_idle_init(loop, &i);
    uv_prepare_init(loop, &p);
    uv_check_init(loop, &c);
    uv_async_init(loop, &a, NULL);
    show((uv_handle_t *)&t, sizeof(t));
    show((uv_handle_t *)&i, sizeof(i));
    show((uv_handle_t *)&p, sizeof(p));
    show((uv_handle_t *)&c, sizeof(c));
    show((uv_handle_t *)&a, sizeof(a));
    for (ty = UV_UNKNOWN_HANDLE; ty <= UV_HANDLE_TYPE_MAX; ty++) {
        const char *name = uv_handle_type_name((uv_handle_type)ty);
        char line[64];
        snprintf(line, sizeof(line), "name of %d: %s, size", ty, name ? name : "(null)");
        V(line, (long long)uv_handle_size((uv_handle_type)ty));
    }
    V("loop size", uv_loop_size() == sizeof(uv_loop_t));
    return trace_end(loop);
}
