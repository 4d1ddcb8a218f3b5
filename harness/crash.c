/* Crash reports: a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT from assert) while a
 * sim is current prints what the test was doing (virtual time, seed, replay line, the callback
 * that was running, the last callbacks, the frames) before the test fails.
 *
 * cmocka 1.1.5 installs its own handler for SIGSEGV, SIGILL, SIGFPE, SIGBUS and SIGSYS around
 * every test function; it prints "Test failed with exception" and siglongjmps back to the runner,
 * which records the failure and runs the next test. The harness installs its handler over
 * cmocka's at the start of the body and chains to it after the report (SIGABRT included, which
 * cmocka does not catch, so an assert() fails one test instead of killing the runner). Inside a
 * captured run (an explored schedule, a sweep step) the crash becomes that run's failure, so the
 * explorer shrinks and replays it like any other (docs/decisions.md). A program without cmocka
 * gets the report and then dies of the signal as it would have. */
#define _GNU_SOURCE 1
#include "internal.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#if AH_STATIC_UNWIND
#include <unwind.h>
#endif

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define NSIG_CRASH (sizeof(crash_signals) / sizeof(crash_signals[0]))

static struct sigaction prev[NSIG_CRASH];
static volatile sig_atomic_t in_handler;
static char report[16384];
static size_t report_len;
static char altstack[64 * 1024];

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void put(const char *fmt, ...)
{
    va_list ap;
    int n;

    if (report_len >= sizeof(report) - 1)
        return;
    va_start(ap, fmt);
    n = vsnprintf(report + report_len, sizeof(report) - report_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        report_len +=
            (size_t)n < sizeof(report) - report_len ? (size_t)n : sizeof(report) - report_len - 1;
}

static const char *sig_name(int sig)
{
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV (segmentation fault: a bad pointer, a use after free, a stack overflow)";
    case SIGBUS:
        return "SIGBUS (bus error: a misaligned or unmapped access)";
    case SIGFPE:
        return "SIGFPE (arithmetic exception: a division by zero?)";
    case SIGILL:
        return "SIGILL (illegal instruction: __builtin_trap, a corrupted function pointer)";
    case SIGABRT:
        return "SIGABRT (abort: a failed assert() or a corrupted heap)";
    default:
        return "a fatal signal";
    }
}

/* addr2line's answer for `n` offsets in `bin` ("function at file:line" per line, inlined frames
 * indented), read into out. The descriptors are the kernel's (raw system calls): the fd/ room
 * interposes read and close, and the sim may be half-way through a change. */
static size_t addr2line(const char *bin, const unsigned long *offs, int n, char *out, size_t cap)
{
    char nums[48][24], *argv[56];
    int pfd[2], i, k = 0;
    size_t len = 0;
    pid_t pid;

    if (syscall(SYS_pipe2, pfd, O_CLOEXEC) != 0)
        return 0;
    argv[k++] = (char *)"addr2line";
    argv[k++] = (char *)"-f";
    argv[k++] = (char *)"-i";
    argv[k++] = (char *)"-p";
    argv[k++] = (char *)"-e";
    argv[k++] = (char *)bin;
    for (i = 0; i < n && i < 48; i++) {
        snprintf(nums[i], sizeof(nums[i]), "0x%lx", offs[i]);
        argv[k++] = nums[i];
    }
    argv[k] = NULL;
    pid = fork();
    if (pid == 0) {
        int null = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_WRONLY);
        syscall(SYS_dup2, pfd[1], 1);
        if (null >= 0)
            syscall(SYS_dup2, null, 2);
        execvp("addr2line", argv);
        _exit(127);
    }
    syscall(SYS_close, pfd[1]);
    if (pid > 0) {
        for (;;) {
            long got = syscall(SYS_read, pfd[0], out + len, cap - 1 - len);
            if (got <= 0 || len + (size_t)got >= cap - 1) {
                if (got > 0)
                    len += (size_t)got;
                break;
            }
            len += (size_t)got;
        }
        syscall(SYS_wait4, pid, NULL, 0, NULL);
    }
    syscall(SYS_close, pfd[0]);
    out[len] = '\0';
    return len;
}

/* Where the harness's sources were when it was built, as the debug information spells it
 * ("/src/asyncharness/" for ".../harness/crash.c"): learnt from addr2line's line for a function
 * of this file, which was compiled with the same paths as the rest of the harness. */
static char harness_root[512];

/* Whether a source path is one of the harness's own: its frames are left out of "your
 * frames". */
