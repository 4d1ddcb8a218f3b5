/* uv_pipe_t on the fake network: paths are addresses in the sim's own namespace (nothing touches
 * the file system). As libuv 1.44's src/unix/pipe.c: bind claims the path, connect errors (no
 * such path: UV_ENOENT; nobody listening: UV_ECONNREFUSED) come through the pending queue, a
 * successful connect through the next poll. IPC (passing handles) is not simulated. */
#include "internal_net.h"

#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

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

static int pipe_bind(uv_pipe_t *handle, const char *name, const char *fn)
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
    if ((err = folder_error(name)) != 0)
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
    return pipe_bind(handle, name, "uv_pipe_bind");
}

#if AH__UV_HAS_PIPE2
/* The checks uv_pipe_bind2 and uv_pipe_connect2 make on (name, namelen, flags), then the name
 * as a C string in `out` (truncated to sun_path's size as libuv does). */
static int pipe_name2(const char *name, size_t namelen, unsigned int flags, int bind, char *out,
                      size_t out_size, const char *fn)
{
    const size_t sun_path = sizeof(((struct sockaddr_un *)0)->sun_path);

    if (flags & ~(unsigned)UV_PIPE_NO_TRUNCATE)
        return UV_EINVAL;
    if (name == NULL)
        return UV_EINVAL;
    if (namelen == 0) {
        if (bind && AH__UV_PIPE_AUTOBIND)
            ah__fail(ah__sim(),
                     "%s with an empty name (Linux autobind in the abstract namespace) is not "
                     "simulated",
                     fn);
        return UV_EINVAL;
    }
    if (AH__UV_PIPE_NAME_NUL_EINVAL && memchr(name + 1, '\0', namelen - 1) != NULL)
        return UV_EINVAL;
    if ((flags & UV_PIPE_NO_TRUNCATE) && namelen > sun_path)
        return UV_EINVAL;
    if (namelen > sun_path)
        namelen = sun_path;
    if (name[0] == '\0')
        ah__fail(ah__sim(), "%s: abstract socket names (a leading NUL byte) are not simulated", fn);
    if (namelen >= out_size)
        namelen = out_size - 1;
    memcpy(out, name, namelen);
    out[namelen] = '\0';
    return 0;
}

int uv_pipe_bind2(uv_pipe_t *handle, const char *name, size_t namelen, unsigned int flags)
{
    AH__ENTRY("uv_pipe_bind2");
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    int err;

    ah__sock_of((uv_stream_t *)handle, "uv_pipe_bind2");
    err = pipe_name2(name, namelen, flags, 1, path, sizeof(path), "uv_pipe_bind2");
    return err != 0 ? err : pipe_bind(handle, path, "uv_pipe_bind2");
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
static void pipe_connect(uv_connect_t *req, uv_pipe_t *handle, const char *name, uv_connect_cb cb,
                         int err, ah__site site, const char *fn)
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
    int err = 0;
#if AH__UV_HAS_PIPE2
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];

    /* Since 1.46 uv_pipe_connect is uv_pipe_connect2(strlen(name)), whose argument errors
     * reach the callback. */
    if (name != NULL) {
        err = pipe_name2(name, strlen(name), 0, 0, path, sizeof(path), "uv_pipe_connect");
        if (err == 0)
            name = path;
    }
#endif
    pipe_connect(req, handle, name, cb, err, site, "uv_pipe_connect");
}

#if AH__UV_HAS_PIPE2
int uv_pipe_connect2(uv_connect_t *req, uv_pipe_t *handle, const char *name, size_t namelen,
                     unsigned int flags, uv_connect_cb cb)
{
    ah__site site = AH__CALLER("uv_pipe_connect2");
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    int err;

    ah__sock_of((uv_stream_t *)handle, "uv_pipe_connect2");
    err = pipe_name2(name, namelen, flags, 0, path, sizeof(path), "uv_pipe_connect2");
    if (err != 0)
        return err; /* no request was started */
    pipe_connect(req, handle, path, cb, 0, site, "uv_pipe_connect2");
    return 0;
}
#endif

static int pipe_name(const uv_pipe_t *handle, const ah__addr *a, char *buffer, size_t *size,
                     const char *fn)
{
    size_t len;

    if (buffer == NULL || size == NULL)
        ah__fail(ah__sim(), "%s: called with a NULL buffer or size", fn);
    (void)handle;
    len = a->family == AF_UNIX ? strlen(a->str) : 0;
    if (len >= *size) {
        *size = len + 1;
        return UV_ENOBUFS;
    }
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

    if (ah__is_closing((const uv_handle_t *)handle) || handle->io_watcher.fd == -1) {
        if (size != NULL)
            *size = 0;
        return UV_EBADF;
    }
    if (s->conn == NULL || handle->connect_req != NULL) {
        if (size != NULL)
            *size = 0;
        return UV_ENOTCONN;
    }
    return pipe_name(handle, &s->remote, buffer, size, "uv_pipe_getpeername");
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
