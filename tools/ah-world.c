/* ah-world: the owner of a world whose programs are started separately (docs/world.md,
 * "Programs started separately").
 *
 *   ah-world [-n N] [-t SECONDS] [-v] PATH
 *
 * Listens on the unix socket PATH; every harness-linked program started with AH_WORLD=PATH in
 * its environment connects there before main and says the same hello as a child started by a
 * simulated process. Once N programs joined (default 2; -t: how long to wait for them in real
 * time, default 10 s) they run in one world, ordered by their program names, from one instant;
 * ah-world runs the world until every member has exited and exits 0 when each exited 0,
 * otherwise with the first failing member's status (its exit code, or 128 + its signal) in the
 * order of their names; 124 when fewer than N joined (those that did are killed), 125 on a usage
 * or socket error. -v prints each member's end with its virtual instant on stderr.
 *
 * A thin driver: the world is world/world.c's (ah__world_serve); ah-world is a plain program on
 * the harness whose blocking waitpid runs the world as any owner's blocking waits do. */
#include "../world/internal_world.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* world/world.c: ah-world never joins a world itself, whatever AH_WORLD says */
const int ah__world_owner_program = 1;

static int usage(void)
{
    fprintf(stderr, "usage: ah-world [-n N] [-t SECONDS] [-v] PATH\n"
                    "  then start each program with AH_WORLD=PATH in its environment\n");
    return 125;
}

int main(int argc, char **argv)
{
    int n = 2, secs = 10, verbose = 0, c, k, i, rc = 0;
    int *pids;
    char(*names)[256];

    while ((c = getopt(argc, argv, "n:t:v")) != -1) {
        switch (c) {
        case 'n':
            n = atoi(optarg);
            break;
        case 't':
            secs = atoi(optarg);
            break;
        case 'v':
            verbose = 1;
            break;
        default:
            return usage();
        }
    }
    if (optind != argc - 1 || n < 1 || n > 1024 || secs < 0)
        return usage();
    pids = calloc((size_t)n, sizeof(*pids));
    names = calloc((size_t)n, sizeof(*names));
    if (pids == NULL || names == NULL)
        return 125;
    k = ah__world_serve(argv[optind], n, secs * 1000, pids, names);
    if (k < 0)
        return 125;
    if (k < n) {
        fprintf(stderr,
                "ah-world: %d of %d program(s) joined %s within %d s (each started with "
                "AH_WORLD=%s?); those that joined are stopped\n",
                k, n, argv[optind], secs, argv[optind]);
        rc = 124;
        for (i = 0; i < k; i++)
            kill(pids[i], SIGKILL);
    }
    for (i = 0; i < k; i++) {
        int st = 0;
        if (waitpid(pids[i], &st, 0) != pids[i])
            continue;
        if (verbose)
            fprintf(stderr, "ah-world: %s %s %d at +%llu ms\n", names[i],
                    WIFSIGNALED(st) ? "signal" : "exit",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
                    (unsigned long long)ah_now_ms(ah_sim_current()));
        if (rc == 0 && WIFSIGNALED(st))
            rc = 128 + WTERMSIG(st);
        else if (rc == 0 && WEXITSTATUS(st) != 0)
            rc = WEXITSTATUS(st);
    }
    free(pids);
    free(names);
    return rc;
}
