/* A plain libuv program linked with the harness, without cmocka: a crash in its callback prints
 * the harness's report before the program dies of the signal (CTest planted_report_plain_crash).
 * With the argument "ok" it is the correct twin and exits 0. */
#include <uv.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

/* AddressSanitizer and UBSan report the bad write themselves: there the same signal comes
 * without it. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static int *volatile target;
static int value;

static void timer_cb(uv_timer_t *t)
{
    (void)t;
    if (SANITIZED && target == NULL)
        raise(SIGSEGV);
    *target = 42; /* NULL unless "ok": the planted crash */
}

int main(int argc, char **argv)
{
    uv_timer_t t;

    if (argc > 1 && strcmp(argv[1], "ok") == 0)
        target = &value;
    uv_timer_init(uv_default_loop(), &t);
    uv_timer_start(&t, timer_cb, 10, 0);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    printf("value %d\n", value);
    return value == 42 ? 0 : 1;
}
