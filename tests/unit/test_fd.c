/* test_fd.c - factory-data formats: round trips for every format, each
 * layout checked field by field (NVS page/entry/data CRCs, CBOR heads, KLV
 * header and hash), bounds, and corruption detection. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "testutil.h"
#include "fdtest.h"
#include "factory-data/fd.h"
#include "factory-data/check.h"
#include "factory-data/fd_int.h"
#include "factory-data/spake2p.h"
#include "util.h"
#include "x509.h"

static size_t file_der(const char *name, uint8_t *out, size_t cap)
{
    X509 *x = NULL;
    uint8_t *der = NULL;
    size_t n = 0;
    if (mp_cert_load(tu_vector(name), &x) != MP_OK || mp_cert_der(x, &der, &n) != MP_OK || n > cap) return 0;
    memcpy(out, der, n);
    OPENSSL_free(der);
    X509_free(x);
    return n;
}

static int test_key(uint8_t scalar[32])
{
    FILE *f = fopen(tu_vector("Chip-Test-DAC-FFF1-8000-0000-Key.pem"), "r");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    BIGNUM *bn = NULL;
    int ok = k && EVP_PKEY_get_bn_param(k, "priv", &bn) == 1 && BN_bn2binpad(bn, scalar, 32) == 32;
    if (f) fclose(f);
    BN_clear_free(bn);
    EVP_PKEY_free(k);
    return ok;
}

/* A complete device from the SDK test vectors. */
void fdt_make_device(mp_fd_device *d)
{
    uint8_t *cd = NULL;
    size_t cdlen = 0;
    mp_fd_device_init(d);
    d->vendor_id = 0xFFF1;
    d->product_id = 0x8000;
    strcpy(d->vendor_name, "Acme, \"Lighting\"");
    strcpy(d->product_name, "Acme Bulb");
    strcpy(d->product_label, "Bulb E27");
    strcpy(d->product_url, "https://example.com/bulb");
    strcpy(d->part_number, "AB-100");
    strcpy(d->serial, "SN:12345678");
    strcpy(d->mfg_date, "2022-07-20");
    d->hw_ver = 101;
    strcpy(d->hw_ver_str, "1.0");
    d->product_finish = 1;
    d->product_color = 17;
    d->discriminator = 0xFED;
    d->iterations = 1000;
    d->salt_len = 16;
    memcpy(d->salt, "SPAKE2P Key Salt", 16);
    CU_ASSERT(mp_spake2p_verifier(20202021, d->salt, 16, 1000, d->verifier) == MP_OK);
    d->rd_uid_len = 16;
    memcpy(d->rd_uid, "\x91\xa9\xc1\x2a\x7c\x80\x70\x0a\x31\xdd\xcf\xa7\xfc\xe6\x3e\x44", 16);
    d->dac_len = file_der("Chip-Test-DAC-FFF1-8000-0000-Cert.pem", d->dac_der, sizeof(d->dac_der));
    d->pai_len = file_der("Chip-Test-PAI-FFF1-8000-Cert.pem", d->pai_der, sizeof(d->pai_der));
    CU_ASSERT(mp_read_file(tu_vector("Chip-Test-CD-FFF1-8000-8063.der"), sizeof(d->cd_der), &cd, &cdlen) == MP_OK);
    memcpy(d->cd_der, cd, cdlen);
    d->cd_len = cdlen;
    free(cd);
    d->has_dac_key = test_key(d->dac_key);
    CU_ASSERT(d->dac_len > 0 && d->pai_len > 0 && d->has_dac_key);
}

/* Every field of got is that of want (presence, kind and value), named. */
void fdt_same_fields(const char *what, const mp_fd_device *want, const mp_fd_device *got)
{
    for (int f = 0; f < F_COUNT; f++) {
        fd_value a, b;
        int ha = fd_get(want, f, &a), hb = fd_get(got, f, &b);
        int same = ha == hb && (!ha || (a.kind == b.kind && a.u == b.u && a.len == b.len &&
                                        (a.len == 0 || memcmp(a.p, b.p, a.len) == 0)));
        if (!same) {
            printf("\n  %s: field '%s' differs\n", what, fd_field_name(f));
            CU_FAIL("field");
        }
    }
}

