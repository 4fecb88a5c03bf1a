/* test_cd.c - Certification Declarations: the SDK vectors byte for byte,
 * decoder behaviour, field rules, and the strict CMS envelope. */
#include <string.h>

#include <openssl/cms.h>
#include <openssl/pem.h>

#include "cd.h"
#include "testutil.h"
#include "tlv.h"
#include "util.h"
#include "x509.h"

/* matter-attestation.md section 4.5 */
static const char v1_content[] =
    "152400012501f1ff360205008018250334122c04135a494732303134315a423333303030312d323424050024"
    "06002507942624080018";
static const char v1_signed[] =
    "3081e806092a864886f70d010702a081da3081d7020103310d300b0609608648016503040201304506092a86"
    "4886f70d010701a0380436152400012501f1ff360205008018250334122c04135a494732303134315a423333"
    "303030312d32342405002406002507942624080018317c307a020103801462fa823359acfaa9963e1cfa140a"
    "ddf504f37160300b0609608648016503040201300a06082a8648ce3d04030204463044022043a63f2b943df3"
    "3c38b3e02fcaa75fe3532aebbf5e63f5bbdbc0b1f01d3c4f6002204c1abf5f1807b81894b1576c47e4724e4d"
    "966c612ed3fa25c118c3f2b3f90369";
static const char err01[] =
    "152400012601f1ffffff360205008018250334122c04135a494732303134315a423333303030312d32342405"
    "002406002507942624080018";
static const char err02[] =
    "152400012501f1ff360305008018250234122c04135a494732303134315a423333303030312d32342405002406"
    "002507942624080018";
static const uint8_t test_signer_skid[20] = {0x62, 0xFA, 0x82, 0x33, 0x59, 0xAC, 0xFA, 0xA9, 0x96, 0x3E,
    0x1C, 0xFA, 0x14, 0x0A, 0xDD, 0xF5, 0x04, 0xF3, 0x71, 0x60};

static mp_cd v1_fields(void)
{
    mp_cd cd = {.format_version = 1, .vendor_id = 0xFFF1, .product_ids = {0x8000}, .n_pids = 1,
                .device_type_id = 0x1234, .certificate_id = "ZIG20141ZB330001-24",
                .version_number = 0x2694, .certification_type = 0};
    return cd;
}

static void signer_point(uint8_t point[65])
{
    X509 *x = NULL;
    CU_ASSERT_EQUAL_FATAL(mp_cert_load(tu_vector("Chip-Test-CD-Signing-Cert.pem"), &x), MP_OK);
    CU_ASSERT_EQUAL(mp_cert_point(x, point), MP_OK);
    X509_free(x);
}

static EVP_PKEY *signer_key(void)
{
    FILE *f = fopen(tu_vector("Chip-Test-CD-Signing-Key.pem"), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return k;
}

static void test_cd_v1_encode(void)
{
    mp_cd cd = v1_fields();
    uint8_t buf[MP_CD_MAX_TLV];
    size_t n = 0, wl;
    uint8_t *want = tu_unhex(v1_content, &wl);
    CU_ASSERT_EQUAL(mp_cd_encode(&cd, buf, sizeof(buf), &n), MP_OK);
    CU_ASSERT(n == 54 && n == wl && memcmp(buf, want, n) == 0);
    /* too small a buffer fails cleanly */
    CU_ASSERT_EQUAL(mp_cd_encode(&cd, buf, 53, &n), MP_ERR_INVALID);
    free(want);
}

static void test_cd_v1_decode(void)
{
    size_t n;
    uint8_t *b = tu_unhex(v1_content, &n);
    mp_cd cd, want = v1_fields();
    CU_ASSERT_EQUAL(mp_cd_decode(b, n, &cd), MP_OK);
    CU_ASSERT(memcmp(&cd, &want, sizeof(cd)) == 0);
    CU_ASSERT_EQUAL(mp_cd_validate(&cd), MP_OK);
    /* every proper prefix is rejected, in an exact-size buffer */
    for (size_t len = 0; len < n; len++) {
        uint8_t *t = malloc(len ? len : 1);
        memcpy(t, b, len);
        CU_ASSERT_EQUAL(mp_cd_decode(t, len, &cd), MP_ERR_INVALID);
        free(t);
    }
    free(b);
}

static void expect_decode_err(const char *hex, const char *sdk)
{
    size_t n;
    uint8_t *b = tu_unhex(hex, &n);
    mp_cd cd;
    CU_ASSERT_EQUAL(mp_cd_decode(b, n, &cd), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), sdk));
    if (strstr(mp_err_msg(), sdk) == NULL) printf("\n  got: %s\n", mp_err_msg());
    free(b);
}

