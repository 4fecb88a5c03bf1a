/* dacgen.c - see dacgen.h. */
#include "dacgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "keystore.h"
#include "x509.h"

static const uint8_t sigalg[] = {0x30, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02};
static const uint8_t spki_head[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02,
                                    0x01, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07,
                                    0x03, 0x42, 0x00};
static const uint8_t oid_cn[] = {0x06, 0x03, 0x55, 0x04, 0x03};
static const uint8_t oid_vid[] = {0x06, 0x0A, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0xA2, 0x7C, 0x02, 0x01};
static const uint8_t oid_pid[] = {0x06, 0x0A, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0xA2, 0x7C, 0x02, 0x02};
/* Extensions: BC {} critical, KU digitalSignature critical, then SKID, AKID. */
static const uint8_t ext_fixed[] = {
    0x30, 0x0C, 0x06, 0x03, 0x55, 0x1D, 0x13, 0x01, 0x01, 0xFF, 0x04, 0x02, 0x30, 0x00,
    0x30, 0x0E, 0x06, 0x03, 0x55, 0x1D, 0x0F, 0x01, 0x01, 0xFF, 0x04, 0x04, 0x03, 0x02, 0x07, 0x80,
};
static const uint8_t skid_head[] = {0x30, 0x1D, 0x06, 0x03, 0x55, 0x1D, 0x0E, 0x04, 0x16, 0x04, 0x14};
static const uint8_t akid_head[] = {0x30, 0x1F, 0x06, 0x03, 0x55, 0x1D, 0x23, 0x04, 0x18, 0x30, 0x16, 0x80, 0x14};

/* Write a DER length; returns its size. */
static size_t put_len(uint8_t *p, size_t n)
{
    if (n < 0x80) {
        p[0] = (uint8_t)n;
        return 1;
    }
    if (n < 0x100) {
        p[0] = 0x81;
        p[1] = (uint8_t)n;
        return 2;
    }
    p[0] = 0x82;
    p[1] = (uint8_t)(n >> 8);
    p[2] = (uint8_t)n;
    return 3;
}

static size_t len_size(size_t n)
{
    return n < 0x80 ? 1 : n < 0x100 ? 2 : 3;
}

static size_t put(uint8_t *p, const void *src, size_t n)
{
    memcpy(p, src, n);
    return n;
}

/* SET { SEQUENCE { oid, UTF8String value } } */
static size_t put_rdn(uint8_t *p, const uint8_t *oid, size_t oidlen, const char *v, size_t vlen)
{
    size_t seq = oidlen + 1 + len_size(vlen) + vlen;
    size_t o = 0;
    p[o++] = 0x31;
    o += put_len(p + o, 1 + len_size(seq) + seq);
    p[o++] = 0x30;
    o += put_len(p + o, seq);
    o += put(p + o, oid, oidlen);
    p[o++] = 0x0C;
    o += put_len(p + o, vlen);
    return o + put(p + o, v, vlen);
}

static size_t put_time(uint8_t *p, time_t t)
{
    char buf[16];
    p[0] = mp_x509_time_str(t, buf) ? 0x17 : 0x18; /* UTCTime : GeneralizedTime */
    size_t n = strlen(buf);
    p[1] = (uint8_t)n;
    return 2 + put(p + 2, buf, n);
}

static size_t tbs_body(const mp_dac_tmpl *t, const char *cn, size_t cnlen, const uint8_t point[65],
                       const uint8_t serial[16], uint8_t *b);

