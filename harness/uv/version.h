/* What differs between the libuv versions the harness follows, in one place.
 *
 * The harness behaves as the libuv whose uv.h it is compiled against (UV_VERSION_HEX): 1.40 to
 * 1.50 are tested (docs/versions.md has the table of what changed in which version and what the
 * harness does). Every version-dependent line of the harness tests one of these predicates;
 * none compares UV_VERSION_HEX itself. */
#ifndef AH_HARNESS_UV_VERSION_H
#define AH_HARNESS_UV_VERSION_H

#include <uv.h>

#define AH__UV_AT_LEAST(major, minor, patch)                                                       \
    (UV_VERSION_HEX >= ((major) << 16 | (minor) << 8 | (patch)))

/* ---- layout of uv.h's private fields ---- */

/* 1.46: the private queues (handle_queue, watcher_queue, the watchers' and requests' `queue`,
 * write_queue, ...) are `struct uv__queue {next, prev}`, before `void *[2]` ({next, prev} too).
 * The harness reaches both through ah__qlist() (internal.h), which needs no test. */
#define AH__UV_STRUCT_QUEUE AH__UV_AT_LEAST(1, 46, 0)

/* 1.48: uv_timer_t's `void *heap_node[3]` became `union { void *heap[3]; struct uv__queue
 * queue; } node` (the ready queue of the timers run below). Same place, same size. */
#if AH__UV_AT_LEAST(1, 48, 0)
#define AH__UV_TIMER_NODE node.heap
#else
#define AH__UV_TIMER_NODE heap_node
#endif

/* 1.50: uv_udp_send_t's `struct sockaddr_storage addr` became `union { struct sockaddr addr;
 * struct sockaddr_storage storage; } u`. AH__UV_UDP_SEND_ADDR(req) is the storage either way. */
#if AH__UV_AT_LEAST(1, 50, 0)
#define AH__UV_UDP_SEND_ADDR(req) ((req)->u.storage)
#else
#define AH__UV_UDP_SEND_ADDR(req) ((req)->addr)
#endif

/* ---- the loop (harness/uv/loop.c) ---- */

/* 1.44.0: uv_loop_alive (and uv_run's result) also counts callbacks waiting in the pending
 * queue, and uv_backend_timeout answers 0 while I/O watchers wait to be registered by a poll
 * (a fresh loop has its own: the async wake-up). */
#define AH__UV_ALIVE_COUNTS_PENDING AH__UV_AT_LEAST(1, 44, 0)
#define AH__UV_BACKEND_TIMEOUT_WATCHERS AH__UV_AT_LEAST(1, 44, 0)

/* 1.44.2: after the poll, pending callbacks (write and connect callbacks the poll queued) run
 * at once, up to 8 rounds, instead of waiting for the next iteration's pending phase; and
 * UV_RUN_ONCE may block in poll only when nothing was pending and no idle handle was active
 * before the pending phase (before: when the pending phase ran nothing). */
#define AH__UV_PENDING_AFTER_POLL AH__UV_AT_LEAST(1, 44, 2)
#define AH__UV_ONCE_CAN_SLEEP AH__UV_AT_LEAST(1, 44, 2)

/* 1.45: timers run once per iteration, after the closing phase (before: first in the
 * iteration, and again after the closing phase in UV_RUN_ONCE only); uv_run(UV_RUN_DEFAULT)
 * runs the due timers once before its first iteration. */
#define AH__UV_TIMERS_AFTER_CLOSE AH__UV_AT_LEAST(1, 45, 0)

/* 1.46: that run before the first iteration happens only when the loop is alive and not
 * stopped ("don't run timers if loop is stopped/unref'd"). */
#define AH__UV_PRELOOP_TIMERS_IF_ALIVE AH__UV_AT_LEAST(1, 46, 0)

/* 1.48: the timer phase first collects the timers due on entry, then runs them: a timer
 * started (or repeating) with a 0 ms timeout from a timer callback waits for the next timer
 * phase instead of running in the same one ("fix busy loop with zero timeout timers"). */
