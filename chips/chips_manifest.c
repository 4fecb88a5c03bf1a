/* chips_manifest.c - Microchip Trust Platform manifests (see chips.h).
 *
 * The file is read one array element at a time from a stdio stream: an
 * element's bytes are collected (tracking JSON strings and nesting), decoded
 * with jansson, verified and handed on before the next is read, so a
 * manifest of a million chips needs the memory of one entry. */
#include "chips/chips.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "b64.h"
#include "util.h"
#include "x509.h"

#define MAX_ENTRY ((size_t)1 << 20)

/* ---- the element stream -------------------------------------------------- */

typedef struct estream {
    FILE *f;
    const char *name;
    char *buf;
    size_t len, cap;
    size_t line;
} estream;

static int next_char(estream *s)
{
    int c = getc_unlocked(s->f);
    if (c == '\n') s->line++;
    return c;
}

static int skip_ws(estream *s)
{
    int c;
    do {
        c = next_char(s);
    } while (c == ' ' || c == '\t' || c == '\r' || c == '\n');
    return c;
}

static int put(estream *s, int c)
{
    if (s->len + 1 >= s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8192;
        char *b = cap <= MAX_ENTRY ? realloc(s->buf, cap) : NULL;
        if (b == NULL) return -1;
        s->buf = b;
        s->cap = cap;
    }
    s->buf[s->len++] = (char)c;
    return 0;
}

/* Collect one object starting with c == '{' into s->buf. */
static int read_object(estream *s, int c, size_t index)
{
    int depth = 0, in_str = 0, esc = 0;
    s->len = 0;
    if (c != '{') {
        return mp_err(MP_ERR_INVALID, "%s: line %zu: entry %zu: expected a JWS object '{'", s->name, s->line, index);
    }
    for (; c != EOF; c = next_char(s)) {
        if (put(s, c) != 0) {
            return mp_err(MP_ERR_INVALID, "%s: line %zu: entry %zu is larger than %zu bytes", s->name, s->line, index, MAX_ENTRY);
        }
        if (in_str) {
            if (esc) esc = 0;
            else if (c == '\\') esc = 1;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && --depth == 0) {
            s->buf[s->len] = 0;
            return MP_OK;
        }
    }
    return mp_err(MP_ERR_INVALID, "%s: line %zu: entry %zu is cut off (end of file)", s->name, s->line, index);
}

/* ---- decoding helpers ---------------------------------------------------------- */

/* base64url without padding (also accepts padding) into a new buffer. */
static int b64url(const char *in, size_t n, uint8_t **out, size_t *outlen)
{
    char *t = malloc(n + 1);
    uint8_t *o = malloc(n + 1);
    long r = -1;
    if (t != NULL && o != NULL) {
        for (size_t i = 0; i < n; i++) {
            char c = in[i];
            t[i] = c == '-' ? '+' : c == '_' ? '/' : (c == '+' || c == '/') ? '!' : c;
        }
        r = mp_b64_decode_unpadded(t, n, o, n + 1);
    }
    free(t);
    if (r < 0) {
        free(o);
        return -1;
    }
    *out = o;
    *outlen = (size_t)r;
    return 0;
}

static void b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    size_t k = mp_b64_encode(in, n, out, cap);
    while (k > 0 && out[k - 1] == '=') out[--k] = 0;
    for (size_t i = 0; i < k; i++) {
        if (out[i] == '+') out[i] = '-';
        else if (out[i] == '/') out[i] = '_';
    }
}

static const char *jstr(json_t *o, const char *key, size_t *n)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) return NULL;
    if (n != NULL) *n = json_string_length(v);
    return json_string_value(v);
}

/* ---- per-entry verification ---------------------------------------------------- */

typedef struct mctx {
    const mp_chips_src *src;
    EVP_PKEY *signer_key;
    char x5t[64];          /* base64url SHA-256 of the signer DER */
    const char *slot;
    EVP_PKEY_CTX *vpk;     /* verify context, initialised once */
    EVP_MD_CTX *md;
    EVP_MD *sha256;
    mp_chip_dec *dec;
    X509_STORE *store;
    X509_STORE_CTX *vctx;
} mctx;

