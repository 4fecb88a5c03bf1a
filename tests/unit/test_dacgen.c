/* test_dacgen.c - the DAC fast path equals the X509-API builder byte for byte
 * (TBS), verifies, lints clean, and handles CN templates. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/ec.h>
#include <openssl/bn.h>

#include "dac/dacgen.h"
#include "keystore.h"
#include "lint.h"
#include "testutil.h"
#include "x509.h"

static EVP_PKEY *gen(uint8_t point[65])
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    size_t n = 0;
    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, 65, &n);
    return k;
}

static void check_same(time_t nb, time_t na, const char *cn)
{
    uint8_t ppaa[65], ppai[65], pdac[65], serial[16], der[MP_DAC_MAX_DER];
    EVP_PKEY *kpaa = gen(ppaa), *kpai = gen(ppai), *kdac = gen(pdac);
    X509 *paa = NULL, *pai = NULL, *ref = NULL;
    mp_cert_spec s = {.type = MP_PAA, .cn = "P", .vid = 0xFFF2, .not_before = 1600000000,
                      .not_after = MP_NO_EXPIRY, .point = ppaa};
    CU_ASSERT_EQUAL_FATAL(mp_cert_build(&s, kpaa, &paa), MP_OK);
    s = (mp_cert_spec){.type = MP_PAI, .cn = "Test PAI with a longer name", .vid = 0xFFF2, .pid = 0x8001,
                       .not_before = 1600000000, .not_after = MP_NO_EXPIRY, .point = ppai, .issuer = paa};
    CU_ASSERT_EQUAL_FATAL(mp_cert_build(&s, kpaa, &pai), MP_OK);
    CU_ASSERT_EQUAL(mp_serial_random(serial), MP_OK);
    s = (mp_cert_spec){.type = MP_DAC, .cn = cn, .vid = 0xFFF2, .pid = 0x8001, .not_before = nb,
                       .not_after = na, .point = pdac, .issuer = pai, .serial = serial, .serial_len = 16};
    CU_ASSERT_EQUAL_FATAL(mp_cert_build(&s, kpai, &ref), MP_OK);
    mp_dac_tmpl t;
    CU_ASSERT_EQUAL_FATAL(mp_dac_tmpl_init(&t, pai, 0xFFF2, 0x8001, nb, na), MP_OK);
    EVP_PKEY_CTX *ctx = mp_dac_sign_ctx(kpai);
    mp_dac_signer sg = {.evp = ctx};
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(mp_dac_build(&t, cn, pdac, serial, &sg, der, &len), MP_OK);
    const uint8_t *p = der;
    X509 *fast = d2i_X509(NULL, &p, (long)len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fast);
    CU_ASSERT_EQUAL(p, der + len);
    uint8_t *t1 = NULL, *t2 = NULL;
    int l1 = i2d_re_X509_tbs(ref, &t1), l2 = i2d_re_X509_tbs(fast, &t2);
    CU_ASSERT_EQUAL(l1, l2);
    CU_ASSERT(l1 == l2 && memcmp(t1, t2, (size_t)l1) == 0);
    CU_ASSERT_EQUAL(X509_verify(fast, X509_get0_pubkey(pai)), 1);
    mp_lint lint;
    CU_ASSERT_EQUAL(mp_lint_cert(fast, MP_DAC, &lint), 0);
    uint8_t *d2 = NULL;
    CU_ASSERT_EQUAL(i2d_X509(fast, &d2), (int)len);
    CU_ASSERT(memcmp(d2, der, len) == 0);
    OPENSSL_free(d2);
    OPENSSL_free(t1);
    OPENSSL_free(t2);
    EVP_PKEY_CTX_free(ctx);
    X509_free(fast);
    X509_free(ref);
    X509_free(pai);
    X509_free(paa);
    EVP_PKEY_free(kpaa);
    EVP_PKEY_free(kpai);
    EVP_PKEY_free(kdac);
}

static void test_fast_equals_reference(void)
{
    check_same(1735689600, MP_NO_EXPIRY, "Matter DAC 0123456789ABCDEF");
    check_same(1735689600, 1735689600 + 86400 * 365, "D");
    check_same(2524608000, 2524608000 + 86400, "0123456789012345678901234567890123456789012345678901234567890123");
    check_same(1735689600, MP_NO_EXPIRY, "Ünïcödé ☃ DAC");
}

static void test_raw_sig_der(void)
{
    uint8_t rs[64], der[72];
    memset(rs, 0x11, 64);
    CU_ASSERT_EQUAL(mp_ecdsa_raw_to_der(rs, der), 70);
    CU_ASSERT(der[0] == 0x30 && der[1] == 68 && der[2] == 2 && der[3] == 32 && der[36] == 2);
    rs[0] = 0x80;   /* high bit: a 0x00 pad */
    rs[32] = 0x00;  /* leading zero: dropped */
    rs[33] = 0x00;
    size_t n = mp_ecdsa_raw_to_der(rs, der);
    CU_ASSERT_EQUAL(n, 2 + 2 + 33 + 2 + 30);
    CU_ASSERT(der[3] == 33 && der[4] == 0 && der[5] == 0x80 && der[37] == 2 && der[38] == 30 && der[39] == 0x11);
    /* the DER parses as an ECDSA_SIG with the same r and s */
    const uint8_t *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sig);
    uint8_t back[32];
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), back, 32);
    CU_ASSERT_EQUAL(memcmp(back, rs + 32, 32), 0);
    ECDSA_SIG_free(sig);
}

