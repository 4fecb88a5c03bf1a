/* fd_field.c - the field view of mp_fd_device shared by every format. */
#include "fd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "spake2p.h"
#include "util.h"

static const struct {
    const char *name;
    int kind;
    uint64_t min, max; /* value (K_UINT) or length (K_STR, K_BYTES) */
} meta[F_COUNT] = {
    [F_SN] = {"serial number", K_STR, 1, 32},
    [F_VID] = {"vendor ID", K_UINT, 1, 0xFFF4},
    [F_PID] = {"product ID", K_UINT, 1, 0xFFFF},
    [F_VNAME] = {"vendor name", K_STR, 1, 32},
    [F_PNAME] = {"product name", K_STR, 1, 32},
    [F_PLABEL] = {"product label", K_STR, 0, 64},
    [F_PURL] = {"product URL", K_STR, 0, 256},
    [F_PARTNO] = {"part number", K_STR, 0, 32},
    [F_DATE] = {"manufacturing date", K_STR, 8, 16},
    [F_HWVER] = {"hardware version", K_UINT, 0, 0xFFFF},
    [F_HWVERSTR] = {"hardware version string", K_STR, 1, 64},
    [F_RDUID] = {"rotating device ID unique ID", K_BYTES, 16, 32},
    [F_DAC] = {"DAC certificate", K_BYTES, 1, MP_FD_MAX_CERT},
    [F_DACKEY] = {"DAC private key", K_BYTES, 32, 32},
    [F_PAI] = {"PAI certificate", K_BYTES, 1, MP_FD_MAX_CERT},
    [F_CD] = {"certification declaration", K_BYTES, 1, MP_FD_MAX_CD},
    [F_PASSCODE] = {"passcode", K_UINT, 1, 99999998},
    [F_ITER] = {"SPAKE2+ iterations", K_UINT, 1000, 100000},
    [F_SALT] = {"SPAKE2+ salt", K_BYTES, 16, 32},
    [F_VERIFIER] = {"SPAKE2+ verifier", K_BYTES, 97, 97},
    [F_DISC] = {"discriminator", K_UINT, 0, 4095},
    [F_FINISH] = {"product finish", K_UINT, 0, 5},
    [F_COLOR] = {"primary colour", K_UINT, 0, 20},
};

const char *fd_field_name(int f) { return meta[f].name; }
int fd_field_kind(int f) { return meta[f].kind; }

static fd_value str(const char *s) { return (fd_value){K_STR, 0, (const uint8_t *)s, strlen(s)}; }
static fd_value bytes(const uint8_t *p, size_t n) { return (fd_value){K_BYTES, 0, p, n}; }
static fd_value uval(uint64_t u) { return (fd_value){K_UINT, u, NULL, 0}; }

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= p[i];
    return acc == 0;
}

int fd_get(const mp_fd_device *d, int f, fd_value *v)
{
    switch (f) {
    case F_SN: *v = str(d->serial); break;
    case F_VID: *v = uval(d->vendor_id); break;
    case F_PID: *v = uval(d->product_id); break;
    case F_VNAME: *v = str(d->vendor_name); break;
    case F_PNAME: *v = str(d->product_name); break;
    case F_PLABEL: *v = str(d->product_label); break;
    case F_PURL: *v = str(d->product_url); break;
    case F_PARTNO: *v = str(d->part_number); break;
    case F_DATE: *v = str(d->mfg_date); break;
    case F_HWVER: *v = uval(d->hw_ver); return 1;
    case F_HWVERSTR: *v = str(d->hw_ver_str); break;
    case F_RDUID: *v = bytes(d->rd_uid, d->rd_uid_len); break;
    case F_DAC: *v = bytes(d->dac_der, d->dac_len); break;
    case F_DACKEY: *v = bytes(d->dac_key, d->has_dac_key ? 32 : 0); break;
    case F_PAI: *v = bytes(d->pai_der, d->pai_len); break;
    case F_CD: *v = bytes(d->cd_der, d->cd_len); break;
    case F_PASSCODE: *v = uval(d->passcode); return d->passcode != 0;
    case F_ITER: *v = uval(d->iterations); return d->iterations != 0;
    case F_SALT: *v = bytes(d->salt, d->salt_len); break;
    case F_VERIFIER: *v = bytes(d->verifier, 97); return !all_zero(d->verifier, 97); /* never a valid W0 || L */
    case F_DISC: *v = uval(d->discriminator); return 1;
    case F_FINISH: *v = uval((uint64_t)d->product_finish); return d->product_finish >= 0;
    case F_COLOR: *v = uval((uint64_t)d->product_color); return d->product_color >= 0;
    default: return 0;
    }
    if (v->kind == K_UINT) return v->u != 0;
    return v->len > 0;
}

