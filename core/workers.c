/* workers.c - see workers.h. Item i goes to thread i mod J. */
#include "workers.h"

static void *run(void *arg)
{
    struct mp_worker_arg *a = arg;
    mp_workers *w = a->w;
    for (size_t i = (size_t)a->j; i < w->n; i += (size_t)w->jobs) {
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
    for (int j = 0; j < w->jobs; j++) {
        w->args[j].w = w;
        w->args[j].j = j;
        if (pthread_create(&w->th[j], NULL, run, &w->args[j]) != 0) {
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
