/* uv_tty_t on a real pseudo-terminal: uv_guess_handle says UV_TTY, the window size set on the
 * master reads back, raw mode clears ICANON and ECHO, and closing the handle restores the
 * terminal's modes from libuv 1.49 on (before, it stays raw until uv_tty_reset_mode). Writes
 * are not read back: a pty's output arrives at real instants. */
#define _GNU_SOURCE 1
#include "trace.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/* Declared here: the harness build includes <stdlib.h> (ah/sites.h) before _GNU_SOURCE above. */
int posix_openpt(int flags);
int grantpt(int fd);
int unlockpt(int fd);
char *ptsname(int fd);

static uv_loop_t *loop;
static uv_tty_t tty;
static int slave = -1;

static void print_modes(const char *when)
{
    struct termios t;

    if (tcgetattr(slave, &t) != 0) {
        P("%s tcgetattr failed", when);
        return;
    }
    P("%s icanon=%d echo=%d", when, (t.c_lflag & ICANON) != 0, (t.c_lflag & ECHO) != 0);
}

static void on_close(uv_handle_t *h)
{
    (void)h;
    P("close tty");
    print_modes("after close");
}

int main(void)
{
    struct winsize ws = {24, 80, 0, 0};
    int master, w = 0, h = 0;

    loop = uv_default_loop();
    master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
        P("no pseudo-terminal on this machine");
        return 0;
    }
    slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    if (slave < 0)
        return 2;
    ioctl(master, TIOCSWINSZ, &ws);
    V("guess", uv_guess_handle(slave) == UV_TTY);
    V("tty_init", uv_tty_init(loop, &tty, slave, 0));
    V("winsize", uv_tty_get_winsize(&tty, &w, &h));
    P("size %dx%d", w, h);
    print_modes("before");
    V("set_mode raw", uv_tty_set_mode(&tty, UV_TTY_MODE_RAW));
    print_modes("raw");
    uv_close((uv_handle_t *)&tty, on_close);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    V("reset_mode", uv_tty_reset_mode());
    print_modes("after reset");
    V("loop_close", uv_loop_close(loop));
    close(master);
    return 0;
}
