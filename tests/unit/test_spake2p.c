/* test_spake2p.c - PBKDF2 against PKCS5_PBKDF2_HMAC, the SPAKE2+ vectors of
 * factory-data.md section 2 (with intermediates), limits, and credentials. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "testutil.h"
#include "factory-data/creds.h"
#include "factory-data/pbkdf2.h"
#include "factory-data/spake2p.h"

static void test_pbkdf2_random(void)
{
    uint8_t pw[100], salt[80], a[100], b[100], r[8];
    for (int t = 0; t < 300; t++) {
        CU_ASSERT_FATAL(RAND_bytes(r, sizeof(r)) == 1);
        size_t pl = r[0] % sizeof(pw), sl = r[1] % sizeof(salt), ol = 1 + r[2] % sizeof(a);
        uint32_t it = 1 + (uint32_t)(r[3] | r[4] << 8) % (t < 280 ? 40 : 3000);
        CU_ASSERT_FATAL(RAND_bytes(pw, sizeof(pw)) == 1 && RAND_bytes(salt, sizeof(salt)) == 1);
        CU_ASSERT_EQUAL(mp_pbkdf2_sha256(pw, pl, salt, sl, it, a, ol), 0);
        CU_ASSERT_FATAL(PKCS5_PBKDF2_HMAC((const char *)pw, (int)pl, salt, (int)sl, (int)it, EVP_sha256(), (int)ol, b) == 1);
        CU_ASSERT_EQUAL(memcmp(a, b, ol), 0);
    }
    CU_ASSERT_EQUAL(mp_pbkdf2_sha256(pw, 4, salt, 16, 0, a, 32), -1);
}

/* Known answer: RFC 7914 section 11 (PBKDF2-HMAC-SHA256 "passwd"/"salt", c=1). */
static void test_pbkdf2_rfc7914(void)
{
    size_t n;
    uint8_t out[64], *want = tu_unhex("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
                                      "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783", &n);
    CU_ASSERT_EQUAL(mp_pbkdf2_sha256((const uint8_t *)"passwd", 6, (const uint8_t *)"salt", 4, 1, out, 64), 0);
    CU_ASSERT_EQUAL(memcmp(out, want, 64), 0);
    free(want);
}

static void verifier_vector(uint32_t pc, uint32_t it, const char *b64)
{
    uint8_t salt[32], v[MP_VERIFIER_LEN];
    char out[MP_VERIFIER_B64_LEN + 1];
    long sl = mp_b64_decode("U1BBS0UyUCBLZXkgU2FsdA==", 24, salt, sizeof(salt));
    CU_ASSERT_EQUAL_FATAL(sl, 16);
    CU_ASSERT_EQUAL(mp_spake2p_verifier(pc, salt, (size_t)sl, it, v), MP_OK);
    CU_ASSERT_EQUAL(mp_b64_encode(v, sizeof(v), out, sizeof(out)), 132u);
    CU_ASSERT_STRING_EQUAL(out, b64);
    CU_ASSERT_EQUAL(mp_spake2p_check_verifier(pc, salt, (size_t)sl, it, v), MP_OK);
    CU_ASSERT_EQUAL(mp_spake2p_check_verifier(pc + 1, salt, (size_t)sl, it, v), MP_ERR_MISMATCH);
}

static void test_spake2p_vectors(void)
{
    verifier_vector(20202021, 1000, "uWFwqugDNGiEck/po7KHwwMwwqZgN10XuyBajPGuyzUEV/iree4lOrao5GuwnlQ65CJzbeUB49s31EH+NEkg0JVI5MGCQGMMT/SRPFNRODm3wH/MBiehuFc6FJ/NH6Rmzw==");
    verifier_vector(13243546, 2000, "WN0SgEXLfUN19BbJqp6qn4pS69EtdNLReIMZwv/CIM0ECMP7ytiAJ7txIYJ0Ovlha/rQ3E+88mj3qaqqnviMaZzG+OyXEdSocDIT9ZhmkTCgWwERaHz4Vdh3G37RT6kqbw==");
}

