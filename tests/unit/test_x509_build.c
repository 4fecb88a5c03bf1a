/* test_x509_build.c - the configuration-syntax certificate builder and the
 * CRL builder of core/x509_build.c (station CA, station certificates, the
 * PAA/PAI/station CRLs). */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "testutil.h"
#include "x509.h"
#include "x509_build.h"

static const mp_conf_ext ca_exts[] = {
    {NID_basic_constraints, "critical,CA:TRUE,pathlen:0"}, {NID_key_usage, "critical,keyCertSign,cRLSign"},
    {NID_subject_key_identifier, "hash"}, {NID_authority_key_identifier, "keyid:always"}, {0, NULL},
};
static const mp_conf_ext leaf_exts[] = {
    {NID_basic_constraints, "critical,CA:FALSE"}, {NID_key_usage, "critical,digitalSignature"},
    {NID_ext_key_usage, "clientAuth"}, {NID_subject_key_identifier, "hash"},
    {NID_authority_key_identifier, "keyid:always"}, {0, NULL},
};

/* A self-signed CA and a leaf it issues: names, validity, extensions,
 * signatures; a bad extension is "cannot sign the WHAT". */
static void test_cert_build_conf(void)
{
    EVP_PKEY *ck = EVP_EC_gen("P-256"), *lk = EVP_EC_gen("P-256");
    X509 *ca = NULL, *leaf = NULL, *bad = NULL;
    uint8_t skid[20], akid[20];
    time_t nb = 1767225600, t; /* 2026-01-01 */
    CU_ASSERT_EQUAL_FATAL(mp_cert_build_conf("Acme Stations", nb, 3650, ck, NULL, ca_exts, ck, "station CA certificate", &ca), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_cert_build_conf("st1", nb, 90, lk, ca, leaf_exts, ck, "station certificate", &leaf), MP_OK);
    CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_issuer_name(ca), X509_get_subject_name(ca)), 0);
    CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_issuer_name(leaf), X509_get_subject_name(ca)), 0);
    CU_ASSERT_EQUAL(X509_verify(ca, ck), 1);
    CU_ASSERT_EQUAL(X509_verify(leaf, ck), 1);
    CU_ASSERT(X509_check_ca(ca) != 0);
    CU_ASSERT_EQUAL(X509_check_ca(leaf), 0);
    CU_ASSERT(X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT);
    CU_ASSERT_EQUAL(mp_cert_skid(ca, skid), 0);
    CU_ASSERT_EQUAL(mp_cert_akid(leaf, akid), 0);
    CU_ASSERT_EQUAL(memcmp(skid, akid, 20), 0);
    CU_ASSERT_EQUAL(mp_asn1_time(X509_get0_notAfter(leaf), &t), 0);
    CU_ASSERT_EQUAL(t, nb + 90 * 86400);
    CU_ASSERT_EQUAL(X509_get_version(leaf), 2);
    static const mp_conf_ext broken[] = {{NID_key_usage, "critical,noSuchUsage"}, {0, NULL}};
    CU_ASSERT_EQUAL(mp_cert_build_conf("x", nb, 1, lk, ca, broken, ck, "station certificate", &bad), MP_ERR_GENERAL);
    CU_ASSERT(strstr(mp_err_msg(), "cannot sign the station certificate") != NULL);
    CU_ASSERT_PTR_NULL(bad);
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(ck);
    EVP_PKEY_free(lk);
}

static int ext_count(const X509_REVOKED *r, int nid)
{
    return X509_REVOKED_get_ext_by_NID(r, nid, -1) >= 0;
}

/* A direct CRL (no IDP, a reason code only where one was given) and an
 * indirect one (critical IDP with the URL and indirectCRL, certificateIssuer
 * on every entry): AKID = signer SKID, the number, sorted, signed. */
