/* test_x509.c - certificate building, SKID, serials, VID/PID rules, lint. */
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "keystore.h"
#include "lint.h"
#include "testutil.h"
#include "x509.h"

static EVP_PKEY *gen_key(uint8_t point[65])
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    size_t n = 0;
    EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed");
    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, 65, &n);
    CU_ASSERT_EQUAL(n, 65);
    return k;
}

/* A software chain PAA -> PAI -> DAC built with the production code path. */
typedef struct chain {
    EVP_PKEY *kpaa, *kpai, *kdac;
    uint8_t ppaa[65], ppai[65], pdac[65];
    X509 *paa, *pai, *dac;
} chain;

static void make_chain(chain *c)
{
    memset(c, 0, sizeof(*c));
    c->kpaa = gen_key(c->ppaa);
    c->kpai = gen_key(c->ppai);
    c->kdac = gen_key(c->pdac);
    time_t nb = 1735689600; /* 2025-01-01 */
    mp_cert_spec s = {.type = MP_PAA, .cn = "Unit PAA", .vid = 0xFFF2, .not_before = nb,
                      .not_after = MP_NO_EXPIRY, .point = c->ppaa};
    CU_ASSERT_EQUAL_FATAL(mp_cert_build(&s, c->kpaa, &c->paa), MP_OK);
    s = (mp_cert_spec){.type = MP_PAI, .cn = "Unit PAI", .vid = 0xFFF2, .pid = 0x8001, .not_before = nb,
                       .not_after = MP_NO_EXPIRY, .point = c->ppai, .issuer = c->paa};
    CU_ASSERT_EQUAL_FATAL(mp_cert_build(&s, c->kpaa, &c->pai), MP_OK);
    s = (mp_cert_spec){.type = MP_DAC, .cn = "Unit DAC", .vid = 0xFFF2, .pid = 0x8001, .not_before = nb,
                       .not_after = nb + 86400 * 365, .point = c->pdac, .issuer = c->pai};
    CU_ASSERT_EQUAL_FATAL(mp_cert_build(&s, c->kpai, &c->dac), MP_OK);
}

static void free_chain(chain *c)
{
    EVP_PKEY_free(c->kpaa);
    EVP_PKEY_free(c->kpai);
    EVP_PKEY_free(c->kdac);
    X509_free(c->paa);
    X509_free(c->pai);
    X509_free(c->dac);
}

static const uint8_t *ext_value(X509 *x, int nid, int *len, int *crit)
{
    int i = X509_get_ext_by_NID(x, nid, -1);
    CU_ASSERT_FATAL(i >= 0);
    X509_EXTENSION *e = X509_get_ext(x, i);
    ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(e);
    *len = ASN1_STRING_length(os);
    *crit = X509_EXTENSION_get_critical(e);
    return ASN1_STRING_get0_data(os);
}

