/*
 * fd_esp32_sc.c - the ESP32 esp_secure_cert partition (Espressif's TLV
 * format, as esp_secure_cert_mgr reads it): UDID.esp_secure_cert.bin, the
 * DAC, the PAI and the DAC private key for esp-matter's secure-cert DAC
 * provider, and with --esp32-sc-commissionable the commissionable data for
 * its secure-cert commissionable-data provider. The esp32 NVS image built
 * with it omits what moved here.
 *
 * Each entry: a 12-byte header (magic 0xBA5EBA11, flags, 3 reserved zero
 * bytes, type, subtype, u16 length; little-endian), the data, zero padding
 * to a multiple of 16, and a u32 CRC32 (esp_crc32_le from 0xFFFFFFFF, i.e.
 * the NVS CRC) over header, data and padding. Types, subtype 0 unless said:
 *   0 CA certificate (the PAI), 1 device certificate (the DAC), both DER;
 *   2 private key: SEC1 DER (121 bytes), flags 0 (plain), or flags 0x80
 *     (bits 7..6 = 0b10, "HMAC based encryption"): AES-256-GCM of that DER,
 *     then the 16-byte tag, with key = HMAC-SHA256(K, 32 x 0xFF) and
 *     IV = the first 16 bytes of HMAC-SHA256(K, 8 x u32le 0xABCDABCD), no
 *     AAD, K the 32-byte eFuse key of purpose HMAC_UP (--esp32-hmac-key);
 *     the chip derives both through its HMAC peripheral and decrypts;
 *     or, with no data, flags 0x08 (bits 5..3 = 0b001, "ECDSA peripheral"):
 *     the key is the chip's own, in an eFuse key block of purpose ECDSA_KEY
 *     (--esp32-ecdsa-efuse-key-id, for chip-held keys: ESP32-H2 and later);
 *   6 security configuration, with that key: 40 bytes, the eFuse block id
 *     (key id + 4) and 39 zero bytes;
 *   201 (ESP_SECURE_CERT_MATTER_TLV_1), as connectedhomeip's
 *     ESP32SecureCertDataProvider and esp-matter-mfg-tool's
 *     --commissionable-data-in-secure-cert: subtype 0 discriminator (u16le,
 *     exactly 2 bytes), 1 SPAKE2+ verifier (97 raw bytes), 2 salt (raw),
 *     3 iteration count (u32le, exactly 4 bytes), 4 rotating device ID
 *     unique ID (raw; written when the device has one).
 * The entries are followed by erased flash (0xFF) to the partition's 8 KiB
 * (Espressif's default size); the reader stops at the first header without
 * the magic, as esp_secure_cert_mgr does, and skips types it does not know.
 *
 * The RSA digital-signature peripheral's key block (types 3 and 4: esp_ds
 * ciphertext and context) cannot hold a Matter DAC key, which is ECDSA
 * P-256; the HMAC-encrypted form above is esp_secure_cert_mgr's protection
 * for an ECDSA key held in flash. Because its IV depends on K alone, K must
 * be the device's own eFuse key: two keys encrypted under one K leak each
 * other (the build refuses one --esp32-hmac-key for several devices).
 */
#include "fd_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "devsecret.h"
#include "spake2p.h"
#include "util.h"

#define SC_SIZE 0x2000
#define SC_HDR 12
#define GCM_TAG 16
#define FL_HMAC_MASK 0xC0
#define FL_HMAC_ENC 0x80
#define FL_HMAC_DERIVED 0x40
#define FL_KEY_MASK 0x38
#define FL_ECDSA_PERIPHERAL 0x08
#define SEC_CFG_LEN 40
enum { T_CA = 0, T_DEV = 1, T_KEY = 2, T_DS_DATA = 3, T_DS_CTX = 4, T_SEC_CFG = 6, T_MATTER = 201 };
enum { M_DISC = 0, M_VERIFIER, M_SALT, M_ITER, M_RDUID, M_COUNT };
static const uint8_t magic[4] = {0x11, 0xBA, 0x5E, 0xBA};
/* SEC1 ECPrivateKey for P-256: version 1, the scalar, the curve, the point. */
#define SEC1_LEN MP_SEC1_LEN /* devsecret.h: the SEC1 form */

