/*
 * va_revoke.c - check 18, revocation (section 7): CRLs signed by the issuer
 * or by a delegated CRL signer it certified (7.2), or a revocation-set JSON
 * (7.3). DAC revoked 302, PAI revoked 202, both 208.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "va_int.h"

static int name_der_eq(const X509_NAME *a, const uint8_t *d, size_t l)
{
    const uint8_t *da;
    size_t la;
    return X509_NAME_get0_der(a, &da, &la) == 1 && la == l && memcmp(da, d, l) == 0;
}

static int name_eq(const X509_NAME *a, const X509_NAME *b)
{
    const uint8_t *db;
    size_t lb;
    return X509_NAME_get0_der(b, &db, &lb) == 1 && name_der_eq(a, db, lb);
}

/* A delegated CRL signer (7.2): certified by issuer, cA FALSE, cRLSign. */
static int delegated_ok(X509 *signer, X509 *issuer)
{
    EVP_PKEY *ik = X509_get0_pubkey(issuer);
    uint32_t ku = X509_get_key_usage(signer);
    return ik != NULL && X509_verify(signer, ik) == 1 && !(X509_get_extension_flags(signer) & EXFLAG_CA) &&
           (ku & KU_CRL_SIGN) && !(ku & ~(uint32_t)(KU_CRL_SIGN | KU_DIGITAL_SIGNATURE)) &&
           name_eq(X509_get_issuer_name(signer), X509_get_subject_name(issuer));
}

/* The key that must have signed crl, if crl is about certs of issuer. */
static X509 *crl_signer(va_ctx *c, X509_CRL *crl, X509 *issuer, X509 **owned)
{
    *owned = NULL;
    if (name_eq(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer))) {
        return issuer;
    }
    for (size_t i = 0; i < c->in->n_crl_signer; i++) {
        const uint8_t *p = c->in->crl_signer[i].der;
        X509 *s = d2i_X509(NULL, &p, (long)c->in->crl_signer[i].len);
        if (s != NULL && name_eq(X509_CRL_get_issuer(crl), X509_get_subject_name(s)) && delegated_ok(s, issuer)) {
            *owned = s;
            return s;
        }
        X509_free(s);
    }
    return NULL;
}

/* 7.2: a CRL AKID, when present, is the signer's SKID. */
static int akid_matches(X509_CRL *crl, X509 *signer)
{
    AUTHORITY_KEYID *ak = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL, NULL);
    uint8_t skid[20];
    int ok = ak == NULL || ak->keyid == NULL ||
             (mp_cert_skid(signer, skid) == 0 && ASN1_STRING_length(ak->keyid) == 20 &&
              memcmp(ASN1_STRING_get0_data(ak->keyid), skid, 20) == 0);
    AUTHORITY_KEYID_free(ak);
    return ok;
}

/* Is cert (issued by issuer) on one of the CRLs? 0/1, or an exit code. */
static int on_crls(va_ctx *c, X509 *cert, X509 *issuer, int *used)
{
    int revoked = 0;
    for (size_t i = 0; i < c->in->n_crl; i++) {
        const mp_va_buf *b = &c->in->crl[i];
        const uint8_t *p = b->der;
        X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)b->len);
        X509 *owned = NULL, *signer = crl ? crl_signer(c, crl, issuer, &owned) : NULL;
        X509_REVOKED *rev = NULL;
        int rc = 0;
        if (signer != NULL) {
            EVP_PKEY *k = X509_get0_pubkey(signer);
            if (!akid_matches(crl, signer)) {
                rc = mp_err(MP_ERR_MISMATCH, "%s: CRL authorityKeyIdentifier differs from its signer's SKID", b->name);
            } else if (k == NULL || X509_CRL_verify(crl, k) != 1) {
                rc = mp_err(MP_ERR_VERIFY, "%s: CRL names the issuer but its signature does not verify with the %s key",
                            b->name, signer == issuer ? "issuer's" : "delegated signer's");
            } else {
                used[i] = 1;
                /* An indirect CRL names the certificate issuer on its entries
                 * (certificateIssuer): look up by certificate. Entries without
                 * it match by serial, as the SDK's revocation-set generator
                 * takes every such entry of the signer's CRL. */
                revoked |= X509_CRL_get0_by_cert(crl, &rev, cert) == 1 ||
                           X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(cert)) == 1;
            }
        }
        X509_free(owned);
        X509_CRL_free(crl);
        ERR_clear_error();
        if (rc != 0) return rc;
    }
    return revoked;
}