static int harness_source(const char *path, size_t plen)
{
    static const char *const rooms[] = {"harness/", "mocks/",   "fd/",       "fs/",
                                        "proc/",    "threads/", "fakeclock/"};
    size_t root = strlen(harness_root), i;

    if (root == 0 || plen < root || strncmp(path, harness_root, root) != 0)
        return 0;
    for (i = 0; i < sizeof(rooms) / sizeof(rooms[0]); i++)
        if (plen > root + strlen(rooms[i]) && strncmp(path + root, rooms[i], strlen(rooms[i])) == 0)
            return 1;
    return 0;
}

#if AH_STATIC_UNWIND
/* The C library's backtrace() loads libgcc_s's unwinder with dlopen at its first call, which
 * cannot be left to the handler (it allocates) and cost every test program about a millisecond of
 * CPU at its first test, crash or none (docs/bench.md). Where the build links libgcc's unwinder
 * into the program (libgcc_eh, CMakeLists.txt), the frames come from it: nothing to load, and it
 * allocates nothing (it finds the frame tables through the loader). The same frames as
 * backtrace()'s: the first is the caller's. */
struct bt_walk {
    void **pcs;
    int n, max;
};

static _Unwind_Reason_Code bt_step(struct _Unwind_Context *c, void *arg)
{
    struct bt_walk *w = arg;
    uintptr_t ip = _Unwind_GetIP(c);

    if (w->n >= 0) {
        if (ip == 0)
            return _URC_END_OF_STACK;
        w->pcs[w->n] = (void *)ip;
    }
    return ++w->n >= w->max ? _URC_END_OF_STACK : _URC_NO_REASON;
}

__attribute__((noinline)) static int frames_walk(void **pcs, int max)
{
    struct bt_walk w = {pcs, -1, max}; /* -1: this function's own frame is skipped */
    _Unwind_Backtrace(bt_step, &w);
    return w.n < 0 ? 0 : w.n;
}
#else
#define frames_walk backtrace
#endif

/* The frames: resolved to functions and lines by addr2line when it is installed (the C
 * library's and the harness's own left out), else each binary and offset with the addr2line
 * command that names them. */
