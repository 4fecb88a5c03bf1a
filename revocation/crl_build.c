/* crl_build.c - sign a CRL in the token (direct or indirect), check a
 * published CRL's freshness, check a delegated CRL signer (see crl.h). */
#include "crl.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "util.h"
#include "x509.h"

void mp_fault_point(const char *name)
{
    const char *f = getenv("MATTER_PKI_FAULT");
    if (f != NULL && strcmp(f, name) == 0) {
        raise(SIGKILL);
    }
}

int mp_crl_is_indirect(const mp_crl_spec *s)
{
    return X509_cmp(s->issuer, s->signer_cert) != 0;
}

int mp_crl_check_delegated(X509 *signer, X509 *issuer, const char *what)
{
    uint8_t akid[20], skid[20];
    uint32_t ku = X509_get_key_usage(signer);
    EVP_PKEY *ik = X509_get0_pubkey(issuer);
    if (X509_NAME_cmp(X509_get_issuer_name(signer), X509_get_subject_name(issuer)) != 0 || ik == NULL ||
        X509_verify(signer, ik) != 1) {
        ERR_clear_error();
        return mp_err(MP_ERR_MISMATCH, "%s: not issued by the CA it signs CRLs for (issuer name or signature)", what);
    }
    if (mp_cert_akid(signer, akid) != 0 || mp_cert_skid(issuer, skid) != 0 || memcmp(akid, skid, 20) != 0) {
        return mp_err(MP_ERR_PROFILE, "%s: authorityKeyIdentifier is not the CA's subjectKeyIdentifier", what);
    }
    if (mp_cert_skid(signer, skid) != 0) {
        return mp_err(MP_ERR_PROFILE, "%s: no 20-byte subjectKeyIdentifier", what);
    }
    if (X509_get_extension_flags(signer) & EXFLAG_CA) {
        return mp_err(MP_ERR_PROFILE, "%s: a delegated CRL signer must have cA FALSE", what);
    }
    if (!(X509_get_extension_flags(signer) & EXFLAG_KUSAGE) || !(ku & KU_CRL_SIGN) ||
        (ku & ~(uint32_t)(KU_CRL_SIGN | KU_DIGITAL_SIGNATURE))) {
        return mp_err(MP_ERR_PROFILE, "%s: keyUsage must hold cRLSign and nothing but cRLSign/digitalSignature", what);
    }
    return MP_OK;
}

static int reason_code(const char *r)
{
    static const char *const names[] = {"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
                                        "superseded", "cessationOfOperation", "certificateHold", "",
                                        "removeFromCRL", "privilegeWithdrawn"};
    for (int i = 0; i < 10; i++) {
        if (strcmp(names[i], r) == 0) return i;
    }
    return 0;
}

/* GENERAL_NAMES holding one directoryName (certificateIssuer). */
static GENERAL_NAMES *dir_names(const X509_NAME *n)
{
    GENERAL_NAMES *g = GENERAL_NAMES_new();
    GENERAL_NAME *e = GENERAL_NAME_new();
    X509_NAME *d = X509_NAME_dup(n);
    if (g == NULL || e == NULL || d == NULL || !sk_GENERAL_NAME_push(g, e)) {
        GENERAL_NAMES_free(g);
        GENERAL_NAME_free(e);
        X509_NAME_free(d);
        return NULL;
    }
    GENERAL_NAME_set0_value(e, GEN_DIRNAME, d);
    return g;
}

typedef struct add_ctx {
    X509_CRL *crl;
    const X509_NAME *cert_issuer; /* indirect: every entry names the issuer */
} add_ctx;

static int add_revoked(void *ctx, const char *serial, time_t when, const char *reason)
{
    add_ctx *a = ctx;
    X509_REVOKED *r = X509_REVOKED_new();
    BIGNUM *bn = NULL;
    ASN1_INTEGER *sn = NULL;
    ASN1_TIME *t = ASN1_TIME_new();
    ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();
    GENERAL_NAMES *gn = a->cert_issuer ? dir_names(a->cert_issuer) : NULL;
    int code = reason_code(reason);
    int ok = r != NULL && t != NULL && e != NULL && mp_asn1_set_time(t, when) && BN_hex2bn(&bn, serial) > 0 &&
             (sn = BN_to_ASN1_INTEGER(bn, NULL)) != NULL && X509_REVOKED_set_serialNumber(r, sn) == 1 &&
             X509_REVOKED_set_revocationDate(r, t) == 1 &&
             (code == 0 || (ASN1_ENUMERATED_set(e, code) == 1 &&
                            X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, e, 0, 0) == 1)) &&
             (a->cert_issuer == NULL || (gn != NULL && X509_REVOKED_add1_ext_i2d(r, NID_certificate_issuer, gn, 1, 0) == 1)) &&
             X509_CRL_add0_revoked(a->crl, r) == 1;
    if (!ok) X509_REVOKED_free(r);
    GENERAL_NAMES_free(gn);
    ASN1_ENUMERATED_free(e);
    ASN1_TIME_free(t);
    ASN1_INTEGER_free(sn);
    BN_free(bn);
    return ok ? MP_OK : mp_err_ssl(MP_ERR_GENERAL, "cannot add serial %s to the CRL", serial);
}

