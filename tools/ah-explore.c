/* ah-explore: runs an unchanged program (a plain main(), a cmocka binary, any test runner) linked
 * with asyncharness under many schedules, each run a fresh process, as valgrind or rr stand in
 * front of a program:
 *
 *     ah-explore [-n N] [--strategy random|pct] [--jobs J|auto] [--shard K/N] [--seed-start S]
 *                -- PROGRAM [ARGS...]
 *
 * A thin driver over the explorer of harness/explore.c (ah__explore_processes): seeds, the
 * determinism check, worker processes, shards, shrinking and the report are the explorer's. What
 * is here is one run: start the program with its schedule in the environment (AH_SEED and
 * AH_STRATEGY, or AH_REPLAY), wait for it, and read back what the program's side of the harness
 * wrote (the choices it made, its trace hash, its timeline) and how it ended. */
#define _GNU_SOURCE 1
#include "explore_ext.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Choices a run's file holds: 16 bytes each, in a sparse file, so only what is used is written. */
#define XOUT_CAP (1u << 20)
/* The tail of a failing run's output that goes into the report. */
#define OUTPUT_TAIL_BYTES 6000

/* AH_UNDER_VALGRIND scales an exploration down; it is meant for the program (the children get
 * it back), not for the count the command line asked for. */
static char *under_valgrind;

typedef struct driver {
    char *const *argv; /* PROGRAM ARGS... */
    const char *dir;   /* our temporary directory */
    char command[2048];
    unsigned timeout_s;
    int progress_on;
    struct timespec t0;
    uint64_t last_progress_ms;
    /* what the last run showed beyond pass/fail */
    int exec_errno;
    int took_schedule;
} driver;

static const char *usage_text =
    "usage: ah-explore [-n N] [--strategy random|pct|exhaustive] [--depth D] [--jobs J|auto]\n"
    "                  [--shard K/N] [--seed-start S] [--timeout SECONDS] [--trace PATH]\n"
    "                  [--no-shrink] -- PROGRAM [ARGS...]\n"
    "Runs PROGRAM (linked with asyncharness) N times (default 100), each a fresh process with its\n"
    "own schedule, and stops at the first failing run (non-zero exit, a fatal signal, a harness\n"
    "diagnostic): it prints the seed, the command that replays it, the run's output, the shrunk\n"
    "schedule and its trace. Exit status: 0 every schedule passed, 1 a failure was found, 2 a\n"
    "usage or set-up error.\n";

static int usage(const char *why)
{
    if (why != NULL)
        fprintf(stderr, "ah-explore: %s\n", why);
    fputs(usage_text, stderr);
    return 2;
}

static uint64_t ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)(t.tv_sec - t0->tv_sec) * 1000 +
           (uint64_t)((t.tv_nsec - t0->tv_nsec) / 1000000);
}

/* ---- the command line the user can paste ---- */

static void shell_word(char *buf, size_t cap, size_t *len, const char *w)
{
    const char *p;
    int plain = *w != '\0';

    for (p = w; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("_./=:,+-@%", *p) != NULL))
            plain = 0;
    if (*len > 0 && *len + 1 < cap)
        buf[(*len)++] = ' ';
    if (plain) {
        *len += (size_t)snprintf(buf + *len, *len < cap ? cap - *len : 0, "%s", w);
    } else {
        if (*len + 1 < cap)
            buf[(*len)++] = '\'';
        for (p = w; *p != '\0' && *len + 5 < cap; p++) {
            if (*p == '\'') {
                memcpy(buf + *len, "'\\''", 4);
                *len += 4;
            } else {
                buf[(*len)++] = *p;
            }
        }
        if (*len + 1 < cap)
            buf[(*len)++] = '\'';
    }
    if (*len >= cap)
        *len = cap - 1;
    buf[*len] = '\0';
}

/* ---- one run ---- */

static const char *const owned_vars[] = {
    "AH_SEED",        "AH_STRATEGY",      "AH_REPLAY",      "AH_PCT_DEPTH", "AH_PCT_STEPS",
    "AH_SEED_START",  "AH_SEED_COUNT",    "AH_SCHEDULES",   "AH_JOBS",      "AH_SHARD",
    "AH_EXPLORE_OUT", "AH_EXPLORE_TRACE", "AH_PRINT_HASHES"};

static int owned(const char *kv)
{
    size_t i, n;

    for (i = 0; i < sizeof(owned_vars) / sizeof(owned_vars[0]); i++) {
        n = strlen(owned_vars[i]);
        if (strncmp(kv, owned_vars[i], n) == 0 && kv[n] == '=')
            return 1;
    }
    return 0;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    ah__buf b = {0};
    va_list ap;

    va_start(ap, f);
    ah__buf_vprintf(&b, f, ap);
    va_end(ap);
    return ah__buf_take(&b);
}

