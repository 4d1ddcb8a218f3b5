/* uv_pipe_t on the fake network: paths are addresses in the sim's own namespace (nothing touches
 * the file system). As libuv 1.44's src/unix/pipe.c: bind claims the path, connect errors (no
 * such path: UV_ENOENT; nobody listening: UV_ECONNREFUSED) come through the pending queue, a
 * successful connect through the next poll. IPC (passing handles) is not simulated. */
#include "internal_net.h"

#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

int uv_pipe_init(uv_loop_t *loop, uv_pipe_t *handle, int ipc)
{
    ah__site site = AH__CALLER("uv_pipe_init");

    ah__listen_hooks[UV_NAMED_PIPE] = ah__pipe_listen;
    ah__stream_init(loop, (uv_stream_t *)handle, UV_NAMED_PIPE, site);
    handle->pipe_fname = NULL;
    handle->ipc = ipc;
    return 0;
}

/* bind(2) of a unix socket fails when the folder of its path is missing (ENOENT, which libuv
 * turns into UV_EACCES for compatibility with Windows) or is not a folder. The socket file
 * itself is the sim's, but its folder is the real file system's. */
static int folder_error(const char *path)
{
    char dir[AH__ADDR_MAX];
    const char *slash = strrchr(path, '/');
    struct stat st;

    if (slash == NULL)
        return 0; /* the working directory */
    if (slash == path)
        return 0; /* "/" */
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) != 0)
        return errno == ENOENT ? UV_EACCES : errno == ENOTDIR ? UV_ENOTDIR : 0;
    return S_ISDIR(st.st_mode) ? 0 : UV_ENOTDIR;
}

/* An abstract name ("\0name", Linux's namespace without files) is kept as "@name", as Linux's
 * tools show it, with the address's `abstract` set: it never meets a path "@name" (decision 141).
 */
static int pipe_bind(uv_pipe_t *handle, const char *name, int abstract, const char *fn)
{
    ah__sock *s = ah__sock_of((uv_stream_t *)handle, fn);
    ah__route *r;
    ah__addr a;
    int err;

    if (handle->io_watcher.fd >= 0)
        return UV_EINVAL;
    if (ah__is_closing((uv_handle_t *)handle))
        return UV_EINVAL;
    if (name == NULL)
        ah__fail(s->net->sim, "%s: called with a NULL name", fn);
    if (ah__addr_parse(name, 0, &a) != 0)
        return UV_EINVAL;
    a.abstract = abstract;
    if (!abstract && (err = folder_error(name)) != 0)
        return err;
    r = ah__route_get(s->net, &a);
    if (r->bound != NULL || ah__route_listens(r))
        return UV_EADDRINUSE; /* the socket file exists */
    r->bound = s;
    s->bound_route = r;
    s->local = a;
    s->bound = 1;
    ah__sock_give_fd(s);
    handle->flags |= AH__SF_BOUND;
    /* libuv keeps a copy of the path to unlink at close (none for an abstract name); the
     * sim's copy lives as long as the handle's socket, and the close clears the field. */
    handle->pipe_fname = abstract ? NULL : s->local.str;
    return 0;
}

int uv_pipe_bind(uv_pipe_t *handle, const char *name)
{
    AH__ENTRY("uv_pipe_bind");
#if AH__UV_HAS_PIPE2
    /* Since 1.46 uv_pipe_bind is uv_pipe_bind2(strlen(name)). */
    if (name != NULL)
        return uv_pipe_bind2(handle, name, strlen(name), 0);
#endif
    return pipe_bind(handle, name, 0, "uv_pipe_bind");
}

#if AH__UV_HAS_PIPE2
/* The checks uv_pipe_bind2 and uv_pipe_connect2 make on (name, namelen, flags), then the name
 * as a C string in `out` (truncated to sun_path's size as libuv does). */
/* Returns 0 with the name in `out` ("@name" and *abstract set for an abstract name), 1 for an
 * empty name to autobind, or UV_EINVAL. */
