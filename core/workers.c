/* workers.c - see workers.h. Threads take the next item from a shared
 * counter, so a thread slowed by the caller's I/O on its core does not leave
 * the others idle at the end of a chunk. */
#include "workers.h"

static void *run(void *arg)
{
    struct mp_worker_arg *a = arg;
    mp_workers *w = a->w;
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&w->next, 1, memory_order_relaxed);
        if (i >= w->n) {
            break;
        }
        w->fn(w->ctx, w->states[a->j], i);
    }
    return NULL;
}

void mp_workers_init(mp_workers *w, int jobs, void **states, mp_work_fn fn)
{
    w->jobs = jobs < 1 ? 1 : jobs > MP_MAX_JOBS ? MP_MAX_JOBS : jobs;
    w->states = states;
    w->fn = fn;
    w->running = 0;
}

int mp_workers_start(mp_workers *w, void *ctx, size_t n)
{
    w->ctx = ctx;
    w->n = n;
    atomic_store(&w->next, 0);
    for (int j = 0; j < w->jobs; j++) {
        w->args[j].w = w;
        w->args[j].j = j;
        if (pthread_create(&w->th[j], NULL, run, &w->args[j]) != 0) {
            atomic_store(&w->next, n); /* the started ones stop after their item */
            for (int k = 0; k < j; k++) {
                pthread_join(w->th[k], NULL);
            }
            return mp_err(MP_ERR_GENERAL, "cannot start worker threads");
        }
    }
    w->running = 1;
    return MP_OK;
}

void mp_workers_join(mp_workers *w)
{
    if (!w->running) {
        return;
    }
    for (int j = 0; j < w->jobs; j++) {
        pthread_join(w->th[j], NULL);
    }
    w->running = 0;
}