static void round_trip(int format, const mp_fd_device *d)
{
    uint8_t *img = NULL;
    size_t n = 0;
    mp_fd_device back;
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(format, d, NULL, &img, &n), MP_OK);
    CU_ASSERT_EQUAL(mp_fd_detect(img, n), format);
    int rc = mp_fd_unpack(format, img, n, &back);
    if (rc != MP_OK) printf("\n  %s: %s\n", mp_fd_format_name(format), mp_err_msg());
    CU_ASSERT_EQUAL_FATAL(rc, MP_OK);
    mp_fd_device want = *d;
    if (format == MP_FD_NRF || format == MP_FD_NRF_JSON) { /* nRF: CD in firmware */
        want.cd_len = 0;
        memset(want.cd_der, 0, sizeof(want.cd_der));
    }
    fdt_same_fields(mp_fd_format_name(format), &want, &back);
    for (size_t i = 0; i < sizeof(back); i++) {
        if (((uint8_t *)&back)[i] != ((uint8_t *)&want)[i]) {
            printf("\n  %s: differs at offset %zu\n", mp_fd_format_name(format), i);
            CU_FAIL("round trip");
            break;
        }
    }
    /* packing the decoded device gives the same bytes */
    uint8_t *img2 = NULL;
    size_t n2 = 0;
    CU_ASSERT_EQUAL(mp_fd_pack(format, &back, NULL, &img2, &n2), MP_OK);
    CU_ASSERT(n2 == n && memcmp(img, img2, n) == 0);
    free(img);
    free(img2);
}

static void test_round_trips(void)
{
    mp_fd_device d;
    fdt_make_device(&d);
    int formats[] = {MP_FD_NRF, MP_FD_NRF_JSON, MP_FD_ESP32, MP_FD_ESP32_CSV, MP_FD_NXP, MP_FD_JSON};
#define NF (sizeof(formats) / sizeof(formats[0]))
    for (size_t i = 0; i < NF; i++) round_trip(formats[i], &d);
    /* minimal device: optional fields absent, passcode included */
    memset(d.product_label, 0, sizeof(d.product_label));
    memset(d.product_url, 0, sizeof(d.product_url));
    memset(d.part_number, 0, sizeof(d.part_number));
    d.product_finish = d.product_color = -1;
    d.rd_uid_len = 0;
    memset(d.rd_uid, 0, sizeof(d.rd_uid));
    d.passcode = 20202021;
    d.discriminator = 0;
    for (size_t i = 0; i < NF; i++) round_trip(formats[i], &d);
    /* text that needs quoting in the CSV and escaping in JSON; longest values */
    strcpy(d.product_label, "Line 1\nLine \"2\", end\r\n,");
    memset(d.product_url, 'u', 256);
    d.product_url[256] = 0;
    d.salt_len = 32;
    memset(d.salt, 0x5A, 32);
    CU_ASSERT(mp_spake2p_verifier(20202021, d.salt, 32, 1000, d.verifier) == MP_OK);
    for (size_t i = 0; i < NF; i++) round_trip(formats[i], &d);
#undef NF
    /* json without the DAC key (chip-held key) */
    d.has_dac_key = 0;
    memset(d.dac_key, 0, 32);
    round_trip(MP_FD_JSON, &d);
    uint8_t *img;
    size_t n;
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_NRF, &d, NULL, &img, &n), MP_ERR_INVALID);
    CU_ASSERT(strstr(mp_err_msg(), "DAC private key") != NULL);
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_ESP32, &d, NULL, &img, &n), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_NXP, &d, NULL, &img, &n), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_NRF_JSON, &d, NULL, &img, &n), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_ESP32_CSV, &d, NULL, &img, &n), MP_ERR_INVALID);
}

