/* The C library's calls that remove or move a name (remove, unlink, rmdir, rename), so that
 * uv_fs_event watchers see them as inotify would (decision 41 extended: docs/fs.md, "Watching
 * files"). In passthrough mode each runs the C library's own call on the real file system, then,
 * when it succeeded and the sim has a watcher, reports its entry as uv_fs_unlink, uv_fs_rmdir and
 * uv_fs_rename do (UV_RENAME on the name, and on the new name of a rename). A call made by the
 * real libuv inside a passthrough operation is reported once, by that operation. In memory mode
 * the C library's calls act on the real file system, which is not the sim's: nothing is
 * reported. */
#define _GNU_SOURCE 1 /* RTLD_NEXT */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>

/* Reached from fs/interpose.c, so that this file is linked (see there). */
const char ah__fs_interposer_libc = 0;

#define REAL_FN(fn)                                                                                \
    static __typeof__(fn) *real_##fn;                                                              \
    if (real_##fn == NULL)                                                                         \
    *(void **)&real_##fn = dlsym(RTLD_NEXT, #fn)

/* The file system to tell, or NULL: no sim, memory mode, no watcher, or inside an operation. */
static ah__fs *watched_fs(void)
{
    ah_sim *sim = ah_sim_current();
    ah__fs *fs;

    if (sim == NULL || ah__fs_hooks.notify == NULL || (fs = ah__fs_find(sim)) == NULL)
        return NULL;
    if (fs->mem != NULL || fs->in_real > 0 || ah__list_empty(&fs->watchers))
        return NULL;
    return fs;
}

static void tell(const char *path, int kind)
{
    int saved = errno;
    ah__fs *fs = watched_fs();

    if (fs != NULL)
        ah__fs_notify_path(fs, path, UV_RENAME, kind);
    errno = saved;
}

AH__LIBC(unlink, 11, AH__LIBC_FS);
int unlink(const char *path)
{
    REAL_FN(unlink);
    int r = real_unlink(path);

    if (r == 0)
        tell(path, UV_FS_UNLINK);
    return r;
}

AH__LIBC(rmdir, 10, AH__LIBC_FS);
int rmdir(const char *path)
{
    REAL_FN(rmdir);
    int r = real_rmdir(path);

    if (r == 0)
        tell(path, UV_FS_RMDIR);
    return r;
}

/* glibc's remove is unlink, then rmdir when the name is a folder; its own calls inside are not
 * interposed, so it is made of the two here. */
AH__LIBC(remove, 11, AH__LIBC_FS);
int remove(const char *path)
{
    REAL_FN(unlink);
    REAL_FN(rmdir);
    int r = real_unlink(path);

    if (r == 0) {
        tell(path, UV_FS_UNLINK);
        return 0;
    }
    if (errno != EISDIR)
        return r;
    if ((r = real_rmdir(path)) == 0)
        tell(path, UV_FS_RMDIR);
    return r;
}

AH__LIBC(rename, 11, AH__LIBC_FS);
int rename(const char *from, const char *to)
{
    REAL_FN(rename);
    int r = real_rename(from, to);

    if (r == 0) {
        tell(from, UV_FS_RENAME);
        tell(to, UV_FS_RENAME + AH__FS_KIND_TO);
    }
    return r;
}
