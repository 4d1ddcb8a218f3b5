/* The C library functions the rooms (fd/, threads/, proc/, mocks/) stand in for: which definition
 * won the link, before main. Each is weak (AH__LIBC in internal.h), so three things can answer a
 * name:
 *   - the room's own definition: nothing to do;
 *   - a static sanitizer runtime's interceptor (clang's ASan links its runtime first, with weak
 *     interceptors that win over the room's weak definition): the interceptor's pointer to the C
 *     library is pointed at the room's definition, so the sanitizer still checks the call and the
 *     sim still answers it (the room reaches the C library itself, through dlsym(RTLD_NEXT));
 *   - the program's own double (a test suite that mocks getaddrinfo or clock_gettime and reaches
 *     the C library's with dlsym(RTLD_NEXT)): it wins, as it would against the C library. Where
 *     the harness needed that function (its clocks, its descriptors, its threads), one line on
 *     stderr names the symbol and what the program loses. */
#define _GNU_SOURCE 1 /* dladdr1 */
#include "internal.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

const char ah__libc_room = 0;

extern ah__libc_fn *const __start_ah_libc[] __attribute__((weak));
extern ah__libc_fn *const __stop_ah_libc[] __attribute__((weak));

static const char *what_is_lost(int what)
{
    switch (what) {
    case AH__LIBC_CLOCK:
        return "the program's clock reads reach it, not the virtual clock (uv_now, uv_hrtime and "
               "the timers stay virtual)";
    case AH__LIBC_SLEEP:
        return "sleeps that reach it take real time, not virtual time";
    case AH__LIBC_THREAD:
        return "the objects of its family (mutexes with condition variables, rwlocks, semaphores "
               "or barriers) are left to the C library, not simulated: a simulated thread that "
               "blocks in it for real stops the whole simulation";
    case AH__LIBC_SIGNAL:
        return "signals sent through it are real, not the sim's";
    case AH__LIBC_FS:
        return "uv_fs_event watchers do not see the names it removes or moves";
    case AH__LIBC_DNS:
        return NULL; /* honoured: uv_getaddrinfo and uv_freeaddrinfo call it, as libuv does */
    default:
        return "calls that reach it are not simulated: to the C library, a fake descriptor of the "
               "sim is /dev/null";
    }
}

static int is_double(const ah__libc_fn *f)
{
    return f->bound != f->own && (f->san_entry == NULL || f->bound != f->san_entry) &&
           (f->san_entry3 == NULL || f->bound != f->san_entry3);
}

/* Before the program's own constructors, with the implicit sim's (sim.c). */
__attribute__((constructor(101))) static void libc_bind(void)
{
    ah__libc_fn *const *p;

    if (__start_ah_libc == NULL)
        return;
    for (p = __start_ah_libc; p < __stop_ah_libc; p++) {
        ah__libc_fn *f = *p;
        const char *lost;
        if (f->bound == f->own)
            continue;
        if (!is_double(f)) {
            Dl_info info;
            const ElfW(Sym) *sym = NULL;
            if (f->san_real == NULL)
                continue;
            *f->san_real = f->own;
            if (dladdr1(f->bound, &info, (void **)&sym, RTLD_DL_SYMENT) && sym != NULL &&
                sym->st_size > 0) {
                f->san_lo = (const char *)f->bound;
                f->san_hi = f->san_lo + sym->st_size;
            }
            continue;
        }
        if ((lost = what_is_lost(f->what)) != NULL)
            fprintf(stderr,
                    "asyncharness: this program defines its own %s, which replaces the "
                    "harness's: %s\n",
                    f->name, lost);
    }
}

static int libc_double_scan(const char *name)
{
    ah__libc_fn *const *p;

    if (__start_ah_libc == NULL)
        return 0;
    for (p = __start_ah_libc; p < __stop_ah_libc; p++)
        if (strcmp((*p)->name, name) == 0)
            return is_double(*p);
    return 0;
}

/* The answers never change once the program runs (they are the link's): the first few names asked
 * are kept by their address (the callers pass literals), each slot written once and never reused.
 * The scan compares ~150 names with strcmp and ran twice per uv_getaddrinfo (mocks/dns.c): a
 * twentieth of an explored schedule's CPU. */
int ah__libc_double(const char *name)
{
    static struct {
        const char *name;
        int answer;
    } seen[8];
    static int claimed[8];
    unsigned i;
    int answer;

    for (i = 0; i < 8; i++)
        if (__atomic_load_n(&seen[i].name, __ATOMIC_ACQUIRE) == name)
            return seen[i].answer;
    answer = libc_double_scan(name);
    for (i = 0; i < 8; i++)
        if (__atomic_exchange_n(&claimed[i], 1, __ATOMIC_ACQ_REL) == 0) {
            seen[i].answer = answer;
            __atomic_store_n(&seen[i].name, name, __ATOMIC_RELEASE);
            break;
        }
    return answer;
}
