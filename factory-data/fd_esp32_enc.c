/*
 * fd_esp32_enc.c - esp32-enc: the esp32 NVS image (fd_esp32.c) encrypted as
 * ESP-IDF's NVS encryption reads it and as esp-idf-nvs-partition-gen's
 * `encrypt` writes it: UDID.esp32.enc.bin, with its NVS keys partition.
 *
 * Page headers and entry-state bitmaps stay in clear. Every used 32-byte
 * entry (bitmap state not "empty", headers and data alike; the 0xFF tail of
 * a last data entry included) is XTS-AES-256 encrypted on its own, with the
 * 64-byte key (encryption key || tweak key) of the keys partition and a
 * 16-byte tweak: the entry's offset in the partition (page * 4096 + 64 +
 * 32 * entry), little-endian, zero-filled. Empty entries stay 0xFF.
 *
 * The keys partition ("nvs_keys", 4096 bytes): the 64-byte key, the CRC32
 * of those 64 bytes (NVS variant, little-endian), 0xFF to the end. It is
 * flashed to the chip's flash-encrypted keys partition; matter-pki writes a
 * generated one mode 0600 and never anywhere else.
 */
#include "fd_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "util.h"

#define PAGE 4096
#define ENTRIES 126

int fd_nvs_xts(uint8_t *img, size_t len, const uint8_t key[64], int enc)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = c != NULL && EVP_CipherInit_ex(c, EVP_aes_256_xts(), NULL, key, NULL, enc) == 1;
    for (size_t p = 0; ok && p + PAGE <= len; p += PAGE) {
        uint8_t *pg = img + p;
        if (pg[0] == 0xFF && pg[1] == 0xFF && pg[2] == 0xFF && pg[3] == 0xFF) continue; /* an unused page */
        for (int i = 0; ok && i < ENTRIES; i++) {
            if (((pg[32 + i / 4] >> (2 * (i % 4))) & 3) == 3) continue; /* empty */
            uint8_t tweak[16] = {0}, out[32];
            uint64_t at = p + 64 + 32 * (uint64_t)i;
            int l = 0;
            for (int k = 0; k < 8; k++) tweak[k] = (uint8_t)(at >> (8 * k));
            ok = EVP_CipherInit_ex(c, NULL, NULL, NULL, tweak, enc) == 1 && EVP_CipherUpdate(c, out, &l, pg + 64 + 32 * i, 32) == 1 && l == 32;
            if (ok) memcpy(pg + 64 + 32 * i, out, 32);
            mp_wipe(out, sizeof(out));
        }
    }
    EVP_CIPHER_CTX_free(c); /* cleanses the key schedule */
    return ok ? MP_OK : mp_err_ssl(MP_ERR_GENERAL, "esp32-enc: XTS-AES-256 failed (a key whose two halves are equal is refused)");
}

int fd_esp32_enc_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len)
{
    if (o == NULL || !o->has_nvs_keys) return mp_err(MP_ERR_USAGE, "format esp32-enc: the NVS keys partition is required (--esp32-nvs-keys FILE)");
    int rc = fd_esp32_pack(d, o, out, len);
    if (rc == MP_OK && (rc = fd_nvs_xts(*out, *len, o->nvs_keys, 1)) != MP_OK) {
        mp_free_secret(*out, *len);
        *out = NULL;
        *len = 0;
    }
    return rc;
}

int fd_esp32_enc_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d)
{
    if (o == NULL || !o->has_nvs_keys) {
        return mp_err(MP_ERR_INVALID, "esp32-enc: the NVS entries are not in clear: an encrypted image (give its keys partition: --esp32-nvs-keys FILE) or a corrupted one");
    }
    if (len < 0x3000 || len % PAGE != 0) return mp_err(MP_ERR_INVALID, "esp32-enc: image of %zu bytes; expected a multiple of 4096, at least 0x3000", len);
    uint8_t *plain = malloc(len);
    if (plain == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    memcpy(plain, buf, len);
    int rc = fd_nvs_xts(plain, len, o->nvs_keys, 0);
    if (rc == MP_OK && (rc = fd_esp32_unpack(plain, len, o, d)) != MP_OK) {
        mp_err_ctx(rc, "esp32-enc: decrypted with the given keys (a wrong key shows as corrupted entries)");
    }
    mp_free_secret(plain, len);
    return rc;
}

int fd_esp_entry0_plain(const uint8_t *b, size_t n)
{
    uint8_t e[28];
    if (n < 96) return 0;
    memcpy(e, b + 64, 4);
    memcpy(e + 4, b + 72, 24);
    uint32_t c = (uint32_t)b[68] | (uint32_t)b[69] << 8 | (uint32_t)b[70] << 16 | (uint32_t)b[71] << 24;
    return mp_nvs_crc32(e, sizeof(e)) == c;
}

int fd_esp32_enc_detect(const uint8_t *b, size_t n)
{
    return fd_esp32_detect(b, n) && !fd_esp_entry0_plain(b, n) ? 2 : 0;
}

int mp_fd_nvs_keys_parse(const uint8_t *buf, size_t len, const char *where, mp_fd_opts *o)
{
    if (len != MP_NVS_KEYS_SIZE) {
        return mp_err(MP_ERR_INVALID, "%s: an NVS keys partition is %d bytes (is %zu)", where, MP_NVS_KEYS_SIZE, len);
    }
    uint32_t c = (uint32_t)buf[64] | (uint32_t)buf[65] << 8 | (uint32_t)buf[66] << 16 | (uint32_t)buf[67] << 24;
    if (mp_nvs_crc32(buf, 64) != c) return mp_err(MP_ERR_INVALID, "%s: the NVS keys' CRC32 (bytes 64..67) does not match (not a keys partition, or corrupted)", where);
    if (memcmp(buf, buf + 32, 32) == 0) return mp_err(MP_ERR_INVALID, "%s: the XTS encryption and tweak keys are equal", where);
    memcpy(o->nvs_keys, buf, 64);
    o->has_nvs_keys = 1;
    return MP_OK;
}

int mp_fd_nvs_keys_load(const char *path, mp_fd_opts *o)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = mp_read_file(path, 2 * MP_NVS_KEYS_SIZE, &buf, &len);
    if (rc == MP_OK) rc = mp_fd_nvs_keys_parse(buf, len, path, o);
    if (buf) mp_free_secret(buf, len);
    return rc;
}

int mp_fd_nvs_keys_new(mp_fd_opts *o, uint8_t part[static MP_NVS_KEYS_SIZE])
{
    memset(part, 0xFF, MP_NVS_KEYS_SIZE);
    do {
        if (RAND_bytes(part, 64) != 1) return mp_err_ssl(MP_ERR_GENERAL, "NVS keys: RAND_bytes failed");
    } while (memcmp(part, part + 32, 32) == 0);
    uint32_t c = mp_nvs_crc32(part, 64);
    for (int i = 0; i < 4; i++) part[64 + i] = (uint8_t)(c >> (8 * i));
    return mp_fd_nvs_keys_parse(part, MP_NVS_KEYS_SIZE, "NVS keys", o);
}
