/* dup(2), dup2(2), dup3(2) and fcntl's F_DUPFD / F_DUPFD_CLOEXEC on fake descriptors: as in
 * Linux (fs/file.c), a duplicate is one more number of the same open object. The object's state
 * (its bytes, O_NONBLOCK, a pipe's capacity) is shared; FD_CLOEXEC is the number's own (cleared
 * by dup, dup2 and F_DUPFD). A close of one number leaves the object to the others: a pipe's
 * reader sees end of file only once every number of the write end is closed.
 *
 * Each number is a real descriptor of /dev/null, as the first one (fd/table.c), so the kernel
 * never hands it to anything else. dup2 onto a real descriptor (0, 1, 2) replaces it, as the
 * kernel does; dup2 of a real descriptor onto a fake number closes the fake one first.
 *
 * A descriptor a uv handle owns (uv_pipe_open, uv_tcp_open, uv_udp_open, uv_fileno) is
 * duplicated as any other (libuv's iouring_pollhup keeps a duplicate of an adopted pipe's read
 * end open after the handle closes), but the copy, like a duplicate made before the adoption,
 * may only be closed: reading or writing through it would act behind libuv's back, and fails
 * the test naming the handle (decision 130). The adopted number is the handle's.
 */
#define _GNU_SOURCE 1 /* dup3, F_DUPFD_CLOEXEC */
#include "internal_fd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* Reached from fd/interpose.c, so that this file is linked (see there). */
const char ah__fd_interposer_dup = 0;

AH__LIBC(dup, 8, AH__LIBC_FD);
int dup(int fd)
{
    AH__REAL(dup);
    ah__fsock *fs = ah__fd_get(fd);

    if (fs == NULL)
        return real_dup(fd);
    return ah__fd_dup_from(fs, fd, 0, 0, "dup", AH__CALLER("dup"));
}

/* dup2 and dup3 (`flags` -1 for dup2). */
static int dup_onto(int fd, int to, int flags, const char *call, ah__site site)
{
    AH__REAL(fcntl);
    AH__REAL(dup3);
    ah__fsock *fs = ah__fd_get(fd), *old = ah__fd_get(to);
    int cloexec = flags > 0 && (flags & O_CLOEXEC);

    if (flags >= 0 && (flags & ~O_CLOEXEC))
        return ah__fd_fail_errno(EINVAL);
    if (fs == NULL && real_fcntl(fd, F_GETFD) < 0)
        return -1; /* EBADF: `to` is left alone */
    if (fd == to) {
        if (flags >= 0)
            return ah__fd_fail_errno(EINVAL);
        return to;
    }
    if (to < 0)
        return ah__fd_fail_errno(EBADF);
    (void)call;
    (void)site;
    if (old != NULL && old == fs) {
        /* Already a number of the same object: only FD_CLOEXEC changes. */
        ah__fd_number_cloexec(fs, to, cloexec);
        return to;
    }
    if (old != NULL)
        close(to); /* the kernel closes it silently; a handle's number fails there, by name */
    if (fs == NULL)
        return real_dup3(fd, to, cloexec ? O_CLOEXEC : 0);
    if (real_dup3(fs->fd, to, O_CLOEXEC) < 0)
        return -1;
    ah__fd_add_number(fs, to, cloexec);
    return to;
}

AH__LIBC(dup2, 9, AH__LIBC_FD);
int dup2(int fd, int to) { return dup_onto(fd, to, -1, "dup2", AH__CALLER("dup2")); }

AH__LIBC(dup3, 9, AH__LIBC_FD);
int dup3(int fd, int to, int flags) { return dup_onto(fd, to, flags, "dup3", AH__CALLER("dup3")); }