#define AH__UV_TIMERS_READY_BATCH AH__UV_AT_LEAST(1, 48, 0)

/* ---- streams (mocks/stream.c) ---- */

/* 1.41: uv_read_start on a stream already reading returns UV_EALREADY (before: 0, and the new
 * callbacks replace the old ones). */
#define AH__UV_READ_START_EALREADY AH__UV_AT_LEAST(1, 41, 0)
/* 1.41 (the same move of uv_read_start): NULL callbacks answer UV_EINVAL before anything else
 * (before: not checked, so a stream that is not readable answers UV_ENOTCONN; libuv's test
 * tcp_bind_writable_flags at 1.40). */
#define AH__UV_READ_START_CHECKS_CBS AH__UV_AT_LEAST(1, 41, 0)

/* 1.42: uv_shutdown clears the stream's writable flag at once (uv_is_writable 0, uv_write
 * UV_EPIPE; before: writes queued after uv_shutdown still go out before the FIN), and a read
 * error clears both flags (before: uv_is_readable and uv_is_writable stay 1). */
#define AH__UV_STREAM_CLEARS_FLAGS AH__UV_AT_LEAST(1, 42, 0)

/* 1.42: the end of file, a read error and uv_read_stop stop the handle even while writes wait
 * for POLLOUT (before: a stream with queued writes or a shutdown in progress stays active). */
#define AH__UV_READ_END_STOPS_HANDLE AH__UV_AT_LEAST(1, 42, 0)

/* 1.42 only: the end of file also clears the readable flag (uv_is_readable 0, uv_read_start
 * UV_ENOTCONN); 1.43 undid it ("permit read after seeing EOF"). */
#define AH__UV_EOF_CLEARS_READABLE (AH__UV_AT_LEAST(1, 42, 0) && !AH__UV_AT_LEAST(1, 43, 0))

/* 1.44.2: uv_shutdown on a stream with no queued write completes from the pending queue
 * (before: at the next POLLOUT, in the poll phase). */
#define AH__UV_SHUTDOWN_FEEDS_PENDING AH__UV_AT_LEAST(1, 44, 2)

/* 1.45: a writable stream writes up to 33 queued requests per POLLOUT (before: one per loop
 * iteration). */
#if AH__UV_AT_LEAST(1, 45, 0)
#define AH__UV_WRITE_REQS_PER_POLL 33
#else
#define AH__UV_WRITE_REQS_PER_POLL 1
#endif

/* 1.45: a listener accepts one connection per poll (before: until accept(2) said EAGAIN or a
 * connection was left unaccepted). */
#define AH__UV_ONE_ACCEPT_PER_POLL AH__UV_AT_LEAST(1, 45, 0)

/* ---- UDP (mocks/udp.c) ---- */

/* The flags uv_udp_bind accepts: 1.42 adds UV_UDP_LINUX_RECVERR, 1.49 UV_UDP_REUSEPORT. */
#if AH__UV_AT_LEAST(1, 49, 0)
#define AH__UV_UDP_BIND_FLAGS                                                                      \
    (UV_UDP_IPV6ONLY | UV_UDP_REUSEADDR | UV_UDP_REUSEPORT | UV_UDP_LINUX_RECVERR)
#elif AH__UV_AT_LEAST(1, 42, 0)
#define AH__UV_UDP_BIND_FLAGS (UV_UDP_IPV6ONLY | UV_UDP_REUSEADDR | UV_UDP_LINUX_RECVERR)
#else
#define AH__UV_UDP_BIND_FLAGS (UV_UDP_IPV6ONLY | UV_UDP_REUSEADDR)
#endif

/* ---- the file system ---- */

