/* test_vendor.c - vendor chip lists (issue 18): Microchip manifest entries
 * built and signed here (ES256 r||s over protected.payload), the OPTIGA tag
 * header, UDIDs from file names and the collision table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "b64.h"
#include "chips/chips.h"
#include "testutil.h"
#include "util.h"
#include "x509.h"

static void b64url(const uint8_t *in, size_t n, char *out, size_t cap)
{
    size_t k = mp_b64_encode(in, n, out, cap);
    while (k > 0 && out[k - 1] == '=') out[--k] = 0;
    for (size_t i = 0; i < k; i++) {
        if (out[i] == '+') out[i] = '-';
        if (out[i] == '/') out[i] = '_';
    }
}

static EVP_PKEY *p256(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static X509 *self_signed(EVP_PKEY *k)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"manifest signer", -1, -1, 0);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    X509_sign(x, k, EVP_sha256());
    X509_NAME_free(n);
    return x;
}

static void point_of(EVP_PKEY *k, uint8_t pt[65])
{
    size_t n = 0;
    CU_ASSERT_EQUAL(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, 65, &n), 1);
    CU_ASSERT_EQUAL(n, 65);
}

/* One flattened JWS entry for uniqueId uid with the key of dev in slot 0. */
static void entry(FILE *f, EVP_PKEY *signer, X509 *scert, const char *uid, EVP_PKEY *dev, int tamper)
{
    uint8_t pt[65], h[32], *der = NULL, rs[64], sigder[80];
    char x[64], y[64], x5t[64], prot[512], pay[2048], sig[128], hdr[256], body[1024];
    int dl = i2d_X509(scert, &der);
    EVP_Digest(der, (size_t)dl, h, NULL, EVP_sha256(), NULL);
    OPENSSL_free(der);
    b64url(h, 32, x5t, sizeof(x5t));
    point_of(dev, pt);
    b64url(pt + 1, 32, x, sizeof(x));
    b64url(pt + 33, 32, y, sizeof(y));
    snprintf(hdr, sizeof(hdr), "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"kid\":\"a\",\"x5t#S256\":\"%s\"}", x5t);
    b64url((const uint8_t *)hdr, strlen(hdr), prot, sizeof(prot));
    snprintf(body, sizeof(body), "{\"version\":1,\"model\":\"ATECC608B\",\"uniqueId\":\"%s\",\"publicKeySet\":{\"keys\":"
             "[{\"kid\":\"0\",\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}}", uid, x, y);
    b64url((const uint8_t *)body, strlen(body), pay, sizeof(pay));
    char signing[4096];
    snprintf(signing, sizeof(signing), "%s.%s", prot, pay);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t sl = sizeof(sigder);
    CU_ASSERT_EQUAL(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, signer), 1);
    CU_ASSERT_EQUAL(EVP_DigestSign(md, sigder, &sl, (const uint8_t *)signing, strlen(signing)), 1);
    EVP_MD_CTX_free(md);
    const uint8_t *p = sigder;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sl);
    BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32);
    ECDSA_SIG_free(es);
    b64url(rs, 64, sig, sizeof(sig));
    if (tamper) pay[10] = pay[10] == 'A' ? 'B' : 'A';
    fprintf(f, "{\"payload\":\"%s\",\"protected\":\"%s\",\"header\":{\"uniqueId\":\"%s\"},\"signature\":\"%s\"}", pay, prot, uid, sig);
}

static int count_cb(void *ctx, const mp_chip_entry *e)
{
    size_t *n = ctx;
    (*n)++;
    CU_ASSERT_EQUAL(e->point[0], 4);
    CU_ASSERT_EQUAL(strncmp(e->udid, "0123", 4), 0);
    CU_ASSERT_EQUAL(strspn(e->udid, "0123456789ABCDEF"), strlen(e->udid));
    return MP_OK;
}

static void write_manifest(const char *path, EVP_PKEY *signer, X509 *scert, int tamper_at)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("[\n", f);
    for (int i = 0; i < 3; i++) {
        char uid[32];
        EVP_PKEY *dev = p256();
        snprintf(uid, sizeof(uid), "0123aabbccdd0000%02x", i);
        if (i) fputs(",\n", f);
        entry(f, signer, scert, uid, dev, i + 1 == tamper_at);
        EVP_PKEY_free(dev);
    }
    fputs("\n]\n", f);
    fclose(f);
}