static void tlv(fd_buf *b, uint8_t flags, uint8_t type, uint8_t subtype, const uint8_t *p, size_t n)
{
    static const uint8_t zero[16];
    uint8_t h[SC_HDR] = {0}, crc[4];
    size_t start = b->len;
    memcpy(h, magic, 4);
    h[4] = flags;
    h[8] = type;
    h[9] = subtype;
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

/* The AES-256-GCM key and IV the chip derives from its HMAC_UP eFuse key. */
static int hmac_derive(const uint8_t k[32], uint8_t aes[32], uint8_t iv[16])
{
    uint8_t msg_key[32], msg_iv[32], out[32];
    unsigned int l1 = 0, l2 = 0;
    memset(msg_key, 0xFF, sizeof(msg_key));
    for (int i = 0; i < 32; i += 4) { /* u32 0xABCDABCD, little-endian */
        msg_iv[i] = 0xCD;
        msg_iv[i + 1] = 0xAB;
        msg_iv[i + 2] = 0xCD;
        msg_iv[i + 3] = 0xAB;
    }
    int ok = HMAC(EVP_sha256(), k, 32, msg_key, sizeof(msg_key), aes, &l1) != NULL &&
             HMAC(EVP_sha256(), k, 32, msg_iv, sizeof(msg_iv), out, &l2) != NULL && l1 == 32 && l2 == 32;
    memcpy(iv, out, 16);
    mp_wipe(out, sizeof(out));
    return ok ? MP_OK : mp_err_ssl(MP_ERR_GENERAL, "esp32-secure-cert: HMAC-SHA256 failed");
}

/* AES-256-GCM, 16-byte IV, no AAD: n bytes in -> out, tag written (enc) or
 * checked (dec: MP_ERR_INVALID when it does not match). */
static int gcm(int enc, const uint8_t k[32], const uint8_t *in, size_t n, uint8_t *out, uint8_t tag[GCM_TAG])
{
    uint8_t aes[32], iv[16];
    int l = 0, l2 = 0, rc = hmac_derive(k, aes, iv);
    EVP_CIPHER_CTX *c = rc == MP_OK ? EVP_CIPHER_CTX_new() : NULL;
    int ok = c != NULL && n <= 4096 && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 16, NULL) == 1 &&
             EVP_CipherInit_ex(c, NULL, NULL, aes, iv, enc) == 1 && EVP_CipherUpdate(c, out, &l, in, (int)n) == 1 &&
             (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG, tag) == 1);
    int fin = ok && EVP_CipherFinal_ex(c, out + l, &l2) == 1;
    if (fin && enc) fin = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG, tag) == 1;
    EVP_CIPHER_CTX_free(c);
    mp_wipe(aes, sizeof(aes));
    mp_wipe(iv, sizeof(iv));
    if (rc != MP_OK) return rc;
    if (!ok) return mp_err_ssl(MP_ERR_GENERAL, "esp32-secure-cert: AES-256-GCM failed");
    if (!fin) {
        mp_wipe(out, n);
        return enc ? mp_err_ssl(MP_ERR_GENERAL, "esp32-secure-cert: AES-256-GCM failed")
                   : mp_err(MP_ERR_INVALID, "esp32-secure-cert: the encrypted private key does not decrypt (wrong HMAC key, or corrupted)");
    }
    return MP_OK;
}

