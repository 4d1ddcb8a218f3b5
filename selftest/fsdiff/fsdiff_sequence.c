/* A sequence of asynchronous fs operations on a fresh temp directory, each started from the
 * previous one's callback, printing what libuv hands the callback: result, and the request's
 * fields that a program reads (ptr, path, statbuf). Run on real libuv and on the harness. */
#include <uv.h>
#ifdef FSDIFF_MEMORY
#include <ah/ah.h>
#endif

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uv_loop_t *loop;
static uv_fs_t req;
static char root[256];
static char p1[300], p2[300], p3[300], p4[300], p5[300];
static uv_file fd = -1;
static char rbuf[64];
static uv_buf_t bufs[5];
static uv_dirent_t dents[8];
static uv_dir_t *dir;
static int step;

static const char *res(ssize_t r)
{
    static char b[32];
    if (r < 0)
        return uv_err_name((int)r);
    snprintf(b, sizeof(b), "%zd", r);
    return b;
}

static void next(uv_fs_t *r);

static void show(uv_fs_t *r)
{
    printf("step %d %s result=%s", step, uv_fs_get_type(r) == UV_FS_OPEN ? "open" : "op",
           r->result >= 0 && uv_fs_get_type(r) == UV_FS_OPEN ? "fd" : res(r->result));
    printf(" type=%d ptr=%s", (int)r->fs_type,
           r->ptr == NULL          ? "null"
           : r->ptr == &r->statbuf ? "statbuf"
                                   : "alloc");
    if (r->path != NULL && r->fs_type == UV_FS_MKDTEMP) /* the random part differs */
        printf(" path=(%zu chars)", strlen(r->path));
    else if (r->path != NULL)
        printf(" path=%s",
               strncmp(r->path, root, strlen(root)) == 0 ? r->path + strlen(root) : r->path);
    printf("\n");
}

static void start(void)
{
    int rc = 0;

    step++;
    switch (step) {
    case 1:
        rc = uv_fs_open(loop, &req, p1, O_RDWR | O_CREAT | O_EXCL, 0644, next);
        break;
    case 2:
        bufs[0] = uv_buf_init("hello", 5);
        bufs[1] = uv_buf_init(" ", 1);
        bufs[2] = uv_buf_init("wor", 3);
        bufs[3] = uv_buf_init("l", 1);
        bufs[4] = uv_buf_init("d", 1); /* more than bufsml holds */
        rc = uv_fs_write(loop, &req, fd, bufs, 5, -1, next);
        break;
    case 3:
        rc = uv_fs_fsync(loop, &req, fd, next);
        break;
    case 4:
        rc = uv_fs_fstat(loop, &req, fd, next);
        break;
    case 5:
        bufs[0] = uv_buf_init(rbuf, sizeof(rbuf));
        rc = uv_fs_read(loop, &req, fd, bufs, 1, 6, next);
        break;
    case 6:
        rc = uv_fs_ftruncate(loop, &req, fd, 5, next);
        break;
    case 7:
        rc = uv_fs_close(loop, &req, fd, next);
        break;
    case 8:
        rc = uv_fs_close(loop, &req, fd, next);
        break;
    case 9:
        rc = uv_fs_stat(loop, &req, p1, next);
        break;
    case 10:
        rc = uv_fs_rename(loop, &req, p1, p2, next);
        break;
    case 11:
        rc = uv_fs_link(loop, &req, p2, p3, next);
        break;
    case 12:
        rc = uv_fs_symlink(loop, &req, "b", p4, 0, next);
        break;
    case 13:
        rc = uv_fs_readlink(loop, &req, p4, next);
        break;
    case 14:
        rc = uv_fs_realpath(loop, &req, p4, next);
        break;
    case 15:
        rc = uv_fs_scandir(loop, &req, root, 0, next);
        break;
    case 16:
        rc = uv_fs_copyfile(loop, &req, p2, p3, UV_FS_COPYFILE_EXCL, next);
        break;
    case 17:
        rc = uv_fs_copyfile(loop, &req, p2, p5, 0, next);
        break;
    case 18:
        rc = uv_fs_unlink(loop, &req, p1, next);
        break;
    case 19:
        rc = uv_fs_rmdir(loop, &req, root, next);
        break;
    case 20:
        rc = uv_fs_opendir(loop, &req, root, next);
        break;
    case 21:
        dir->dirents = dents;
        dir->nentries = 8;
        rc = uv_fs_readdir(loop, &req, dir, next);
        break;
    case 22:
        rc = uv_fs_closedir(loop, &req, dir, next);
        break;
    case 23:
        rc = uv_fs_access(loop, &req, p5, W_OK, next);
        break;
    case 24:
        rc = uv_fs_chmod(loop, &req, p5, 0600, next);
        break;
    case 25:
        /* Fractions whose microseconds libuv 1.40 and 1.41+ round differently. */
        rc = uv_fs_utime(loop, &req, p5, 100.7, 1234567890.123457, next);
        break;
    case 26:
        rc = uv_fs_lstat(loop, &req, p4, next);
        break;
    case 27:
        rc = uv_fs_mkdtemp(loop, &req, "/nonexistent-dir/xXXXXXX", next);
        break;
    case 28:
        rc = uv_fs_open(loop, &req, p1, O_RDONLY, 0, next);
        break;
    default:
        return;
    }
    if (rc != 0)
        printf("step %d start=%s\n", step, res(rc));
}

