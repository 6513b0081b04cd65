/* The thread pool of parallel.h: workers take the next index from one atomic counter. */
#include "base/parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct pool {
        void (*work)(void *shared, size_t index);
        void *shared;
        size_t count;
        atomic_size_t next;
};

static void *pool_worker(void *data)
{
        struct pool *pool = data;
        for (;;) {
                size_t index = atomic_fetch_add(&pool->next, 1);
                if (index >= pool->count)
                        return NULL;
                pool->work(pool->shared, index);
        }
}

void parallel_for(size_t count, void (*work)(void *shared, size_t index), void *shared)
{
        struct pool pool = {.work = work, .shared = shared, .count = count};
        atomic_init(&pool.next, 0);
        size_t wanted = count < PARALLEL_MAX ? count : PARALLEL_MAX;
        pthread_t threads[PARALLEL_MAX];
        size_t started = 0;
        /* Each worker mostly waits on children: 1 MiB of stack (not the default 8) is plenty,
         * sanitizers included. */
        pthread_attr_t attr;
        bool have_attr = pthread_attr_init(&attr) == 0;
        if (have_attr)
                (void)pthread_attr_setstacksize(&attr, 1024 * 1024);
        /* Never more workers than needed; the caller's thread works too. */
        for (; started + 1 < wanted; started++)
                if (pthread_create(&threads[started], have_attr ? &attr : NULL, pool_worker,
                                   &pool) != 0)
                        break;
        if (have_attr)
                (void)pthread_attr_destroy(&attr);
        (void)pool_worker(&pool);
        for (size_t i = 0; i < started; i++)
                (void)pthread_join(threads[i], NULL);
}
