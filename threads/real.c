/* The C library's own functions, for the calls the threads room makes itself or passes through
 * (dlsym RTLD_NEXT; under TSan, TSan's interceptor, which our definitions replace, so that TSan
 * sees threads start and locks taken). A file of its own: ctx.c and sched.c both reach it. */
#define _GNU_SOURCE 1
#include "internal_threads.h"

#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *ah__real(const char *name)
{
    void *p = NULL;

#if defined(__SANITIZE_THREAD__) || AH__TSAN || defined(AH_TSAN_RUNTIME)
    {
        /* Under TSan, its interceptor (which our definitions replace) is the C library's door:
         * it must see threads start and locks taken. */
        char n[96];
        snprintf(n, sizeof(n), "__interceptor_%s", name);
        p = dlsym(RTLD_DEFAULT, n);
    }
#endif
    if (p == NULL)
        p = dlsym(RTLD_NEXT, name);
    if (p == NULL) {
        fprintf(stderr, "asyncharness: the C library has no %s\n", name);
        abort();
    }
    return p;
}

int ah__tls_block_is_ours(const struct dl_phdr_info *info)
{
    const char *name = info->dlpi_name != NULL ? ah__base_name(info->dlpi_name) : "";

    return info->dlpi_tls_data != NULL && strncmp(name, "libc.so", 7) != 0 &&
           strncmp(name, "ld-linux", 8) != 0 && strncmp(name, "libpthread", 10) != 0;
}
