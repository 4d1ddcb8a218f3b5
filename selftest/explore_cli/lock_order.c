/* A harness diagnostic as an explored failure: two threads take two locks in opposite orders
 * (planted, lock_order_inverted), which deadlocks when each takes its first lock before the other
 * takes its second; the harness reports the deadlock and ends the program. The twin
 * (lock_order_same, -DLOCK_ORDER_SAME) takes them in one order and never deadlocks. */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static int done;

static void *one(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&a);
    pthread_mutex_lock(&b);
    done++;
    pthread_mutex_unlock(&b);
    pthread_mutex_unlock(&a);
    return NULL;
}

static void *two(void *arg)
{
    (void)arg;
#ifdef LOCK_ORDER_SAME
    pthread_mutex_lock(&a);
    pthread_mutex_lock(&b);
#else
    pthread_mutex_lock(&b); /* planted: the other order */
    pthread_mutex_lock(&a);
#endif
    done++;
    pthread_mutex_unlock(&b);
    pthread_mutex_unlock(&a);
    return NULL;
}

int main(void)
{
    pthread_t t1, t2;

    pthread_create(&t1, NULL, one, NULL);
    pthread_create(&t2, NULL, two, NULL);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    printf("done %d\n", done);
    return done == 2 ? 0 : 1;
}