/* 1.41 ("unix,fs: fix uv_fs_sendfile()"): on Linux, uv_fs_sendfile reads at in_offset and writes
 * at the output's file position. 1.40 passed the offsets to copy_file_range swapped: it read at
 * the input's file position (advancing it) and wrote at in_offset; only where copy_file_range
 * refused (overlapping ranges of one file: EINVAL) did its sendfile fallback do it right. */
#define AH__UV_SENDFILE_READS_AT_OFFSET AH__UV_AT_LEAST(1, 41, 0)
/* 1.41 ("fs: fix utime/futime timestamp rounding errors"): a time's fraction becomes
 * microseconds through (t - sec) * 1e9, truncated to the microsecond; 1.40 computed
 * (uint64_t)(t * 1e6) % 1e6, one microsecond short for most fractions. */
#define AH__UV_UTIME_ROUNDING_FIX AH__UV_AT_LEAST(1, 41, 0)

/* 1.41 ("poll,unix: ensure safety of rapid fd reuse"): uv_poll_start on a descriptor another
 * handle of the loop watches answers UV_EEXIST (1.40 let both watch it). */
#define AH__UV_POLL_START_EEXIST AH__UV_AT_LEAST(1, 41, 0)

/* ---- terminals and threads ---- */

/* 1.49 ("unix: restore tty attributes on handle close"): closing the uv_tty_t whose mode was
 * changed first restores the terminal's original attributes, as uv_tty_reset_mode does (before:
 * the terminal stays in raw mode until uv_tty_reset_mode). */
#define AH__UV_TTY_CLOSE_RESTORES AH__UV_AT_LEAST(1, 49, 0)
/* 1.50 ("src: set a default thread name for workers"): the pool's threads are named
 * "libuv-worker". */
#define AH__UV_POOL_THREAD_NAME AH__UV_AT_LEAST(1, 50, 0)

/* ---- API that exists only from some version on ---- */

/* 1.45: uv_metrics_info (loop_count, events, events_waiting). */
#define AH__UV_HAS_METRICS_INFO AH__UV_AT_LEAST(1, 45, 0)
/* 1.49: uv_loop_configure(UV_LOOP_USE_IO_URING_SQPOLL), accepted on Linux. */
#define AH__UV_HAS_IO_URING_SQPOLL AH__UV_AT_LEAST(1, 49, 0)
/* 1.46: uv_pipe_bind2 and uv_pipe_connect2 (name with a length, UV_PIPE_NO_TRUNCATE). */
#define AH__UV_HAS_PIPE2 AH__UV_AT_LEAST(1, 46, 0)
/* 1.48: a pipe name with a NUL byte inside (past the first) is UV_EINVAL. */
#define AH__UV_PIPE_NAME_NUL_EINVAL AH__UV_AT_LEAST(1, 48, 0)
/* 1.50 ("unix,pipe: fix handling null buffer in uv_pipe_get{sock,peer}name", PR 4611):
 * uv_pipe_getsockname and uv_pipe_getpeername with a NULL buffer or size, or *size 0, answer
 * UV_EINVAL before anything else (before: a NULL buffer was written through). */
#define AH__UV_PIPE_NAME_ARGS_EINVAL AH__UV_AT_LEAST(1, 50, 0)
/* 1.49: uv_pipe_bind2 with an empty name autobinds in Linux's abstract namespace (before:
 * UV_EINVAL). */
#define AH__UV_PIPE_AUTOBIND AH__UV_AT_LEAST(1, 49, 0)

/* 1.50: uv_udp_try_send2 (a batch of datagrams, one sendmmsg). The harness simulates it. */
#define AH__UV_HAS_UDP_TRY_SEND2 AH__UV_AT_LEAST(1, 50, 0)
/* 1.50 (with uv_udp_try_send2): uv_udp_try_send with no buffers answers UV_EINVAL (before: an
 * assert, which the harness reports as a failure of the test; libuv's test udp_try_send). */
#define AH__UV_UDP_TRY_SEND_NO_BUFS_EINVAL AH__UV_AT_LEAST(1, 50, 0)

#endif