static void test_cd_negative_vectors(void)
{
    expect_decode_err(err01, "CHIP_ERROR_INVALID_INTEGER_VALUE");
    expect_decode_err(err02, "CHIP_ERROR_UNEXPECTED_TLV_ELEMENT");
}

/* Build CD TLVs by hand to exercise the decoder's rules. */
static size_t head(mp_tlv_writer *w, uint8_t *buf, size_t cap, int vid_width)
{
    mp_tlv_writer_init(w, buf, cap);
    mp_tlv_start(w, MP_TLV_ANON, MP_TLV_STRUCT);
    mp_tlv_put_uint(w, mp_tlv_ctx(0), 1);
    mp_tlv_put_uint_width(w, mp_tlv_ctx(1), 0xFFF1, vid_width);
    mp_tlv_start(w, mp_tlv_ctx(2), MP_TLV_ARRAY);
    mp_tlv_put_uint(w, MP_TLV_ANON, 0x8000);
    mp_tlv_end(w);
    mp_tlv_put_uint(w, mp_tlv_ctx(3), 0x16);
    mp_tlv_put_utf8(w, mp_tlv_ctx(4), "ZIG20141ZB330001-24", 19);
    mp_tlv_put_uint(w, mp_tlv_ctx(5), 0);
    mp_tlv_put_uint(w, mp_tlv_ctx(6), 0);
    mp_tlv_put_uint(w, mp_tlv_ctx(7), 1);
    mp_tlv_put_uint(w, mp_tlv_ctx(8), 0);
    return 0;
}

static int finish_decode(mp_tlv_writer *w, mp_cd *cd)
{
    size_t n = 0;
    mp_tlv_end(w);
    CU_ASSERT_EQUAL_FATAL(mp_tlv_finish(w, &n), MP_OK);
    return mp_cd_decode(w->buf, n, cd);
}

