/* test_outsink.c - core/outsink.c: layouts and the JSON Lines bundle (a torn
 * last line is cut, the devices a bundle holds are listed for recovery). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "b64.h"
#include "devsecret.h"
#include "outsink.h"
#include "testutil.h"

static void test_relpath(void)
{
    char p[128];
    CU_ASSERT_EQUAL(mp_out_relpath(MP_LAYOUT_FLAT, "AB12", ".der", p, sizeof(p)), MP_OK);
    CU_ASSERT_STRING_EQUAL(p, "AB12.der");
    CU_ASSERT_EQUAL(mp_out_relpath(MP_LAYOUT_PER_DEVICE, "AB12", ".key.der", p, sizeof(p)), MP_OK);
    CU_ASSERT_STRING_EQUAL(p, "AB12/AB12.key.der");
    CU_ASSERT_EQUAL(mp_out_relpath(MP_LAYOUT_FLAT, "AB12", ".der", p, 6), MP_ERR_IO);
    int v;
    CU_ASSERT_EQUAL(mp_layout_parse("per-device", &v), MP_OK);
    CU_ASSERT_EQUAL(v, MP_LAYOUT_PER_DEVICE);
    CU_ASSERT_EQUAL(mp_layout_parse("tree", &v), MP_ERR_USAGE);
    CU_ASSERT_EQUAL(mp_name_by_parse("serial", &v), MP_OK);
    CU_ASSERT_EQUAL(v, MP_NAME_BY_SERIAL);
}

/* A line with the caller's digest is the line mp_bundle_add computes itself, and
 * carries exactly the digest given (`dac issue` passes the ledger's). */
static void test_bundle_hashed(void)
{
    char dir[] = "/tmp/mp-outsink-XXXXXX", path[128], line[2][512];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/lot.jsonl", dir);
    const uint8_t der[] = {0x30, 0x03, 0x02, 0x01, 0x07};
    uint8_t sha[32], fake[32];
    mp_sha256(der, sizeof(der), sha);
    memset(fake, 0xab, sizeof(fake));
    mp_bundle b;
    CU_ASSERT_EQUAL_FATAL(mp_bundle_open(&b, path, 0644), MP_OK);
    CU_ASSERT_EQUAL(mp_bundle_add(&b, "U1", "0A", der, sizeof(der), NULL, ""), MP_OK);
    CU_ASSERT_EQUAL(mp_bundle_add(&b, "U1", "0A", der, sizeof(der), sha, ""), MP_OK);
    CU_ASSERT_EQUAL(mp_bundle_add(&b, "U2", "0B", der, sizeof(der), fake, ""), MP_OK);
    CU_ASSERT_EQUAL(mp_bundle_flush(&b), MP_OK);
    mp_bundle_close(&b);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_PTR_NOT_NULL(fgets(line[0], sizeof(line[0]), f));
    CU_ASSERT_PTR_NOT_NULL(fgets(line[1], sizeof(line[1]), f));
    CU_ASSERT_STRING_EQUAL(line[0], line[1]);
    CU_ASSERT_PTR_NOT_NULL(fgets(line[1], sizeof(line[1]), f));
    CU_ASSERT_PTR_NOT_NULL(strstr(line[1], "\"sha256\":\"abababababababababababababababababababababababababababababababab\""));
    fclose(f);
    unlink(path);
    rmdir(dir);
}

