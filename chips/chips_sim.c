/*
 * chips_sim.c - the chip maker SIMULATOR (see chips.h): device key pairs
 * standing in for the chips' secure elements, a signed chip list in CSV and
 * JSON, and optionally birth certificates. For demos and tests only.
 *
 * Large outputs are streamed to temporary files in DIR and renamed into
 * place only when everything succeeded; memory does not grow with --count.
 */
#include "chips/chips.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/pem.h> /* before cms.h */
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "util.h"
#include "x509.h"

#define SIM_YEARS 20

/* ---- streamed outputs ------------------------------------------------------- */

enum { F_KEYS, F_CSV, F_JSON, F_BIRTH, F_N };
static const char *const stream_names[F_N] = {"device-keys.csv", "chips.csv", "chips.json", "birth-certs.pem"};
static const int stream_modes[F_N] = {0600, 0644, 0644, 0644};

typedef struct sim {
    const mp_chips_sim *opt;
    mp_stream out[F_N];
    EVP_PKEY *ca_key;
    X509 *ca;
    EVP_PKEY_CTX *kg;
    X509_EXTENSION *bc, *ku;
    uint8_t *csv_sig, *p7s;
    size_t csv_sig_len, p7s_len;
} sim;

static void out_path(const mp_chips_sim *o, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", o->out_dir, name);
}

static int stream_open(sim *s, int i)
{
    char path[4200];
    out_path(s->opt, stream_names[i], path, sizeof(path));
    return mp_stream_open(&s->out[i], path, stream_modes[i]);
}

static void sim_free(sim *s)
{
    for (int i = 0; i < F_N; i++) {
        mp_stream_abort(&s->out[i]);
    }
    EVP_PKEY_free(s->ca_key);
    X509_free(s->ca);
    EVP_PKEY_CTX_free(s->kg);
    X509_EXTENSION_free(s->bc);
    X509_EXTENSION_free(s->ku);
    OPENSSL_free(s->csv_sig);
    OPENSSL_free(s->p7s);
}

/* ---- the chip maker's CA -------------------------------------------------------- */

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v;
    X509V3_set_ctx(&v, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v, nid, value);
    int ok = e != NULL && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok;
}

static int set_serial(X509 *x)
{
    uint8_t serial[16];
    BIGNUM *bn = NULL;
    int ok = mp_serial_random(serial) == MP_OK && (bn = BN_bin2bn(serial, 16, NULL)) != NULL &&
             BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

static int set_validity(X509 *x)
{
    return X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
           X509_time_adj_ex(X509_getm_notAfter(x), 365 * SIM_YEARS, 0, NULL) != NULL;
}

static int make_ca(sim *s)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    s->ca_key = EVP_EC_gen("P-256");
    int ok = x != NULL && n != NULL && s->ca_key != NULL && X509_set_version(x, X509_VERSION_3) &&
             set_serial(x) && set_validity(x) &&
             X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"SIMULATED chip maker", -1, -1, 0) &&
             X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"matter-pki SIMULATOR chip root", -1, -1, 0) &&
             X509_set_subject_name(x, n) && X509_set_issuer_name(x, n) && X509_set_pubkey(x, s->ca_key) &&
             add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") &&
             add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") &&
             add_ext(x, x, NID_subject_key_identifier, "hash") && X509_sign(x, s->ca_key, EVP_sha256()) > 0;
    X509_NAME_free(n);
    s->ca = x;
    return ok ? MP_OK : mp_err_ssl(MP_ERR_GENERAL, "simulator: cannot make the chip maker certificate");
}

/* ---- per device -------------------------------------------------------------- */

static int set_point(X509 *x, const uint8_t point[static 65])
{
    uint8_t *copy = OPENSSL_memdup(point, 65);
    if (copy == NULL || X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
                                               V_ASN1_OBJECT, OBJ_nid2obj(NID_X9_62_prime256v1), copy, 65) != 1) {
        OPENSSL_free(copy);
        return 0;
    }
    return 1;
}

