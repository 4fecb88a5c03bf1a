/* x509_crl.c - the CRL builder (see x509_build.h). */
#include "x509_build.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "x509.h"

int mp_cert_build_conf(const char *cn, time_t nb, long days, EVP_PKEY *pub, X509 *issuer, const mp_conf_ext *exts,
                       EVP_PKEY *signer, const char *what, X509 **out)
{
    uint8_t sn[16];
    X509 *x = X509_new();
    BIGNUM *bn = NULL;
    int ok = x != NULL && mp_serial_random(sn) == MP_OK && (bn = BN_bin2bn(sn, 16, NULL)) != NULL &&
             BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL && X509_set_version(x, 2) == 1 &&
             X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) == 1 &&
             mp_asn1_set_time(X509_getm_notBefore(x), nb) == 1 &&
             mp_asn1_set_time(X509_getm_notAfter(x), nb + (time_t)days * 86400) == 1 && X509_set_pubkey(x, pub) == 1;
    BN_free(bn);
    if (!ok) {
        X509_free(x);
        return mp_err_ssl(MP_ERR_GENERAL, "cannot build the certificate");
    }
    X509 *by = issuer != NULL ? issuer : x;
    ok = X509_set_issuer_name(x, X509_get_subject_name(by)) == 1;
    for (const mp_conf_ext *e = exts; ok && e->nid != 0; e++) {
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, by, x, NULL, NULL, 0);
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, e->nid, e->value);
        ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
        X509_EXTENSION_free(ext);
    }
    if (!ok || X509_sign(x, signer, EVP_sha256()) <= 0) {
        X509_free(x);
        return mp_err_ssl(MP_ERR_GENERAL, "cannot sign the %s", what);
    }
    *out = x;
    return MP_OK;
}

int mp_crl_frame(X509 *signer_cert, time_t this_update, time_t next_update, X509_CRL **out)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t0 = ASN1_TIME_new(), *t1 = ASN1_TIME_new();
    int ok = crl != NULL && t0 != NULL && t1 != NULL && mp_asn1_set_time(t0, this_update) &&
             mp_asn1_set_time(t1, next_update) && X509_CRL_set_version(crl, 1) == 1 &&
             X509_CRL_set_issuer_name(crl, X509_get_subject_name(signer_cert)) == 1 &&
             X509_CRL_set1_lastUpdate(crl, t0) == 1 && X509_CRL_set1_nextUpdate(crl, t1) == 1;
    ASN1_TIME_free(t0);
    ASN1_TIME_free(t1);
    if (!ok) {
        X509_CRL_free(crl);
        return mp_err_ssl(MP_ERR_GENERAL, "cannot build the CRL");
    }
    *out = crl;
    return MP_OK;
}

static int reason_code(const char *r)
{
    static const char *const names[] = {"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
                                        "superseded", "cessationOfOperation", "certificateHold", "",
                                        "removeFromCRL", "privilegeWithdrawn"};
    for (int i = 0; r != NULL && i < 10; i++) {
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

int mp_crl_add_revoked(X509_CRL *crl, const char *serial_hex, time_t when, const char *reason, const X509_NAME *cert_issuer)
{
    X509_REVOKED *r = X509_REVOKED_new();
    BIGNUM *bn = NULL;
    ASN1_INTEGER *sn = NULL;
    ASN1_TIME *t = ASN1_TIME_new();
    ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();
    GENERAL_NAMES *gn = cert_issuer ? dir_names(cert_issuer) : NULL;
    int code = reason_code(reason);
    int ok = r != NULL && t != NULL && e != NULL && mp_asn1_set_time(t, when) && BN_hex2bn(&bn, serial_hex) > 0 &&
             (sn = BN_to_ASN1_INTEGER(bn, NULL)) != NULL && X509_REVOKED_set_serialNumber(r, sn) == 1 &&
             X509_REVOKED_set_revocationDate(r, t) == 1 &&
             (code == 0 || (ASN1_ENUMERATED_set(e, code) == 1 &&
                            X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, e, 0, 0) == 1)) &&
             (cert_issuer == NULL || (gn != NULL && X509_REVOKED_add1_ext_i2d(r, NID_certificate_issuer, gn, 1, 0) == 1)) &&
             X509_CRL_add0_revoked(crl, r) == 1;
    if (!ok) X509_REVOKED_free(r);
    GENERAL_NAMES_free(gn);
    ASN1_ENUMERATED_free(e);
    ASN1_TIME_free(t);
    ASN1_INTEGER_free(sn);
    BN_free(bn);
    return ok ? MP_OK : mp_err_ssl(MP_ERR_GENERAL, "cannot add serial %s to the CRL", serial_hex);
}

/* IssuingDistributionPoint: the URL as fullName, indirectCRL when delegated. */
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

int mp_crl_seal(X509_CRL *crl, X509 *signer_cert, EVP_PKEY *signer, uint64_t number, const char *idp_url, int indirect)
{
    uint8_t skid[20];
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    ASN1_INTEGER *num = ASN1_INTEGER_new();
    int ok = akid != NULL && num != NULL && (akid->keyid = ASN1_OCTET_STRING_new()) != NULL &&
             mp_cert_skid(signer_cert, skid) == 0 && ASN1_OCTET_STRING_set(akid->keyid, skid, 20) == 1 &&
             ASN1_INTEGER_set_uint64(num, number) == 1 &&
             X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, 0) == 1 &&
             X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) == 1 &&
             ((!indirect && idp_url == NULL) || add_idp(crl, idp_url, indirect)) && X509_CRL_sort(crl) == 1 &&
             X509_CRL_sign(crl, signer, EVP_sha256()) > 0;
    AUTHORITY_KEYID_free(akid);
    ASN1_INTEGER_free(num);
    return ok ? MP_OK : mp_err_ssl(MP_ERR_GENERAL, "cannot sign the CRL");
}
