/*
 * dacgen.h - the DAC hot path: a DER template per production order and a
 * builder that fills in serial, CN and public key, hashes the TBS and signs
 * it (PKCS#11 through libp11, or a software key). No X509 object and no
 * provider encoder per device (performance.md section 5); the bytes equal
 * what mp_cert_build() produces for the same inputs (tested).
 */
#ifndef MP_DACGEN_H
#define MP_DACGEN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"
#include "keystore.h"

#define MP_DAC_MAX_DER 700

typedef struct mp_dac_tmpl {
    uint8_t issuer[256];     /* PAI subject DER */
    size_t issuer_len;
    uint8_t validity[40];    /* Validity SEQUENCE DER */
    size_t validity_len;
    uint8_t subj_tail[64];   /* the matter-vid and matter-pid RDNs */
    size_t subj_tail_len;
    uint8_t akid[20];        /* PAI SKID */
    time_t not_before, not_after;
} mp_dac_tmpl;

/* Prepare the template for DACs under `pai` with this VID/PID and validity. */
int mp_dac_tmpl_init(mp_dac_tmpl *t, X509 *pai, uint16_t vid, uint16_t pid, time_t nb,
                     time_t na) MP_MUST_CHECK;

/* How one worker thread signs: a raw PKCS#11 session of its own (the HSM
 * path `dac issue` uses), or an EVP_PKEY context (software keys in tests and
 * benchmarks, or a libp11 key for comparison). */
typedef struct mp_dac_signer {
    mp_ks_sess *sess;
    EVP_PKEY_CTX *evp;
} mp_dac_signer;

/* An EVP signing context (caller frees with EVP_PKEY_CTX_free). */
EVP_PKEY_CTX *mp_dac_sign_ctx(EVP_PKEY *signer);

/* Build and sign one DAC into out (MP_DAC_MAX_DER bytes). */
int mp_dac_build(const mp_dac_tmpl *t, const char *cn, const uint8_t point[static 65],
                 const uint8_t serial[static 16], const mp_dac_signer *sg, uint8_t *out,
                 size_t *len) MP_MUST_CHECK;

/* Render a CN template: {udid}, {udid:N} (first N characters), {vid}, {pid}
 * (4 uppercase hex digits). Returns MP_ERR_INVALID if it exceeds 64 chars. */
int mp_dac_cn(const char *tmpl, const char *udid, uint16_t vid, uint16_t pid, char out[65]) MP_MUST_CHECK;

#endif