static void next(uv_fs_t *r)
{
    uv_dirent_t e;

    show(r);
    switch (step) {
    case 1:
        fd = (uv_file)r->result;
        break;
    case 4:
        printf("  size=%lld regular=%d\n", (long long)r->statbuf.st_size,
               S_ISREG(r->statbuf.st_mode));
        break;
    case 5:
        printf("  read=%.*s\n", (int)r->result, rbuf);
        break;
    case 9:
        printf("  size=%lld nlink=%d\n", (long long)r->statbuf.st_size, (int)r->statbuf.st_nlink);
        break;
    case 13:
        printf("  link=%s\n", (char *)r->ptr);
        break;
    case 14:
        printf("  real=%s\n", strrchr((char *)r->ptr, '/'));
        break;
    case 15:
        while (uv_fs_scandir_next(r, &e) == 0)
            printf("  entry %s %d\n", e.name, (int)e.type);
        break;
    case 20:
        dir = r->ptr;
        break;
    case 21:
        printf("  entries=%d\n", (int)r->result);
        break;
    case 25: {
        uv_fs_t st;
        if (uv_fs_stat(loop, &st, p5, NULL) == 0)
            printf("  atime=%ld.%09ld mtime=%ld.%09ld\n", (long)st.statbuf.st_atim.tv_sec,
                   (long)st.statbuf.st_atim.tv_nsec, (long)st.statbuf.st_mtim.tv_sec,
                   (long)st.statbuf.st_mtim.tv_nsec);
        uv_fs_req_cleanup(&st);
        break;
    }
    case 26:
        printf("  link=%d size=%lld\n", S_ISLNK(r->statbuf.st_mode), (long long)r->statbuf.st_size);
        break;
    default:
        break;
    }
    uv_fs_req_cleanup(r);
    printf("  after cleanup ptr=%s path=%s\n", r->ptr ? "set" : "null", r->path ? "set" : "null");
    start();
}

int main(void)
{
    uv_fs_t sreq;
#ifdef FSDIFF_MEMORY
    const char *tmp = "/tmp";
#else
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
#endif
    char tpl[256];
    uv_dirent_t e;

    loop = uv_default_loop();
#ifdef FSDIFF_MEMORY
    ah_fs_memory(ah_sim_current()); /* the same sequence on the in-memory file system */
#endif
    snprintf(tpl, sizeof(tpl), "%s/fsdiffXXXXXX", tmp);
    if (uv_fs_mkdtemp(loop, &sreq, tpl, NULL) != 0)
        return 1;
    snprintf(root, sizeof(root), "%s", sreq.path);
    uv_fs_req_cleanup(&sreq);
    snprintf(p1, sizeof(p1), "%s/a", root);
    snprintf(p2, sizeof(p2), "%s/b", root);
    snprintf(p3, sizeof(p3), "%s/c", root);
    snprintf(p4, sizeof(p4), "%s/l", root);
    snprintf(p5, sizeof(p5), "%s/d", root);
    start();
    printf("run=%d\n", uv_run(loop, UV_RUN_DEFAULT));
    printf("alive=%d\n", uv_loop_alive(loop));

    /* tidy up synchronously */
    if (uv_fs_scandir(loop, &sreq, root, 0, NULL) > 0) {
        while (uv_fs_scandir_next(&sreq, &e) == 0) {
            uv_fs_t u;
            char p[400];
            snprintf(p, sizeof(p), "%s/%s", root, e.name);
            uv_fs_unlink(loop, &u, p, NULL);
            uv_fs_req_cleanup(&u);
        }
    }
    uv_fs_req_cleanup(&sreq);
    printf("rmdir=%s\n", res(uv_fs_rmdir(loop, &sreq, root, NULL)));
    uv_fs_req_cleanup(&sreq);
    printf("close=%d\n", uv_loop_close(loop));
    return 0;
}
