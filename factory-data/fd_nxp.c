/*
 * fd_nxp.c - NXP factory data: a 12-byte header (hash id 0xCE47BA5E stored
 * byte-reversed, u32 payload size, first 4 bytes of SHA-256(payload)) and
 * KLV entries sorted by key (u8 key, u16 length, value), little-endian.
 * Salt and verifier are base64 text, the rd_uid hex text (factory-data.md
 * section 6). The passcode is written only when the device carries it.
 * Not supported: the AES-128 option and the hw_params wrapper.
 */
#include "fd_int.h"

#include <string.h>

#include <openssl/sha.h>

#include "util.h"

static const uint8_t magic[4] = {0x5E, 0xBA, 0x47, 0xCE};

static const fd_map nxp_map[] = { /* ascending key order */
    {F_VERIFIER, "verifier", 1, E_B64, 0}, {F_SALT, "salt", 2, E_B64, 0},
    {F_ITER, "iterations", 3, E_INT, 4}, {F_DACKEY, "dac_key", 4, E_RAW, 0},
    {F_DAC, "dac_cert", 5, E_RAW, 0}, {F_PAI, "pai_cert", 6, E_RAW, 0},
    {F_DISC, "discriminator", 7, E_INT, 4}, {F_PASSCODE, "passcode", 8, E_INT, 4},
    {F_VID, "vid", 9, E_INT, 2}, {F_PID, "pid", 10, E_INT, 2}, {F_CD, "cd", 11, E_RAW, 0},
    {F_VNAME, "vendor_name", 12, E_TEXT, 0}, {F_PNAME, "product_name", 13, E_TEXT, 0},
    {F_SN, "serial_num", 14, E_TEXT, 0}, {F_DATE, "mfg_date", 15, E_TEXT, 0},
    {F_HWVER, "hw_ver", 16, E_INT, 2}, {F_HWVERSTR, "hw_ver_str", 17, E_TEXT, 0},
    {F_RDUID, "rd_uid", 18, E_HEX, 0}, {F_PARTNO, "part_number", 19, E_TEXT, 0},
    {F_PURL, "product_url", 20, E_TEXT, 0}, {F_PLABEL, "product_label", 21, E_TEXT, 0},
    {F_FINISH, "product_finish", 22, E_INT, 1}, {F_COLOR, "primary_color", 23, E_INT, 1},
};
#define NMAP (sizeof(nxp_map) / sizeof(nxp_map[0]))

static void klv(fd_buf *b, const fd_map *m, const fd_value *v)
{
    uint8_t h[3] = {(uint8_t)m->num, 0, 0}, n[4];
    size_t len = v->kind == K_UINT ? (size_t)m->width : v->len;
    h[1] = (uint8_t)len;
    h[2] = (uint8_t)(len >> 8);
    fd_put(b, h, 3);
    if (v->kind == K_UINT) {
        for (int i = 0; i < m->width; i++) n[i] = (uint8_t)(v->u >> (8 * i));
        fd_put(b, n, len);
    } else {
        fd_put(b, v->p, v->len);
    }
}

int fd_nxp_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len)
{
    (void)o;
    uint8_t scratch[FD_SCRATCH], hdr[12], md[32];
    fd_buf b = {0};
    fd_value v, s;
    int rc = MP_OK;
    memset(hdr, 0, sizeof(hdr));
    fd_put(&b, hdr, sizeof(hdr)); /* header placeholder, filled below */
    for (size_t i = 0; i < NMAP && rc == MP_OK; i++) {
        if (fd_get(d, nxp_map[i].field, &v) &&
            (rc = fd_encode(&nxp_map[i], &v, scratch, sizeof(scratch), &s)) == MP_OK) {
            klv(&b, &nxp_map[i], &s);
        }
    }
    mp_wipe(scratch, sizeof(scratch));
    if (rc != MP_OK || b.oom) {
        fd_buf_wipe(&b);
        return rc != MP_OK ? rc : mp_err(MP_ERR_GENERAL, "out of memory");
    }
    size_t n = b.len - 12;
    SHA256(b.p + 12, n, md);
    memcpy(hdr, magic, 4);
    for (int i = 0; i < 4; i++) hdr[4 + i] = (uint8_t)(n >> (8 * i));
    memcpy(hdr + 8, md, 4);
    memcpy(b.p, hdr, 12);
    return fd_take(&b, out, len);
}

static const fd_map *by_num(int k)
{
    for (size_t i = 0; i < NMAP; i++) {
        if (nxp_map[i].num == k) return &nxp_map[i];
    }
    return NULL;
}

int fd_nxp_unpack(const uint8_t *buf, size_t len, mp_fd_device *d)
{
    uint8_t md[32];
    int last = 0, rc;
    if (len < 12 || memcmp(buf, magic, 4) != 0) return mp_err(MP_ERR_INVALID, "nxp: missing header id 5E BA 47 CE");
    size_t n = (size_t)buf[4] | (size_t)buf[5] << 8 | (size_t)buf[6] << 16 | (size_t)buf[7] << 24;
    if (n > len - 12) return mp_err(MP_ERR_INVALID, "nxp: header says %zu payload bytes; the file has %zu", n, len - 12);
    SHA256(buf + 12, n, md);
    if (memcmp(md, buf + 8, 4) != 0) return mp_err(MP_ERR_INVALID, "nxp: payload hash mismatch (image corrupted)");
    for (size_t i = 12; i < 12 + n;) {
        if (12 + n - i < 3) return mp_err(MP_ERR_INVALID, "nxp: truncated entry at offset %zu", i);
        int k = buf[i];
        size_t l = (size_t)buf[i + 1] | (size_t)buf[i + 2] << 8;
        if (l > 12 + n - i - 3) return mp_err(MP_ERR_INVALID, "nxp: key %d at offset %zu: length %zu runs past the payload", k, i, l);
        if (k <= last) return mp_err(MP_ERR_INVALID, "nxp: key %d at offset %zu: keys must be unique and ascending", k, i);
        last = k;
        const fd_map *m = by_num(k);
        const uint8_t *v = buf + i + 3;
        i += 3 + l;
        if (m == NULL) continue; /* e.g. EL2GO objects */
        uint64_t u = 0;
        if (m->enc == E_INT) {
            if (l != (size_t)m->width) return mp_err(MP_ERR_INVALID, "nxp: key %d (%s): %zu bytes; expected %d", k, fd_field_name(m->field), l, m->width);
            for (size_t j = l; j-- > 0;) u = u << 8 | v[j];
        }
        if ((rc = fd_decode_set(d, m, v, m->enc == E_INT ? 0 : l, u, "nxp")) != MP_OK) return rc;
    }
    return MP_OK;
}

int fd_nxp_detect(const uint8_t *b, size_t n)
{
    return n >= 12 && memcmp(b, magic, 4) == 0 ? 2 : 0;
}

int fd_nxp_check(const mp_fd_device *d)
{
    if (d->rd_uid_len > 16) {
        return mp_err(MP_ERR_INVALID, "format nxp: the rotating device ID unique ID is stored as at most 32 hex characters, so at most 16 bytes (is %zu)", d->rd_uid_len);
    }
    return MP_OK;
}
