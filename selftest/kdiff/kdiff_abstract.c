/* Linux's abstract unix names on sockets made with socket(2) (decision 146): bind with the whole
 * struct's length (sun_path's zeros are part of the name), getsockname, connects to the same text
 * as a path, to a name nobody bound and to the name as bound, then uv_pipe_open and
 * uv_pipe_getsockname of a bound socket, as libuv 1.40/1.44's pipe_getsockname_abstract does. */
#include <uv.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void named(struct sockaddr_un *a, const char *text, int abstract)
{
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    /* the pid keeps parallel runs on the real kernel apart (one abstract namespace per host) */
    snprintf(a->sun_path + abstract, sizeof(a->sun_path) - 1, "%s-%ld", text, (long)getpid());
}

static void report(const char *what, int r)
{
    printf("%s %d %s\n", what, r, r == 0 ? "" : strerror(errno));
}

int main(void)
{
    struct sockaddr_un a, got;
    socklen_t len;
    uv_pipe_t p;
    char buf[sizeof(a.sun_path) + 1];
    size_t size;
    int fd, cfd, r;

    named(&a, "kdiff-abstract", 1);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    report("bind", bind(fd, (struct sockaddr *)&a, sizeof(a)));
    len = sizeof(got);
    report("getsockname", getsockname(fd, (struct sockaddr *)&got, &len));
    printf("length %u same %d\n", (unsigned)len, memcmp(&got, &a, sizeof(a)) == 0);
    report("listen", listen(fd, 8));
    cfd = socket(AF_UNIX, SOCK_STREAM, 0);
    named(&a, "@kdiff-abstract", 0);
    report("connect to the text as a path", connect(cfd, (struct sockaddr *)&a, sizeof(a)));
    named(&a, "kdiff-nobody", 1);
    report("connect to a name nobody bound", connect(cfd, (struct sockaddr *)&a, sizeof(a)));
    named(&a, "kdiff-abstract", 1);
    report("connect to the name as bound", connect(cfd, (struct sockaddr *)&a, sizeof(a)));
    len = sizeof(got);
    report("getpeername", getpeername(cfd, (struct sockaddr *)&got, &len));
    printf("length %u same %d\n", (unsigned)len, memcmp(&got, &a, sizeof(a)) == 0);
    close(cfd);
    close(fd);

    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    report("bind again after the close", bind(fd, (struct sockaddr *)&a, sizeof(a)));
    uv_pipe_init(uv_default_loop(), &p, 0);
    printf("uv_pipe_open %d\n", uv_pipe_open(&p, fd));
    size = 4;
    r = uv_pipe_getsockname(&p, buf, &size);
    printf("uv_pipe_getsockname, 4 bytes %s size %zu\n", uv_err_name(r), size);
    size = sizeof(buf);
    r = uv_pipe_getsockname(&p, buf, &size);
    printf("uv_pipe_getsockname %d size %zu same %d\n", r, size,
           memcmp(buf, a.sun_path, size) == 0);
    uv_close((uv_handle_t *)&p, NULL);
    printf("run %d\n", uv_run(uv_default_loop(), UV_RUN_DEFAULT));
    return 0;
}
