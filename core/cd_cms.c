/*
 * cd_cms.c - the CMS SignedData envelope of a CD (matter-attestation.md
 * section 5): a strict DER walk that enforces every rule of the table, the
 * ECDSA check, and a DER writer that produces exactly that structure.
 */
#include "cd.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

static const uint8_t oid_signed_data[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02};
static const uint8_t oid_data[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01};
static const uint8_t oid_sha256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
static const uint8_t oid_ecdsa_sha256[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02};

/* A DER element: tag, content. */
typedef struct der {
    uint8_t tag;
    const uint8_t *p;
    size_t len;
} der;

/* A cursor over the content of a constructed element. */
typedef struct cur {
    const uint8_t *p;
    size_t len, off;
    size_t base; /* offset of p in the whole message, for messages */
} cur;

static int env_err(const char *rule)
{
    return mp_err(MP_ERR_INVALID, "CD envelope: %s", rule);
}

/* Next element of c: single-byte tag, definite minimal length. */
static int next(cur *c, der *d, const char *what)
{
    size_t at = c->off, n = 0;
    if (c->len - c->off < 2) {
        return mp_err(MP_ERR_INVALID, "CD envelope: %s missing or truncated at offset %zu", what, c->base + at);
    }
    d->tag = c->p[c->off++];
    uint8_t l = c->p[c->off++];
    if ((d->tag & 0x1F) == 0x1F) {
        return mp_err(MP_ERR_INVALID, "CD envelope: %s at offset %zu has a multi-byte tag", what, c->base + at);
    }
    if (l < 0x80) {
        n = l;
    } else {
        int k = l & 0x7F;
        if (k == 0 || k > 3 || c->len - c->off < (size_t)k) {
            return mp_err(MP_ERR_INVALID, "CD envelope: %s at offset %zu has an indefinite or invalid length (DER required)", what, c->base + at);
        }
        for (int i = 0; i < k; i++) {
            n = n << 8 | c->p[c->off++];
        }
        if (n < 0x80 || (k > 1 && n < (size_t)1 << (8 * (k - 1)))) {
            return mp_err(MP_ERR_INVALID, "CD envelope: %s at offset %zu has a non-minimal length (DER required)", what, c->base + at);
        }
    }
    if (n > c->len - c->off) {
        return mp_err(MP_ERR_INVALID, "CD envelope: %s at offset %zu runs past its container", what, c->base + at);
    }
    d->p = c->p + c->off;
    d->len = n;
    c->off += n;
    return MP_OK;
}

static cur enter(const cur *outer, const der *d)
{
    cur c = {d->p, d->len, 0, outer->base + (size_t)(d->p - outer->p)};
    return c;
}

static int expect(cur *c, der *d, uint8_t tag, const char *what)
{
    int rc = next(c, d, what);
    if (rc == MP_OK && d->tag != tag) {
        return mp_err(MP_ERR_INVALID, "CD envelope: %s must have tag 0x%02X (found 0x%02X)", what, tag, d->tag);
    }
    return rc;
}

static int is_oid(const der *d, const uint8_t *oid, size_t n)
{
    return d->tag == 0x06 && d->len == n && memcmp(d->p, oid, n) == 0;
}

static int int_is(const der *d, uint8_t v)
{
    return d->len == 1 && d->p[0] == v;
}

/* AlgorithmIdentifier { oid } with parameters absent. */
static int algorithm(cur *c, const uint8_t *oid, size_t n, const char *what, const char *name)
{
    der seq, o;
    int rc = expect(c, &seq, 0x30, what);
    if (rc != MP_OK) return rc;
    cur a = enter(c, &seq);
    if ((rc = expect(&a, &o, 0x06, what)) != MP_OK) return rc;
    if (!is_oid(&o, oid, n)) {
        return mp_err(MP_ERR_INVALID, "CD envelope: %s must be %s", what, name);
    }
    if (a.off != a.len) {
        return mp_err(MP_ERR_INVALID, "CD envelope: %s must have its parameters absent", what);
    }
    return MP_OK;
}