static int check_protected(mctx *m, const char *prot, size_t n)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    json_error_t jerr;
    int rc = MP_OK;
    if (b64url(prot, n, &raw, &len) != 0) {
        return mp_err(MP_ERR_INVALID, "\"protected\" is not base64url");
    }
    json_t *h = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, &jerr);
    free(raw);
    const char *alg = h ? jstr(h, "alg", NULL) : NULL, *x5t = h ? jstr(h, "x5t#S256", NULL) : NULL;
    if (h == NULL || !json_is_object(h)) {
        rc = mp_err(MP_ERR_INVALID, "the protected header is not a JSON object");
    } else if (alg == NULL || strcmp(alg, "ES256") != 0) {
        rc = mp_err(MP_ERR_VERIFY, "the protected header's alg is %s, not ES256", alg ? alg : "missing");
    } else if (x5t == NULL) {
        rc = mp_err(MP_ERR_VERIFY, "the protected header names no signer (x5t#S256 missing)");
    } else if (strcmp(x5t, m->x5t) != 0) {
        rc = mp_err(MP_ERR_VERIFY, "signed by another signer (x5t#S256 %s, --signer is %s)", x5t, m->x5t);
    }
    json_decref(h);
    return rc;
}

static int check_signature(mctx *m, const char *prot, size_t pn, const char *payload, size_t yn,
                           const char *sig, size_t sn)
{
    uint8_t *raw = NULL, *der = NULL;
    size_t len = 0;
    int rc = MP_ERR_VERIFY, dlen = 0;
    ECDSA_SIG *es = NULL;
    if (b64url(sig, sn, &raw, &len) != 0 || len != 64) {
        free(raw);
        return mp_err(MP_ERR_VERIFY, "\"signature\" is not base64url of a 64-byte ES256 r||s");
    }
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
    free(raw);
    if (r == NULL || s == NULL || (es = ECDSA_SIG_new()) == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return mp_err_ssl(MP_ERR_GENERAL, "cannot decode the signature");
    }
    dlen = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    uint8_t h[32];
    if (dlen > 0 && EVP_DigestInit_ex(m->md, m->sha256, NULL) == 1 && EVP_DigestUpdate(m->md, prot, pn) == 1 &&
        EVP_DigestUpdate(m->md, ".", 1) == 1 && EVP_DigestUpdate(m->md, payload, yn) == 1 &&
        EVP_DigestFinal_ex(m->md, h, NULL) == 1 && EVP_PKEY_verify(m->vpk, der, (size_t)dlen, h, sizeof(h)) == 1) {
        rc = MP_OK;
    }
    OPENSSL_free(der);
    ERR_clear_error();
    return rc == MP_OK ? MP_OK : mp_err(MP_ERR_VERIFY, "the ES256 signature does not verify with --signer (entry altered or signed by another key)");
}

/* The uniqueId as uppercase hex (2..64 digits, an even count). */
static int unique_id(const char *u, char out[static 65])
{
    size_t n = u ? strlen(u) : 0;
    if (n < 2 || n > 64 || n % 2 != 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = u[i];
        if (c >= 'a' && c <= 'f') c = (char)(c - 'a' + 'A');
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return -1;
        out[i] = c;
    }
    out[n] = 0;
    return 0;
}

static int jwk_coord(json_t *k, const char *name, uint8_t out[32])
{
    size_t n = 0, len = 0;
    uint8_t *raw = NULL;
    const char *v = jstr(k, name, &n);
    if (v == NULL || b64url(v, n, &raw, &len) != 0 || len != 32) {
        free(raw);
        return mp_err(MP_ERR_INVALID, "the key's \"%s\" is not base64url of 32 bytes", name);
    }
    memcpy(out, raw, 32);
    free(raw);
    return MP_OK;
}

static json_t *slot_key(mctx *m, json_t *payload)
{
    json_t *keys = json_object_get(json_object_get(payload, "publicKeySet"), "keys");
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        const char *kid = jstr(k, "kid", NULL);
        if (kid != NULL && strcmp(kid, m->slot) == 0) return k;
    }
    return NULL;
}