/* YYYY-MM-DD or YYYYMMDD (+ optional suffix) -> YYYY-MM-DD + suffix. */
static int norm_date(const uint8_t *p, size_t n, char out[17])
{
    char buf[17];
    time_t t;
    if (n < 8 || n > 16) return -1;
    memcpy(buf, p, n);
    buf[n] = 0;
    int dashed = n >= 10 && buf[4] == '-' && buf[7] == '-';
    if (dashed) {
        memcpy(out, buf, n + 1);
    } else {
        if (n + 2 > 16) return -1;
        snprintf(out, 17, "%.4s-%.2s-%.2s%s", buf, buf + 4, buf + 6, buf + 8);
    }
    char ymd[11];
    memcpy(ymd, out, 10);
    ymd[10] = 0;
    for (size_t i = 0; out[i]; i++) {
        if (out[i] < 0x20 || out[i] > 0x7E) return -1;
    }
    return mp_parse_time(ymd, &t) == MP_OK ? 0 : -1;
}

static int set_str(char *dst, size_t cap, const fd_value *v)
{
    if (v->len >= cap || memchr(v->p, 0, v->len) != NULL) return -1;
    memcpy(dst, v->p, v->len);
    dst[v->len] = 0;
    return 0;
}

/* Bounded by the destination itself, not only by the field table's limit. */
static int set_bytes(uint8_t *dst, size_t cap, size_t *len, const fd_value *v)
{
    if (v->len > cap) return -1;
    memcpy(dst, v->p, v->len);
    *len = v->len;
    return 0;
}

static int store(mp_fd_device *d, int f, const fd_value *v)
{
    size_t dummy;
    switch (f) {
    case F_SN: return set_str(d->serial, sizeof(d->serial), v);
    case F_VID: d->vendor_id = (uint16_t)v->u; return 0;
    case F_PID: d->product_id = (uint16_t)v->u; return 0;
    case F_VNAME: return set_str(d->vendor_name, sizeof(d->vendor_name), v);
    case F_PNAME: return set_str(d->product_name, sizeof(d->product_name), v);
    case F_PLABEL: return set_str(d->product_label, sizeof(d->product_label), v);
    case F_PURL: return set_str(d->product_url, sizeof(d->product_url), v);
    case F_PARTNO: return set_str(d->part_number, sizeof(d->part_number), v);
    case F_DATE: return norm_date(v->p, v->len, d->mfg_date);
    case F_HWVER: d->hw_ver = (uint16_t)v->u; return 0;
    case F_HWVERSTR: return set_str(d->hw_ver_str, sizeof(d->hw_ver_str), v);
    case F_RDUID: return set_bytes(d->rd_uid, sizeof(d->rd_uid), &d->rd_uid_len, v);
    case F_DAC: return set_bytes(d->dac_der, sizeof(d->dac_der), &d->dac_len, v);
    case F_DACKEY: d->has_dac_key = 1; return set_bytes(d->dac_key, sizeof(d->dac_key), &dummy, v);
    case F_PAI: return set_bytes(d->pai_der, sizeof(d->pai_der), &d->pai_len, v);
    case F_CD: return set_bytes(d->cd_der, sizeof(d->cd_der), &d->cd_len, v);
    case F_PASSCODE: d->passcode = (uint32_t)v->u; return 0;
    case F_ITER: d->iterations = (uint32_t)v->u; return 0;
    case F_SALT: return set_bytes(d->salt, sizeof(d->salt), &d->salt_len, v);
    case F_VERIFIER: return set_bytes(d->verifier, sizeof(d->verifier), &dummy, v);
    case F_DISC: d->discriminator = (uint16_t)v->u; return 0;
    case F_FINISH: d->product_finish = (int)v->u; return 0;
    case F_COLOR: d->product_color = (int)v->u; return 0;
    default: return -1;
    }
}