int mp_dac_tmpl_init(mp_dac_tmpl *t, X509 *pai, uint16_t vid, uint16_t pid, time_t nb, time_t na)
{
    char hex[5];
    uint8_t *p = t->issuer;
    memset(t, 0, sizeof(*t));
    int n = i2d_X509_NAME(X509_get_subject_name(pai), NULL);
    if (n <= 0 || (size_t)n > sizeof(t->issuer) || i2d_X509_NAME(X509_get_subject_name(pai), &p) != n) {
        return mp_err(MP_ERR_PROFILE, "PAI subject cannot be encoded (or is longer than %zu bytes)", sizeof(t->issuer));
    }
    t->issuer_len = (size_t)n;
    if (mp_cert_skid(pai, t->akid) != 0) {
        return mp_err(MP_ERR_PROFILE, "PAI has no 20-byte subject key identifier");
    }
    uint8_t times[36];
    size_t tl = put_time(times, nb);
    tl += put_time(times + tl, na);
    t->validity[0] = 0x30;
    t->validity_len = 1 + put_len(t->validity + 1, tl);
    t->validity_len += put(t->validity + t->validity_len, times, tl);
    snprintf(hex, sizeof(hex), "%04X", vid);
    t->subj_tail_len = put_rdn(t->subj_tail, oid_vid, sizeof(oid_vid), hex, 4);
    snprintf(hex, sizeof(hex), "%04X", pid);
    t->subj_tail_len += put_rdn(t->subj_tail + t->subj_tail_len, oid_pid, sizeof(oid_pid), hex, 4);
    t->not_before = nb;
    t->not_after = na;
    /* Refuse a PAI under which a DAC with a 64-character CN and the longest
     * signature would exceed 600 bytes: better now than in the middle of a batch. */
    uint8_t body[MP_DAC_MAX_DER], pt[65] = {0x04}, sn[16] = {0x7F};
    const char *cn = "0123456789012345678901234567890123456789012345678901234567890123";
    size_t bl = tbs_body(t, cn, strlen(cn), pt, sn, body);
    size_t worst = 4 + 1 + len_size(bl) + bl + sizeof(sigalg) + 3 + 1 + 72;
    if (worst > MP_MAX_CERT_DER) {
        return mp_err(MP_ERR_PROFILE, "a DAC under this PAI could be %zu bytes (64-character CN); Matter allows %d: shorten the PAI subject",
                      worst, MP_MAX_CERT_DER);
    }
    return MP_OK;
}

EVP_PKEY_CTX *mp_dac_sign_ctx(EVP_PKEY *signer)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(signer, NULL);
    if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        mp_err_ssl(MP_ERR_GENERAL, "cannot initialise signing");
        return NULL;
    }
    return ctx;
}

/* The TBSCertificate body (without its SEQUENCE header) into body. */
static size_t tbs_body(const mp_dac_tmpl *t, const char *cn, size_t cnlen, const uint8_t point[65],
                       const uint8_t serial[16], uint8_t *b)
{
    static const uint8_t version[] = {0xA0, 0x03, 0x02, 0x01, 0x02};
    uint8_t subj[160], skid[20];
    size_t o = 0, sl = put_rdn(subj, oid_cn, sizeof(oid_cn), cn, cnlen);
    sl += put(subj + sl, t->subj_tail, t->subj_tail_len);
    o += put(b + o, version, sizeof(version));
    b[o++] = 0x02;
    b[o++] = 16;
    o += put(b + o, serial, 16);
    o += put(b + o, sigalg, sizeof(sigalg));
    o += put(b + o, t->issuer, t->issuer_len);
    o += put(b + o, t->validity, t->validity_len);
    b[o++] = 0x30;
    o += put_len(b + o, sl);
    o += put(b + o, subj, sl);
    o += put(b + o, spki_head, sizeof(spki_head));
    o += put(b + o, point, 65);
    size_t exts = sizeof(ext_fixed) + sizeof(skid_head) + 20 + sizeof(akid_head) + 20;
    b[o++] = 0xA3;
    o += put_len(b + o, exts + 1 + len_size(exts));
    b[o++] = 0x30;
    o += put_len(b + o, exts);
    o += put(b + o, ext_fixed, sizeof(ext_fixed));
    o += put(b + o, skid_head, sizeof(skid_head));
    mp_skid(point, skid);
    o += put(b + o, skid, 20);
    o += put(b + o, akid_head, sizeof(akid_head));
    return o + put(b + o, t->akid, 20);
}