static int jwk_point(mctx *m, json_t *k, uint8_t point[static 65])
{
    const char *kty = jstr(k, "kty", NULL), *crv = jstr(k, "crv", NULL);
    uint8_t raw[65];
    int rc;
    if (kty == NULL || strcmp(kty, "EC") != 0 || crv == NULL || strcmp(crv, "P-256") != 0) {
        return mp_err(MP_ERR_INVALID, "key slot %s is not an EC P-256 key (kty \"%s\", crv \"%s\")", m->slot,
                      kty ? kty : "", crv ? crv : "");
    }
    raw[0] = 0x04;
    if ((rc = jwk_coord(k, "x", raw + 1)) != MP_OK || (rc = jwk_coord(k, "y", raw + 33)) != MP_OK) {
        return rc;
    }
    return mp_chip_point_bytes(m->dec, raw, 65, point);
}

static int x5c_cert(json_t *x5c, size_t i, X509 **out)
{
    const char *v = json_string_value(json_array_get(x5c, i));
    size_t n = v ? strlen(v) : 0;
    uint8_t *der = malloc(n + 1);
    long len = der ? mp_b64_decode(v, n, der, n + 1) : -1;
    int rc = len > 0 ? mp_cert_from_mem(der, (size_t)len, out) : mp_err(MP_ERR_INVALID, "x5c[%zu] is not base64", i);
    free(der);
    return rc != MP_OK ? mp_err_ctx(rc, "x5c[%zu]", i) : MP_OK;
}

/* The slot's device certificate chains to --chip-root and holds the key. */
static int check_x5c(mctx *m, json_t *k, const uint8_t point[static 65])
{
    json_t *x5c = json_object_get(k, "x5c");
    X509 *dev = NULL;
    STACK_OF(X509) *chain = sk_X509_new_null();
    uint8_t dp[65];
    int rc;
    if (!json_is_array(x5c) || json_array_size(x5c) == 0) {
        sk_X509_free(chain);
        return mp_err(MP_ERR_VERIFY, "key slot %s has no x5c certificate chain to check against --chip-root", m->slot);
    }
    rc = x5c_cert(x5c, 0, &dev);
    for (size_t i = 1; rc == MP_OK && i < json_array_size(x5c); i++) {
        X509 *c = NULL;
        if ((rc = x5c_cert(x5c, i, &c)) == MP_OK && sk_X509_push(chain, c) <= 0) {
            X509_free(c);
            rc = MP_ERR_GENERAL;
        }
    }
    if (rc == MP_OK && X509_STORE_CTX_init(m->vctx, m->store, dev, chain) == 1) {
        if (m->src->verify_time != 0) X509_STORE_CTX_set_time(m->vctx, 0, m->src->verify_time);
        int ok = X509_verify_cert(m->vctx), e = X509_STORE_CTX_get_error(m->vctx);
        X509_STORE_CTX_cleanup(m->vctx);
        ERR_clear_error();
        if (ok != 1) {
            rc = mp_err(MP_ERR_VERIFY, "the x5c device certificate does not verify to --chip-root: %s", X509_verify_cert_error_string(e));
        } else if (mp_cert_point(dev, dp) != MP_OK || memcmp(dp, point, 65) != 0) {
            rc = mp_err(MP_ERR_MISMATCH, "the x5c device certificate's key differs from the key in slot %s", m->slot);
        }
    }
    X509_free(dev);
    sk_X509_pop_free(chain, X509_free);
    return rc;
}

static int check_payload(mctx *m, json_t *p, const char *header_uid, mp_chip_entry *e)
{
    char uid[65], huid[65];
    json_t *k;
    int rc;
    if (!json_is_object(p)) {
        return mp_err(MP_ERR_INVALID, "the payload is not a JSON object");
    }
    if (unique_id(jstr(p, "uniqueId", NULL), uid) != 0) {
        return mp_err(MP_ERR_INVALID, "the payload's uniqueId is not hex of 1..32 bytes");
    }
    if (unique_id(header_uid, huid) != 0 || strcmp(uid, huid) != 0) {
        return mp_err(MP_ERR_MISMATCH, "header uniqueId \"%s\" differs from the signed payload's %s", header_uid, uid);
    }
    if ((k = slot_key(m, p)) == NULL) {
        return mp_err(MP_ERR_INVALID, "no key with kid \"%s\" in publicKeySet.keys", m->slot);
    }
    if ((rc = jwk_point(m, k, e->point)) != MP_OK) {
        return rc;
    }
    if (m->src->root != NULL && (rc = check_x5c(m, k, e->point)) != MP_OK) {
        return rc;
    }
    return mp_chip_entry_udid(m->src, uid, strlen(uid), e);
}

