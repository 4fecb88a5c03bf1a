/* test_fd_formats.c - the factory-data format table (fd_formats.c): every
 * row is complete and consistent, and every format packs, is detected by
 * its content and reads back to the same device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "testutil.h"
#include "fdtest.h"
#include "factory-data/fd.h"
#include "factory-data/fd_int.h"
#include "util.h"

static void test_table_consistent(void)
{
    int n = 0;
    for (const mp_fd_format_desc *f = mp_fd_formats; f->id != 0; f++, n++) {
        CU_ASSERT(f->name != NULL && f->ext != NULL && f->pack != NULL && f->unpack != NULL && f->detect != NULL);
        CU_ASSERT_PTR_EQUAL(mp_fd_format(f->id), f);
        CU_ASSERT_EQUAL(mp_fd_format_parse(f->name), f->id);
        CU_ASSERT_STRING_EQUAL(mp_fd_format_ext(f->id), f->ext);
        CU_ASSERT_EQUAL(mp_fd_needs_dac_key(f->id), (f->flags & MP_FDF_KEY) != 0);
        for (const mp_fd_format_desc *g = mp_fd_formats; g != f; g++) {
            CU_ASSERT(strcmp(f->name, g->name) != 0 && strcmp(f->ext, g->ext) != 0 && f->id != g->id);
        }
        if (f->side != 0) { /* a side output is a format of its own, never a --format of build */
            CU_ASSERT(mp_fd_format(f->side) != NULL && !(mp_fd_format(f->side)->flags & MP_FDF_BUILD));
            CU_ASSERT(f->flags & MP_FDF_BUILD);
        }
        char want[80];
        snprintf(want, sizeof(want), "|%s|", f->name);
        char all[300];
        snprintf(all, sizeof(all), "|%s|", mp_fd_format_choices(0));
        CU_ASSERT_PTR_NOT_NULL(strstr(all, want));
        snprintf(all, sizeof(all), "|%s|", mp_fd_format_choices(1));
        CU_ASSERT_EQUAL(strstr(all, want) != NULL, (f->flags & MP_FDF_BUILD) != 0);
    }
    CU_ASSERT(n >= 6);
    CU_ASSERT_PTR_NULL(mp_fd_format(0));
    CU_ASSERT_STRING_EQUAL(mp_fd_format_name(999), "?");
}

/* Every row: pack, detect by content, unpack, same fields, same bytes again. */
static void test_every_format_round_trips(void)
{
    mp_fd_device d, back;
    /* hex forms: an address whose image crosses a 64 KiB boundary (two ELA records) */
    mp_fd_opts o = {.partition_size = 0x6000, .offset = 0x000FFF80, .has_offset = 1, .has_aes128 = 1, .has_nvs_keys = 1};
    memcpy(o.aes128, "0123456789abcdef", 16);
    for (int i = 0; i < 64; i++) o.nvs_keys[i] = (uint8_t)(i * 7 + 1);
    fdt_make_device(&d);
    for (const mp_fd_format_desc *f = mp_fd_formats; f->id != 0; f++) {
        uint8_t *img = NULL, *img2 = NULL;
        size_t n = 0, n2 = 0;
        d.passcode = f->id == MP_FD_SILABS ? 20202021 : 0; /* Silicon Labs' tool computes the setup payload */
        int rc = mp_fd_pack(f->id, &d, &o, &img, &n);
        if (rc != MP_OK) printf("\n  %s: %s\n", f->name, mp_err_msg());
        CU_ASSERT_EQUAL_FATAL(rc, MP_OK);
        CU_ASSERT_EQUAL(mp_fd_detect(img, n), f->id);
        char name[64];
        snprintf(name, sizeof(name), "x.%s", f->ext);
        CU_ASSERT_EQUAL(mp_fd_detect_file(name, img, n), f->id);
        rc = mp_fd_unpack_with(f->id, img, n, &o, &back);
        if (rc != MP_OK) printf("\n  %s: %s\n", f->name, mp_err_msg());
        CU_ASSERT_EQUAL_FATAL(rc, MP_OK);
        mp_fd_device want = d;
        if (f->flags & MP_FDF_ATTEST) { /* only the attestation material */
            mp_fd_device_init(&want);
            memcpy(want.dac_der, d.dac_der, d.dac_len);
            want.dac_len = d.dac_len;
            memcpy(want.pai_der, d.pai_der, d.pai_len);
            want.pai_len = d.pai_len;
            memcpy(want.dac_key, d.dac_key, 32);
            want.has_dac_key = 1;
        }
        if (back.product_finish < 0 && want.product_finish >= 0) { /* formats without finish and colour (silabs) */
            CU_ASSERT(f->id == MP_FD_SILABS);
            want.product_finish = want.product_color = -1;
        }
        if (back.cd_len == 0 && want.cd_len != 0) { /* formats that leave the CD to the firmware */
            CU_ASSERT(!(f->flags & MP_FDF_CD));
            want.cd_len = 0;
            memset(want.cd_der, 0, sizeof(want.cd_der));
        }
        fdt_same_fields(f->name, &want, &back);
        CU_ASSERT_EQUAL(mp_fd_pack(f->id, &back, &o, &img2, &n2), MP_OK);
        CU_ASSERT(n2 == n && memcmp(img, img2, n) == 0);
        mp_free_secret(img, n);
        mp_free_secret(img2, n2);
    }
    mp_fd_device_wipe(&d);
    mp_fd_device_wipe(&back);
}

