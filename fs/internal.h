/* Internals of the file-system layer (fs/fs.c, memfs.c, watch.c). Nothing here is public API.
 *
 * fs/ sits above mocks/: it reaches the thread pool through threads/pool.h (via mocks/pool.h).
 * Every uv_fs_* call becomes an ah__fsop (its arguments) that runs either at once (NULL callback)
 * or as a pool job; running it means the real libuv's synchronous call (passthrough) or memfs.c
 * (memory). */
#ifndef AH_FS_INTERNAL_H
#define AH_FS_INTERNAL_H

#include "../harness/internal.h"
#include "../mocks/pool.h"

#include <ah/fs.h>

#define AH__FS_FD_BASE 10000
#define AH__FS_PATH_MAX 4096

/* The arguments of one uv_fs_* call. */
typedef struct ah__fsop {
    uv_fs_type type;
    const char *fn; /* "uv_fs_open" */
    const char *path, *new_path;
    uv_file file, in_fd;
    int flags, mode;
    const uv_buf_t *bufs;
    unsigned nbufs;
    int64_t off;
    size_t len;
    uv_uid_t uid;
    uv_gid_t gid;
    double atime, mtime;
    uv_dir_t *dir;
    int once;      /* read/write: one write(2), not libuv's write-all loop (AIO) */
    ah__site site; /* the call site in the code under test */
} ah__fsop;

/* An asynchronous request's own copy of its arguments, behind req->reserved[2]. */
typedef struct ah__fsasync {
    ah__list link; /* fs->asyncs: freed with the sim if the job never completes */
    ah__fsop op;
    uv_buf_t *bufs_copy;
    char *tpl_copy; /* mkdtemp/mkstemp: the template libuv's own call copies again */
    uint64_t extra_ms;
} ah__fsasync;

/* A completed uv_fs_t that still holds memory only uv_fs_req_cleanup frees. */
typedef struct ah__fsleak {
    ah__list link;
    const uv_fs_t *req;
    const char *fn;
    ah__site site;
    uint64_t done_ns;
} ah__fsleak;

typedef struct ah__fsrule {
    ah__list link;
    int kind; /* AH__FSR_* */
    uv_fs_type op;
    char *path; /* NULL: any */
    int err;
    unsigned times; /* 0: forever */
    uint64_t n;     /* ms or bytes */
} ah__fsrule;
enum { AH__FSR_FAIL, AH__FSR_SLOW, AH__FSR_SHORT };

/* A descriptor opened through uv_fs_open in passthrough mode, for fs events on fd operations. */
typedef struct ah__fsfd {
    ah__list link;
    int fd;
    char *path;
} ah__fsfd;

struct ah__memfs;

typedef struct ah__fs {
    ah_sim *sim;
    struct ah__memfs *mem;                 /* NULL: passthrough */
    uint64_t latency_ms[UV_FS_LUTIME + 2]; /* [op + 1]; [0]: every op */
    ah__list rules;
    ah__list leaks;   /* ah__fsleak */
    ah__list realfds; /* ah__fsfd */
    ah__list watchers;
    ah__list polls;
    ah__list asyncs;
    uint64_t capacity;
    int has_capacity;
    int in_real; /* inside the real libuv's call (passthrough): libc.c leaves the reports to it */
} ah__fs;

/* state.c: the per-sim state, rules and paths; it reaches the memory file system and the
 * watchers through these hooks (set by fs.c when it makes a memory file system, by watch.c when
 * it makes a watcher), never calling up into them. */
typedef struct ah__fs_hooks_t {
    void (*mem_check)(struct ah__memfs *m, ah__buf *b);
    void (*mem_free)(struct ah__memfs *m);
    void (*watch_check)(ah__fs *fs, ah__buf *b);
    void (*watch_free_all)(ah__fs *fs);
    void (*notify)(ah__fs *fs, const char *abs_path, int events, int kind);
} ah__fs_hooks_t;
extern ah__fs_hooks_t ah__fs_hooks;

