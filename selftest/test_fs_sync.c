/* Synchronous uv_fs_* (NULL callback) in both modes: the same calls give the same results, error
 * codes and request fields on real files (passthrough) and on the in-memory file system. */
#include "fskit.h"

#define L uv_default_loop()

static ssize_t write_str(uv_file fd, const char *s, int64_t off)
{
    uv_fs_t req;
    uv_buf_t b = uv_buf_init((char *)s, (unsigned)strlen(s));
    ssize_t r = uv_fs_write(L, &req, fd, &b, 1, off, NULL);
    assert_int_equal(r, req.result);
    uv_fs_req_cleanup(&req);
    return r;
}

static void files_and_descriptors(ah_sim *sim, int memory)
{
    uv_fs_t req;
    char buf[64];
    uv_buf_t b = uv_buf_init(buf, sizeof(buf));
    uv_file fd;

    fsroot_make(sim, memory);
    /* open: missing file, then created */
    assert_int_equal(uv_fs_open(L, &req, P("f"), O_RDONLY, 0, NULL), UV_ENOENT);
    assert_int_equal(req.result, UV_ENOENT);
    assert_int_equal(uv_fs_get_type(&req), UV_FS_OPEN);
    assert_string_equal(uv_fs_get_path(&req), P("f"));
    assert_int_equal(uv_fs_get_system_error(&req), ENOENT);
    uv_fs_req_cleanup(&req);
    fd = uv_fs_open(L, &req, P("f"), O_RDWR | O_CREAT, 0644, NULL);
    assert_true(fd >= 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_open(L, &req, P("f"), O_RDWR | O_CREAT | O_EXCL, 0644, NULL), UV_EEXIST);
    uv_fs_req_cleanup(&req);

    /* write at the position, at an offset, read back */
    assert_int_equal(write_str(fd, "hello", -1), 5);
    assert_int_equal(write_str(fd, "J", 0), 1);
    assert_int_equal(write_str(fd, " world", -1), 6);
    assert_int_equal(uv_fs_read(L, &req, fd, &b, 1, 0, NULL), 11);
    assert_memory_equal(buf, "Jello world", 11);
    assert_null(req.bufs);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_read(L, &req, fd, &b, 1, -1, NULL), 0); /* at the end */
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_read(L, &req, fd, NULL, 0, 0, NULL), UV_EINVAL);
    uv_fs_req_cleanup(&req);

    /* fstat, ftruncate, fsync */
    assert_int_equal(uv_fs_fstat(L, &req, fd, NULL), 0);
    assert_ptr_equal(req.ptr, &req.statbuf);
    assert_int_equal(req.statbuf.st_size, 11);
    assert_true(S_ISREG(req.statbuf.st_mode));
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_ftruncate(L, &req, fd, 4, NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_fsync(L, &req, fd, NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_fdatasync(L, &req, fd, NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_stat(L, &req, P("f"), NULL), 0);
    assert_int_equal(req.statbuf.st_size, 4);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_futime(L, &req, fd, 1000.5, 2000.25, NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_fchmod(L, &req, fd, 0600, NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_fstat(L, &req, fd, NULL), 0);
    assert_int_equal(req.statbuf.st_mtim.tv_sec, 2000);
    assert_int_equal(req.statbuf.st_atim.tv_sec, 1000);
    assert_int_equal(req.statbuf.st_mode & 07777, 0600);
    uv_fs_req_cleanup(&req);

    /* close, then the descriptor is bad */
    assert_int_equal(uv_fs_close(L, &req, fd, NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_close(L, &req, fd, NULL), UV_EBADF);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_read(L, &req, fd, &b, 1, 0, NULL), UV_EBADF);
    uv_fs_req_cleanup(&req);

    /* a read-only descriptor refuses writes; a directory refuses a write open */
    fd = uv_fs_open(L, &req, P("f"), O_RDONLY, 0, NULL);
    uv_fs_req_cleanup(&req);
    assert_int_equal(write_str(fd, "x", -1), UV_EBADF);
    assert_int_equal(uv_fs_ftruncate(L, &req, fd, 0, NULL), UV_EINVAL);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_close(L, &req, fd, NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_open(L, &req, fsroot, O_WRONLY, 0, NULL), UV_EISDIR);
    uv_fs_req_cleanup(&req);
    fd = uv_fs_open(L, &req, P("f"), O_WRONLY | O_APPEND, 0, NULL);
    uv_fs_req_cleanup(&req);
    assert_int_equal(write_str(fd, "++", 0), 2); /* O_APPEND wins over the offset */
    assert_int_equal(uv_fs_close(L, &req, fd, NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_stat(L, &req, P("f"), NULL), 0);
    assert_int_equal(req.statbuf.st_size, 6);
    uv_fs_req_cleanup(&req);
    fsroot_remove(sim);
}

static void files_passthrough(void **state) { files_and_descriptors(*state, 0); }
static void files_memory(void **state) { files_and_descriptors(*state, 1); }

static void names_and_directories(ah_sim *sim, int memory)
{
    uv_fs_t req;
    uv_dirent_t ent;
    uv_dirent_t dents[2];
    uv_dir_t *dir;
    char names[128] = "";
    uv_file fd;
    int n;

    fsroot_make(sim, memory);
    assert_int_equal(uv_fs_mkdir(L, &req, P("d"), 0755, NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_mkdir(L, &req, P("d"), 0755, NULL), UV_EEXIST);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_mkdir(L, &req, P("no/d"), 0755, NULL), UV_ENOENT);
    uv_fs_req_cleanup(&req);
    fd = uv_fs_open(L, &req, P("d/b"), O_WRONLY | O_CREAT, 0644, NULL);
    uv_fs_req_cleanup(&req);
    uv_fs_close(L, &req, fd, NULL);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_mkdir(L, &req, P("d/a"), 0755, NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_symlink(L, &req, "b", P("d/c"), 0, NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_open(L, &req, P("d/b/x"), O_RDONLY, 0, NULL), UV_ENOTDIR);
    uv_fs_req_cleanup(&req);

    /* scandir: sorted, without . and .., typed; read to the end frees the entries */
    assert_int_equal(uv_fs_scandir(L, &req, P("d"), 0, NULL), 3);
    while (uv_fs_scandir_next(&req, &ent) == 0)
        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s:%d ", ent.name,
                 (int)ent.type);
    assert_string_equal(names, "a:2 b:1 c:3 ");
    assert_null(req.ptr);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_scandir(L, &req, P("d/a"), 0, NULL), 0);
    assert_null(req.ptr);
    assert_int_equal(uv_fs_scandir_next(&req, &ent), UV_EOF);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_scandir(L, &req, P("d/b"), 0, NULL), UV_ENOTDIR);
    assert_int_equal(uv_fs_scandir_next(&req, &ent), UV_ENOTDIR);
    uv_fs_req_cleanup(&req);

    /* opendir/readdir/closedir, two entries at a time */
    assert_int_equal(uv_fs_opendir(L, &req, P("d"), NULL), 0);
    dir = req.ptr;
    uv_fs_req_cleanup(&req);
    dir->dirents = dents;
    dir->nentries = 2;
    names[0] = '\0';
    while ((n = uv_fs_readdir(L, &req, dir, NULL)) > 0) {
        int i;
        for (i = 0; i < n; i++)
            snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s ", dents[i].name);
        uv_fs_req_cleanup(&req);
    }
    assert_int_equal(n, 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(strlen(names), strlen("a b c ")); /* readdir's order is the system's */
    assert_int_equal(uv_fs_closedir(L, &req, dir, NULL), 0);
    assert_null(req.ptr);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_readdir(L, &req, NULL, NULL), UV_EINVAL);
    uv_fs_req_cleanup(&req);

    /* links */
    assert_int_equal(uv_fs_readlink(L, &req, P("d/c"), NULL), 0);
    assert_string_equal(req.ptr, "b");
    uv_fs_req_cleanup(&req);
    assert_null(req.ptr);
    assert_int_equal(uv_fs_readlink(L, &req, P("d/b"), NULL), UV_EINVAL);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_lstat(L, &req, P("d/c"), NULL), 0);
    assert_true(S_ISLNK(req.statbuf.st_mode));
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_stat(L, &req, P("d/c"), NULL), 0);
    assert_true(S_ISREG(req.statbuf.st_mode));
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_link(L, &req, P("d/b"), P("d/h"), NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_link(L, &req, P("d/b"), P("d/h"), NULL), UV_EEXIST);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_stat(L, &req, P("d/h"), NULL), 0);
    assert_int_equal(req.statbuf.st_nlink, 2);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_realpath(L, &req, P("d/a/../c"), NULL), 0);
    if (memory)
        assert_string_equal(req.ptr, "/tmp/t/d/b");
    else
        assert_string_equal(strrchr(req.ptr, '/'), "/b");
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_realpath(L, &req, P("d/zz"), NULL), UV_ENOENT);
    uv_fs_req_cleanup(&req);

    /* rename, copyfile, access, chmod, utime */
    assert_int_equal(uv_fs_rename(L, &req, P("d/h"), P("d/a/h2"), NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_rename(L, &req, P("d/h"), P("d/a/h2"), NULL), UV_ENOENT);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_rename(L, &req, P("d"), P("d/a/in"), NULL), UV_EINVAL);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_copyfile(L, &req, P("d/b"), P("d/copy"), 0, NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_copyfile(L, &req, P("d/b"), P("d/copy"), UV_FS_COPYFILE_EXCL, NULL),
                     UV_EEXIST);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_access(L, &req, P("d/copy"), F_OK, NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_access(L, &req, P("d/none"), F_OK, NULL), UV_ENOENT);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_chmod(L, &req, P("d/copy"), 0640, NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_utime(L, &req, P("d/copy"), 10, 20, NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_lutime(L, &req, P("d/c"), 10, 30, NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_stat(L, &req, P("d/copy"), NULL), 0);
    assert_int_equal(req.statbuf.st_mode & 0777, 0640);
    assert_int_equal(req.statbuf.st_mtim.tv_sec, 20);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_chown(L, &req, P("d/copy"), (uv_uid_t)-1, (uv_gid_t)-1, NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_lchown(L, &req, P("d/c"), (uv_uid_t)-1, (uv_gid_t)-1, NULL), 0);
    uv_fs_req_cleanup(&req);

    /* removal */
    assert_int_equal(uv_fs_rmdir(L, &req, P("d"), NULL), UV_ENOTEMPTY);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_rmdir(L, &req, P("d/b"), NULL), UV_ENOTDIR);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_unlink(L, &req, P("d/a"), NULL), UV_EISDIR);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_unlink(L, &req, P("d/a/h2"), NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_rmdir(L, &req, P("d/a"), NULL), 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_unlink(L, &req, P("d/a"), NULL), UV_ENOENT);
    uv_fs_req_cleanup(&req);

    /* temporary names: the template is copied and filled, even for a synchronous call */
    {
        char tpl[300];
        snprintf(tpl, sizeof(tpl), "%s", P("tmpXXXXXX"));
        assert_int_equal(uv_fs_mkdtemp(L, &req, tpl, NULL), 0);
        assert_ptr_not_equal(req.path, tpl);
        assert_string_equal(tpl, P("tmpXXXXXX"));
        assert_int_equal(strlen(req.path), strlen(tpl));
        assert_string_not_equal(req.path, tpl);
        uv_fs_req_cleanup(&req);
        fd = uv_fs_mkstemp(L, &req, tpl, NULL);
        assert_true(fd >= 0);
        uv_fs_req_cleanup(&req);
        uv_fs_close(L, &req, fd, NULL);
        uv_fs_req_cleanup(&req);
        assert_int_equal(uv_fs_mkdtemp(L, &req, P("bad"), NULL), UV_EINVAL);
        uv_fs_req_cleanup(&req);
        assert_int_equal(uv_fs_mkstemp(L, &req, P("bad"), NULL), UV_EINVAL);
        assert_string_equal(req.path, "");
        uv_fs_req_cleanup(&req);
    }

    assert_int_equal(uv_fs_statfs(L, &req, fsroot, NULL), 0);
    assert_true(((uv_statfs_t *)req.ptr)->f_bsize > 0);
    uv_fs_req_cleanup(&req);
    assert_int_equal(uv_fs_statfs(L, &req, P("none"), NULL), UV_ENOENT);
    uv_fs_req_cleanup(&req);
    fsroot_remove(sim);
}

static void names_passthrough(void **state) { names_and_directories(*state, 0); }
static void names_memory(void **state) { names_and_directories(*state, 1); }

static void memory_mode_is_isolated_from_real_files(void **state)
{
    ah_sim *sim = *state;
    uv_fs_t req;
    char buf[16];

    ah_fs_memory(sim);
    assert_int_equal(uv_fs_stat(L, &req, "/etc/passwd", NULL), UV_ENOENT);
    uv_fs_req_cleanup(&req);
    assert_int_equal(ah_fs_put(sim, "/tmp/seed", "abc", 3), 0);
    assert_int_equal(ah_fs_get(sim, "/tmp/seed", buf, sizeof(buf)), 3);
    assert_memory_equal(buf, "abc", 3);
    assert_int_equal(ah_fs_get(sim, "/tmp/none", buf, sizeof(buf)), UV_ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(files_passthrough),
        ah_unit_test(files_memory),
        ah_unit_test(names_passthrough),
        ah_unit_test(names_memory),
        ah_unit_test(memory_mode_is_isolated_from_real_files),
    };
    return ah_run_tests(tests);
}