/* nxp-aes128 as NXP's generator makes it: zero padding 1..16 bytes,
 * AES-128-ECB, hash over the padded plaintext; the key is checked. */
static void test_nxp_aes128(void)
{
    mp_fd_device d, back;
    mp_fd_opts o = {.has_aes128 = 1}, wrong = {.has_aes128 = 1};
    uint8_t *plain = NULL, *enc = NULL;
    size_t pn = 0, en = 0;
    memcpy(o.aes128, "\x2b\x7e\x15\x16\x28\xae\xd2\xa6\xab\xf7\x15\x88\x09\xcf\x4f\x3c", 16);
    memcpy(wrong.aes128, o.aes128, 16);
    wrong.aes128[0] ^= 1;
    fdt_make_device(&d);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_NXP, &d, NULL, &plain, &pn), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_NXP_AES128, &d, &o, &enc, &en), MP_OK);
    size_t klv = pn - 12, padded = klv + 16 - klv % 16;
    CU_ASSERT_EQUAL(en, 12 + padded);
    CU_ASSERT(memcmp(enc, plain, 4) == 0);                       /* same hash id */
    CU_ASSERT(enc[4] == (uint8_t)padded && enc[5] == (uint8_t)(padded >> 8)); /* padded size */
    /* decrypt independently: the plaintext is the KLV then zeros, and the hash is over both */
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t *p = malloc(padded);
    int l1 = 0, l2 = 0;
    CU_ASSERT(EVP_DecryptInit_ex(c, EVP_aes_128_ecb(), NULL, o.aes128, NULL) == 1 && EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
              EVP_DecryptUpdate(c, p, &l1, enc + 12, (int)padded) == 1 && EVP_DecryptFinal_ex(c, p + l1, &l2) == 1);
    EVP_CIPHER_CTX_free(c);
    CU_ASSERT(memcmp(p, plain + 12, klv) == 0);
    int zeros = 1;
    for (size_t i = klv; i < padded; i++) zeros &= p[i] == 0;
    CU_ASSERT(zeros);
    uint8_t md[32];
    SHA256(p, padded, md);
    CU_ASSERT(memcmp(md, enc + 8, 4) == 0);
    /* the DAC key is not in the encrypted image in clear */
    CU_ASSERT(memmem(enc, en, d.dac_key, 32) == NULL);
    CU_ASSERT_EQUAL(mp_fd_detect(enc, en), MP_FD_NXP_AES128);
    CU_ASSERT_EQUAL(mp_fd_unpack_with(MP_FD_NXP_AES128, enc, en, &o, &back), MP_OK);
    CU_ASSERT(back.has_dac_key && memcmp(back.dac_key, d.dac_key, 32) == 0);
    CU_ASSERT_EQUAL(mp_fd_unpack_with(MP_FD_NXP_AES128, enc, en, &wrong, &back), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "wrong key"));
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_NXP_AES128, enc, en, &back), MP_ERR_INVALID); /* no key */
    mp_free_secret(plain, pn);
    plain = NULL;
    pn = 0;
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_NXP_AES128, &d, NULL, &plain, &pn), MP_ERR_USAGE);
    free(plain); /* NULL unless the refused call returned an image */
    mp_free_secret(p, padded);
    mp_free_secret(enc, en);
    mp_fd_device_wipe(&d);
    mp_fd_device_wipe(&back);
}