static void test_manifest_parse(void)
{
    char path[] = "/tmp/mp-ut-manifest.XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    EVP_PKEY *signer = p256(), *other = p256();
    X509 *scert = self_signed(signer), *ocert = self_signed(other);
    mp_chips_src src = {.name = path, .manifest_signer = scert};
    size_t n = 0, count = 0;
    write_manifest(path, signer, scert, 0);
    CU_ASSERT_EQUAL(mp_chips_parse_manifest(&src, path, count_cb, &n, &count), MP_OK);
    CU_ASSERT_EQUAL(count, 3);
    CU_ASSERT_EQUAL(n, 3);
    /* the wrong signer: refused at entry 1, by x5t#S256 */
    src.manifest_signer = ocert;
    CU_ASSERT_EQUAL(mp_chips_parse_manifest(&src, path, count_cb, &n, &count), MP_ERR_VERIFY);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "entry 1 (uniqueId 0123aabbccdd000000)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "signed by another signer"));
    /* a payload altered after signing: refused at its entry */
    src.manifest_signer = scert;
    write_manifest(path, signer, scert, 2);
    CU_ASSERT_EQUAL(mp_chips_parse_manifest(&src, path, count_cb, &n, &count), MP_ERR_VERIFY);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "entry 2 (uniqueId 0123aabbccdd000001)"));
    /* a slot the entries lack */
    src.slot = "3";
    write_manifest(path, signer, scert, 0);
    CU_ASSERT_EQUAL(mp_chips_parse_manifest(&src, path, count_cb, &n, &count), MP_ERR_INVALID);
    /* not an array; an entry cut off */
    FILE *f = fopen(path, "w");
    fputs("{\"a\":1}", f);
    fclose(f);
    CU_ASSERT_EQUAL(mp_chips_parse_manifest(&src, path, count_cb, &n, &count), MP_ERR_INVALID);
    f = fopen(path, "w");
    fputs("[{\"payload\":\"ab", f);
    fclose(f);
    CU_ASSERT_EQUAL(mp_chips_parse_manifest(&src, path, count_cb, &n, &count), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "cut off"));
    unlink(path);
    X509_free(scert);
    X509_free(ocert);
    EVP_PKEY_free(signer);
    EVP_PKEY_free(other);
}

static void test_tag_header(void)
{
    uint8_t b[64] = {0xC0, 0x00, 0x3A, 0x00, 0x00, 0x37, 0x00, 0x00, 0x34, 0x30};
    CU_ASSERT_EQUAL(mp_birth_tag_skip(b, 9 + 0x34), 9);
    CU_ASSERT_EQUAL(mp_birth_tag_skip(b, 9 + 0x30), 0);  /* shorter than it says */
    b[5] = 0x38;
    CU_ASSERT_EQUAL(mp_birth_tag_skip(b, 9 + 0x34), 0);  /* lengths disagree */
    b[0] = 0x30;
    CU_ASSERT_EQUAL(mp_birth_tag_skip(b, 9 + 0x34), 0);  /* plain DER */
}

static void test_udid_filename(void)
{
    char u[MP_UDID_MAX + 1];
    CU_ASSERT_EQUAL(mp_udid_from_filename(NULL, "/x/CD16339301001C000112_E0E0.pem", u), MP_OK);
    CU_ASSERT_STRING_EQUAL(u, "CD16339301001C000112");
    CU_ASSERT_EQUAL(mp_udid_from_filename("dac-<UDID>.der", "dac-ABC.der", u), MP_OK);
    CU_ASSERT_STRING_EQUAL(u, "ABC");
    CU_ASSERT_EQUAL(mp_udid_from_filename("<UDID>_E0E0.pem", "ABC_E0E1.pem", u), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_udid_from_filename(NULL, "noseparator.pem", u), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_udid_from_filename("<UDID>-<UDID>", "a-b", u), MP_ERR_USAGE);
}

static void test_udid_seen(void)
{
    mp_udid_seen *t = NULL;
    char u[16], w[32];
    CU_ASSERT_EQUAL_FATAL(mp_udid_seen_new(&t), MP_OK);
    for (int i = 0; i < 5000; i++) { /* past several resizes */
        snprintf(u, sizeof(u), "U%d", i);
        snprintf(w, sizeof(w), "file%d", i);
        CU_ASSERT_EQUAL(mp_udid_seen_add(t, u, w), MP_OK);
    }
    CU_ASSERT_EQUAL(mp_udid_seen_add(t, "U1234", "again.pem"), MP_ERR_DUPLICATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "file1234 and again.pem"));
    mp_udid_seen_free(t);
}

void register_vendor(void)
{
    CU_pSuite s = CU_add_suite("vendor", NULL, NULL);
    TU_ADD(s, test_manifest_parse);
    TU_ADD(s, test_tag_header);
    TU_ADD(s, test_udid_filename);
    TU_ADD(s, test_udid_seen);
}
