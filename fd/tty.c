/* Fake terminals: ah_tty_open gives the code under test a descriptor that is a terminal to it
 * (isatty, tcgetattr/tcsetattr, TIOCGWINSZ, uv_guess_handle's UV_TTY) and the test the other
 * end: what the program writes to its terminal the test reads there, what the test writes there
 * is the program's input. Underneath, the two ends are a fake socketpair of the sim.
 *
 * The terminal's line discipline is not simulated: no echo, no line editing, no CR/NL mapping,
 * no signals from ^C; the bytes pass as they are, and the modes set with tcsetattr (or
 * uv_tty_set_mode) are only recorded, for the test to read back. */
#define _GNU_SOURCE 1 /* RTLD_NEXT */
#include "internal_fd.h"

#include <ah/fd.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* Reached from fd/interpose.c, so that this file is linked (see there). */
const char ah__fd_interposer_tty = 0;

typedef struct ah__ftty {
    struct termios tio;
    struct winsize ws;
} ah__ftty;

static int tty_ioctl(ah__fsock *fs, unsigned long req, void *arg, int *r);

/* A sane cooked terminal, as a login shell finds it. */
static void tty_defaults(ah__ftty *t)
{
    memset(t, 0, sizeof(*t));
    t->tio.c_iflag = ICRNL | IXON | IUTF8;
    t->tio.c_oflag = OPOST | ONLCR;
    t->tio.c_cflag = CS8 | CREAD | B38400;
    t->tio.c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | IEXTEN | ECHOCTL | ECHOKE;
    t->tio.c_cc[VINTR] = 3;
    t->tio.c_cc[VQUIT] = 28;
    t->tio.c_cc[VERASE] = 127;
    t->tio.c_cc[VKILL] = 21;
    t->tio.c_cc[VEOF] = 4;
    t->tio.c_cc[VMIN] = 1;
    t->tio.c_cc[VSUSP] = 26;
    cfsetispeed(&t->tio, B38400);
    cfsetospeed(&t->tio, B38400);
    t->ws.ws_col = 80;
    t->ws.ws_row = 24;
}

int ah_tty_open(ah_sim *sim, int *term)
{
    ah__site site = AH__CALLER("ah_tty_open");
    ah__fsock *fs[2];
    int sv[2], i, pass;

    if (sim == NULL || term == NULL)
        ah__fail(sim != NULL ? sim : ah__sim(), "ah_tty_open: called with a NULL %s",
                 sim == NULL ? "sim" : "term");
    if (sim != ah_sim_current())
        ah__fail(sim, "ah_tty_open: the sim is not the current one");
    pass = ah__fd_state(sim)->passthrough;
    ah__fd_state(sim)->passthrough = 0; /* a fake terminal is always the sim's */
    i = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    ah__fd_state(sim)->passthrough = pass;
    if (i != 0)
        return -errno;
    for (i = 0; i < 2; i++) {
        fs[i] = ah__fd_get(sv[i]);
        fs[i]->site = site;
    }
    ah__fd_tty_ioctl_hook = tty_ioctl;
    fs[0]->tty = ah__calloc(1, sizeof(*fs[0]->tty));
    tty_defaults(fs[0]->tty);
    *term = sv[1];
    return sv[0];
}

static ah__ftty *tty_of(int fd, const char *fn)
{
    ah__fsock *fs = ah__fd_get(fd);

    if (fs == NULL || fs->tty == NULL)
        ah__fail(ah__sim(), "%s(%d): not a fake terminal of the sim (ah_tty_open)", fn, fd);
    return fs->tty;
}

int ah_tty_set_winsize(ah_sim *sim, int fd, int cols, int rows)
{
    struct winsize ws;
    int r;

    (void)sim;
    tty_of(fd, "ah_tty_set_winsize");
    memset(&ws, 0, sizeof(ws));
    ws.ws_col = (unsigned short)cols;
    ws.ws_row = (unsigned short)rows;
    tty_ioctl(ah__fd_get(fd), TIOCSWINSZ, &ws, &r);
    return r;
}