/* esp32-secure-cert + an NVS without DAC, PAI and key: together one device;
 * the NVS alone is incomplete; a corrupted TLV is caught. */
static void test_esp32_secure_cert(void)
{
    mp_fd_device d, sc, back;
    uint8_t *img = NULL, *nvs = NULL, *csv = NULL;
    size_t n = 0, nn = 0, cn = 0;
    mp_fd_opts o = {.esp_secure_cert = 1};
    fdt_make_device(&d);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32_SC, &d, NULL, &img, &n), MP_OK);
    CU_ASSERT_EQUAL(n, 0x2000);
    CU_ASSERT(img[0] == 0x11 && img[1] == 0xBA && img[2] == 0x5E && img[3] == 0xBA && img[8] == 0 && img[9] == 0);
    CU_ASSERT_EQUAL(img[10] | img[11] << 8, (int)d.pai_len); /* type 0: the PAI first */
    size_t first = 12 + d.pai_len + (16 - d.pai_len % 16) % 16;
    uint32_t crc = (uint32_t)img[first] | (uint32_t)img[first + 1] << 8 | (uint32_t)img[first + 2] << 16 | (uint32_t)img[first + 3] << 24;
    CU_ASSERT_EQUAL(crc, mp_nvs_crc32(img, first));
    CU_ASSERT_EQUAL((first + 4) % 16, 0);
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_ESP32_SC, img, n, &sc), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32, &d, &o, &nvs, &nn), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32_CSV, &d, &o, &csv, &cn), MP_OK);
    CU_ASSERT(memmem(nvs, nn, d.dac_der, d.dac_len) == NULL && memmem(nvs, nn, d.dac_key, 32) == NULL && memmem(nvs, nn, "dac-cert", 8) == NULL);
    CU_ASSERT(memmem(csv, cn, "dac-key", 7) == NULL && memmem(csv, cn, "pai-cert", 8) == NULL);
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_ESP32, nvs, nn, &back), MP_ERR_INVALID); /* incomplete alone */
    mp_fd_opts r = {.esp_sc_dev = &sc};
    CU_ASSERT_EQUAL(mp_fd_unpack_with(MP_FD_ESP32, nvs, nn, &r, &back), MP_OK);
    fdt_same_fields("esp32 + esp_secure_cert", &d, &back);
    CU_ASSERT_EQUAL(mp_fd_unpack_with(MP_FD_ESP32_CSV, csv, cn, &r, &back), MP_OK);
    fdt_same_fields("esp32-csv + esp_secure_cert", &d, &back);
    mp_free_secret(nvs, nn);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32, &d, NULL, &nvs, &nn), MP_OK);
    CU_ASSERT_EQUAL(mp_fd_unpack_with(MP_FD_ESP32, nvs, nn, &r, &back), MP_ERR_INVALID); /* both hold the DAC */
    img[40] ^= 1;
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_ESP32_SC, img, n, &back), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "CRC mismatch"));
    mp_free_secret(img, n);
    mp_free_secret(nvs, nn);
    mp_free_secret(csv, cn);
    mp_fd_device_wipe(&d);
    mp_fd_device_wipe(&sc);
    mp_fd_device_wipe(&back);
}

/* The test's own esp_secure_cert reader: the entry of type/subtype (data,
 * length, flags), checking every CRC on the way; NULL when absent. */
static const uint8_t *sc_find(const uint8_t *img, size_t n, int type, int sub, size_t *len, int *flags)
{
    size_t off = 0;
    while (off + 12 <= n && img[off] == 0x11 && img[off + 1] == 0xBA && img[off + 2] == 0x5E && img[off + 3] == 0xBA) {
        size_t l = (size_t)img[off + 10] | (size_t)img[off + 11] << 8, pad = (16 - l % 16) % 16;
        const uint8_t *c = img + off + 12 + l + pad;
        uint32_t crc = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
        CU_ASSERT_EQUAL(crc, mp_nvs_crc32(img + off, 12 + l + pad));
        if (img[off + 8] == type && img[off + 9] == sub) {
            *len = l;
            *flags = img[off + 4];
            return img + off + 12;
        }
        off += 12 + l + pad + 4;
    }
    return NULL;
}