static void test_cd_decoder_rules(void)
{
    uint8_t buf[1024];
    mp_tlv_writer w;
    mp_cd cd;
    head(&w, buf, sizeof(buf), 4); /* 4-byte vendor_id 0x0000FFF1 is fine */
    CU_ASSERT_EQUAL(finish_decode(&w, &cd), MP_OK);
    CU_ASSERT_EQUAL(cd.vendor_id, 0xFFF1);
    head(&w, buf, sizeof(buf), 2);
    mp_tlv_put_uint(&w, mp_tlv_ctx(10), 0x8000); /* 10 without 9 */
    CU_ASSERT_EQUAL(finish_decode(&w, &cd), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "CHIP_ERROR_INVALID_TLV_ELEMENT"));
    head(&w, buf, sizeof(buf), 2);
    mp_tlv_put_uint(&w, mp_tlv_ctx(9), 0xFFF1); /* 9 without 10 */
    CU_ASSERT_EQUAL(finish_decode(&w, &cd), MP_ERR_INVALID);
    head(&w, buf, sizeof(buf), 2);
    mp_tlv_put_uint(&w, mp_tlv_ctx(9), 0xFFF1);
    mp_tlv_put_uint(&w, mp_tlv_ctx(10), 0x8001);
    mp_tlv_put_uint(&w, mp_tlv_ctx(12), 5); /* unknown trailing tags are skipped */
    mp_tlv_start(&w, mp_tlv_ctx(13), MP_TLV_STRUCT);
    mp_tlv_put_uint(&w, mp_tlv_ctx(0), 1);
    mp_tlv_end(&w);
    CU_ASSERT_EQUAL(finish_decode(&w, &cd), MP_OK);
    CU_ASSERT(cd.has_dac_origin && cd.dac_origin_vid == 0xFFF1 && cd.dac_origin_pid == 0x8001);
    head(&w, buf, sizeof(buf), 2);
    mp_tlv_put_uint(&w, mp_tlv_ctx(12), 5);
    mp_tlv_put_uint(&w, mp_tlv_ctx(9), 1); /* known tag after an unknown one */
    CU_ASSERT_EQUAL(finish_decode(&w, &cd), MP_ERR_INVALID);
    head(&w, buf, sizeof(buf), 2);
    mp_tlv_put_uint(&w, mp_tlv_ctx(8), 0); /* duplicate */
    CU_ASSERT_EQUAL(finish_decode(&w, &cd), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "CHIP_ERROR_UNEXPECTED_TLV_ELEMENT"));
    head(&w, buf, sizeof(buf), 2);
    mp_tlv_start(&w, mp_tlv_ctx(11), MP_TLV_ARRAY);
    mp_tlv_put_bytes(&w, MP_TLV_ANON, test_signer_skid, 19); /* PAA id not 20 bytes */
    mp_tlv_end(&w);
    CU_ASSERT_EQUAL(finish_decode(&w, &cd), MP_ERR_INVALID);
    head(&w, buf, sizeof(buf), 2);
    mp_tlv_start(&w, mp_tlv_ctx(11), MP_TLV_ARRAY);
    for (int i = 0; i < 11; i++) mp_tlv_put_bytes(&w, MP_TLV_ANON, test_signer_skid, 20);
    mp_tlv_end(&w);
    CU_ASSERT_EQUAL(finish_decode(&w, &cd), MP_ERR_INVALID);
    head(&w, buf, sizeof(buf), 2);
    mp_tlv_start(&w, mp_tlv_ctx(11), MP_TLV_ARRAY); /* empty list decodes, fails the rules */
    mp_tlv_end(&w);
    CU_ASSERT_EQUAL(finish_decode(&w, &cd), MP_OK);
    CU_ASSERT(cd.has_paa_list && cd.n_paas == 0);
    CU_ASSERT_EQUAL(mp_cd_validate(&cd), MP_ERR_INVALID);
}

static void test_cd_too_many_pids(void)
{
    mp_cd cd = v1_fields();
    uint8_t buf[1024];
    size_t n = 0;
    cd.n_pids = MP_CD_MAX_PIDS;
    for (size_t i = 0; i < cd.n_pids; i++) cd.product_ids[i] = (uint16_t)(0x8000 + i);
    CU_ASSERT_EQUAL(mp_cd_encode(&cd, buf, sizeof(buf), &n), MP_OK);
    mp_cd back;
    CU_ASSERT_EQUAL(mp_cd_decode(buf, n, &back), MP_OK);
    CU_ASSERT_EQUAL(back.n_pids, 100);
    /* 101 PIDs: insert one more element into the array by hand */
    uint8_t big[1024];
    size_t arr_end = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (buf[i] == 0x05 && buf[i + 1] == 0x63 && buf[i + 2] == 0x80) arr_end = i + 3;
    }
    CU_ASSERT_FATAL(arr_end > 0);
    memcpy(big, buf, arr_end);
    memcpy(big + arr_end, "\x05\x64\x80", 3);
    memcpy(big + arr_end + 3, buf + arr_end, n - arr_end);
    CU_ASSERT_EQUAL(mp_cd_decode(big, n + 3, &back), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "more than 100"));
}