static int pipe_name2(const char *name, size_t namelen, unsigned int flags, int bind, char *out,
                      size_t out_size, int *abstract)
{
    const size_t sun_path = sizeof(((struct sockaddr_un *)0)->sun_path);

    if (flags & ~(unsigned)UV_PIPE_NO_TRUNCATE)
        return UV_EINVAL;
    if (name == NULL)
        return UV_EINVAL;
    *abstract = 0;
    if (namelen == 0)
        return bind && AH__UV_PIPE_AUTOBIND ? 1 : UV_EINVAL;
    if (AH__UV_PIPE_NAME_NUL_EINVAL && memchr(name + 1, '\0', namelen - 1) != NULL)
        return UV_EINVAL;
    if ((flags & UV_PIPE_NO_TRUNCATE) && namelen > sun_path)
        return UV_EINVAL;
    if (namelen > sun_path)
        namelen = sun_path;
    if (name[0] == '\0') {
        /* Before 1.48 a NUL inside an abstract name was taken; the sim's names end there. */
        *abstract = 1;
        namelen = strnlen(name + 1, namelen - 1) + 1;
        out[0] = '@';
        name++;
        namelen--;
        out++;
        out_size--;
    }
    if (namelen >= out_size)
        namelen = out_size - 1;
    memcpy(out, name, namelen);
    out[namelen] = '\0';
    return 0;
}

int uv_pipe_bind2(uv_pipe_t *handle, const char *name, size_t namelen, unsigned int flags)
{
    AH__ENTRY("uv_pipe_bind2");
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 2];
    ah__sock *s = ah__sock_of((uv_stream_t *)handle, "uv_pipe_bind2");
    int err, abstract;

    err = pipe_name2(name, namelen, flags, 1, path, sizeof(path), &abstract);
    if (err == 1) {
        /* Linux's autobind: five hex digits in the abstract namespace, here counted per sim
         * from 00000 (Linux draws them), so that a seed replays. */
        snprintf(path, sizeof(path), "@%05x", (unsigned)(s->net->next_autobind++ & 0xfffff));
        abstract = 1;
        err = 0;
    }
    return err != 0 ? err : pipe_bind(handle, path, abstract, "uv_pipe_bind2");
}
#endif

int ah__pipe_listen(ah__sock *s, int backlog, uv_connection_cb cb)
{
    uv_pipe_t *p = (uv_pipe_t *)s->stream;

    (void)backlog;
    if (p->io_watcher.fd == -1)
        return UV_EINVAL;
    if (p->ipc)
        return UV_EINVAL;
    if (!s->bound || s->bound_route == NULL)
        return UV_EINVAL; /* listen(2) on a connected unix socket */
    return ah__sock_listen(s, s->bound_route, cb);
}

/* uv_pipe_connect, and uv_pipe_connect2 once its arguments passed: errors come through the
 * callback. `err` is an error found before connecting. */
static void pipe_connect(uv_connect_t *req, uv_pipe_t *handle, const char *name, int abstract,
                         uv_connect_cb cb, int err, ah__site site, const char *fn)
{
    ah__sock *s;

    ah__handle_require_open((uv_handle_t *)handle, fn);
    s = ah__sock_of((uv_stream_t *)handle, fn);
    if (req == NULL || name == NULL)
        ah__fail(s->net->sim, "%s: called with a NULL %s", fn, req == NULL ? "request" : "name");
    if (handle->connect_req != NULL)
        ah__fail(s->net->sim,
                 "%s on a pipe that is already connecting (libuv would lose the first request)",
                 fn);
    if (err != 0) {
    } else if (s->conn != NULL || (handle->flags & AH__SF_LISTENING)) {
        err = UV_EISCONN;
    } else if (ah__addr_parse(name, 0, &s->remote) != 0) {
        err = UV_EINVAL;
    } else {
        s->remote.abstract = abstract;
        if (handle->io_watcher.fd == -1)
            handle->flags |= AH__SF_READABLE | AH__SF_WRITABLE;
        ah__sock_give_fd(s);
        handle->flags |= AH__SF_READABLE | AH__SF_WRITABLE;
        if (!s->bound)
            memset(&s->local, 0, sizeof(s->local)); /* an unnamed socket */
        s->local.family = AF_UNIX;
        ah__sock_set_label(s);
    }
    ah__stream_connect_begin(s, req, cb, site);
    if (err != 0)
        ah__sock_connect_pending(s, err);
    else
        ah__net_connect(s);
}

void uv_pipe_connect(uv_connect_t *req, uv_pipe_t *handle, const char *name, uv_connect_cb cb)
{
    ah__site site = AH__CALLER("uv_pipe_connect");
    int err = 0, abstract = 0;
#if AH__UV_HAS_PIPE2
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 2];

    /* Since 1.46 uv_pipe_connect is uv_pipe_connect2(strlen(name)), whose argument errors
     * reach the callback. */
    if (name != NULL) {
        err = pipe_name2(name, strlen(name), 0, 0, path, sizeof(path), &abstract);
        if (err == 0)
            name = path;
    }
