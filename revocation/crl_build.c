/* crl_build.c - sign a CRL in the token (direct or indirect), check a
 * published CRL's freshness, check a delegated CRL signer (see crl.h). */
#include "crl.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "util.h"
#include "x509.h"
#include "x509_build.h"

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

typedef struct add_ctx {
    X509_CRL *crl;
    const X509_NAME *cert_issuer; /* indirect: every entry names the issuer */
} add_ctx;

static int add_revoked(void *ctx, const char *serial, time_t when, const char *reason)
{
    add_ctx *a = ctx;
    return mp_crl_add_revoked(a->crl, serial, when, reason, a->cert_issuer);
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
    X509_CRL *crl = NULL;
    int rc;
    if (mp_cert_skid(s->signer_cert, sskid) != 0) {
        return mp_err_ssl(MP_ERR_GENERAL, "cannot build the CRL");
    }
    if ((rc = mp_crl_frame(s->signer_cert, now, now + s->days * 86400, &crl)) != MP_OK ||
        (rc = crl_ledger(l, s, crl, now, number)) != MP_OK) {
        goto end;
    }
    mp_fault_point("crl-number");
    if ((rc = mp_crl_seal(crl, s->signer_cert, s->signer, *number, s->idp_url, mp_crl_is_indirect(s))) != MP_OK) goto end;
    *out = crl;
    crl = NULL;
end:
    X509_CRL_free(crl);
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