static void test_spake2p_intermediates(void)
{
    uint8_t ws[80], pw[4] = {0x25, 0x42, 0x34, 0x01}; /* 20202021 LE */
    size_t n;
    uint8_t *want = tu_unhex("aba60c30416b8f4177f5e16ad514cfd9577513f02fd60506b1049d0f2c7310010e5e40bfd86b4ef681a88b71e9e2a853985a7def916ea30e01b8722fbf7d0e38856c12cd64c225bb24ef21417e0e44e5", &n);
    CU_ASSERT_EQUAL(20202021u, 0x01344225u);
    CU_ASSERT_EQUAL(mp_pbkdf2_sha256(pw, 4, (const uint8_t *)"SPAKE2P Key Salt", 16, 1000, ws, 80), 0);
    CU_ASSERT_EQUAL(memcmp(ws, want, 80), 0);
    free(want);
    uint8_t v[97], *w0 = tu_unhex("b96170aae803346884724fe9a3b287c30330c2a660375d17bb205a8cf1aecb35", &n);
    uint8_t *w1 = tu_unhex("823d264225e36f4923b43ad64f8c862a30f4a129bbf9ee8074a32d6d67586a90", &n), L[65];
    CU_ASSERT_EQUAL(mp_spake2p_verifier(20202021, (const uint8_t *)"SPAKE2P Key Salt", 16, 1000, v), MP_OK);
    CU_ASSERT_EQUAL(memcmp(v, w0, 32), 0);
    CU_ASSERT_EQUAL(mp_p256_point(w1, L), MP_OK); /* L = w1*G */
    CU_ASSERT_EQUAL(memcmp(v + 32, L, 65), 0);
    free(w0);
    free(w1);
}

static void test_spake2p_limits(void)
{
    uint8_t salt[33] = {0}, v[97];
    CU_ASSERT_EQUAL(mp_spake2p_verifier(20202021, salt, 16, 999, v), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_spake2p_verifier(20202021, salt, 16, 100001, v), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_spake2p_verifier(20202021, salt, 15, 1000, v), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_spake2p_verifier(20202021, salt, 33, 1000, v), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_spake2p_verifier(20202021, salt, 32, 1000, v), MP_OK);
    CU_ASSERT_EQUAL(mp_spake2p_check(16, 100000), MP_OK);
}

static void test_p256_point_bounds(void)
{
    uint8_t s[32] = {0}, pt[65];
    CU_ASSERT_EQUAL(mp_p256_point(s, pt), MP_ERR_INVALID);
    memset(s, 0xFF, 32);
    CU_ASSERT_EQUAL(mp_p256_point(s, pt), MP_ERR_INVALID);
    s[0] = 0x7F;
    CU_ASSERT_EQUAL(mp_p256_point(s, pt), MP_OK);
    CU_ASSERT_EQUAL(pt[0], 0x04);
}

static void test_base64(void)
{
    uint8_t b[8];
    char o[16];
    CU_ASSERT_EQUAL(mp_b64_encode((const uint8_t *)"ab", 2, o, sizeof(o)), 4u);
    CU_ASSERT_STRING_EQUAL(o, "YWI=");
    CU_ASSERT_EQUAL(mp_b64_decode("YWI=", 4, b, sizeof(b)), 2);
    CU_ASSERT_EQUAL(mp_b64_decode("YWJ=", 4, b, sizeof(b)), -1); /* non-canonical */
    CU_ASSERT_EQUAL(mp_b64_decode("YW=I", 4, b, sizeof(b)), -1);
    CU_ASSERT_EQUAL(mp_b64_decode("YWI", 3, b, sizeof(b)), -1);
    CU_ASSERT_EQUAL(mp_b64_decode("YW I", 4, b, sizeof(b)), -1);
    CU_ASSERT_EQUAL(mp_b64_decode("YQ==YQ==", 8, b, sizeof(b)), -1);
}

