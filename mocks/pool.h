/* What fs/ (above mocks/) needs of the layers below it for requests: the thread pool
 * (threads/pool.h) and the check that a request is not reused while in flight (mocks/net.c).
 * Nothing here is public API. */
#ifndef AH_MOCKS_POOL_H
#define AH_MOCKS_POOL_H

#include "../harness/internal.h"
#include "../threads/pool.h"

/* Fails the test when `req` is still in flight (mocks/net.c). */
void ah__req_require_idle(const void *req, const char *fn, ah__site site);

#endif
