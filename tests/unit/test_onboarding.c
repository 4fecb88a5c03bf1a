/* test_onboarding.c - Base38, QR and manual-code vectors of
 * ../shared/docs/factory-data.md section 1.4, Verhoeff, and field bounds. */
#include <string.h>

#include "testutil.h"
#include "factory-data/onboarding.h"
#include "factory-data/creds.h"

static void test_base38_vectors(void)
{
    static const struct { const char *hex, *b38; } v[] = {
        {"", ""}, {"0A", "A0"}, {"0A0A", "OT10"}, {"0A0A0A", "-N.B0"}, {"0A0A00", "OT100"},
        {"0A0A28", "Y6V91"}, {"0A0A29", "KL0B1"}, {"0A0AFF", "Q-M08"}, {"23", "Z0"},
        {"FF00", "R600"}, {"2E0000", "81000"}, {"FF", "R6"}, {"FFFF", "NE71"},
        {"FFFFFF", "PLS18"}, {"48656c6c6f20576f726c6421", "KKHF3W2S013OPM3EJX11"},
        {"88ffa7915040004751dd02", "-MOA57ZU02IT2L2BJ00"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n;
        uint8_t *b = tu_unhex(v[i].hex, &n), back[32];
        char out[64];
        CU_ASSERT_EQUAL(mp_base38_encode(b, n, out, sizeof(out)), (long)strlen(v[i].b38));
        CU_ASSERT_STRING_EQUAL(out, v[i].b38);
        CU_ASSERT_EQUAL(mp_base38_decode(v[i].b38, strlen(v[i].b38), back, sizeof(back)), (long)n);
        CU_ASSERT(n == 0 || memcmp(back, b, n) == 0);
        free(b);
    }
}

static void test_base38_decode_edges(void)
{
    uint8_t b[8];
    CU_ASSERT_EQUAL(mp_base38_decode("S6", 2, b, 8), -1);
    CU_ASSERT_EQUAL(mp_base38_decode("S600", 4, b, 8), 2);
    CU_ASSERT(b[0] == 0 && b[1] == 1);
    CU_ASSERT_EQUAL(mp_base38_decode("OE71", 4, b, 8), -1);
    CU_ASSERT_EQUAL(mp_base38_decode("OE710", 5, b, 8), 3);
    CU_ASSERT(b[0] == 0 && b[1] == 0 && b[2] == 1);
    CU_ASSERT_EQUAL(mp_base38_decode("QLS18", 5, b, 8), -1);
    CU_ASSERT_EQUAL(mp_base38_decode("A", 1, b, 8), -1);   /* group of 1 */
    CU_ASSERT_EQUAL(mp_base38_decode("A00", 3, b, 8), -1); /* group of 3 */
    const char *bad = " !\"#$%&'()*+,;<=>@[\\]^_`abc\x01\x7f";
    for (const char *c = bad; *c; c++) {
        char s[3] = {'A', *c, 0};
        CU_ASSERT_EQUAL(mp_base38_decode(s, 2, b, 8), -1);
    }
}

static mp_payload sdk_default(void)
{
    mp_payload p = {0};
    p.vendor_id = 12;
    p.product_id = 1;
    p.caps = 1;
    p.discriminator = 128;
    p.passcode = 2048;
    return p;
}

static void test_qr_vectors(void)
{
    char qr[MP_QR_MAX];
    mp_payload p = sdk_default(), d;
    const char *next;
    CU_ASSERT_EQUAL(mp_qr_encode(&p, qr), MP_OK);
    CU_ASSERT_STRING_EQUAL(qr, "MT:M5L90MP500K64J00000");
    CU_ASSERT_EQUAL(mp_qr_decode(qr, &d, &next), MP_OK);
    CU_ASSERT(d.vendor_id == 12 && d.product_id == 1 && d.caps == 1 && d.discriminator == 128 &&
              d.passcode == 2048 && d.flow == 0 && d.tlv_len == 0 && next == NULL);
    /* concatenated: discriminator and passcode +1/+2/+3 */
    const char *cat = "MT:M5L90MP500K64J00000*M5L90U.D010K4J00000*M5L900CM02IX4J00000*M5L908OU03-85J00000";
    CU_ASSERT_EQUAL(mp_qr_decode(cat, &d, &next), MP_OK);
    for (int k = 1; k <= 3; k++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(next);
        CU_ASSERT_EQUAL(mp_qr_decode_body(next, &d, &next), MP_OK);
        CU_ASSERT_EQUAL(d.discriminator, 128 + k);
        CU_ASSERT_EQUAL(d.passcode, 2048u + (unsigned)k);
        p.discriminator = (uint16_t)(128 + k);
        p.passcode = 2048u + (unsigned)k;
        char one[MP_QR_MAX];
        CU_ASSERT_EQUAL(mp_qr_encode(&p, one), MP_OK);
        CU_ASSERT_NSTRING_EQUAL(one + 3, cat + 3 + 20 * k, 19);
    }
    CU_ASSERT_PTR_NULL(next);
    CU_ASSERT_EQUAL(mp_qr_decode("MT:M5L90MP500W-GT68D20", &d, NULL), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(d.passcode, 111111111u);
    CU_ASSERT_EQUAL(mp_qr_decode("AT:M5L90MP500K64J00000", &d, NULL), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_qr_decode("MT:M5L90MP500K64J00000%extra", &d, NULL), MP_OK);
    CU_ASSERT_EQUAL(mp_qr_decode("MT:M5L90MP500K64J0000", &d, NULL), MP_ERR_INVALID); /* short */
}

/* The bit string of TestHelpers.h, MSB first, against our packing. */
static void test_qr_bits(void)
{
    const char *bits = "0000" "000000000000000100000000000" "000010000000" "00000001" "00"
                       "0000000000000001" "0000000000001100" "000";
    mp_payload p = sdk_default();
    char qr[MP_QR_MAX];
    uint8_t b[16];
    CU_ASSERT_EQUAL(mp_qr_encode(&p, qr), MP_OK);
    CU_ASSERT_EQUAL(mp_base38_decode(qr + 3, strlen(qr + 3), b, sizeof(b)), 11);
    size_t n = strlen(bits);
    CU_ASSERT_EQUAL_FATAL(n, 88u);
    for (size_t i = 0; i < n; i++) {
        size_t bit = n - 1 - i;
        CU_ASSERT_EQUAL((b[bit / 8] >> (bit % 8)) & 1, bits[i] - '0');
    }
}

static void test_qr_every_flow_and_cap(void)
{
    mp_payload p = sdk_default(), d;
    char qr[MP_QR_MAX];
    p.vendor_id = 0xFFF1;
    p.product_id = 0x8000;
    p.discriminator = 0xF00;
    p.passcode = 20202021;
    for (int flow = 0; flow <= 3; flow++) {
        for (int caps = 0; caps <= 0xFF; caps++) {
            p.flow = (uint8_t)flow;
            p.caps = (uint8_t)caps;
            int ok = flow <= 2 && caps != 0 && (caps & ~0x3F) == 0;
            CU_ASSERT_EQUAL(mp_qr_encode(&p, qr) == MP_OK, ok);
            if (!ok) continue;
            CU_ASSERT_EQUAL(strlen(qr), 22u);
            CU_ASSERT_EQUAL(mp_qr_decode(qr, &d, NULL), MP_OK);
            CU_ASSERT(d.flow == flow && d.caps == caps && d.vendor_id == 0xFFF1 && d.product_id == 0x8000 &&
                      d.discriminator == 0xF00 && d.passcode == 20202021);
        }
    }
}

static void test_manual_pack_vectors(void)
{
    char m[MP_MANUAL_MAX];
    mp_payload p = {0};
    p.passcode = 123456780;
    p.discriminator = 2560;
    CU_ASSERT_EQUAL(mp_manual_pack(&p, m), MP_OK);
    CU_ASSERT_STRING_EQUAL(m, "23610875350");
    p.vendor_id = 45367;
    p.product_id = 14526;
    CU_ASSERT_EQUAL(mp_manual_pack(&p, m), MP_OK);
    CU_ASSERT_STRING_EQUAL(m, "23610875350"); /* standard flow ignores VID/PID */
    p.flow = 2;
    CU_ASSERT_EQUAL(mp_manual_pack(&p, m), MP_OK);
    CU_ASSERT_STRING_EQUAL(m, "636108753545367145260");
    p.vendor_id = p.product_id = 0;
    CU_ASSERT_EQUAL(mp_manual_pack(&p, m), MP_OK);
    CU_ASSERT_STRING_EQUAL(m, "636108753500000000006");
    p.vendor_id = p.product_id = 1;
    CU_ASSERT_EQUAL(mp_manual_pack(&p, m), MP_OK);
    CU_ASSERT_STRING_EQUAL(m, "636108753500001000015");
    p.passcode = 0x7FFFFFF;
    p.discriminator = 0xFFF;
    p.vendor_id = p.product_id = 65535;
    CU_ASSERT_EQUAL(mp_manual_pack(&p, m), MP_OK);
    CU_ASSERT_STRING_EQUAL(m, "765535819165535655356");
    p.discriminator = 0x1F00;
    CU_ASSERT_EQUAL(mp_manual_pack(&p, m), MP_ERR_INVALID);
}

static void test_manual_decode_vectors(void)
{
    mp_payload d;
    CU_ASSERT_EQUAL(mp_manual_decode("529276236304562000322", &d), MP_OK);
    CU_ASSERT(d.passcode == 38728284 && d.discriminator == 1280 && d.vendor_id == 4562 && d.product_id == 32 && d.has_vid_pid);
    CU_ASSERT_EQUAL(mp_manual_decode("400001000000001000015", &d), MP_OK);
    CU_ASSERT(d.passcode == 1 && d.discriminator == 0 && d.vendor_id == 1 && d.product_id == 1);
    CU_ASSERT_EQUAL(mp_manual_decode("00000100007", &d), MP_OK);
    CU_ASSERT(d.passcode == 1 && !d.has_vid_pid);
    CU_ASSERT_EQUAL(mp_manual_decode("00334075358", &d), MP_OK);
    CU_ASSERT(d.passcode == 123456780 && d.discriminator == 0);
    CU_ASSERT_EQUAL(mp_manual_decode("636108753500000145263", &d), MP_OK);
    CU_ASSERT(d.vendor_id == 0 && d.product_id == 14526);
    CU_ASSERT_EQUAL(mp_manual_decode("636108753545367000008", &d), MP_OK);
    CU_ASSERT(d.vendor_id == 45367 && d.product_id == 0);
    CU_ASSERT_EQUAL(mp_manual_decode("23276800006", &d), MP_ERR_INVALID); /* passcode 0 */
    CU_ASSERT_EQUAL(mp_manual_decode("02684354589", &d), MP_ERR_INVALID); /* check digit */
    CU_ASSERT_EQUAL(mp_manual_decode("02684354584", &d), MP_OK);
    CU_ASSERT_EQUAL(mp_manual_decode("2361-087-5350", &d), MP_OK);     /* display form */
    CU_ASSERT_EQUAL(mp_manual_decode("", &d), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_manual_decode("2361087535", &d), MP_ERR_INVALID);   /* short */
    CU_ASSERT_EQUAL(mp_manual_decode("6361087535", &d), MP_ERR_INVALID);
    /* a long-code first digit with 11 digits: 6361087535 + valid check digit */
    char s[12] = "6361087535";
    s[10] = mp_verhoeff_digit(s, 10);
    s[11] = 0;
    CU_ASSERT_EQUAL(mp_manual_decode(s, &d), MP_ERR_INVALID);
}

static void test_manual_short_discriminator(void)
{
    mp_payload p = {0}, d;
    char m[MP_MANUAL_MAX];
    p.passcode = 20202021;
    p.discriminator = 0xA1F;
    CU_ASSERT_EQUAL(mp_manual_encode(&p, m), MP_OK);
    CU_ASSERT_EQUAL(mp_manual_decode(m, &d), MP_OK);
    CU_ASSERT_EQUAL(d.discriminator, 0xA00);
    p.discriminator = 0xB1F;
    CU_ASSERT_EQUAL(mp_manual_encode(&p, m), MP_OK);
    CU_ASSERT_EQUAL(mp_manual_decode(m, &d), MP_OK);
    CU_ASSERT_EQUAL(d.discriminator, 0xB00);
    p.passcode = 123456780; /* above the range: the producer refuses it */
    CU_ASSERT_EQUAL(mp_manual_encode(&p, m), MP_ERR_INVALID);
}

static void test_manual_every_flow(void)
{
    mp_payload p = {0}, d;
    char m[MP_MANUAL_MAX];
    p.vendor_id = 0xFFF1;
    p.product_id = 0x8000;
    for (uint32_t pc = 1; pc < 99999998; pc += 997331) {
        for (int flow = 0; flow <= 2; flow++) {
            p.flow = (uint8_t)flow;
            p.passcode = pc;
            p.discriminator = (uint16_t)(pc & 0xFFF);
            if (!mp_passcode_valid(pc)) continue;
            CU_ASSERT_EQUAL_FATAL(mp_manual_encode(&p, m), MP_OK);
            CU_ASSERT_EQUAL(strlen(m), flow ? 21u : 11u);
            CU_ASSERT(mp_verhoeff_valid(m, strlen(m)));
            CU_ASSERT_EQUAL(mp_manual_decode(m, &d), MP_OK);
            CU_ASSERT(d.passcode == pc && d.discriminator == (p.discriminator & 0xF00));
            CU_ASSERT(!flow || (d.vendor_id == 0xFFF1 && d.product_id == 0x8000));
            /* every single-digit substitution is caught */
            for (size_t i = 0; i < strlen(m); i++) {
                char t[MP_MANUAL_MAX];
                strcpy(t, m);
                t[i] = (char)('0' + (t[i] - '0' + 1) % 10);
                CU_ASSERT(!mp_verhoeff_valid(t, strlen(t)));
            }
        }
    }
}

static void test_payload_bounds(void)
{
    mp_payload p = sdk_default();
    char qr[MP_QR_MAX];
    p.version = 1;
    CU_ASSERT_EQUAL(mp_qr_encode(&p, qr), MP_ERR_INVALID);
    p = sdk_default();
    p.vendor_id = 0xFFF5;
    CU_ASSERT_EQUAL(mp_qr_encode(&p, qr), MP_ERR_INVALID);
    p.vendor_id = 0xFFF4;
    CU_ASSERT_EQUAL(mp_qr_encode(&p, qr), MP_OK);
    p.vendor_id = 0;
    CU_ASSERT_EQUAL(mp_qr_encode(&p, qr), MP_ERR_INVALID); /* PID without VID */
    p.product_id = 0;
    CU_ASSERT_EQUAL(mp_qr_encode(&p, qr), MP_OK);
    p.discriminator = 4096;
    CU_ASSERT_EQUAL(mp_qr_encode(&p, qr), MP_ERR_INVALID);
    p.discriminator = 4095;
    static const uint32_t bad[] = {0, 11111111, 22222222, 33333333, 44444444, 55555555, 66666666,
                                   77777777, 88888888, 99999999, 12345678, 87654321, 99999999, 100000000, 0x7FFFFFF};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p.passcode = bad[i];
        CU_ASSERT_EQUAL(mp_qr_encode(&p, qr), MP_ERR_INVALID);
    }
    p.passcode = 99999998;
    CU_ASSERT_EQUAL(mp_qr_encode(&p, qr), MP_OK);
    p.passcode = 1;
    CU_ASSERT_EQUAL(mp_qr_encode(&p, qr), MP_OK);
}

void register_onboarding(void)
{
    CU_pSuite s = CU_add_suite("onboarding", NULL, NULL);
    TU_ADD(s, test_base38_vectors);
    TU_ADD(s, test_base38_decode_edges);
    TU_ADD(s, test_qr_vectors);
    TU_ADD(s, test_qr_bits);
    TU_ADD(s, test_qr_every_flow_and_cap);
    TU_ADD(s, test_manual_pack_vectors);
    TU_ADD(s, test_manual_decode_vectors);
    TU_ADD(s, test_manual_short_discriminator);
    TU_ADD(s, test_manual_every_flow);
    TU_ADD(s, test_payload_bounds);
}
