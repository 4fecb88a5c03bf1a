/* est_codec.c - the encodings EST speaks: certs-only CMS, base64 the way
 * RFC 8951 asks receivers to read it, and the checks of a CSR body. */
/* EC_KEY and ECDSA_do_verify (deprecated in OpenSSL 3.0, kept through 3.x):
 * the only decoder-free way to check an ECDSA signature with a raw point. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/sha.h>
#include <openssl/ec.h>
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

/* ---- the common case without OpenSSL's decoders ------------------------------
 * On OpenSSL 3.0, d2i_X509_REQ decodes the public key through the provider
 * decoders (~200 us, most of the event loop's time per enrollment under
 * load). A device CSR is nearly always exactly: version 0, a Name, a P-256
 * SubjectPublicKeyInfo, attributes, ecdsa-with-SHA256. That shape is read
 * here with a strict DER reader and its signature checked with ECDSA over
 * SHA-256 of the request info; anything else goes the OpenSSL way. */

typedef struct rd {
    const uint8_t *p, *end;
} rd;

/* The next TLV must have tag `tag` (definite, minimal length); *in its
 * content, *whole the TLV itself. */
static int next_tlv(rd *r, uint8_t tag, rd *in, rd *whole)
{
    const uint8_t *s = r->p;
    if (r->end - r->p < 2 || r->p[0] != tag) return -1;
    size_t n = r->p[1], k = 0;
    r->p += 2;
    if (n & 0x80) {
        k = n & 0x7f;
        if (k == 0 || k > 2 || (size_t)(r->end - r->p) < k || r->p[0] == 0) return -1;
        n = 0;
        for (size_t i = 0; i < k; i++) n = n << 8 | *r->p++;
        if (n < 0x80 || (k == 2 && n < 0x100)) return -1; /* not minimal */
    }
    if ((size_t)(r->end - r->p) < n) return -1;
    if (in) *in = (rd){r->p, r->p + n};
    if (whole) *whole = (rd){s, r->p + n};
    r->p += n;
    return 0;
}

static int is_bytes(const rd *r, const uint8_t *b, size_t n)
{
    return (size_t)(r->end - r->p) == n && memcmp(r->p, b, n) == 0;
}

/* The first commonName of a Name, "" when none (or too long). */
static int name_cn(rd name, char cn[65])
{
    static const uint8_t oid_cn[] = {0x06, 0x03, 0x55, 0x04, 0x03};
    rd set, atv;
    cn[0] = 0;
    while (name.p < name.end) {
        if (next_tlv(&name, 0x31, &set, NULL) != 0 || set.p == set.end) return -1;
        while (set.p < set.end) {
            if (next_tlv(&set, 0x30, &atv, NULL) != 0) return -1;
            rd oid, val;
            uint8_t vt;
            if (next_tlv(&atv, 0x06, NULL, &oid) != 0 || atv.end - atv.p < 2) return -1;
            vt = atv.p[0];
            if (vt != 0x0C && vt != 0x13 && vt != 0x16 && vt != 0x14 && vt != 0x1E && vt != 0x1C) return -1;
            if (next_tlv(&atv, vt, &val, NULL) != 0 || atv.p != atv.end) return -1;
            size_t n = (size_t)(val.end - val.p);
            if (cn[0] == 0 && is_bytes(&oid, oid_cn, sizeof(oid_cn)) && n > 0 && n < 65 && vt != 0x1E && vt != 0x1C &&
                memchr(val.p, 0, n) == NULL) {
                memcpy(cn, val.p, n);
                cn[n] = 0;
            }
        }
    }
    return 0;
}

/* 1: the fast shape, checked (status in *status); 0: not that shape. */
static int check_csr_fast(const uint8_t *der, size_t len, mp_est_csr *out, int *status)
{
    memset(out, 0, sizeof(*out));
    static const uint8_t alg_ec[] = {0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01,
                                     0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
    static const uint8_t sig_alg[] = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02};
    static const uint8_t v0[] = {0x00};
    rd top = {der, der + len}, req, info, info_tlv, x, name, spki, alg, bits, sig;
    if (next_tlv(&top, 0x30, &req, NULL) != 0 || top.p != top.end) return 0;
    if (next_tlv(&req, 0x30, &info, &info_tlv) != 0) return 0;
    if (next_tlv(&info, 0x02, &x, NULL) != 0 || !is_bytes(&x, v0, 1)) return 0;
    if (next_tlv(&info, 0x30, &name, NULL) != 0 || name_cn(name, out->cn) != 0) return 0;
    if (next_tlv(&info, 0x30, &spki, NULL) != 0 || next_tlv(&spki, 0x30, NULL, &alg) != 0 ||
        !is_bytes(&alg, alg_ec, sizeof(alg_ec)) || next_tlv(&spki, 0x03, &bits, NULL) != 0 || spki.p != spki.end ||
        bits.end - bits.p != 66 || bits.p[0] != 0 || bits.p[1] != 0x04) {
        return 0;
    }
    if (next_tlv(&info, 0xA0, NULL, NULL) != 0 || info.p != info.end) return 0;
    if (next_tlv(&req, 0x30, &x, NULL) != 0 || !is_bytes(&x, sig_alg, sizeof(sig_alg))) return 0;
    if (next_tlv(&req, 0x03, &sig, NULL) != 0 || req.p != req.end || sig.p == sig.end || sig.p[0] != 0) return 0;
    memcpy(out->point, bits.p + 1, 65);
    /* the signature: ECDSA-Sig-Value over SHA-256 of the request info */
    const uint8_t *sp = sig.p + 1;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &sp, (long)(sig.end - sig.p - 1));
    /* one P-256 key object per thread, its point replaced each time: making
     * the group anew was a third of a verification */
    static _Thread_local EC_KEY *k;
    if (k == NULL) k = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
    uint8_t h[32];
    SHA256(info_tlv.p, (size_t)(info_tlv.end - info_tlv.p), h);
    int ok = es != NULL && sp == sig.end && k != NULL && EC_KEY_oct2key(k, out->point, 65, NULL) == 1 &&
             ECDSA_do_verify(h, 32, es, k) == 1;
    ECDSA_SIG_free(es);
    *status = ok ? 0 : 400;
    return 1;
}

int mp_est_check_csr_fast(const uint8_t *der, size_t len, mp_est_csr *out, char *why, size_t why_len)
{
    int status = 0;
    if (!check_csr_fast(der, len, out, &status)) return -1;
    ERR_clear_error();
    if (status != 0) {
        memset(out, 0, sizeof(*out));
        snprintf(why, why_len, "the request's signature does not verify (no proof of possession)");
    }
    return status;
}

int mp_est_check_csr(const uint8_t *der, size_t len, mp_est_csr *out, char *why, size_t why_len)
{
    int status = mp_est_check_csr_fast(der, len, out, why, why_len);
    return status >= 0 ? status : mp_est_check_csr_openssl(der, len, out, why, why_len);
}

int mp_est_check_csr_openssl(const uint8_t *der, size_t len, mp_est_csr *out, char *why, size_t why_len)
{
    int status = 0;
    memset(out, 0, sizeof(*out));
    const uint8_t *p = der;
    X509_REQ *r = d2i_X509_REQ(NULL, &p, (long)len);
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