static void test_bounds(void)
{
    mp_fd_device d, t;
    uint8_t *img;
    size_t n;
    fdt_make_device(&d);
#define BAD(stmt, frag)                                                                        \
    do {                                                                                       \
        t = d;                                                                                 \
        stmt;                                                                                  \
        CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_JSON, &t, NULL, &img, &n), MP_ERR_INVALID);           \
        if (strstr(mp_err_msg(), frag) == NULL) {                                              \
            printf("\n  '%s' lacks '%s'\n", mp_err_msg(), frag);                               \
            CU_FAIL(frag);                                                                     \
        }                                                                                      \
    } while (0)
    BAD(t.vendor_id = 0, "vendor ID is required");
    BAD(t.vendor_id = 0xFFF5, "vendor ID");
    BAD(t.product_id = 0, "product ID is required");
    BAD(t.discriminator = 4096, "discriminator");
    BAD(t.iterations = 999, "iterations");
    BAD(t.iterations = 100001, "iterations");
    BAD(t.salt_len = 15, "salt");
    BAD(t.salt_len = 33, "salt");
    BAD(t.passcode = 12345678, "passcode");
    BAD(t.passcode = 99999999, "passcode");
    BAD(t.rd_uid_len = 15, "unique ID");
    BAD(t.rd_uid_len = 33, "unique ID");
    BAD(t.serial[0] = 0, "serial number is required");
    BAD(memset(t.serial, 'A', 32); t.serial[5] = '\n', "is not allowed");
    BAD(strcpy(t.mfg_date, "2022-02-30"), "manufacturing date");
    BAD(strcpy(t.mfg_date, "22-07-20"), "manufacturing date");
    BAD(t.hw_ver_str[0] = 0, "hardware version string is required");
    BAD(t.dac_len = 601, "DAC certificate");
    BAD(t.product_finish = 6, "product finish");
    BAD(t.product_color = 21, "primary colour");
    BAD(t.pai_len = 0, "PAI certificate is required");
    t = d;
    strcpy(t.mfg_date, "20220720X1");
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_ESP32, &t, NULL, &img, &n), MP_OK); /* vendor suffix */
    free(img);
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_NRF, &t, NULL, &img, &n), MP_ERR_INVALID); /* nRF: exactly YYYY-MM-DD */
    t = d;
    t.rd_uid_len = 32;
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_NXP, &t, NULL, &img, &n), MP_ERR_INVALID);
    t.cd_len = 0;
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_ESP32, &t, NULL, &img, &n), MP_ERR_INVALID);
    mp_fd_opts o = {0x2000};
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_ESP32, &d, &o, &img, &n), MP_ERR_INVALID);
    o.partition_size = 0x3001;
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_ESP32, &d, &o, &img, &n), MP_ERR_INVALID);
}

/* ---- nRF CBOR layout ------------------------------------------------------ */

static void test_nrf_layout(void)
{
    mp_fd_device d;
    uint8_t *img;
    size_t n, hl;
    fdt_make_device(&d);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_NRF, &d, NULL, &img, &n), MP_OK);
    /* map of 1 (version) + 21 present fields, two-byte head 0xB8 0x16 */
    CU_ASSERT(img[0] == 0xB6 || img[0] == 0xB8);
    size_t count = img[0] == 0xB8 ? img[1] : (size_t)(img[0] & 31);
    CU_ASSERT_EQUAL(count, 22u);
    /* the doc's illustrative pairs appear byte for byte */
    static const char *pairs[] = {
        "6776657273696f6e01", "62736e4b534e3a3132333435363738", "6976656e646f725f696419fff1",
        "6a70726f647563745f6964198000", "6668775f7665721865", "6464617465" "4a323032322d30372d3230",
        "697370616b65325f69741903e8", "6d6469736372696d696e61746f72190fed",
        "6672645f7569645091a9c12a7c80700a31ddcfa7fce63e44", "6d7072696d6172795f636f6c6f7211",
        "6b7370616b65325f73616c7450" "5350414b453250204b65792053616c74",
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        uint8_t *p = tu_unhex(pairs[i], &hl);
        if (memmem(img, n, p, hl) == NULL) {
            printf("\n  pair %zu missing\n", i);
            CU_FAIL("pair");
        }
        free(p);
    }
    /* strings are byte strings (major 2), never text: "vendor_name" then 0x50 (16 bytes) */
    CU_ASSERT_PTR_NOT_NULL(memmem(img, n, "\x6bvendor_name\x50" "Acme", 17));
    /* verifier raw 97 bytes: 0x58 0x61 */
    CU_ASSERT_PTR_NOT_NULL(memmem(img, n, "spake2_verifier\x58\x61", 17));
    /* the passcode is not there unless included */
    CU_ASSERT_PTR_NULL(memmem(img, n, "passcode", 8));
    /* erased flash after the map is accepted, anything else is not */
    mp_fd_device back;
    uint8_t *pad = malloc(n + 8);
    memcpy(pad, img, n);
    memset(pad + n, 0xFF, 8);
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_NRF, pad, n + 8, &back), MP_OK);
    pad[n + 3] = 0;
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_NRF, pad, n + 8, &back), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_NRF, img, n - 1, &back), MP_ERR_INVALID);
    free(pad);
    free(img);
}