/* The environment of a run: the driver's own, minus the knobs the schedule sets. */
static char **run_env(const ah__xrun *x, const char *out_path, const char *trace_path)
{
    size_t n = 0, k = 0, i;
    char **env;

    while (environ[n] != NULL)
        n++;
    env = ah__calloc(n + 9, sizeof(*env));
    for (i = 0; i < n; i++)
        if (!owned(environ[i]))
            env[k++] = ah__strdup(environ[i]);
    if (x->strategy == AH_STRATEGY_REPLAY) {
        ah__buf b = {0};
        size_t j, nd = 0;
        for (j = 0; j < x->nfixed; j++)
            if (x->fixed[j] != 0)
                ah__buf_printf(&b, "%s%zu:%llu", nd++ ? "," : "", j,
                               (unsigned long long)x->fixed[j]);
        if (nd == 0)
            ah__buf_printf(&b, "-");
        env[k++] = fmt("AH_STRATEGY=replay");
        env[k++] = fmt("AH_REPLAY=%s", b.s);
        ah__buf_free(&b);
    } else {
        env[k++] = fmt("AH_SEED=%llu", (unsigned long long)x->seed);
        env[k++] = fmt("AH_STRATEGY=%s", x->strategy == AH_STRATEGY_PCT ? "pct" : "random");
        if (x->strategy == AH_STRATEGY_PCT) {
            env[k++] = fmt("AH_PCT_DEPTH=%u", x->pct_depth);
            env[k++] = fmt("AH_PCT_STEPS=%llu", (unsigned long long)x->pct_steps);
        }
    }
    if (under_valgrind != NULL)
        env[k++] = fmt("AH_UNDER_VALGRIND=%s", under_valgrind);
    env[k++] = fmt("AH_EXPLORE_OUT=%s", out_path);
    if (trace_path != NULL)
        env[k++] = fmt("AH_EXPLORE_TRACE=%s", trace_path);
    env[k] = NULL;
    return env;
}

static void env_free(char **env)
{
    size_t i;
    for (i = 0; env[i] != NULL; i++)
        ah__free(env[i]);
    ah__free(env);
}

static int make_out_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ah__xout h;

    if (fd < 0)
        return -1;
    memset(&h, 0, sizeof(h));
    h.cap = XOUT_CAP;
    if (ftruncate(fd, (off_t)ah__xout_size(XOUT_CAP)) != 0 ||
        write(fd, &h, sizeof(h)) != sizeof(h)) {
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* Waits for the child at most timeout_s seconds; returns its status, or -1 after killing it. */
static int wait_child(pid_t pid, unsigned timeout_s, int *status)
{
    int pfd = -1;

#ifdef SYS_pidfd_open
    pfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
    if (pfd >= 0) {
        struct pollfd p = {pfd, POLLIN, 0};
        int rc;
        do
            rc = poll(&p, 1, timeout_s ? (int)(timeout_s * 1000) : -1);
        while (rc < 0 && errno == EINTR);
        close(pfd);
        if (rc == 0) {
            kill(pid, SIGKILL);
            while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                ;
            return -1;
        }
    } else {
        struct timespec t0, nap = {0, 1000000};
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            pid_t r = waitpid(pid, status, WNOHANG);
            if (r == pid)
                return 0;
            if (r < 0 && errno != EINTR)
                return 0;
            if (timeout_s && ms_since(&t0) > (uint64_t)timeout_s * 1000) {
                kill(pid, SIGKILL);
                while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                    ;
                return -1;
            }
            nanosleep(&nap, NULL);
        }
    }
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    return 0;
}

/* The last `max` bytes of the run's output, from a line start, each line indented. */
static void output_tail(ah__buf *b, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *data, *p, *line;
    long size, from;
    size_t got;

    if (f == NULL)
        return;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    from = size > OUTPUT_TAIL_BYTES ? size - OUTPUT_TAIL_BYTES : 0;
    fseek(f, from, SEEK_SET);
    data = ah__malloc((size_t)(size - from) + 1);
    got = fread(data, 1, (size_t)(size - from), f);
    fclose(f);
    data[got] = '\0';
    p = data;
    if (from > 0) {
        char *nl = strchr(p, '\n');
        p = nl != NULL ? nl + 1 : p;
        ah__buf_printf(b, "\n  | ... (the first %ld bytes of the output left out)", from);
    }
    if (got == 0)
        ah__buf_printf(b, "\n  (no output)");
    for (line = p; *line != '\0';) {
        char *nl = strchr(line, '\n');
        size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
        ah__buf_printf(b, "\n  | %.*s", (int)n, line);
        line += n + (nl != NULL);
    }
    ah__free(data);
}

