/* Shared by the file-system selftests: a scratch directory in either mode, and short helpers. */
#ifndef AH_SELFTEST_FSKIT_H
#define AH_SELFTEST_FSKIT_H

#include <ah/ah.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* The scratch directory of the running test: a real temp dir (passthrough) or "/tmp/t"
 * (memory). */
static char fsroot[256];

static void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char p[512];

    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
            rm_rf(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Makes the scratch directory: memory != 0 switches the sim to the in-memory file system. */
static void fsroot_make(ah_sim *sim, int memory)
{
    uv_fs_t req;

    if (memory) {
        ah_fs_memory(sim);
        snprintf(fsroot, sizeof(fsroot), "/tmp/t");
        assert_int_equal(uv_fs_mkdir(uv_default_loop(), &req, fsroot, 0755, NULL), 0);
        uv_fs_req_cleanup(&req);
    } else {
        snprintf(fsroot, sizeof(fsroot), "%s/ahfs.XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        assert_non_null(mkdtemp(fsroot));
    }
}

static void fsroot_remove(ah_sim *sim)
{
    if (!ah_fs_is_memory(sim))
        rm_rf(fsroot);
}

/* fsroot + "/" + name, in a rotating static buffer. */
static const char *P(const char *name)
{
    static char bufs[8][512];
    static int i;
    char *b = bufs[i++ % 8];
    snprintf(b, 512, "%s/%s", fsroot, name);
    return b;
}

#endif