static void test_nrf_unknown_keys(void)
{
    /* {version:1, "user": {"a": [1, h'00']}, "sn": h'41'} -> missing fields error,
     * but "user" is skipped without complaint first */
    size_t n;
    uint8_t *b = tu_unhex("a3" "6776657273696f6e01" "6475736572a1616182014100" "62736e4141", &n);
    mp_fd_device d;
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_NRF, b, n, &d), MP_ERR_INVALID);
    CU_ASSERT(strstr(mp_err_msg(), "is required") != NULL);
    b[n - 2] = 0x61; /* sn as a text string: refused */
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_NRF, b, n, &d), MP_ERR_INVALID);
    CU_ASSERT(strstr(mp_err_msg(), "byte string") != NULL);
    free(b);
}


/* ---- ESP32 NVS layout ----------------------------------------------------- */

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static uint32_t ecrc(const uint8_t *e)
{
    uint8_t t[28];
    memcpy(t, e, 4);
    memcpy(t + 4, e + 8, 24);
    return mp_nvs_crc32(t, 28);
}

static int slot_state(const uint8_t *page, int i) { return (page[32 + i / 4] >> (2 * (i % 4))) & 3; }

/* Find the entry with key and type on a page; returns its slot or -1. */
static int find_entry(const uint8_t *page, const char *key, int type, int chunk)
{
    for (int i = 0; i < 126; i++) {
        const uint8_t *e = page + 64 + 32 * i;
        if (slot_state(page, i) == 2 && e[1] == type && strncmp((const char *)e + 8, key, 16) == 0 &&
            (chunk < 0 || e[3] == chunk)) return i;
    }
    return -1;
}

static void test_nvs_crc(void)
{
    CU_ASSERT_EQUAL(mp_nvs_crc32((const uint8_t *)"123456789", 9), 0xD202D277u); /* zlib crc32(0xFFFFFFFF, ...) */
    CU_ASSERT_EQUAL(mp_nvs_crc32(NULL, 0), 0xFFFFFFFFu);
}