/* esp_secure_cert_mgr's HMAC-based decryption, written again from its
 * description: key = HMAC(K, 32 x FF), IV = HMAC(K, 8 x le32 ABCDABCD)[0..16). */
static int sc_decrypt(const uint8_t k[32], const uint8_t *ct, size_t n, uint8_t *out)
{
    uint8_t mk[32], mi[32], key[32], iv[32];
    unsigned l;
    int ol = 0, ok;
    memset(mk, 0xFF, 32);
    for (int i = 0; i < 32; i++) mi[i] = (uint8_t)((i % 2) ? 0xAB : 0xCD);
    HMAC(EVP_sha256(), k, 32, mk, 32, key, &l);
    HMAC(EVP_sha256(), k, 32, mi, 32, iv, &l);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 16, NULL) == 1 &&
         EVP_DecryptInit_ex(c, NULL, NULL, key, iv) == 1 && EVP_DecryptUpdate(c, out, &ol, ct, (int)(n - 16)) == 1 &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(ct + n - 16)) == 1 && EVP_DecryptFinal_ex(c, out + ol, &ol) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok;
}

/* --esp32-sc-commissionable and --esp32-hmac-key: type 201 entries as the
 * SDK's provider reads them, the key only encrypted, the NVS without the
 * moved fields, and the two read back together. */
static void test_esp32_sc_commissionable_hmac(void)
{
    mp_fd_device d, sc, back;
    uint8_t *img = NULL, *nvs = NULL, plain[121];
    size_t n = 0, nn = 0, l = 0;
    int flags = -1;
    mp_fd_opts o = {.esp_sc_cd = 1, .has_esp_hmac_key = 1}, nv = {.esp_secure_cert = 1, .esp_sc_cd = 1};
    for (int i = 0; i < 32; i++) o.esp_hmac_key[i] = (uint8_t)(0xA0 + i);
    fdt_make_device(&d);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32_SC, &d, &o, &img, &n), MP_OK);
    const uint8_t *p = sc_find(img, n, 201, 0, &l, &flags);
    CU_ASSERT(p != NULL && l == 2 && flags == 0 && p[0] == (d.discriminator & 0xFF) && p[1] == d.discriminator >> 8);
    p = sc_find(img, n, 201, 1, &l, &flags);
    CU_ASSERT(p != NULL && l == 97 && memcmp(p, d.verifier, 97) == 0);
    p = sc_find(img, n, 201, 2, &l, &flags);
    CU_ASSERT(p != NULL && l == d.salt_len && memcmp(p, d.salt, l) == 0);
    p = sc_find(img, n, 201, 3, &l, &flags);
    CU_ASSERT(p != NULL && l == 4 && (p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24) == d.iterations);
    p = sc_find(img, n, 201, 4, &l, &flags);
    CU_ASSERT(p != NULL && l == d.rd_uid_len && memcmp(p, d.rd_uid, l) == 0);
    p = sc_find(img, n, 2, 0, &l, &flags);
    CU_ASSERT_FATAL(p != NULL && l == 137 && flags == 0x80);
    CU_ASSERT(sc_decrypt(o.esp_hmac_key, p, l, plain) && memcmp(plain + 7, d.dac_key, 32) == 0);
    CU_ASSERT(memmem(img, n, d.dac_key, 32) == NULL); /* never in clear */
    CU_ASSERT_EQUAL(mp_fd_unpack_with(MP_FD_ESP32_SC, img, n, &o, &sc), MP_OK);
    CU_ASSERT(sc.has_dac_key && memcmp(sc.dac_key, d.dac_key, 32) == 0 && sc.iterations == d.iterations && sc.discriminator == d.discriminator);
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_ESP32_SC, img, n, &back), MP_ERR_INVALID); /* no HMAC key */
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "--esp32-hmac-key"));
    mp_fd_opts wrong = o;
    wrong.esp_hmac_key[0] ^= 1;
    CU_ASSERT_EQUAL(mp_fd_unpack_with(MP_FD_ESP32_SC, img, n, &wrong, &back), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "wrong HMAC key"));
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32, &d, &nv, &nvs, &nn), MP_OK);
    CU_ASSERT(memmem(nvs, nn, "verifier", 8) == NULL && memmem(nvs, nn, "iteration-count", 15) == NULL && memmem(nvs, nn, "rd-id-uid", 9) == NULL &&
              memmem(nvs, nn, "discriminator", 13) == NULL && memmem(nvs, nn, "cert-dclrn", 10) != NULL);
    mp_fd_opts r = {.esp_sc_dev = &sc};
    CU_ASSERT_EQUAL(mp_fd_unpack_with(MP_FD_ESP32, nvs, nn, &r, &back), MP_OK);
    fdt_same_fields("esp32 + esp_secure_cert with commissionable data", &d, &back);
    mp_free_secret(nvs, nn);
    nv.esp_sc_cd = 0; /* an NVS that still holds them: both would say */
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32, &d, &nv, &nvs, &nn), MP_OK);
    CU_ASSERT_EQUAL(mp_fd_unpack_with(MP_FD_ESP32, nvs, nn, &r, &back), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "commissionable data too"));
    /* an incomplete type-201 set is refused: drop the iteration count */
    p = sc_find(img, n, 201, 3, &l, &flags);
    img[p - img - 12 + 9] = 9; /* subtype 9: unknown, skipped; CRC fixed below */
    size_t at = (size_t)(p - img) - 12, crc_at = at + 12 + 16;
    uint32_t c = mp_nvs_crc32(img + at, 28);
    for (int i = 0; i < 4; i++) img[crc_at + i] = (uint8_t)(c >> (8 * i));
    CU_ASSERT_EQUAL(mp_fd_unpack_with(MP_FD_ESP32_SC, img, n, &o, &back), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "incomplete commissionable data"));
    mp_free_secret(img, n);
    mp_free_secret(nvs, nn);
    mp_fd_device_wipe(&d);
    mp_fd_device_wipe(&sc);
    mp_fd_device_wipe(&back);
}

