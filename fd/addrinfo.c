/* getaddrinfo(3) while a sim is current: answered at once from the sim's DNS table (ah_dns_add),
 * as uv_getaddrinfo's synchronous form is. freeaddrinfo(3) is mocks/dns.c's; gai_strerror(3)
 * stays the C library's, since the codes returned here are the C library's own. */
#define _GNU_SOURCE 1 /* RTLD_NEXT, EAI_ADDRFAMILY, EAI_NODATA */
#include "internal_fd.h"

#include <netdb.h>

/* Reached from fd/interpose.c, so that this file is linked (see there). */
const char ah__fd_interposer_addrinfo = 0;

static int eai_of(int uv)
{
    switch (uv) {
    case 0:
        return 0;
    case UV_EAI_ADDRFAMILY:
        return EAI_ADDRFAMILY;
    case UV_EAI_AGAIN:
        return EAI_AGAIN;
    case UV_EAI_BADFLAGS:
        return EAI_BADFLAGS;
    case UV_EAI_FAMILY:
        return EAI_FAMILY;
    case UV_EAI_MEMORY:
        return EAI_MEMORY;
    case UV_EAI_NODATA:
        return EAI_NODATA;
    case UV_EAI_NONAME:
        return EAI_NONAME;
    case UV_EAI_OVERFLOW:
        return EAI_OVERFLOW;
    case UV_EAI_SERVICE:
        return EAI_SERVICE;
    case UV_EAI_SOCKTYPE:
        return EAI_SOCKTYPE;
    default:
        return EAI_FAIL;
    }
}

AH__LIBC(getaddrinfo, 16, AH__LIBC_DNS);
int getaddrinfo(const char *restrict node, const char *restrict service,
                const struct addrinfo *restrict hints, struct addrinfo **restrict res)
{
    AH__REAL(getaddrinfo);
    ah_sim *sim = ah__sim_libc();
    ah__site site;

    if (sim == NULL || ah__fd_passthrough(sim))
        return real_getaddrinfo(node, service, hints, res);
    site = AH__CALLER("getaddrinfo");
    if (node == NULL && service == NULL)
        return EAI_NONAME;
    return eai_of(ah__dns_resolve_now(ah__net_get(sim), node, service, hints, res, site));
}
