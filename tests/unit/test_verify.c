/* test_verify.c - the attestation verifier, check by check, on software
 * chains mutated one field at a time, the SDK vectors, CDs and revocation. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cd.h"
#include "keystore.h"
#include "testutil.h"
#include "util.h"
#include "verify/tv.h"
#include "verify/verify.h"
#include "x509.h"

#define NB ((time_t)1735689600) /* 2025-01-01 */
#define AT ((time_t)1748736000) /* 2025-06-01 */

typedef struct fx {
    tv_key kpaa, kpai, kdac, kcd;
    X509 *paa, *pai, *cd_signer;
    mp_va_input in;
} fx;

static void put(mp_va_buf *b, X509 *x)
{
    uint8_t *der = NULL;
    int n = i2d_X509(x, &der);
    free(b->der);
    b->der = malloc((size_t)n);
    memcpy(b->der, der, (size_t)n);
    b->len = (size_t)n;
    b->name = "mem";
    OPENSSL_free(der);
}

static X509 *cert(int type, const char *vid, const char *pid, X509 *issuer, EVP_PKEY *signer, const uint8_t *point,
                  int curve, time_t nb, int defect)
{
    X509 *x = NULL;
    tv_spec s = {.type = type, .cn = type == VA_CERT_DAC ? "Unit DAC" : "Unit PAI", .vid = vid, .pid = pid,
                 .issuer = issuer, .signer = signer, .point = point, .curve_nid = curve, .nb = nb,
                 .na = MP_NO_EXPIRY, .defect = defect};
    CU_ASSERT_EQUAL_FATAL(tv_cert_build(&s, &x), MP_OK);
    return x;
}

static X509 *dac_with(fx *f, const char *vid, const char *pid, int defect, time_t nb)
{
    return cert(VA_CERT_DAC, vid, pid, f->pai, f->kpai.pkey, f->kdac.point, NID_X9_62_prime256v1, nb, defect);
}

/* PAA (vid 123A) -> PAI (123A/8001) -> DAC (123A/8001), all software. */
static void setup(fx *f)
{
    memset(f, 0, sizeof(*f));
    CU_ASSERT_EQUAL_FATAL(tv_key_gen("P-256", &f->kpaa), MP_OK);
    CU_ASSERT_EQUAL_FATAL(tv_key_gen("P-256", &f->kpai), MP_OK);
    CU_ASSERT_EQUAL_FATAL(tv_key_gen("P-256", &f->kdac), MP_OK);
    CU_ASSERT_EQUAL_FATAL(tv_key_gen("P-256", &f->kcd), MP_OK);
    mp_cert_spec s = {.type = MP_PAA, .cn = "Unit PAA", .vid = 0x123A, .not_before = NB - 86400,
                      .not_after = MP_NO_EXPIRY, .point = f->kpaa.point};
    CU_ASSERT_EQUAL_FATAL(mp_cert_build(&s, f->kpaa.pkey, &f->paa), MP_OK);
    s.cn = "Unit CD signer", s.vid = 0, s.point = f->kcd.point;
    CU_ASSERT_EQUAL_FATAL(mp_cert_build(&s, f->kcd.pkey, &f->cd_signer), MP_OK);
    f->pai = cert(VA_CERT_PAI, "123A", "8001", f->paa, f->kpaa.pkey, f->kpai.point, NID_X9_62_prime256v1, NB, TV_NONE);
    X509 *dac = dac_with(f, "123A", "8001", TV_NONE, NB);
    put(&f->in.paa[0], f->paa);
    f->in.n_paa = 1;
    put(&f->in.pai, f->pai);
    put(&f->in.dac, dac);
    X509_free(dac);
    f->in.at = AT;
}

static void teardown(fx *f)
{
    mp_va_input_free(&f->in);
    X509_free(f->paa);
    X509_free(f->pai);
    X509_free(f->cd_signer);
    tv_key_free(&f->kpaa);
    tv_key_free(&f->kpai);
    tv_key_free(&f->kdac);
    tv_key_free(&f->kcd);
}

static int verdict(fx *f)
{
    mp_va_report r;
    CU_ASSERT_EQUAL_FATAL(mp_va_verify(&f->in, &r), MP_OK);
    return r.code;
}

