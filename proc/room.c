/* The room's wiring: the state's lifetime (state.c) reaches the room's parts (processes, signals,
 * terminals) through ah__pstate_ops, filled here when the program starts. Nothing else
 * calls this file, so it is linked through its anchor in proc/interpose.c. */
#include "internal_proc.h"

const char ah__proc_interposer_room = 0;

static void free_all(ah__pstate *st)
{
    ah__proc_free_all(st);
    ah__tty_free_all(st);
    ah__sig_restore_all(st);
}

static void install(void)
{
    ah__poll_end_hook = ah__sig_poll_end;
    ah__close_hooks[UV_SIGNAL] = ah__sig_close;
    ah__close_hooks[UV_PROCESS] = ah__proc_close;
    ah__close_hooks[UV_TTY] = ah__tty_close;
    ah__tty_hooks_install();
}

__attribute__((constructor)) static void room_wire(void)
{
    ah__pstate_ops.check = ah__proc_check;
    ah__pstate_ops.pending = ah__proc_pending;
    ah__pstate_ops.ops = ah__proc_ops;
    ah__pstate_ops.free_all = free_all;
    ah__pstate_ops.install = install;
    ah__pstate_ops.reap_loop = ah__proc_reap_loop;
    ah__pstate_ops.child_signal = ah__proc_signal;
}