static int digest_algorithms(cur *sd)
{
    der set;
    int rc = expect(sd, &set, 0x31, "SignedData.digestAlgorithms");
    if (rc != MP_OK) return rc;
    cur s = enter(sd, &set);
    if (s.len == 0) {
        return env_err("SignedData.digestAlgorithms must hold exactly one algorithm (is empty)");
    }
    if ((rc = algorithm(&s, oid_sha256, sizeof(oid_sha256), "SignedData.digestAlgorithms", "SHA-256 (2.16.840.1.101.3.4.2.1)")) != MP_OK) {
        return rc;
    }
    return s.off == s.len ? MP_OK : env_err("SignedData.digestAlgorithms must hold exactly one algorithm");
}

static int encap_content(cur *sd, mp_cd_env *env)
{
    der seq, o, ex, os;
    int rc = expect(sd, &seq, 0x30, "SignedData.encapContentInfo");
    if (rc != MP_OK) return rc;
    cur e = enter(sd, &seq);
    if ((rc = expect(&e, &o, 0x06, "encapContentInfo.eContentType")) != MP_OK) return rc;
    if (!is_oid(&o, oid_data, sizeof(oid_data))) {
        return env_err("encapContentInfo.eContentType must be pkcs7-data (1.2.840.113549.1.7.1)");
    }
    if (e.off == e.len) {
        return env_err("content is detached (no eContent); the CD must be attached");
    }
    if ((rc = expect(&e, &ex, 0xA0, "encapContentInfo.eContent [0]")) != MP_OK) return rc;
    cur x = enter(&e, &ex);
    if ((rc = expect(&x, &os, 0x04, "eContent OCTET STRING (primitive)")) != MP_OK) return rc;
    if (x.off != x.len || e.off != e.len) {
        return env_err("encapContentInfo has trailing data");
    }
    env->content = os.p;
    env->content_len = os.len;
    return MP_OK;
}

static int signer_info(cur *set, mp_cd_env *env)
{
    der seq, v, sid, sig;
    int rc = expect(set, &seq, 0x30, "SignerInfo");
    if (rc != MP_OK) return rc;
    cur si = enter(set, &seq);
    if ((rc = expect(&si, &v, 0x02, "SignerInfo.version")) != MP_OK) return rc;
    if (!int_is(&v, 3)) {
        return env_err("SignerInfo.version must be 3 (sid = subjectKeyIdentifier)");
    }
    if ((rc = next(&si, &sid, "SignerInfo.sid")) != MP_OK) return rc;
    if (sid.tag != 0x80) {
        return env_err("SignerInfo.sid must be [0] subjectKeyIdentifier (issuerAndSerialNumber is not accepted)");
    }
    if (sid.len < 1 || sid.len > sizeof(env->skid)) {
        return env_err("SignerInfo.sid key identifier must be 1..32 bytes");
    }
    memcpy(env->skid, sid.p, sid.len);
    env->skid_len = sid.len;
    if ((rc = algorithm(&si, oid_sha256, sizeof(oid_sha256), "SignerInfo.digestAlgorithm", "SHA-256 (2.16.840.1.101.3.4.2.1)")) != MP_OK) {
        return rc;
    }
    if (si.off < si.len && si.p[si.off] == 0xA0) {
        return env_err("SignerInfo.signedAttrs present; the signature must cover the content directly");
    }
    if ((rc = algorithm(&si, oid_ecdsa_sha256, sizeof(oid_ecdsa_sha256), "SignerInfo.signatureAlgorithm", "ecdsa-with-SHA256 (1.2.840.10045.4.3.2)")) != MP_OK) {
        return rc;
    }
    if ((rc = expect(&si, &sig, 0x04, "SignerInfo.signature")) != MP_OK) return rc;
    if (si.off < si.len) {
        return env_err(si.p[si.off] == 0xA1 ? "SignerInfo.unsignedAttrs present" : "SignerInfo has trailing data");
    }
    env->sig = sig.p;
    env->sig_len = sig.len;
    return set->off == set->len ? MP_OK : env_err("signerInfos must hold exactly one SignerInfo");
}

