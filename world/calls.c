#define _GNU_SOURCE 1
/* More of the C library's process calls for the world (docs/world.md): the execl family passes
 * its list to the exec functions world.c defines (so a harness-linked program a forked child
 * starts with execl, execlp or execle joins, as with execv), and wait, wait3, wait4 and waitid
 * see the members started outside libuv (posix_spawn, fork and exec) as waitpid does (proc/):
 * their exit's status, WNOHANG while they run, and a blocking wait on a running member fails
 * clearly. Other children are the C library's. */
#include "internal_world.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

const char ah__world_calls = 0; /* referenced by world.c: this file is linked with the room */

/* ---- execl, execlp, execle: the list (arg0 first, a NULL last; the C library declares arg0
 * non-null) becomes an argv on the stack (they run between fork and exec: no allocation) ---- */

#define ARGS_FROM_LIST(ap, n)                                                                      \
    do {                                                                                           \
        va_list cp_;                                                                               \
        va_copy(cp_, ap);                                                                          \
        for (n = 1; va_arg(cp_, char *) != NULL; n++)                                              \
            ;                                                                                      \
        va_end(cp_);                                                                               \
    } while (0)

static void fill_args(char **argv, size_t n, const char *arg0, va_list ap)
{
    size_t i;

    argv[0] = (char *)arg0;
    for (i = 1; i < n; i++)
        argv[i] = va_arg(ap, char *);
    argv[n] = NULL;
    (void)va_arg(ap, char *); /* the list's NULL */
}

AH__LIBC(execl, 10, AH__LIBC_SIGNAL);
int execl(const char *path, const char *arg0, ...)
{
    va_list ap;
    size_t n = 0;

    va_start(ap, arg0);
    ARGS_FROM_LIST(ap, n);
    {
        char *argv[n + 1];
        fill_args(argv, n, arg0, ap);
        va_end(ap);
        return execv(path, argv);
    }
}

AH__LIBC(execlp, 11, AH__LIBC_SIGNAL);
int execlp(const char *file, const char *arg0, ...)
{
    va_list ap;
    size_t n = 0;

    va_start(ap, arg0);
    ARGS_FROM_LIST(ap, n);
    {
        char *argv[n + 1];
        fill_args(argv, n, arg0, ap);
        va_end(ap);
        return execvp(file, argv);
    }
}

AH__LIBC(execle, 11, AH__LIBC_SIGNAL);
int execle(const char *path, const char *arg0, ...)
{
    va_list ap;
    size_t n = 0;
    char **envp;

    va_start(ap, arg0);
    ARGS_FROM_LIST(ap, n);
    {
        char *argv[n + 1];
        fill_args(argv, n, arg0, ap);
        envp = va_arg(ap, char **);
        va_end(ap);
        return execve(path, argv, envp);
    }
}

/* ---- wait, wait3, wait4, waitid ---- */

static ah__pstate *world_state(void)
{
    ah_sim *sim = ah_sim_current();
    return sim != NULL ? ah__pstate_find(sim) : NULL;
}

static pid_t real_wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
    static pid_t (*real)(pid_t, int *, int, struct rusage *);
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "wait4");
    return real(pid, status, options, ru);
}

/* The members' answer (ah__proc_bare_wait), or -2 for the C library's. */
static pid_t members_wait4(const char *fn, pid_t pid, int *status, int options, struct rusage *ru,
                           ah__site site)
{
    ah__pstate *st = world_state();
    int r;

    if (st == NULL)
        return -2;
    ah__proc_wait_name = fn;
    r = ah__proc_bare_wait(st, pid, status, options, site);
    ah__proc_wait_name = NULL;
    if (r == -2)
        return -2;
    if (r > 0 && ru != NULL)
        memset(ru, 0, sizeof(*ru)); /* a member's resources are not measured */
    return r;
}

AH__LIBC(wait4, 10, AH__LIBC_SIGNAL);
pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
    pid_t r = members_wait4("wait4", pid, status, options, ru, AH__CALLER("wait4"));
    return r != -2 ? r : real_wait4(pid, status, options, ru);
}

AH__LIBC(wait3, 10, AH__LIBC_SIGNAL);
pid_t wait3(int *status, int options, struct rusage *ru)
{
    pid_t r = members_wait4("wait3", -1, status, options, ru, AH__CALLER("wait3"));
    return r != -2 ? r : real_wait4(-1, status, options, ru);
}

AH__LIBC(wait, 9, AH__LIBC_SIGNAL);
pid_t wait(int *status)
{
    pid_t r = members_wait4("wait", -1, status, 0, NULL, AH__CALLER("wait"));
    return r != -2 ? r : real_wait4(-1, status, 0, NULL);
}

/* The exited member `pid` (-1: any) matching, without collecting it (WNOWAIT), or NULL. */
static ah__proc *member_exited(ah__pstate *st, pid_t pid)
{
    ah__list *q;
    for (q = st->procs.next; q != &st->procs; q = q->next) {
        ah__proc *pr = ah__container_of(q, ah__proc, link);
        if (pr->bare && pr->state == AH__PROC_EXITED && (pid == -1 || pr->pid == pid))
            return pr;
    }
    return NULL;
}

static void fill_info(siginfo_t *info, pid_t pid, int status)
{
    memset(info, 0, sizeof(*info));
    info->si_signo = SIGCHLD;
    info->si_pid = pid;
    info->si_uid = getuid();
    if (WIFSIGNALED(status)) {
        info->si_code = CLD_KILLED;
        info->si_status = WTERMSIG(status);
    } else {
        info->si_code = CLD_EXITED;
        info->si_status = WEXITSTATUS(status);
    }
}

AH__LIBC(waitid, 11, AH__LIBC_SIGNAL);
int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options)
{
    static int (*real)(idtype_t, id_t, siginfo_t *, int);
    ah__pstate *st = world_state();
    pid_t pid = idtype == P_PID ? (pid_t)id : -1, r;
    ah__proc *pr;
    int status = 0;

    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "waitid");
    /* Members only end (WEXITED); a process group is the C library's question. */
    if (st == NULL || (idtype != P_PID && idtype != P_ALL) || !(options & WEXITED) ||
        (idtype == P_PID && pid <= 0))
        return real(idtype, id, info, options);
    if ((options & WNOWAIT) && (pr = member_exited(st, pid)) != NULL) {
        fill_info(info, pr->pid, pr->term_signal ? pr->term_signal : (pr->exit_status & 0xff) << 8);
        return 0;
    }
    ah__proc_wait_name = "waitid";
    r = ah__proc_bare_wait(st, pid, &status, options & WNOHANG, AH__CALLER("waitid"));
    ah__proc_wait_name = NULL;
    if (r == -2)
        return real(idtype, id, info, options);
    if (r < 0)
        return -1;
    if (r == 0) { /* WNOHANG: still running */
        memset(info, 0, sizeof(*info));
        return 0;
    }
    fill_info(info, r, status);
    return 0;
}
