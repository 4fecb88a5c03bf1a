/* x509.c - Matter certificate profiles (see x509.h). */
#include "x509.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "keystore.h"
#include "subject.h"
#include "util.h"

/* Extension values exactly as chip-cert emits them. */
static const uint8_t bc_paa[] = {0x30, 0x06, 0x01, 0x01, 0xFF, 0x02, 0x01, 0x01};
static const uint8_t bc_paa_nolen[] = {0x30, 0x03, 0x01, 0x01, 0xFF};
static const uint8_t bc_pai[] = {0x30, 0x06, 0x01, 0x01, 0xFF, 0x02, 0x01, 0x00};
static const uint8_t bc_dac[] = {0x30, 0x00};
static const uint8_t ku_ca[] = {0x03, 0x02, 0x01, 0x06};
static const uint8_t ku_dac[] = {0x03, 0x02, 0x07, 0x80};
static const uint8_t ku_crl[] = {0x03, 0x02, 0x01, 0x02}; /* cRLSign only */

static const uint8_t test_paas[][20] = {
    {0x78, 0x5C, 0xE7, 0x05, 0xB8, 0x6B, 0x8F, 0x4E, 0x6F, 0xC7, 0x93, 0xAA, 0x60, 0xCB, 0x43, 0xEA, 0x69, 0x68, 0x82, 0xD5},
    {0x6A, 0xFD, 0x22, 0x77, 0x1F, 0x51, 0x1F, 0xEC, 0xBF, 0x16, 0x41, 0x97, 0x67, 0x10, 0xDC, 0xDC, 0x31, 0xA1, 0x71, 0x7E},
};

int mp_is_test_paa(const uint8_t kid[static 20])
{
    for (size_t i = 0; i < sizeof(test_paas) / sizeof(test_paas[0]); i++) {
        if (memcmp(kid, test_paas[i], 20) == 0) {
            return 1;
        }
    }
    return 0;
}

static ASN1_OBJECT *obj_vid(void)
{
    static ASN1_OBJECT *o;
    if (o == NULL) {
        o = OBJ_txt2obj("1.3.6.1.4.1.37244.2.1", 1);
    }
    return o;
}

static ASN1_OBJECT *obj_pid(void)
{
    static ASN1_OBJECT *o;
    if (o == NULL) {
        o = OBJ_txt2obj("1.3.6.1.4.1.37244.2.2", 1);
    }
    return o;
}

