/* dcl_cert.c - see dcl_cert.h. */
#include "dcl_cert.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "util.h"
#include "x509.h"

int dcl_cert_pem(X509 *x, char **pem)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    int rc = MP_OK;
    if (b == NULL || PEM_write_bio_X509(b, x) != 1) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "cannot encode the certificate as PEM");
    } else {
        long n = BIO_get_mem_data(b, &data);
        *pem = n > 0 ? strndup(data, (size_t)n) : NULL;
        if (*pem == NULL) rc = mp_err(MP_ERR_GENERAL, "out of memory");
    }
    BIO_free(b);
    return rc;
}

int dcl_cert_subject_b64(X509 *x, char **out)
{
    unsigned char *der = NULL;
    int n = i2d_X509_NAME(X509_get_subject_name(x), &der);
    if (n <= 0) {
        return mp_err_ssl(MP_ERR_GENERAL, "cannot encode the certificate subject");
    }
    *out = malloc((size_t)(4 * ((n + 2) / 3) + 1));
    if (*out != NULL) EVP_EncodeBlock((unsigned char *)*out, der, n);
    OPENSSL_free(der);
    return *out ? MP_OK : mp_err(MP_ERR_GENERAL, "out of memory");
}

void dcl_kid_colon(const uint8_t kid[static 20], char out[static 60])
{
    char hex[41];
    mp_hex(kid, 20, hex, 1);
    for (int i = 0; i < 20; i++) {
        out[3 * i] = hex[2 * i];
        out[3 * i + 1] = hex[2 * i + 1];
        out[3 * i + 2] = i == 19 ? 0 : ':';
    }
}

void dcl_kid_plain(const uint8_t kid[static 20], char out[static 41])
{
    mp_hex(kid, 20, out, 1);
}

int dcl_cert_serial_dec(X509 *x, char **out)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *s = bn ? BN_bn2dec(bn) : NULL;
    BN_free(bn);
    if (s == NULL) return mp_err_ssl(MP_ERR_GENERAL, "cannot read the serial number");
    *out = strdup(s);
    OPENSSL_free(s);
    return *out ? MP_OK : mp_err(MP_ERR_GENERAL, "out of memory");
}

int dcl_cert_skid(X509 *x, const char *what, uint8_t skid[static 20])
{
    if (mp_cert_skid(x, skid) != 0) {
        return mp_err(MP_ERR_PROFILE, "%s: no 20-byte subjectKeyIdentifier (the DCL keys certificates by it)", what);
    }
    return MP_OK;
}

int dcl_cert_self_signed(X509 *x)
{
    if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) != 0) {
        return 0;
    }
    EVP_PKEY *k = X509_get0_pubkey(x);
    int ok = k != NULL && X509_verify(x, k) == 1;
    ERR_clear_error();
    return ok;
}

int dcl_cert_issued_by(X509 *child, const char *cwhat, X509 *issuer, const char *iwhat)
{
    uint8_t akid[20], skid[20];
    if (mp_cert_akid(child, akid) != 0 || mp_cert_skid(issuer, skid) != 0 || memcmp(akid, skid, 20) != 0 ||
        X509_NAME_cmp(X509_get_issuer_name(child), X509_get_subject_name(issuer)) != 0) {
        return mp_err(MP_ERR_MISMATCH, "%s is not issued by %s (issuer name / authorityKeyIdentifier differ)", cwhat, iwhat);
    }
    EVP_PKEY *k = X509_get0_pubkey(issuer);
    if (k == NULL || X509_verify(child, k) != 1) {
        return mp_err_ssl(MP_ERR_VERIFY, "%s: signature does not verify with the key of %s", cwhat, iwhat);
    }
    return MP_OK;
}

static int ext_critical(X509 *x, int nid)
{
    int i = X509_get_ext_by_NID(x, nid, -1);
    return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

int dcl_check_crl_signer(X509 *x, const char *what)
{
    uint8_t point[65], skid[20];
    uint32_t flags = X509_get_extension_flags(x), ku = X509_get_key_usage(x);
    const char *bad = NULL;
    if (X509_get_version(x) != X509_VERSION_3) bad = "not an X.509 v3 certificate";
    else if (X509_get_signature_nid(x) != NID_ecdsa_with_SHA256) bad = "signature algorithm is not ecdsa-with-SHA256";
    else if (mp_cert_point(x, point) != MP_OK) bad = "public key is not EC P-256";
    else if (mp_cert_skid(x, skid) != 0) bad = "no 20-byte subjectKeyIdentifier";
    else if (!(flags & EXFLAG_BCONS) || !ext_critical(x, NID_basic_constraints)) bad = "basicConstraints missing or not critical";
    else if (flags & EXFLAG_CA) bad = "basicConstraints cA must be FALSE for a delegated CRL signer";
    else if (!(flags & EXFLAG_KUSAGE) || !ext_critical(x, NID_key_usage)) bad = "keyUsage missing or not critical";
    else if (!(ku & KU_CRL_SIGN) || (ku & ~(uint32_t)(KU_CRL_SIGN | KU_DIGITAL_SIGNATURE))) bad = "keyUsage must have cRLSign and nothing but cRLSign and digitalSignature";
    if (bad != NULL) {
        return mp_err(MP_ERR_PROFILE, "%s: CRL signer profile: %s", what, bad);
    }
    return MP_OK;
}
