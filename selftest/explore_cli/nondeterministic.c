/* A planted nondeterminism for ah-explore's determinism check: the program counts its own runs in
 * the file argv[1], and on every other run one thread sleeps a millisecond first, so one seed
 * run twice gives two timelines. ah-explore must say so (explore_cli.sh determinism). */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int runs, total;

static void *work(void *arg)
{
    (void)arg;
    if (runs % 2 == 1)
        usleep(1000); /* something outside the schedule decides: the run's number */
    pthread_mutex_lock(&lock);
    total++;
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t a, b;
    FILE *f;

    if (argc < 2)
        return 2;
    f = fopen(argv[1], "r");
    if (f != NULL) {
        if (fscanf(f, "%d", &runs) != 1)
            runs = 0;
        fclose(f);
    }
    f = fopen(argv[1], "w");
    if (f == NULL)
        return 2;
    fprintf(f, "%d\n", runs + 1);
    fclose(f);
    pthread_create(&a, NULL, work, NULL);
    pthread_create(&b, NULL, work, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return total == 2 ? 0 : 1;
}