static void test_crl_builder(void)
{
    EVP_PKEY *ck = EVP_EC_gen("P-256"), *sk = EVP_EC_gen("P-256");
    X509 *ca = NULL, *signer = NULL;
    X509_CRL *crl = NULL;
    time_t nb = 1767225600, t;
    uint8_t skid[20];
    CU_ASSERT_EQUAL_FATAL(mp_cert_build_conf("CA", nb, 3650, ck, NULL, ca_exts, ck, "CA", &ca), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_cert_build_conf("CRL signer", nb, 3650, sk, ca, leaf_exts, ck, "signer", &signer), MP_OK);
    CU_ASSERT_EQUAL(mp_cert_skid(signer, skid), 0);

    CU_ASSERT_EQUAL_FATAL(mp_crl_frame(ca, nb, nb + 30 * 86400, &crl), MP_OK);
    CU_ASSERT_EQUAL(mp_crl_add_revoked(crl, "0B", nb, "keyCompromise", NULL), MP_OK);
    CU_ASSERT_EQUAL(mp_crl_add_revoked(crl, "0A", nb, NULL, NULL), MP_OK);
    CU_ASSERT_EQUAL(mp_crl_add_revoked(crl, "not hex", nb, NULL, NULL), MP_ERR_GENERAL);
    CU_ASSERT(strstr(mp_err_msg(), "cannot add serial not hex to the CRL") != NULL);
    CU_ASSERT_EQUAL(mp_crl_seal(crl, ca, ck, 7, NULL, 0), MP_OK);
    CU_ASSERT_EQUAL(X509_CRL_verify(crl, ck), 1);
    CU_ASSERT_EQUAL(X509_CRL_get_version(crl), 1);
    CU_ASSERT_EQUAL(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)), 0);
    CU_ASSERT_EQUAL(mp_asn1_time(X509_CRL_get0_nextUpdate(crl), &t), 0);
    CU_ASSERT_EQUAL(t, nb + 30 * 86400);
    ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    CU_ASSERT_EQUAL(ASN1_INTEGER_get(num), 7);
    ASN1_INTEGER_free(num);
    CU_ASSERT_EQUAL(X509_CRL_get_ext_by_NID(crl, NID_issuing_distribution_point, -1), -1);
    STACK_OF(X509_REVOKED) *rs = X509_CRL_get_REVOKED(crl);
    CU_ASSERT_EQUAL_FATAL(sk_X509_REVOKED_num(rs), 2);
    CU_ASSERT_EQUAL(ASN1_INTEGER_get(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rs, 0))), 10); /* sorted */
    CU_ASSERT_FALSE(ext_count(sk_X509_REVOKED_value(rs, 0), NID_crl_reason));
    CU_ASSERT_TRUE(ext_count(sk_X509_REVOKED_value(rs, 1), NID_crl_reason));
    X509_CRL_free(crl);
    crl = NULL;

    CU_ASSERT_EQUAL_FATAL(mp_crl_frame(signer, nb, nb + 86400, &crl), MP_OK);
    CU_ASSERT_EQUAL(mp_crl_add_revoked(crl, "01", nb, "unspecified", X509_get_subject_name(ca)), MP_OK);
    CU_ASSERT_EQUAL(mp_crl_seal(crl, signer, sk, 1, "https://crl.example.com/pai.crl", 1), MP_OK);
    CU_ASSERT_EQUAL(X509_CRL_verify(crl, sk), 1);
    CU_ASSERT_EQUAL(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(signer)), 0);
    AUTHORITY_KEYID *ak = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL, NULL);
    CU_ASSERT(ak != NULL && ak->keyid != NULL && ASN1_STRING_length(ak->keyid) == 20 &&
              memcmp(ASN1_STRING_get0_data(ak->keyid), skid, 20) == 0);
    AUTHORITY_KEYID_free(ak);
    int crit = 0;
    ISSUING_DIST_POINT *idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit, NULL);
    CU_ASSERT(idp != NULL && idp->indirectCRL && crit == 1 && idp->distpoint != NULL);
    ISSUING_DIST_POINT_free(idp);
    X509_REVOKED *r = sk_X509_REVOKED_value(X509_CRL_get_REVOKED(crl), 0);
    CU_ASSERT_TRUE(ext_count(r, NID_certificate_issuer));
    CU_ASSERT_FALSE(ext_count(r, NID_crl_reason));
    X509_CRL_free(crl);
    X509_free(ca);
    X509_free(signer);
    EVP_PKEY_free(ck);
    EVP_PKEY_free(sk);
}

void register_x509_build(void)
{
    CU_pSuite s = CU_add_suite("x509_build", NULL, NULL);
    TU_ADD(s, test_cert_build_conf);
    TU_ADD(s, test_crl_builder);
}
