/* Synchronous fs calls whose answers are easy to get wrong (error codes of path resolution,
 * open flags, links, renames, descriptors), printed one per line. On real libuv and in
 * passthrough they are the kernel's answers; the _mem_sim build asks the in-memory file system
 * the same questions. */
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
static char root[256];

static const char *P(const char *name)
{
    static char b[8][400];
    static int i;
    char *s = b[i++ % 8];
    snprintf(s, 400, "%s/%s", root, name);
    return s;
}

static void show(const char *what, int r)
{
    if (r < 0)
        printf("%-28s %s\n", what, uv_err_name(r));
    else
        printf("%-28s %d\n", what, r);
}

#define DO(what, call)                                                                             \
    do {                                                                                           \
        uv_fs_t req;                                                                               \
        int r_ = (call);                                                                           \
        show(what, r_);                                                                            \
        uv_fs_req_cleanup(&req);                                                                   \
    } while (0)

/* A descriptor's number differs between systems: 0 stands for "a descriptor". */
static int FD(int r) { return r >= 0 ? 0 : r; }

static int open_fd(const char *path, int flags)
{
    uv_fs_t req;
    int fd = uv_fs_open(loop, &req, path, flags, 0644, NULL);
    uv_fs_req_cleanup(&req);
    return fd;
}

static int size_of(const char *path)
{
    uv_fs_t req;
    int r = uv_fs_stat(loop, &req, path, NULL);
    if (r == 0)
        r = (int)req.statbuf.st_size;
    uv_fs_req_cleanup(&req);
    return r;
}