static void test_esp32_layout(void)
{
    mp_fd_device d;
    uint8_t *img;
    size_t n;
    fdt_make_device(&d);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32, &d, NULL, &img, &n), MP_OK);
    CU_ASSERT_EQUAL_FATAL(n, 0x6000u);
    const uint8_t *p0 = img;
    /* page header */
    CU_ASSERT_EQUAL(le32(p0 + 4), 0u);
    CU_ASSERT_EQUAL(p0[8], 0xFE);
    for (int i = 9; i < 28; i++) CU_ASSERT_EQUAL(p0[i], 0xFF);
    CU_ASSERT_EQUAL(le32(p0 + 28), mp_nvs_crc32(p0 + 4, 24));
    /* entry 0: the namespace */
    const uint8_t *e = p0 + 64;
    CU_ASSERT(e[0] == 0 && e[1] == 0x01 && e[2] == 1 && e[3] == 0xFF);
    CU_ASSERT_STRING_EQUAL((const char *)e + 8, "chip-factory");
    CU_ASSERT(e[24] == 1 && e[25] == 0xFF && e[31] == 0xFF);
    CU_ASSERT_EQUAL(le32(e + 4), ecrc(e));
    CU_ASSERT_EQUAL(slot_state(p0, 0), 2);
    /* entry 1: discriminator U32 */
    e = p0 + 96;
    CU_ASSERT(e[0] == 1 && e[1] == 0x04 && e[2] == 1 && e[3] == 0xFF);
    CU_ASSERT_STRING_EQUAL((const char *)e + 8, "discriminator");
    CU_ASSERT_EQUAL(le32(e + 24), 0xFEDu);
    CU_ASSERT(e[28] == 0xFF && e[31] == 0xFF);
    CU_ASSERT_EQUAL(le32(e + 4), ecrc(e));
    /* salt: SZ of base64 text + NUL, data CRC */
    int s = find_entry(p0, "salt", 0x21, -1);
    CU_ASSERT_FATAL(s > 0);
    e = p0 + 64 + 32 * s;
    size_t sz = (size_t)e[24] | (size_t)e[25] << 8;
    CU_ASSERT_EQUAL(sz, 25u);
    CU_ASSERT_EQUAL(e[2], 1 + 1);
    CU_ASSERT(e[26] == 0xFF && e[27] == 0xFF);
    CU_ASSERT_EQUAL(memcmp(e + 32, "U1BBS0UyUCBLZXkgU2FsdA==\0", 25), 0);
    CU_ASSERT_EQUAL(e[32 + 25], 0xFF); /* tail of the slot stays erased */
    CU_ASSERT_EQUAL(le32(e + 28), mp_nvs_crc32(e + 32, 25));
    CU_ASSERT_EQUAL(le32(e + 4), ecrc(e));
    int v = find_entry(p0, "verifier", 0x21, -1);
    CU_ASSERT(v > 0 && p0[64 + 32 * v + 24] == 133);
    /* no pin-code unless included */
    CU_ASSERT_EQUAL(find_entry(p0, "pin-code", 0x04, -1), -1);
    /* dac-cert blob: data chunk 0 + index */
    int c = find_entry(p0, "dac-cert", 0x42, 0), x = find_entry(p0, "dac-cert", 0x48, -1);
    CU_ASSERT_FATAL(c > 0 && x > c);
    e = p0 + 64 + 32 * c;
    CU_ASSERT_EQUAL((size_t)e[24] | (size_t)e[25] << 8, d.dac_len);
    CU_ASSERT_EQUAL(e[2], 1 + (d.dac_len + 31) / 32);
    CU_ASSERT_EQUAL(memcmp(e + 32, d.dac_der, d.dac_len), 0);
    CU_ASSERT_EQUAL(le32(e + 28), mp_nvs_crc32(d.dac_der, d.dac_len));
    for (int k = 0; k < e[2]; k++) CU_ASSERT_EQUAL(slot_state(p0, c + k), 2);
    e = p0 + 64 + 32 * x;
    CU_ASSERT(e[2] == 1 && e[3] == 0xFF && le32(e + 24) == d.dac_len && e[28] == 1 && e[29] == 0 && e[30] == 0xFF);
    /* dac-pub-key = the point of dac-key */
    int pk = find_entry(p0, "dac-pub-key", 0x42, 0);
    uint8_t point[65];
    CU_ASSERT(pk > 0 && mp_p256_point(d.dac_key, point) == MP_OK && memcmp(p0 + 64 + 32 * pk + 32, point, 65) == 0);
    /* one page used: it is the ACTIVE one; page 1 and the reserved last page are blank */
    CU_ASSERT_EQUAL(le32(p0), 0xFFFFFFFEu);
    for (size_t i = 0x1000; i < n; i++) CU_ASSERT_EQUAL_FATAL(img[i], 0xFF);
    free(img);
}

/* A blob split across pages: chunk 0 fills page 0, chunk 1 on page 1, the
 * index after it; total size and chunk count in the index. */