static void test_codes(void)
{
    CU_ASSERT_STRING_EQUAL(mp_va_code_name(303), "kDacFormatInvalid");
    CU_ASSERT_STRING_EQUAL(mp_va_code_name(606), "kCertificationDeclarationInvalidPAA");
    CU_ASSERT_PTR_NULL(mp_va_code_name(304 + 100));
    CU_ASSERT_EQUAL(mp_va_code_parse("kPaiAndDacRevoked"), 208);
    CU_ASSERT_EQUAL(mp_va_code_parse("302"), 302);
    CU_ASSERT_EQUAL(mp_va_code_parse("299"), -1);
    CU_ASSERT_STRING_EQUAL(mp_va_check_name(VC_CHAIN), "chain");
}

static void test_good_chain(void)
{
    fx f;
    setup(&f);
    CU_ASSERT_EQUAL(verdict(&f), VA_SUCCESS);
    f.in.production = 1;
    CU_ASSERT_EQUAL(verdict(&f), VA_SUCCESS);
    f.in.at = NB - 10; /* before the DAC's notBefore */
    CU_ASSERT_EQUAL(verdict(&f), VA_DAC_EXPIRED);
    teardown(&f);
}

/* Each single-field mutation of a good DAC and its code. */
static void test_dac_mutations(void)
{
    static const struct { int defect; int code; } m[] = {
        {TV_V2, 303}, {TV_SHA1, 303}, {TV_BC_MISSING, 303}, {TV_BC_NONCRIT, 303}, {TV_BC_CA_FLIP, 303},
        {TV_PATHLEN_0, 303}, {TV_PATHLEN_1, 303}, {TV_KU_MISSING, 303}, {TV_KU_NONCRIT, 303},
        {TV_KU_DS_FLIP, 303}, {TV_KU_CERTSIGN_FLIP, 303}, {TV_KU_CRLSIGN_FLIP, 303}, {TV_AKID_MISSING, 303},
        {TV_SKID_MISSING, 303}, {TV_SKID_LEN19, 303}, {TV_AKID_LEN19, 303}, {TV_EXT_EKU, 0}, {TV_EXT_AIA, 0},
        {TV_EXT_SAN, 0},
    };
    fx f;
    setup(&f);
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        X509 *d = dac_with(&f, "123A", "8001", m[i].defect, NB);
        put(&f.in.dac, d);
        X509_free(d);
        int got = verdict(&f);
        CU_ASSERT_EQUAL(got, m[i].code);
        if (got != m[i].code) fprintf(stderr, "defect %d: got %d\n", m[i].defect, got);
    }
    /* VID/PID encoding, validity outside the PAI's, curve */
    X509 *d = dac_with(&f, "123B", "8001", TV_NONE, NB);
    put(&f.in.dac, d), X509_free(d);
    CU_ASSERT_EQUAL(verdict(&f), VA_DAC_VENDOR_ID_MISMATCH);
    d = dac_with(&f, "123a", "8001", TV_NONE, NB);
    put(&f.in.dac, d), X509_free(d);
    CU_ASSERT_EQUAL(verdict(&f), VA_DAC_FORMAT_INVALID);
    d = dac_with(&f, "123A", "8002", TV_NONE, NB);
    put(&f.in.dac, d), X509_free(d);
    CU_ASSERT_EQUAL(verdict(&f), VA_DAC_PRODUCT_ID_MISMATCH);
    d = dac_with(&f, "123A", NULL, TV_NONE, NB);
    put(&f.in.dac, d), X509_free(d);
    CU_ASSERT_EQUAL(verdict(&f), VA_DAC_PRODUCT_ID_MISMATCH);
    d = dac_with(&f, "123A", "8001", TV_NONE, NB - 1);
    put(&f.in.dac, d), X509_free(d);
    CU_ASSERT_EQUAL(verdict(&f), VA_DAC_SIGNATURE_INVALID);
    tv_key k1;
    CU_ASSERT_EQUAL_FATAL(tv_key_gen("secp256k1", &k1), MP_OK);
    d = cert(VA_CERT_DAC, "123A", "8001", f.pai, f.kpai.pkey, k1.point, NID_secp256k1, NB, TV_NONE);
    put(&f.in.dac, d), X509_free(d);
    CU_ASSERT_EQUAL(verdict(&f), VA_DAC_FORMAT_INVALID);
    tv_key_free(&k1);
    /* signed by another key: chain invalid */
    d = cert(VA_CERT_DAC, "123A", "8001", f.pai, f.kdac.pkey, f.kdac.point, NID_X9_62_prime256v1, NB, TV_NONE);
    put(&f.in.dac, d), X509_free(d);
    CU_ASSERT_EQUAL(verdict(&f), VA_DAC_SIGNATURE_INVALID);
    teardown(&f);
}