static void frames(int captured)
{
    /* A captured crash is usually one the shrinker reruns many times, each with other harness
     * frames: addr2line (a process each) runs for the first few only. */
    static unsigned resolved_captured;
    void *pcs[48];
    int n = frames_walk(pcs, 48), i, j;
    const char *bins[8];
    int nbins = 0, shown = 0, hidden = 0;
    static char lines[8192];

    static uint64_t cached_key;
    static char cached[4096];
    uint64_t key = 0x9e3779b97f4a7c15ULL;
    size_t start = report_len;

    /* pcs[0] is this function, pcs[1] the handler, pcs[2] the kernel's signal return. */
    if (n <= 3)
        return;
    /* The same crash again (the shrinker reruns it many times): addr2line's answer is kept. */
    for (i = 3; i < n; i++)
        key = (key ^ (uint64_t)(uintptr_t)pcs[i]) * 0x100000001b3ULL;
    if (key == cached_key) {
        put("%s", cached);
        return;
    }
    for (i = 3; i < n; i++) {
        Dl_info info;
        if (dladdr(pcs[i], &info) && info.dli_fname != NULL) {
            for (j = 0; j < nbins && strcmp(bins[j], info.dli_fname) != 0; j++)
                ;
            if (j == nbins && nbins < 8 && strstr(info.dli_fname, "libc.so") == NULL &&
                strstr(info.dli_fname, "ld-linux") == NULL)
                bins[nbins++] = info.dli_fname;
        }
    }
    for (j = 0; j < nbins; j++) {
        unsigned long offs[49];
        int m = 0, mine = -1;
        size_t len;
        for (i = 3; i < n; i++) {
            Dl_info info;
            if (dladdr(pcs[i], &info) && info.dli_fname != NULL &&
                strcmp(info.dli_fname, bins[j]) == 0)
                /* minus one: a return address is the instruction after the call */
                offs[m++] =
                    (unsigned long)((char *)pcs[i] - (char *)info.dli_fbase) - (i == 3 ? 0UL : 1UL);
        }
        {
            /* ah__crash_arm's own line, last: it tells where the harness's sources were */
            Dl_info info;
            if (dladdr((void *)(uintptr_t)ah__crash_arm, &info) && info.dli_fname != NULL &&
                strcmp(info.dli_fname, bins[j]) == 0) {
                mine = m;
                offs[m++] =
                    (unsigned long)((char *)(uintptr_t)ah__crash_arm - (char *)info.dli_fbase);
            }
        }
        /* The system's libraries (cmocka, libuv, ...) have no line information to give. */
        if (strncmp(bins[j], "/lib/", 5) == 0 || strncmp(bins[j], "/usr/lib/", 9) == 0) {
            hidden += m - (mine >= 0);
            continue;
        }
        if (captured && resolved_captured >= 2)
            len = 0;
        else
            len = addr2line(bins[j], offs, m, lines, sizeof(lines));
        if (len > 0 && mine >= 0) {
            char *last, *at, *cut;
            while (len > 0 && lines[len - 1] == '\n')
                lines[--len] = '\0';
            last = strrchr(lines, '\n');
            at = strstr(last != NULL ? last + 1 : lines, " at ");
            cut = at != NULL ? strstr(at, "harness/crash.c") : NULL;
            if (cut != NULL && (size_t)(cut - (at + 4)) < sizeof(harness_root))
                snprintf(harness_root, sizeof(harness_root), "%.*s", (int)(cut - (at + 4)), at + 4);
            if (last != NULL)
                *last = '\0';
            else
                lines[0] = '\0';
        }
        if (mine >= 0)
            m--; /* not a frame */
        if (len > 0) {
            char *l = lines, *e;
            for (; *l != '\0'; l = *e ? e + 1 : e) {
                const char *at, *colon;
                e = strchr(l, '\n');
                if (e == NULL)
                    e = l + strlen(l);
                at = strstr(l, " at ");
                colon = at != NULL ? memchr(at, ':', (size_t)(e - at)) : NULL;
                if (at == NULL || colon == NULL || strncmp(at + 4, "??", 2) == 0 ||
                    harness_source(at + 4, (size_t)(colon - (at + 4)))) {
                    hidden++;
                    continue;
                }
                if (shown++ == 0)
                    put("  your frames (innermost first):\n");
                put("    %.*s\n", (int)(e - l), l);
            }
        } else {
            put("  frames in %s:", ah__base_name(bins[j]));
            for (i = 0; i < m; i++)
                put(" 0x%lx", offs[i]);
            put("\n  lines: addr2line -f -i -p -e %s", bins[j]);
            for (i = 0; i < m; i++)
                put(" 0x%lx", offs[i]);
            put("\n");
        }
    }
    if (hidden > 0 && shown > 0)
        put("  (%d frame(s) of the harness, cmocka or without line information left out)\n",
            hidden);
    if (captured)
        resolved_captured++;
    if (report_len - start < sizeof(cached)) {
        memcpy(cached, report + start, report_len - start);
        cached[report_len - start] = '\0';
        cached_key = key;
    }
}

static void build_report(ah_sim *sim, int sig, const siginfo_t *si)
{
    char b[320], s[160];
    unsigned k, n;

    report_len = 0;
    put("asyncharness: the test crashed: %s", sig_name(sig));
    if (si != NULL && sig != SIGABRT && si->si_code > 0)
        put(" at address %p", si->si_addr);
    put("\n  [virtual time +%llu ms, seed %llu, %s]\n", (unsigned long long)ah_now_ms(sim),
        (unsigned long long)sim->opts.seed, sim->name);
    if (sim->replay_hint[0] != '\0')
        put("  %s\n", sim->replay_hint);
    if (sim->in_callback > 0 && sim->current_what != NULL) {
        if (sim->current_hrec != NULL) {
            put("  while running %s of %s", sim->current_what,
                ah__handle_str(sim->current_hrec, b, sizeof(b)));
            if (sim->current_hrec->start_site.file != NULL ||
                sim->current_hrec->start_site.ret != NULL)
                put(", last started in %s",
                    ah__site_str(&sim->current_hrec->start_site, s, sizeof(s)));
            put("\n");
        } else {
            put("  while running a %s\n", sim->current_what);
        }
    } else {
        put("  outside any loop callback (in the test body or a test verb)\n");
    }
    n = sim->recent_n < AH__RECENT ? sim->recent_n : AH__RECENT;
    if (n > 0) {
        put("  the last %u callback(s) dispatched, oldest first:\n", n);
        for (k = sim->recent_n - n; k < sim->recent_n; k++) {
            const struct ah__recent *e = &sim->recent[k % AH__RECENT];
            uint64_t t = e->t_ns - sim->clock.epoch_ns;
            if (e->r != NULL)
                put("    +%llu.%06llu ms %s #%u%s%s%s: %s\n",
                    (unsigned long long)(t / AH__NS_PER_MS),
                    (unsigned long long)(t % AH__NS_PER_MS), ah__handle_type_name(e->r->type),
                    (unsigned)e->r->id, e->r->label[0] ? " [" : "", e->r->label,
                    e->r->label[0] ? "]" : "", e->what);
            else
                put("    +%llu.%06llu ms %s\n", (unsigned long long)(t / AH__NS_PER_MS),
                    (unsigned long long)(t % AH__NS_PER_MS), e->what);
        }
    }
    frames(sim->capture != NULL);
}