/* IssuingDistributionPoint: the dataURL as fullName, indirectCRL when delegated. */
static int add_idp(X509_CRL *crl, const char *url, int indirect)
{
    ISSUING_DIST_POINT *idp = ISSUING_DIST_POINT_new();
    int ok = idp != NULL;
    if (ok && url != NULL) {
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_IA5STRING *u = ASN1_IA5STRING_new();
        idp->distpoint = DIST_POINT_NAME_new();
        ok = g != NULL && u != NULL && idp->distpoint != NULL && ASN1_STRING_set(u, url, -1) == 1 &&
             (idp->distpoint->type = 0, idp->distpoint->name.fullname = GENERAL_NAMES_new()) != NULL;
        if (ok) {
            GENERAL_NAME_set0_value(g, GEN_URI, u);
            u = NULL;
            ok = sk_GENERAL_NAME_push(idp->distpoint->name.fullname, g) > 0;
            if (ok) g = NULL;
        }
        GENERAL_NAME_free(g);
        ASN1_IA5STRING_free(u);
    }
    if (idp != NULL) idp->indirectCRL = indirect ? 1 : 0;
    ok = ok && X509_CRL_add1_ext_i2d(crl, NID_issuing_distribution_point, idp, 1, 0) == 1;
    ISSUING_DIST_POINT_free(idp);
    return ok;
}

static int crl_frame(const mp_crl_spec *s, X509_CRL *crl, time_t now)
{
    ASN1_TIME *t0 = ASN1_TIME_new(), *t1 = ASN1_TIME_new();
    int ok = t0 != NULL && t1 != NULL && mp_asn1_set_time(t0, now) && mp_asn1_set_time(t1, now + s->days * 86400) &&
             X509_CRL_set_version(crl, 1) == 1 &&
             X509_CRL_set_issuer_name(crl, X509_get_subject_name(s->signer_cert)) == 1 &&
             X509_CRL_set1_lastUpdate(crl, t0) == 1 && X509_CRL_set1_nextUpdate(crl, t1) == 1;
    ASN1_TIME_free(t0);
    ASN1_TIME_free(t1);
    return ok;
}

/* The ledger part: revoked serials, the number, the record; committed. */
static int crl_ledger(mp_ledger *l, const mp_crl_spec *s, X509_CRL *crl, time_t now, uint64_t *number)
{
    uint8_t iskid[20], sskid[20];
    char ihex[41], shex[41];
    uint8_t *ider = NULL, *sder = NULL;
    size_t ilen = 0, slen = 0;
    int indirect = mp_crl_is_indirect(s);
    add_ctx a = {crl, indirect ? X509_get_subject_name(s->issuer) : NULL};
    int rc;
    if (mp_cert_skid(s->issuer, iskid) != 0 || mp_cert_skid(s->signer_cert, sskid) != 0) {
        return mp_err(MP_ERR_PROFILE, "CRL issuer or signer has no 20-byte subjectKeyIdentifier");
    }
    mp_hex(iskid, 20, ihex, 1);
    mp_hex(sskid, 20, shex, 1);
    if ((rc = mp_cert_der(s->issuer, &ider, &ilen)) != MP_OK || (rc = mp_cert_der(s->signer_cert, &sder, &slen)) != MP_OK) {
        goto end;
    }
    if ((rc = mp_ledger_begin(l)) != MP_OK) goto end;
    /* The number belongs to the CRL issuer (the signer): a delegated
     * signer starts its own sequence. */
    if ((rc = mp_ledger_each_revoked(l, ihex, add_revoked, &a)) == MP_OK &&
        (rc = mp_ledger_next_crl_number(l, shex, number)) == MP_OK) {
        mp_crl_rec r = {.issuer_der = ider, .issuer_len = ilen, .signer_der = sder, .signer_len = slen,
                        .number = *number, .this_update = now, .next_update = now + s->days * 86400};
        memcpy(r.issuer_skid, ihex, sizeof(ihex));
        rc = mp_ledger_crl_record(l, &r);
    }
    if (rc == MP_OK) rc = mp_ledger_commit(l);
    if (rc != MP_OK) mp_ledger_rollback(l);
end:
    OPENSSL_free(ider);
    OPENSSL_free(sder);
    return rc;
}