int mp_serial_random(uint8_t serial[static 16])
{
    /* The issuing time first (milliseconds since 1970, 6 octets), then 10
     * random octets: 80 bits from the CSPRNG, above the 64 that RFC 5280's
     * profiles and the CA/Browser Forum ask. Time first keeps the ledger's
     * unique-serial index appending at its end: with 16 random octets every
     * commit of a 2,048-DAC chunk dirtied most of that index's pages (BENCHMARKS.md,
     * "Serials in time order"). From 2004 to the year 6429 the time is
     * 2^40..2^47 ms: the first octet is 0x01..0x7F, so the serial is positive
     * and 16 octets long; a clock before 2004 is moved up by 2^40, still in order. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    if (ms < (UINT64_C(1) << 40)) ms += UINT64_C(1) << 40;
    ms &= (UINT64_C(1) << 47) - 1;
    for (int i = 0; i < 6; i++) {
        serial[i] = (uint8_t)(ms >> (8 * (5 - i)));
    }
    if (RAND_bytes(serial + 6, 10) != 1) {
        return mp_err_ssl(MP_ERR_GENERAL, "random serial: RAND_bytes failed");
    }
    return MP_OK;
}

static int add_utf8(X509_NAME *n, const ASN1_OBJECT *obj, const char *v)
{
    X509_NAME_ENTRY *e = X509_NAME_ENTRY_create_by_OBJ(NULL, obj, V_ASN1_UTF8STRING,
                                                       (const unsigned char *)v, (int)strlen(v));
    int ok = e != NULL && X509_NAME_add_entry(n, e, -1, 0) == 1;
    X509_NAME_ENTRY_free(e);
    return ok;
}

static X509_NAME *make_name(const mp_cert_spec *s)
{
    X509_NAME *n = X509_NAME_new();
    char hex[5];
    if (n == NULL || (s->subject != NULL ? !mp_subject_add(s->subject, n)
                                         : !add_utf8(n, OBJ_nid2obj(NID_commonName), s->cn))) {
        goto fail;
    }
    if (s->vid != 0) {
        snprintf(hex, sizeof(hex), "%04X", s->vid);
        if (!add_utf8(n, obj_vid(), hex)) goto fail;
    }
    if (s->pid != 0) {
        snprintf(hex, sizeof(hex), "%04X", s->pid);
        if (!add_utf8(n, obj_pid(), hex)) goto fail;
    }
    return n;
fail:
    X509_NAME_free(n);
    return NULL;
}

int mp_x509_add_ext(X509 *x, int nid, int crit, const uint8_t *der, size_t len)
{
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    int ok = os != NULL && ASN1_OCTET_STRING_set(os, der, (int)len) == 1 &&
             (ext = X509_EXTENSION_create_by_NID(NULL, nid, crit, os)) != NULL &&
             X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    return ok;
}

int mp_x509_time_str(time_t when, char buf[static 16])
{
    struct tm tm;
    gmtime_r(&when, &tm);
    int utc = tm.tm_year + 1900 < 2050;
    snprintf(buf, 16, "%0*d%02d%02d%02d%02d%02dZ", utc ? 2 : 4, utc ? tm.tm_year % 100 : tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return utc;
}

int mp_asn1_set_time(ASN1_TIME *t, time_t when)
{
    char buf[16];
    return mp_x509_time_str(when, buf) ? ASN1_UTCTIME_set_string(t, buf) == 1
                                       : ASN1_GENERALIZEDTIME_set_string(t, buf) == 1;
}

/* The fast SubjectPublicKeyInfo path: no provider encoder round trip. */
static int set_pubkey(X509 *x, const uint8_t point[65])
{
    X509_PUBKEY *pk = X509_get_X509_PUBKEY(x);
    uint8_t *copy = OPENSSL_memdup(point, 65);
    if (copy == NULL) {
        return 0;
    }
    if (X509_PUBKEY_set0_param(pk, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
                               OBJ_nid2obj(NID_X9_62_prime256v1), copy, 65) != 1) {
        OPENSSL_free(copy);
        return 0;
    }
    return 1;
}

static int check_spec(const mp_cert_spec *s, uint8_t issuer_skid[20])
{
    if (s->cn == NULL || *s->cn == 0 || strlen(s->cn) > MP_MAX_CN) {
        return mp_err(MP_ERR_INVALID, "common name must be 1..%d characters", MP_MAX_CN);
    }
    if (s->vid > 0xFFF4) {
        return mp_err(MP_ERR_INVALID, "vendor ID 0x%04X is out of range (0x0001..0xFFF4)", s->vid);
    }
    if (s->type == MP_PAA && s->pid != 0) {
        return mp_err(MP_ERR_PROFILE, "a PAA must not carry a product ID");
    }
    if ((s->type == MP_PAI || s->type == MP_DAC || s->type == MP_CRL_SIGNER) && s->vid == 0) {
        return mp_err(MP_ERR_PROFILE, "a %s requires a vendor ID",
                      s->type == MP_PAI ? "PAI" : s->type == MP_DAC ? "DAC" : "CRL signer");
    }
    if (s->type == MP_DAC && s->pid == 0) {
        return mp_err(MP_ERR_PROFILE, "a DAC requires a product ID");
    }
    if (s->not_after <= s->not_before) {
        return mp_err(MP_ERR_INVALID, "validity ends before it starts");
    }
    if (s->point == NULL || s->point[0] != 0x04) {
        return mp_err(MP_ERR_INVALID, "subject key is not an uncompressed P-256 point");
    }
    if (s->type != MP_PAA) {
        if (s->issuer == NULL || mp_cert_skid(s->issuer, issuer_skid) != 0) {
            return mp_err(MP_ERR_PROFILE, "issuer certificate has no 20-byte subject key identifier");
        }
        time_t inb, ina;
        if (mp_asn1_time(X509_get0_notBefore(s->issuer), &inb) != 0 ||
            mp_asn1_time(X509_get0_notAfter(s->issuer), &ina) != 0) {
            return mp_err(MP_ERR_PROFILE, "issuer certificate has an unreadable validity");
        }
        if (s->not_before < inb || s->not_before > ina) {
            return mp_err(MP_ERR_PROFILE, "notBefore lies outside the issuer's validity window");
        }
    }
    return MP_OK;
}

int mp_cert_build(const mp_cert_spec *s, EVP_PKEY *signer, X509 **out)
{
    uint8_t skid[20], issuer_skid[20], serial[16];
    uint8_t skid_der[22];
    X509 *x = NULL;
    X509_NAME *name = NULL;
    BIGNUM *bn = NULL;
    int rc = check_spec(s, issuer_skid);
    if (rc != MP_OK) {
        return rc;
    }
    mp_skid(s->point, skid);
    if (s->type == MP_PAA) {
        memcpy(issuer_skid, skid, 20);
    }
    rc = MP_ERR_GENERAL;
    if (s->serial == NULL && mp_serial_random(serial) != MP_OK) {
        return MP_ERR_GENERAL;
    }
    x = X509_new();
    name = make_name(s);
    bn = BN_bin2bn(s->serial ? s->serial : serial, s->serial ? (int)s->serial_len : 16, NULL);
    if (x == NULL || name == NULL || bn == NULL || X509_set_version(x, 2) != 1 ||
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
        X509_set_subject_name(x, name) != 1 ||
        X509_set_issuer_name(x, s->issuer ? X509_get_subject_name(s->issuer) : name) != 1 ||
        !mp_asn1_set_time(X509_getm_notBefore(x), s->not_before) ||
        !mp_asn1_set_time(X509_getm_notAfter(x), s->not_after) || !set_pubkey(x, s->point)) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "cannot build certificate");
        goto end;
    }
    int leaf = s->type == MP_DAC || s->type == MP_CRL_SIGNER;
    const uint8_t *bc = leaf ? bc_dac : s->type == MP_PAI ? bc_pai
                        : s->paa_pathlen_absent ? bc_paa_nolen : bc_paa;
    size_t bcl = leaf ? sizeof(bc_dac) : s->type == MP_PAI ? sizeof(bc_pai)
                 : s->paa_pathlen_absent ? sizeof(bc_paa_nolen) : sizeof(bc_paa);
    const uint8_t *ku = s->type == MP_DAC ? ku_dac : s->type == MP_CRL_SIGNER ? ku_crl : ku_ca;
    skid_der[0] = 0x04;
    skid_der[1] = 20;
    memcpy(skid_der + 2, skid, 20);
    uint8_t akid_full[24] = {0x30, 0x16, 0x80, 0x14}; /* SEQUENCE { [0] keyId } */
    memcpy(akid_full + 4, issuer_skid, 20);
    if (!mp_x509_add_ext(x, NID_basic_constraints, 1, bc, bcl) ||
        !mp_x509_add_ext(x, NID_key_usage, 1, ku, sizeof(ku_ca)) ||
        !mp_x509_add_ext(x, NID_subject_key_identifier, 0, skid_der, sizeof(skid_der)) ||
        !mp_x509_add_ext(x, NID_authority_key_identifier, 0, akid_full, sizeof(akid_full))) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "cannot add extensions");
        goto end;
    }
    if (X509_sign(x, signer, EVP_sha256()) <= 0) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "signing the certificate failed");
        goto end;
    }
    int derlen = i2d_X509(x, NULL);
    if (derlen <= 0 || derlen > MP_MAX_CERT_DER) {
        rc = mp_err(MP_ERR_PROFILE, "certificate is %d bytes; Matter allows at most %d (shorten the CN)", derlen, MP_MAX_CERT_DER);
        goto end;
    }
    /* Re-decode so the object is what a reader sees (cached public key,
     * encodings) rather than a half-built in-memory form. */
    uint8_t *der = NULL;
    const uint8_t *pp;
    if ((derlen = i2d_X509(x, &der)) <= 0 || (pp = der, *out = d2i_X509(NULL, &pp, derlen)) == NULL) {
        OPENSSL_free(der);
        rc = mp_err_ssl(MP_ERR_GENERAL, "cannot re-encode certificate");
        goto end;
    }
    OPENSSL_free(der);
    rc = MP_OK;
