/* workers.c - see workers.h. Threads take the next item from a shared
 * counter, so a thread slowed by the caller's I/O on its core does not leave
 * the others idle at the end of a chunk. */
#include "workers.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

static int allowed_cpus(cpu_set_t *allowed)
{
    return sched_getaffinity(0, sizeof(*allowed), allowed) == 0 ? CPU_COUNT(allowed) : 0;
}

void mp_workers_pin(int j, int jobs)
{
    const char *e = getenv("MATTER_PKI_NO_AFFINITY");
    cpu_set_t allowed, one;
    if ((e != NULL && strcmp(e, "1") == 0) || j < 0 || jobs < 2 || allowed_cpus(&allowed) != jobs) {
        return;
    }
    for (int cpu = 0, k = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed)) continue;
        if (k++ == j) {
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            (void)pthread_setaffinity_np(pthread_self(), sizeof(one), &one); /* a refusal leaves it unpinned */
            return;
        }
    }
}

static void *run(void *arg)
{
    struct mp_worker_arg *a = arg;
    mp_workers *w = a->w;
    unsigned seen = 0;
    if (w->name != NULL) {
        pthread_setname_np(pthread_self(), w->name);
    }
    mp_workers_pin(a->j, w->jobs);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->gen == seen && !w->quit) {
            pthread_cond_wait(&w->go, &w->mu);
        }
        if (w->quit) {
            break;
        }
        seen = w->gen;
        pthread_mutex_unlock(&w->mu);
        for (;;) {
            size_t i = atomic_fetch_add_explicit(&w->next, 1, memory_order_relaxed);
            if (i >= w->n) {
                break;
            }
            w->fn(w->ctx, w->states[a->j], i);
        }
        pthread_mutex_lock(&w->mu);
        if (--w->active == 0) {
            pthread_cond_signal(&w->done);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

void mp_workers_init(mp_workers *w, int jobs, void **states, mp_work_fn fn)
{
    w->jobs = jobs < 1 ? 1 : jobs > MP_MAX_JOBS ? MP_MAX_JOBS : jobs;
    w->states = states;
    w->fn = fn;
    w->name = NULL;
    w->running = w->spawned = w->quit = w->active = 0;
    w->caller = w->caller_saved = 0;
    w->gen = 0;
    w->n = 0;
    atomic_init(&w->next, 0);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->go, NULL);
    pthread_cond_init(&w->done, NULL);
}

int mp_workers_caller_helps(mp_workers *w)
{
    cpu_set_t allowed;
    int cpus = allowed_cpus(&allowed);
    w->caller = !w->spawned && w->jobs >= 2 && cpus >= 1 && w->jobs >= cpus;
    return w->caller;
}

static int spawn(mp_workers *w)
{
    for (int j = w->caller; j < w->jobs; j++) {
        w->args[j].w = w;
        w->args[j].j = j;
        if (pthread_create(&w->th[j], NULL, run, &w->args[j]) != 0) {
            pthread_mutex_lock(&w->mu);
            w->quit = 1;
            pthread_cond_broadcast(&w->go);
            pthread_mutex_unlock(&w->mu);
            for (int k = w->caller; k < j; k++) {
                pthread_join(w->th[k], NULL);
            }
            w->quit = 0;
            return mp_err(MP_ERR_GENERAL, "cannot start worker threads");
        }
    }
    w->spawned = 1;
    return MP_OK;
}

int mp_workers_start(mp_workers *w, void *ctx, size_t n)
{
    int rc;
    if (!w->spawned && (rc = spawn(w)) != MP_OK) {
        return rc;
    }
    pthread_mutex_lock(&w->mu);
    w->ctx = ctx;
    w->n = n;
    atomic_store(&w->next, 0);
    w->active = w->jobs - w->caller;
    w->gen++;
    pthread_cond_broadcast(&w->go);
    pthread_mutex_unlock(&w->mu);
    w->running = 1;
    return MP_OK;
}

void mp_workers_join(mp_workers *w)
{
    if (!w->running) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    while (w->active > 0) {
        pthread_cond_wait(&w->done, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    w->running = 0;
}

void mp_workers_help(mp_workers *w)
{
    if (w->running && w->caller) {
        /* pinned at its first help, not in mp_workers_caller_helps: threads
         * the caller starts in between (`dac issue`'s writer) keep every CPU */
        if (!w->caller_saved && sched_getaffinity(0, sizeof(w->caller_cpus), &w->caller_cpus) == 0) {
            w->caller_saved = 1;
            mp_workers_pin(0, w->jobs);
        }
        for (;;) {
            size_t i = atomic_fetch_add_explicit(&w->next, 1, memory_order_relaxed);
            if (i >= w->n) break;
            w->fn(w->ctx, w->states[0], i);
        }
    }
}

void mp_workers_free(mp_workers *w)
{
    mp_workers_join(w);
    if (w->spawned) {
        pthread_mutex_lock(&w->mu);
        w->quit = 1;
        pthread_cond_broadcast(&w->go);
        pthread_mutex_unlock(&w->mu);
        for (int j = w->caller; j < w->jobs; j++) {
            pthread_join(w->th[j], NULL);
        }
        w->spawned = 0;
    }
    if (w->caller_saved) {
        (void)sched_setaffinity(0, sizeof(w->caller_cpus), &w->caller_cpus);
        w->caller_saved = 0;
    }
    pthread_cond_destroy(&w->done);
    pthread_cond_destroy(&w->go);
    pthread_mutex_destroy(&w->mu);
}