int mp_crl_sign(mp_ledger *l, const mp_crl_spec *s, X509_CRL **out, uint64_t *number)
{
    time_t now = s->now ? s->now : time(NULL);
    uint8_t sskid[20];
    X509_CRL *crl = X509_CRL_new();
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    ASN1_INTEGER *num = ASN1_INTEGER_new();
    int indirect = mp_crl_is_indirect(s), rc;
    if (crl == NULL || akid == NULL || num == NULL || (akid->keyid = ASN1_OCTET_STRING_new()) == NULL ||
        mp_cert_skid(s->signer_cert, sskid) != 0 || ASN1_OCTET_STRING_set(akid->keyid, sskid, 20) != 1 ||
        !crl_frame(s, crl, now)) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "cannot build the CRL");
        goto end;
    }
    if ((rc = crl_ledger(l, s, crl, now, number)) != MP_OK) goto end;
    mp_fault_point("crl-number");
    if (ASN1_INTEGER_set_uint64(num, *number) != 1 ||
        X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, 0) != 1 ||
        X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1 ||
        ((indirect || s->idp_url != NULL) && !add_idp(crl, s->idp_url, indirect)) || X509_CRL_sort(crl) != 1 ||
        X509_CRL_sign(crl, s->signer, EVP_sha256()) <= 0) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "cannot sign the CRL");
        goto end;
    }
    *out = crl;
    crl = NULL;
    rc = MP_OK;
end:
    X509_CRL_free(crl);
    AUTHORITY_KEYID_free(akid);
    ASN1_INTEGER_free(num);
    return rc;
}

int mp_crl_load(const char *path, X509_CRL **out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = mp_read_file(path, 16 * 1024 * 1024, &buf, &len);
    if (rc != MP_OK) return rc;
    const uint8_t *p = buf;
    *out = d2i_X509_CRL(NULL, &p, (long)len);
    if (*out == NULL) {
        BIO *b = BIO_new_mem_buf(buf, (int)len);
        *out = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
    }
    free(buf);
    ERR_clear_error();
    return *out ? MP_OK : mp_err(MP_ERR_INVALID, "%s: not a CRL (DER or PEM)", path);
}

int mp_crl_check(const char *path, X509 *signer, time_t now, long warn_days, FILE *f)
{
    X509_CRL *crl = NULL;
    time_t tu = 0, nu = 0;
    char a[21], b[21];
    int rc = mp_crl_load(path, &crl);
    if (rc != MP_OK) return rc;
    if (signer != NULL && (X509_get0_pubkey(signer) == NULL || X509_CRL_verify(crl, X509_get0_pubkey(signer)) != 1)) {
        ERR_clear_error();
        rc = mp_err(MP_ERR_VERIFY, "%s: the CRL's signature does not verify with the given certificate", path);
        goto end;
    }
    const ASN1_TIME *nt = X509_CRL_get0_nextUpdate(crl);
    if (mp_asn1_time(X509_CRL_get0_lastUpdate(crl), &tu) != 0 || nt == NULL || mp_asn1_time(nt, &nu) != 0) {
        rc = mp_err(MP_ERR_EXPIRING, "%s: the CRL has no readable nextUpdate; commissioners cannot tell whether it is current", path);
        goto end;
    }
    mp_time_iso(tu, a);
    mp_time_iso(nu, b);
    ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    long n = num ? ASN1_INTEGER_get(num) : -1;
    ASN1_INTEGER_free(num);
    if (f != NULL) {
        fprintf(f, "%s: CRL number %ld, %d revoked, thisUpdate %s, nextUpdate %s\n", path, n,
                sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), a, b);
    }
    if (nu <= now) {
        rc = mp_err(MP_ERR_EXPIRING, "%s: nextUpdate %s is past (%ld hour(s) ago): publish a new CRL", path, b,
                    (long)((now - nu) / 3600));
    } else if (nu - now < warn_days * 86400) {
        rc = mp_err(MP_ERR_EXPIRING, "%s: nextUpdate %s is in %ld hour(s), less than %ld day(s): publish a new CRL", path, b,
                    (long)((nu - now) / 3600), warn_days);
    }
end:
    X509_CRL_free(crl);
    return rc;
}
