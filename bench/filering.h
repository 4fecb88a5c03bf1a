/* filering.h - the floors' file writer (bench only): J producer threads hand
 * finished outputs, 64 at a time, to one writer thread that writes each as
 * its own file with mp_outdir_write (an unnamed file linked under its name,
 * as the tool does) and runs one syncfs per 2048 files: the tool's own
 * arrangement (signers or PBKDF2 workers plus one writer), without a ledger. */
#ifndef MP_BENCH_FILERING_H
#define MP_BENCH_FILERING_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define FR_BATCH 64
#define FR_SLOTS 64 /* batches in flight */

typedef struct fr_batch {
    size_t n, len[FR_BATCH];
    uint8_t *data; /* FR_BATCH * cap */
} fr_batch;

typedef struct filering {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    fr_batch *slots[FR_SLOTS];
    size_t head, count, cap;
    int done;
    long written;
    mp_outdir *od;
    const char *ext;
    pthread_t th;
} filering;

static void *fr_writer(void *arg)
{
    filering *r = arg;
    char name[64];
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (r->count == 0 && !r->done) pthread_cond_wait(&r->cv, &r->mu);
        if (r->count == 0) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        fr_batch *b = r->slots[r->head];
        r->head = (r->head + 1) % FR_SLOTS;
        r->count--;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        for (size_t i = 0; i < b->n; i++, r->written++) {
            snprintf(name, sizeof(name), "%ld.%s", r->written, r->ext);
            if (mp_outdir_write(r->od, name, b->data + i * r->cap, b->len[i], 0644) != MP_OK ||
                ((r->written + 1) % 2048 == 0 && mp_outdir_sync(r->od) != MP_OK)) {
                fprintf(stderr, "write failed: %s\n", mp_err_msg());
                exit(1);
            }
        }
        free(b->data);
        free(b);
    }
    if (mp_outdir_sync(r->od) != MP_OK) exit(1);
    return NULL;
}

static void fr_start(filering *r, mp_outdir *od, size_t cap, const char *ext)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->od = od;
    r->cap = cap;
    r->ext = ext;
    if (pthread_create(&r->th, NULL, fr_writer, r) != 0) {
        fprintf(stderr, "cannot start the writer thread\n");
        exit(1);
    }
}

/* Hand a producer's batch (full, or its last) to the writer. */
static void fr_flush(filering *r, fr_batch **cur)
{
    if (*cur == NULL) return;
    pthread_mutex_lock(&r->mu);
    while (r->count == FR_SLOTS) pthread_cond_wait(&r->cv, &r->mu);
    r->slots[(r->head + r->count) % FR_SLOTS] = *cur;
    r->count++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    *cur = NULL;
}

/* Append one output to a producer's current batch; a full batch goes to the writer. */
static void fr_put(filering *r, fr_batch **cur, const uint8_t *data, size_t len)
{
    if (*cur == NULL) {
        if ((*cur = calloc(1, sizeof(fr_batch))) == NULL || ((*cur)->data = malloc(FR_BATCH * r->cap)) == NULL) abort();
    }
    fr_batch *b = *cur;
    memcpy(b->data + b->n * r->cap, data, len);
    b->len[b->n++] = len;
    if (b->n == FR_BATCH) fr_flush(r, cur);
}

/* Every producer has flushed: wait until every file is written and synced. */
static void fr_finish(filering *r)
{
    pthread_mutex_lock(&r->mu);
    r->done = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->th, NULL);
}

#endif
