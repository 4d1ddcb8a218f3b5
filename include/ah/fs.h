/* The file system of a sim (docs/fs.md).
 *
 * Unchanged libuv code calls uv_fs_* (synchronous with a NULL callback, asynchronous through the
 * sim's thread pool), uv_fs_event and uv_fs_poll. By default the operations reach the real files
 * (passthrough) and only their completions are timed by the virtual clock; ah_fs_memory switches
 * a sim to an in-memory file system of its own, deterministic and isolated, where faults can be
 * injected: errors, a full disk, short reads and writes, slow operations and a crash that loses
 * what was not fsync'd.
 */
#ifndef AH_FS_H
#define AH_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ah_sim ah_sim;

/* Gives the sim an in-memory file system holding "/" and "/tmp", empty; relative paths start at
 * "/". Call it before the test's first uv_fs_*. Descriptors of memory files count from 10000;
 * other descriptors (stdio, real files) still reach the real system. */
void ah_fs_memory(ah_sim *sim);
/* 1 when the sim's file system is the in-memory one, else 0 (passthrough). */
int ah_fs_is_memory(ah_sim *sim);

/* Every asynchronous operation of type `op` takes `ms` of virtual time on its pool thread before
 * its callback runs (both modes; default 0). UV_FS_UNKNOWN sets a latency every type adds to its
 * own. */
void ah_fs_latency(ah_sim *sim, uv_fs_type op, uint64_t ms);
/* Operations on `path` or below it (for descriptor operations: the path the file was opened
 * with) take `ms` of virtual time, on top of ah_fs_latency (a slow disk or a slow mount). */
void ah_fs_slow(ah_sim *sim, const char *path, uint64_t ms);

/* The next `times` operations of type `op` (UV_FS_UNKNOWN: any) on `path` or below it (NULL: any
 * path) fail with `err` (UV_EIO, UV_EACCES, UV_ENOSPC, ...) without touching the file; times 0:
 * every one until ah_fs_clear. Works in both modes. */
void ah_fs_fail(ah_sim *sim, uv_fs_type op, const char *path, int err, unsigned times);
/* Memory mode: the file system holds at most `bytes` of file data. A write that does not fit
 * writes what fits (a short write); with no room left it fails with UV_ENOSPC. */
void ah_fs_capacity(ah_sim *sim, uint64_t bytes);
/* Memory mode: reads and writes of files under `path` (NULL: all) move at most `max_bytes` per
 * call, as a signal-interrupted or pipe-like file may. */
void ah_fs_short_io(ah_sim *sim, const char *path, size_t max_bytes);
/* Lifts every fault, slowness and capacity limit (latencies stay). */
void ah_fs_clear(ah_sim *sim);

/* Memory mode: a simulated power loss and restart. Every file's data goes back to what its last
 * uv_fs_fsync/uv_fs_fdatasync made durable (never synced: empty); names and directories survive.
 * Open descriptors become invalid (no leak is reported for them). */
void ah_fs_crash(ah_sim *sim);

/* Memory mode, for setting up and checking a test: writes a whole file (created or replaced,
 * durable at once); returns 0 or a UV error. */
int ah_fs_put(ah_sim *sim, const char *path, const void *data, size_t n);
/* Copies up to `cap` bytes of the file at `path` into `buf` and returns the file's size, or a
 * UV error (UV_ENOENT, UV_EISDIR). */
ssize_t ah_fs_get(ah_sim *sim, const char *path, void *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
