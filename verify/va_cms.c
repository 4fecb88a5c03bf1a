/*
 * va_cms.c - the two CMS walks of the SDK's default verifier
 * (CertificationDeclaration.cpp): CMS_ExtractKeyId, which skips the first
 * SignedData fields and decodes the SignerInfo strictly (failure -> 600),
 * and CMS_Verify, which checks contentType, version, digest, eContentType
 * and the signature (failure -> 602). Like the SDK's ASN1Reader, elements
 * after the ones read in a container are ignored; the strict envelope rules
 * of TC-DA-1.2 are certdecl's mp_cd_env_parse (production mode).
 */
#include "verify.h"

#include <string.h>

#include "cd.h"

static const uint8_t oid_signed_data[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02};
static const uint8_t oid_data[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01};
static const uint8_t oid_sha256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
static const uint8_t oid_ecdsa_sha256[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02};

typedef struct rd {
    const uint8_t *p;
    size_t len, off;
} rd;

typedef struct el {
    uint8_t tag;
    const uint8_t *v;
    size_t len;
} el;

/* Next element (single-byte tag, definite length); 0 or -1. */
static int next(rd *r, el *e)
{
    if (r->len - r->off < 2) return -1;
    e->tag = r->p[r->off++];
    size_t n = r->p[r->off++];
    if (n & 0x80) {
        size_t k = n & 0x7F;
        if (k == 0 || k > 3 || r->len - r->off < k) return -1;
        for (n = 0; k > 0; k--) n = n << 8 | r->p[r->off++];
    }
    if (n > r->len - r->off) return -1;
    e->v = r->p + r->off;
    e->len = n;
    r->off += n;
    return 0;
}

static int next_tag(rd *r, el *e, uint8_t tag)
{
    return next(r, e) == 0 && e->tag == tag ? 0 : -1;
}

static rd inside(const el *e)
{
    rd r = {e->v, e->len, 0};
    return r;
}

static int is_oid(const el *e, const uint8_t *oid, size_t n)
{
    return e->tag == 0x06 && e->len == n && memcmp(e->v, oid, n) == 0;
}

/* SEQUENCE { OID ... } whose OID is oid. */
static int alg_is(rd *r, const uint8_t *oid, size_t n)
{
    el s, o;
    if (next_tag(r, &s, 0x30) != 0) return -1;
    rd a = inside(&s);
    return next(&a, &o) == 0 && is_oid(&o, oid, n) ? 0 : -1;
}

/* DecodeSignerInfo: SET { SEQUENCE { 3, [0] kid, sha256, ecdsa-sha256, sig } } */
static int signer_info(rd *r, const uint8_t **kid, size_t *kid_len, el *sig)
{
    el set, seq, v, k;
    if (next_tag(r, &set, 0x31) != 0) return -1;
    rd s = inside(&set);
    if (next_tag(&s, &seq, 0x30) != 0) return -1;
    rd si = inside(&seq);
    if (next_tag(&si, &v, 0x02) != 0 || v.len != 1 || v.v[0] != 3) return -1;
    if (next_tag(&si, &k, 0x80) != 0) return -1;
    if (alg_is(&si, oid_sha256, sizeof(oid_sha256)) != 0 ||
        alg_is(&si, oid_ecdsa_sha256, sizeof(oid_ecdsa_sha256)) != 0 || next_tag(&si, sig, 0x04) != 0) {
        return -1;
    }
    /* EcdsaAsn1SignatureToRaw: a SEQUENCE of two INTEGERs of at most 33 bytes. */
    rd sr = {sig->v, sig->len, 0};
    el sq, i1, i2;
    if (next_tag(&sr, &sq, 0x30) != 0) return -1;
    rd ir = inside(&sq);
    if (next_tag(&ir, &i1, 0x02) != 0 || next_tag(&ir, &i2, 0x02) != 0 || i1.len > 33 || i2.len > 33) return -1;
    *kid = k.v;
    *kid_len = k.len;
    return 0;
}

/* Enter ContentInfo -> [0] -> SignedData; checks the OID when check_oid. */
static int enter_signed_data(const uint8_t *der, size_t len, int check_oid, rd *sd)
{
    rd top = {der, len, 0};
    el ci, o, ex, s;
    if (der == NULL || next_tag(&top, &ci, 0x30) != 0) return -1;
    rd c = inside(&ci);
    if (next(&c, &o) != 0 || (check_oid && !is_oid(&o, oid_signed_data, sizeof(oid_signed_data)))) return -1;
    if (next_tag(&c, &ex, 0xA0) != 0) return -1;
    rd x = inside(&ex);
    if (next_tag(&x, &s, 0x30) != 0) return -1;
    *sd = inside(&s);
    return 0;
}

int mp_va_cms_key_id(const uint8_t *der, size_t len, const uint8_t **kid, size_t *kid_len)
{
    rd sd;
    el skip, sig;
    if (enter_signed_data(der, len, 0, &sd) != 0) return -1;
    for (int i = 0; i < 3; i++) {
        if (next(&sd, &skip) != 0) return -1;
    }
    return signer_info(&sd, kid, kid_len, &sig);
}

/* DecodeEncapsulatedContent: SEQUENCE { pkcs7-data, [0] { OCTET STRING } } */
static int encap(rd *sd, el *content)
{
    el seq, o, ex;
    if (next_tag(sd, &seq, 0x30) != 0) return -1;
    rd e = inside(&seq);
    if (next(&e, &o) != 0 || !is_oid(&o, oid_data, sizeof(oid_data)) || next_tag(&e, &ex, 0xA0) != 0) return -1;
    rd x = inside(&ex);
    return next_tag(&x, content, 0x04);
}

int mp_va_cms_verify(const uint8_t *der, size_t len, const uint8_t point[65], const uint8_t **content,
                     size_t *content_len)
{
    rd sd;
    el v, set, content_el, sig;
    const uint8_t *kid;
    size_t kid_len;
    if (enter_signed_data(der, len, 1, &sd) != 0) return -1;
    if (next_tag(&sd, &v, 0x02) != 0 || v.len != 1 || v.v[0] != 3) return -1;
    if (next_tag(&sd, &set, 0x31) != 0) return -1;
    rd ds = inside(&set);
    if (alg_is(&ds, oid_sha256, sizeof(oid_sha256)) != 0) return -1;
    if (encap(&sd, &content_el) != 0 || signer_info(&sd, &kid, &kid_len, &sig) != 0) return -1;
    mp_cd_env env = {.content = content_el.v, .content_len = content_el.len, .sig = sig.v, .sig_len = sig.len};
    if (mp_cd_env_verify(&env, point) != MP_OK) {
        mp_err_clear();
        return -1;
    }
    *content = content_el.v;
    *content_len = content_el.len;
    return 0;
}