end:
    BN_free(bn);
    X509_NAME_free(name);
    X509_free(x);
    return rc;
}

int mp_cert_from_mem(const uint8_t *buf, size_t len, X509 **out)
{
    X509 *x = NULL;
    if (len > 10 && memmem(buf, len, "-----BEGIN", 10) != NULL) {
        BIO *b = BIO_new_mem_buf(buf, (int)len);
        x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
    } else {
        const uint8_t *p = buf;
        x = d2i_X509(NULL, &p, (long)len);
        if (x != NULL && p != buf + len) {
            X509_free(x);
            ERR_clear_error();
            return mp_err(MP_ERR_INVALID, "trailing bytes after the DER certificate");
        }
    }
    if (x == NULL) {
        return mp_err_ssl(MP_ERR_INVALID, "not a PEM or DER X.509 certificate");
    }
    *out = x;
    return MP_OK;
}

int mp_cert_load(const char *path, X509 **out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = mp_read_file(path, 1 << 20, &buf, &len);
    if (rc == MP_OK && (rc = mp_cert_from_mem(buf, len, out)) != MP_OK) {
        mp_err_ctx(rc, "%s", path);
    }
    free(buf);
    return rc;
}

int mp_cert_der(X509 *x, uint8_t **der, size_t *len)
{
    *der = NULL;
    int n = i2d_X509(x, der);
    if (n <= 0) {
        return mp_err_ssl(MP_ERR_GENERAL, "cannot encode certificate");
    }
    *len = (size_t)n;
    return MP_OK;
}