static int signed_data(cur *c, mp_cd_env *env)
{
    der seq, v, set;
    int rc = expect(c, &seq, 0x30, "SignedData");
    if (rc != MP_OK) return rc;
    cur sd = enter(c, &seq);
    if ((rc = expect(&sd, &v, 0x02, "SignedData.version")) != MP_OK) return rc;
    if (!int_is(&v, 3)) {
        return env_err("SignedData.version must be 3");
    }
    if ((rc = digest_algorithms(&sd)) != MP_OK || (rc = encap_content(&sd, env)) != MP_OK) {
        return rc;
    }
    if (sd.off < sd.len && sd.p[sd.off] == 0xA0) {
        return env_err("SignedData.certificates present; a CD carries no certificates");
    }
    if (sd.off < sd.len && sd.p[sd.off] == 0xA1) {
        return env_err("SignedData.crls present; a CD carries no CRLs");
    }
    if ((rc = expect(&sd, &set, 0x31, "SignedData.signerInfos")) != MP_OK) return rc;
    if (set.len == 0) {
        return env_err("signerInfos must hold exactly one SignerInfo (is empty)");
    }
    cur s = enter(&sd, &set);
    if ((rc = signer_info(&s, env)) != MP_OK) return rc;
    return sd.off == sd.len ? MP_OK : env_err("SignedData has trailing data after signerInfos");
}

int mp_cd_env_parse(const uint8_t *buf, size_t len, mp_cd_env *env)
{
    cur top = {buf, len, 0, 0};
    der ci, o, ex;
    int rc;
    memset(env, 0, sizeof(*env));
    if (buf == NULL || len == 0) {
        return env_err("empty input");
    }
    if (len > MP_CD_MAX_CMS) {
        return mp_err(MP_ERR_INVALID, "CD envelope: %zu bytes is larger than the %d bytes a device can hold (kMaxCMSSignedCDMessage)", len, MP_CD_MAX_CMS);
    }
    if ((rc = expect(&top, &ci, 0x30, "ContentInfo")) != MP_OK) return rc;
    if (top.off != top.len) {
        return env_err("trailing data after ContentInfo");
    }
    cur c = enter(&top, &ci);
    if ((rc = expect(&c, &o, 0x06, "ContentInfo.contentType")) != MP_OK) return rc;
    if (!is_oid(&o, oid_signed_data, sizeof(oid_signed_data))) {
        return env_err("ContentInfo.contentType must be id-signedData (1.2.840.113549.1.7.2)");
    }
    if ((rc = expect(&c, &ex, 0xA0, "ContentInfo.content [0]")) != MP_OK) return rc;
    cur x = enter(&c, &ex);
    if ((rc = signed_data(&x, env)) != MP_OK) return rc;
    if (x.off != x.len || c.off != c.len) {
        return env_err("ContentInfo has trailing data");
    }
    return MP_OK;
}

/* ---- signature ------------------------------------------------------------ */

EVP_PKEY *mp_cd_point_key(const uint8_t point[65])
{
    static const uint8_t spki_prefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE,
        0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
    uint8_t spki[sizeof(spki_prefix) + 65];
    memcpy(spki, spki_prefix, sizeof(spki_prefix));
    memcpy(spki + sizeof(spki_prefix), point, 65);
    const uint8_t *p = spki;
    return d2i_PUBKEY(NULL, &p, (long)sizeof(spki));
}

int mp_cd_env_verify(const mp_cd_env *env, const uint8_t point[65])
{
    EVP_PKEY *pk = mp_cd_point_key(point);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = MP_ERR_VERIFY;
    if (pk == NULL || md == NULL) {
        rc = mp_err_ssl(MP_ERR_INVALID, "CD signer public key is not a valid P-256 point");
        goto end;
    }
    if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
        EVP_DigestVerify(md, env->sig, env->sig_len, env->content, env->content_len) == 1) {
        rc = MP_OK;
    } else {
        rc = mp_err(MP_ERR_VERIFY, "CD signature does not verify with the signer key (ECDSA-SHA256 over the %zu content bytes)", env->content_len);
    }
end:
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pk);
    return rc;
}

/* ---- writer --------------------------------------------------------------- */

typedef struct dbuf {
    uint8_t b[MP_CD_MAX_CMS + 16];
    size_t n;
    int overflow;
} dbuf;