static void le(uint8_t *p, uint32_t v, int n)
{
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Type 201: the commissionable data (and the rotating-ID unique ID). */
static int put_commissionable(fd_buf *b, const mp_fd_device *d)
{
    uint8_t disc[2], iter[4];
    fd_value v;
    if (d->salt_len == 0 || d->iterations == 0 || !fd_get(d, F_VERIFIER, &v)) {
        return mp_err(MP_ERR_INVALID, "esp32-secure-cert --esp32-sc-commissionable: the device has no SPAKE2+ salt, iterations and verifier");
    }
    le(disc, d->discriminator, 2);
    le(iter, d->iterations, 4);
    tlv(b, 0, T_MATTER, M_DISC, disc, 2);
    tlv(b, 0, T_MATTER, M_VERIFIER, d->verifier, sizeof(d->verifier));
    tlv(b, 0, T_MATTER, M_SALT, d->salt, d->salt_len);
    tlv(b, 0, T_MATTER, M_ITER, iter, 4);
    if (d->rd_uid_len) tlv(b, 0, T_MATTER, M_RDUID, d->rd_uid, d->rd_uid_len);
    return MP_OK;
}

static int put_key(fd_buf *b, const mp_fd_device *d, const mp_fd_opts *o)
{
    uint8_t key[SEC1_LEN], ct[SEC1_LEN + GCM_TAG], point[65];
    if (d->key_efuse_block) { /* the chip's own key, in eFuse: an empty key entry and the block */
        uint8_t cfg[SEC_CFG_LEN] = {d->key_efuse_block};
        if (d->has_dac_key) {
            return mp_err(MP_ERR_INVALID, "esp32-secure-cert --esp32-ecdsa-efuse-key-id: this device's DAC key is held off the chip; burning it into eFuse would need it in a file in clear (use the partition's key entry, plain or --esp32-hmac-key)");
        }
        if (d->key_efuse_block < 4 || d->key_efuse_block > 9) return mp_err(MP_ERR_INVALID, "esp32-secure-cert: eFuse key block %u; expected 4..9 (key id 0..5)", d->key_efuse_block);
        tlv(b, FL_ECDSA_PERIPHERAL, T_KEY, 0, NULL, 0);
        tlv(b, 0, T_SEC_CFG, 0, cfg, sizeof(cfg));
        return MP_OK;
    }
    int rc = mp_p256_point(d->dac_key, point);
    if (rc != MP_OK) return rc;
    mp_sec1_der(d->dac_key, point, key);
    if (o != NULL && o->has_esp_hmac_key) {
        if ((rc = gcm(1, o->esp_hmac_key, key, SEC1_LEN, ct, ct + SEC1_LEN)) == MP_OK) tlv(b, FL_HMAC_ENC, T_KEY, 0, ct, sizeof(ct));
    } else {
        tlv(b, 0, T_KEY, 0, key, SEC1_LEN);
    }
    mp_wipe(key, sizeof(key));
    mp_wipe(ct, sizeof(ct));
    return rc;
}

int fd_esp32_sc_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len)
{
    fd_buf b = {0};
    tlv(&b, 0, T_CA, 0, d->pai_der, d->pai_len);
    tlv(&b, 0, T_DEV, 0, d->dac_der, d->dac_len);
    int rc = put_key(&b, d, o);
    if (rc == MP_OK && o != NULL && o->esp_sc_cd) rc = put_commissionable(&b, d);
    if (rc == MP_OK && (b.oom || b.len > SC_SIZE)) {
        rc = b.oom ? mp_err(MP_ERR_GENERAL, "out of memory")
                   : mp_err(MP_ERR_INVALID, "esp32-secure-cert: the entries take %zu bytes; the partition holds 8 KiB (0x%x)", b.len, SC_SIZE);
    }
    if (rc != MP_OK) {
        fd_buf_wipe(&b);
        return rc;
    }
    for (size_t i = b.len; i < SC_SIZE; i++) fd_put_u8(&b, 0xFF);
    return fd_take(&b, out, len);
}

static int bad(size_t off, const char *what)
{
    return mp_err(MP_ERR_INVALID, "esp32-secure-cert: entry at offset %zu: %s", off, what);
}

/* The SEC1 DER key: P-256, and its public key is the scalar's point. */
static int key_der(const uint8_t *p, size_t n, size_t off, mp_fd_device *d)
{
    uint8_t point[65];
    const uint8_t *sc = NULL, *pt = NULL;
    if (!mp_sec1_parse(p, n, &sc, &pt)) {
        return bad(off, "the private key is not a P-256 SEC1 DER key (121 bytes)");
    }
    fd_value v = {K_BYTES, 0, sc, 32};
    int rc = fd_assign(d, F_DACKEY, &v, "esp32-secure-cert", "private key");
    if (rc == MP_OK && ((rc = mp_p256_point(d->dac_key, point)) != MP_OK || memcmp(point, pt, 65) != 0)) {
        rc = mp_err(MP_ERR_MISMATCH, "esp32-secure-cert: the private key's public key is not its scalar's point");
    }
    return rc;
}

