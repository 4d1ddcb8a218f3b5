/* User-level contexts: the contexts mode of the baton scheduler (AH_THREADS=contexts,
 * ah_sim_opts.thread_contexts; docs/threads.md "The contexts mode", decisions.md).
 *
 * In this mode the simulated threads of a sim are not OS threads: each is a context with a stack
 * of its own, run by the sim's OS thread (the test's), and a handover is a swapcontext, with no
 * wake-up of another thread. Only one simulated thread runs at a time anyway. What an OS thread
 * would have of its own travels with the context: the signal mask (swapcontext), errno, every
 * module's thread-local storage block but the C library's (copied out and in at each switch, so
 * each simulated thread sees its own values of `__thread` variables; their addresses are the
 * same for all of them), the values of the thread-specific keys (sched.c), the thread's name
 * and stack (pthread_getname_np / pthread_getattr_np, sched.c). Stacks are parked and reused, as
 * the OS threads of the default mode are. */
#define _GNU_SOURCE 1
#include "internal_threads.h"

#include <errno.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif

/* The TLS blocks of the OS thread that carries the contexts (the sim's owner), module by module:
 * the C library's and the dynamic loader's are left alone (errno is saved by name). */
#define AH__CX_MAX_BLOCKS 32
static struct {
    char *addr;        /* the block, on the carrier thread */
    size_t memsz;      /* its size */
    const char *image; /* its initial image (.tdata) */
    size_t filesz;     /* .tdata's size; the rest is .tbss, zeroed */
    size_t off;        /* where it goes in a context's save area */
} blocks[AH__CX_MAX_BLOCKS];
static size_t nblocks, tls_total;
static pthread_t tls_owner;
static int tls_scanned;

static int scan_one(struct dl_phdr_info *info, size_t size, void *data)
{
    int i;

    (void)size;
    (void)data;
    if (!ah__tls_block_is_ours(info))
        return 0;
    for (i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_TLS || nblocks == AH__CX_MAX_BLOCKS)
            continue;
        blocks[nblocks].addr = info->dlpi_tls_data;
        blocks[nblocks].memsz = ph->p_memsz;
        blocks[nblocks].image = (const char *)(info->dlpi_addr + ph->p_vaddr);
        blocks[nblocks].filesz = ph->p_filesz;
        blocks[nblocks].off = tls_total;
        tls_total += (ph->p_memsz + 15) & ~(size_t)15;
        nblocks++;
    }
    return 0;
}

/* The carrier's blocks, scanned once per carrier thread (a module loaded later whose block the
 * carrier had not allocated yet is not swapped: docs/threads.md). */
static void scan(void)
{
    pthread_t me = AH__REAL(pthread_self)();

    if (tls_scanned && pthread_equal(me, tls_owner))
        return;
    nblocks = 0;
    tls_total = 0;
    dl_iterate_phdr(scan_one, NULL);
    tls_owner = me;
    tls_scanned = 1;
}

static void tls_fresh(ah__cx *c)
{
    size_t i;

    for (i = 0; i < nblocks; i++) {
        memcpy(c->tls + blocks[i].off, blocks[i].image, blocks[i].filesz);
        memset(c->tls + blocks[i].off + blocks[i].filesz, 0, blocks[i].memsz - blocks[i].filesz);
    }
}

void ah__cx_out(ah__cx *c)
{
    size_t i;

    c->err = errno;
    for (i = 0; i < nblocks; i++)
        memcpy(c->tls + blocks[i].off, blocks[i].addr, blocks[i].memsz);
}

void ah__cx_in(ah__cx *c)
{
    size_t i;

    for (i = 0; i < nblocks; i++)
        memcpy(blocks[i].addr, c->tls + blocks[i].off, blocks[i].memsz);
    errno = c->err;
}

int ah__cx_wanted(const ah_sim *sim)
{
    static int env = -1;
    int on;

    if (env < 0) {
        const char *v = getenv("AH_THREADS");
        env = v != NULL && strcmp(v, "contexts") == 0;
    }
    on = sim->opts.thread_contexts != 0 ? sim->opts.thread_contexts > 0 : env;
    if (!on)
        return 0;
    /* Valgrind's tools and the sanitizers keep per-thread state of their own: OS threads there. */
    if (ah__under_valgrind())
        return 0;
#if defined(__SANITIZE_THREAD__) || defined(AH_TSAN_RUNTIME) || defined(__SANITIZE_ADDRESS__)
    return 0;
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) ||                         \
    __has_feature(thread_sanitizer)
    return 0;
