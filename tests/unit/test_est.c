/* test_est.c - the encodings of the EST service: base64 as RFC 8951 reads
 * it, certs-only CMS, the CSR checks with their HTTP statuses, station
 * names, and the client's exit codes for HTTP answers. */
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "est/est.h"
#include "testutil.h"

static void test_b64(void)
{
    uint8_t in[100], out[100];
    char *text = NULL;
    size_t n = 0;
    for (int i = 0; i < 100; i++) in[i] = (uint8_t)(i * 7);
    CU_ASSERT_EQUAL_FATAL(mp_est_b64_encode(in, sizeof(in), &text, &n), MP_OK);
    CU_ASSERT_EQUAL(strlen(text), n);
    CU_ASSERT(text[64] == '\n' && text[n - 1] == '\n'); /* 64-column lines */
    CU_ASSERT_EQUAL(mp_est_b64_decode(text, n, out, sizeof(out)), 100);
    CU_ASSERT(memcmp(in, out, 100) == 0);
    free(text);
    const char *spaced = " AAEC\r\n Aw==\t\r\n";
    CU_ASSERT_EQUAL(mp_est_b64_decode(spaced, strlen(spaced), out, sizeof(out)), 4);
    CU_ASSERT(out[0] == 0 && out[1] == 1 && out[2] == 2 && out[3] == 3);
    CU_ASSERT_EQUAL(mp_est_b64_decode("AA!C", 4, out, sizeof(out)), -1);
    CU_ASSERT_EQUAL(mp_est_b64_decode("AAE", 3, out, sizeof(out)), -1);    /* no padding */
    CU_ASSERT_EQUAL(mp_est_b64_decode(" \r\n", 3, out, sizeof(out)), -1); /* empty */
}

static EVP_PKEY *key_on(const char *curve)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    CU_ASSERT_FATAL(c && EVP_PKEY_keygen_init(c) == 1 && EVP_PKEY_CTX_set_group_name(c, curve) == 1 &&
                    EVP_PKEY_keygen(c, &k) == 1);
    EVP_PKEY_CTX_free(c);
    return k;
}

static size_t csr_der(EVP_PKEY *k, const char *cn, uint8_t *out, size_t cap)
{
    X509_REQ *r = X509_REQ_new();
    uint8_t *der = NULL;
    CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r), "CN", MBSTRING_UTF8,
                                               (const unsigned char *)cn, -1, -1, 0) == 1 &&
                    X509_REQ_set_pubkey(r, k) == 1 && X509_REQ_sign(r, k, EVP_sha256()) > 0);
    int n = i2d_X509_REQ(r, &der);
    CU_ASSERT_FATAL(n > 0 && (size_t)n <= cap);
    memcpy(out, der, (size_t)n);
    OPENSSL_free(der);
    X509_REQ_free(r);
    return (size_t)n;
}

static void test_csr_checks(void)
{
    uint8_t der[1024], big[2048];
    char why[200];
    mp_est_csr c;
    EVP_PKEY *k = key_on("P-256"), *k384 = key_on("P-384");
    size_t n = csr_der(k, "3F2A", der, sizeof(der));
    CU_ASSERT_EQUAL(mp_est_check_csr(der, n, &c, why, sizeof(why)), 0);
    CU_ASSERT(c.point[0] == 4 && strcmp(c.cn, "3F2A") == 0);
    uint8_t pt[65];
    size_t ptl = 0;
    CU_ASSERT(EVP_PKEY_get_octet_string_param(k, "encoded-pub-key", pt, sizeof(pt), &ptl) == 1 && ptl == 65);
    CU_ASSERT(memcmp(pt, c.point, 65) == 0);
    der[n - 3] ^= 1; /* in the signature */
    CU_ASSERT_EQUAL(mp_est_check_csr(der, n, &c, why, sizeof(why)), 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "does not verify"));
    der[n - 3] ^= 1;
    memcpy(big, der, n);
    big[n] = 0;
    CU_ASSERT_EQUAL(mp_est_check_csr(big, n + 1, &c, why, sizeof(why)), 400); /* trailing junk */
    CU_ASSERT_EQUAL(mp_est_check_csr(der, n / 2, &c, why, sizeof(why)), 400);  /* cut */
    n = csr_der(k384, "x", der, sizeof(der));
    CU_ASSERT_EQUAL(mp_est_check_csr(der, n, &c, why, sizeof(why)), 403);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "P-256"));
    EVP_PKEY_free(k);
    EVP_PKEY_free(k384);
}

/* The decoder-free reading of the usual CSR shape and OpenSSL's agree on
 * every single-byte change of a CSR (status, key, CN), and the usual shape
 * takes the fast way. */