#endif
    pipe_connect(req, handle, name, abstract, cb, err, site, "uv_pipe_connect");
}

#if AH__UV_HAS_PIPE2
int uv_pipe_connect2(uv_connect_t *req, uv_pipe_t *handle, const char *name, size_t namelen,
                     unsigned int flags, uv_connect_cb cb)
{
    ah__site site = AH__CALLER("uv_pipe_connect2");
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 2];
    int err, abstract;

    ah__sock_of((uv_stream_t *)handle, "uv_pipe_connect2");
    err = pipe_name2(name, namelen, flags, 0, path, sizeof(path), &abstract);
    if (err != 0)
        return err; /* no request was started */
    pipe_connect(req, handle, path, abstract, cb, 0, site, "uv_pipe_connect2");
    return 0;
}
#endif

static int pipe_name(const uv_pipe_t *handle, const ah__addr *a, char *buffer, size_t *size,
                     const char *fn)
{
    size_t len;

    if (size == NULL)
        ah__fail(ah__sim(), "%s: called with a NULL size", fn);
    (void)handle;
    len = a->family == AF_UNIX ? strlen(a->str) : 0;
    if (a->abstract) {
        /* "\0name" and the NULs bind(2) was given after it (decision 146), not terminated:
         * since 1.50 it fits in exactly its length. */
        len += (size_t)a->abstract_pad;
        if (len > *size || (!AH__UV_PIPE_NAME_ARGS_EINVAL && len == *size)) {
            *size = AH__UV_PIPE_NAME_ARGS_EINVAL ? len : len + 1;
            return UV_ENOBUFS;
        }
        if (buffer == NULL)
            ah__fail(ah__sim(), "%s: called with a NULL buffer of %zu bytes", fn, *size);
        buffer[0] = '\0';
        memcpy(buffer + 1, a->str + 1, len - 1 - (size_t)a->abstract_pad);
        memset(buffer + len - a->abstract_pad, 0, (size_t)a->abstract_pad);
        *size = len;
        return 0;
    }
    if (len >= *size) {
        *size = len + 1;
        return UV_ENOBUFS;
    }
    if (buffer == NULL)
        ah__fail(ah__sim(),
                 "%s: called with a NULL buffer of %zu bytes (libuv would write through it)", fn,
                 *size);
    memcpy(buffer, a->str, len);
    *size = len;
    if (len == 0 || buffer[0] != '\0')
        buffer[len] = '\0';
    return 0;
}

int uv_pipe_getsockname(const uv_pipe_t *handle, char *buffer, size_t *size)
{
    AH__ENTRY("uv_pipe_getsockname");
    ah__sock *s = ah__sock_of((const uv_stream_t *)handle, "uv_pipe_getsockname");

#if AH__UV_PIPE_NAME_ARGS_EINVAL
    if (buffer == NULL || size == NULL || *size == 0)
        return UV_EINVAL;
#endif
    if (ah__is_closing((const uv_handle_t *)handle) || handle->io_watcher.fd == -1) {
        if (size != NULL)
            *size = 0;
        return UV_EBADF;
    }
    return pipe_name(handle, &s->local, buffer, size, "uv_pipe_getsockname");
}

int uv_pipe_getpeername(const uv_pipe_t *handle, char *buffer, size_t *size)
{
    AH__ENTRY("uv_pipe_getpeername");
    ah__sock *s = ah__sock_of((const uv_stream_t *)handle, "uv_pipe_getpeername");

#if AH__UV_PIPE_NAME_ARGS_EINVAL
    if (buffer == NULL || size == NULL || *size == 0)
        return UV_EINVAL;
#endif
    if (ah__is_closing((const uv_handle_t *)handle) || handle->io_watcher.fd == -1) {
        if (size != NULL)
            *size = 0;
        return UV_EBADF;
    }
    /* A unix socket is connected once connect(2) returned (decision 140): its peer's name is
     * known before the connect callback. */
    if (s->conn == NULL) {
        if (size != NULL)
            *size = 0;
        return UV_ENOTCONN;
    }
    return pipe_name(handle, &s->remote, buffer, size, "uv_pipe_getpeername");
}

