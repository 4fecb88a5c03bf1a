/* est_codec.c - the encodings EST speaks: certs-only CMS, base64 the way
 * RFC 8951 asks receivers to read it, and the checks of a CSR body. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "b64.h"
#include "est/est.h"
#include "x509.h"

/* DER length octets; returns their count (lengths up to 2^24-1). */
static size_t der_len(uint8_t *p, size_t n)
{
    if (n < 0x80) {
        if (p) p[0] = (uint8_t)n;
        return 1;
    }
    size_t k = n < 0x100 ? 1 : n < 0x10000 ? 2 : 3;
    if (p) {
        p[0] = (uint8_t)(0x80 | k);
        for (size_t i = 0; i < k; i++) p[1 + i] = (uint8_t)(n >> (8 * (k - 1 - i)));
    }
    return 1 + k;
}

static size_t tlv(uint8_t *p, uint8_t tag, size_t n)
{
    if (p) p[0] = tag;
    return 1 + der_len(p ? p + 1 : NULL, n);
}

int mp_est_certs_only(const uint8_t *const *certs, const size_t *lens, size_t n, uint8_t **out, size_t *out_len)
{
    static const uint8_t oid_signed[] = {0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02};
    /* version 1, no digest algorithms, encapsulated content: id-data without content */
    static const uint8_t head[] = {0x02, 0x01, 0x01, 0x31, 0x00, 0x30, 0x0B, 0x06, 0x09,
                                   0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01};
    static const uint8_t tail[] = {0x31, 0x00}; /* no signerInfos */
    size_t certs_len = 0;
    for (size_t i = 0; i < n; i++) certs_len += lens[i];
    if (certs_len > (1u << 20)) return mp_err(MP_ERR_INVALID, "certificates too large for a CMS");
    size_t sd = sizeof(head) + tlv(NULL, 0xA0, certs_len) + certs_len + sizeof(tail);
    size_t expl = tlv(NULL, 0x30, sd) + sd;
    size_t ci = sizeof(oid_signed) + tlv(NULL, 0xA0, expl) + expl;
    size_t total = tlv(NULL, 0x30, ci) + ci;
    uint8_t *b = malloc(total), *p = b;
    if (b == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    p += tlv(p, 0x30, ci);
    memcpy(p, oid_signed, sizeof(oid_signed));
    p += sizeof(oid_signed);
    p += tlv(p, 0xA0, expl);
    p += tlv(p, 0x30, sd);
    memcpy(p, head, sizeof(head));
    p += sizeof(head);
    p += tlv(p, 0xA0, certs_len);
    for (size_t i = 0; i < n; i++) {
        memcpy(p, certs[i], lens[i]);
        p += lens[i];
    }
    memcpy(p, tail, sizeof(tail));
    *out = b;
    *out_len = total;
    return MP_OK;
}

int mp_est_parse_certs_only(const uint8_t *der, size_t len, STACK_OF(X509) **out)
{
    const uint8_t *p = der;
    PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
    if (p7 == NULL || p != der + len || !PKCS7_type_is_signed(p7) || p7->d.sign == NULL ||
        p7->d.sign->cert == NULL || sk_X509_num(p7->d.sign->cert) == 0) {
        PKCS7_free(p7);
        return mp_err_ssl(MP_ERR_INVALID, "not a certs-only CMS SignedData with certificates");
    }
    STACK_OF(X509) *sk = sk_X509_new_null();
    for (int i = 0; sk != NULL && i < sk_X509_num(p7->d.sign->cert); i++) {
        X509 *x = sk_X509_value(p7->d.sign->cert, i);
        if (X509_up_ref(x) != 1 || sk_X509_push(sk, x) <= 0) {
            X509_free(x);
            sk_X509_pop_free(sk, X509_free);
            sk = NULL;
        }
    }
    PKCS7_free(p7);
    if (sk == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    *out = sk;
    return MP_OK;
}

int mp_est_b64_encode(const uint8_t *in, size_t n, char **out, size_t *out_len)
{
    size_t flat = 4 * ((n + 2) / 3);
    size_t cap = flat + flat / 64 + 3;
    char *tmp = malloc(flat + 1), *b = malloc(cap);
    if (tmp == NULL || b == NULL || mp_b64_encode(in, n, tmp, flat + 1) != flat) {
        free(tmp);
        free(b);
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    size_t o = 0;
    for (size_t i = 0; i < flat; i += 64) {
        size_t k = flat - i < 64 ? flat - i : 64;
        memcpy(b + o, tmp + i, k);
        o += k;
        b[o++] = '\n';
    }
    b[o] = 0;
    free(tmp);
    *out = b;
    *out_len = o;
    return MP_OK;
}

long mp_est_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
    char *flat = malloc(n + 1);
    size_t k = 0;
    if (flat == NULL) return -1;
    for (size_t i = 0; i < n; i++) {
        char ch = in[i];
        if (ch != '\r' && ch != '\n' && ch != ' ' && ch != '\t') flat[k++] = ch;
    }
    long r = k == 0 ? -1 : mp_b64_decode(flat, k, out, cap);
    free(flat);
    return r;
}

int mp_est_check_csr(const uint8_t *der, size_t len, mp_est_csr *out, char *why, size_t why_len)
{
    const uint8_t *p = der;
    X509_REQ *r = d2i_X509_REQ(NULL, &p, (long)len);
    int status = 0;
    memset(out, 0, sizeof(*out));
    if (r == NULL || p != der + len) {
        snprintf(why, why_len, "the body is not a DER PKCS#10 request");
        status = 400;
        goto end;
    }
    EVP_PKEY *pk = X509_REQ_get0_pubkey(r);
    if (pk == NULL || X509_REQ_verify(r, pk) != 1) {
        snprintf(why, why_len, "the request's signature does not verify (no proof of possession)");
        status = 400;
        goto end;
    }
    if (mp_pubkey_point(X509_REQ_get_X509_PUBKEY(r), out->point) != MP_OK) {
        snprintf(why, why_len, "the request's key is not an EC P-256 key");
        status = 403;
        goto end;
    }
    X509_NAME *name = X509_REQ_get_subject_name(r);
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    ASN1_STRING *s = i >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)) : NULL;
    if (s != NULL && ASN1_STRING_length(s) > 0 && ASN1_STRING_length(s) < (int)sizeof(out->cn)) {
        memcpy(out->cn, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
    }
end:
    X509_REQ_free(r);
    ERR_clear_error();
    return status;
}

int mp_station_name_check(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-' ||
        strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n) {
        return mp_err(MP_ERR_INVALID, "station name '%s': 1..64 characters of A-Z a-z 0-9 . _ -", s);
    }
    return MP_OK;
}

int mp_cert_serial_hex(X509 *x, char out[41])
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *h = bn ? BN_bn2hex(bn) : NULL;
    int ok = h != NULL && strlen(h) <= 40;
    if (ok) {
        /* even length, as mp_serial_hex writes it */
        snprintf(out, 41, "%s%s", strlen(h) % 2 ? "0" : "", h);
    }
    OPENSSL_free(h);
    BN_free(bn);
    return ok ? MP_OK : mp_err(MP_ERR_INVALID, "certificate serial is not a 1..20 octet integer");
}
