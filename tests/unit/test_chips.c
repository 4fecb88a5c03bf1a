/* test_chips.c - chip lists: point decoding, UDID rules, CSV/JSON parsing with
 * locations, list signatures (raw ECDSA and CMS), birth certificates and the
 * simulator's key store. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/pem.h> /* before cms.h */
#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "chips/chips.h"
#include "udid.h"
#include "b64.h"
#include "testutil.h"
#include "util.h"
#include "x509.h"

/* The SDK test DAC's public key, a known-good point. */
static void dac_point(uint8_t p[65])
{
    X509 *x = NULL;
    CU_ASSERT_EQUAL_FATAL(mp_cert_load(tu_vector("Chip-Test-DAC-FFF1-8000-0000-Cert.pem"), &x), MP_OK);
    CU_ASSERT_EQUAL(mp_cert_point(x, p), MP_OK);
    X509_free(x);
}

static int decode_hex(mp_chip_dec *d, const uint8_t *raw, size_t n, uint8_t out[65])
{
    char hex[200];
    mp_hex(raw, n, hex, 0);
    return mp_chip_point_decode(d, hex, strlen(hex), out);
}

static void test_point_forms(void)
{
    uint8_t p[65], out[65], comp[33];
    char b64[100];
    mp_chip_dec *d = NULL;
    dac_point(p);
    CU_ASSERT_EQUAL_FATAL(mp_chip_dec_new(&d), MP_OK);
    CU_ASSERT_EQUAL(decode_hex(d, p, 65, out), MP_OK);
    CU_ASSERT_EQUAL(memcmp(out, p, 65), 0);
    /* compressed: 02|03 by parity of Y, decodes to the same uncompressed point */
    comp[0] = (uint8_t)(0x02 | (p[64] & 1));
    memcpy(comp + 1, p + 1, 32);
    memset(out, 0, 65);
    CU_ASSERT_EQUAL(decode_hex(d, comp, 33, out), MP_OK);
    CU_ASSERT_EQUAL(memcmp(out, p, 65), 0);
    /* base64 of both forms */
    EVP_EncodeBlock((unsigned char *)b64, p, 65);
    CU_ASSERT_EQUAL(mp_chip_point_decode(d, b64, strlen(b64), out), MP_OK);
    CU_ASSERT_EQUAL(memcmp(out, p, 65), 0);
    EVP_EncodeBlock((unsigned char *)b64, comp, 33);
    CU_ASSERT_EQUAL(mp_chip_point_decode(d, b64, strlen(b64), out), MP_OK);
    CU_ASSERT_EQUAL(memcmp(out, p, 65), 0);
    /* uppercase hex */
    char hex[131];
    mp_hex(p, 65, hex, 1);
    CU_ASSERT_EQUAL(mp_chip_point_decode(d, hex, 130, out), MP_OK);
    /* the other parity gives the negated point: valid, but a different key */
    comp[0] ^= 1;
    CU_ASSERT_EQUAL(decode_hex(d, comp, 33, out), MP_OK);
    CU_ASSERT_NOT_EQUAL(memcmp(out, p, 65), 0);
    mp_chip_dec_free(d);
}