/* uv_pipe_chmod: libuv chmods the file at the socket's name. The sim's pipe names are no files,
 * so the first uv_pipe_chmod of a bound path makes its socket file for real (a unix socket bound
 * there by a real socket that is closed at once: nothing outside the sim can connect), which
 * the pipe's close unlinks, as libuv's does (decision 143). */
int uv_pipe_chmod(uv_pipe_t *handle, int mode)
{
    AH__ENTRY("uv_pipe_chmod");
    unsigned desired = 0;
    struct sockaddr_un sa;
    struct stat st;
    const char *path;
    ah__sock *s;
    long fd;

    if (handle == NULL || handle->io_watcher.fd == -1)
        return UV_EBADF;
    s = ah__sock_of((uv_stream_t *)handle, "uv_pipe_chmod");
    if (mode != UV_READABLE && mode != UV_WRITABLE && mode != (UV_WRITABLE | UV_READABLE))
        return UV_EINVAL;
    /* libuv stats the name uv_pipe_getsockname gives: an unnamed or abstract socket's is
     * empty (or starts with a NUL), which no file has. */
    path = s->local.str;
    if (s->local.family != AF_UNIX || s->local.abstract || path[0] == '\0')
        return UV_ENOENT;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT || s->bound_route == NULL || s->made_file)
            return -errno;
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        /* Straight to the kernel: socket(2) and bind(2) of the program are the sim's. */
        fd = syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        if (syscall(SYS_bind, fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            int err = -errno;
            syscall(SYS_close, fd);
            return err;
        }
        syscall(SYS_close, fd);
        s->made_file = 1;
        if (stat(path, &st) != 0)
            return -errno;
    }
    if (mode & UV_READABLE)
        desired |= S_IRUSR | S_IRGRP | S_IROTH;
    if (mode & UV_WRITABLE)
        desired |= S_IWUSR | S_IWGRP | S_IWOTH;
    if ((st.st_mode & desired) == desired)
        return 0;
    return chmod(path, st.st_mode | desired) != -1 ? 0 : -errno;
}

void uv_pipe_pending_instances(uv_pipe_t *handle, int count)
{
    AH__ENTRY("uv_pipe_pending_instances");
    (void)count;
    ah__sock_of((uv_stream_t *)handle, "uv_pipe_pending_instances");
}

int uv_pipe_pending_count(uv_pipe_t *handle)
{
    AH__ENTRY("uv_pipe_pending_count");
    ah__sock *s = ah__sock_of((uv_stream_t *)handle, "uv_pipe_pending_count");
    return handle->ipc ? ah__sock_pending_count(s) : 0;
}

uv_handle_type uv_pipe_pending_type(uv_pipe_t *handle)
{
    AH__ENTRY("uv_pipe_pending_type");
    ah__sock *s = ah__sock_of((uv_stream_t *)handle, "uv_pipe_pending_type");
    return handle->ipc ? ah__sock_pending_type(s) : UV_UNKNOWN_HANDLE;
}

ah__conn *ah__pipe_open_pair(uv_pipe_t *p, int readable, int writable, const char *label)
{
    ah__sock *s = ah__sock_of((uv_stream_t *)p, "uv_spawn");
    ah__route *route;
    ah__conn *c;
    ah__addr a;

    if (p->io_watcher.fd != -1 || s->conn != NULL)
        return NULL;
    /* A socketpair has no address: the route (its faults: chunking, latency) is keyed by the
     * label, which no user path can take ("<...>"). */
    if (ah__addr_parse(label, 0, &a) != 0)
        ah__addr_parse("<pipe>", 0, &a);
    route = ah__route_get(s->net, &a);
    memset(&s->local, 0, sizeof(s->local));
    s->local.family = AF_UNIX;
    s->remote = s->local; /* unnamed, as a socketpair's ends */
    c = ah__conn_new(s->net, UV_NAMED_PIPE, route, p->loop, &s->local, &a);
    snprintf(c->label, sizeof(c->label), "%s", label);
    ah__sock_give_fd(s);
    if (readable)
        p->flags |= AH__SF_READABLE;
    if (writable)
        p->flags |= AH__SF_WRITABLE;
    ah__sock_attach(s, c, 0);
    snprintf(((ah__hrec *)p->u.reserved[0])->label, sizeof(((ah__hrec *)p->u.reserved[0])->label),
             "%s", label);
    return c;
}