#endif
#endif
#ifdef RUNNING_ON_VALGRIND
    if (RUNNING_ON_VALGRIND)
        return 0;
#endif
    return 1;
}

/* ---- the switch ----
 *
 * On x86-64 a context is a stack pointer: the switch pushes the callee-saved registers and the
 * SSE and x87 control words, stores the stack pointer, loads the other one and pops (as a
 * function call, the ABI's caller-saved registers are the compiler's to keep). Elsewhere it is
 * swapcontext. Neither switches the signal mask by itself (swapcontext would, with a system call
 * per switch, which on this project's VM was two thirds of a switch): the mask is per context
 * all the same, switched only when the two differ. A context's mask is known without asking the
 * kernel unless it called pthread_sigmask or sigprocmask since (both pass through here). */
#if defined(__x86_64__)
void ah__cx_swap(void **save_sp, void *new_sp);
void ah__cx_start(void);
__asm__(".text\n"
        ".globl ah__cx_swap\n"
        ".hidden ah__cx_swap\n"
        ".type ah__cx_swap,@function\n"
        "ah__cx_swap:\n"
        "  .cfi_startproc\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  subq $8, %rsp\n"
        "  stmxcsr (%rsp)\n"
        "  fnstcw 4(%rsp)\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  ldmxcsr (%rsp)\n"
        "  fldcw 4(%rsp)\n"
        "  addq $8, %rsp\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        "  .cfi_endproc\n"
        ".size ah__cx_swap,.-ah__cx_swap\n"
        /* a new context's first frame: entry(arg) from r13 and r12; never returns */
        ".globl ah__cx_start\n"
        ".hidden ah__cx_start\n"
        ".type ah__cx_start,@function\n"
        "ah__cx_start:\n"
        "  .cfi_startproc\n"
        "  .cfi_undefined rip\n"
        "  movq %r12, %rdi\n"
        "  callq *%r13\n"
        "  ud2\n"
        "  .cfi_endproc\n"
        ".size ah__cx_start,.-ah__cx_start\n");

static void prepare(ah__cx *c, void (*entry)(void *), void *arg)
{
    uintptr_t top = ((uintptr_t)c->stack + c->stack_size) & ~(uintptr_t)15;
    uint64_t *r = (uint64_t *)(top - 24); /* the return slot: entry runs 16-byte aligned */
    uint64_t *sp = r - 7;

    r[0] = (uint64_t)(uintptr_t)ah__cx_start;
    r[-1] = 0;                                 /* rbp */
    r[-2] = 0;                                 /* rbx */
    r[-3] = (uint64_t)(uintptr_t)arg;          /* r12 */
    r[-4] = (uint64_t)(uintptr_t)entry;        /* r13 */
    r[-5] = 0;                                 /* r14 */
    r[-6] = 0;                                 /* r15 */
    sp[0] = 0x1f80 | ((uint64_t)0x037f << 32); /* MXCSR and the x87 control word, as at start */
    c->sp = sp;
}

static void raw_switch(ah__cx *from, ah__cx *to)
{
    void *dummy;
    ah__cx_swap(from != NULL ? &from->sp : &dummy, to->sp);
}
#else
static void (*start_entry)(void *);
static void *start_arg;

static void start_thunk(void) { start_entry(start_arg); }

static void prepare(ah__cx *c, void (*entry)(void *), void *arg)
{
    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = c->stack;
    c->uc.uc_stack.ss_size = c->stack_size;
    c->uc.uc_link = NULL;
    c->entry = entry;
    c->arg = arg;
    makecontext(&c->uc, start_thunk, 0);
}

static void raw_switch(ah__cx *from, ah__cx *to)
{
    if (to->entry != NULL) { /* its first run: the thunk reads these before anything else runs */
        start_entry = to->entry;
        start_arg = to->arg;
        to->entry = NULL;
    }
    if (from != NULL)
        swapcontext(&from->uc, &to->uc);
    else
        setcontext(&to->uc);
}
#endif

static int mask_dirty = 1; /* the running context may have changed its mask */