static void test_cd_field_rules(void)
{
    mp_cd base = v1_fields(), cd;
    uint8_t buf[1024];
    size_t n;
#define BAD(stmt, field)                                                          \
    do {                                                                          \
        cd = base;                                                                \
        stmt;                                                                     \
        CU_ASSERT_EQUAL(mp_cd_encode(&cd, buf, sizeof(buf), &n), MP_ERR_INVALID); \
        CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), field));                      \
    } while (0)
    BAD(cd.format_version = 2, "format_version");
    BAD(cd.vendor_id = 0, "vendor_id");
    BAD(cd.vendor_id = 0xFFF5, "vendor_id");
    BAD(cd.n_pids = 0, "product_id_array");
    BAD(cd.n_pids = 101, "product_id_array");
    BAD((cd.n_pids = 2, cd.product_ids[1] = 0), "product_id_array[1]");
    BAD(strcpy(cd.certificate_id, "ZIG20141ZB330001-2"), "certificate_id");
    BAD(cd.certificate_id[3] = ' ', "certificate_id");
    BAD(cd.security_level = 1, "security_level");
    BAD(cd.security_information = 1, "security_information");
    BAD(cd.certification_type = 3, "certification_type");
    BAD(cd.device_type_id = 0x7FFFFFFF, "device_type_id");
    BAD((cd.has_dac_origin = 1, cd.dac_origin_vid = 0, cd.dac_origin_pid = 1), "dac_origin_vendor_id");
    BAD((cd.has_dac_origin = 1, cd.dac_origin_vid = 1, cd.dac_origin_pid = 0), "dac_origin_product_id");
    BAD((cd.has_paa_list = 1, cd.n_paas = 0), "authorized_paa_list");
    BAD((cd.has_paa_list = 1, cd.n_paas = 11), "authorized_paa_list");
#undef BAD
    /* the optional fields encode per 4.3 */
    cd = base;
    cd.has_dac_origin = 1;
    cd.dac_origin_vid = 0xFFF2;
    cd.dac_origin_pid = 0xB1;
    cd.has_paa_list = 1;
    cd.n_paas = 1;
    memcpy(cd.authorized_paas[0], test_signer_skid, 20);
    CU_ASSERT_EQUAL_FATAL(mp_cd_encode(&cd, buf, sizeof(buf), &n), MP_OK);
    static const uint8_t tail[] = {0x24, 0x08, 0x00, 0x25, 0x09, 0xF2, 0xFF, 0x24, 0x0A, 0xB1, 0x36, 0x0B, 0x10, 0x14};
    CU_ASSERT(memcmp(buf + 50, tail, sizeof(tail)) == 0);
    CU_ASSERT(memcmp(buf + 64, test_signer_skid, 20) == 0 && buf[84] == 0x18 && buf[85] == 0x18 && n == 86);
    mp_cd back;
    CU_ASSERT_EQUAL(mp_cd_decode(buf, n, &back), MP_OK);
    CU_ASSERT(memcmp(&back, &cd, sizeof(cd)) == 0);
}

static void test_cd_v1_signed(void)
{
    size_t n;
    uint8_t *b = tu_unhex(v1_signed, &n), point[65];
    mp_cd_env env;
    mp_cd cd, want = v1_fields();
    CU_ASSERT_EQUAL_FATAL(mp_cd_env_parse(b, n, &env), MP_OK);
    CU_ASSERT(env.skid_len == 20 && memcmp(env.skid, test_signer_skid, 20) == 0);
    CU_ASSERT_EQUAL(env.content_len, 54);
    CU_ASSERT_EQUAL(mp_cd_decode(env.content, env.content_len, &cd), MP_OK);
    CU_ASSERT(memcmp(&cd, &want, sizeof(cd)) == 0);
    signer_point(point);
    CU_ASSERT_EQUAL(mp_cd_env_verify(&env, point), MP_OK);
    point[40] ^= 1; /* not a point on the curve any more */
    CU_ASSERT_NOT_EQUAL(mp_cd_env_verify(&env, point), MP_OK);
    free(b);
}

static void test_cd_sdk_file(void)
{
    uint8_t *der = NULL, point[65];
    size_t n = 0;
    mp_cd_env env;
    mp_cd cd;
    CU_ASSERT_EQUAL_FATAL(mp_cd_read_file(tu_vector("Chip-Test-CD-FFF1-8000-8063.der"), &der, &n, &env, &cd), MP_OK);
    CU_ASSERT_EQUAL(n, 541);
    CU_ASSERT_EQUAL(env.content_len, 350);
    CU_ASSERT(memcmp(env.skid, test_signer_skid, 20) == 0);
    CU_ASSERT(cd.vendor_id == 0xFFF1 && cd.n_pids == 100 && cd.product_ids[0] == 0x8000 && cd.product_ids[99] == 0x8063);
    CU_ASSERT(cd.device_type_id == 0x16 && cd.version_number == 0x2694 && cd.certification_type == 0);
    CU_ASSERT_STRING_EQUAL(cd.certificate_id, "ZIG20142ZB330003-24");
    CU_ASSERT_EQUAL(mp_cd_validate(&cd), MP_OK);
    signer_point(point);
    CU_ASSERT_EQUAL(mp_cd_env_verify(&env, point), MP_OK);
    /* re-encoding the decoded fields gives the same TLV bytes */
    uint8_t buf[1024];
    size_t len = 0;
    CU_ASSERT_EQUAL(mp_cd_encode(&cd, buf, sizeof(buf), &len), MP_OK);
    CU_ASSERT(len == env.content_len && memcmp(buf, env.content, len) == 0);
    free(der);
}

