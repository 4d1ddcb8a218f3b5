/* The files of threads/ that define a C library function in the C library's stead, reached from one
 * symbol that the link forces in (-Wl,-u,ah__threads_interposers: CMakeLists.txt, asyncharness.pc).
 * An archive member is linked only for a symbol still undefined, and a sanitizer's runtime defines
 * its interceptors (clock_gettime, getaddrinfo, read, pthread_create, ...) as weak symbols linked
 * before everything: a test that calls only such a function would get the sanitizer's, which
 * calls the real C library, and the sim would never see the call (docs/decisions.md). */
#include "internal_threads.h"

extern const char ah__threads_interposer_sched;
extern const char ah__threads_interposer_sleep;
extern const char ah__threads_interposer_sync;

const void *const ah__threads_interposers[] = {
    &ah__libc_room, /* harness/libc.c: which definition of each name won the link */
    &ah__threads_interposer_sched,
    &ah__threads_interposer_sleep,
    &ah__threads_interposer_sync,
};