static void test_point_bad(void)
{
    uint8_t p[65], q[65], out[65];
    mp_chip_dec *d = NULL;
    dac_point(p);
    CU_ASSERT_EQUAL_FATAL(mp_chip_dec_new(&d), MP_OK);
    memcpy(q, p, 65);
    q[64] ^= 1; /* off the curve */
    CU_ASSERT_EQUAL(decode_hex(d, q, 65, out), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "not a point on the P-256 curve"));
    memset(q + 1, 0, 64); /* (0,0): not on the curve */
    CU_ASSERT_EQUAL(decode_hex(d, q, 65, out), MP_ERR_INVALID);
    memset(q + 1, 0xFF, 64); /* coordinates >= p */
    CU_ASSERT_EQUAL(decode_hex(d, q, 65, out), MP_ERR_INVALID);
    uint8_t inf = 0x00; /* the encoding of infinity */
    CU_ASSERT_EQUAL(decode_hex(d, &inf, 1, out), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_chip_point_bytes(d, &inf, 1, out), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_chip_point_bytes(d, p, 64, out), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "64 bytes"));
    memcpy(q, p, 65);
    q[0] = 0x06; /* hybrid form */
    CU_ASSERT_EQUAL(mp_chip_point_bytes(d, q, 65, out), MP_ERR_INVALID);
    q[0] = 0x04;
    CU_ASSERT_EQUAL(mp_chip_point_bytes(d, q, 33, out), MP_ERR_INVALID); /* 04 prefix on 33 bytes */
    /* a compressed X with no square root for Y */
    uint8_t c[33] = {0x02};
    int found_bad = 0;
    for (int i = 0; i < 16 && !found_bad; i++) {
        c[32] = (uint8_t)i;
        found_bad = mp_chip_point_bytes(d, c, 33, out) == MP_ERR_INVALID;
    }
    CU_ASSERT(found_bad);
    CU_ASSERT_EQUAL(mp_chip_point_decode(d, "", 0, out), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_chip_point_decode(d, "zz", 2, out), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_chip_point_decode(d, "04", 2, out), MP_ERR_INVALID);
    mp_chip_dec_free(d);
}

static void test_base64(void)
{
    uint8_t out[8];
    CU_ASSERT_EQUAL(mp_b64_decode_unpadded("AQID", 4, out, 8), 3);
    CU_ASSERT_EQUAL(mp_b64_decode_unpadded("AQI=", 4, out, 8), 2);
    CU_ASSERT_EQUAL(mp_b64_decode_unpadded("AQI", 3, out, 8), 2);  /* unpadded */
    CU_ASSERT_EQUAL(mp_b64_decode_unpadded("AQJ=", 4, out, 8), -1); /* non-zero spare bits */
    CU_ASSERT_EQUAL(mp_b64_decode_unpadded("AQ=", 3, out, 8), -1);  /* bad padding */
    CU_ASSERT_EQUAL(mp_b64_decode_unpadded("A", 1, out, 8), -1);
    CU_ASSERT_EQUAL(mp_b64_decode_unpadded("AQ-D", 4, out, 8), -1);
    CU_ASSERT_EQUAL(mp_b64_decode_unpadded("AQIDBA==", 8, out, 3), -1); /* too long */
}

static void test_udid_rules(void)
{
    char longu[70];
    memset(longu, 'A', 65);
    longu[65] = 0;
    CU_ASSERT_EQUAL(mp_chip_udid_check("chip-0001_a-B", 13), MP_OK);
    /* issue 13 item 17: one rule, core/udid.h */
    CU_ASSERT_EQUAL(mp_chip_udid_check("chip-0001_a.b", 13), MP_ERR_INVALID); /* '.': DEV1.key.der */
    CU_ASSERT_EQUAL(mp_chip_udid_check("DEV1.key", 8), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_chip_udid_check("a:b", 3), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_chip_udid_check("-rf", 3), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_chip_udid_check("_a", 2), MP_ERR_INVALID);
    const char *reserved[] = {"CON", "con", "PRN", "aux", "NUL", "nUl", "COM0", "com9", "LPT1", "lpt9"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        CU_ASSERT_EQUAL(mp_udid_check(reserved[i], strlen(reserved[i])), MP_ERR_INVALID);
        CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "Windows"));
    }
    const char *fine[] = {"CONS", "NULL", "COM", "COM10", "LPT", "A", "9", "a_b-c"};
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        CU_ASSERT_EQUAL(mp_udid_check(fine[i], strlen(fine[i])), MP_OK);
    }
    CU_ASSERT_EQUAL(mp_chip_udid_check(longu, 64), MP_OK);
    CU_ASSERT_EQUAL(mp_chip_udid_check(longu, 65), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_chip_udid_check("", 0), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_chip_udid_check(".hidden", 7), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_chip_udid_check("a/b", 3), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_chip_udid_check("a b", 3), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_chip_udid_check("a\0b", 3), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_chip_udid_check("..", 2), MP_ERR_INVALID);

    /* the SHA-256 rule: uppercase hex of SHA-256 over the 65-byte point */
    uint8_t p[65], h[32];
    char want[65], got[65];
    dac_point(p);
    SHA256(p, 65, h);
    mp_hex(h, 32, want, 1);
    mp_chip_udid_of(p, got);
    CU_ASSERT_STRING_EQUAL(got, want);
    mp_chips_src src = {.name = "t", .check_udid_hash = 1};
    mp_chip_entry e;
    memset(&e, 0, sizeof(e));
    memcpy(e.point, p, 65);
    CU_ASSERT_EQUAL(mp_chip_entry_udid(&src, want, 64, &e), MP_OK);
    mp_hex(h, 32, got, 0); /* lowercase is not the rule */
    CU_ASSERT_EQUAL(mp_chip_entry_udid(&src, got, 64, &e), MP_ERR_MISMATCH);
    CU_ASSERT_EQUAL(mp_chip_entry_udid(&src, "chip-1", 6, &e), MP_ERR_MISMATCH);
    src.check_udid_hash = 0;
    CU_ASSERT_EQUAL(mp_chip_entry_udid(&src, "chip-1", 6, &e), MP_OK);
    CU_ASSERT_STRING_EQUAL(e.udid, "chip-1");
    CU_ASSERT_EQUAL(mp_chip_entry_udid(&src, "", 0, &e), MP_OK);
    CU_ASSERT_STRING_EQUAL(e.udid, want);
}

