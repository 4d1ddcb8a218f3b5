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
#define uv_spawn(...) AH__SITE(uv_spawn, __VA_ARGS__)
#define uv_process_kill(...) AH__SITE(uv_process_kill, __VA_ARGS__)
#define uv_kill(...) AH__SITE(uv_kill, __VA_ARGS__)
#define uv_signal_init(...) AH__SITE(uv_signal_init, __VA_ARGS__)
#define uv_signal_start(...) AH__SITE(uv_signal_start, __VA_ARGS__)
#define uv_signal_start_oneshot(...) AH__SITE(uv_signal_start_oneshot, __VA_ARGS__)
#define uv_tty_init(...) AH__SITE(uv_tty_init, __VA_ARGS__)
#define uv_random(...) AH__SITE(uv_random, __VA_ARGS__)
/* threads (threads/): where a thread was started and where it blocked */
#define uv_thread_create(...) AH__SITE(uv_thread_create, __VA_ARGS__)
#define uv_thread_create_ex(...) AH__SITE(uv_thread_create_ex, __VA_ARGS__)
#define uv_thread_join(...) AH__SITE(uv_thread_join, __VA_ARGS__)
#define uv_mutex_lock(...) AH__SITE(uv_mutex_lock, __VA_ARGS__)
#define uv_mutex_trylock(...) AH__SITE(uv_mutex_trylock, __VA_ARGS__)
#define uv_mutex_unlock(...) AH__SITE(uv_mutex_unlock, __VA_ARGS__)
#define uv_mutex_destroy(...) AH__SITE(uv_mutex_destroy, __VA_ARGS__)
#define uv_cond_wait(...) AH__SITE(uv_cond_wait, __VA_ARGS__)
#define uv_cond_timedwait(...) AH__SITE(uv_cond_timedwait, __VA_ARGS__)
#define uv_sem_wait(...) AH__SITE(uv_sem_wait, __VA_ARGS__)
#define uv_barrier_wait(...) AH__SITE(uv_barrier_wait, __VA_ARGS__)
#define uv_once(...) AH__SITE(uv_once, __VA_ARGS__)
/* No C library name is marked (pthread_mutex_lock, sem_wait, ...): a program may define its own
 * double of one (docs/packaging.md), and a function-like macro of that name would break the
 * definition. Their sites come from the return address. */
#define uv_udp_init(...) AH__SITE(uv_udp_init, __VA_ARGS__)
#define uv_udp_init_ex(...) AH__SITE(uv_udp_init_ex, __VA_ARGS__)
#define uv_udp_send(...) AH__SITE(uv_udp_send, __VA_ARGS__)
#define uv_udp_recv_start(...) AH__SITE(uv_udp_recv_start, __VA_ARGS__)
/* Every other function that takes a loop, handle or request (generated from uv.h): a function
 * the harness does not simulate fails naming the file and line of its call. */
#include <ah/sites_uv.h>
#endif

#endif