static void test_esp32_multipage_blob(void)
{
    mp_fd_device d, back;
    uint8_t *img;
    size_t n;
    fdt_make_device(&d);
    d.cd_len = MP_FD_MAX_CD; /* the packer does not parse the DER: any bytes */
    for (size_t i = 0; i < d.cd_len; i++) d.cd_der[i] = (uint8_t)(i * 7);
    d.dac_len = d.pai_len = MP_FD_MAX_CERT;
    memset(d.dac_der, 0x30, d.dac_len);
    memset(d.pai_der, 0x31, d.pai_len);
    d.passcode = 20202021; /* one more slot: the CD no longer fits page 0 */
    mp_fd_opts o = {0x4000};
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32, &d, &o, &img, &n), MP_OK);
    const uint8_t *p0 = img, *p1 = img + 4096;
    int c0 = find_entry(p0, "cert-dclrn", 0x42, 0), c1 = find_entry(p1, "cert-dclrn", 0x42, 1);
    int ix = find_entry(p1, "cert-dclrn", 0x48, -1);
    CU_ASSERT_FATAL(c0 > 0 && c1 >= 0 && ix > c1);
    const uint8_t *e0 = p0 + 64 + 32 * c0, *e1 = p1 + 64 + 32 * c1;
    size_t s0 = (size_t)e0[24] | (size_t)e0[25] << 8, s1 = (size_t)e1[24] | (size_t)e1[25] << 8;
    CU_ASSERT_EQUAL(s0, (size_t)(126 - c0 - 1) * 32); /* all the room left on page 0 */
    CU_ASSERT_EQUAL(s0 + s1, d.cd_len);
    CU_ASSERT_EQUAL(c0 + e0[2], 126);
    CU_ASSERT_EQUAL(le32(e1 + 28), mp_nvs_crc32(d.cd_der + s0, s1));
    CU_ASSERT(p1[64 + 32 * ix + 28] == 2 && le32(p1 + 64 + 32 * ix + 24) == d.cd_len);
    CU_ASSERT_EQUAL(le32(p0), 0xFFFFFFFCu); /* FULL */
    CU_ASSERT_EQUAL(le32(p1), 0xFFFFFFFEu); /* ACTIVE */
    CU_ASSERT_EQUAL(le32(p1 + 4), 1u);
    CU_ASSERT_EQUAL(le32(p1 + 28), mp_nvs_crc32(p1 + 4, 24));
    for (size_t i = 0x2000; i < n; i++) CU_ASSERT_EQUAL_FATAL(img[i], 0xFF);
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_ESP32, img, n, &back), MP_OK);
    CU_ASSERT(back.cd_len == d.cd_len && memcmp(back.cd_der, d.cd_der, d.cd_len) == 0);
    free(img);
    o.partition_size = 0x3000; /* the minimum: pages 0 and 1, page 2 reserved */
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32, &d, &o, &img, &n), MP_OK);
    for (size_t i = 0x2000; i < n; i++) CU_ASSERT_EQUAL_FATAL(img[i], 0xFF);
    free(img);
}

static void test_esp32_corruption(void)
{
    mp_fd_device d, back;
    uint8_t *img;
    size_t n;
    fdt_make_device(&d);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32, &d, NULL, &img, &n), MP_OK);
    static const struct { size_t off; const char *msg; } flips[] = {
        {5, "header CRC"}, {64 + 8, "entry CRC"}, {64 + 32 + 24, "entry CRC"},
        {64 + 32 * 20 + 40, "CRC"}, {0x2000 + 100, "uninitialised"}, {32, "namespace"},
    };
    for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
        img[flips[i].off] ^= 1;
        CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_ESP32, img, n, &back), MP_ERR_INVALID);
        if (strstr(mp_err_msg(), flips[i].msg) == NULL) {
            printf("\n  flip %zu: '%s'\n", flips[i].off, mp_err_msg());
            CU_FAIL("message");
        }
        img[flips[i].off] ^= 1;
    }
    /* every byte of the used data: a flip is caught or leaves the device unchanged */
    int missed = 0;
    for (size_t off = 0; off < 0x2000; off++) {
        img[off] ^= 0x10;
        if (mp_fd_unpack(MP_FD_ESP32, img, n, &back) == MP_OK && memcmp(&back, &d, sizeof(d)) != 0) missed++;
        img[off] ^= 0x10;
    }
    CU_ASSERT_EQUAL(missed, 0);
    free(img);
}

/* ---- NXP KLV layout ------------------------------------------------------- */

