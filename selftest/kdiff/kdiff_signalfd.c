/* signalfd on the kernel and on the harness: SIGUSR1 and SIGUSR2 blocked and read through a
 * signalfd watched by uv_poll; a timer sends them at +100 ms (raise, then kill twice: a pending
 * standard signal coalesces); the watcher reads them, the thread's own (raise) first, then the
 * process's, lowest number first, with the sender's code and pid; a short read is EINVAL, an empty
 * non-blocking one EAGAIN; signalfd(fd, ...) changes the mask. (A blocked signal no signalfd holds
 * is not sent: the sim does not keep it pending.) */
#define _GNU_SOURCE 1
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static int sfd;
static uint64_t t0;

static void poll_cb(uv_poll_t *h, int status, int events)
{
    struct signalfd_siginfo si[4];
    ssize_t n = read(sfd, si, sizeof(si));
    int i;

    printf("poll_cb status %d readable %d at +%llu00 ms\n", status, (events & UV_READABLE) != 0,
           (unsigned long long)((uv_now(h->loop) - t0 + 50) / 100));
    printf("read %d siginfos\n", n < 0 ? -1 : (int)(n / (ssize_t)sizeof(si[0])));
    for (i = 0; i < n / (ssize_t)sizeof(si[0]); i++)
        printf("  signo %u code %d own pid %d\n", si[i].ssi_signo, si[i].ssi_code,
               si[i].ssi_pid == (uint32_t)getpid());
    n = read(sfd, si, sizeof(si));
    printf("read again %d %s\n", (int)n, n < 0 ? strerror(errno) : "");
    uv_close((uv_handle_t *)h, NULL);
}

static void timer_cb(uv_timer_t *t)
{
    printf("raise %d\n", raise(SIGUSR2));
    printf("kill %d\n", kill(getpid(), SIGUSR1));
    printf("kill %d\n", kill(getpid(), SIGUSR1));
    uv_close((uv_handle_t *)t, NULL);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_poll_t p;
    uv_timer_t t;
    sigset_t m;
    char b[8];
    struct signalfd_siginfo big[2];
    ssize_t n;

    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    sigaddset(&m, SIGUSR2);
    printf("sigprocmask %d\n", sigprocmask(SIG_BLOCK, &m, NULL));
    sfd = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
    printf("signalfd %d\n", sfd >= 0);
    printf("getfd %d getfl nonblock %d\n", fcntl(sfd, F_GETFD),
           (fcntl(sfd, F_GETFL) & O_NONBLOCK) != 0);
    n = read(sfd, b, sizeof(b));
    printf("short read %d %s\n", (int)n, strerror(errno));
    n = read(sfd, big, sizeof(big));
    printf("empty read %d %s\n", (int)n, strerror(errno));
    n = write(sfd, b, sizeof(b));
    printf("write %d %s\n", (int)n, strerror(errno));
    printf("poll_init %d\n", uv_poll_init(loop, &p, sfd));
    printf("poll_start %d\n", uv_poll_start(&p, UV_READABLE, poll_cb));
    uv_timer_init(loop, &t);
    t0 = uv_now(loop);
    uv_timer_start(&t, timer_cb, 100, 0);
    printf("run %d\n", uv_run(loop, UV_RUN_DEFAULT));
    sigdelset(&m, SIGUSR2);
    printf("signalfd again %d\n", signalfd(sfd, &m, 0) == sfd);
    printf("kill %d\n", kill(getpid(), SIGUSR1));
    printf("read after the mask changed %d\n", (int)read(sfd, big, sizeof(big)));
    printf("close %d\n", close(sfd));
    printf("loop_close %d\n", uv_loop_close(loop));
    return 0;
}