/* ---- parsers ------------------------------------------------------------------- */

typedef struct seen {
    size_t n;
    char udid[4][65];
    char where[4][300];
    int fail_at; /* entry index at which the callback refuses (0 = never) */
} seen;

static int collect(void *ctx, const mp_chip_entry *e)
{
    seen *s = ctx;
    if (s->fail_at != 0 && (int)e->index == s->fail_at) {
        return mp_err(MP_ERR_DUPLICATE, "refused by the ledger");
    }
    if (s->n < 4) {
        snprintf(s->udid[s->n], 65, "%s", e->udid);
        snprintf(s->where[s->n], 300, "%s", e->where);
    }
    s->n++;
    return MP_OK;
}

static char g_hex[131], g_b64[100], g_comp[67], g_udid[65];

static void fixtures(void)
{
    uint8_t p[65], c[33];
    dac_point(p);
    mp_hex(p, 65, g_hex, 0);
    EVP_EncodeBlock((unsigned char *)g_b64, p, 65);
    c[0] = (uint8_t)(0x02 | (p[64] & 1));
    memcpy(c + 1, p + 1, 32);
    mp_hex(c, 33, g_comp, 1);
    mp_chip_udid_of(p, g_udid);
}

static int csv(const char *text, seen *s, size_t *count)
{
    mp_chips_src src = {.name = "list.csv"};
    memset(s, 0, sizeof(*s));
    return mp_chips_parse_csv(&src, (const uint8_t *)text, strlen(text), collect, s, count);
}

static void test_csv_good(void)
{
    char buf[1024];
    seen s;
    size_t n = 0;
    fixtures();
    snprintf(buf, sizeof(buf), "\xEF\xBB\xBFudid,public_key\r\nchip-1,%s\r\n\r\n  \n \"chip-2\" ,\"%s\"\n,%s", g_hex, g_comp, g_b64);
    CU_ASSERT_EQUAL(csv(buf, &s, &n), MP_OK);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_STRING_EQUAL(s.udid[0], "chip-1");
    CU_ASSERT_STRING_EQUAL(s.udid[1], "chip-2");
    CU_ASSERT_STRING_EQUAL(s.udid[2], g_udid); /* no UDID: the SHA-256 rule */
    CU_ASSERT_STRING_EQUAL(s.where[0], "list.csv:2");
    CU_ASSERT_STRING_EQUAL(s.where[1], "list.csv:5");
    CU_ASSERT_STRING_EQUAL(s.where[2], "list.csv:6");
}

static void expect_csv(const char *text, int rc, const char *needle)
{
    seen s;
    size_t n = 0;
    CU_ASSERT_EQUAL(csv(text, &s, &n), rc);
    if (strstr(mp_err_msg(), needle) == NULL) {
        fprintf(stderr, "\n  message '%s' lacks '%s'\n", mp_err_msg(), needle);
        CU_FAIL("message");
    }
}