static int entry(mctx *m, json_t *o, mp_chip_entry *e)
{
    size_t pn = 0, yn = 0, sn = 0, plen = 0;
    const char *prot = jstr(o, "protected", &pn), *pay = jstr(o, "payload", &yn), *sig = jstr(o, "signature", &sn);
    const char *huid = jstr(json_object_get(o, "header"), "uniqueId", NULL);
    uint8_t *praw = NULL;
    json_error_t jerr;
    int rc;
    if (prot == NULL || pay == NULL || sig == NULL || huid == NULL) {
        return mp_err(MP_ERR_INVALID, "not a flattened JWS: \"protected\", \"payload\", \"signature\" and header.uniqueId are required strings");
    }
    /* Who signed, and does it verify, before anything of the payload is read. */
    if ((rc = check_protected(m, prot, pn)) != MP_OK || (rc = check_signature(m, prot, pn, pay, yn, sig, sn)) != MP_OK) {
        return rc;
    }
    if (b64url(pay, yn, &praw, &plen) != 0) {
        return mp_err(MP_ERR_INVALID, "\"payload\" is not base64url");
    }
    json_t *p = json_loadb((const char *)praw, plen, JSON_REJECT_DUPLICATES, &jerr);
    free(praw);
    if (p == NULL) {
        return mp_err(MP_ERR_INVALID, "the payload is not JSON: %s", jerr.text);
    }
    rc = check_payload(m, p, huid, e);
    json_decref(p);
    return rc;
}

static int element(mctx *m, estream *s, size_t index, size_t line, mp_chip_cb cb, void *ctx)
{
    json_error_t jerr;
    mp_chip_entry e;
    memset(&e, 0, sizeof(e));
    e.index = index;
    json_t *o = json_loadb(s->buf, s->len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL) {
        return mp_err(MP_ERR_INVALID, "%s: entry %zu (line %zu): %s", s->name, index, line + (size_t)jerr.line - 1, jerr.text);
    }
    const char *huid = jstr(json_object_get(o, "header"), "uniqueId", NULL);
    snprintf(e.where, sizeof(e.where), "%s: entry %zu (uniqueId %.64s)", s->name, index, huid ? huid : "?");
    int rc = json_is_object(o) ? entry(m, o, &e) : mp_err(MP_ERR_INVALID, "expected a JWS object");
    json_decref(o);
    if (rc == MP_OK) rc = cb(ctx, &e);
    return rc != MP_OK ? mp_err_ctx(rc, "%s", e.where) : MP_OK;
}

static int stream_array(mctx *m, estream *s, mp_chip_cb cb, void *ctx, size_t *count)
{
    int c = skip_ws(s), rc;
    if (c == 0xEF) { /* a UTF-8 BOM */
        if (next_char(s) != 0xBB || next_char(s) != 0xBF) c = 0;
        else c = skip_ws(s);
    }
    if (c != '[') {
        return mp_err(MP_ERR_INVALID, "%s: line %zu: expected a JSON array '[' of JWS entries", s->name, s->line);
    }
    c = skip_ws(s);
    while (c != ']') {
        size_t line = s->line;
        if ((rc = read_object(s, c, *count + 1)) != MP_OK ||
            (rc = element(m, s, *count + 1, line, cb, ctx)) != MP_OK) {
            return rc;
        }
        (*count)++;
        c = skip_ws(s);
        if (c == ',') c = skip_ws(s);
        else if (c != ']') return mp_err(MP_ERR_INVALID, "%s: line %zu: expected ',' or ']' after entry %zu", s->name, s->line, *count);
    }
    if (skip_ws(s) != EOF) {
        return mp_err(MP_ERR_INVALID, "%s: line %zu: unexpected data after the array", s->name, s->line);
    }
    return ferror(s->f) ? mp_err(MP_ERR_IO, "%s: read error", s->name) : MP_OK;
}