int mp_cert_write_pem(const char *path, X509 *x, int force)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    int rc = MP_ERR_GENERAL;
    if (b == NULL || PEM_write_bio_X509(b, x) != 1) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "cannot encode PEM");
    } else {
        long n = BIO_get_mem_data(b, &data);
        rc = mp_write_file(path, data, (size_t)n, 0644, force);
    }
    BIO_free(b);
    return rc;
}

void mp_cert_sha256_hex(X509 *x, char out[65])
{
    uint8_t md[32];
    unsigned int n = 32;
    X509_digest(x, EVP_sha256(), md, &n);
    mp_hex(md, 32, out, 0);
}

int mp_cert_point(X509 *x, uint8_t point[static 65])
{
    return mp_pubkey_point(X509_get_X509_PUBKEY(x), point);
}

int mp_pubkey_point(const X509_PUBKEY *pk, uint8_t point[static 65])
{
    const unsigned char *p = NULL;
    int len = 0;
    X509_ALGOR *alg = NULL;
    const ASN1_OBJECT *aobj = NULL, *curve = NULL;
    int ptype = 0;
    const void *pval = NULL;
    if (pk == NULL || X509_PUBKEY_get0_param(NULL, &p, &len, &alg, (X509_PUBKEY *)pk) != 1) {
        return mp_err(MP_ERR_PROFILE, "certificate has no readable public key");
    }
    X509_ALGOR_get0(&aobj, &ptype, &pval, alg);
    if (OBJ_obj2nid(aobj) != NID_X9_62_id_ecPublicKey || ptype != V_ASN1_OBJECT ||
        (curve = pval) == NULL || OBJ_obj2nid(curve) != NID_X9_62_prime256v1) {
        return mp_err(MP_ERR_PROFILE, "public key is not EC P-256 (prime256v1)");
    }
    if (len != 65 || p[0] != 0x04) {
        return mp_err(MP_ERR_PROFILE, "public key is not a 65-byte uncompressed point");
    }
    memcpy(point, p, 65);
    return MP_OK;
}

int mp_cert_skid(X509 *x, uint8_t skid[static 20])
{
    const ASN1_OCTET_STRING *s = X509_get0_subject_key_id(x);
    if (s == NULL || ASN1_STRING_length(s) != 20) {
        return -1;
    }
    memcpy(skid, ASN1_STRING_get0_data(s), 20);
    return 0;
}

int mp_cert_akid(X509 *x, uint8_t akid[static 20])
{
    const ASN1_OCTET_STRING *s = X509_get0_authority_key_id(x);
    if (s == NULL || ASN1_STRING_length(s) != 20) {
        return -1;
    }
    memcpy(akid, ASN1_STRING_get0_data(s), 20);
    return 0;
}