static void test_bundle(void)
{
    char dir[] = "/tmp/mp-outsink-XXXXXX", path[128];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/lot.jsonl", dir);
    const uint8_t der[] = {0x30, 0x03, 0x02, 0x01, 0x07};
    mp_bundle b;
    CU_ASSERT_EQUAL_FATAL(mp_bundle_open(&b, path, 0644), MP_OK);
    CU_ASSERT_EQUAL(mp_bundle_add(&b, "ZZ", "0A", der, sizeof(der), NULL, ""), MP_OK);
    CU_ASSERT_EQUAL(mp_bundle_add(&b, "AA", "0B", der, sizeof(der), NULL, ""), MP_OK);
    CU_ASSERT_EQUAL(mp_bundle_flush(&b), MP_OK);
    mp_bundle_close(&b);
    /* a kill in the middle of the next line */
    FILE *f = fopen(path, "a");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("{\"udid\":\"MM\",\"ser", f);
    fclose(f);
    char **u = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(mp_bundle_udids(path, &u, &n), MP_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2); /* the torn line is not a device */
    CU_ASSERT_STRING_EQUAL(u[0], "AA");
    CU_ASSERT(mp_bundle_has(u, n, "ZZ") && !mp_bundle_has(u, n, "MM"));
    mp_bundle_udids_free(u, n);
    CU_ASSERT_EQUAL_FATAL(mp_bundle_open(&b, path, 0644), MP_OK); /* cuts the torn line */
    mp_bundle_close(&b);
    struct stat st;
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    f = fopen(path, "r");
    char line[512];
    int lines = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lines++;
        CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"dac\":\"MAMCAQc=\""));
        CU_ASSERT(line[strlen(line) - 1] == '\n');
    }
    fclose(f);
    CU_ASSERT_EQUAL(lines, 2);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0644);
    /* not a bundle: named */
    f = fopen(path, "w");
    fputs("hello\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(mp_bundle_udids(path, &u, &n), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "lot.jsonl:1"));
    unlink(path);
    rmdir(dir);
}

/* The key member of a --generate-keys bundle line: exactly the PKCS#8 DER
 * OpenSSL writes for the same key, and OpenSSL reads it back. */
static void test_pkcs8(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    BIGNUM *d = NULL;
    uint8_t scalar[32], point[65], ours[138], *theirs = NULL;
    size_t n = 0;
    CU_ASSERT_FATAL(k != NULL && EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1);
    CU_ASSERT_EQUAL(BN_bn2binpad(d, scalar, 32), 32);
    CU_ASSERT(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, 65, &n) == 1 && n == 65);
    CU_ASSERT_EQUAL(mp_pkcs8_der(scalar, point, ours), 138);
    int tl = i2d_PrivateKey(k, &theirs); /* PKCS#8 in OpenSSL 3 */
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
    uint8_t *p8der = NULL;
    int p8l = i2d_PKCS8_PRIV_KEY_INFO(p8, &p8der);
    CU_ASSERT_EQUAL(p8l, 138);
    CU_ASSERT(p8l == 138 && memcmp(ours, p8der, 138) == 0);
    (void)tl;
    const uint8_t *q = ours;
    EVP_PKEY *back = d2i_AutoPrivateKey(NULL, &q, 138);
    CU_ASSERT_PTR_NOT_NULL(back);
    CU_ASSERT(back != NULL && EVP_PKEY_eq(back, k) == 1);
    char member[MP_DEVSECRET_MEMBER_MAX];
    mp_devkey dk;
    memcpy(dk.scalar, scalar, 32);
    memcpy(dk.point, point, 65);
    CU_ASSERT_EQUAL(mp_devsecret_bundle_member(&dk, member, sizeof(member)), MP_OK);
    CU_ASSERT(strncmp(member, ",\"key\":\"", 8) == 0 && member[strlen(member) - 1] == '"');
    uint8_t dec[200];
    CU_ASSERT_EQUAL(mp_b64_decode(member + 8, strlen(member) - 9, dec, sizeof(dec)), 138);
    CU_ASSERT(memcmp(dec, ours, 138) == 0);
    CU_ASSERT_EQUAL(mp_devsecret_bundle_member(&dk, member, 100), MP_ERR_GENERAL); /* too small: refused, wiped */
    MP_DEVSECRET_CLEAR(&dk);
    CU_ASSERT_EQUAL(member[0], 0);
    EVP_PKEY_free(back);
    OPENSSL_free(theirs);
    OPENSSL_free(p8der);
    PKCS8_PRIV_KEY_INFO_free(p8);
    BN_clear_free(d);
    EVP_PKEY_free(k);
}

/* factory-data lines: images with name, SHA-256 and data; a line found by
 * UDID; the mode is never widened; a symbolic link is refused. */