static void test_csv_bad(void)
{
    char buf[1024];
    fixtures();
    expect_csv("", MP_ERR_INVALID, "empty file");
    expect_csv("udid,key\n", MP_ERR_INVALID, "list.csv:1: the header");
    expect_csv("udid,public_key\n", MP_ERR_INVALID, "no entries");
    expect_csv("udid,public_key\n\n", MP_ERR_INVALID, "no entries");
    snprintf(buf, sizeof(buf), "udid,public_key\na,%s\nb,%s,extra\n", g_hex, g_hex);
    expect_csv(buf, MP_ERR_INVALID, "list.csv:3: expected 2 comma-separated fields");
    snprintf(buf, sizeof(buf), "udid,public_key\na,%s\nb\n", g_hex);
    expect_csv(buf, MP_ERR_INVALID, "list.csv:3: expected 2");
    snprintf(buf, sizeof(buf), "udid,public_key\na,%s\nb,%.128s00\n", g_hex, g_hex);
    expect_csv(buf, MP_ERR_INVALID, "list.csv:3: public key is not a point on the P-256 curve");
    snprintf(buf, sizeof(buf), "udid,public_key\na/b,%s\n", g_hex);
    expect_csv(buf, MP_ERR_INVALID, "list.csv:2: UDID has character 0x2F");
    snprintf(buf, sizeof(buf), "udid,public_key\na,\"%s\n", g_hex);
    expect_csv(buf, MP_ERR_INVALID, "list.csv:2: a stray double quote");
    snprintf(buf, sizeof(buf), "udid,public_key\na,%.128s\n", g_hex);
    expect_csv(buf, MP_ERR_INVALID, "list.csv:2: public key is 64 bytes");
    /* an error from the ledger callback names the line */
    seen s;
    size_t n = 0;
    mp_chips_src src = {.name = "list.csv"};
    snprintf(buf, sizeof(buf), "udid,public_key\na,%s\nb,%s\n", g_hex, g_hex);
    memset(&s, 0, sizeof(s));
    s.fail_at = 2;
    CU_ASSERT_EQUAL(mp_chips_parse_csv(&src, (const uint8_t *)buf, strlen(buf), collect, &s, &n), MP_ERR_DUPLICATE);
    CU_ASSERT_STRING_EQUAL(mp_err_msg(), "list.csv:3: refused by the ledger");
    CU_ASSERT_EQUAL(n, 1);
}

static int json(const char *text, seen *s, size_t *count)
{
    mp_chips_src src = {.name = "list.json"};
    memset(s, 0, sizeof(*s));
    return mp_chips_parse_json(&src, (const uint8_t *)text, strlen(text), collect, s, count);
}

static void expect_json(const char *text, int rc, const char *needle)
{
    seen s;
    size_t n = 0;
    CU_ASSERT_EQUAL(json(text, &s, &n), rc);
    if (strstr(mp_err_msg(), needle) == NULL) {
        fprintf(stderr, "\n  message '%s' lacks '%s'\n", mp_err_msg(), needle);
        CU_FAIL("message");
    }
}

static void test_json_good(void)
{
    char buf[1024];
    seen s;
    size_t n = 0;
    fixtures();
    snprintf(buf, sizeof(buf),
             " [\n  {\"udid\": \"chip\\u002d1\", \"public_key\": \"%s\"},\n"
             "  {\"public_key\": \"%s\"}\n  ,{\"udid\":null,\"public_key\":\"%s\"}]\n",
             g_hex, g_b64, g_comp);
    CU_ASSERT_EQUAL(json(buf, &s, &n), MP_OK);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_STRING_EQUAL(s.udid[0], "chip-1");
    CU_ASSERT_STRING_EQUAL(s.udid[1], g_udid);
    CU_ASSERT_STRING_EQUAL(s.udid[2], g_udid);
    CU_ASSERT_STRING_EQUAL(s.where[0], "list.json: entry 1 (line 2)");
    CU_ASSERT_STRING_EQUAL(s.where[1], "list.json: entry 2 (line 3)");
    CU_ASSERT_STRING_EQUAL(s.where[2], "list.json: entry 3 (line 4)");
}