static const char *signal_hint(int sig)
{
    switch (sig) {
    case SIGABRT:
        return " (SIGABRT: an assert or abort)";
    case SIGSEGV:
        return " (SIGSEGV)";
    case SIGBUS:
        return " (SIGBUS)";
    case SIGFPE:
        return " (SIGFPE)";
    case SIGILL:
        return " (SIGILL)";
    case SIGKILL:
        return " (SIGKILL)";
    default:
        return "";
    }
}

static void run(void *ctx, ah__xrun *x)
{
    driver *d = ctx;
    char out_path[PATH_MAX], trace_path[PATH_MAX], log_path[PATH_MAX];
    char **env;
    int pipefd[2], status = 0, timed_out, log_fd, err = 0;
    pid_t pid;
    ah__buf msg = {0};

    snprintf(out_path, sizeof(out_path), "%s/choices.%d", d->dir, (int)getpid());
    snprintf(trace_path, sizeof(trace_path), "%s/trace.%d", d->dir, (int)getpid());
    snprintf(log_path, sizeof(log_path), "%s/output.%d", d->dir, (int)getpid());
    unlink(trace_path);
    d->exec_errno = 0;
    d->took_schedule = 0;
    if (make_out_file(out_path) != 0) {
        fprintf(stderr, "ah-explore: cannot make %s: %s\n", out_path, strerror(errno));
        exit(2);
    }
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0 || pipe2(pipefd, O_CLOEXEC) != 0) {
        fprintf(stderr, "ah-explore: cannot make %s: %s\n", log_path, strerror(errno));
        exit(2);
    }
    env = run_env(x, out_path, x->record ? trace_path : NULL);
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "ah-explore: fork: %s\n", strerror(errno));
        exit(2);
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        execvpe(d->argv[0], d->argv, env);
        err = errno;
        if (write(pipefd[1], &err, sizeof(err)) < 0)
            _exit(127);
        _exit(127);
    }
    close(pipefd[1]);
    close(log_fd);
    env_free(env);
    while (read(pipefd[0], &err, sizeof(err)) < 0 && errno == EINTR)
        ;
    close(pipefd[0]);
    timed_out = wait_child(pid, d->timeout_s, &status) < 0;
    if (err != 0) {
        d->exec_errno = err;
        x->failed = 1;
        x->msg = fmt("cannot run %s: %s", d->argv[0], strerror(err));
        goto done;
    }

    /* what the program wrote: its choices and its trace hash */
    {
        int fd = open(out_path, O_RDONLY | O_CLOEXEC);
        ah__xout h;
        if (fd >= 0 && read(fd, &h, sizeof(h)) == (ssize_t)sizeof(h) && h.magic == AH__XOUT_MAGIC) {
            size_t n = h.nchoices < h.cap ? (size_t)h.nchoices : (size_t)h.cap;
            d->took_schedule = 1;
            x->hash = h.live != 0 ? ah__xout_fold(h.hash, h.live) : h.hash;
            if (n > 0 && !h.overflow) {
                x->choices = ah__malloc(n * 2 * sizeof(uint64_t));
                if (pread(fd, x->choices, n * 2 * sizeof(uint64_t), sizeof(h)) ==
                    (ssize_t)(n * 2 * sizeof(uint64_t)))
                    x->nchoices = n;
            }
        }
        if (fd >= 0)
            close(fd);
    }
    if (x->record)
        x->trace = ah__trace_read_stream(trace_path);
    if (x->record && x->trace == NULL)
        x->trace = ah__calloc(1, sizeof(*x->trace));

    if (timed_out) {
        x->failed = 1;
        ah__buf_printf(&msg, "%s did not finish within %u s (killed; --timeout changes the limit)",
                       d->argv[0], d->timeout_s);
    } else if (WIFSIGNALED(status)) {
        x->failed = 1;
        ah__buf_printf(&msg, "%s was killed by signal %d%s", d->argv[0], WTERMSIG(status),
                       signal_hint(WTERMSIG(status)));
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        x->failed = 1;
        ah__buf_printf(&msg, "%s exited with status %d", d->argv[0], WEXITSTATUS(status));
    }
    if (x->failed) {
        output_tail(&msg, log_path);
        x->msg = ah__buf_take(&msg);
    } else {
        /* the set-up check reads a passing run's output too */
        ah__buf_printf(&msg, "%s exited with status 0", d->argv[0]);
        output_tail(&msg, log_path);
        x->msg = ah__buf_take(&msg);
    }