/* A conforming PAI whose subject carries extra attributes: a DAC under it
 * could exceed 600 bytes, so the template refuses it up front. */
static void test_long_pai_subject(void)
{
    uint8_t pp[65];
    EVP_PKEY *k = gen(pp);
    X509 *pai = X509_new();
    X509_NAME *n = X509_NAME_new();
    const char *long64 = "0123456789012345678901234567890123456789012345678901234567890123";
    X509_NAME_add_entry_by_NID(n, NID_commonName, V_ASN1_UTF8STRING, (const unsigned char *)long64, -1, -1, 0);
    X509_NAME_add_entry_by_NID(n, NID_organizationName, V_ASN1_UTF8STRING, (const unsigned char *)long64, -1, -1, 0);
    X509_NAME_add_entry_by_NID(n, NID_organizationalUnitName, V_ASN1_UTF8STRING, (const unsigned char *)long64, -1, -1, 0);
    X509_set_version(pai, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(pai), 1);
    X509_set_subject_name(pai, n);
    X509_set_issuer_name(pai, n);
    mp_asn1_set_time(X509_getm_notBefore(pai), 1600000000);
    mp_asn1_set_time(X509_getm_notAfter(pai), MP_NO_EXPIRY);
    uint8_t skid[22] = {0x04, 0x14};
    CU_ASSERT(mp_x509_add_ext(pai, NID_subject_key_identifier, 0, skid, sizeof(skid)));
    X509_set_pubkey(pai, k);
    X509_sign(pai, k, EVP_sha256());
    uint8_t *der = NULL;
    int dl = i2d_X509(pai, &der);
    const uint8_t *pd = der;
    X509_free(pai);
    pai = d2i_X509(NULL, &pd, dl); /* as read from a file */
    OPENSSL_free(der);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pai);
    mp_dac_tmpl t;
    CU_ASSERT_EQUAL(mp_dac_tmpl_init(&t, pai, 0xFFF2, 0x8001, 1735689600, MP_NO_EXPIRY), MP_ERR_PROFILE);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "shorten the PAI subject"));
    X509_NAME_free(n);
    X509_free(pai);
    EVP_PKEY_free(k);
}

static void test_cn_template(void)
{
    char cn[65];
    CU_ASSERT_EQUAL(mp_dac_cn("DAC {udid:8} {vid}/{pid}", "ABCDEF0123", 0xFFF2, 0x8001, cn), MP_OK);
    CU_ASSERT_STRING_EQUAL(cn, "DAC ABCDEF01 FFF2/8001");
    CU_ASSERT_EQUAL(mp_dac_cn("{udid}", "X", 1, 1, cn), MP_OK);
    CU_ASSERT_STRING_EQUAL(cn, "X");
    CU_ASSERT_EQUAL(mp_dac_cn("Matter DAC {udid}", "0123456789012345678901234567890123456789012345678901234567890123", 1, 1, cn), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_dac_cn("{nope}", "X", 1, 1, cn), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_dac_cn("{udid", "X", 1, 1, cn), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_dac_cn("", "X", 1, 1, cn), MP_ERR_INVALID);
}

void register_dacgen(void)
{
    CU_pSuite s = CU_add_suite("dacgen", NULL, NULL);
    TU_ADD(s, test_fast_equals_reference);
    TU_ADD(s, test_cn_template);
    TU_ADD(s, test_raw_sig_der);
    TU_ADD(s, test_long_pai_subject);
}
