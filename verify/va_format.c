/*
 * va_format.c - the SDK's VerifyAttestationCertificateFormat() (section
 * 1.1/1.2 as the SDK enforces it: narrower than `cert lint`, e.g. unknown
 * non-critical extensions, EKU, AIA and SAN pass) and the input loaders.
 */
#include "verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "util.h"
#include "x509.h"

static int why(char *out, size_t n, const char *msg)
{
    if (out != NULL && n > 0) {
        snprintf(out, n, "%s", msg);
    }
    return -1;
}

/* ExtractPubkeyFromX509Cert(): EC, 256 bits, prime256v1, 65-byte point. */
static int pubkey_ok(X509 *x)
{
    uint8_t point[65];
    EVP_PKEY *pk = X509_get0_pubkey(x);
    return pk != NULL && EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC && EVP_PKEY_get_bits(pk) == 256 &&
           mp_cert_point(x, point) == MP_OK;
}

static int check_bc(X509 *x, int type)
{
    int ca = (X509_get_extension_flags(x) & EXFLAG_CA) != 0;
    long pathlen = X509_get_pathlen(x);
    if (type == VA_CERT_DAC) {
        return !ca && pathlen == -1;
    }
    if (type == VA_CERT_PAI) {
        return ca && pathlen == 0;
    }
    return ca && (pathlen == -1 || pathlen == 1);
}

static int check_ku(X509 *x, int type)
{
    uint32_t ku = X509_get_key_usage(x);
    if (type == VA_CERT_DAC) {
        return ku == KU_DIGITAL_SIGNATURE;
    }
    return (ku & KU_KEY_CERT_SIGN) && (ku & KU_CRL_SIGN) &&
           !(ku & ~(uint32_t)(KU_CRL_SIGN | KU_KEY_CERT_SIGN | KU_DIGITAL_SIGNATURE));
}

/* The extension loop; *seen collects bit 0 BC, 1 KU, 2 SKID, 3 AKID. */
static int check_exts(X509 *x, int type, unsigned *seen, char *w, size_t wl)
{
    for (int i = 0; i < X509_get_ext_count(x); i++) {
        X509_EXTENSION *e = X509_get_ext(x, i);
        int crit = X509_EXTENSION_get_critical(e) == 1;
        const ASN1_OCTET_STRING *kid;
        switch (OBJ_obj2nid(X509_EXTENSION_get_object(e))) {
        case NID_basic_constraints:
            if (!crit || (*seen & 1)) return why(w, wl, "basicConstraints must be critical and occur once");
            if (!check_bc(x, type)) return why(w, wl, "basicConstraints cA/pathLen wrong for this certificate type");
            *seen |= 1;
            break;
        case NID_key_usage:
            if (!crit || (*seen & 2)) return why(w, wl, "keyUsage must be critical and occur once");
            if (!check_ku(x, type)) return why(w, wl, "keyUsage bits wrong for this certificate type");
            *seen |= 2;
            break;
        case NID_subject_key_identifier:
            kid = X509_get0_subject_key_id(x);
            if (crit || (*seen & 4)) return why(w, wl, "subjectKeyIdentifier must be non-critical and occur once");
            if (kid == NULL || ASN1_STRING_length(kid) != 20) return why(w, wl, "subjectKeyIdentifier must be 20 bytes");
            *seen |= 4;
            break;
        case NID_authority_key_identifier:
            kid = X509_get0_authority_key_id(x);
            if (crit || (*seen & 8)) return why(w, wl, "authorityKeyIdentifier must be non-critical and occur once");
            if (kid == NULL || ASN1_STRING_length(kid) != 20) return why(w, wl, "authorityKeyIdentifier keyIdentifier must be 20 bytes");
            *seen |= 8;
            break;
        default:
            break;
        }
    }
    return 0;
}