static void test_profile_bytes(void)
{
    chain c;
    int len, crit;
    make_chain(&c);
    const uint8_t *v = ext_value(c.dac, NID_basic_constraints, &len, &crit);
    CU_ASSERT(len == 2 && memcmp(v, "\x30\x00", 2) == 0 && crit);
    v = ext_value(c.dac, NID_key_usage, &len, &crit);
    CU_ASSERT(len == 4 && memcmp(v, "\x03\x02\x07\x80", 4) == 0 && crit);
    v = ext_value(c.pai, NID_basic_constraints, &len, &crit);
    CU_ASSERT(len == 8 && memcmp(v, "\x30\x06\x01\x01\xFF\x02\x01\x00", 8) == 0 && crit);
    v = ext_value(c.paa, NID_basic_constraints, &len, &crit);
    CU_ASSERT(len == 8 && memcmp(v, "\x30\x06\x01\x01\xFF\x02\x01\x01", 8) == 0 && crit);
    v = ext_value(c.pai, NID_key_usage, &len, &crit);
    CU_ASSERT(len == 4 && memcmp(v, "\x03\x02\x01\x06", 4) == 0 && crit);
    /* SKID = SHA-1(point), AKID = issuer SKID, keyIdentifier only */
    uint8_t skid[20], calc[20];
    v = ext_value(c.dac, NID_subject_key_identifier, &len, &crit);
    mp_skid(c.pdac, calc);
    CU_ASSERT(len == 22 && v[0] == 0x04 && v[1] == 20 && memcmp(v + 2, calc, 20) == 0 && !crit);
    v = ext_value(c.dac, NID_authority_key_identifier, &len, &crit);
    CU_ASSERT_EQUAL(mp_cert_skid(c.pai, skid), 0);
    CU_ASSERT(len == 24 && memcmp(v, "\x30\x16\x80\x14", 4) == 0 && memcmp(v + 4, skid, 20) == 0 && !crit);
    /* issuer DER = PAI subject DER */
    CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_issuer_name(c.dac), X509_get_subject_name(c.pai)), 0);
    /* times: UTCTime before 2050, GeneralizedTime 99991231235959Z */
    CU_ASSERT_EQUAL(ASN1_STRING_type(X509_get0_notBefore(c.pai)), V_ASN1_UTCTIME);
    CU_ASSERT_EQUAL(ASN1_STRING_type(X509_get0_notAfter(c.pai)), V_ASN1_GENERALIZEDTIME);
    CU_ASSERT_STRING_EQUAL((const char *)ASN1_STRING_get0_data(X509_get0_notAfter(c.pai)), "99991231235959Z");
    /* VID/PID are UTF8String 4 uppercase hex */
    mp_vidpid vp;
    CU_ASSERT_EQUAL(mp_dn_vidpid(X509_get_subject_name(c.dac), &vp), MP_OK);
    CU_ASSERT(vp.has_vid && vp.vid == 0xFFF2 && vp.has_pid && vp.pid == 0x8001 && !vp.from_cn);
    mp_lint l;
    CU_ASSERT_EQUAL(mp_lint_cert(c.paa, MP_PAA, &l), 0);
    CU_ASSERT_EQUAL(mp_lint_cert(c.pai, MP_PAI, &l), 0);
    CU_ASSERT_EQUAL(mp_lint_cert(c.dac, MP_DAC, &l), 0);
    CU_ASSERT(i2d_X509(c.dac, NULL) <= 600);
    /* the chain verifies with X509_STRICT */
    X509_STORE *st = X509_STORE_new();
    X509_STORE_add_cert(st, c.paa);
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    sk_X509_push(untrusted, c.pai);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, st, c.dac, untrusted);
    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
    X509_STORE_CTX_set_time(ctx, 0, 1735689600 + 86400);
    CU_ASSERT_EQUAL(X509_verify_cert(ctx), 1);
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    X509_STORE_free(st);
    free_chain(&c);
}

static void test_generalized_from_2050(void)
{
    uint8_t p[65];
    EVP_PKEY *k = gen_key(p);
    X509 *x = NULL;
    mp_cert_spec s = {.type = MP_PAA, .cn = "T", .not_before = 2524608000 /* 2050-01-01 */,
                      .not_after = 2524608000 + 86400, .point = p};
    CU_ASSERT_EQUAL(mp_cert_build(&s, k, &x), MP_OK);
    CU_ASSERT_EQUAL(ASN1_STRING_type(X509_get0_notBefore(x)), V_ASN1_GENERALIZEDTIME);
    CU_ASSERT_STRING_EQUAL((const char *)ASN1_STRING_get0_data(X509_get0_notBefore(x)), "20500101000000Z");
    X509_free(x);
    s.not_before = 2524607999; /* 2049-12-31T23:59:59Z */
    CU_ASSERT_EQUAL(mp_cert_build(&s, k, &x), MP_OK);
    CU_ASSERT_STRING_EQUAL((const char *)ASN1_STRING_get0_data(X509_get0_notBefore(x)), "491231235959Z");
    X509_free(x);
    EVP_PKEY_free(k);
}

