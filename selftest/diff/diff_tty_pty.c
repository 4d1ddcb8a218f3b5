/* uv_tty_init on both ends of a pseudo-terminal: the slave is reopened through its path, the
 * master cannot be and gets libuv's blocking-writes flag (UV_HANDLE_BLOCKING_WRITES, 0x100000),
 * which libuv's test tty_pty reads to check exactly that. */
#include "trace.h"

#include <pty.h>
#include <unistd.h>

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_tty_t master, slave;
    int mfd, sfd;

    trace_begin(loop);
    if (openpty(&mfd, &sfd, NULL, NULL, NULL) != 0) {
        V("no pty here: nothing to compare", 0);
        return 0;
    }
    V("slave init", uv_tty_init(loop, &slave, sfd, 0));
    V("master init", uv_tty_init(loop, &master, mfd, 0));
    V("slave readable", uv_is_readable((uv_stream_t *)&slave));
    V("slave writable", uv_is_writable((uv_stream_t *)&slave));
    V("master readable", uv_is_readable((uv_stream_t *)&master));
    V("master writable", uv_is_writable((uv_stream_t *)&master));
    V("slave blocking writes", (slave.flags & 0x100000) != 0);
    V("master blocking writes", (master.flags & 0x100000) != 0);
    close(sfd);
    uv_close((uv_handle_t *)&slave, NULL);
    close(mfd);
    uv_close((uv_handle_t *)&master, NULL);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return 0;
}
