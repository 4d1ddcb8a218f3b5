/* aiolog against the real kernel: appends three records to a temp file with Linux AIO, learns of
 * the completions through the eventfd under uv_poll, syncs, closes, and checks the file holds the
 * records in order. Registered in CTest (aiolog_real): the same writer the tests run on the
 * harness, here on real libuv and a real disk. */
#include "aiolog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int acked, synced, closed;
static const char *recs[] = {"first record\n", "second record\n", "third record\n"};

static void on_ack(aiolog *log, void *arg, int status)
{
    (void)log;
    printf("ack %d: %s\n", (int)(intptr_t)arg, status == 0 ? "ok" : uv_err_name(status));
    acked += status == 0;
}

static void on_close(void *arg)
{
    (void)arg;
    closed = 1;
}

static void on_sync(aiolog *log, void *arg, int status)
{
    (void)arg;
    printf("sync: %s\n", status == 0 ? "ok" : uv_err_name(status));
    synced = status == 0;
    aiolog_close(log, on_close, NULL);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[300], got[128], want[128] = "";
    aiolog *log;
    FILE *f;
    size_t n, i;
    int r;

    snprintf(path, sizeof(path), "%s/aiolog_demo_%d.log", tmp, (int)getpid());
    unlink(path);
    if ((r = aiolog_open(uv_default_loop(), path, NULL, &log)) != 0) {
        fprintf(stderr, "aiolog_open: %s\n", uv_strerror(r));
        return 1;
    }
    for (i = 0; i < 3; i++) {
        aiolog_append(log, recs[i], strlen(recs[i]), on_ack, (void *)(intptr_t)i);
        strcat(want, recs[i]);
    }
    aiolog_sync(log, on_sync, NULL);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    f = fopen(path, "rb");
    n = f != NULL ? fread(got, 1, sizeof(got), f) : 0;
    if (f != NULL)
        fclose(f);
    unlink(path);
    uv_loop_close(uv_default_loop());
    if (acked != 3 || !synced || !closed || n != strlen(want) || memcmp(got, want, n) != 0) {
        fprintf(stderr, "aiolog demo failed: acked %d synced %d closed %d, %zu bytes\n", acked,
                synced, closed, n);
        return 1;
    }
    printf("log holds %zu bytes, as appended\n", n);
    return 0;
}
