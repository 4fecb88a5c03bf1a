/*
 * fd_nxp.c - NXP factory data: a 12-byte header (hash id 0xCE47BA5E stored
 * byte-reversed, u32 payload size, first 4 bytes of SHA-256(payload)) and
 * KLV entries sorted by key (u8 key, u16 length, value), little-endian.
 * Salt and verifier are base64 text, the rd_uid hex text (factory-data.md
 * section 6). The passcode is written only when the device carries it.
 *
 * nxp-aes128 (--nxp-aes128-key, as NXP's generator's --aes128_key): the KLV
 * payload zero-padded by 16 - (size % 16) bytes (1..16, always some),
 * encrypted with AES-128-ECB; the header's size is the padded size and its
 * hash the first 4 bytes of SHA-256 of the padded plaintext. The plaintext
 * exists only in memory, wiped after use. Not supported: the hw_params
 * wrapper.
 */
#include "fd_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
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

/* The header and KLV entries in b; pad > 0: the payload zero-padded to the
 * next multiple of 16 (at least one byte), the hash over the padded bytes. */
static int build(const mp_fd_device *d, int pad, fd_buf *out)
{
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
    if (pad) {
        static const uint8_t zero[16];
        fd_put(&b, zero, 16 - (b.len - 12) % 16);
    }
    if (b.oom) {
        fd_buf_wipe(&b);
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    size_t n = b.len - 12;
    SHA256(b.p + 12, n, md);
    memcpy(hdr, magic, 4);
    for (int i = 0; i < 4; i++) hdr[4 + i] = (uint8_t)(n >> (8 * i));
    memcpy(hdr + 8, md, 4);
    memcpy(b.p, hdr, 12);
    mp_wipe(md, sizeof(md));
    *out = b;
    return MP_OK;
}

int fd_nxp_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len)
{
    (void)o;
    fd_buf b = {0};
    int rc = build(d, 0, &b);
    return rc != MP_OK ? rc : fd_take(&b, out, len);
}

/* AES-128-ECB over n bytes (a multiple of 16) in place; enc 1 encrypt, 0 decrypt. */
static int ecb(const uint8_t key[16], uint8_t *p, size_t n, int enc)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l1 = 0, l2 = 0;
    int ok = c != NULL && EVP_CipherInit_ex(c, EVP_aes_128_ecb(), NULL, key, NULL, enc) == 1 &&
             EVP_CIPHER_CTX_set_padding(c, 0) == 1 && n <= (size_t)INT32_MAX &&
             EVP_CipherUpdate(c, p, &l1, p, (int)n) == 1 && EVP_CipherFinal_ex(c, p + l1, &l2) == 1 &&
             (size_t)(l1 + l2) == n;
    EVP_CIPHER_CTX_free(c); /* frees the expanded key cleansed */
    return ok ? MP_OK : mp_err_ssl(MP_ERR_GENERAL, "nxp-aes128: AES-128-ECB failed");
}

int fd_nxp_aes_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len)
{
    if (o == NULL || !o->has_aes128) return mp_err(MP_ERR_USAGE, "format nxp-aes128: the AES-128 key is required (--nxp-aes128-key FILE)");
    fd_buf b = {0};
    int rc = build(d, 1, &b);
    if (rc == MP_OK && (rc = ecb(o->aes128, b.p + 12, b.len - 12, 1)) != MP_OK) fd_buf_wipe(&b);
    return rc != MP_OK ? rc : fd_take(&b, out, len);
}

static const fd_map *by_num(int k)
{
    for (size_t i = 0; i < NMAP; i++) {
        if (nxp_map[i].num == k) return &nxp_map[i];
    }
    return NULL;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0) return 0;
    }
    return 1;
}

/* The KLV entries of buf[12 .. 12+n); padded: the zero padding (1..16
 * bytes) of the encrypted form ends them. */