static int real_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    static int (*real)(int, const sigset_t *, sigset_t *);
    if (real == NULL)
        *(void **)&real = ah__real("pthread_sigmask");
    return real(how, set, old);
}

AH__LIBC(pthread_sigmask, 20, AH__LIBC_THREAD);
int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    if (set != NULL)
        mask_dirty = 1;
    return real_sigmask(how, set, old);
}

AH__LIBC(sigprocmask, 16, AH__LIBC_THREAD);
int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    int (*real)(int, const sigset_t *, sigset_t *) = AH__REAL(sigprocmask);
    if (set != NULL)
        mask_dirty = 1;
    return real(how, set, old);
}

static void mask_known(ah__cx *c)
{
    if (mask_dirty) {
        real_sigmask(SIG_SETMASK, NULL, &c->mask);
        mask_dirty = 0;
    }
}

void ah__cx_switch(ah__cx *from, ah__cx *to)
{
    if (from != NULL)
        mask_known(from);
    if (from == NULL || memcmp(&from->mask, &to->mask, sizeof(to->mask)) != 0) {
        real_sigmask(SIG_SETMASK, &to->mask, NULL);
        mask_dirty = 0;
    }
    raw_switch(from, to);
}

/* ---- stacks, parked for reuse ---- */

static ah__cx *cx_park;
static int cx_park_lock;

static void lock(void)
{
    while (__atomic_exchange_n(&cx_park_lock, 1, __ATOMIC_ACQUIRE) != 0)
        ;
}

static void unlock(void) { __atomic_store_n(&cx_park_lock, 0, __ATOMIC_RELEASE); }

/* The stack a thread gets when none is asked: RLIMIT_STACK, as glibc's pthread_create (2 MiB when
 * unlimited), mapped lazily: untouched pages cost nothing. */
static size_t default_stack(void)
{
    static size_t dflt;
    struct rlimit lim;

    if (dflt == 0) {
        dflt = (size_t)2 << 20;
        if (getrlimit(RLIMIT_STACK, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
            lim.rlim_cur >= (size_t)PTHREAD_STACK_MIN)
            dflt = (size_t)lim.rlim_cur & ~((size_t)getpagesize() - 1);
    }
    return dflt;
}

ah__cx *ah__cx_main(void)
{
    ah__cx *c;

    scan();
    c = ah__calloc(1, sizeof(*c) + tls_total);
    c->tls = (unsigned char *)(c + 1);
    c->tls_size = tls_total;
    /* read once per sim: a mask restored behind our back (siglongjmp) is seen here */
    real_sigmask(SIG_SETMASK, NULL, &c->mask);
    mask_dirty = 0;
    return c;
}

ah__cx *ah__cx_new(size_t stack_size, void (*entry)(void *), void *arg, ah__cx *creator)
{
    size_t page = (size_t)getpagesize();
    ah__cx *c, **pp;

    scan();
    if (stack_size == 0)
        stack_size = default_stack();
    stack_size = (stack_size + page - 1) & ~(page - 1);
    lock();
    for (pp = &cx_park; (c = *pp) != NULL; pp = &c->next)
        if (c->stack_size == stack_size && c->tls_size == tls_total) {
            *pp = c->next;
            break;
        }
    unlock();
    if (c == NULL) {
        void *map = mmap(NULL, stack_size + page, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (map == MAP_FAILED)
            return NULL;
        mprotect(map, page, PROT_NONE); /* the guard: an overflow faults, as on a thread */
        c = ah__calloc(1, sizeof(*c) + tls_total);
        c->tls = (unsigned char *)(c + 1);
        c->tls_size = tls_total;
        c->map = map;
        c->map_size = stack_size + page;
        c->stack = (char *)map + page;
        c->stack_size = stack_size;
    }
    c->next = NULL;
    c->err = 0;
    memset(c->kv, 0, sizeof(c->kv));
    tls_fresh(c);
    mask_known(creator);
    c->mask = creator->mask; /* the creator's signal mask, as pthread_create gives */
    prepare(c, entry, arg);
    return c;
}

void ah__cx_free(ah__cx *c)
{
    if (c == NULL)
        return;
    if (c->map == NULL) { /* a test's thread's */
        ah__free(c);
        return;
    }
    lock();
    c->next = cx_park;
    cx_park = c;
    unlock();
}