int mp_dac_build(const mp_dac_tmpl *t, const char *cn, const uint8_t point[static 65],
                 const uint8_t serial[static 16], const mp_dac_signer *sg, uint8_t *out, size_t *len)
{
    uint8_t body[MP_DAC_MAX_DER], md[32], sig[80];
    size_t cnlen = strlen(cn), siglen = sizeof(sig);
    if (cnlen == 0 || cnlen > MP_MAX_CN) {
        return mp_err(MP_ERR_INVALID, "DAC common name must be 1..64 characters");
    }
    size_t bl = tbs_body(t, cn, cnlen, point, serial, body);
    /* TBS = SEQUENCE header + body, placed after the certificate header. */
    size_t tbs_len = 1 + len_size(bl) + bl;
    /* Worst case: 4-byte header, TBS, algorithm, BIT STRING of a 72-byte signature. */
    if (4 + tbs_len + sizeof(sigalg) + 4 + 72 > MP_DAC_MAX_DER) {
        return mp_err(MP_ERR_PROFILE, "DAC would exceed %d bytes (PAI subject too long)", MP_MAX_CERT_DER);
    }
    uint8_t *tbs = out + 4;
    tbs[0] = 0x30;
    size_t h = 1 + put_len(tbs + 1, bl);
    memcpy(tbs + h, body, bl);
    SHA256(tbs, tbs_len, md);
    if (sg->sess != NULL) {
        int rc = mp_ks_sess_sign(sg->sess, md, sig, &siglen);
        if (rc != MP_OK) {
            return rc;
        }
    } else if (EVP_PKEY_sign(sg->evp, sig, &siglen, md, sizeof(md)) != 1) {
        return mp_err_ssl(MP_ERR_GENERAL, "signing the DAC failed");
    }
    size_t o = 4 + tbs_len;
    o += put(out + o, sigalg, sizeof(sigalg));
    out[o++] = 0x03;
    o += put_len(out + o, siglen + 1);
    out[o++] = 0x00;
    o += put(out + o, sig, siglen);
    size_t total = o - 4;
    if (total + 4 > MP_MAX_CERT_DER || total < 0x100) {
        return mp_err(MP_ERR_PROFILE, "DAC would be %zu bytes; Matter allows at most %d", total + 4, MP_MAX_CERT_DER);
    }
    out[0] = 0x30;
    put_len(out + 1, total); /* always 3 bytes: 0x82 hi lo */
    *len = total + 4;
    return MP_OK;
}

int mp_dac_cn(const char *tmpl, const char *udid, uint16_t vid, uint16_t pid, char out[65])
{
    size_t o = 0;
    for (const char *p = tmpl; *p;) {
        char piece[80];
        size_t pl = 0;
        if (*p == '{') {
            const char *end = strchr(p, '}');
            if (end == NULL) {
                return mp_err(MP_ERR_INVALID, "CN template '%s': unclosed '{'", tmpl);
            }
            size_t kl = (size_t)(end - p - 1);
            if (kl == 4 && strncmp(p + 1, "udid", 4) == 0) {
                pl = (size_t)snprintf(piece, sizeof(piece), "%s", udid);
            } else if (kl > 5 && strncmp(p + 1, "udid:", 5) == 0) {
                int n = atoi(p + 6);
                if (n <= 0) {
                    return mp_err(MP_ERR_INVALID, "CN template '%s': {udid:N} needs N >= 1", tmpl);
                }
                pl = (size_t)snprintf(piece, sizeof(piece), "%.*s", n, udid);
            } else if (kl == 3 && strncmp(p + 1, "vid", 3) == 0) {
                pl = (size_t)snprintf(piece, sizeof(piece), "%04X", vid);
            } else if (kl == 3 && strncmp(p + 1, "pid", 3) == 0) {
                pl = (size_t)snprintf(piece, sizeof(piece), "%04X", pid);
            } else {
                return mp_err(MP_ERR_INVALID, "CN template '%s': unknown field '%.*s' (use {udid}, {udid:N}, {vid}, {pid})", tmpl, (int)kl, p + 1);
            }
            p = end + 1;
        } else {
            piece[0] = *p++;
            pl = 1;
        }
        if (o + pl > MP_MAX_CN) {
            return mp_err(MP_ERR_INVALID, "CN template '%s' gives more than %d characters for UDID %s", tmpl, MP_MAX_CN, udid);
        }
        memcpy(out + o, piece, pl);
        o += pl;
    }
    out[o] = 0;
    if (o == 0) {
        return mp_err(MP_ERR_INVALID, "CN template gives an empty common name");
    }
    return MP_OK;
}