static int tty_ioctl(ah__fsock *fs, unsigned long req, void *arg, int *r)
{
    ah__ftty *t = fs->tty;

    switch (req) {
    case TCGETS:
        memcpy(arg, &t->tio, sizeof(t->tio));
        break;
    case TCSETS:
    case TCSETSW:
    case TCSETSF:
        memcpy(&t->tio, arg, sizeof(t->tio));
        break;
    case TIOCGWINSZ:
        memcpy(arg, &t->ws, sizeof(t->ws));
        break;
    case TIOCSWINSZ: {
        struct winsize ws;
        memcpy(&ws, arg, sizeof(ws));
        if (ws.ws_col != t->ws.ws_col || ws.ws_row != t->ws.ws_row) {
            t->ws = ws;
            /* Linux sends SIGWINCH to the terminal's foreground process group: here, the
             * process (kill is proc/'s when signals are simulated). */
            kill(getpid(), SIGWINCH);
        }
        break;
    }
    default:
        return 0;
    }
    *r = 0;
    return 1;
}

AH__LIBC(isatty, 11, AH__LIBC_FD);
int isatty(int fd)
{
    AH__REAL(isatty);
    ah__fsock *fs = ah__fd_get(fd);

    if (fs == NULL)
        return real_isatty(fd);
    if (fs->tty == NULL) {
        errno = ENOTTY;
        return 0;
    }
    return 1;
}

AH__LIBC(tcgetattr, 14, AH__LIBC_FD);
int tcgetattr(int fd, struct termios *tio)
{
    AH__REAL(tcgetattr);
    ah__fsock *fs = ah__fd_get(fd);
    int r;

    if (fs == NULL)
        return real_tcgetattr(fd, tio);
    if (fs->tty == NULL) {
        errno = ENOTTY;
        return -1;
    }
    tty_ioctl(fs, TCGETS, tio, &r);
    return r;
}

AH__LIBC(tcsetattr, 14, AH__LIBC_FD);
int tcsetattr(int fd, int when, const struct termios *tio)
{
    AH__REAL(tcsetattr);
    ah__fsock *fs = ah__fd_get(fd);
    int r;

    if (fs == NULL)
        return real_tcsetattr(fd, when, tio);
    if (fs->tty == NULL) {
        errno = ENOTTY;
        return -1;
    }
    if (when != TCSANOW && when != TCSADRAIN && when != TCSAFLUSH) {
        errno = EINVAL;
        return -1;
    }
    tty_ioctl(fs, TCSETS, (void *)tio, &r);
    return r;
}

/* uv_guess_handle on a fake descriptor answers what it stands for (the real one would see the
 * /dev/null behind it and say UV_FILE); every other descriptor is libuv's to guess. */
uv_handle_type uv_guess_handle(uv_file fd)
{
    AH__ENTRY("uv_guess_handle");
    return ah__fd_guess_handle(fd);
}

uv_handle_type ah__fd_guess_handle(int fd)
{
    static uv_handle_type (*real)(uv_file);
    ah__fsock *fs = ah__fd_get(fd);

    if (fs == NULL) {
        if (real == NULL)
            *(void **)&real = ah__fd_dlsym("uv_guess_handle");
        return real(fd);
    }
    if (fs->tty != NULL)
        return UV_TTY;
    if (fs->domain == 0) /* an eventfd or timerfd: an anonymous inode of no file type */
        return UV_UNKNOWN_HANDLE;
    if (fs->type == SOCK_DGRAM) /* libuv's uv_guess_handle: datagrams are UDP over IP only */
        return fs->domain == AF_UNIX ? UV_UNKNOWN_HANDLE : UV_UDP;
    return fs->domain == AF_UNIX ? UV_NAMED_PIPE : UV_TCP;
}
