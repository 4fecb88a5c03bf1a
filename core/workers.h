/*
 * workers.h - a fixed team of J threads that runs fn(ctx, state[j], i) for
 * every i of a chunk (each thread takes the next free i), in the background,
 * so the caller can record the previous chunk meanwhile (the batch commands'
 * pipelining). The threads are made at the first start and kept for the
 * following chunks; mp_workers_free ends them. With J = 1 the work still runs
 * on its own thread, leaving the caller's thread for I/O.
 */
#ifndef MP_WORKERS_H
#define MP_WORKERS_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>

#include "err.h"

#define MP_MAX_JOBS 64

typedef void (*mp_work_fn)(void *ctx, void *state, size_t i);

typedef struct mp_workers {
    int jobs;
    void **states;         /* one per thread, owned by the caller */
    mp_work_fn fn;
    const char *name;      /* the threads' name (ps, /proc/PID/task), or NULL */
    void *ctx;
    size_t n;
    atomic_size_t next;    /* next item to take */
    int running;           /* a chunk was started and not yet joined */
    int caller;            /* 1: the caller is thread 0 (mp_workers_help) */
    int caller_saved;      /* caller_cpus holds the caller's CPUs, given back by mp_workers_free */
    cpu_set_t caller_cpus;
    int spawned, quit;
    unsigned gen;          /* chunks started so far */
    int active;            /* threads still on the current chunk */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    pthread_t th[MP_MAX_JOBS];
    struct mp_worker_arg {
        struct mp_workers *w;
        int j;
    } args[MP_MAX_JOBS];
} mp_workers;

void mp_workers_init(mp_workers *w, int jobs, void **states, mp_work_fn fn);
/* The caller's thread is the team's thread 0 (state[0]) when the team
 * would otherwise have one thread per CPU the process may use, or more
 * (jobs >= 2): jobs - 1 threads are made, and the caller signs beside them
 * in mp_workers_help once its own work for the chunk is done. A caller
 * that also records and reads ahead (`dac issue`) then never competes with
 * a signing thread for a CPU: on 2 CPUs, three busy threads made the
 * scheduler switch them thousands of times a second, mostly while one held
 * SoftHSM's locks (BENCHMARKS.md, "The ledger's thread signs too"). Call
 * before the first start; returns whether the caller helps. */
int mp_workers_caller_helps(mp_workers *w);
/* Start fn over items 0..n-1 with this ctx; returns at once. */
int mp_workers_start(mp_workers *w, void *ctx, size_t n) MP_MUST_CHECK;
/* Wait for the started work (no-op when nothing runs). */
void mp_workers_join(mp_workers *w);
/* With mp_workers_caller_helps: take items of the started chunk on this
 * thread (state[0], on the first of the process's CPUs, as a team's thread 0
 * would be) until none is left; mp_workers_join then waits for the rest.
 * Otherwise nothing. */
void mp_workers_help(mp_workers *w);
/* Join, then end the threads (after mp_workers_init, always); a caller
 * that helped gets its CPUs back. */
void mp_workers_free(mp_workers *w);

/* Thread j of a team of `jobs` stays on the j-th CPU this process may use,
 * when the team has exactly one thread per such CPU (then the team owns
 * them, and several such runs share them alike); otherwise, or with
 * MATTER_PKI_NO_AFFINITY=1, the scheduler places it. Left to itself, the scheduler
 * moved the signing threads of `dac issue --jobs 2` on 2 CPUs around its
 * ledger and writer threads, and a 100,000-DAC run took 20-30% longer
 * (BENCHMARKS.md, "Signing threads on their own CPUs"). The teams above do
 * this at their start; a program's own signing threads call it (bench/). */
void mp_workers_pin(int j, int jobs);

#endif