/* --esp32-ecdsa-efuse-key-id: a chip-held key (no dac_key) in eFuse: the
 * key entry empty with flags 0x08, type 6 naming the block; the NVS beside
 * it without DAC, PAI and key; read back together; an off-chip key and an
 * NVS without the partition refused. */
static void test_esp32_sc_ecdsa_efuse(void)
{
    mp_fd_device d, sc, back;
    uint8_t *img = NULL, *nvs = NULL;
    size_t n = 0, nn = 0, l = 0;
    int flags = -1;
    mp_fd_opts o = {.has_esp_ecdsa = 1, .esp_ecdsa_key_id = 2, .esp_secure_cert = 1};
    fdt_make_device(&d);
    CU_ASSERT_EQUAL(mp_fd_needs_dac_key_with(MP_FD_ESP32_SC, &o), 0);
    CU_ASSERT_EQUAL(mp_fd_needs_dac_key_with(MP_FD_NRF, &o), 1);
    d.key_efuse_block = 6;
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_ESP32_SC, &d, &o, &img, &n), MP_ERR_INVALID); /* off-chip key */
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "in a file in clear"));
    d.has_dac_key = 0;
    memset(d.dac_key, 0, 32);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32_SC, &d, &o, &img, &n), MP_OK);
    const uint8_t *p = sc_find(img, n, 2, 0, &l, &flags);
    CU_ASSERT(p != NULL && l == 0 && flags == 0x08);
    p = sc_find(img, n, 6, 0, &l, &flags);
    CU_ASSERT(p != NULL && l == 40 && p[0] == 6 && p[1] == 0 && p[39] == 0);
    CU_ASSERT_EQUAL_FATAL(mp_fd_unpack(MP_FD_ESP32_SC, img, n, &sc), MP_OK);
    CU_ASSERT(!sc.has_dac_key && sc.key_efuse_block == 6);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32, &d, &o, &nvs, &nn), MP_OK);
    CU_ASSERT(memmem(nvs, nn, "dac-key", 7) == NULL && memmem(nvs, nn, "dac-cert", 8) == NULL);
    mp_fd_opts r = {.esp_sc_dev = &sc};
    CU_ASSERT_EQUAL(mp_fd_unpack_with(MP_FD_ESP32, nvs, nn, &r, &back), MP_OK);
    fdt_same_fields("esp32 + esp_secure_cert with the key in eFuse", &d, &back);
    CU_ASSERT_EQUAL(back.key_efuse_block, 6);
    mp_free_secret(nvs, nn);
    nvs = NULL;
    mp_fd_opts alone = {.has_esp_ecdsa = 1, .esp_ecdsa_key_id = 2};
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_ESP32, &d, &alone, &nvs, &nn), MP_ERR_INVALID); /* its DAC would be nowhere */
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "esp_secure_cert partition"));
    d.key_efuse_block = 0; /* a chip-held key and no block: the key formats refuse as before */
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_ESP32_SC, &d, &o, &nvs, &nn), MP_ERR_INVALID);
    /* type 6 without the peripheral key entry, or the reverse, is refused */
    size_t at = (size_t)(sc_find(img, n, 6, 0, &l, &flags) - img) - 12;
    img[at + 8] = 7; /* type 7: skipped; the key entry then has no block */
    uint32_t c = mp_nvs_crc32(img + at, 12 + 40 + 8);
    for (int i = 0; i < 4; i++) img[at + 12 + 48 + i] = (uint8_t)(c >> (8 * i));
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_ESP32_SC, img, n, &back), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "without the security configuration"));
    mp_free_secret(img, n);
    free(nvs);
    mp_fd_device_wipe(&d);
    mp_fd_device_wipe(&sc);
    mp_fd_device_wipe(&back);
}

