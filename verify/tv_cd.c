/*
 * tv_cd.c - test-vector CDs (section 10 C): the CD TLV with any field left
 * out or out of range, and a CMS SignedData envelope with one defect. The
 * well-formed form is byte-compatible with certdecl's encoder and signer.
 */
#include "tv.h"

#include <stdlib.h>
#include <string.h>

#include "tlv.h"

int tv_cd_tlv(const tv_cd *cd, uint8_t *buf, size_t cap, size_t *len)
{
    mp_tlv_writer w;
    unsigned f = cd->fields;
    mp_tlv_writer_init(&w, buf, cap);
    mp_tlv_start(&w, MP_TLV_ANON, MP_TLV_STRUCT);
    if (f & TVF_FORMAT) mp_tlv_put_uint(&w, mp_tlv_ctx(0), cd->format_version);
    if (f & TVF_VENDOR) mp_tlv_put_uint(&w, mp_tlv_ctx(1), cd->vendor_id);
    if (f & TVF_PIDS) {
        mp_tlv_start(&w, mp_tlv_ctx(2), MP_TLV_ARRAY);
        for (size_t i = 0; i < cd->n_pids; i++) mp_tlv_put_uint(&w, MP_TLV_ANON, cd->pids[i]);
        mp_tlv_end(&w);
    }
    if (f & TVF_DEVTYPE) mp_tlv_put_uint(&w, mp_tlv_ctx(3), cd->device_type);
    if (f & TVF_CERTID) mp_tlv_put_utf8(&w, mp_tlv_ctx(4), cd->cert_id, strlen(cd->cert_id));
    if (f & TVF_SECLEVEL) mp_tlv_put_uint(&w, mp_tlv_ctx(5), cd->sec_level);
    if (f & TVF_SECINFO) mp_tlv_put_uint(&w, mp_tlv_ctx(6), cd->sec_info);
    if (f & TVF_VERSION) mp_tlv_put_uint(&w, mp_tlv_ctx(7), cd->version);
    if (f & TVF_CERTTYPE) mp_tlv_put_uint(&w, mp_tlv_ctx(8), cd->cert_type);
    if (f & TVF_ORIGIN_VID) mp_tlv_put_uint(&w, mp_tlv_ctx(9), cd->origin_vid);
    if (f & TVF_ORIGIN_PID) mp_tlv_put_uint(&w, mp_tlv_ctx(10), cd->origin_pid);
    if (f & TVF_PAAS) {
        mp_tlv_start(&w, mp_tlv_ctx(11), MP_TLV_ARRAY);
        for (size_t i = 0; i < cd->n_paas; i++) mp_tlv_put_bytes(&w, MP_TLV_ANON, cd->paas[i], 20);
        mp_tlv_end(&w);
    }
    mp_tlv_end(&w);
    return mp_tlv_finish(&w, len);
}

/* ---- a small DER writer --------------------------------------------------- */

typedef struct der {
    uint8_t b[1600];
    size_t n;
    int bad;
} der;

static void raw(der *d, const void *p, size_t n)
{
    if (d->bad || sizeof(d->b) - d->n < n) {
        d->bad = 1;
        return;
    }
    memcpy(d->b + d->n, p, n);
    d->n += n;
}

static void tlv(der *d, uint8_t tag, const uint8_t *v, size_t n)
{
    uint8_t h[4] = {tag};
    size_t hl = 2;
    if (n < 0x80) h[1] = (uint8_t)n;
    else if (n < 0x100) h[1] = 0x81, h[2] = (uint8_t)n, hl = 3;
    else h[1] = 0x82, h[2] = (uint8_t)(n >> 8), h[3] = (uint8_t)n, hl = 4;
    raw(d, h, hl);
    raw(d, v, n);
}

static void wrap(der *out, uint8_t tag, const der *in)
{
    if (in->bad) out->bad = 1;
    tlv(out, tag, in->b, in->n);
}