static void test_csr_fast_matches_openssl(void)
{
    uint8_t der[1024], m[1024];
    char why[200];
    mp_est_csr a, b;
    EVP_PKEY *k = key_on("P-256");
    size_t n = csr_der(k, "3F2A0000AABBCCDD", der, sizeof(der));
    CU_ASSERT_EQUAL(mp_est_check_csr_fast(der, n, &a, why, sizeof(why)), 0);
    CU_ASSERT_EQUAL(mp_est_check_csr_openssl(der, n, &b, why, sizeof(why)), 0);
    CU_ASSERT(memcmp(&a, &b, sizeof(a)) == 0);
    int fast = 0, differ = 0;
    static const uint8_t deltas[] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < sizeof(deltas); d++) {
            memcpy(m, der, n);
            m[i] ^= deltas[d];
            int f = mp_est_check_csr_fast(m, n, &a, why, sizeof(why));
            int o = mp_est_check_csr_openssl(m, n, &b, why, sizeof(why));
            fast += f >= 0;
            if (f >= 0 && (f != o || (f == 0 && memcmp(&a, &b, sizeof(a)) != 0))) {
                differ++;
                if (differ < 4) fprintf(stderr, "byte %zu ^%02x: fast %d, openssl %d\n", i, deltas[d], f, o);
            }
        }
    }
    CU_ASSERT_EQUAL(differ, 0);
    CU_ASSERT(fast > (int)n); /* most changes stay in the shape and are judged the fast way */
    /* a cut and trailing bytes are not the shape */
    CU_ASSERT_EQUAL(mp_est_check_csr_fast(der, n - 1, &a, why, sizeof(why)), -1);
    memcpy(m, der, n);
    m[n] = 0;
    CU_ASSERT_EQUAL(mp_est_check_csr_fast(m, n + 1, &a, why, sizeof(why)), -1);
    EVP_PKEY_free(k);
}

static X509 *self_signed(const char *cn)
{
    EVP_PKEY *k = key_on("P-256");
    X509 *x = X509_new();
    CU_ASSERT_FATAL(x && ASN1_INTEGER_set(X509_get_serialNumber(x), 7) == 1 &&
                    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) == 1 &&
                    X509_set_issuer_name(x, X509_get_subject_name(x)) == 1 && X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
                    X509_gmtime_adj(X509_getm_notAfter(x), 3600) && X509_set_pubkey(x, k) == 1 && X509_sign(x, k, EVP_sha256()) > 0);
    EVP_PKEY_free(k);
    return x;
}

static void test_certs_only(void)
{
    X509 *a = self_signed("a"), *b = self_signed("b");
    uint8_t *da = NULL, *db = NULL, *cms = NULL;
    int la = i2d_X509(a, &da), lb = i2d_X509(b, &db);
    const uint8_t *certs[2] = {da, db};
    size_t lens[2] = {(size_t)la, (size_t)lb}, n = 0;
    CU_ASSERT_EQUAL_FATAL(mp_est_certs_only(certs, lens, 2, &cms, &n), MP_OK);
    STACK_OF(X509) *sk = NULL;
    CU_ASSERT_EQUAL_FATAL(mp_est_parse_certs_only(cms, n, &sk), MP_OK);
    CU_ASSERT_EQUAL(sk_X509_num(sk), 2);
    CU_ASSERT_EQUAL(X509_cmp(sk_X509_value(sk, 0), a), 0);
    CU_ASSERT_EQUAL(X509_cmp(sk_X509_value(sk, 1), b), 0);
    sk_X509_pop_free(sk, X509_free);
    sk = NULL;
    CU_ASSERT_NOT_EQUAL(mp_est_parse_certs_only(cms, n - 1, &sk), MP_OK); /* truncated */
    CU_ASSERT_NOT_EQUAL(mp_est_parse_certs_only(da, (size_t)la, &sk), MP_OK); /* not a CMS */
    free(cms);
    OPENSSL_free(da);
    OPENSSL_free(db);
    X509_free(a);
    X509_free(b);
}

static void test_names_and_codes(void)
{
    CU_ASSERT_EQUAL(mp_station_name_check("line-7.a_b"), MP_OK);
    CU_ASSERT_EQUAL(mp_station_name_check(""), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_station_name_check("a b"), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_station_name_check("-x"), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_est_exit_code(200, ""), MP_OK);
    CU_ASSERT_EQUAL(mp_est_exit_code(400, "csr"), MP_ERR_VERIFY);
    CU_ASSERT_EQUAL(mp_est_exit_code(400, "body"), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_est_exit_code(403, "not_listed"), MP_ERR_UNAUTHORIZED);
    CU_ASSERT_EQUAL(mp_est_exit_code(403, "station"), MP_ERR_AUTH);
    CU_ASSERT_EQUAL(mp_est_exit_code(409, "quota"), MP_ERR_QUOTA);
    CU_ASSERT_EQUAL(mp_est_exit_code(409, "issued"), MP_ERR_UNAUTHORIZED);
    CU_ASSERT_EQUAL(mp_est_exit_code(429, "rate"), MP_ERR_BUSY);
    CU_ASSERT_EQUAL(mp_est_exit_code(503, ""), MP_ERR_BUSY);
    CU_ASSERT_EQUAL(mp_est_exit_code(0, ""), MP_ERR_NETWORK);
}

void register_est(void)
{
    CU_pSuite s = CU_add_suite("est", NULL, NULL);
    TU_ADD(s, test_b64);
    TU_ADD(s, test_csr_checks);
    TU_ADD(s, test_csr_fast_matches_openssl);
    TU_ADD(s, test_certs_only);
    TU_ADD(s, test_names_and_codes);
}