static int signal_index(int sig)
{
    unsigned i;
    for (i = 0; i < NSIG_CRASH; i++)
        if (crash_signals[i] == sig)
            return (int)i;
    return -1;
}

static void handler(int sig, siginfo_t *si, void *uctx)
{
    ah_sim *sim = ah_sim_current();
    int i = signal_index(sig);
    const struct sigaction *p = i >= 0 ? &prev[i] : NULL;

    if (!in_handler && sim != NULL) {
        in_handler = 1;
        build_report(sim, sig, si);
        sim->failed = 1;
        if (sim->capture != NULL && pthread_equal(pthread_self(), sim->owner)) {
            /* A captured run (explored schedule, sweep step): the crash is its failure. The
             * message is copied with malloc, which a crash inside malloc would break; the
             * report has been written to stderr first so that it is never lost. */
            while (report_len > 0 && report[report_len - 1] == '\n')
                report[--report_len] = '\0';
            sim->capture->msg = ah__strdup(report);
            in_handler = 0;
            longjmp(sim->capture->jb, 1);
        }
        if (write(2, report, report_len) < 0) {
            /* nothing more to do */
        }
        in_handler = 0;
    }
    /* Chain: cmocka's handler records the failure and goes on with the next test. cmocka does
     * not catch SIGABRT: in a cmocka test, an abort goes to the handler it set for SIGSEGV. */
    if (sig == SIGABRT && sim != NULL && sim->test != NULL && p != NULL &&
        !(p->sa_flags & SA_SIGINFO) && p->sa_handler == SIG_DFL)
        p = &prev[0];
    if (p != NULL && (p->sa_flags & SA_SIGINFO) && p->sa_sigaction != NULL &&
        p->sa_sigaction != handler) {
        p->sa_sigaction(sig, si, uctx);
        return;
    }
    if (p != NULL && !(p->sa_flags & SA_SIGINFO) && p->sa_handler != SIG_DFL &&
        p->sa_handler != SIG_IGN && p->sa_handler != NULL) {
        p->sa_handler(sig);
        return;
    }
    /* No handler before ours: die of the signal, as without the harness (a system call: the
     * proc/ room interposes raise and kill for signals the code sends itself). */
    signal(sig, SIG_DFL);
    syscall(SYS_tgkill, (long)getpid(), (long)syscall(SYS_gettid), (long)sig);
}

/* Forced into every link (-Wl,-u,ah__crash_reports: CMakeLists.txt, asyncharness.pc): nothing a
 * plain program calls is in this file, and sim.c reaches it only through the hook set here. */
const int ah__crash_reports = 1;

__attribute__((constructor)) static void crash_wire(void) { ah__implicit_sim_hook = ah__crash_arm; }

void ah__crash_arm(void)
{
    unsigned i;
    static int stack_set;

    if (!stack_set) {
        /* A stack overflow has no stack left for the handler. */
        stack_t ss, old;
        memset(&ss, 0, sizeof(ss));
        ss.ss_sp = altstack;
        ss.ss_size = sizeof(altstack);
        /* keep one a sanitizer's runtime set up */
        if (sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE))
            sigaltstack(&ss, NULL);
#if !AH_STATIC_UNWIND
        {
            /* The first backtrace() loads the unwinder (it may allocate): now, not in the
             * handler. */
            void *pc[2];
            (void)backtrace(pc, 2);
        }
#endif
        stack_set = 1;
    }
    /* One call a signal, which installs ours and returns what was there (cmocka's handler, put
     * back around every test function): it is armed at every test's start, and a separate look
     * first was half of the 340 sigaction calls of a 34-test suite. */
    for (i = 0; i < NSIG_CRASH; i++) {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = handler;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        if (sigaction(crash_signals[i], &sa, &old) != 0)
            continue;
        if (!((old.sa_flags & SA_SIGINFO) && old.sa_sigaction == handler))
            prev[i] = old;
    }
}