static int format_x509(X509 *x, int type, char *w, size_t wl)
{
    unsigned seen = 0;
    if (X509_get_version(x) != 2) return why(w, wl, "version must be v3");
    if (X509_get_signature_nid(x) != NID_ecdsa_with_SHA256) return why(w, wl, "signature algorithm must be ecdsa-with-SHA256");
    if (!pubkey_ok(x)) return why(w, wl, "public key must be EC P-256 with a 65-byte uncompressed point");
    if (check_exts(x, type, &seen, w, wl) != 0) return -1;
    if ((seen & 7) != 7) return why(w, wl, "basicConstraints, keyUsage and subjectKeyIdentifier are mandatory");
    if (type != VA_CERT_PAA && !(seen & 8)) return why(w, wl, "authorityKeyIdentifier is mandatory");
    return 0;
}

int mp_va_cert_format(const uint8_t *der, size_t len, int type, char *w, size_t wl)
{
    const uint8_t *p = der;
    if (der == NULL || len == 0) {
        return why(w, wl, "empty certificate");
    }
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL) {
        ERR_clear_error();
        return why(w, wl, "not a DER X.509 certificate");
    }
    int rc = format_x509(x, type, w, wl);
    X509_free(x);
    ERR_clear_error();
    return rc;
}

/* ---- loaders -------------------------------------------------------------- */

/* PEM block named `label` -> DER bytes as they are in the file (no
 * re-encoding, so defective encodings reach the checks untouched). */
static int load_der(const char *path, const char *label, const char *what, mp_va_buf *out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = mp_read_file(path, 1 << 20, &buf, &len);
    if (rc != MP_OK) {
        return rc;
    }
    out->name = path;
    if (len > 10 && memmem(buf, len, "-----BEGIN", 10) != NULL) {
        BIO *b = BIO_new_mem_buf(buf, (int)len);
        char *name = NULL, *header = NULL;
        unsigned char *data = NULL;
        long dl = 0;
        int ok = b != NULL && PEM_read_bio(b, &name, &header, &data, &dl) == 1 && strcmp(name, label) == 0;
        BIO_free(b);
        free(buf);
        OPENSSL_free(name);
        OPENSSL_free(header);
        if (!ok) {
            OPENSSL_free(data);
            ERR_clear_error();
            return mp_err(MP_ERR_INVALID, "%s: expected a PEM '%s' block (%s)", path, label, what);
        }
        out->der = malloc((size_t)dl);
        if (out->der == NULL) {
            OPENSSL_free(data);
            return mp_err(MP_ERR_GENERAL, "out of memory");
        }
        memcpy(out->der, data, (size_t)dl);
        out->len = (size_t)dl;
        OPENSSL_free(data);
        return MP_OK;
    }
    out->der = buf;
    out->len = len;
    return MP_OK;
}

int mp_va_load_cert(const char *path, mp_va_buf *out)
{
    int rc = load_der(path, "CERTIFICATE", "certificate", out);
    if (rc != MP_OK) {
        return rc;
    }
    const uint8_t *p = out->der;
    X509 *x = d2i_X509(NULL, &p, (long)out->len);
    if (x == NULL || p != out->der + out->len) {
        X509_free(x);
        ERR_clear_error();
        return mp_err(MP_ERR_INVALID, "%s: not a DER or PEM X.509 certificate (or trailing bytes)", path);
    }
    X509_free(x);
    return MP_OK;
}

int mp_va_load_crl(const char *path, mp_va_buf *out)
{
    int rc = load_der(path, "X509 CRL", "CRL", out);
    if (rc != MP_OK) {
        return rc;
    }
    const uint8_t *p = out->der;
    X509_CRL *c = d2i_X509_CRL(NULL, &p, (long)out->len);
    if (c == NULL || p != out->der + out->len) {
        X509_CRL_free(c);
        ERR_clear_error();
        return mp_err(MP_ERR_INVALID, "%s: not a DER or PEM X.509 CRL (or trailing bytes)", path);
    }
    X509_CRL_free(c);
    return MP_OK;
}

void mp_va_serial_hex(const ASN1_INTEGER *sn, char out[41])
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    out[0] = 0;
    if (hex != NULL && hex[0] != '-' && strlen(hex) <= 40) {
        size_t n = strlen(hex);
        snprintf(out, 41, "%s%s", n % 2 ? "0" : "", hex);
    }
    OPENSSL_free(hex);
    BN_free(bn);
}
