/* A run that never ends (it waits for a signal for real, outside the sim): ah-explore's
 * --timeout kills it and reports it as a failing run (explore_cli.sh timeout). */
#include <pthread.h>
#include <unistd.h>

static void *nothing(void *arg) { return arg; }

int main(void)
{
    pthread_t t;

    pthread_create(&t, NULL, nothing, NULL); /* makes the sim: the program takes its schedule */
    pthread_join(t, NULL);
    pause();
    return 0;
}
