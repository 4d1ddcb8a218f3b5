/* socketpair(AF_UNIX, SOCK_DGRAM and SOCK_SEQPACKET) on the kernel and on the harness
 * (fd/unixdgram.c): message boundaries, zero-length messages, truncation and MSG_TRUNC, FIONREAD,
 * the capacity of the send buffer (small and large messages until EAGAIN), EMSGSIZE, poll's bits,
 * and what each type does once the peer is closed. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#ifndef POLLRDHUP /* ah/sites.h may have read <poll.h> before _GNU_SOURCE */
#define POLLRDHUP 0x2000
#endif
static const char *res(long r)
{
    static char b[64];
    if (r < 0)
        snprintf(b, 64, "-1 %s", strerror(errno));
    else
        snprintf(b, 64, "%ld", r);
    return b;
}
static short rev(int fd)
{
    struct pollfd pf = {fd, POLLIN | POLLOUT | POLLRDHUP, 0};
    poll(&pf, 1, 0);
    return pf.revents;
}
static void run(int type, const char *name)
{
    int sv[2], n, i;
    char b[1000] = {0}; /* the 1000-byte messages are sent from it */
    struct msghdr m;
    struct iovec iov;
    struct sockaddr_un sa;
    printf("== %s\n", name);
    printf("socketpair %s\n", res(socketpair(AF_UNIX, type | SOCK_NONBLOCK, 0, sv)));
    printf("revents %d %d\n", rev(sv[0]), rev(sv[1]));
    printf("read empty %s\n", res(read(sv[0], b, 64)));
    printf("send 5 %s\n", res(send(sv[1], "hello", 5, 0)));
    printf("send 3 %s\n", res(send(sv[1], "abc", 3, 0)));
    printf("send 0 %s\n", res(send(sv[1], "", 0, 0)));
    ioctl(sv[0], FIONREAD, &n);
    printf("fionread %d\n", n);
    printf("revents %d %d\n", rev(sv[0]), rev(sv[1]));
    printf("recv 2 %s\n", res(recv(sv[0], b, 2, 0)));
    printf("recv trunc %s\n", res(recv(sv[0], b, 1, MSG_TRUNC)));
    memset(&m, 0, sizeof m);
    iov.iov_base = b;
    iov.iov_len = 64;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_name = &sa;
    m.msg_namelen = sizeof sa;
    /* An unnamed peer has no address: Linux leaves msg_namelen as given, and ASan's recvmsg
     * interceptor answers 0; both are "no name" (a name would be shorter than sizeof sa). */
    printf("recvmsg %s flags %d namelen %s\n", res(recvmsg(sv[0], &m, 0)), m.msg_flags,
           m.msg_namelen == 0 || m.msg_namelen == sizeof sa ? "none" : "some");
    printf("read empty %s\n", res(read(sv[0], b, 64)));
    for (i = 0; i < 100000; i++)
        if (send(sv[1], b, 10, 0) < 0)
            break;
    printf("sent 10-byte msgs %d %s\n", i, strerror(errno));
    printf("revents %d %d\n", rev(sv[0]), rev(sv[1]));
    for (n = 0; recv(sv[0], b, 64, 0) > 0; n++)
        ;
    printf("drained %d\n", n);
    for (i = 0; i < 100000; i++)
        if (send(sv[1], b, 1000, 0) < 0)
            break;
    printf("sent 1000-byte msgs %d %s\n", i, strerror(errno));
    for (n = 0; recv(sv[0], b, 64, 0) > 0; n++)
        ;
    {
        static char big[300000];
        printf("send big %s\n", res(send(sv[1], big, 212960, 0)));
        printf("send big+1 %s\n", res(send(sv[1], big, 212961, 0)));
        printf("recv big %s\n", res(recv(sv[0], big, sizeof big, 0)));
    }
    printf("close 1 %s\n", res(close(sv[1])));
    printf("revents %d\n", rev(sv[0]));
    printf("read after close %s\n", res(read(sv[0], b, 64)));
    printf("send after close %s\n", res(send(sv[0], "x", 1, 0)));
    printf("send after close %s\n", res(send(sv[0], "x", 1, 0)));
    printf("revents %d\n", rev(sv[0]));
    close(sv[0]);
    printf("socketpair %s\n", res(socketpair(AF_UNIX, type | SOCK_NONBLOCK, 0, sv)));
    send(sv[1], "q", 1, 0);
    close(sv[1]);
    printf("revents %d\n", rev(sv[0]));
    printf("read queued %s\n", res(read(sv[0], b, 64)));
    printf("read %s\n", res(read(sv[0], b, 64)));
    close(sv[0]);
}
int main(void)
{
    uv_loop_t *loop = uv_default_loop(); /* a libuv program: the harness's sim is made */
    (void)loop;
    signal(SIGPIPE, SIG_IGN);
    run(SOCK_DGRAM, "dgram");
    run(SOCK_SEQPACKET, "seqpacket");
    return 0;
}
