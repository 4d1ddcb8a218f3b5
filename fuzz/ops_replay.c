/* Replays one op-sequence file (ops.c, differential subset) on whatever libuv it is linked
 * with, and prints the trace: built as ops_replay_real (libuv) and ops_replay_sim (harness). */
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "ops.h"

void ops_undiagnosed(const char *what)
{
    fprintf(stderr, "ops_replay: misuse op in the differential subset: %s\n", what);
    abort();
}

int main(int argc, char **argv)
{
    static uint8_t data[2048];
    size_t n;
    FILE *f;

    if (argc != 2 || (f = fopen(argv[1], "rb")) == NULL) {
        fprintf(stderr, "usage: %s OPS_FILE\n", argv[0]);
        return 2;
    }
    n = fread(data, 1, sizeof(data), f);
    fclose(f);
    ops_interpret(uv_default_loop(), data, n);
    fputs(ops_trace(NULL), stdout);
    printf("loop_close rc=%d\n", uv_loop_close(uv_default_loop()));
    ops_trace_free();
    return 0;
}
