/*
 * ca.h - an issuing CA (PAA or PAI) whose key lives in the token: its
 * certificate, checked against the profile, and a signer bound to it.
 */
#ifndef MP_CA_H
#define MP_CA_H

#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "keystore.h"
#include "x509.h"

typedef struct mp_ca {
    X509 *cert;
    mp_ks_key key;
    EVP_PKEY *signer;
    mp_vidpid vp;
    uint8_t skid[20];
} mp_ca;

/* Load cert_path, check it is a conforming `type` certificate, find key_ref
 * in the token and check it is the certificate's key. test_mode allows the
 * SDK test PAAs (refused otherwise, as TC-DA-1.7 does). */
int mp_ca_open(mp_ks *ks, const char *cert_path, const char *key_ref, int type,
               int test_mode, mp_ca *ca) MP_MUST_CHECK;
void mp_ca_close(mp_ca *ca);

/* Validity from --valid-from / --days / --no-expiry (all optional). */
int mp_validity(const char *valid_from, const char *days, int no_expiry, long default_days,
                time_t *nb, time_t *na) MP_MUST_CHECK;


#include "ceremony.h"

/* A ceremony step that makes a key in the token and a certificate for it:
 * generate `label`, call build (own = a signer for the new key), write PEM to
 * out, append the ceremony record. Any failure deletes the new key and the
 * output: no orphan key, no partial file. */
typedef int (*mp_cert_builder)(void *ctx, const mp_ks_key *key, EVP_PKEY *own, X509 **out);
int mp_key_ceremony(mp_ks *ks, const mp_ceremony_cfg *c, const char *command, const char *label,
                    mp_cert_builder build, void *ctx, const char *out) MP_MUST_CHECK;

/* A ceremony step that makes a CA key: generate `label` in the token, sign
 * spec (spec->point is set here) with issuer (NULL = self-signed), write PEM
 * to out, append the ceremony record. Any failure deletes the new key and
 * the output: no orphan key, no partial file. */
int mp_ca_ceremony(mp_ks *ks, const mp_ceremony_cfg *c, const char *command, const char *label,
                   mp_cert_spec *spec, mp_ca *issuer, const char *out) MP_MUST_CHECK;

#endif