static void test_bundle_blobs(void)
{
    char dir[] = "/tmp/mp-outsink-XXXXXX", path[128], link[140];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/fd.jsonl", dir);
    const uint8_t der[] = {0x30, 0x03, 0x02, 0x01, 0x07}, img[] = "abc";
    mp_bundle_blob blobs[] = {{.key = "json", .name = "U1.json", .data = img, .len = 3}};
    mp_bundle b;
    CU_ASSERT_EQUAL_FATAL(mp_bundle_open(&b, path, 0600), MP_OK);
    CU_ASSERT_EQUAL(mp_bundle_add_blobs(&b, "U1", "SN-1", der, sizeof(der), ",\"dac_serial\":\"0A\"", blobs, 1), MP_OK);
    CU_ASSERT_EQUAL(mp_bundle_add(&b, "U2", "SN-2", der, sizeof(der), NULL, ""), MP_OK);
    CU_ASSERT_EQUAL(mp_bundle_flush(&b), MP_OK);
    mp_bundle_close(&b);
    char *line = NULL;
    CU_ASSERT_EQUAL(mp_bundle_line(path, "U1", &line), MP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(line);
    CU_ASSERT_PTR_EQUAL(strstr(line, "{\"udid\":\"U1\",\"serial\":\"SN-1\",\"dac\":\"MAMCAQc=\",\"sha256\":"
                                     "\"eceda61045db145d209debf0d245e44b5b1cc52e3c04266aa2a486fdb6a2b285\""), line);
    CU_ASSERT_PTR_NOT_NULL(strstr(line, ",\"dac_serial\":\"0A\",\"images\":{\"json\":{\"name\":\"U1.json\",\"sha256\":"
                                        "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\",\"data\":\"YWJj\"}}}"));
    mp_free_secret(line, strlen(line));
    CU_ASSERT_EQUAL(mp_bundle_line(path, "U", &line), MP_OK); /* a prefix of a UDID is not that UDID */
    CU_ASSERT_PTR_NULL(line);
    /* the index: each line by one pread */
    FILE *f = fopen(path, "a");
    fputs("{\"udid\":\"U0\",\"cut", f); /* a torn last line is not indexed */
    fclose(f);
    mp_bundle_index ix;
    CU_ASSERT_EQUAL_FATAL(mp_bundle_index_open(path, &ix), MP_OK);
    CU_ASSERT_EQUAL(ix.n, 2);
    CU_ASSERT_EQUAL(mp_bundle_index_line(&ix, "U2", &line), MP_OK);
    CU_ASSERT(line != NULL && strcmp(line, "{\"udid\":\"U2\",\"serial\":\"SN-2\",\"dac\":\"MAMCAQc=\",\"sha256\":"
                                     "\"eceda61045db145d209debf0d245e44b5b1cc52e3c04266aa2a486fdb6a2b285\"}") == 0);
    if (line) mp_free_secret(line, strlen(line));
    CU_ASSERT_EQUAL(mp_bundle_index_line(&ix, "U0", &line), MP_OK);
    CU_ASSERT_PTR_NULL(line);
    mp_bundle_index_close(&ix);
    CU_ASSERT_EQUAL(mp_bundle_index_open("/nonexistent/b.jsonl", &ix), MP_OK); /* no bundle: no lines */
    CU_ASSERT_EQUAL(ix.n, 0);
    mp_bundle_index_close(&ix);
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(mp_bundle_open(&b, path, 0644), MP_OK); /* a 0600 bundle stays 0600 */
    mp_bundle_close(&b);
    CU_ASSERT(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    chmod(path, 0644);
    CU_ASSERT_EQUAL_FATAL(mp_bundle_open(&b, path, 0644), MP_OK);
    CU_ASSERT_EQUAL(mp_bundle_private(&b), MP_OK); /* a key line is coming */
    mp_bundle_close(&b);
    CU_ASSERT(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    snprintf(link, sizeof(link), "%s/link.jsonl", dir);
    CU_ASSERT_EQUAL_FATAL(symlink("fd.jsonl", link), 0);
    CU_ASSERT_EQUAL(mp_bundle_open(&b, link, 0600), MP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "symbolic link"));
    mp_bundle_close(&b);
    unlink(link);
    unlink(path);
    rmdir(dir);
}

void register_outsink(void)
{
    CU_pSuite s = CU_add_suite("outsink", NULL, NULL);
    TU_ADD(s, test_relpath);
    TU_ADD(s, test_bundle);
    TU_ADD(s, test_bundle_hashed);
    TU_ADD(s, test_pkcs8);
    TU_ADD(s, test_bundle_blobs);
}