done:
    unlink(out_path);
    unlink(trace_path);
    unlink(log_path);
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    driver *d = ctx;
    uint64_t ms = ms_since(&d->t0);
    double rate;

    if (!d->progress_on || (ms - d->last_progress_ms < 100 && done < total))
        return;
    d->last_progress_ms = ms;
    rate = ms > 0 ? (double)done * 1000.0 / (double)ms : 0.0;
    fprintf(stderr, "\r\033[Kah-explore: %llu/%llu schedules, %.1f/s", (unsigned long long)done,
            (unsigned long long)total, rate);
    if (rate > 0 && done < total)
        fprintf(stderr, ", ~%.0f s left", (double)(total - done) / rate);
    fflush(stderr);
}

static void progress_clear(driver *d)
{
    if (d->progress_on)
        fprintf(stderr, "\r\033[K");
}

/* ---- the command line ---- */

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (s == NULL || *s == '\0' || *s == '-')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0)
        return -1;
    *out = v;
    return 0;
}

/* The runs unlink their files as they end; a run killed in the middle may leave one. */
static void remove_dir(const char *dir)
{
    static const char *const names[] = {"choices", "trace", "output"};
    char p[PATH_MAX];
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s.%d", dir, names[i], (int)getpid());
        unlink(p);
    }
    rmdir(dir);
}

/* Ctrl-C (the program's runs get it too, from the terminal): leave no temporary files. */
static char interrupted_dir[PATH_MAX];

static void on_interrupt(int sig)
{
    DIR *dp = opendir(interrupted_dir);
    struct dirent *e;
    char p[PATH_MAX + 260];

    while (dp != NULL && (e = readdir(dp)) != NULL)
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof(p), "%s/%s", interrupted_dir, e->d_name);
            unlink(p);
        }
    if (dp != NULL)
        closedir(dp);
    rmdir(interrupted_dir);
    signal(sig, SIG_DFL);
    raise(sig);
}

int main(int argc, char **argv)
{
    ah_explore_opts o;
    ah_explore_result res;
    ah__runner runner;
    driver d;
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX];
    const char *strategy = "random";
    int i, failed;
    size_t len = 0;

    if (getenv("AH_UNDER_VALGRIND") != NULL) {
        under_valgrind = ah__strdup(getenv("AH_UNDER_VALGRIND"));
        unsetenv("AH_UNDER_VALGRIND");
    }
    memset(&o, 0, sizeof(o));
    memset(&d, 0, sizeof(d));
    o.schedules = 100;
    o.ignore_env = 1; /* the command line says what to run; the environment is the program's */
    d.timeout_s = 60;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        uint64_t n;
#define VALUE(flag)                                                                                \
    (strcmp(a, flag) == 0                                                                          \
         ? (i + 1 < argc ? (v = argv[++i], 1) : (usage(flag " needs a value"), exit(2), 0))        \
         : (strncmp(a, flag "=", strlen(flag) + 1) == 0 ? (v = a + strlen(flag) + 1, 1) : 0))
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (VALUE("-n") || VALUE("--schedules")) {
            if (parse_u64(v, &n) != 0 || n == 0)
                return usage("-n takes a number of schedules (1 or more)");
            o.schedules = n;
        } else if (VALUE("--strategy")) {
            if (strcmp(v, "random") == 0)
                o.strategy = AH_STRATEGY_RANDOM;
            else if (strcmp(v, "pct") == 0)
                o.strategy = AH_STRATEGY_PCT;
            else if (strcmp(v, "exhaustive") == 0)
                o.strategy = AH_STRATEGY_EXHAUSTIVE;
            else
                return usage("--strategy is random, pct or exhaustive");
            strategy = v;
        } else if (VALUE("--depth")) {
            if (parse_u64(v, &n) != 0 || n == 0 || n > 16)
                return usage("--depth takes PCT's depth, 1 to 16");
            o.pct_depth = (unsigned)n;
        } else if (VALUE("--jobs") || VALUE("-j")) {
            if (strcmp(v, "auto") == 0) {
                long c = sysconf(_SC_NPROCESSORS_ONLN);
                o.jobs = c > 0 ? (unsigned)c : 1;
            } else if (parse_u64(v, &n) != 0 || n == 0 || n > 256) {
                return usage("--jobs takes a number of processes (1 to 256) or auto");
            } else {
                o.jobs = (unsigned)n;
            }
        } else if (VALUE("--shard")) {
            unsigned k, m;
            char end;
            if (sscanf(v, "%u/%u%c", &k, &m, &end) != 2 || k < 1 || k > m)
                return usage("--shard takes K/N with 1 <= K <= N");
            o.shard = k;
            o.shards = m;
        } else if (VALUE("--seed-start")) {
            if (parse_u64(v, &n) != 0)
                return usage("--seed-start takes a seed (a number)");
            o.seed_start = n;
        } else if (VALUE("--timeout")) {
            if (parse_u64(v, &n) != 0 || n > 86400)
                return usage("--timeout takes seconds (0: none)");
            d.timeout_s = (unsigned)n;
        } else if (VALUE("--trace")) {
            o.trace_path = v;
        } else if (strcmp(a, "--no-shrink") == 0) {
            o.no_shrink = 1;
        } else if (a[0] == '-') {
            char why[300];
            snprintf(why, sizeof(why), "unknown option %.200s", a);
            return usage(why);
        } else {
            break; /* the program, without "--" */
        }