ah__fs *ah__fs_get(ah_sim *sim);
ah__fs *ah__fs_find(ah_sim *sim);
/* Makes `path` absolute and lexically clean ("/a/./b/../c" -> "/a/c") against `cwd`. */
void ah__fs_normalize(const char *cwd, const char *path, char *out, size_t n);
/* The first rule of `kind` matching op and path (consumed when counted), or NULL. */
ah__fsrule *ah__fs_rule(ah__fs *fs, int kind, uv_fs_type op, const char *abs_path);
void ah__fs_rules_free(ah__fs *fs);
/* Whether `path` is `prefix` or below it ("/" holds everything). */
int ah__fs_under(const char *prefix, const char *path);

/* fs.c */
const char *ah__fs_op_name(uv_fs_type t);
/* Reports `path` (relative to the working folder in passthrough) to the watchers (libc.c). */
void ah__fs_notify_path(ah__fs *fs, const char *path, int events, int kind);
/* The path a descriptor opened through uv_fs_open was opened with (either mode), or NULL. */
const char *ah__fs_fd_path(ah__fs *fs, uv_file fd);
/* The error an ah_fs_fail rule injects into `op` on `abs` (NULL: no path), consuming one of its
 * times, or 0. */
int ah__fs_fault(ah__fs *fs, uv_fs_type op, const char *abs);
/* The virtual time an asynchronous `o` takes: ah_fs_latency plus ah_fs_slow of its path. */
uint64_t ah__fs_duration(ah__fs *fs, const ah__fsop *o);

/* memfs.c */
struct ah__memfs *ah__memfs_new(ah_sim *sim);
void ah__memfs_free(struct ah__memfs *m);
/* Runs op on the memory file system, setting req's result/ptr/statbuf/path as libuv does. */
void ah__memfs_run(ah__fs *fs, uv_fs_t *req, const ah__fsop *op);
int ah__memfs_owns_fd(const struct ah__memfs *m, uv_file fd);
int ah__memfs_owns_dir(const struct ah__memfs *m, const uv_dir_t *dir);
/* The open flags of a memory descriptor, or -1. */
int ah__memfs_fd_flags(const struct ah__memfs *m, uv_file fd);
/* The path a memory descriptor was opened with, or NULL. */
const char *ah__memfs_fd_path(const struct ah__memfs *m, uv_file fd);
void ah__memfs_crash(struct ah__memfs *m);
void ah__memfs_check(struct ah__memfs *m, ah__buf *b);
int ah__memfs_put(struct ah__memfs *m, const char *path, const void *data, size_t n);
ssize_t ah__memfs_get(struct ah__memfs *m, const char *path, void *buf, size_t cap);
/* The bytes files hold now (for the capacity limit). */
uint64_t ah__memfs_used(const struct ah__memfs *m);

/* watch.c: what a successful operation changed, for uv_fs_event watchers. `events` is UV_RENAME
 * or UV_CHANGE; `abs_path` the entry that changed; `kind` tells inotify's event kinds apart (the
 * operation's uv_fs_type; a rename's target adds AH__FS_KIND_TO): equal consecutive ones merge. */
#define AH__FS_KIND_TO 1000
void ah__fs_notify(ah__fs *fs, const char *abs_path, int events, int kind);
/* fs.c's door to it: nothing to tell when no watcher was ever made. */
static inline void ah__fs_changed(ah__fs *fs, const char *abs_path, int events, int kind)
{
    if (ah__fs_hooks.notify != NULL)
        ah__fs_hooks.notify(fs, abs_path, events, kind);
}
void ah__watch_check(ah__fs *fs, ah__buf *b);
void ah__watch_hooks_install(void);
void ah__watch_free_all(ah__fs *fs);

/* aio.c: in a child the test forked (proc/fork.c), the contexts are the parent's: forgotten. */
void ah__aio_forked_child(ah_sim *sim);

#endif
