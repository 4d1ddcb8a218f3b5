/* For the scenarios that call the C library's socket functions themselves: E("what", rc) prints
 * "what rc" for a success, or the errno's name for a failure, the same line on Linux and in the
 * sim. */
#ifndef NETDIFF_ERRNAMES_H
#define NETDIFF_ERRNAMES_H

#include "trace.h"

#include <errno.h>

static inline void errno_line(const char *what, long long r)
{
    static const struct {
        int e;
        const char *name;
    } names[] = {{EINPROGRESS, "EINPROGRESS"},
                 {EAGAIN, "EAGAIN"},
                 {ECONNREFUSED, "ECONNREFUSED"},
                 {ECONNRESET, "ECONNRESET"},
                 {EPIPE, "EPIPE"},
                 {ENOTCONN, "ENOTCONN"},
                 {EBADF, "EBADF"},
                 {EISCONN, "EISCONN"},
                 {EALREADY, "EALREADY"},
                 {EINVAL, "EINVAL"},
                 {EDESTADDRREQ, "EDESTADDRREQ"},
                 {EOPNOTSUPP, "EOPNOTSUPP"}};
    size_t i;
    int e = errno;

    if (r >= 0) {
        P("%s %lld", what, r);
        return;
    }
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].e == e) {
            P("%s %s", what, names[i].name);
            return;
        }
    P("%s errno %d", what, e);
}
#define E(what, r) errno_line((what), (long long)(r))

#endif