static void test_json_bad(void)
{
    char buf[1024];
    fixtures();
    expect_json("", MP_ERR_INVALID, "expected a JSON array");
    expect_json("{}", MP_ERR_INVALID, "list.json: line 1: expected a JSON array");
    expect_json("[]", MP_ERR_INVALID, "no entries");
    snprintf(buf, sizeof(buf), "[\n{\"udid\":\"a\",\"public_key\":\"%s\"},\n{\"udid\":\"b\"}\n]", g_hex);
    expect_json(buf, MP_ERR_INVALID, "list.json: entry 2 (line 3): \"public_key\" is missing");
    snprintf(buf, sizeof(buf), "[\n{\"udid\":\"a\",\"public_key\":\"%s\",\"x\":1}]", g_hex);
    expect_json(buf, MP_ERR_INVALID, "entry 1 (line 2): unknown field \"x\"");
    snprintf(buf, sizeof(buf), "[\n{\"udid\":7,\"public_key\":\"%s\"}]", g_hex);
    expect_json(buf, MP_ERR_INVALID, "entry 1 (line 2): \"udid\" must be a string");
    snprintf(buf, sizeof(buf), "[\n\"%s\"]", g_hex);
    expect_json(buf, MP_ERR_INVALID, "entry 1 (line 2): expected an object");
    snprintf(buf, sizeof(buf), "[{\"udid\":\"a\",\"public_key\":\"%s\"}\n\n{\"udid\":\"b\"}]", g_hex);
    expect_json(buf, MP_ERR_INVALID, "line 3: expected ',' or ']' after entry 1");
    snprintf(buf, sizeof(buf), "[{\"udid\":\"a\",\"public_key\":\"%s\"}] x", g_hex);
    expect_json(buf, MP_ERR_INVALID, "unexpected data after the array");
    snprintf(buf, sizeof(buf), "[{\"udid\":\"a\",\"public_key\":\"%s\"},\n\n{\"udid\":\"b\",,}]", g_hex);
    expect_json(buf, MP_ERR_INVALID, "list.json: line 3:");
    snprintf(buf, sizeof(buf), "[{\"udid\":\"a\",\"udid\":\"b\",\"public_key\":\"%s\"}]", g_hex);
    expect_json(buf, MP_ERR_INVALID, "duplicate");
    snprintf(buf, sizeof(buf), "[\n{\"udid\":\"a\",\"public_key\":\"%.64s\"}]", g_hex);
    expect_json(buf, MP_ERR_INVALID, "entry 1 (line 2): public key is");
    snprintf(buf, sizeof(buf), "[{\"udid\":\"a\",\"public_key\":\"%s\"}", g_hex);
    expect_json(buf, MP_ERR_INVALID, "expected ',' or ']'");
}

/* ---- signatures ---------------------------------------------------------------- */