static void test_nxp_layout(void)
{
    mp_fd_device d, back;
    uint8_t *img, md[32];
    size_t n;
    fdt_make_device(&d);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_NXP, &d, NULL, &img, &n), MP_OK);
    CU_ASSERT(img[0] == 0x5E && img[1] == 0xBA && img[2] == 0x47 && img[3] == 0xCE);
    CU_ASSERT_EQUAL(le32(img + 4), n - 12);
    SHA256(img + 12, n - 12, md);
    CU_ASSERT_EQUAL(memcmp(img + 8, md, 4), 0);
    /* entries ascending; check some encodings */
    int last = 0, seen = 0;
    for (size_t i = 12; i < n;) {
        int k = img[i];
        size_t l = (size_t)img[i + 1] | (size_t)img[i + 2] << 8;
        const uint8_t *v = img + i + 3;
        CU_ASSERT(k > last);
        last = k;
        if (k == 1) CU_ASSERT(l == 132 && v[130] == '=' && v[131] == '=');
        if (k == 2) CU_ASSERT(l == 24 && memcmp(v, "U1BBS0UyUCBLZXkgU2FsdA==", 24) == 0);
        if (k == 3) CU_ASSERT(l == 4 && le32(v) == 1000);
        if (k == 4) CU_ASSERT(l == 32 && memcmp(v, d.dac_key, 32) == 0);
        if (k == 7) CU_ASSERT(l == 4 && le32(v) == 0xFED);
        if (k == 9) CU_ASSERT(l == 2 && v[0] == 0xF1 && v[1] == 0xFF);
        if (k == 14) CU_ASSERT(l == 11 && memcmp(v, "SN:12345678", 11) == 0);
        if (k == 16) CU_ASSERT(l == 2 && v[0] == 101 && v[1] == 0);
        if (k == 18) CU_ASSERT(l == 32 && memcmp(v, "91a9c12a7c80700a31ddcfa7fce63e44", 32) == 0);
        if (k == 23) CU_ASSERT(l == 1 && v[0] == 17);
        CU_ASSERT(k != 8); /* no passcode */
        seen++;
        i += 3 + l;
    }
    CU_ASSERT_EQUAL(seen, 22);
    for (size_t off = 0; off < n; off++) {
        img[off] ^= 4;
        CU_ASSERT_NOT_EQUAL(mp_fd_unpack(MP_FD_NXP, img, n, &back), MP_OK);
        img[off] ^= 4;
    }
    free(img);
}

/* img without the line that contains what (a whole field gone). */
void fdt_expect_missing(int format, const uint8_t *img, size_t n, const char *what, const char *msg)
{
    mp_fd_device back;
    const uint8_t *at = memmem(img, n, what, strlen(what));
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    size_t from = (size_t)(at - img) + (what[0] == '\n'), to;
    while (from > 0 && img[from - 1] != '\n') from--;
    for (to = from; to < n && img[to] != '\n'; to++) continue;
    uint8_t *t = malloc(n);
    memcpy(t, img, from);
    memcpy(t + from, img + to + 1, n - to - 1);
    int rc = mp_fd_unpack(format, t, n - (to + 1 - from), &back);
    if (rc != MP_ERR_INVALID || strstr(mp_err_msg(), msg) == NULL) {
        printf("\n  %s without '%s': rc %d '%s'; wanted '%s'\n", mp_fd_format_name(format), what, rc, rc ? mp_err_msg() : "", msg);
        CU_FAIL("missing field");
    }
    free(t);
}

