/* Call-site capture for the code under test.
 *
 * asyncharness::harness force-includes this header (-include ah/sites.h) into every target that
 * links it, so that `uv_timer_init(loop, &t)` in unchanged code also records __FILE__, __LINE__
 * and __func__, and a report can say "uv_timer_t initialised in kv_connect (kvclient.c:120)".
 * The code does not change: only the macro wraps the call. Without this header the harness falls
 * back to the caller's return address. Define AH_NO_SITES to switch it off.
 */
#ifndef AH_SITES_H
#define AH_SITES_H

/* uv.h first: its prototypes must be seen before the macros exist. */
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif
void ah__site_mark(const char *file, int line, const char *func, const char *fn);
#ifdef __cplusplus
}
#endif

#if !defined(AH_NO_SITES) && !defined(AH_BUILDING_HARNESS)
#define AH__SITE(fn, ...) (ah__site_mark(__FILE__, __LINE__, __func__, #fn), fn(__VA_ARGS__))

#define uv_loop_init(...) AH__SITE(uv_loop_init, __VA_ARGS__)
#define uv_loop_close(...) AH__SITE(uv_loop_close, __VA_ARGS__)
#define uv_run(...) AH__SITE(uv_run, __VA_ARGS__)
#define uv_close(...) AH__SITE(uv_close, __VA_ARGS__)
#define uv_timer_init(...) AH__SITE(uv_timer_init, __VA_ARGS__)
#define uv_timer_start(...) AH__SITE(uv_timer_start, __VA_ARGS__)
#define uv_timer_again(...) AH__SITE(uv_timer_again, __VA_ARGS__)
#define uv_idle_init(...) AH__SITE(uv_idle_init, __VA_ARGS__)
#define uv_idle_start(...) AH__SITE(uv_idle_start, __VA_ARGS__)
#define uv_prepare_init(...) AH__SITE(uv_prepare_init, __VA_ARGS__)
#define uv_prepare_start(...) AH__SITE(uv_prepare_start, __VA_ARGS__)
#define uv_check_init(...) AH__SITE(uv_check_init, __VA_ARGS__)
#define uv_check_start(...) AH__SITE(uv_check_start, __VA_ARGS__)
#define uv_async_init(...) AH__SITE(uv_async_init, __VA_ARGS__)
#define uv_async_send(...) AH__SITE(uv_async_send, __VA_ARGS__)
#define uv_tcp_init(...) AH__SITE(uv_tcp_init, __VA_ARGS__)
#define uv_tcp_init_ex(...) AH__SITE(uv_tcp_init_ex, __VA_ARGS__)
#define uv_tcp_connect(...) AH__SITE(uv_tcp_connect, __VA_ARGS__)
#define uv_tcp_bind(...) AH__SITE(uv_tcp_bind, __VA_ARGS__)
#define uv_pipe_init(...) AH__SITE(uv_pipe_init, __VA_ARGS__)
#define uv_pipe_connect(...) AH__SITE(uv_pipe_connect, __VA_ARGS__)
#define uv_pipe_bind(...) AH__SITE(uv_pipe_bind, __VA_ARGS__)
#define uv_listen(...) AH__SITE(uv_listen, __VA_ARGS__)
#define uv_accept(...) AH__SITE(uv_accept, __VA_ARGS__)
#define uv_read_start(...) AH__SITE(uv_read_start, __VA_ARGS__)
#define uv_write(...) AH__SITE(uv_write, __VA_ARGS__)
#define uv_write2(...) AH__SITE(uv_write2, __VA_ARGS__)
#define uv_tcp_close_reset(...) AH__SITE(uv_tcp_close_reset, __VA_ARGS__)
#define uv_shutdown(...) AH__SITE(uv_shutdown, __VA_ARGS__)
#define uv_getaddrinfo(...) AH__SITE(uv_getaddrinfo, __VA_ARGS__)
#define uv_getnameinfo(...) AH__SITE(uv_getnameinfo, __VA_ARGS__)
#define uv_queue_work(...) AH__SITE(uv_queue_work, __VA_ARGS__)
#define uv_cancel(...) AH__SITE(uv_cancel, __VA_ARGS__)
#define uv_sleep(...) AH__SITE(uv_sleep, __VA_ARGS__)
#define uv_udp_init(...) AH__SITE(uv_udp_init, __VA_ARGS__)
#define uv_udp_init_ex(...) AH__SITE(uv_udp_init_ex, __VA_ARGS__)
#define uv_udp_send(...) AH__SITE(uv_udp_send, __VA_ARGS__)
#define uv_udp_recv_start(...) AH__SITE(uv_udp_recv_start, __VA_ARGS__)
/* Every other function that takes a loop, handle or request (generated from uv.h): a function
 * the harness does not simulate fails naming the file and line of its call. */
#include <ah/sites_uv.h>
#endif

#endif
