/* dac_bench.c - the bare DAC build-and-sign loop through the same code path
 * `dac issue` uses (mp_dac_tmpl + mp_dac_build + EVP_PKEY_sign), with a
 * software PAI key or the PAI key in the token, on J threads.
 *   dac_bench soft N J
 *   dac_bench hsm|hsm-libp11 N J PAI_CERT PAI_KEY_LABEL   (token from MATTER_PKI_* env;
 *       hsm = per-thread raw session as `dac issue` does, hsm-libp11 = libp11 EVP_PKEY)
 *   dac_bench keygen N J                        P-256 key generation + export
 *   dac_bench hsm-keygen N J PAI_CERT PAI_KEY_LABEL   keygen + export + DAC signed in the token
 *       (the per-device work of `dac issue --generate-keys`)
 *   dac_bench hsm-file N J PAI_CERT PAI_KEY_LABEL DIR   hsm, and each DAC written to DIR as its
 *       own file by one writer thread the way `dac issue` writes it (bench/filering.h): the
 *       floor of one file per device, without a ledger
 * Prints one JSON line: {"mode":..., "n":..., "jobs":..., "seconds":..., "rate":...}. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "ca.h"
#include "dac/dacgen.h"
#include "keystore.h"
#include "opts.h"
#include "pin.h"
#include "util.h"
#include "workers.h"
#include "filering.h"
#include "x509.h"

typedef struct job {
    pthread_t th;
    const mp_dac_tmpl *t;
    EVP_PKEY *signer;
    mp_ks_sess *sess;
    const uint8_t *point;
    long n;
    int keygen; /* generate (and export) a device key per iteration */
    int sign;   /* build and sign a DAC per iteration */
    filering *fr; /* hand each DAC to the file writer (hsm-file) */
    int index, jobs; /* this thread's number and their count */
} job;

static void gen(EVP_PKEY_CTX *kg, uint8_t pt[65])
{
    EVP_PKEY *k = NULL;
    BIGNUM *d = NULL;
    size_t len;
    if (EVP_PKEY_keygen(kg, &k) != 1 ||
        EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, 65, &len) != 1 ||
        EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1) {
        fprintf(stderr, "keygen failed\n");
        exit(1);
    }
    BN_clear_free(d);
    EVP_PKEY_free(k);
}