static void test_json_format(void)
{
    mp_fd_device d, back;
    uint8_t *img;
    size_t n;
    fdt_make_device(&d);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_JSON, &d, NULL, &img, &n), MP_OK);
    CU_ASSERT_PTR_NOT_NULL(memmem(img, n, "\"spake2p_salt\": \"U1BBS0UyUCBLZXkgU2FsdA==\"", 42));
    CU_ASSERT_PTR_NOT_NULL(memmem(img, n, "\"rd_uid\": \"91a9c12a7c80700a31ddcfa7fce63e44\"", 44));
    CU_ASSERT_PTR_NOT_NULL(memmem(img, n, "\"format\": \"matter-pki-factory-data\"", 35));
    static const char *bad[] = {
        "{\"format\": \"other\", \"version\": 1}",
        "{\"format\": \"matter-pki-factory-data\", \"version\": 2}",
        "{\"format\": \"matter-pki-factory-data\", \"version\": 1, \"colour\": 1}",
        "{\"format\": \"matter-pki-factory-data\", \"version\": 1, \"discriminator\": 4096}",
        "{\"format\": \"matter-pki-factory-data\", \"version\": 1, \"spake2p_salt\": \"!!\"}",
        "{\"format\": \"matter-pki-factory-data\", \"version\": 1, \"vendor_id\": \"0xFFF1\"}",
        "{\"format\": \"matter-pki-factory-data\", \"version\": 1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_JSON, (const uint8_t *)bad[i], strlen(bad[i]), &back), MP_ERR_INVALID);
    }
    fdt_expect_missing(MP_FD_JSON, img, n, "\"spake2p_verifier\"", "SPAKE2+ verifier is required");
    free(img);
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_NRF_JSON, &d, NULL, &img, &n), MP_OK);
    CU_ASSERT_PTR_NOT_NULL(memmem(img, n, "\"spake2_salt\": \"hex:5350414b453250204b65792053616c74\"", 52));
    CU_ASSERT_PTR_NOT_NULL(memmem(img, n, "\"version\": 1", 12));
    free(img);
    CU_ASSERT_EQUAL(mp_fd_pack(MP_FD_ESP32_CSV, &d, NULL, &img, &n), MP_OK);
    CU_ASSERT_EQUAL(memcmp(img, "key,type,encoding,value\nchip-factory,namespace,,\ndiscriminator,data,u32,4077\n", 77), 0);
    CU_ASSERT_PTR_NOT_NULL(memmem(img, n, "vendor-name,data,string,\"Acme, \"\"Lighting\"\"\"\n", 45));
    CU_ASSERT_PTR_NOT_NULL(memmem(img, n, "\nsalt,data,string,U1BBS0UyUCBLZXkgU2FsdA==\n", 43));
    CU_ASSERT_PTR_NOT_NULL(memmem(img, n, "\ndac-pub-key,data,hex2bin,04", 28));
    free(img);
}

/* The batch packer writes the JSON image as text; it must be exactly the
 * jansson rendering of the same device (what inspect and auditors read),
 * with and without an off-chip key and with a passcode. */
static void test_json_pack_is_jansson(void)
{
    mp_fd_device d;
    fdt_make_device(&d);
    for (int variant = 0; variant < 3; variant++) {
        if (variant == 1) d.has_dac_key = 0;
        if (variant == 2) d.passcode = 20202021;
        uint8_t *img = NULL;
        size_t n = 0;
        CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_JSON, &d, NULL, &img, &n), MP_OK);
        json_t *j = mp_fd_to_json(&d, 1);
        char *want = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        CU_ASSERT_PTR_NOT_NULL_FATAL(want);
        CU_ASSERT_EQUAL(n, strlen(want) + 1);
        CU_ASSERT(n == strlen(want) + 1 && memcmp(img, want, n - 1) == 0 && img[n - 1] == '\n');
        free(want);
        json_decref(j);
        mp_free_secret(img, n);
    }
}

/* ---- the text side-outputs read back: nrf-json and esp32-csv ---------------- */

/* img with the first occurrence of from replaced by to (malloc'd); NULL and a
 * failure when from is not there (a broken test). */
void register_fd(void)
{
    CU_pSuite s = CU_add_suite("factory-data", NULL, NULL);
    TU_ADD(s, test_round_trips);
    TU_ADD(s, test_bounds);
    TU_ADD(s, test_nrf_layout);
    TU_ADD(s, test_nrf_unknown_keys);
    TU_ADD(s, test_nvs_crc);
    TU_ADD(s, test_esp32_layout);
    TU_ADD(s, test_esp32_multipage_blob);
    TU_ADD(s, test_esp32_corruption);
    TU_ADD(s, test_nxp_layout);
    TU_ADD(s, test_json_format);
    TU_ADD(s, test_json_pack_is_jansson);
}