static const uint8_t oid_signed_data[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02};
static const uint8_t oid_data[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01};
static const uint8_t oid_other[] = {0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x01, 0x04};
static const uint8_t oid_sha256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
static const uint8_t oid_sha1[] = {0x2B, 0x0E, 0x03, 0x02, 0x1A};
static const uint8_t oid_ecdsa_sha256[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02};
static const uint8_t oid_ecdsa_sha1[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x01};

static void alg(der *d, int sha1, int sig)
{
    der a = {0};
    if (sig) tlv(&a, 0x06, sha1 ? oid_ecdsa_sha1 : oid_ecdsa_sha256, sha1 ? sizeof(oid_ecdsa_sha1) : sizeof(oid_ecdsa_sha256));
    else tlv(&a, 0x06, sha1 ? oid_sha1 : oid_sha256, sha1 ? sizeof(oid_sha1) : sizeof(oid_sha256));
    wrap(d, 0x30, &a);
}

static void signer_info(der *sd, const uint8_t kid[20], const uint8_t *sig, size_t sig_len, int defect)
{
    der si = {0}, set = {0};
    uint8_t v = defect == TVC_SIGNER_V2 ? 2 : 3, k[20];
    memcpy(k, kid, 20);
    if (defect == TVC_UNKNOWN_KID) k[19] ^= 0xFF;
    tlv(&si, 0x02, &v, 1);
    tlv(&si, 0x80, k, 20);
    alg(&si, defect == TVC_SIGNER_DIGEST_SHA1, 0);
    alg(&si, defect == TVC_SIG_ALG_SHA1, 1);
    tlv(&si, 0x04, sig, sig_len);
    wrap(&set, 0x30, &si);
    wrap(sd, 0x31, &set);
}

int tv_cd_sign(const uint8_t *tlv_buf, size_t len, const uint8_t kid[20], EVP_PKEY *key, int defect,
               uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t sig[80], v = defect == TVC_SIGNED_DATA_V2 ? 2 : 3;
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(md, sig, &sig_len, tlv_buf, len) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) return mp_err_ssl(MP_ERR_GENERAL, "signing the test CD failed");
    if (defect == TVC_CORRUPT_SIG) sig[sig_len - 1] ^= 0x01;
    der *sd = calloc(1, sizeof(der)), *tmp = calloc(1, sizeof(der)), *ci = calloc(1, sizeof(der));
    if (sd == NULL || tmp == NULL || ci == NULL) {
        free(sd), free(tmp), free(ci);
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    der set = {0}, ec = {0}, ec0 = {0};
    tlv(sd, 0x02, &v, 1);
    alg(&set, defect == TVC_DIGEST_SHA1, 0);
    if (defect == TVC_TWO_DIGESTS) alg(&set, 1, 0);
    wrap(sd, 0x31, &set);
    tlv(&ec, 0x06, defect == TVC_ECONTENT_OTHER ? oid_other : oid_data,
        defect == TVC_ECONTENT_OTHER ? sizeof(oid_other) : sizeof(oid_data));
    tlv(&ec0, 0x04, tlv_buf, len);
    wrap(&ec, 0xA0, &ec0);
    wrap(sd, 0x30, &ec);
    signer_info(sd, kid, sig, sig_len, defect);
    wrap(tmp, 0x30, sd);
    tlv(ci, 0x06, oid_signed_data, sizeof(oid_signed_data));
    wrap(ci, 0xA0, tmp);
    memset(tmp, 0, sizeof(*tmp));
    wrap(tmp, 0x30, ci);
    int rc = tmp->bad || tmp->n > cap ? mp_err(MP_ERR_INVALID, "test CD envelope too large") : MP_OK;
    if (rc == MP_OK) {
        memcpy(out, tmp->b, tmp->n);
        *out_len = tmp->n;
    }
    free(sd), free(tmp), free(ci);
    return rc;
}
