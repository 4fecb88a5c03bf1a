/* chips_birth.c - chip lists made of birth certificates (see chips.h). */
#include "chips/chips.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

struct mp_birth {
    const mp_chips_src *src;
    X509_STORE *store;
    X509_STORE_CTX *vctx;
    STACK_OF(X509) *cas; /* untrusted intermediates */
    mp_chip_dec *dec;
    mp_udid_map *map;     /* --udid-from csv:FILE */
    const char *cur_name; /* the file being parsed */
};

void mp_birth_free(mp_birth *b)
{
    if (b == NULL) {
        return;
    }
    X509_STORE_CTX_free(b->vctx);
    X509_STORE_free(b->store);
    sk_X509_pop_free(b->cas, X509_free);
    mp_chip_dec_free(b->dec);
    mp_udid_map_free(b->map);
    free(b);
}

int mp_birth_new(const mp_chips_src *src, mp_birth **out)
{
    mp_birth *b = calloc(1, sizeof(*b));
    if (b == NULL || src->root == NULL) {
        free(b);
        return mp_err(MP_ERR_USAGE, "birth certificates need the chip maker's root (--chip-root)");
    }
    b->src = src;
    b->store = X509_STORE_new();
    b->vctx = X509_STORE_CTX_new();
    b->cas = sk_X509_new_null();
    int rc = mp_chip_dec_new(&b->dec);
    if (rc != MP_OK || b->store == NULL || b->vctx == NULL || b->cas == NULL ||
        X509_STORE_add_cert(b->store, src->root) != 1) {
        mp_birth_free(b);
        return rc != MP_OK ? rc : mp_err_ssl(MP_ERR_GENERAL, "cannot set up certificate verification");
    }
    if (src->udid_from == MP_UDID_FROM_CSV && (rc = mp_udid_map_load(src->udid_csv, &b->map)) != MP_OK) {
        mp_birth_free(b);
        return rc;
    }
    /* The given root is the trust anchor even when it is not self-signed. */
    X509_STORE_set_flags(b->store, X509_V_FLAG_PARTIAL_CHAIN);
    *out = b;
    return MP_OK;
}

/* Certificate `i` of a PEM bundle or a single DER certificate; NULL at the end
 * (*bad set when the data is not a certificate). */
typedef struct reader {
    BIO *bio;
    int pem, done;
} reader;

static int reader_open(reader *r, const uint8_t *buf, size_t len)
{
    size_t k = 0;
    while (k < len && (buf[k] == ' ' || buf[k] == '\n' || buf[k] == '\r' || buf[k] == '\t')) k++;
    r->pem = len - k >= 10 && memcmp(buf + k, "-----BEGIN", 10) == 0;
    r->done = 0;
    if (!r->pem && (k = mp_birth_tag_skip(buf, len)) > 0) { /* read from a chip dump */
        buf += k;
        len -= k;
    }
    r->bio = BIO_new_mem_buf(buf, (int)len);
    return r->bio != NULL && len <= 0x7FFFFFFF ? MP_OK : mp_err(MP_ERR_INVALID, "file too large");
}

static X509 *reader_next(reader *r, int *bad)
{
    X509 *x = NULL;
    *bad = 0;
    if (r->done) {
        return NULL;
    }
    if (!r->pem) {
        r->done = 1;
        x = d2i_X509_bio(r->bio, NULL);
        *bad = x == NULL;
        return x;
    }
    x = PEM_read_bio_X509(r->bio, NULL, NULL, NULL);
    if (x == NULL) {
        unsigned long e = ERR_peek_last_error();
        *bad = !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
        ERR_clear_error();
        r->done = 1;
    }
    return x;
}

static int is_ca(X509 *x)
{
    return (X509_get_extension_flags(x) & EXFLAG_CA) != 0;
}

int mp_birth_add_cas(mp_birth *b, const char *name, const uint8_t *buf, size_t len)
{
    reader r;
    X509 *x;
    int bad = 0, rc;
    size_t n = 0;
    if ((rc = reader_open(&r, buf, len)) != MP_OK) {
        return mp_err_ctx(rc, "%s", name);
    }
    while ((x = reader_next(&r, &bad)) != NULL) {
        n++;
        if (is_ca(x) && sk_X509_push(b->cas, x) > 0) {
            continue;
        }
        X509_free(x);
    }
    BIO_free(r.bio);
    if (bad) {
        return mp_err(MP_ERR_INVALID, "%s: certificate %zu: not a readable X.509 certificate (PEM or DER)", name, n + 1);
    }
    return MP_OK;
}

static int verify_one(mp_birth *b, X509 *x)
{
    if (X509_STORE_CTX_init(b->vctx, b->store, x, b->cas) != 1) {
        return mp_err_ssl(MP_ERR_GENERAL, "cannot set up verification");
    }
    if (b->src->verify_time != 0) {
        X509_STORE_CTX_set_time(b->vctx, 0, b->src->verify_time);
    }
    int ok = X509_verify_cert(b->vctx);
    int e = X509_STORE_CTX_get_error(b->vctx);
    X509_STORE_CTX_cleanup(b->vctx);
    ERR_clear_error();
    if (ok != 1) {
        return mp_err(MP_ERR_VERIFY, "birth certificate does not verify to the chip root: %s", X509_verify_cert_error_string(e));
    }
    return MP_OK;
}