static void *run(void *arg)
{
    job *j = arg;
    mp_workers_pin(j->index, j->jobs); /* as `dac issue`'s signing threads (workers.h) */
    uint8_t der[MP_DAC_MAX_DER], serial[16], pt[65];
    size_t len;
    EVP_PKEY_CTX *kg = NULL;
    if (j->keygen) {
        kg = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        EVP_PKEY_keygen_init(kg);
        EVP_PKEY_CTX_set_group_name(kg, "P-256");
    }
    EVP_PKEY_CTX *ctx = j->sess || !j->sign ? NULL : mp_dac_sign_ctx(j->signer);
    mp_dac_signer sg = {.sess = j->sess, .evp = ctx};
    memcpy(pt, j->point, 65);
    fr_batch *batch = NULL;
    for (long i = 0; i < j->n; i++) {
        if (kg != NULL) {
            gen(kg, pt);
        }
        if (j->sign && (mp_serial_random(serial) != MP_OK ||
                        mp_dac_build(j->t, "Matter DAC 0123456789ABCDEF", pt, serial, &sg, der, &len) != MP_OK)) {
            fprintf(stderr, "build failed: %s\n", mp_err_msg());
            exit(1);
        }
        if (j->fr != NULL) {
            fr_put(j->fr, &batch, der, len);
        }
    }
    if (j->fr != NULL) {
        fr_flush(j->fr, &batch);
    }
    EVP_PKEY_CTX_free(kg);
    EVP_PKEY_CTX_free(ctx);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    mp_cli_startup(); /* MATTER_PKI_PIN is read from the start-up stash, as in matter-pki */
    if (argc < 4) {
        fprintf(stderr, "usage: dac_bench soft|hsm|hsm-libp11|hsm-keygen|hsm-file|keygen N J [PAI_CERT PAI_KEY [DIR]]\n");
        return 2;
    }
    long n = atol(argv[2]);
    int jobs = atoi(argv[3]);
    if (n < 1 || jobs < 1 || jobs > 64) {
        fprintf(stderr, "dac_bench: N >= 1 and 1 <= J <= 64\n");
        return 2;
    }
    uint8_t point[65], pp[65];
    size_t len = 0;
    EVP_PKEY *dev = EVP_EC_gen("P-256");
    EVP_PKEY_get_octet_string_param(dev, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, 65, &len);
    mp_dac_tmpl t;
    X509 *pai = NULL;
    EVP_PKEY *signers[64] = {0};
    mp_ks_sess *sess[64] = {0};
    mp_ks *ks = NULL;
    mp_ca ca = {0};
    int keygen = strcmp(argv[1], "keygen") == 0 || strcmp(argv[1], "hsm-keygen") == 0;
    int sign = strcmp(argv[1], "keygen") != 0;
    mp_outdir od = {.fd = -1};
    if (strcmp(argv[1], "hsm-file") == 0 && (argc < 7 || mp_outdir_open(&od, argv[6]) != MP_OK)) {
        fprintf(stderr, "dac_bench hsm-file: DIR is missing or cannot be opened\n");
        return 2;
    }
    if (strcmp(argv[1], "soft") == 0 || strcmp(argv[1], "keygen") == 0) {
        EVP_PKEY *k = EVP_EC_gen("P-256");
        EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pp, 65, &len);
        mp_cert_spec s = {.type = MP_PAA, .cn = "Bench PAI", .vid = 0xFFF2, .not_before = 1735689600,
                          .not_after = MP_NO_EXPIRY, .point = pp};
        if (mp_cert_build(&s, k, &pai) != MP_OK) return 1;
        for (int i = 0; i < jobs; i++) {
            EVP_PKEY_up_ref(k);
            signers[i] = k;
        }
        EVP_PKEY_free(k);
    } else if (argc >= 6) {
        mp_common c = {0};
        mp_common_finish(&c);
        if (mp_ks_open(&c.hsm, &ks) != MP_OK || mp_ca_open(ks, argv[4], argv[5], MP_PAI, 1, &ca) != MP_OK) {
            fprintf(stderr, "%s\n", mp_err_msg());
            return 1;
        }
        pai = ca.cert;
        for (int i = 0; i < jobs; i++) {
            if (strcmp(argv[1], "hsm-libp11") == 0) {
                signers[i] = mp_ks_signer(ks, &ca.key);
            } else if (mp_ks_sess_open(ks, &ca.key, &sess[i]) != MP_OK) {
                fprintf(stderr, "%s\n", mp_err_msg());
                return 1;
            }
        }
    } else {
        return 2;
    }
    if (mp_dac_tmpl_init(&t, pai, 0xFFF2, 0x8001, 1735689600, MP_NO_EXPIRY) != MP_OK) return 1;
    job js[64];
    filering fr;
    double t0 = now_s();
    if (od.fd >= 0) {
        fr_start(&fr, &od, MP_DAC_MAX_DER, "der");
    }
    for (int i = 0; i < jobs; i++) {
        js[i] = (job){.t = &t, .signer = signers[i], .sess = sess[i], .point = point, .n = n / jobs, .keygen = keygen, .sign = sign,
                      .fr = od.fd >= 0 ? &fr : NULL, .index = i, .jobs = jobs};
        if (pthread_create(&js[i].th, NULL, run, &js[i]) != 0) {
            fprintf(stderr, "dac_bench: cannot start thread %d\n", i);
            return 1;
        }
    }
    for (int i = 0; i < jobs; i++) pthread_join(js[i].th, NULL);
    if (od.fd >= 0) {
        fr_finish(&fr);
    }
    double dt = now_s() - t0;
    printf("{\"mode\":\"%s\",\"n\":%ld,\"jobs\":%d,\"seconds\":%.3f,\"rate\":%.0f}\n", argv[1], n, jobs, dt, (double)n / dt);
    for (int i = 0; i < jobs; i++) {
        EVP_PKEY_free(signers[i]);
        mp_ks_sess_close(sess[i]);
    }
    if (ks == NULL) X509_free(pai);
    mp_ca_close(&ca);
    mp_ks_close(ks);
    mp_outdir_close(&od);
    EVP_PKEY_free(dev);
    return 0;
}