int main(void)
{
    uv_fs_t req;
    uv_buf_t b;
    char buf[32];
    int fd, fd2;
#ifdef FSDIFF_MEMORY
    const char *tmp = "/tmp";
#else
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
#endif
    char tpl[256];

    loop = uv_default_loop();
#ifdef FSDIFF_MEMORY
    ah_fs_memory(ah_sim_current());
#endif
    snprintf(tpl, sizeof(tpl), "%s/fserrXXXXXX", tmp);
    if (uv_fs_mkdtemp(loop, &req, tpl, NULL) != 0)
        return 1;
    snprintf(root, sizeof(root), "%s", req.path);
    uv_fs_req_cleanup(&req);

    DO("mkdir d", uv_fs_mkdir(loop, &req, P("d"), 0755, NULL));
    DO("mkdir d/", uv_fs_mkdir(loop, &req, P("d2/"), 0755, NULL));
    DO("open f creat", FD(open_fd(P("f"), O_WRONLY | O_CREAT)));
    b = uv_buf_init("0123456789", 10);
    fd = open_fd(P("f"), O_RDWR);
    DO("write f", uv_fs_write(loop, &req, fd, &b, 1, -1, NULL));
    DO("open f/ ", FD(uv_fs_open(loop, &req, P("f/"), O_RDONLY, 0, NULL)));
    DO("open f/x", FD(uv_fs_open(loop, &req, P("f/x"), O_RDONLY, 0, NULL)));
    DO("open f/x creat", FD(uv_fs_open(loop, &req, P("f/x"), O_WRONLY | O_CREAT, 0644, NULL)));
    DO("open d rdwr", FD(uv_fs_open(loop, &req, P("d"), O_RDWR, 0, NULL)));
    DO("open d creat", FD(uv_fs_open(loop, &req, P("d"), O_RDONLY | O_CREAT, 0644, NULL)));
    DO("open f directory", FD(uv_fs_open(loop, &req, P("f"), O_RDONLY | O_DIRECTORY, 0, NULL)));
    DO("open none/x creat",
       FD(uv_fs_open(loop, &req, P("none/x"), O_WRONLY | O_CREAT, 0644, NULL)));
    DO("open new/ creat", FD(uv_fs_open(loop, &req, P("new/"), O_WRONLY | O_CREAT, 0644, NULL)));
    fd2 = open_fd(P("f"), O_WRONLY | O_TRUNC);
    DO("size after trunc", size_of(P("f")));
    DO("write at 4", (b = uv_buf_init("ab", 2), uv_fs_write(loop, &req, fd2, &b, 1, 4, NULL)));
    DO("size with hole", size_of(P("f")));
    DO("read through wronly",
       (b = uv_buf_init(buf, sizeof(buf)), uv_fs_read(loop, &req, fd2, &b, 1, 0, NULL)));
    DO("read at 0",
       (b = uv_buf_init(buf, sizeof(buf)), uv_fs_read(loop, &req, fd, &b, 1, 0, NULL)));
    DO("read at 100",
       (b = uv_buf_init(buf, sizeof(buf)), uv_fs_read(loop, &req, fd, &b, 1, 100, NULL)));
    DO("fdatasync", uv_fs_fdatasync(loop, &req, fd, NULL));
    DO("ftruncate 3", uv_fs_ftruncate(loop, &req, fd, 3, NULL));
    DO("ftruncate -1", uv_fs_ftruncate(loop, &req, fd, -1, NULL));
    DO("size", size_of(P("f")));
    DO("futime", uv_fs_futime(loop, &req, fd, 5, 6, NULL));
    DO("fchown same", uv_fs_fchown(loop, &req, fd, (uv_uid_t)-1, (uv_gid_t)-1, NULL));
    DO("close fd2", uv_fs_close(loop, &req, fd2, NULL));
    DO("sendfile", uv_fs_sendfile(loop, &req, fd, fd, 0, 2, NULL) >= 0 ? 0 : -1);
    DO("close fd", uv_fs_close(loop, &req, fd, NULL));
    DO("fstat closed", uv_fs_fstat(loop, &req, fd, NULL));

    DO("symlink loop a", uv_fs_symlink(loop, &req, "lb", P("la"), 0, NULL));
    DO("symlink loop b", uv_fs_symlink(loop, &req, "la", P("lb"), 0, NULL));
    DO("stat loop", uv_fs_stat(loop, &req, P("la"), NULL));
    DO("lstat loop", uv_fs_lstat(loop, &req, P("la"), NULL));
    DO("symlink exists", uv_fs_symlink(loop, &req, "x", P("la"), 0, NULL));
    DO("symlink dangling", uv_fs_symlink(loop, &req, "target", P("dl"), 0, NULL));
    DO("stat dangling", uv_fs_stat(loop, &req, P("dl"), NULL));
    DO("open creat via dangling", open_fd(P("dl"), O_WRONLY | O_CREAT) >= 0);
    DO("stat target", uv_fs_stat(loop, &req, P("target"), NULL));
    DO("open nofollow", FD(uv_fs_open(loop, &req, P("dl"), O_RDONLY | O_NOFOLLOW, 0, NULL)));
    DO("link dir", uv_fs_link(loop, &req, P("d"), P("dlink"), NULL));
    DO("link missing", uv_fs_link(loop, &req, P("none"), P("x"), NULL));
    DO("readlink dir", uv_fs_readlink(loop, &req, P("d"), NULL));
    DO("readlink missing", uv_fs_readlink(loop, &req, P("none"), NULL));

    DO("mkdir d/e", uv_fs_mkdir(loop, &req, P("d/e"), 0755, NULL));
    DO("rename d -> f", uv_fs_rename(loop, &req, P("d"), P("f"), NULL));
    DO("rename f -> d", uv_fs_rename(loop, &req, P("f"), P("d"), NULL));
    DO("rename d2 -> d", uv_fs_rename(loop, &req, P("d2"), P("d"), NULL));
    DO("rename d/e -> d2", uv_fs_rename(loop, &req, P("d/e"), P("d2"), NULL));
    DO("rename f -> f", uv_fs_rename(loop, &req, P("f"), P("f"), NULL));
    DO("rename f -> none/x", uv_fs_rename(loop, &req, P("f"), P("none/x"), NULL));
    DO("rename f -> g/", uv_fs_rename(loop, &req, P("f"), P("g/"), NULL));
    DO("rmdir d2/.", uv_fs_rmdir(loop, &req, P("d2/."), NULL));
    DO("rmdir f", uv_fs_rmdir(loop, &req, P("f"), NULL));
    DO("rmdir d2", uv_fs_rmdir(loop, &req, P("d2"), NULL));
    DO("unlink d", uv_fs_unlink(loop, &req, P("d"), NULL));
    DO("unlink f/", uv_fs_unlink(loop, &req, P("f/"), NULL));
    DO("copyfile d", uv_fs_copyfile(loop, &req, P("d"), P("dcopy"), 0, NULL));
    DO("copyfile to d", uv_fs_copyfile(loop, &req, P("f"), P("d"), 0, NULL));
    DO("copyfile f f", uv_fs_copyfile(loop, &req, P("f"), P("f"), 0, NULL));
    DO("copyfile bad flags", uv_fs_copyfile(loop, &req, P("f"), P("fcopy"), -1, NULL));
    DO("copyfile no loop, bad flags", uv_fs_copyfile(NULL, &req, P("f"), P("fcopy"), -1, NULL));
    DO("size f", size_of(P("f")));
    DO("access x", uv_fs_access(loop, &req, P("f"), X_OK, NULL));
    DO("chmod 755", uv_fs_chmod(loop, &req, P("f"), 0755, NULL));
    DO("access x", uv_fs_access(loop, &req, P("f"), X_OK, NULL));
    DO("scandir f", uv_fs_scandir(loop, &req, P("f"), 0, NULL));
    DO("opendir f", uv_fs_opendir(loop, &req, P("f"), NULL));
    DO("opendir none", uv_fs_opendir(loop, &req, P("none"), NULL));
    DO("mkstemp in none", FD(uv_fs_mkstemp(loop, &req, P("none/tXXXXXX"), NULL)));
    DO("realpath ..", (uv_fs_realpath(loop, &req, P("d/.."), NULL) == 0 &&
                       strcmp(strrchr(req.ptr, '/'), strrchr(root, '/')) == 0)
                          ? 0
                          : -1);

    /* tidy up */
    {
        uv_dirent_t e;
        if (uv_fs_scandir(loop, &req, root, 0, NULL) > 0)
            while (uv_fs_scandir_next(&req, &e) == 0) {
                uv_fs_t u;
                uv_fs_unlink(loop, &u, P(e.name), NULL);
                uv_fs_req_cleanup(&u);
                uv_fs_rmdir(loop, &u, P(e.name), NULL);
                uv_fs_req_cleanup(&u);
            }
        uv_fs_req_cleanup(&req);
    }
    DO("rmdir root", uv_fs_rmdir(loop, &req, root, NULL));
    return 0;
}