/* Envelope mutations: each rejected with its own message. */
static char *mutant_msg(const uint8_t *der, size_t n, int want_parse_ok)
{
    mp_cd_env env;
    uint8_t point[65];
    int rc = mp_cd_env_parse(der, n, &env);
    if (rc == MP_OK) {
        CU_ASSERT(want_parse_ok);
        signer_point(point);
        rc = mp_cd_env_verify(&env, point);
        CU_ASSERT_EQUAL(rc, MP_ERR_VERIFY);
    } else {
        CU_ASSERT(!want_parse_ok);
        CU_ASSERT_EQUAL(rc, MP_ERR_INVALID);
    }
    return strdup(mp_err_msg());
}

static char *patched(size_t off, uint8_t val)
{
    size_t n;
    uint8_t *b = tu_unhex(v1_signed, &n);
    b[off] = val;
    char *m = mutant_msg(b, n, off == n - 1);
    free(b);
    return m;
}

static uint8_t *cms_sign(unsigned flags, size_t *len)
{
    X509 *x = NULL;
    EVP_PKEY *k = signer_key();
    size_t n;
    uint8_t *content = tu_unhex(v1_content, &n), *der = NULL;
    CU_ASSERT_EQUAL_FATAL(mp_cert_load(tu_vector("Chip-Test-CD-Signing-Cert.pem"), &x), MP_OK);
    BIO *in = BIO_new_mem_buf(content, (int)n);
    CMS_ContentInfo *cms = CMS_sign(x, k, NULL, in, flags);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cms);
    int l = i2d_CMS_ContentInfo(cms, &der);
    CU_ASSERT(l > 0);
    *len = (size_t)l;
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    X509_free(x);
    EVP_PKEY_free(k);
    free(content);
    return der;
}

static char *cms_mutant(unsigned flags)
{
    size_t n;
    uint8_t *der = cms_sign(flags, &n);
    char *m = mutant_msg(der, n, 0);
    OPENSSL_free(der);
    return m;
}

static void test_cd_envelope_mutations(void)
{
    const unsigned good = CMS_BINARY | CMS_NOATTR | CMS_NOCERTS | CMS_USE_KEYID;
    char *m[12];
    int k = 0;
    m[k++] = patched(22, 2);    /* SignedData version 2 */
    m[k++] = patched(115, 2);   /* SignerInfo version 2 */
    m[k++] = patched(37, 0x02); /* digestAlgorithms: SHA-384 */
    m[k++] = patched(150, 0x02);/* SignerInfo.digestAlgorithm: SHA-384 */
    m[k++] = patched(162, 0x03);/* ecdsa-with-SHA384 */
    m[k++] = patched(50, 0x02); /* eContentType not pkcs7-data */
    m[k++] = patched(234, 0x68);/* flipped signature byte */
    m[k++] = cms_mutant(good & ~(unsigned)CMS_NOCERTS);      /* certificates present */
    m[k++] = cms_mutant(good & ~(unsigned)CMS_NOATTR);       /* signed attributes present */
    m[k++] = cms_mutant(good | CMS_DETACHED);                /* detached content */
    m[k++] = cms_mutant(good & ~(unsigned)CMS_USE_KEYID);    /* issuerAndSerialNumber, v1 */
    static const char *const expect[] = {"SignedData.version", "SignerInfo.version", "SignedData.digestAlgorithms",
        "SignerInfo.digestAlgorithm", "signatureAlgorithm", "eContentType", "does not verify",
        "certificates present", "signedAttrs present", "detached", "SignedData.version"};
    for (int i = 0; i < k; i++) {
        CU_ASSERT_PTR_NOT_NULL(strstr(m[i], expect[i]));
        if (strstr(m[i], expect[i]) == NULL) printf("\n  mutation %d: %s\n", i, m[i]);
        for (int j = 0; j < i && i < k - 1; j++) {
            CU_ASSERT(strcmp(m[i], m[j]) != 0);
        }
    }
    for (int i = 0; i < k; i++) free(m[i]);
}