static void test_pai_and_paa_rules(void)
{
    fx f;
    setup(&f);
    X509 *p = cert(VA_CERT_PAI, "123A", "8001", f.paa, f.kpaa.pkey, f.kpai.point, NID_X9_62_prime256v1, NB, TV_PATHLEN_1);
    put(&f.in.pai, p), X509_free(p);
    CU_ASSERT_EQUAL(verdict(&f), VA_PAI_FORMAT_INVALID);
    p = cert(VA_CERT_PAI, "123A", "8001", f.paa, f.kpaa.pkey, f.kpai.point, NID_X9_62_prime256v1, NB, TV_KU_DS_FLIP);
    put(&f.in.pai, p), X509_free(p);
    CU_ASSERT_EQUAL(verdict(&f), VA_SUCCESS); /* digitalSignature allowed on a PAI */
    X509_free(f.pai);
    f.pai = cert(VA_CERT_PAI, "123A", NULL, f.paa, f.kpaa.pkey, f.kpai.point, NID_X9_62_prime256v1, NB, TV_NONE);
    put(&f.in.pai, f.pai);
    p = dac_with(&f, "123A", "8001", TV_NONE, NB);
    put(&f.in.dac, p), X509_free(p);
    CU_ASSERT_EQUAL(verdict(&f), VA_SUCCESS); /* PAI PID optional */
    free(f.in.pai.der);
    f.in.pai.der = NULL, f.in.pai.len = 0;
    CU_ASSERT_EQUAL(verdict(&f), VA_PAI_MISSING);
    put(&f.in.pai, f.pai);
    /* PAA with another VID -> 205; PAA with a PID -> 105; unknown PAA -> 101 */
    X509 *paa = NULL;
    mp_cert_spec s = {.type = MP_PAA, .cn = "Other PAA", .vid = 0x123B, .not_before = NB - 86400,
                      .not_after = MP_NO_EXPIRY, .point = f.kpaa.point};
    CU_ASSERT_EQUAL_FATAL(mp_cert_build(&s, f.kpaa.pkey, &paa), MP_OK);
    put(&f.in.paa[0], paa), X509_free(paa);
    CU_ASSERT_EQUAL(verdict(&f), VA_PAI_VENDOR_ID_MISMATCH);
    tv_key other;
    CU_ASSERT_EQUAL_FATAL(tv_key_gen("P-256", &other), MP_OK);
    s.vid = 0x123A, s.point = other.point;
    CU_ASSERT_EQUAL_FATAL(mp_cert_build(&s, other.pkey, &paa), MP_OK);
    put(&f.in.paa[0], paa), X509_free(paa);
    CU_ASSERT_EQUAL(verdict(&f), VA_PAA_NOT_FOUND);
    tv_key_free(&other);
    teardown(&f);
}

/* A PAA that fails the PAA format check: dropped from the trust store (101)
 * by default, rejected (105) in production mode. */
static void test_trust_store(void)
{
    fx f;
    setup(&f);
    X509 *paa = cert(VA_CERT_DAC, "123A", NULL, f.paa, f.kpaa.pkey, f.kpaa.point, NID_X9_62_prime256v1, NB - 86400, TV_NONE);
    put(&f.in.paa[0], paa), X509_free(paa);
    mp_va_report r;
    CU_ASSERT_EQUAL(mp_va_verify(&f.in, &r), MP_OK);
    CU_ASSERT_EQUAL(r.code, VA_PAA_NOT_FOUND);
    CU_ASSERT_EQUAL(r.n_notes, 1);
    f.in.production = 1;
    CU_ASSERT_EQUAL(verdict(&f), VA_PAA_FORMAT_INVALID);
    teardown(&f);
}