/* --esp-ds is refused with the reason and the two forms that apply, and a
 * partition whose key is the RSA DS peripheral's block (types 3, 4) is read
 * as such, not as a missing key. */
static void test_esp32_sc_ds_refused(void)
{
    mp_fd_device d, back;
    uint8_t *img = NULL;
    size_t n = 0, l = 0;
    int flags = -1;
    CU_ASSERT_EQUAL(mp_fd_esp_ds_refuse("factory-data pack"), MP_ERR_USAGE);
    const char *m = mp_err_msg();
    CU_ASSERT(strstr(m, "factory-data pack --esp-ds") != NULL && strstr(m, "RSA keys only") != NULL && strstr(m, "ECDSA P-256") != NULL &&
              strstr(m, "--esp32-ecdsa-efuse-key-id") != NULL && strstr(m, "--esp32-hmac-key") != NULL);
    fdt_make_device(&d);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32_SC, &d, NULL, &img, &n), MP_OK);
    const uint8_t *p = sc_find(img, n, 2, 0, &l, &flags);
    CU_ASSERT_FATAL(p != NULL && l == 121 && flags == 0);
    size_t at = (size_t)(p - img) - 12, crc_at = at + 12 + 128;
    img[at + 8] = 3; /* ESP_SECURE_CERT_DS_DATA_TLV */
    uint32_t c = mp_nvs_crc32(img + at, 12 + 128);
    for (int i = 0; i < 4; i++) img[crc_at + i] = (uint8_t)(c >> (8 * i));
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_ESP32_SC, img, n, &back), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "digital-signature peripheral's encrypted key block"));
    img[at + 8] = 9; /* an unknown type instead: the key is simply missing */
    c = mp_nvs_crc32(img + at, 12 + 128);
    for (int i = 0; i < 4; i++) img[crc_at + i] = (uint8_t)(c >> (8 * i));
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_ESP32_SC, img, n, &back), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "private key entry is missing"));
    mp_free_secret(img, n);
    mp_fd_device_wipe(&d);
    mp_fd_device_wipe(&back);
}

/* esp32-enc: the test's own XTS decryption of the used entries gives the
 * clear esp32 image; keys partition CRC; no key, wrong key refused. */