static void test_passcodes(void)
{
    static const uint32_t bad[] = {0, 11111111, 22222222, 33333333, 44444444, 55555555, 66666666,
                                   77777777, 88888888, 99999999, 12345678, 87654321, 99999999, 100000000};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) CU_ASSERT(!mp_passcode_valid(bad[i]));
    CU_ASSERT(mp_passcode_valid(1) && mp_passcode_valid(99999998) && mp_passcode_valid(20202021));
    CU_ASSERT_EQUAL(mp_passcode_check("x", 1ull << 32), MP_ERR_INVALID);
    uint32_t p, max = 0, min = UINT32_MAX;
    for (int i = 0; i < 20000; i++) {
        CU_ASSERT_EQUAL_FATAL(mp_passcode_random(&p), MP_OK);
        CU_ASSERT_FATAL(mp_passcode_valid(p));
        if (p > max) max = p;
        if (p < min) min = p;
    }
    CU_ASSERT(max > 99000000 && min < 1000000); /* spans the whole range */
    uint16_t d;
    int seen_high = 0;
    for (int i = 0; i < 2000; i++) {
        CU_ASSERT_EQUAL(mp_discriminator_random(&d), MP_OK);
        CU_ASSERT(d <= 4095);
        seen_high |= d >= 4000;
    }
    CU_ASSERT(seen_high);
}

static void test_serial_template(void)
{
    char s[MP_SERIAL_MAX + 1];
    CU_ASSERT_EQUAL(mp_serial_format("ACME-{seq:08}", 42, "U1", s), MP_OK);
    CU_ASSERT_STRING_EQUAL(s, "ACME-00000042");
    CU_ASSERT_EQUAL(mp_serial_format("{udid}/{seq}", 7, "dev-1", s), MP_OK);
    CU_ASSERT_STRING_EQUAL(s, "dev-1/7");
    CU_ASSERT_EQUAL(mp_serial_format("X{hex:12}", 0, NULL, s), MP_OK);
    CU_ASSERT_EQUAL(strlen(s), 13u);
    CU_ASSERT_EQUAL(mp_serial_format("{hex:32}", 0, NULL, s), MP_OK);
    CU_ASSERT_EQUAL(strlen(s), 32u);
    CU_ASSERT_EQUAL(mp_serial_format("A{hex:32}", 0, NULL, s), MP_ERR_INVALID); /* 33 chars */
    CU_ASSERT_EQUAL(mp_serial_format("{nope}", 0, NULL, s), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_serial_format("{seq", 0, NULL, s), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_serial_format("", 0, NULL, s), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_serial_format("a\tb", 0, NULL, s), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_serial_check("x", "12345678901234567890123456789012"), MP_OK);
    CU_ASSERT_EQUAL(mp_serial_check("x", "123456789012345678901234567890123"), MP_ERR_INVALID);
}