/* OpenSSL's CMS_sign with the documented flags gives our exact structure. */
static void test_cd_openssl_interop(void)
{
    size_t n;
    uint8_t *der = cms_sign(CMS_BINARY | CMS_NOATTR | CMS_NOCERTS | CMS_USE_KEYID, &n), point[65];
    mp_cd_env env;
    CU_ASSERT_EQUAL_FATAL(mp_cd_env_parse(der, n, &env), MP_OK);
    signer_point(point);
    CU_ASSERT_EQUAL(mp_cd_env_verify(&env, point), MP_OK);
    OPENSSL_free(der);
}

/* Our signer: same bytes as the V1 vector apart from the signature. */
static void test_cd_sign(void)
{
    size_t n, vn;
    uint8_t *content = tu_unhex(v1_content, &n), *vec = tu_unhex(v1_signed, &vn), *der = NULL, point[65];
    EVP_PKEY *k = signer_key();
    size_t len = 0;
    mp_cd_env env;
    CU_ASSERT_EQUAL_FATAL(mp_cd_sign(content, n, test_signer_skid, k, &der, &len), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_cd_env_parse(der, len, &env), MP_OK);
    signer_point(point);
    CU_ASSERT_EQUAL(mp_cd_env_verify(&env, point), MP_OK);
    /* structure up to the signature's OCTET STRING is the vector's, modulo lengths */
    size_t pre = (size_t)(env.sig - der);
    CU_ASSERT_EQUAL(pre, 165);
    CU_ASSERT(memcmp(der + 20, vec + 20, 109 - 20) == 0);
    CU_ASSERT(memcmp(der + 113, vec + 113, 164 - 113) == 0);
    /* all encodings of the file are read */
    char hex[2 * MP_CD_MAX_CMS + 1];
    uint8_t *back = NULL;
    size_t bl = 0;
    mp_hex(der, len, hex, 0);
    CU_ASSERT_EQUAL(mp_cd_unarmor((uint8_t *)hex, strlen(hex), &back, &bl), MP_OK);
    CU_ASSERT(bl == len && memcmp(back, der, len) == 0);
    free(back);
    char b64[2 * MP_CD_MAX_CMS];
    int bn = EVP_EncodeBlock((unsigned char *)b64, der, (int)len);
    CU_ASSERT_EQUAL(mp_cd_unarmor((uint8_t *)b64, (size_t)bn, &back, &bl), MP_OK);
    CU_ASSERT(bl == len && memcmp(back, der, len) == 0);
    free(back);
    CU_ASSERT_EQUAL(mp_cd_unarmor((const uint8_t *)"zz!", 3, &back, &bl), MP_ERR_INVALID);
    /* truncations of the envelope are all rejected, exact-size buffers */
    for (size_t l = 0; l < len; l++) {
        uint8_t *t = malloc(l ? l : 1);
        memcpy(t, der, l);
        CU_ASSERT_EQUAL(mp_cd_env_parse(t, l, &env), MP_ERR_INVALID);
        free(t);
    }
    free(der);
    free(content);
    free(vec);
    EVP_PKEY_free(k);
}

void register_cd(void)
{
    CU_pSuite s = CU_add_suite("cd", NULL, NULL);
    TU_ADD(s, test_cd_v1_encode);
    TU_ADD(s, test_cd_v1_decode);
    TU_ADD(s, test_cd_negative_vectors);
    TU_ADD(s, test_cd_decoder_rules);
    TU_ADD(s, test_cd_too_many_pids);
    TU_ADD(s, test_cd_field_rules);
    TU_ADD(s, test_cd_v1_signed);
    TU_ADD(s, test_cd_sdk_file);
    TU_ADD(s, test_cd_envelope_mutations);
    TU_ADD(s, test_cd_openssl_interop);
    TU_ADD(s, test_cd_sign);
}