static void test_esp32_enc(void)
{
    mp_fd_device d, back;
    uint8_t *enc = NULL, *plain = NULL, part[MP_NVS_KEYS_SIZE];
    size_t en = 0, pn = 0;
    mp_fd_opts o = {0}, wrong;
    fdt_make_device(&d);
    CU_ASSERT_EQUAL_FATAL(mp_fd_nvs_keys_new(&o, part), MP_OK);
    CU_ASSERT(memcmp(part, o.nvs_keys, 64) == 0 && part[68] == 0xFF && part[4095] == 0xFF);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32_ENC, &d, &o, &enc, &en), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32, &d, &o, &plain, &pn), MP_OK);
    CU_ASSERT_EQUAL_FATAL(en, pn);
    CU_ASSERT(memcmp(enc, plain, 64) == 0); /* page header and bitmap in clear */
    CU_ASSERT(memmem(enc, en, d.dac_key, 32) == NULL && memmem(enc, en, "chip-factory", 12) == NULL);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int same = 1;
    for (size_t at = 0; at + 4096 <= en; at += 4096) {
        for (int i = 0; i < 126; i++) {
            uint8_t tw[16] = {0}, out[32];
            size_t off = at + 64 + 32 * (size_t)i;
            int l = 0;
            if (enc[at] == 0xFF || ((enc[at + 32 + i / 4] >> (2 * (i % 4))) & 3) == 3) {
                same &= memcmp(enc + off, plain + off, 32) == 0;
                continue;
            }
            for (int k = 0; k < 4; k++) tw[k] = (uint8_t)(off >> (8 * k));
            CU_ASSERT(EVP_DecryptInit_ex(c, EVP_aes_256_xts(), NULL, o.nvs_keys, tw) == 1 && EVP_DecryptUpdate(c, out, &l, enc + off, 32) == 1);
            same &= memcmp(out, plain + off, 32) == 0;
        }
    }
    EVP_CIPHER_CTX_free(c);
    CU_ASSERT(same);
    CU_ASSERT_EQUAL(mp_fd_detect(enc, en), MP_FD_ESP32_ENC);
    CU_ASSERT_EQUAL(mp_fd_detect(plain, pn), MP_FD_ESP32);
    CU_ASSERT_EQUAL(mp_fd_unpack_with(MP_FD_ESP32_ENC, enc, en, &o, &back), MP_OK);
    fdt_same_fields("esp32-enc", &d, &back);
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_ESP32_ENC, enc, en, &back), MP_ERR_INVALID);
    wrong = o;
    wrong.nvs_keys[40] ^= 1; /* the tweak key */
    CU_ASSERT_EQUAL(mp_fd_unpack_with(MP_FD_ESP32_ENC, enc, en, &wrong, &back), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "wrong key"));
    part[3] ^= 1;
    CU_ASSERT_EQUAL(mp_fd_nvs_keys_parse(part, sizeof(part), "k", &wrong), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "CRC32"));
    CU_ASSERT_EQUAL(mp_fd_nvs_keys_parse(part, 100, "k", &wrong), MP_ERR_INVALID);
    mp_fd_opts small = o;
    small.partition_size = 0x2000; /* below the NVS minimum of three pages */
    uint8_t *x = NULL;
    size_t xn = 0;
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_ESP32_ENC, &d, &small, &x, &xn), MP_ERR_INVALID);
    CU_ASSERT_PTR_NULL(x);
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_ESP32_ENC, &d, NULL, &x, &xn), MP_ERR_USAGE);
    mp_free_secret(enc, en);
    mp_free_secret(plain, pn);
    mp_wipe(part, sizeof(part));
    mp_wipe(&o, sizeof(o));
    mp_fd_device_wipe(&d);
    mp_fd_device_wipe(&back);
}

void register_fd_formats(void)
{
    CU_pSuite s = CU_add_suite("factory-data format table", NULL, NULL);
    TU_ADD(s, test_table_consistent);
    TU_ADD(s, test_every_format_round_trips);
    TU_ADD(s, test_nxp_aes128);
    TU_ADD(s, test_esp32_secure_cert);
    TU_ADD(s, test_esp32_sc_commissionable_hmac);
    TU_ADD(s, test_esp32_sc_ecdsa_efuse);
    TU_ADD(s, test_esp32_sc_ds_refused);
    TU_ADD(s, test_esp32_enc);
}