int mp_vidpid_attr(const char *s, size_t len, uint16_t *out)
{
    uint16_t v = 0;
    if (len != 4) {
        return -1;
    }
    for (size_t i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) {
            return -1;
        }
        v = (uint16_t)(v << 4 | d);
    }
    *out = v;
    return 0;
}

static int cn_scan(const char *cn, size_t len, const char *prefix, int *has, uint16_t *val)
{
    int seen = 0;
    for (size_t i = 0; i + 5 <= len; i++) {
        if (memcmp(cn + i, prefix, 5) != 0) {
            continue;
        }
        seen = 1;
        if (i + 9 <= len && mp_vidpid_attr(cn + i + 5, 4, val) == 0) {
            *has = 1;
            return 0;
        }
    }
    return seen ? -1 : 0;
}

int mp_cn_vidpid(const char *cn, size_t len, mp_vidpid *out)
{
    if (len > 64) {
        len = 64;
    }
    if (cn_scan(cn, len, "Mvid:", &out->has_vid, &out->vid) != 0 ||
        cn_scan(cn, len, "Mpid:", &out->has_pid, &out->pid) != 0) {
        return MP_ERR_PROFILE;
    }
    out->from_cn = out->has_vid || out->has_pid;
    return MP_OK;
}

int mp_dn_vidpid(const X509_NAME *name, mp_vidpid *out)
{
    memset(out, 0, sizeof(*out));
    const ASN1_STRING *first_cn = NULL;
    int n = X509_NAME_entry_count(name);
    for (int i = 0; i < n; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        const ASN1_OBJECT *o = X509_NAME_ENTRY_get_object(e);
        const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
        int is_vid = OBJ_cmp(o, obj_vid()) == 0, is_pid = OBJ_cmp(o, obj_pid()) == 0;
        if (is_vid || is_pid) {
            int *has = is_vid ? &out->has_vid : &out->has_pid;
            uint16_t *val = is_vid ? &out->vid : &out->pid;
            if (*has || mp_vidpid_attr((const char *)ASN1_STRING_get0_data(v),
                                       (size_t)ASN1_STRING_length(v), val) != 0) {
                return MP_ERR_PROFILE;
            }
            *has = 1;
        } else if (OBJ_obj2nid(o) == NID_commonName && first_cn == NULL) {
            first_cn = v;
        }
    }
    if (!out->has_vid && !out->has_pid && first_cn != NULL) {
        return mp_cn_vidpid((const char *)ASN1_STRING_get0_data(first_cn),
                            (size_t)ASN1_STRING_length(first_cn), out);
    }
    return MP_OK;
}

int mp_asn1_time(const ASN1_TIME *t, time_t *out)
{
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        return -1;
    }
    *out = timegm(&tm);
    return 0;
}

int mp_csr_load(const char *path, X509_REQ **out, uint8_t point[static 65])
{
    uint8_t *buf = NULL;
    size_t len = 0;
    X509_REQ *r = NULL;
    int rc = mp_read_file(path, 1 << 16, &buf, &len);
    if (rc != MP_OK) {
        return rc;
    }
    BIO *b = BIO_new_mem_buf(buf, (int)len);
    r = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
    if (r == NULL) {
        const uint8_t *p = buf;
        ERR_clear_error();
        r = d2i_X509_REQ(NULL, &p, (long)len);
    }
    BIO_free(b);
    free(buf);
    if (r == NULL) {
        return mp_err_ssl(MP_ERR_INVALID, "%s: not a PKCS#10 request (PEM or DER)", path);
    }
    EVP_PKEY *pk = X509_REQ_get0_pubkey(r);
    if ((rc = mp_pubkey_point(X509_REQ_get_X509_PUBKEY(r), point)) != MP_OK) {
        mp_err_ctx(rc, "%s", path);
    } else if (pk == NULL || X509_REQ_verify(r, pk) != 1) {
        rc = mp_err_ssl(MP_ERR_VERIFY, "%s: the request's signature does not verify (no proof of possession)", path);
    }
    if (rc != MP_OK) {
        X509_REQ_free(r);
        return rc;
    }
    *out = r;
    return MP_OK;
}
