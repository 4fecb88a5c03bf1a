/*
 * pbkdf2_bench.c - PBKDF2-HMAC-SHA256 rates: OpenSSL's PKCS5_PBKDF2_HMAC
 * against mp_pbkdf2_sha256 (precomputed HMAC states), and the whole SPAKE2+
 * verifier, at 1,000 and 10,000 iterations (80-byte output, 4-byte password,
 * 32-byte salt, as for a verifier). Not part of `make test`; build with
 *   make bench   (build/bench/pbkdf2_bench)
 * Prints the median of 5 runs of each. With arguments ITERATIONS JOBS N
 * (what `make bench` uses): N derivations of mp_pbkdf2_sha256 on JOBS threads,
 * one JSON line {"mode":"pbkdf2","iterations","n","jobs","seconds","rate"}.
 * With ITERATIONS JOBS N DIR BYTES, each derivation is also written out as a
 * BYTES-long file in DIR by one writer thread the way factory-data build
 * writes an image (bench/filering.h): the floor of one file per device,
 * without packing or a ledger ("mode":"pbkdf2-file").
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/opensslv.h>

#include "factory-data/pbkdf2.h"
#include "factory-data/spake2p.h"
#include "util.h"
#include "workers.h"
#include "filering.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* which: 0 OpenSSL, 1 ours, 2 full verifier. Returns operations/s. */
static double rate(int which, uint32_t it, int n)
{
    uint8_t pw[4] = {0x25, 0x42, 0x34, 0x01}, salt[32] = {1}, out[97];
    double t0 = now();
    for (int i = 0; i < n; i++) {
        pw[0] = (uint8_t)i;
        if (which == 0) PKCS5_PBKDF2_HMAC((const char *)pw, 4, salt, 32, (int)it, EVP_sha256(), 80, out);
        else if (which == 1) mp_pbkdf2_sha256(pw, 4, salt, 32, it, out, 80);
        else if (mp_spake2p_verifier(20202021u + (uint32_t)i, salt, 32, it, out) != MP_OK) abort();
    }
    return n / (now() - t0);
}

/* ---- `pbkdf2_bench ITER J N`: the bare limit for the benchmark table -------- */

typedef struct pjob {
    pthread_t th;
    uint32_t it;
    long n;
    int id, jobs;
    filering *fr;
    size_t bytes;
} pjob;

static void *prun(void *arg)
{
    pjob *j = arg;
    mp_workers_pin(j->id, j->jobs); /* as factory-data build's threads (workers.h) */
    uint8_t pw[4] = {0x25, 0x42, 0x34, 0x01}, salt[32] = {(uint8_t)j->id}, out[80];
    uint8_t *img = j->fr ? calloc(1, j->bytes) : NULL;
    fr_batch *batch = NULL;
    for (long i = 0; i < j->n; i++) {
        pw[0] = (uint8_t)i;
        if (mp_pbkdf2_sha256(pw, 4, salt, 32, j->it, out, 80) != 0) abort();
        if (j->fr != NULL) {
            memcpy(img, out, j->bytes < 80 ? j->bytes : 80);
            fr_put(j->fr, &batch, img, j->bytes);
        }
    }
    if (j->fr != NULL) fr_flush(j->fr, &batch);
    free(img);
    return NULL;
}

/* mp_pbkdf2_sha256, 80-byte output, N derivations shared by J threads; one JSON line. */
static int limit(uint32_t it, int jobs, long n, mp_outdir *od, size_t bytes)
{
    pjob js[64];
    filering fr;
    double t0 = now();
    if (od != NULL) fr_start(&fr, od, bytes, "json");
    for (int i = 0; i < jobs; i++) {
        js[i] = (pjob){.it = it, .n = n / jobs, .id = i, .jobs = jobs, .fr = od ? &fr : NULL, .bytes = bytes};
        if (pthread_create(&js[i].th, NULL, prun, &js[i]) != 0) return 1;
    }
    for (int i = 0; i < jobs; i++) pthread_join(js[i].th, NULL);
    if (od != NULL) fr_finish(&fr);
    double dt = now() - t0;
    long done = n / jobs * jobs;
    printf("{\"mode\":\"%s\",\"iterations\":%u,\"n\":%ld,\"jobs\":%d,\"seconds\":%.3f,\"rate\":%.1f}\n",
           od ? "pbkdf2-file" : "pbkdf2", it, done, jobs, dt, (double)done / dt);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 || argc == 6) {
        long it = atol(argv[1]), n = atol(argv[3]), bytes = argc == 6 ? atol(argv[5]) : 0;
        int jobs = atoi(argv[2]);
        mp_outdir od = {.fd = -1};
        if (it < 1 || it > 100000000 || jobs < 1 || jobs > 64 || n < jobs || (argc == 6 && (bytes < 1 || bytes > (1 << 20)))) {
            fprintf(stderr, "usage: pbkdf2_bench [ITERATIONS JOBS N [DIR BYTES]]\n");
            return 2;
        }
        if (argc == 6 && mp_outdir_open(&od, argv[4]) != MP_OK) {
            fprintf(stderr, "%s\n", mp_err_msg());
            return 1;
        }
        int rc = limit((uint32_t)it, jobs, n, argc == 6 ? &od : NULL, (size_t)bytes);
        mp_outdir_close(&od);
        return rc;
    }
    static const char *names[] = {"PKCS5_PBKDF2_HMAC", "mp_pbkdf2_sha256", "SPAKE2+ verifier (mp)"};
    printf("OpenSSL %s; 1 thread; 80-byte PBKDF2-HMAC-SHA256, median of 5\n", OPENSSL_VERSION_TEXT);
    for (uint32_t it = 1000; it <= 10000; it *= 10) {
        double r[3];
        for (int w = 0; w < 3; w++) {
            double s[5];
            for (int k = 0; k < 5; k++) s[k] = rate(w, it, it == 1000 ? 2000 : 200);
            qsort(s, 5, sizeof(double), cmp);
            r[w] = s[2];
            printf("%6u iterations  %-24s %9.1f /s  (%.3f ms)\n", it, names[w], r[w], 1000.0 / r[w]);
        }
        printf("%6u iterations  speed-up %.2fx; verifier at %.1f%% of bare PBKDF2\n", it, r[1] / r[0], 100.0 * r[2] / r[1]);
    }
    return 0;
}