static void load_signer(X509 **cert, EVP_PKEY **key)
{
    uint8_t *b = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(mp_cert_load(tu_vector("Chip-Test-PAI-FFF1-8000-Cert.pem"), cert), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_read_file(tu_vector("Chip-Test-PAI-FFF1-8000-Key.pem"), 1 << 16, &b, &n), MP_OK);
    BIO *bio = BIO_new_mem_buf(b, (int)n);
    *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    free(b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(*key);
}

static const char list_data[] = "udid,public_key\r\nchip,04ab\r\n";

static void test_sig_ecdsa(void)
{
    X509 *cert = NULL, *other = NULL;
    EVP_PKEY *key = NULL;
    uint8_t sig[80];
    size_t sl = sizeof(sig);
    char desc[512];
    const char *kind = NULL;
    load_signer(&cert, &key);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    CU_ASSERT_EQUAL_FATAL(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
    CU_ASSERT_EQUAL_FATAL(EVP_DigestSign(md, sig, &sl, (const uint8_t *)list_data, strlen(list_data)), 1);
    EVP_MD_CTX_free(md);
    CU_ASSERT_EQUAL(mp_chips_verify_sig((const uint8_t *)list_data, strlen(list_data), sig, sl, cert, desc, &kind), MP_OK);
    CU_ASSERT_STRING_EQUAL(kind, "ecdsa");
    CU_ASSERT_PTR_NOT_NULL(strstr(desc, "sha256="));
    /* one byte less (the final LF) no longer verifies: exact bytes, binary */
    CU_ASSERT_EQUAL(mp_chips_verify_sig((const uint8_t *)list_data, strlen(list_data) - 1, sig, sl, cert, desc, &kind), MP_ERR_VERIFY);
    CU_ASSERT_EQUAL(mp_cert_load(tu_vector("Chip-Test-PAA-FFF1-Cert.pem"), &other), MP_OK);
    CU_ASSERT_EQUAL(mp_chips_verify_sig((const uint8_t *)list_data, strlen(list_data), sig, sl, other, desc, &kind), MP_ERR_VERIFY);
    sig[sl - 1] ^= 1;
    CU_ASSERT_EQUAL(mp_chips_verify_sig((const uint8_t *)list_data, strlen(list_data), sig, sl, cert, desc, &kind), MP_ERR_VERIFY);
    CU_ASSERT_EQUAL(mp_chips_verify_sig((const uint8_t *)list_data, strlen(list_data), (const uint8_t *)"junk", 4, cert, desc, &kind), MP_ERR_VERIFY);
    X509_free(other);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static uint8_t *cms_der(X509 *cert, EVP_PKEY *key, int flags, int pem, size_t *len)
{
    BIO *in = BIO_new_mem_buf(list_data, (int)strlen(list_data));
    CMS_ContentInfo *cms = CMS_sign(cert, key, NULL, in, flags);
    BIO_free(in);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cms);
    BIO *out = BIO_new(BIO_s_mem());
    if (pem) PEM_write_bio_CMS(out, cms);
    else i2d_CMS_bio(out, cms);
    char *p = NULL;
    *len = (size_t)BIO_get_mem_data(out, &p);
    uint8_t *copy = malloc(*len);
    memcpy(copy, p, *len);
    BIO_free(out);
    CMS_ContentInfo_free(cms);
    return copy;
}

static void test_sig_cms(void)
{
    X509 *cert = NULL, *other = NULL;
    EVP_PKEY *key = NULL;
    char desc[512];
    const char *kind = NULL;
    size_t n = 0;
    const uint8_t *data = (const uint8_t *)list_data;
    size_t dl = strlen(list_data);
    load_signer(&cert, &key);
    CU_ASSERT_EQUAL(mp_cert_load(tu_vector("Chip-Test-PAA-FFF1-Cert.pem"), &other), MP_OK);
    uint8_t *der = cms_der(cert, key, CMS_DETACHED | CMS_BINARY, 0, &n);
    CU_ASSERT_EQUAL(mp_chips_verify_sig(data, dl, der, n, cert, desc, &kind), MP_OK);
    CU_ASSERT_STRING_EQUAL(kind, "cms");
    CU_ASSERT_EQUAL(mp_chips_verify_sig(data, dl - 1, der, n, cert, desc, &kind), MP_ERR_VERIFY);
    CU_ASSERT_EQUAL(mp_chips_verify_sig(data, dl, der, n, other, desc, &kind), MP_ERR_VERIFY);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "another signer"));
    der[n - 1] ^= 1; /* the signature value */
    CU_ASSERT_EQUAL(mp_chips_verify_sig(data, dl, der, n, cert, desc, &kind), MP_ERR_VERIFY);
    free(der);
    der = cms_der(cert, key, CMS_DETACHED | CMS_BINARY, 1, &n); /* PEM */
    CU_ASSERT_EQUAL(mp_chips_verify_sig(data, dl, der, n, cert, desc, &kind), MP_OK);
    free(der);
    der = cms_der(cert, key, CMS_BINARY, 0, &n); /* content embedded: refused */
    CU_ASSERT_EQUAL(mp_chips_verify_sig(data, dl, der, n, cert, desc, &kind), MP_ERR_VERIFY);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "detached"));
    free(der);
    X509_free(other);
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* ---- simulator and birth certificates ------------------------------------------ */