static int birth_cert(sim *s, const char *udid, const uint8_t point[static 65])
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    int ok = x != NULL && n != NULL && X509_set_version(x, X509_VERSION_3) && set_serial(x) &&
             set_validity(x) && X509_set_issuer_name(x, X509_get_subject_name(s->ca)) &&
             X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)udid, -1, -1, 0) &&
             X509_set_subject_name(x, n) && set_point(x, point) && X509_add_ext(x, s->bc, -1) &&
             X509_add_ext(x, s->ku, -1) && X509_sign(x, s->ca_key, EVP_sha256()) > 0 &&
             PEM_write_X509(s->out[F_BIRTH].f, x) == 1;
    X509_NAME_free(n);
    X509_free(x);
    return ok ? MP_OK : mp_err_ssl(MP_ERR_GENERAL, "simulator: cannot make the birth certificate of %s", udid);
}

static int export_key(EVP_PKEY *pk, uint8_t point[static 65], uint8_t scalar[static 32])
{
    BIGNUM *d = NULL;
    size_t n = 0;
    int ok = EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, 65, &n) == 1 &&
             n == 65 && EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1 &&
             BN_bn2binpad(d, scalar, 32) == 32;
    BN_clear_free(d);
    return ok;
}

static int one_device(sim *s, uint64_t i)
{
    EVP_PKEY *pk = NULL;
    uint8_t point[65], scalar[32];
    char udid[65], hex[131], b64[96];
    if (EVP_PKEY_keygen(s->kg, &pk) != 1 || !export_key(pk, point, scalar)) {
        EVP_PKEY_free(pk);
        mp_wipe(scalar, sizeof(scalar));
        return mp_err_ssl(MP_ERR_GENERAL, "simulator: key generation failed");
    }
    EVP_PKEY_free(pk);
    mp_chip_udid_of(point, udid);
    mp_hex(scalar, 32, hex, 0);
    fprintf(s->out[F_KEYS].f, "%s,%s\n", udid, hex);
    mp_wipe(scalar, sizeof(scalar));
    mp_wipe(hex, sizeof(hex));
    mp_hex(point, 65, hex, 0);
    fprintf(s->out[F_CSV].f, "%s,%s\n", udid, hex);
    EVP_EncodeBlock((unsigned char *)b64, point, 65);
    fprintf(s->out[F_JSON].f, "%s{\"udid\":\"%s\",\"public_key\":\"%s\"}", i == 0 ? "" : ",\n", udid, b64);
    return s->opt->birth_certs ? birth_cert(s, udid, point) : MP_OK;
}

static int devices(sim *s)
{
    int rc = MP_OK;
    s->kg = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    s->bc = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:FALSE");
    s->ku = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, "critical,digitalSignature");
    if (s->kg == NULL || s->bc == NULL || s->ku == NULL || EVP_PKEY_keygen_init(s->kg) != 1 ||
        EVP_PKEY_CTX_set_group_name(s->kg, "P-256") != 1) {
        return mp_err_ssl(MP_ERR_GENERAL, "simulator: cannot set up key generation");
    }
    fputs("udid,private_key\n", s->out[F_KEYS].f);
    fputs("udid,public_key\n", s->out[F_CSV].f);
    fputs("[\n", s->out[F_JSON].f);
    for (uint64_t i = 0; rc == MP_OK && i < s->opt->count; i++) {
        rc = one_device(s, i);
    }
    fputs("\n]\n", s->out[F_JSON].f);
    return rc;
}

/* ---- list signatures -------------------------------------------------------------- */

/* Raw ECDSA-P256/SHA-256 DER over the file's bytes, streamed. */
static int sign_raw(sim *s, const char *path)
{
    uint8_t chunk[65536];
    size_t n, sl = 0;
    FILE *f = fopen(path, "rb");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = f != NULL && md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, s->ca_key) == 1;
    while (ok && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        ok = EVP_DigestSignUpdate(md, chunk, n) == 1;
    }
    ok = ok && !ferror(f) && EVP_DigestSignFinal(md, NULL, &sl) == 1 &&
         (s->csv_sig = OPENSSL_malloc(sl)) != NULL && EVP_DigestSignFinal(md, s->csv_sig, &sl) == 1;
    s->csv_sig_len = sl;
    if (f != NULL) fclose(f);
    EVP_MD_CTX_free(md);
    return ok ? MP_OK : mp_err_ssl(MP_ERR_GENERAL, "simulator: cannot sign %s", path);
}