static void test_spec_rules(void)
{
    chain c;
    make_chain(&c);
    X509 *x = NULL;
    mp_cert_spec s = {.type = MP_PAA, .cn = "T", .pid = 1, .not_before = 1735689600,
                      .not_after = MP_NO_EXPIRY, .point = c.ppaa};
    CU_ASSERT_EQUAL(mp_cert_build(&s, c.kpaa, &x), MP_ERR_PROFILE); /* PID on a PAA */
    s = (mp_cert_spec){.type = MP_PAI, .cn = "T", .not_before = 1735689600, .not_after = MP_NO_EXPIRY,
                       .point = c.ppai, .issuer = c.paa};
    CU_ASSERT_EQUAL(mp_cert_build(&s, c.kpaa, &x), MP_ERR_PROFILE); /* PAI without VID */
    s.vid = 0xFFF5;
    CU_ASSERT_EQUAL(mp_cert_build(&s, c.kpaa, &x), MP_ERR_INVALID);
    s = (mp_cert_spec){.type = MP_DAC, .cn = "T", .vid = 0xFFF2, .pid = 1, .not_before = 1735689599,
                       .not_after = MP_NO_EXPIRY, .point = c.pdac, .issuer = c.pai};
    CU_ASSERT_EQUAL(mp_cert_build(&s, c.kpai, &x), MP_ERR_PROFILE); /* before the PAI window */
    s.not_before = 1735689600;
    s.cn = "0123456789012345678901234567890123456789012345678901234567890123456789";
    CU_ASSERT_EQUAL(mp_cert_build(&s, c.kpai, &x), MP_ERR_INVALID); /* CN > 64 */
    CU_ASSERT_PTR_NULL(x);
    free_chain(&c);
}

static void test_serials(void)
{
    uint8_t a[16], b[16];
    for (int i = 0; i < 200; i++) {
        CU_ASSERT_EQUAL(mp_serial_random(a), MP_OK);
        CU_ASSERT(a[0] >= 1 && a[0] <= 0x7F); /* positive, 16 octets, >= 120 bits */
    }
    CU_ASSERT_EQUAL(mp_serial_random(b), MP_OK);
    CU_ASSERT(memcmp(a, b, 16) != 0);
    /* time first: later serials sort after earlier ones (the ledger's serial
     * index appends), and the first 6 octets are now in milliseconds */
    CU_ASSERT(memcmp(a, b, 6) <= 0);
    uint64_t ms = 0;
    for (int i = 0; i < 6; i++) ms = ms << 8 | b[i];
    int64_t skew = (int64_t)(ms / 1000) - (int64_t)time(NULL);
    CU_ASSERT(skew >= -2 && skew <= 2);
    /* the other 10 octets are random: 200 serials made in the same few
     * milliseconds never share them */
    uint8_t many[200][16];
    for (int i = 0; i < 200; i++) {
        CU_ASSERT_EQUAL(mp_serial_random(many[i]), MP_OK);
        for (int k = 0; k < i; k++) CU_ASSERT(memcmp(many[i] + 6, many[k] + 6, 10) != 0);
    }
}

static void test_skid_vectors(void)
{
    const char *files[] = {"Chip-Test-PAA-FFF1-Cert.pem", "Chip-Test-PAI-FFF1-8000-Cert.pem",
                           "Chip-Test-DAC-FFF1-8000-0000-Cert.pem", "Chip-Test-CD-Signing-Cert.pem",
                           "Chip-Test-PAA-NoVID-Cert.pem"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        X509 *x = NULL;
        uint8_t p[65], skid[20], calc[20];
        CU_ASSERT_EQUAL_FATAL(mp_cert_load(tu_vector(files[i]), &x), MP_OK);
        CU_ASSERT_EQUAL(mp_cert_point(x, p), MP_OK);
        CU_ASSERT_EQUAL(mp_cert_skid(x, skid), 0);
        mp_skid(p, calc);
        CU_ASSERT_EQUAL(memcmp(skid, calc, 20), 0);
        X509_free(x);
    }
}