static int cert_point(mp_birth *b, X509 *x, uint8_t point[static 65])
{
    const unsigned char *p = NULL;
    int len = 0, ptype = 0;
    X509_ALGOR *alg = NULL;
    const ASN1_OBJECT *aobj = NULL;
    const void *pval = NULL;
    if (X509_PUBKEY_get0_param(NULL, &p, &len, &alg, X509_get_X509_PUBKEY(x)) != 1) {
        return mp_err(MP_ERR_INVALID, "certificate has no readable public key");
    }
    X509_ALGOR_get0(&aobj, &ptype, &pval, alg);
    if (OBJ_obj2nid(aobj) != NID_X9_62_id_ecPublicKey || ptype != V_ASN1_OBJECT ||
        OBJ_obj2nid(pval) != NID_X9_62_prime256v1) {
        return mp_err(MP_ERR_INVALID, "public key is not EC P-256 (prime256v1)");
    }
    return mp_chip_point_bytes(b->dec, p, (size_t)len, point);
}

/* The UDID attribute (CN or serialNumber) of the subject, exactly once. */
static int cert_udid(mp_birth *b, X509 *x, mp_chip_entry *e)
{
    if (b->src->udid_from == MP_UDID_FROM_FILENAME || b->src->udid_from == MP_UDID_FROM_CSV) {
        char u[MP_UDID_MAX + 1];
        int rc = b->map != NULL ? mp_udid_map_get(b->map, b->cur_name, u)
                                : mp_udid_from_filename(b->src->udid_pattern, b->cur_name, u);
        return rc == MP_OK ? mp_chip_entry_udid(b->src, u, strlen(u), e) : rc;
    }
    int nid = b->src->udid_from == MP_UDID_FROM_SERIAL ? NID_serialNumber : NID_commonName;
    const char *what = nid == NID_commonName ? "CN" : "serialNumber";
    const X509_NAME *sub = X509_get_subject_name(x);
    int i = X509_NAME_get_index_by_NID(sub, nid, -1);
    if (i < 0 || X509_NAME_get_index_by_NID(sub, nid, i) >= 0) {
        return mp_err(MP_ERR_INVALID, "subject must have exactly one %s attribute (the UDID)", what);
    }
    unsigned char *u = NULL;
    int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(sub, i)));
    if (n < 0) {
        return mp_err_ssl(MP_ERR_INVALID, "subject %s is not a readable string", what);
    }
    int rc = mp_chip_entry_udid(b->src, (const char *)u, (size_t)n, e);
    OPENSSL_free(u);
    return rc;
}

static int device_cert(mp_birth *b, X509 *x, mp_chip_entry *e, mp_chip_cb cb, void *ctx)
{
    int rc = verify_one(b, x);
    if (rc == MP_OK) rc = cert_point(b, x, e->point);
    if (rc == MP_OK) rc = cert_udid(b, x, e);
    if (rc == MP_OK) rc = cb(ctx, e);
    return rc != MP_OK ? mp_err_ctx(rc, "%s", e->where) : MP_OK;
}

int mp_birth_parse(mp_birth *b, const char *name, const uint8_t *buf, size_t len,
                   mp_chip_cb cb, void *ctx, size_t *count)
{
    reader r;
    X509 *x;
    mp_chip_entry e;
    int bad = 0, rc;
    size_t n = 0;
    if ((rc = reader_open(&r, buf, len)) != MP_OK) {
        return mp_err_ctx(rc, "%s", name);
    }
    b->cur_name = name;
    size_t devices = 0;
    int per_file = b->src->udid_from == MP_UDID_FROM_FILENAME || b->src->udid_from == MP_UDID_FROM_CSV;
    while (rc == MP_OK && (x = reader_next(&r, &bad)) != NULL) {
        n++;
        if (!is_ca(x) && per_file && ++devices > 1) {
            rc = mp_err(MP_ERR_INVALID, "%s: certificate %zu: a second device certificate in one file, but the UDID comes from the file (one device certificate per file)", name, n);
        } else if (!is_ca(x)) {
            memset(&e, 0, sizeof(e));
            e.index = *count + 1;
            snprintf(e.where, sizeof(e.where), "%s: certificate %zu", name, n);
            rc = device_cert(b, x, &e, cb, ctx);
            *count += rc == MP_OK;
        }
        X509_free(x);
    }
    BIO_free(r.bio);
    if (rc == MP_OK && bad) {
        rc = mp_err(MP_ERR_INVALID, "%s: certificate %zu: not a readable X.509 certificate (PEM or DER)", name, n + 1);
    }
    return rc;
}

int mp_chips_parse_birth(const mp_chips_src *src, const uint8_t *buf, size_t len,
                         mp_chip_cb cb, void *ctx, size_t *count)
{
    mp_birth *b = NULL;
    *count = 0;
    int rc = mp_birth_new(src, &b);
    if (rc == MP_OK) rc = mp_birth_add_cas(b, src->name, buf, len);
    if (rc == MP_OK) rc = mp_birth_parse(b, src->name, buf, len, cb, ctx, count);
    if (rc == MP_OK) rc = mp_birth_finish(b);
    mp_birth_free(b);
    if (rc == MP_OK && *count == 0) {
        rc = mp_err(MP_ERR_INVALID, "%s: no device certificates", src->name);
    }
    return rc;
}

int mp_birth_finish(mp_birth *b)
{
    return b->map != NULL ? mp_udid_map_all_used(b->map) : MP_OK;
}
