/* A member with pipes (test_world_kv.c, docs/world.md): writes a line on its stdout at once; at
 * +100 ms it reads all of its stdin (blocking reads: the parent's bytes and EOF reached it before
 * that turn), writes how many bytes it got, and exits 3. Plain libuv and libc. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static void later(uv_timer_t *t)
{
    char buf[256], line[64];
    ssize_t n, total = 0;

    while ((n = read(0, buf, sizeof(buf))) > 0)
        total += n;
    snprintf(line, sizeof(line), "got %zd bytes\n", total);
    (void)!write(1, line, strlen(line));
    uv_close((uv_handle_t *)t, NULL);
}

int main(void)
{
    uv_timer_t t;

    (void)!write(1, "hello\n", 6);
    uv_timer_init(uv_default_loop(), &t);
    uv_timer_start(&t, later, 100, 0);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    return 3;
}