/* CMS SignedData, detached, binary, over the file's bytes (streamed). */
static int sign_cms(sim *s, const char *path)
{
    BIO *in = BIO_new_file(path, "rb");
    CMS_ContentInfo *cms = in != NULL ? CMS_sign(s->ca, s->ca_key, NULL, in, CMS_DETACHED | CMS_BINARY) : NULL;
    unsigned char *der = NULL;
    int len = cms != NULL ? i2d_CMS_ContentInfo(cms, &der) : -1;
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    if (len <= 0) {
        return mp_err_ssl(MP_ERR_GENERAL, "simulator: cannot make the CMS signature over %s", path);
    }
    s->p7s = der;
    s->p7s_len = (size_t)len;
    return MP_OK;
}

/* ---- outputs ------------------------------------------------------------------ */

static int write_small(const mp_chips_sim *o, const char *name, const void *data, size_t len, int mode)
{
    char path[4200];
    out_path(o, name, path, sizeof(path));
    return mp_write_file(path, data, len, mode, o->force);
}

static int write_ca(sim *s)
{
    BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
    char *kd = NULL, *cd = NULL;
    int rc = MP_ERR_GENERAL;
    if (kb != NULL && cb != NULL && PEM_write_bio_PrivateKey(kb, s->ca_key, NULL, NULL, 0, NULL, NULL) == 1 &&
        PEM_write_bio_X509(cb, s->ca) == 1) {
        long kl = BIO_get_mem_data(kb, &kd), cl = BIO_get_mem_data(cb, &cd);
        rc = write_small(s->opt, "chipmaker.key", kd, (size_t)kl, 0600);
        if (rc == MP_OK) rc = write_small(s->opt, "chipmaker.pem", cd, (size_t)cl, 0644);
        mp_wipe(kd, (size_t)kl);
    } else {
        rc = mp_err_ssl(MP_ERR_GENERAL, "simulator: cannot encode the chip maker key");
    }
    BIO_free(kb);
    BIO_free(cb);
    return rc;
}

static int commit_all(sim *s)
{
    int rc = MP_OK;
    for (int i = 0; rc == MP_OK && i < F_N; i++) {
        if (s->out[i].tmp[0] != 0) rc = mp_stream_commit(&s->out[i], s->opt->force);
    }
    if (rc == MP_OK) rc = write_small(s->opt, "chips.csv.sig", s->csv_sig, s->csv_sig_len, 0644);
    if (rc == MP_OK) rc = write_small(s->opt, "chips.json.p7s", s->p7s, s->p7s_len, 0644);
    if (rc == MP_OK) rc = write_ca(s);
    return rc;
}

static int check_outputs(const mp_chips_sim *o)
{
    static const char *const names[] = {"chipmaker.key", "chipmaker.pem", "device-keys.csv", "chips.csv",
                                        "chips.csv.sig", "chips.json", "chips.json.p7s", "birth-certs.pem"};
    char path[4200];
    int rc = mp_mkdir_p(o->out_dir, 0700);
    for (size_t i = 0; rc == MP_OK && i < sizeof(names) / sizeof(names[0]); i++) {
        if (i == 7 && !o->birth_certs) break;
        out_path(o, names[i], path, sizeof(path));
        rc = mp_check_output(path, o->force);
    }
    return rc;
}

int mp_chips_simulate(const mp_chips_sim *o)
{
    sim s;
    int rc;
    memset(&s, 0, sizeof(s));
    s.opt = o;
    if (o->count == 0) {
        return mp_err(MP_ERR_INVALID, "simulator: --count must be at least 1");
    }
    if ((rc = check_outputs(o)) != MP_OK) {
        return rc;
    }
    rc = make_ca(&s);
    for (int i = 0; rc == MP_OK && i < F_N; i++) {
        if (i != F_BIRTH || o->birth_certs) rc = stream_open(&s, i);
    }
    if (rc == MP_OK) rc = devices(&s);
    for (int i = 0; i < F_N; i++) {
        int r = mp_stream_close(&s.out[i]);
        rc = rc == MP_OK ? r : rc;
    }
    if (rc == MP_OK) rc = sign_raw(&s, s.out[F_CSV].tmp);
    if (rc == MP_OK) rc = sign_cms(&s, s.out[F_JSON].tmp);
    if (rc == MP_OK) rc = commit_all(&s);
    sim_free(&s);
    return rc;
}