/* Revocation-set entry cross-check: the signer is the issuer itself, or a
 * signer the issuer certified (its AKID), with a matching delegator. */
static int entry_trusted(const mp_va_revset *e)
{
    uint8_t kid[20];
    if (mp_cert_skid(e->signer, kid) == 0 && memcmp(kid, e->issuer_skid, 20) == 0) {
        return 1;
    }
    if (mp_cert_akid(e->signer, kid) != 0 || memcmp(kid, e->issuer_skid, 20) != 0) {
        return 0;
    }
    return e->delegator == NULL || (mp_cert_skid(e->delegator, kid) == 0 && memcmp(kid, e->issuer_skid, 20) == 0);
}

static int in_revset(va_ctx *c, X509 *cert)
{
    uint8_t akid[20];
    char serial[41];
    const uint8_t *name;
    size_t name_len;
    if (mp_cert_akid(cert, akid) != 0 || X509_NAME_get0_der(X509_get_issuer_name(cert), &name, &name_len) != 1) {
        return 0;
    }
    mp_va_serial_hex(X509_get0_serialNumber(cert), serial);
    for (size_t i = 0; i < c->in->n_revset; i++) {
        const mp_va_revset *e = &c->in->revset[i];
        if (e->issuer_name_len != name_len || memcmp(e->issuer_name, name, name_len) != 0 ||
            memcmp(e->issuer_skid, akid, 20) != 0) {
            continue;
        }
        if (!entry_trusted(e)) {
            va_note(c, "revocation set entry %zu ignored: crl_signer_cert does not belong to the issuer", i);
            continue;
        }
        for (size_t j = 0; j < e->n_serials; j++) {
            if (strcasecmp(e->serials[j], serial) == 0) return 1;
        }
    }
    return 0;
}

int va_revocation(va_ctx *c)
{
    int used[MP_VA_MAX_CRLS] = {0};
    if (!c->in->has_revocation) {
        va_skip(c, VC_REVOCATION, "no --crl or --revocation-set (the SDK skips revocation without a delegate)");
        return 0;
    }
    int dac = on_crls(c, c->dac, c->pai, used);
    int pai = dac > 1 ? 0 : on_crls(c, c->pai, c->paa, used);
    if (dac > 1 || pai > 1) {
        return dac > 1 ? dac : pai;
    }
    dac |= in_revset(c, c->dac);
    pai |= in_revset(c, c->pai);
    for (size_t i = 0; i < c->in->n_crl; i++) {
        if (!used[i]) va_note(c, "CRL %s does not apply to this DAC or PAI (issuer differs)", c->in->crl[i].name);
    }
    if (dac && pai) {
        return va_fail(c, VC_REVOCATION, VA_PAI_AND_DAC_REVOKED, "DAC and PAI are revoked");
    }
    if (dac || pai) {
        return va_fail(c, VC_REVOCATION, dac ? VA_DAC_REVOKED : VA_PAI_REVOKED, "%s serial is revoked", dac ? "DAC" : "PAI");
    }
    va_pass(c, VC_REVOCATION, "neither DAC nor PAI revoked (%zu CRL(s), %zu revocation-set entr%s)", c->in->n_crl,
            c->in->n_revset, c->in->n_revset == 1 ? "y" : "ies");
    return 0;
}