static int mctx_init(mctx *m, const mp_chips_src *src)
{
    uint8_t *der = NULL, h[32];
    size_t len = 0;
    memset(m, 0, sizeof(*m));
    m->src = src;
    m->slot = src->slot ? src->slot : "0";
    if (src->manifest_signer == NULL) {
        return mp_err(MP_ERR_USAGE, "a Microchip manifest needs the manifest signer's certificate (--signer)");
    }
    if (mp_cert_der(src->manifest_signer, &der, &len) != MP_OK) return MP_ERR_GENERAL;
    EVP_Digest(der, len, h, NULL, EVP_sha256(), NULL);
    OPENSSL_free(der);
    b64url_encode(h, 32, m->x5t, sizeof(m->x5t));
    m->signer_key = X509_get0_pubkey(src->manifest_signer);
    int rc = mp_chip_dec_new(&m->dec);
    if (rc != MP_OK) return rc;
    if (m->signer_key == NULL || EVP_PKEY_get_base_id(m->signer_key) != EVP_PKEY_EC) {
        return mp_err(MP_ERR_INVALID, "--signer: the manifest signer's key is not an EC key");
    }
    m->md = EVP_MD_CTX_new();
    m->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (m->md == NULL || m->sha256 == NULL || (m->vpk = EVP_PKEY_CTX_new(m->signer_key, NULL)) == NULL ||
        EVP_PKEY_verify_init(m->vpk) != 1) {
        return mp_err_ssl(MP_ERR_GENERAL, "cannot set up signature verification");
    }
    if (src->root != NULL) {
        m->store = X509_STORE_new();
        m->vctx = X509_STORE_CTX_new();
        if (m->store == NULL || m->vctx == NULL || X509_STORE_add_cert(m->store, src->root) != 1) {
            return mp_err_ssl(MP_ERR_GENERAL, "cannot set up certificate verification");
        }
        X509_STORE_set_flags(m->store, X509_V_FLAG_PARTIAL_CHAIN);
    }
    return MP_OK;
}

static void mctx_free(mctx *m)
{
    EVP_PKEY_CTX_free(m->vpk);
    EVP_MD_CTX_free(m->md);
    EVP_MD_free(m->sha256);
    mp_chip_dec_free(m->dec);
    X509_STORE_CTX_free(m->vctx);
    X509_STORE_free(m->store);
}

int mp_chips_parse_manifest(const mp_chips_src *src, const char *path, mp_chip_cb cb, void *ctx, size_t *count)
{
    mctx m;
    estream s = {NULL, path, NULL, 0, 0, 1};
    *count = 0;
    int rc = mctx_init(&m, src);
    if (rc == MP_OK && (s.f = fopen(path, "rb")) == NULL) {
        rc = mp_err(MP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    if (rc == MP_OK) rc = stream_array(&m, &s, cb, ctx, count);
    if (rc == MP_OK && *count == 0) rc = mp_err(MP_ERR_INVALID, "%s: the manifest has no entries", path);
    if (s.f != NULL) fclose(s.f);
    free(s.buf);
    mctx_free(&m);
    return rc;
}

int mp_chips_hash_file(const char *path, char sha256[static 65])
{
    uint8_t buf[65536], h[32];
    size_t n;
    FILE *f = fopen(path, "rb");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = MP_OK;
    if (f == NULL) {
        EVP_MD_CTX_free(md);
        return mp_err(MP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) rc = MP_ERR_GENERAL;
    while (rc == MP_OK && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        EVP_DigestUpdate(md, buf, n);
    }
    if (rc == MP_OK && ferror(f)) rc = mp_err(MP_ERR_IO, "%s: read error", path);
    if (rc == MP_OK) {
        EVP_DigestFinal_ex(md, h, NULL);
        mp_hex(h, 32, sha256, 0);
    }
    fclose(f);
    EVP_MD_CTX_free(md);
    return rc;
}