static int first_entry(void *ctx, const mp_chip_entry *e)
{
    mp_chip_entry *first = ctx;
    if (e->index == 1) *first = *e;
    return MP_OK;
}

static void test_simulator_birth(void)
{
    char dir[] = "/tmp/mp-ut-chips.XXXXXX", path[256];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    mp_chips_sim sim = {.out_dir = dir, .count = 5, .birth_certs = 1};
    CU_ASSERT_EQUAL_FATAL(mp_chips_simulate(&sim), MP_OK);
    CU_ASSERT_EQUAL(mp_chips_simulate(&sim), MP_ERR_EXISTS); /* no overwrite without force */
    X509 *root = NULL, *paa = NULL;
    uint8_t *buf = NULL;
    size_t len = 0, count = 0;
    snprintf(path, sizeof(path), "%s/chipmaker.pem", dir);
    CU_ASSERT_EQUAL_FATAL(mp_cert_load(path, &root), MP_OK);
    snprintf(path, sizeof(path), "%s/birth-certs.pem", dir);
    CU_ASSERT_EQUAL_FATAL(mp_read_file(path, 1 << 24, &buf, &len), MP_OK);
    mp_chip_entry first;
    mp_chips_src src = {.name = "birth-certs.pem", .root = root, .check_udid_hash = 1};
    CU_ASSERT_EQUAL(mp_chips_parse_birth(&src, buf, len, first_entry, &first, &count), MP_OK);
    CU_ASSERT_EQUAL(count, 5);
    /* the simulated chip's key pair matches its birth certificate */
    EVP_PKEY *k = NULL;
    uint8_t pt[65];
    size_t pl = 0;
    CU_ASSERT_EQUAL_FATAL(mp_sim_device_key(dir, first.udid, &k), MP_OK);
    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, 65, &pl);
    CU_ASSERT_EQUAL(memcmp(pt, first.point, 65), 0);
    EVP_PKEY_free(k);
    CU_ASSERT_EQUAL(mp_sim_device_key(dir, "NOSUCH", &k), MP_ERR_UNAUTHORIZED);
    /* serialNumber is absent in the simulated certificates */
    src.udid_from = MP_UDID_FROM_SERIAL;
    CU_ASSERT_EQUAL(mp_chips_parse_birth(&src, buf, len, first_entry, &first, &count), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "birth-certs.pem: certificate 1: subject must have exactly one serialNumber"));
    /* another root: the chain does not verify */
    CU_ASSERT_EQUAL(mp_cert_load(tu_vector("Chip-Test-PAA-FFF1-Cert.pem"), &paa), MP_OK);
    src.root = paa;
    src.udid_from = MP_UDID_FROM_CN;
    CU_ASSERT_EQUAL(mp_chips_parse_birth(&src, buf, len, first_entry, &first, &count), MP_ERR_VERIFY);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "certificate 1: birth certificate does not verify"));
    free(buf);
    X509_free(root);
    X509_free(paa);
    const char *names[] = {"chipmaker.key", "chipmaker.pem", "device-keys.csv", "chips.csv", "chips.csv.sig",
                           "chips.json", "chips.json.p7s", "birth-certs.pem"};
    for (size_t i = 0; i < 8; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        CU_ASSERT_EQUAL(unlink(path), 0);
    }
    CU_ASSERT_EQUAL(rmdir(dir), 0); /* nothing else (no temporary files) left */
}

void register_chips(void)
{
    CU_pSuite s = CU_add_suite("chips", NULL, NULL);
    TU_ADD(s, test_point_forms);
    TU_ADD(s, test_point_bad);
    TU_ADD(s, test_base64);
    TU_ADD(s, test_udid_rules);
    TU_ADD(s, test_csv_good);
    TU_ADD(s, test_csv_bad);
    TU_ADD(s, test_json_good);
    TU_ADD(s, test_json_bad);
    TU_ADD(s, test_sig_ecdsa);
    TU_ADD(s, test_sig_cms);
    TU_ADD(s, test_simulator_birth);
}