static void put(dbuf *d, const void *p, size_t n)
{
    if (d->overflow || sizeof(d->b) - d->n < n) {
        d->overflow = 1;
        return;
    }
    memcpy(d->b + d->n, p, n);
    d->n += n;
}

/* Turn the bytes from start to the end into one element with tag. */
static void wrap(dbuf *d, size_t start, uint8_t tag)
{
    size_t len = d->n - start;
    uint8_t h[4] = {tag};
    size_t hl = 2;
    if (len < 0x80) {
        h[1] = (uint8_t)len;
    } else if (len <= 0xFF) {
        h[1] = 0x81, h[2] = (uint8_t)len, hl = 3;
    } else {
        h[1] = 0x82, h[2] = (uint8_t)(len >> 8), h[3] = (uint8_t)len, hl = 4;
    }
    if (d->overflow || sizeof(d->b) - d->n < hl || len > 0xFFFF) {
        d->overflow = 1;
        return;
    }
    memmove(d->b + start + hl, d->b + start, len);
    memcpy(d->b + start, h, hl);
    d->n += hl;
}

static void put_prim(dbuf *d, uint8_t tag, const uint8_t *p, size_t n)
{
    size_t s = d->n;
    put(d, p, n);
    wrap(d, s, tag);
}

static void put_alg(dbuf *d, const uint8_t *oid, size_t n)
{
    size_t s = d->n;
    put_prim(d, 0x06, oid, n);
    wrap(d, s, 0x30);
}

static void build(dbuf *d, const uint8_t *tlv, size_t tlv_len, const uint8_t skid[20],
                  const uint8_t *sig, size_t sig_len)
{
    static const uint8_t three = 3;
    size_t ci = d->n, ex, sd, set, ec, ec0, sis, si;
    put_prim(d, 0x06, oid_signed_data, sizeof(oid_signed_data));
    ex = d->n;
    sd = d->n;
    put_prim(d, 0x02, &three, 1);
    set = d->n;
    put_alg(d, oid_sha256, sizeof(oid_sha256));
    wrap(d, set, 0x31);
    ec = d->n;
    put_prim(d, 0x06, oid_data, sizeof(oid_data));
    ec0 = d->n;
    put_prim(d, 0x04, tlv, tlv_len);
    wrap(d, ec0, 0xA0);
    wrap(d, ec, 0x30);
    sis = d->n;
    si = d->n;
    put_prim(d, 0x02, &three, 1);
    put_prim(d, 0x80, skid, 20);
    put_alg(d, oid_sha256, sizeof(oid_sha256));
    put_alg(d, oid_ecdsa_sha256, sizeof(oid_ecdsa_sha256));
    put_prim(d, 0x04, sig, sig_len);
    wrap(d, si, 0x30);
    wrap(d, sis, 0x31);
    wrap(d, sd, 0x30);
    wrap(d, ex, 0xA0);
    wrap(d, ci, 0x30);
}

int mp_cd_sign(const uint8_t *tlv, size_t tlv_len, const uint8_t skid[20], EVP_PKEY *signer,
               uint8_t **der_out, size_t *der_len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t sig[80];
    size_t sig_len = sizeof(sig);
    dbuf *d = calloc(1, sizeof(*d));
    int rc = MP_ERR_GENERAL;
    *der_out = NULL;
    if (md == NULL || d == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, signer) != 1 ||
        EVP_DigestSign(md, sig, &sig_len, tlv, tlv_len) != 1) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "signing the CD failed");
        goto end;
    }
    build(d, tlv, tlv_len, skid, sig, sig_len);
    if (d->overflow || d->n > MP_CD_MAX_CMS) {
        rc = mp_err(MP_ERR_INVALID, "CD envelope would exceed %d bytes", MP_CD_MAX_CMS);
        goto end;
    }
    if ((*der_out = malloc(d->n)) == NULL) {
        rc = mp_err(MP_ERR_GENERAL, "out of memory");
        goto end;
    }
    memcpy(*der_out, d->b, d->n);
    *der_len = d->n;
    rc = MP_OK;
end:
    free(d);
    EVP_MD_CTX_free(md);
    return rc;
}
