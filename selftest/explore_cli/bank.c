/* A plain program, no test framework: two threads withdraw from one balance. Built twice:
 * planted (bank_lost_update), each withdrawal reads the balance under the lock, lets the lock go,
 * and writes the new balance under the lock again, so the other thread's withdrawal can fall in
 * between and be lost; and its correct twin (bank_correct, -DBANK_CORRECT), which reads and
 * writes under one taking of the lock. Under the default schedule both pass; `ah-explore -n 200`
 * finds the lost update in the first and nothing in the second (CTest explore_cli_*). */
#undef NDEBUG /* the check is the program's assert, in every build type */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int balance = 100;

static void *withdraw(void *arg)
{
    int amount = *(const int *)arg, seen;

#ifdef BANK_CORRECT
    pthread_mutex_lock(&lock);
    seen = balance;
    balance = seen - amount;
    pthread_mutex_unlock(&lock);
#else
    pthread_mutex_lock(&lock);
    seen = balance; /* read under the lock... */
    pthread_mutex_unlock(&lock);
    pthread_mutex_lock(&lock);
    balance = seen - amount; /* ...and written under it again, from what was read before */
    pthread_mutex_unlock(&lock);
#endif
    return NULL;
}

int main(void)
{
    static const int thirty = 30, fifty = 50;
    pthread_t a, b;

    pthread_create(&a, NULL, withdraw, (void *)&thirty);
    pthread_create(&b, NULL, withdraw, (void *)&fifty);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("balance %d (expected 20)\n", balance);
    assert(balance == 20);
    return 0;
}