/* The private key entry: plain, or HMAC-encrypted (decrypted with o's key). */
static int key_of(const uint8_t *h, size_t n, size_t off, const mp_fd_opts *o, mp_fd_device *d, int *peripheral)
{
    uint8_t plain[SEC1_LEN], tag[GCM_TAG];
    int flags = h[4];
    if (flags == 0) return key_der(h + SC_HDR, n, off, d);
    if ((flags & FL_HMAC_MASK) == FL_HMAC_DERIVED) return bad(off, "the private key is derived on the chip from its eFuse HMAC key (flags 0x40); matter-pki reads stored keys only");
    if (flags == FL_ECDSA_PERIPHERAL) { /* the chip's own key; the block comes with type 6 */
        *peripheral = 1;
        return n == 0 ? MP_OK : bad(off, "an ECDSA-peripheral key entry (flags 0x08) holds no data");
    }
    if ((flags & FL_KEY_MASK) != 0) return bad(off, "unknown private key flags");
    if (flags != FL_HMAC_ENC) return bad(off, "unknown private key flags");
    if (o == NULL || !o->has_esp_hmac_key) {
        return mp_err(MP_ERR_INVALID, "esp32-secure-cert: the private key is encrypted with the chip's eFuse HMAC key (give it: --esp32-hmac-key FILE)");
    }
    if (n != SEC1_LEN + GCM_TAG) return bad(off, "an encrypted P-256 key is 137 bytes (SEC1 DER and the GCM tag)");
    memcpy(tag, h + SC_HDR + SEC1_LEN, GCM_TAG);
    int rc = gcm(0, o->esp_hmac_key, h + SC_HDR, SEC1_LEN, plain, tag);
    if (rc == MP_OK) rc = key_der(plain, SEC1_LEN, off, d);
    mp_wipe(plain, sizeof(plain));
    return rc;
}

static uint32_t rd_le(const uint8_t *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int matter_of(int sub, const uint8_t *p, size_t n, size_t off, mp_fd_device *d)
{
    static const int field[M_COUNT] = {F_DISC, F_VERIFIER, F_SALT, F_ITER, F_RDUID};
    static const char *const name[M_COUNT] = {"discriminator", "SPAKE2+ verifier", "SPAKE2+ salt", "iteration count", "rotating device ID unique ID"};
    fd_value v = {K_BYTES, 0, p, n};
    if (sub == M_DISC || sub == M_ITER) {
        size_t want = sub == M_DISC ? 2 : 4;
        if (n != want) return bad(off, sub == M_DISC ? "the discriminator is not 2 bytes" : "the iteration count is not 4 bytes");
        v.kind = K_UINT;
        v.u = rd_le(p, (int)n);
    }
    return fd_assign(d, field[sub], &v, "esp32-secure-cert", name[sub]);
}

/* Type 6: the eFuse block of the chip's key (block id, 39 zero bytes). */
static int sec_cfg(const uint8_t *p, size_t n, size_t off, mp_fd_device *d)
{
    if (n != SEC_CFG_LEN || p[0] < 4 || p[0] > 9) return bad(off, "the security configuration is not 40 bytes naming eFuse block 4..9");
    for (size_t i = 1; i < n; i++) {
        if (p[i] != 0) return bad(off, "the security configuration's reserved bytes are not zero");
    }
    d->key_efuse_block = p[0];
    return MP_OK;
}

int fd_esp32_sc_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d)
{
    unsigned seen = 0, mseen = 0;
    size_t off = 0;
    int rc = MP_OK, peripheral = 0, cfg = 0, ds = 0;
    if (len != SC_SIZE) return mp_err(MP_ERR_INVALID, "esp32-secure-cert: %zu bytes; the partition is 0x%x", len, SC_SIZE);
    while (rc == MP_OK && len - off >= SC_HDR && memcmp(buf + off, magic, 4) == 0) {
        const uint8_t *h = buf + off;
        size_t n = (size_t)h[10] | (size_t)h[11] << 8, pad = (16 - n % 16) % 16, total = SC_HDR + n + pad + 4;
        if (total > len - off) return bad(off, "its length runs past the partition");
        if (mp_nvs_crc32(h, SC_HDR + n + pad) != rd_le(h + SC_HDR + n + pad, 4)) return bad(off, "CRC mismatch (corrupted)");
        if (h[5] || h[6] || h[7]) return bad(off, "reserved header bytes are not zero");
        int type = h[8], sub = h[9];
        if (type <= T_KEY && sub == 0) {
            if (seen & (1u << type)) return bad(off, "a second entry of the same type and subtype");
            seen |= 1u << type;
            fd_value v = {K_BYTES, 0, h + SC_HDR, n};
            if (type != T_KEY && h[4] != 0) return bad(off, "flags other than 0 (plain data) on a certificate are not read by matter-pki");
            rc = type == T_KEY ? key_of(h, n, off, o, d, &peripheral)
                               : fd_assign(d, type == T_CA ? F_PAI : F_DAC, &v, "esp32-secure-cert", type == T_CA ? "CA certificate" : "device certificate");
        } else if (type == T_DS_DATA || type == T_DS_CTX) {
            ds = 1; /* the RSA DS peripheral's key block: said below if there is no key */
        } else if (type == T_SEC_CFG && sub == 0) {
            if (cfg++) return bad(off, "a second entry of the same type and subtype");
            rc = sec_cfg(h + SC_HDR, n, off, d);
        } else if (type == T_MATTER && sub < M_COUNT) {
            if (mseen & (1u << sub)) return bad(off, "a second entry of the same type and subtype");
            if (h[4] != 0) return bad(off, "flags other than 0 on Matter data are not read by matter-pki");
            mseen |= 1u << sub;
            rc = matter_of(sub, h + SC_HDR, n, off, d);
        }
        off += total;
    }
    if (rc == MP_OK && (seen & 3) == 3 && !(seen & 4) && ds) {
        rc = mp_err(MP_ERR_INVALID, "esp32-secure-cert: the key is the digital-signature peripheral's encrypted key block (types 3, 4), "
                                    "which holds an RSA key; a Matter DAC key is ECDSA P-256 (not a Matter device's partition)");
    }
    if (rc == MP_OK && seen != 7) {
        rc = mp_err(MP_ERR_INVALID, "esp32-secure-cert: the %s entry is missing", !(seen & 1) ? "CA certificate (PAI)" : !(seen & 2) ? "device certificate (DAC)" : "private key");
    }
    if (rc == MP_OK && peripheral != (d->key_efuse_block != 0)) {
        rc = mp_err(MP_ERR_INVALID, "esp32-secure-cert: %s", peripheral ? "an ECDSA-peripheral key entry without the security configuration (type 6) naming its eFuse block"
                                                                        : "a security configuration (type 6) naming an eFuse key block, but the key entry is not the ECDSA peripheral's");
    }
    if (rc == MP_OK && mseen != 0 && (mseen & 0xF) != 0xF) {
        rc = mp_err(MP_ERR_INVALID, "esp32-secure-cert: incomplete commissionable data (type 201): discriminator, verifier, salt and iteration count go together");
    }
    return rc;
}

