/* ca.c - see ca.h. */
#include "ca.h"

#include <string.h>

#include <unistd.h>

#include "ceremony.h"
#include "lint.h"
#include "util.h"

int mp_ca_open(mp_ks *ks, const char *cert_path, const char *key_ref, int type,
               int test_mode, mp_ca *ca)
{
    mp_lint lint;
    uint8_t point[65];
    const char *tn = type == MP_PAA ? "PAA" : "PAI";
    int rc;
    memset(ca, 0, sizeof(*ca));
    if ((rc = mp_cert_load(cert_path, &ca->cert)) != MP_OK) {
        return rc;
    }
    if (mp_lint_cert(ca->cert, type, &lint) > 0) {
        rc = mp_err(MP_ERR_PROFILE, "%s: not a conforming %s certificate: %s", cert_path, tn, lint.msg[0]);
        goto fail;
    }
    (void)!mp_dn_vidpid(X509_get_subject_name(ca->cert), &ca->vp);
    (void)!mp_cert_skid(ca->cert, ca->skid);
    uint8_t akid[20];
    if (!test_mode && (mp_is_test_paa(ca->skid) || (mp_cert_akid(ca->cert, akid) == 0 && mp_is_test_paa(akid)))) {
        rc = mp_err(MP_ERR_PROFILE, "%s: chains to a Matter SDK test PAA, which certification (TC-DA-1.7) rejects; pass --test-mode to use it anyway", cert_path);
        goto fail;
    }
    if ((rc = mp_ks_find(ks, key_ref, &ca->key)) != MP_OK) {
        goto fail;
    }
    if ((rc = mp_cert_point(ca->cert, point)) != MP_OK || memcmp(point, ca->key.point, 65) != 0) {
        rc = mp_err(MP_ERR_MISMATCH, "key '%s' is not the key of %s", key_ref, cert_path);
        goto fail;
    }
    if ((ca->signer = mp_ks_signer(ks, &ca->key)) == NULL) {
        rc = mp_err_code();
        goto fail;
    }
    return MP_OK;
fail:
    mp_ca_close(ca);
    return rc;
}

void mp_ca_close(mp_ca *ca)
{
    EVP_PKEY_free(ca->signer);
    X509_free(ca->cert);
    ca->signer = NULL;
    ca->cert = NULL;
}

int mp_validity(const char *valid_from, const char *days, int no_expiry, long default_days,
                time_t *nb, time_t *na)
{
    uint64_t d = (uint64_t)default_days;
    if (valid_from != NULL) {
        if (mp_parse_time(valid_from, nb) != MP_OK) {
            return mp_err_ctx(MP_ERR_INVALID, "--valid-from");
        }
    } else {
        *nb = time(NULL);
    }
    if (days != NULL && no_expiry) {
        return mp_err(MP_ERR_USAGE, "--days and --no-expiry exclude each other");
    }
    if (days != NULL && (mp_parse_uint(days, 3650000, &d) != MP_OK || d == 0)) {
        return mp_err(MP_ERR_INVALID, "--days: '%s' is not a number of days (1..3650000)", days);
    }
    *na = no_expiry || d == 0 ? MP_NO_EXPIRY : *nb + (time_t)d * 86400 - 1;
    if (*na > MP_NO_EXPIRY) {
        *na = MP_NO_EXPIRY;
    }
    return MP_OK;
}

int mp_key_ceremony(mp_ks *ks, const mp_ceremony_cfg *c, const char *command, const char *label,
                    mp_cert_builder build, void *ctx, const char *out)
{
    mp_ks_key key;
    EVP_PKEY *own = NULL;
    X509 *cert = NULL;
    int written = 0;
    int rc = mp_ks_generate(ks, label, &key);
    if (rc != MP_OK) {
        return rc;
    }
    if ((own = mp_ks_signer(ks, &key)) == NULL) {
        rc = mp_err_code() ? mp_err_code() : MP_ERR_GENERAL;
        goto end;
    }
    if ((rc = build(ctx, &key, own, &cert)) != MP_OK || (rc = mp_cert_write_pem(out, cert, c->force)) != MP_OK) {
        goto end;
    }
    written = 1;
    rc = mp_ceremony_log_signed(c, command, ks, &key, cert, out);
end:
    if (rc != MP_OK) {
        if (written) {
            unlink(out);
        }
        mp_ks_delete(ks, &key);
    }
    EVP_PKEY_free(own);
    X509_free(cert);
    return rc;
}

typedef struct ca_build {
    mp_cert_spec *spec;
    mp_ca *issuer;
} ca_build;

static int build_ca_cert(void *ctx, const mp_ks_key *key, EVP_PKEY *own, X509 **out)
{
    ca_build *b = ctx;
    b->spec->point = key->point;
    b->spec->issuer = b->issuer ? b->issuer->cert : NULL;
    return mp_cert_build(b->spec, b->issuer ? b->issuer->signer : own, out);
}

int mp_ca_ceremony(mp_ks *ks, const mp_ceremony_cfg *c, const char *command, const char *label,
                   mp_cert_spec *spec, mp_ca *issuer, const char *out)
{
    ca_build b = {spec, issuer};
    return mp_key_ceremony(ks, c, command, label, build_ca_cert, &b, out);
}