static void test_sdk_vectors(void)
{
    mp_va_input in = {0};
    mp_va_report r;
    CU_ASSERT_EQUAL_FATAL(mp_va_load_cert(tu_vector("Chip-Test-PAA-FFF1-Cert.pem"), &in.paa[0]), MP_OK);
    in.n_paa = 1;
    CU_ASSERT_EQUAL_FATAL(mp_va_load_cert(tu_vector("Chip-Test-PAI-FFF1-8000-Cert.pem"), &in.pai), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_va_load_cert(tu_vector("Chip-Test-DAC-FFF1-8000-0000-Cert.pem"), &in.dac), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_va_load_cert(tu_vector("Chip-Test-CD-Signing-Cert.pem"), &in.cd_signer[0]), MP_OK);
    in.n_cd_signer = 1;
    CU_ASSERT_EQUAL_FATAL(mp_read_file(tu_vector("Chip-Test-CD-FFF1-8000-8063.der"), 4096, &in.cd.der, &in.cd.len), MP_OK);
    in.at = AT;
    CU_ASSERT_EQUAL(mp_va_verify(&in, &r), MP_OK);
    CU_ASSERT_EQUAL(r.code, VA_SUCCESS);
    in.has_pid = 1, in.pid = 0x8064; /* not in the CD's 8000..8063 */
    CU_ASSERT_EQUAL(mp_va_verify(&in, &r), MP_OK);
    CU_ASSERT_EQUAL(r.code, VA_CD_INVALID_PRODUCT_ID);
    in.has_pid = 0, in.has_vid = 1, in.vid = 0x123A;
    CU_ASSERT_EQUAL(mp_va_verify(&in, &r), MP_OK);
    CU_ASSERT_EQUAL(r.code, VA_CD_INVALID_VENDOR_ID);
    in.has_vid = 0, in.production = 1;
    CU_ASSERT_EQUAL(mp_va_verify(&in, &r), MP_OK);
    CU_ASSERT_EQUAL(r.code, VA_PAA_UNTRUSTED); /* TC-DA-1.7 test-PAA denylist */
    in.production = 0;
    /* key id of the V1 signed message */
    const uint8_t *kid;
    size_t kl;
    CU_ASSERT_EQUAL(mp_va_cms_key_id(in.cd.der, in.cd.len, &kid, &kl), 0);
    CU_ASSERT_EQUAL(kl, 20);
    CU_ASSERT_EQUAL(kid[0], 0x62);
    mp_va_input_free(&in);
}

/* CD signed by the fixture's signer with content mod/defect. */
static void sign_cd(fx *f, const tv_cd *cd, int defect)
{
    uint8_t tlv[1024], kid[20], out[2048];
    size_t tl, ol;
    CU_ASSERT_EQUAL_FATAL(tv_cd_tlv(cd, tlv, sizeof(tlv), &tl), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_cert_skid(f->cd_signer, kid), 0);
    CU_ASSERT_EQUAL_FATAL(tv_cd_sign(tlv, tl, kid, f->kcd.pkey, defect, out, sizeof(out), &ol), MP_OK);
    free(f->in.cd.der);
    f->in.cd.der = malloc(ol);
    memcpy(f->in.cd.der, out, ol);
    f->in.cd.len = ol;
    if (f->in.n_cd_signer == 0) {
        put(&f->in.cd_signer[0], f->cd_signer);
        f->in.n_cd_signer = 1;
    }
}

static tv_cd base_cd(void)
{
    tv_cd cd = {.fields = TVF_ALL, .format_version = 1, .vendor_id = 0x123A, .pids = {0x8001}, .n_pids = 1,
                .device_type = 0x16, .cert_id = "ZIG20142ZB330003-24", .version = 1};
    return cd;
}