int fd_check(int f, const fd_value *v, const char *where, const char *key)
{
    char date[17];
    const char *n = meta[f].name;
    if (v->kind != meta[f].kind) {
        return mp_err(MP_ERR_INVALID, "%s: %s (%s): expected %s", where, key, n,
                      meta[f].kind == K_UINT ? "an integer" : meta[f].kind == K_STR ? "a string" : "bytes");
    }
    uint64_t x = v->kind == K_UINT ? v->u : v->len;
    if (x < meta[f].min || x > meta[f].max) {
        return mp_err(MP_ERR_INVALID, "%s: %s (%s): %s %llu; expected %llu..%llu", where, key, n,
                      v->kind == K_UINT ? "value" : "length", (unsigned long long)x,
                      (unsigned long long)meta[f].min, (unsigned long long)meta[f].max);
    }
    if ((v->kind == K_STR && memchr(v->p, 0, v->len) != NULL) ||
        (f == F_DATE && norm_date(v->p, v->len, date) != 0)) {
        return mp_err(MP_ERR_INVALID, "%s: %s (%s): malformed%s", where, key, n,
                      f == F_DATE ? " (expected YYYY-MM-DD or YYYYMMDD, optional suffix, at most 16 characters)" : "");
    }
    return MP_OK;
}

int fd_assign(mp_fd_device *d, int f, const fd_value *v, const char *where, const char *key)
{
    int rc = fd_check(f, v, where, key);
    if (rc == MP_OK && store(d, f, v) != 0) {
        rc = mp_err(MP_ERR_INVALID, "%s: %s (%s): malformed", where, key, fd_field_name(f));
    }
    return rc;
}

int fd_encode(const fd_map *m, const fd_value *in, uint8_t *scratch, size_t cap, fd_value *out)
{
    *out = *in;
    if (m->enc == E_B64) {
        out->len = mp_b64_encode(in->p, in->len, (char *)scratch, cap);
        out->p = scratch;
        out->kind = K_STR;
    } else if (m->enc == E_HEX) {
        if (cap < 2 * in->len + 1) return mp_err(MP_ERR_GENERAL, "internal: scratch too small");
        mp_hex(in->p, in->len, (char *)scratch, 0);
        out->len = 2 * in->len;
        out->p = scratch;
        out->kind = K_STR;
    }
    return MP_OK;
}

int fd_decode_set(mp_fd_device *d, const fd_map *m, const uint8_t *p, size_t n, uint64_t u,
                  const char *where)
{
    uint8_t scratch[MP_FD_MAX_CD];
    fd_value v = {fd_field_kind(m->field), u, p, n};
    char *txt = NULL;
    int rc = MP_OK;
    if (m->enc == E_B64 || m->enc == E_HEX) {
        long l = -1;
        if (n <= 2 * sizeof(scratch) && (txt = malloc(n + 1)) != NULL) {
            memcpy(txt, p, n);
            txt[n] = 0;
            l = m->enc == E_B64 ? mp_b64_decode(txt, n, scratch, sizeof(scratch))
                                : (strlen(txt) == n ? mp_unhex(txt, scratch, sizeof(scratch)) : -1);
        }
        if (l < 0) {
            rc = mp_err(MP_ERR_INVALID, "%s: %s (%s): not valid %s", where, m->key ? m->key : "", fd_field_name(m->field),
                        m->enc == E_B64 ? "base64" : "hex");
        }
        v.p = scratch;
        v.len = l < 0 ? 0 : (size_t)l;
    }
    if (rc == MP_OK) {
        char num[8];
        snprintf(num, sizeof(num), "key %d", m->num);
        rc = fd_assign(d, m->field, &v, where, m->key ? m->key : num);
    }
    if (txt != NULL) mp_free_secret(txt, n + 1); /* hex or base64 of the DAC key too */
    OPENSSL_cleanse(scratch, sizeof(scratch));
    return rc;
}

const fd_map *fd_map_key(const fd_map *maps, size_t n, const char *key, size_t keylen)
{
    for (size_t i = 0; i < n; i++) {
        if (maps[i].key && strlen(maps[i].key) == keylen && memcmp(maps[i].key, key, keylen) == 0) {
            return &maps[i];
        }
    }
    return NULL;
}

void fd_put(fd_buf *b, const void *data, size_t n)
{
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n) cap *= 2;
        uint8_t *p = malloc(cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        if (b->p) memcpy(p, b->p, b->len);
        mp_free_secret(b->p, b->cap);
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
}

void fd_put_u8(fd_buf *b, uint8_t v) { fd_put(b, &v, 1); }

int fd_take(fd_buf *b, uint8_t **out, size_t *len)
{
    if (b->oom) {
        fd_buf_wipe(b);
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    *out = b->p;
    *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return MP_OK;
}

void fd_buf_wipe(fd_buf *b)
{
    mp_free_secret(b->p, b->cap);
    b->p = NULL;
    b->len = b->cap = 0;
}