static void test_assign_csv(void)
{
    mp_assign a;
    const char *ok = "udid,passcode,discriminator,serial,rd_uid\r\n"
                     "dev-2,20202021,3840,SN2,00112233445566778899aabbccddeeff\n"
                     "dev-1,,,SN1,\n"
                     "# comment\n\n";
    CU_ASSERT_EQUAL_FATAL(mp_assign_parse("a.csv", ok, strlen(ok), &a), MP_OK);
    CU_ASSERT_EQUAL(a.n, 2u);
    const mp_assign_row *r = mp_assign_find(&a, "dev-2");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT(r->has_passcode && r->passcode == 20202021 && r->discriminator == 3840 && r->rd_uid_len == 16 && r->line == 2);
    r = mp_assign_find(&a, "dev-1");
    CU_ASSERT(r && !r->has_passcode && !r->has_discriminator && r->has_serial && !r->has_rd_uid);
    CU_ASSERT_PTR_NULL(mp_assign_find(&a, "dev-3"));
    mp_assign_free(&a);
    CU_ASSERT_EQUAL(mp_assign_parse("a.csv", "udid,serial\n", 12, &a), MP_OK); /* header only */
    CU_ASSERT(a.n == 0 && mp_assign_find(&a, "x") == NULL);
    mp_assign_free(&a);
    static const struct { const char *csv; int rc; const char *msg; } bad[] = {
        {"udid,passcode\nd1,12345678\n", MP_ERR_INVALID, "a.csv:2: passcode"},
        {"udid,passcode\nd1,99999999\n", MP_ERR_INVALID, "a.csv:2: passcode"},
        {"udid,passcode\nd1,100000000\n", MP_ERR_INVALID, "a.csv:2: passcode"},
        {"udid,passcode\nd1,0\n", MP_ERR_INVALID, "a.csv:2: passcode"},
        {"udid,passcode\nd1,-5\n", MP_ERR_INVALID, "a.csv:2: passcode"},
        {"udid,discriminator\nd1,4096\n", MP_ERR_INVALID, "a.csv:2: discriminator"},
        {"udid,serial\nd1,123456789012345678901234567890123\n", MP_ERR_INVALID, "a.csv:2: serial"},
        {"udid,rd_uid\nd1,00112233445566778899aabbccddee\n", MP_ERR_INVALID, "a.csv:2: rd_uid"},
        {"udid,rd_uid\nd1,zz\n", MP_ERR_INVALID, "a.csv:2: rd_uid"},
        {"udid,color\nd1,1\n", MP_ERR_INVALID, "a.csv:1: column 2"},
        {"passcode,udid\n", MP_ERR_INVALID, "a.csv:1: column 1"},
        {"udid,serial,serial\n", MP_ERR_INVALID, "a.csv:1: column 3"},
        {"udid,serial\nd1\n", MP_ERR_INVALID, "a.csv:2: 1 columns"},
        {"udid,serial\nd 1,x\n", MP_ERR_INVALID, "a.csv:2: udid"},
        {"udid,serial\n\"d1,x\n", MP_ERR_INVALID, "a.csv:2: a quoted field is not closed"},
        {"udid,serial\nd1,x\"y\n", MP_ERR_INVALID, "a.csv:2: field 2: a quote inside"},
        {"udid,serial\nd1,\"SN,1\"\n", MP_ERR_INVALID, "a.csv:2: serial: serial number 'SN,1': character 3"},
        {"udid,serial\nd1,=1+2\n", MP_ERR_INVALID, "a.csv:2: serial: serial number '=1+2': character 1"},
        {"udid,serial\nd1,SN\"1\n", MP_ERR_INVALID, "a.csv:2: field 2: a quote inside"},
        {"udid,serial\nd1,A\nd1,B\n", MP_ERR_DUPLICATE, "udid 'd1'"},
        {"udid,serial\nd1,A\nd2,A\n", MP_ERR_DUPLICATE, "serial 'A'"},
        {"", MP_ERR_INVALID, "a.csv: empty file"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = mp_assign_parse("a.csv", bad[i].csv, strlen(bad[i].csv), &a);
        CU_ASSERT_EQUAL(rc, bad[i].rc);
        if (strstr(mp_err_msg(), bad[i].msg) == NULL) {
            printf("\n  case %zu: '%s' lacks '%s'\n", i, mp_err_msg(), bad[i].msg);
            CU_FAIL("message");
        }
        CU_ASSERT(i != 2 || strstr(mp_err_msg(), "100000000") == NULL); /* never echo a passcode */
    }
}

void register_spake2p(void)
{
    CU_pSuite s = CU_add_suite("spake2p", NULL, NULL);
    TU_ADD(s, test_pbkdf2_random);
    TU_ADD(s, test_pbkdf2_rfc7914);
    TU_ADD(s, test_spake2p_vectors);
    TU_ADD(s, test_spake2p_intermediates);
    TU_ADD(s, test_spake2p_limits);
    TU_ADD(s, test_p256_point_bounds);
    TU_ADD(s, test_base64);
    TU_ADD(s, test_passcodes);
    TU_ADD(s, test_serial_template);
    TU_ADD(s, test_assign_csv);
}
