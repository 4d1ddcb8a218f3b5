/* The files of fd/ that define a C library function in the C library's stead, reached from one
 * symbol that the link forces in (-Wl,-u,ah__fd_interposers: CMakeLists.txt, asyncharness.pc).
 * An archive member is linked only for a symbol still undefined, and a sanitizer's runtime defines
 * its interceptors (clock_gettime, getaddrinfo, read, pthread_create, ...) as weak symbols linked
 * before everything: a test that calls only such a function would get the sanitizer's, which
 * calls the real C library, and the sim would never see the call (docs/decisions.md). */
#include "internal_fd.h"

extern const char ah__fd_interposer_addrinfo;
extern const char ah__fd_interposer_clock;
extern const char ah__fd_interposer_dgram;
extern const char ah__fd_interposer_dup;
extern const char ah__fd_interposer_eventfd;
extern const char ah__fd_interposer_pipe;
extern const char ah__fd_interposer_poll;
extern const char ah__fd_interposer_socket;
extern const char ah__fd_interposer_timerfd;
extern const char ah__fd_interposer_tty;
extern const char ah__fd_interposer_signalfd;
extern const char ah__fd_interposer_unixdgram;
extern const char ah__fd_interposer_uvopen;

const void *const ah__fd_interposers[] = {
    &ah__libc_room, /* harness/libc.c: which definition of each name won the link */
    &ah__fd_interposer_addrinfo,
    &ah__fd_interposer_clock,
    &ah__fd_interposer_dgram,
    &ah__fd_interposer_poll,
    &ah__fd_interposer_socket,
    &ah__fd_interposer_tty,
    &ah__fd_interposer_eventfd,
    &ah__fd_interposer_pipe,
    &ah__fd_interposer_timerfd,
    &ah__fd_interposer_dup,
    &ah__fd_interposer_unixdgram,
    &ah__fd_interposer_signalfd,
    &ah__fd_interposer_uvopen, /* uv_write2's handle passing reaches it only through a hook */
};