#undef VALUE
    }
    if (i >= argc)
        return usage("no program to run");
    d.argv = argv + i;
    for (; i < argc; i++)
        shell_word(d.command, sizeof(d.command), &len, argv[i]);
    if (len > 300)
        fprintf(stderr, "ah-explore: the command is long: replay lines may be cut\n");

    /* the banner's name: the test a runner is told to run, else the program */
    {
        char *const *p;
        const char *name = strrchr(d.argv[0], '/') ? strrchr(d.argv[0], '/') + 1 : d.argv[0];
        for (p = d.argv + 1; *p != NULL; p++) {
            if (strcmp(*p, "--test") == 0 && p[1] != NULL)
                name = p[1];
            else if (strncmp(*p, "--test=", 7) == 0)
                name = *p + 7;
        }
        o.name = name;
    }

    snprintf(dir, sizeof(dir), "%s/ah-explore.XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "ah-explore: cannot make a directory %s: %s\n", dir, strerror(errno));
        return 2;
    }
    d.dir = dir;
    snprintf(interrupted_dir, sizeof(interrupted_dir), "%s", dir);
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
    signal(SIGHUP, on_interrupt);
    d.progress_on = isatty(2);
    clock_gettime(CLOCK_MONOTONIC, &d.t0);
    runner.run = run;
    runner.progress = progress;
    runner.ctx = &d;
    runner.command = d.command;

    /* The set-up check: the program runs, and takes a schedule (it is linked with the harness
     * and makes a sim: a thread, a loop, a test). */
    {
        ah__xrun x;
        memset(&x, 0, sizeof(x));
        x.strategy = AH_STRATEGY_REPLAY;
        run(&d, &x);
        if (d.exec_errno != 0 || !d.took_schedule) {
            if (d.exec_errno != 0)
                fprintf(stderr, "ah-explore: %s\n", x.msg);
            else
                fprintf(stderr,
                        "ah-explore: %s took no schedule: it made no simulated thread, loop or "
                        "test (is it linked with asyncharness::harness? does --test name a test "
                        "it has?); its run:\n  %s\n",
                        d.argv[0], x.msg);
            ah__free(x.msg);
            ah__free(x.choices);
            ah__trace_free(x.trace);
            remove_dir(dir);
            return 2;
        }
        ah__free(x.msg);
        ah__free(x.choices);
    }

    failed = ah__explore_processes(&o, &runner, &res);
    progress_clear(&d);
    if (failed) {
        fprintf(stderr, "%s", res.message);
    } else {
        uint64_t ms = ms_since(&d.t0), first = o.seed_start ? o.seed_start : 1;
        char what[200];
        if (o.strategy == AH_STRATEGY_EXHAUSTIVE)
            snprintf(what, sizeof(what), "%s",
                     res.exhausted ? "every schedule there is" : "not the whole tree: raise -n");
        else if (o.shards > 1)
            snprintf(what, sizeof(what), "shard %u of %u of seeds %llu to %llu", o.shard, o.shards,
                     (unsigned long long)first, (unsigned long long)(first + o.schedules - 1));
        else
            snprintf(what, sizeof(what), "seeds %llu to %llu", (unsigned long long)first,
                     (unsigned long long)(first + o.schedules - 1));
        fprintf(stderr,
                "ah-explore: %llu schedule(s) of %s passed (strategy %s, %s; determinism "
                "checked), in %.1f s\n",
                (unsigned long long)res.schedules_run, d.command, strategy, what,
                (double)ms / 1000.0);
    }
    ah_explore_result_free(&res);
    remove_dir(dir);
    return failed ? 1 : 0;
}
