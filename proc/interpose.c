/* The files of proc/ that define a C library function in the C library's stead, reached from one
 * symbol that the link forces in (-Wl,-u,ah__proc_interposers: CMakeLists.txt, asyncharness.pc).
 * An archive member is linked only for a symbol still undefined, and a sanitizer's runtime defines
 * its interceptors (clock_gettime, getaddrinfo, read, pthread_create, ...) as weak symbols linked
 * before everything: a test that calls only such a function would get the sanitizer's, which
 * calls the real C library, and the sim would never see the call (docs/decisions.md). */
#include "internal_proc.h"

extern const char ah__proc_interposer_fork;
extern const char ah__proc_interposer_room;
extern const char ah__proc_interposer_signal;

/* room.c is not an interposer: it wires the room's parts together and nothing calls it. */
const void *const ah__proc_interposers[] = {
    &ah__libc_room, /* harness/libc.c: which definition of each name won the link */
    &ah__proc_interposer_fork,
    &ah__proc_interposer_room,
    &ah__proc_interposer_signal,
};