static void test_cd(void)
{
    static const struct { int defect; int code; } cms[] = {
        {TVC_NONE, 0}, {TVC_SIGNER_V2, 600}, {TVC_SIGNER_DIGEST_SHA1, 600}, {TVC_SIG_ALG_SHA1, 600},
        {TVC_UNKNOWN_KID, 601}, {TVC_SIGNED_DATA_V2, 602}, {TVC_DIGEST_SHA1, 602}, {TVC_ECONTENT_OTHER, 602},
        {TVC_CORRUPT_SIG, 602}, {TVC_TWO_DIGESTS, 0},
    };
    fx f;
    setup(&f);
    tv_cd cd = base_cd();
    for (size_t i = 0; i < sizeof(cms) / sizeof(cms[0]); i++) {
        sign_cd(&f, &cd, cms[i].defect);
        CU_ASSERT_EQUAL(verdict(&f), cms[i].code);
    }
    /* TC-DA-1.2 envelope strictness: two digest algorithms -> 603 */
    f.in.production = 1;
    CU_ASSERT_EQUAL(verdict(&f), VA_CD_INVALID_FORMAT);
    sign_cd(&f, &cd, TVC_NONE);
    CU_ASSERT_EQUAL(verdict(&f), VA_SUCCESS);
    cd.sec_level = 1; /* ignored by commissioners, refused by TC-DA-1.2 */
    sign_cd(&f, &cd, TVC_NONE);
    CU_ASSERT_EQUAL(verdict(&f), VA_CD_INVALID_FORMAT);
    f.in.production = 0;
    CU_ASSERT_EQUAL(verdict(&f), VA_SUCCESS);
    cd = base_cd(), cd.fields &= ~TVF_VERSION;
    sign_cd(&f, &cd, TVC_NONE);
    CU_ASSERT_EQUAL(verdict(&f), VA_CD_INVALID_FORMAT);
    cd = base_cd(), cd.cert_type = 3;
    sign_cd(&f, &cd, TVC_NONE);
    CU_ASSERT_EQUAL(verdict(&f), VA_ATT_ELEMENTS_MALFORMED);
    cd = base_cd(), cd.fields |= TVF_ORIGIN_VID | TVF_ORIGIN_PID, cd.origin_vid = 0x123A, cd.origin_pid = 0x8002;
    sign_cd(&f, &cd, TVC_NONE);
    CU_ASSERT_EQUAL(verdict(&f), VA_CD_INVALID_PRODUCT_ID);
    /* authorized PAA list: PAA SKID (default) vs PAI AKID (production) */
    cd = base_cd(), cd.fields |= TVF_PAAS, cd.n_paas = 1;
    CU_ASSERT_EQUAL(mp_cert_skid(f.paa, cd.paas[0]), 0);
    sign_cd(&f, &cd, TVC_NONE);
    CU_ASSERT_EQUAL(verdict(&f), VA_SUCCESS);
    cd.paas[0][0] ^= 1;
    sign_cd(&f, &cd, TVC_NONE);
    CU_ASSERT_EQUAL(verdict(&f), VA_CD_INVALID_PAA);
    teardown(&f);
}

/* The SDK test CD key: accepted for type 0 and 1, refused (601) for type 2
 * and in production mode. */
