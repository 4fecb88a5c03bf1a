/* test_qr_ext.c - the QR payload's optional TLV extension (spec 5.1.5). */
#include <string.h>

#include <jansson.h>

#include "factory-data/onboarding.h"
#include "factory-data/qr_ext.h"
#include "testutil.h"

static void test_encode_bytes(void)
{
    uint8_t buf[96];
    size_t len = 0;
    mp_qr_ext x = {.serial = "SN-0001", .iterations = 1000, .devices = 2};
    x.vendor[0].tag = 0x80;
    x.vendor[0].str = "hi";
    x.n_vendor = 1;
    CU_ASSERT_EQUAL_FATAL(mp_qr_ext_encode(&x, buf, sizeof(buf), &len), MP_OK);
    /* 15 | 2C 00 07 "SN-0001" | 25 01 E8 03 | 24 03 02 | 2C 80 02 "hi" | 18 */
    size_t n;
    uint8_t *want = tu_unhex("152c0007534e2d303030312501e80324030" "22c80026869" "18", &n);
    CU_ASSERT_EQUAL(len, n);
    CU_ASSERT(len == n && memcmp(buf, want, n) == 0);
    free(want);
}

static void test_round_trip_in_qr(void)
{
    uint8_t salt[16];
    memset(salt, 0xAB, sizeof(salt));
    mp_payload p = {.vendor_id = 0xFFF1, .product_id = 0x8000, .caps = 2, .discriminator = 3840, .passcode = 20202021};
    mp_qr_ext x = {.serial = "ABC", .salt = salt, .salt_len = 16, .timeout = 600};
    x.vendor[0].tag = 0xFF;
    x.vendor[0].num = 7;
    x.n_vendor = 1;
    CU_ASSERT_EQUAL_FATAL(mp_qr_ext_encode(&x, p.tlv, sizeof(p.tlv), &p.tlv_len), MP_OK);
    char qr[MP_QR_MAX];
    CU_ASSERT_EQUAL_FATAL(mp_qr_encode(&p, qr), MP_OK);
    mp_payload back;
    CU_ASSERT_EQUAL_FATAL(mp_qr_decode(qr, &back, NULL), MP_OK);
    CU_ASSERT(back.tlv_len == p.tlv_len && memcmp(back.tlv, p.tlv, p.tlv_len) == 0);
    CU_ASSERT_EQUAL(back.passcode, 20202021);
    json_t *o = NULL;
    CU_ASSERT_EQUAL_FATAL(mp_qr_ext_decode(back.tlv, back.tlv_len, &o), MP_OK);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "serial_number")), "ABC");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "commissioning_timeout")), 600);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(o, "vendor_tags"), "0xFF")), 7);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "pbkdf_salt")), "q6urq6urq6urq6urq6urqw==");
    json_decref(o);
    /* without an extension: 22 characters, unchanged from before */
    p.tlv_len = 0;
    CU_ASSERT_EQUAL(mp_qr_encode(&p, qr), MP_OK);
    CU_ASSERT_EQUAL(strlen(qr), 22);
}

static void test_bounds(void)
{
    uint8_t buf[96], salt[8] = {0};
    size_t len;
    mp_qr_ext x = {.iterations = 999};
    CU_ASSERT_EQUAL(mp_qr_ext_encode(&x, buf, sizeof(buf), &len), MP_ERR_INVALID);
    x = (mp_qr_ext){.salt = salt, .salt_len = 8};
    CU_ASSERT_EQUAL(mp_qr_ext_encode(&x, buf, sizeof(buf), &len), MP_ERR_INVALID);
    x = (mp_qr_ext){.serial = "0123456789012345678901234567890123"};
    CU_ASSERT_EQUAL(mp_qr_ext_encode(&x, buf, sizeof(buf), &len), MP_ERR_INVALID);
    x = (mp_qr_ext){.devices = 256};
    CU_ASSERT_EQUAL(mp_qr_ext_encode(&x, buf, sizeof(buf), &len), MP_ERR_INVALID);
    x = (mp_qr_ext){.n_vendor = 1};
    x.vendor[0].tag = 0x10;
    CU_ASSERT_EQUAL(mp_qr_ext_encode(&x, buf, sizeof(buf), &len), MP_ERR_INVALID);
    json_t *o = NULL;
    size_t n;
    uint8_t *bad = tu_unhex("1524070118", &n); /* unknown common tag 7 */
    CU_ASSERT_EQUAL(mp_qr_ext_decode(bad, n, &o), MP_ERR_INVALID);
    free(bad);
    bad = tu_unhex("152401e818", &n); /* iterations 232 < 1000 */
    CU_ASSERT_EQUAL(mp_qr_ext_decode(bad, n, &o), MP_ERR_INVALID);
    free(bad);
    bad = tu_unhex("1518ff", &n); /* trailing byte */
    CU_ASSERT_EQUAL(mp_qr_ext_decode(bad, n, &o), MP_ERR_INVALID);
    free(bad);
    bad = tu_unhex("1524", &n); /* truncated */
    CU_ASSERT_NOT_EQUAL(mp_qr_ext_decode(bad, n, &o), MP_OK);
    free(bad);
}

void register_qr_ext(void)
{
    CU_pSuite s = CU_add_suite("qr_ext", NULL, NULL);
    TU_ADD(s, test_encode_bytes);
    TU_ADD(s, test_round_trip_in_qr);
    TU_ADD(s, test_bounds);
}
