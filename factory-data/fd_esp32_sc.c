/*
 * fd_esp32_sc.c - the ESP32 esp_secure_cert partition (Espressif's TLV
 * format, as esp_secure_cert_mgr reads it): UDID.esp_secure_cert.bin, the
 * DAC, the PAI and the DAC private key for esp-matter's secure-cert DAC
 * provider. The esp32 NVS image built with it omits those three.
 *
 * Each entry: a 12-byte header (magic 0xBA5EBA11, flags, 3 reserved zero
 * bytes, type, subtype, u16 length; little-endian), the data, zero padding
 * to a multiple of 16, and a u32 CRC32 (esp_crc32_le from 0xFFFFFFFF, i.e.
 * the NVS CRC) over header, data and padding. Types: 0 CA certificate (the
 * PAI), 1 device certificate (the DAC), 2 private key (SEC1 DER, 121 bytes,
 * flags 0: plain), subtype 0. The entries are followed by erased flash
 * (0xFF) to the partition's 8 KiB (Espressif's default size); the reader
 * stops at the first header without the magic, as esp_secure_cert_mgr does.
 */
#include "fd_int.h"

#include <stdlib.h>
#include <string.h>

#include "spake2p.h"
#include "util.h"

#define SC_SIZE 0x2000
#define SC_HDR 12
enum { T_CA = 0, T_DEV = 1, T_KEY = 2 };
static const uint8_t magic[4] = {0x11, 0xBA, 0x5E, 0xBA};
/* SEC1 ECPrivateKey for P-256: version 1, the scalar, the curve, the point. */
static const uint8_t sec1_head[7] = {0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20};
static const uint8_t sec1_mid[16] = {0xA0, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0xA1, 0x44, 0x03, 0x42};
#define SEC1_LEN 121

static void tlv(fd_buf *b, uint8_t type, const uint8_t *p, size_t n)
{
    static const uint8_t zero[16];
    uint8_t h[SC_HDR] = {0}, crc[4];
    size_t start = b->len;
    memcpy(h, magic, 4);
    h[8] = type;
    h[10] = (uint8_t)n;
    h[11] = (uint8_t)(n >> 8);
    fd_put(b, h, SC_HDR);
    fd_put(b, p, n);
    fd_put(b, zero, (16 - n % 16) % 16);
    if (b->oom) return;
    uint32_t c = mp_nvs_crc32(b->p + start, b->len - start);
    for (int i = 0; i < 4; i++) crc[i] = (uint8_t)(c >> (8 * i));
    fd_put(b, crc, 4);
}

int fd_esp32_sc_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len)
{
    (void)o;
    uint8_t key[SEC1_LEN], point[65];
    fd_buf b = {0};
    int rc = mp_p256_point(d->dac_key, point);
    if (rc != MP_OK) return rc;
    memcpy(key, sec1_head, 7);
    memcpy(key + 7, d->dac_key, 32);
    memcpy(key + 39, sec1_mid, 16);
    key[55] = 0x00; /* BIT STRING: no unused bits */
    memcpy(key + 56, point, 65);
    tlv(&b, T_CA, d->pai_der, d->pai_len);
    tlv(&b, T_DEV, d->dac_der, d->dac_len);
    tlv(&b, T_KEY, key, SEC1_LEN);
    mp_wipe(key, sizeof(key));
    if (b.oom || b.len > SC_SIZE) {
        fd_buf_wipe(&b);
        return b.oom ? mp_err(MP_ERR_GENERAL, "out of memory")
                     : mp_err(MP_ERR_INVALID, "esp32-secure-cert: the entries do not fit the 8 KiB partition");
    }
    size_t used = b.len;
    for (size_t i = used; i < SC_SIZE; i++) fd_put_u8(&b, 0xFF);
    return fd_take(&b, out, len);
}

static int bad(size_t off, const char *what)
{
    return mp_err(MP_ERR_INVALID, "esp32-secure-cert: entry at offset %zu: %s", off, what);
}

/* The SEC1 DER key: P-256, and its public key is the scalar's point. */
static int key_of(const uint8_t *p, size_t n, size_t off, mp_fd_device *d)
{
    uint8_t point[65];
    if (n != SEC1_LEN || memcmp(p, sec1_head, 7) != 0 || memcmp(p + 39, sec1_mid, 16) != 0 || p[55] != 0) {
        return bad(off, "the private key is not a P-256 SEC1 DER key (121 bytes)");
    }
    fd_value v = {K_BYTES, 0, p + 7, 32};
    int rc = fd_assign(d, F_DACKEY, &v, "esp32-secure-cert", "private key");
    if (rc == MP_OK && ((rc = mp_p256_point(d->dac_key, point)) != MP_OK || memcmp(point, p + 56, 65) != 0)) {
        rc = mp_err(MP_ERR_MISMATCH, "esp32-secure-cert: the private key's public key is not its scalar's point");
    }
    return rc;
}

int fd_esp32_sc_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d)
{
    (void)o;
    unsigned seen = 0;
    size_t off = 0;
    int rc = MP_OK;
    if (len != SC_SIZE) return mp_err(MP_ERR_INVALID, "esp32-secure-cert: %zu bytes; the partition is 0x%x", len, SC_SIZE);
    while (rc == MP_OK && len - off >= SC_HDR && memcmp(buf + off, magic, 4) == 0) {
        const uint8_t *h = buf + off;
        size_t n = (size_t)h[10] | (size_t)h[11] << 8, pad = (16 - n % 16) % 16, total = SC_HDR + n + pad + 4;
        if (total > len - off) return bad(off, "its length runs past the partition");
        uint32_t c = (uint32_t)h[SC_HDR + n + pad] | (uint32_t)h[SC_HDR + n + pad + 1] << 8 |
                     (uint32_t)h[SC_HDR + n + pad + 2] << 16 | (uint32_t)h[SC_HDR + n + pad + 3] << 24;
        if (mp_nvs_crc32(h, SC_HDR + n + pad) != c) return bad(off, "CRC mismatch (corrupted)");
        if (h[5] || h[6] || h[7]) return bad(off, "reserved header bytes are not zero");
        int type = h[8];
        if (type <= T_KEY && h[9] == 0) {
            if (seen & (1u << type)) return bad(off, "a second entry of the same type and subtype");
            seen |= 1u << type;
            if (h[4] != 0) return bad(off, "flags other than 0 (plain data) are not read by matter-pki");
            fd_value v = {K_BYTES, 0, h + SC_HDR, n};
            rc = type == T_KEY ? key_of(h + SC_HDR, n, off, d)
                               : fd_assign(d, type == T_CA ? F_PAI : F_DAC, &v, "esp32-secure-cert", type == T_CA ? "CA certificate" : "device certificate");
        }
        off += total;
    }
    if (rc == MP_OK && seen != 7) {
        rc = mp_err(MP_ERR_INVALID, "esp32-secure-cert: the %s entry is missing", !(seen & 1) ? "CA certificate (PAI)" : !(seen & 2) ? "device certificate (DAC)" : "private key");
    }
    return rc;
}

int fd_esp32_sc_detect(const uint8_t *b, size_t n)
{
    return n >= SC_HDR && memcmp(b, magic, 4) == 0 ? 2 : 0;
}