static void test_cd_test_key(void)
{
    fx f;
    setup(&f);
    FILE *k = fopen(tu_vector("Chip-Test-CD-Signing-Key.pem"), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    EVP_PKEY *key = PEM_read_PrivateKey(k, NULL, NULL, NULL);
    fclose(k);
    CU_ASSERT_EQUAL_FATAL(mp_va_load_cert(tu_vector("Chip-Test-CD-Signing-Cert.pem"), &f.in.cd_signer[0]), MP_OK);
    f.in.n_cd_signer = 1;
    static const uint8_t kid[20] = {0x62, 0xFA, 0x82, 0x33, 0x59, 0xAC, 0xFA, 0xA9, 0x96, 0x3E,
                                    0x1C, 0xFA, 0x14, 0x0A, 0xDD, 0xF5, 0x04, 0xF3, 0x71, 0x60};
    static const int expect[3] = {0, 0, 601};
    for (uint32_t t = 0; t < 3; t++) {
        tv_cd cd = base_cd();
        uint8_t tlv[512], out[1024];
        size_t tl, ol;
        cd.cert_type = t;
        CU_ASSERT_EQUAL_FATAL(tv_cd_tlv(&cd, tlv, sizeof(tlv), &tl), MP_OK);
        CU_ASSERT_EQUAL_FATAL(tv_cd_sign(tlv, tl, kid, key, TVC_NONE, out, sizeof(out), &ol), MP_OK);
        free(f.in.cd.der);
        f.in.cd.der = malloc(ol), memcpy(f.in.cd.der, out, ol), f.in.cd.len = ol;
        CU_ASSERT_EQUAL(verdict(&f), expect[t]);
    }
    f.in.production = 1;
    CU_ASSERT_EQUAL(verdict(&f), VA_CD_NO_CERT_FOUND);
    EVP_PKEY_free(key);
    teardown(&f);
}

/* A CRL by issuer (key ik) listing serial sn (NULL: none). */
static void crl(mp_va_buf *b, X509 *issuer, EVP_PKEY *ik, const ASN1_INTEGER *sn)
{
    X509_CRL *c = X509_CRL_new();
    ASN1_TIME *t = ASN1_TIME_set(NULL, AT);
    X509_CRL_set_version(c, 1);
    X509_CRL_set_issuer_name(c, X509_get_subject_name(issuer));
    X509_CRL_set1_lastUpdate(c, t);
    if (sn != NULL) {
        X509_REVOKED *r = X509_REVOKED_new();
        X509_REVOKED_set_serialNumber(r, (ASN1_INTEGER *)sn);
        X509_REVOKED_set_revocationDate(r, t);
        X509_CRL_add0_revoked(c, r);
    }
    X509_CRL_sign(c, ik, EVP_sha256());
    uint8_t *der = NULL;
    int n = i2d_X509_CRL(c, &der);
    b->der = malloc((size_t)n), memcpy(b->der, der, (size_t)n), b->len = (size_t)n, b->name = "crl";
    OPENSSL_free(der);
    ASN1_TIME_free(t);
    X509_CRL_free(c);
}

static void test_revocation_crl(void)
{
    fx f;
    setup(&f);
    const uint8_t *p = f.in.dac.der;
    X509 *dac = d2i_X509(NULL, &p, (long)f.in.dac.len);
    f.in.has_revocation = 1;
    crl(&f.in.crl[0], f.pai, f.kpai.pkey, NULL);
    f.in.n_crl = 1;
    CU_ASSERT_EQUAL(verdict(&f), VA_SUCCESS);
    free(f.in.crl[0].der);
    crl(&f.in.crl[0], f.pai, f.kpai.pkey, X509_get0_serialNumber(dac));
    CU_ASSERT_EQUAL(verdict(&f), VA_DAC_REVOKED);
    crl(&f.in.crl[1], f.paa, f.kpaa.pkey, X509_get0_serialNumber(f.pai));
    f.in.n_crl = 2;
    CU_ASSERT_EQUAL(verdict(&f), VA_PAI_AND_DAC_REVOKED);
    free(f.in.crl[0].der);
    crl(&f.in.crl[0], f.pai, f.kpai.pkey, NULL);
    CU_ASSERT_EQUAL(verdict(&f), VA_PAI_REVOKED);
    /* a CRL naming the PAI but signed by another key: refused as input */
    free(f.in.crl[1].der);
    crl(&f.in.crl[1], f.pai, f.kdac.pkey, NULL);
    mp_va_report r;
    CU_ASSERT_EQUAL(mp_va_verify(&f.in, &r), MP_ERR_VERIFY);
    /* delegated CRL signer certified by the PAI */
    free(f.in.crl[1].der);
    f.in.n_crl = 1;
    free(f.in.crl[0].der);
    tv_key ks;
    CU_ASSERT_EQUAL_FATAL(tv_key_gen("P-256", &ks), MP_OK);
    X509 *signer = cert(VA_CERT_DAC, NULL, NULL, f.pai, f.kpai.pkey, ks.point, NID_X9_62_prime256v1, NB, TV_KU_CRLSIGN_FLIP);
    put(&f.in.crl_signer[0], signer);
    f.in.n_crl_signer = 1;
    crl(&f.in.crl[0], signer, ks.pkey, X509_get0_serialNumber(dac));
    CU_ASSERT_EQUAL(verdict(&f), VA_DAC_REVOKED);
    X509_free(signer);
    tv_key_free(&ks);
    X509_free(dac);
    teardown(&f);
}

static void b64(const uint8_t *p, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

static void test_revocation_set(void)
{
    fx f;
    setup(&f);
    const uint8_t *p = f.in.dac.der, *name;
    X509 *dac = d2i_X509(NULL, &p, (long)f.in.dac.len);
    size_t nl;
    char serial[41], skid[41], nameb[400], signer[1200], path[] = "/tmp/mp-revset-XXXXXX";
    uint8_t kid[20], *der = NULL;
    mp_va_serial_hex(X509_get0_serialNumber(dac), serial);
    CU_ASSERT_EQUAL(strlen(serial) % 2, 0);
    mp_cert_skid(f.pai, kid);
    mp_hex(kid, 20, skid, 1);
    X509_NAME_get0_der(X509_get_subject_name(f.pai), &name, &nl);
    b64(name, nl, nameb);
    int n = i2d_X509(f.pai, &der);
    b64(der, (size_t)n, signer);
    OPENSSL_free(der);
    int fd = mkstemp(path);
    FILE *out = fdopen(fd, "w");
    fprintf(out, "[{\"type\":\"revocation_set\",\"issuer_subject_key_id\":\"%s\",\"issuer_name\":\"%s\","
                 "\"revoked_serial_numbers\":[\"0A\",\"%s\"],\"crl_signer_cert\":\"%s\"}]\n", skid, nameb, serial, signer);
    fclose(out);
    CU_ASSERT_EQUAL_FATAL(mp_va_load_revset(path, &f.in), MP_OK);
    CU_ASSERT_EQUAL(verdict(&f), VA_DAC_REVOKED);
    /* a signer that is not the issuer: the entry is ignored */
    X509_free(f.in.revset[0].signer);
    f.in.revset[0].signer = X509_dup(f.cd_signer);
    CU_ASSERT_EQUAL(verdict(&f), VA_SUCCESS);
    /* malformed: the message names the file, entry and field */
    out = fopen(path, "w");
    fprintf(out, "[{\"type\":\"revocation_set\",\"issuer_subject_key_id\":\"12\"}]\n");
    fclose(out);
    mp_va_input in2 = {0};
    CU_ASSERT_EQUAL(mp_va_load_revset(path, &in2), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "entry 0"));
    mp_va_input_free(&in2);
    unlink(path);
    X509_free(dac);
    teardown(&f);
}

static void test_format_tolerances(void)
{
    fx f;
    setup(&f);
    char why[160];
    CU_ASSERT_EQUAL(mp_va_cert_format(f.in.dac.der, f.in.dac.len, VA_CERT_DAC, why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(mp_va_cert_format(f.in.dac.der, f.in.dac.len, VA_CERT_PAI, why, sizeof(why)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "basicConstraints"));
    CU_ASSERT_EQUAL(mp_va_cert_format(f.in.pai.der, f.in.pai.len, VA_CERT_PAI, why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(mp_va_cert_format(f.in.paa[0].der, f.in.paa[0].len, VA_CERT_PAA, why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(mp_va_cert_format(NULL, 0, VA_CERT_PAA, why, sizeof(why)), -1);
    teardown(&f);
}

void register_verify(void)
{
    CU_pSuite s = CU_add_suite("verify", NULL, NULL);
    TU_ADD(s, test_codes);
    TU_ADD(s, test_good_chain);
    TU_ADD(s, test_dac_mutations);
    TU_ADD(s, test_pai_and_paa_rules);
    TU_ADD(s, test_trust_store);
    TU_ADD(s, test_sdk_vectors);
    TU_ADD(s, test_cd);
    TU_ADD(s, test_cd_test_key);
    TU_ADD(s, test_revocation_crl);
    TU_ADD(s, test_revocation_set);
    TU_ADD(s, test_format_tolerances);
}