int fd_esp32_sc_detect(const uint8_t *b, size_t n)
{
    return n >= SC_HDR && memcmp(b, magic, 4) == 0 ? 2 : 0;
}

int mp_fd_esp_ds_refuse(const char *cmd)
{
    return mp_err(MP_ERR_USAGE,
                  "%s --esp-ds: not applicable to a Matter DAC: the ESP32 digital-signature (DS) peripheral signs with RSA keys only "
                  "(its encrypted key block, esp_secure_cert types 3 and 4, holds RSA parameters), and a DAC key is ECDSA P-256. "
                  "For a key made in the chip and kept in an eFuse key block (ECDSA peripheral, ESP32-H2 and later; "
                  "esp-matter-mfg-tool's --ds-peripheral --efuse-key-id) use --esp32-ecdsa-efuse-key-id N; "
                  "for the DAC key in the partition encrypted under the chip's eFuse HMAC key use --esp32-hmac-key FILE",
                  cmd);
}

int mp_fd_esp_hmac_load(const char *path, mp_fd_opts *o)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char hex[65];
    int rc = mp_read_file(path, 4096, &buf, &len);
    if (rc != MP_OK) return rc;
    size_t t = len;
    while (t > 0 && (buf[t - 1] == '\n' || buf[t - 1] == '\r')) t--;
    if (len == 32) {
        memcpy(o->esp_hmac_key, buf, 32);
    } else if (t == 64) {
        memcpy(hex, buf, 64);
        hex[64] = 0;
        if (mp_unhex(hex, o->esp_hmac_key, 32) != 32) rc = mp_err(MP_ERR_INVALID, "%s: not 64 hex digits", path);
    } else {
        rc = mp_err(MP_ERR_INVALID, "%s: an eFuse HMAC key is 32 bytes, or 64 hex digits (is %zu bytes)", path, len);
    }
    mp_wipe(hex, sizeof(hex));
    mp_free_secret(buf, len);
    o->has_esp_hmac_key = rc == MP_OK;
    if (rc != MP_OK) mp_wipe(o->esp_hmac_key, sizeof(o->esp_hmac_key));
    return rc;
}