static int entries(const uint8_t *buf, size_t n, int padded, mp_fd_device *d)
{
    int last = 0, rc;
    if (padded && (n == 0 || n % 16 != 0)) return mp_err(MP_ERR_INVALID, "nxp-aes128: payload of %zu bytes; expected a multiple of 16", n);
    for (size_t i = 12; i < 12 + n;) {
        if (padded && 12 + n - i <= 16 && all_zero(buf + i, 12 + n - i)) return MP_OK;
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
    return padded ? mp_err(MP_ERR_INVALID, "nxp-aes128: no zero padding after the entries (wrong key, or not the encrypted form)") : MP_OK;
}

static size_t payload_size(const uint8_t *buf) { return (size_t)buf[4] | (size_t)buf[5] << 8 | (size_t)buf[6] << 16 | (size_t)buf[7] << 24; }

static int header(const char *fmt, const uint8_t *buf, size_t len, size_t *n)
{
    if (len < 12 || memcmp(buf, magic, 4) != 0) return mp_err(MP_ERR_INVALID, "%s: missing header id 5E BA 47 CE", fmt);
    *n = payload_size(buf);
    if (*n > len - 12) return mp_err(MP_ERR_INVALID, "%s: header says %zu payload bytes; the file has %zu", fmt, *n, len - 12);
    return MP_OK;
}

static int hash_ok(const uint8_t *buf, size_t n)
{
    uint8_t md[32];
    SHA256(buf + 12, n, md);
    int ok = memcmp(md, buf + 8, 4) == 0;
    mp_wipe(md, sizeof(md));
    return ok;
}

int fd_nxp_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d)
{
    (void)o;
    size_t n;
    int rc = header("nxp", buf, len, &n);
    if (rc != MP_OK) return rc;
    if (!hash_ok(buf, n)) return mp_err(MP_ERR_INVALID, "nxp: payload hash mismatch (image corrupted)");
    return entries(buf, n, 0, d);
}

int fd_nxp_aes_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d)
{
    size_t n;
    int rc = header("nxp-aes128", buf, len, &n);
    if (rc != MP_OK) return rc;
    if (o == NULL || !o->has_aes128) {
        return mp_err(MP_ERR_INVALID, "nxp-aes128: the payload's hash does not match it in clear: an encrypted image (give its AES-128 key: --nxp-aes128-key FILE) or a corrupted one");
    }
    if (n == 0 || n % 16 != 0) return mp_err(MP_ERR_INVALID, "nxp-aes128: payload of %zu bytes; expected a multiple of 16", n);
    uint8_t *p = malloc(12 + n);
    if (p == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    memcpy(p, buf, 12 + n);
    rc = ecb(o->aes128, p + 12, n, 0);
    if (rc == MP_OK && !hash_ok(p, n)) rc = mp_err(MP_ERR_INVALID, "nxp-aes128: the decrypted payload's hash does not match (wrong key, or image corrupted)");
    if (rc == MP_OK) rc = entries(p, n, 1, d);
    mp_free_secret(p, 12 + n);
    return rc;
}

/* Sure when the hash matches; a payload of whole AES blocks whose hash does
 * not is left to nxp-aes128 (its suffix or --format decide). */
int fd_nxp_detect(const uint8_t *b, size_t n)
{
    if (n < 12 || memcmp(b, magic, 4) != 0) return 0;
    size_t p = payload_size(b);
    if (p <= n - 12 && hash_ok(b, p)) return 2;
    return p > 0 && p % 16 == 0 ? 0 : 1;
}

int fd_nxp_aes_detect(const uint8_t *b, size_t n)
{
    if (n < 12 || memcmp(b, magic, 4) != 0) return 0;
    size_t p = payload_size(b);
    return p > 0 && p % 16 == 0 && !(p <= n - 12 && hash_ok(b, p)) ? 1 : 0;
}

int fd_nxp_check(const mp_fd_device *d)
{
    if (d->rd_uid_len > 16) {
        return mp_err(MP_ERR_INVALID, "format nxp: the rotating device ID unique ID is stored as at most 32 hex characters, so at most 16 bytes (is %zu)", d->rd_uid_len);
    }
    return MP_OK;
}

int mp_fd_aes128_load(const char *path, mp_fd_opts *o)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char hex[33];
    int rc = mp_read_file(path, 4096, &buf, &len);
    if (rc != MP_OK) return rc;
    size_t t = len;
    while (t > 0 && (buf[t - 1] == '\n' || buf[t - 1] == '\r')) t--;
    if (len == 16) {
        memcpy(o->aes128, buf, 16);
    } else if (t == 32) {
        memcpy(hex, buf, 32);
        hex[32] = 0;
        if (mp_unhex(hex, o->aes128, 16) != 16) rc = mp_err(MP_ERR_INVALID, "%s: not 32 hex digits", path);
    } else {
        rc = mp_err(MP_ERR_INVALID, "%s: an AES-128 key is 16 bytes, or 32 hex digits (is %zu bytes)", path, len);
    }
    mp_wipe(hex, sizeof(hex));
    mp_free_secret(buf, len);
    o->has_aes128 = rc == MP_OK;
    if (rc != MP_OK) mp_wipe(o->aes128, sizeof(o->aes128));
    return rc;
}
