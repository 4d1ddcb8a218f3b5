/* The files of fs/ that define a C library function in the C library's stead (aio.c: syscall, and
 * libaio's io_* entry points), reached from one symbol that the link forces in
 * (-Wl,-u,ah__fs_interposers: CMakeLists.txt, asyncharness.pc), as fd/interpose.c explains. */
#include "internal.h"

extern const char ah__fs_interposer_aio;
extern const char ah__fs_interposer_libc;

const void *const ah__fs_interposers[] = {
    &ah__fs_interposer_aio,
    &ah__fs_interposer_libc,
};
