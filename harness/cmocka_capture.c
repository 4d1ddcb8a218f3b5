/* cmocka assertions inside a captured run (an explored schedule, a sweep step, ah_capture_failure).
 *
 * A failed assert_* prints its message with cm_print_error and then calls _fail, which longjmps
 * to cmocka's test runner: out of the explorer, with no banner and no replay command. The harness
 * defines both symbols (libcmocka calls them through its PLT, so the test program's definitions
 * win): while the current sim captures failures, the message is kept and _fail becomes a harness
 * failure of that sim; otherwise both forward to cmocka's own. */
#define _GNU_SOURCE 1 /* RTLD_NEXT */
#include "internal.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static char pending[1024]; /* what cm_print_error said since the last _fail */
static size_t pending_len;

static int capturing(void)
{
    ah_sim *sim = ah_sim_current();
    /* A thread the test started fails through the test's own thread (threads/). */
    return sim != NULL &&
           (sim->capture != NULL || (sim->threads_live > 0 && ah__threads_hooks.off_main != NULL &&
                                     ah__threads_hooks.off_main(sim)));
}

void cm_print_error(const char *const format, ...) __attribute__((format(printf, 1, 2)));
void cm_print_error(const char *const format, ...)
{
    va_list ap;
    ah__buf b = {0};

    va_start(ap, format);
    ah__buf_vprintf(&b, format, ap);
    va_end(ap);
    if (b.s == NULL)
        return;
    if (capturing()) {
        pending_len +=
            (size_t)snprintf(pending + pending_len, sizeof(pending) - pending_len, "%s", b.s);
        if (pending_len >= sizeof(pending))
            pending_len = sizeof(pending) - 1;
        ah__buf_free(&b);
        return;
    }
    {
        /* cmocka's own formats into 1024 bytes: hand it the text in pieces, so a long report (a
         * deadlock listing, an exploration banner) is not cut off. */
        void (*real)(const char *, ...) =
            (void (*)(const char *, ...))dlsym(RTLD_NEXT, "cm_print_error");
        size_t off = 0;

        while (off < b.len) {
            size_t n = b.len - off < 900 ? b.len - off : 900;
            if (real != NULL)
                real("%.*s", (int)n, b.s + off);
            else
                fprintf(stderr, "%.*s", (int)n, b.s + off);
            off += n;
        }
    }
    ah__buf_free(&b);
}

void _fail(const char *const file, const int line)
{
    if (capturing()) {
        char msg[1200];
        size_t n = pending_len;

        while (n > 0 && (pending[n - 1] == '\n' || pending[n - 1] == ' '))
            n--;
        snprintf(msg, sizeof(msg), "%.*s%scmocka assertion failed at %s:%d", (int)n, pending,
                 n ? "\n  " : "", file, line);
        pending_len = 0;
        pending[0] = '\0';
        ah__fail(ah_sim_current(), "%s", msg);
    }
    pending_len = 0;
    {
        /* A plain cmocka assertion in a test body: the virtual time, the seed and the replay
         * line, as the harness's own failures carry (a harness failure printed them already). */
        ah_sim *sim = ah_sim_current();
        if (sim != NULL && !sim->failed && sim->test != NULL) {
            ah__buf b = {0};
            sim->failed = 1;
            ah__banner(sim, &b);
            if (b.s != NULL)
                cm_print_error("%s\n", b.s + 1); /* the banner starts with a newline */
            ah__buf_free(&b);
        }
    }
    {
        void (*real)(const char *, int) = (void (*)(const char *, int))dlsym(RTLD_NEXT, "_fail");
        if (real != NULL)
            real(file, line);
    }
    abort();
}

/* cmocka prints a failed test's accumulated message through vprint_error, which formats into
 * 1024 bytes: an exploration banner or a deadlock report would be cut off. This one has no
 * limit. */
void vprint_error(const char *const format, va_list args) __attribute__((format(printf, 1, 0)));
void vprint_error(const char *const format, va_list args)
{
    ah__buf b = {0};

    ah__buf_vprintf(&b, format, args);
    if (b.s != NULL)
        fputs(b.s, stderr);
    fflush(stderr);
    ah__buf_free(&b);
}