static void test_lint_vectors(void)
{
    struct { const char *f; int type; int ok; } v[] = {
        {"Chip-Test-PAA-FFF1-Cert.pem", MP_PAA, 1},  {"Chip-Test-PAA-NoVID-Cert.pem", MP_PAA, 1},
        {"Chip-Test-PAI-FFF1-8000-Cert.pem", MP_PAI, 1}, {"Chip-Test-DAC-FFF1-8000-0000-Cert.pem", MP_DAC, 1},
        {"Chip-Test-PAI-FFF1-8000-Cert.pem", MP_DAC, 0}, {"Chip-Test-DAC-FFF1-8000-0000-Cert.pem", MP_PAI, 0},
        {"Chip-Test-PAI-FFF1-8000-Cert.pem", MP_PAA, 0},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        X509 *x = NULL;
        mp_lint l;
        CU_ASSERT_EQUAL_FATAL(mp_cert_load(tu_vector(v[i].f), &x), MP_OK);
        int n = mp_lint_cert(x, v[i].type, &l);
        CU_ASSERT_EQUAL(n == 0, v[i].ok);
        X509_free(x);
    }
}

/* Re-sign a mutated DAC and check lint names the rule. */
static void lint_mutation(int nid, int crit, const char *der, int derlen, const char *expect)
{
    chain c;
    make_chain(&c);
    int i = X509_get_ext_by_NID(c.dac, nid, -1);
    if (i >= 0) {
        X509_EXTENSION_free(X509_delete_ext(c.dac, i));
    }
    if (der != NULL) {
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(os, (const unsigned char *)der, derlen);
        X509_EXTENSION *e = X509_EXTENSION_create_by_NID(NULL, nid, crit, os);
        X509_add_ext(c.dac, e, -1);
        X509_EXTENSION_free(e);
        ASN1_OCTET_STRING_free(os);
    }
    X509_sign(c.dac, c.kpai, EVP_sha256());
    mp_lint l;
    int n = mp_lint_cert(c.dac, MP_DAC, &l);
    int found = 0;
    for (int j = 0; j < n; j++) {
        if (strstr(l.msg[j], expect) != NULL) found = 1;
    }
    if (!found) {
        fprintf(stderr, "\nexpected lint '%s', got %d: %s\n", expect, n, n ? l.msg[0] : "-");
    }
    CU_ASSERT(found);
    free_chain(&c);
}

static void test_lint_mutations(void)
{
    lint_mutation(NID_basic_constraints, 0, NULL, 0, "basicConstraints is missing");
    lint_mutation(NID_basic_constraints, 0, "\x30\x00", 2, "basicConstraints must be critical");
    lint_mutation(NID_basic_constraints, 1, "\x30\x03\x01\x01\xFF", 5, "cA FALSE");
    lint_mutation(NID_key_usage, 1, "\x03\x02\x01\x06", 4, "exactly digitalSignature");
    lint_mutation(NID_key_usage, 0, "\x03\x02\x07\x80", 4, "keyUsage must be critical");
    lint_mutation(NID_key_usage, 0, NULL, 0, "keyUsage is missing");
    lint_mutation(NID_subject_key_identifier, 0, NULL, 0, "subjectKeyIdentifier is missing");
    lint_mutation(NID_subject_key_identifier, 0, "\x04\x08\x01\x02\x03\x04\x05\x06\x07\x08", 10, "exactly 20 bytes");
    lint_mutation(NID_subject_key_identifier, 0, "\x04\x14\x01\x02\x03\x04\x05\x06\x07\x08\x01\x02\x03\x04\x05\x06\x07\x08\x01\x02\x03\x04", 22, "not SHA-1");
    lint_mutation(NID_authority_key_identifier, 0, NULL, 0, "authorityKeyIdentifier is missing");
    lint_mutation(NID_authority_key_identifier, 1, "\x30\x16\x80\x14\x01\x02\x03\x04\x05\x06\x07\x08\x01\x02\x03\x04\x05\x06\x07\x08\x01\x02\x03\x04", 24, "must not be critical");
}

/* shared/docs/matter-attestation.md section 1.4 */
static void test_vidpid_strings(void)
{
    struct { const char *s; int cn; int ok; int hv; unsigned v; int hp; unsigned p; } t[] = {
        {"FFF1", 0, 1, 1, 0xFFF1, 0, 0}, {"0000", 0, 1, 1, 0, 0, 0}, {"12eF", 0, 0, 0, 0, 0, 0},
        {"AB5", 0, 0, 0, 0, 0, 0}, {"10FH", 0, 0, 0, 0, 0, 0}, {"0x45", 0, 0, 0, 0, 0, 0}, {"HELLO", 0, 0, 0, 0, 0, 0},
        {"Mvid:FFF1", 1, 1, 1, 0xFFF1, 0, 0}, {"Mvid:002A", 1, 1, 1, 0x2A, 0, 0},
        {"Mpid:C20A", 1, 1, 0, 0, 1, 0xC20A}, {"Mpid:03A5", 1, 1, 0, 0, 1, 0x03A5},
        {"ACME Matter Devel DAC 5CDA9899 Mvid:FFF1 Mpid:00B1", 1, 1, 1, 0xFFF1, 1, 0xB1},
        {"Mpid:00B1,ACME Matter Devel DAC 5CDA9899,Mvid:FFF1", 1, 1, 1, 0xFFF1, 1, 0xB1},
        {"ACME Matter Devel DAC 5CDA9899 Mvid:FFF1Mpid:00B1", 1, 1, 1, 0xFFF1, 1, 0xB1},
        {"Mvid:FFF1ACME Matter Devel DAC 5CDAMpid:00B19899", 1, 1, 1, 0xFFF1, 1, 0xB1},
        {"ACME Matter Devel DAC 5CDA9899 Mvid:FF1 Mpid:00B1", 1, 0, 0, 0, 0, 0},
        {"ACME Matter Devel DAC 5CDA9899 Mvid:fff1 Mpid:00B1", 1, 0, 0, 0, 0, 0},
        {"ACME Matter Devel DAC 5CDA9899 Mvid:FFF1 Mpid:B1", 1, 0, 0, 0, 0, 0},
        {"ACME Matter Devel DAC 5CDA9899 Mpid: Mvid:FFF1", 1, 0, 0, 0, 0, 0},
        {"Mpid:987Mvid:FFF10x", 1, 0, 0, 0, 0, 0},
        {"MpidMvid:FFF10 Matter Test Mpid:FE67", 1, 1, 1, 0xFFF1, 1, 0xFE67},
        {"Matter Devel Mpid:Mvid:Fff1", 1, 0, 0, 0, 0, 0},
        {"Mpid:Mvid:FFF1 Mpid:12cd Matter Test Mpid:FE67", 1, 1, 1, 0xFFF1, 1, 0xFE67},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (t[i].cn) {
            mp_vidpid vp = {0};
            int rc = mp_cn_vidpid(t[i].s, strlen(t[i].s), &vp);
            CU_ASSERT_EQUAL(rc == MP_OK, t[i].ok);
            if (rc == MP_OK && t[i].ok) {
                CU_ASSERT(vp.has_vid == t[i].hv && (!vp.has_vid || vp.vid == t[i].v));
                CU_ASSERT(vp.has_pid == t[i].hp && (!vp.has_pid || vp.pid == t[i].p));
            }
        } else {
            uint16_t v;
            int rc = mp_vidpid_attr(t[i].s, strlen(t[i].s), &v);
            CU_ASSERT_EQUAL(rc == 0, t[i].ok);
            if (rc == 0) CU_ASSERT_EQUAL(v, t[i].v);
        }
    }
}

void register_x509(void)
{
    CU_pSuite s = CU_add_suite("x509", NULL, NULL);
    TU_ADD(s, test_profile_bytes);
    TU_ADD(s, test_generalized_from_2050);
    TU_ADD(s, test_spec_rules);
    TU_ADD(s, test_serials);
    TU_ADD(s, test_skid_vectors);
    TU_ADD(s, test_lint_vectors);
    TU_ADD(s, test_lint_mutations);
    TU_ADD(s, test_vidpid_strings);
}
