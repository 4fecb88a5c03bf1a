/*
 * tv_cert.c - build test-vector certificates with one injected defect
 * (section 10 A). The baseline is the chip-cert profile of section 1.9; a
 * defect replaces, drops or adds exactly one element.
 */
#include "tv.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/x509v3.h>

#include "keystore.h"
#include "verify.h"
#include "x509.h"

typedef struct ext {
    int nid, crit;
    uint8_t der[40];
    size_t len;
} ext;

#define EXT(n, c, ...) do { static const uint8_t b_[] = {__VA_ARGS__}; e->nid = n; e->crit = c; \
        memcpy(e->der, b_, sizeof(b_)); e->len = sizeof(b_); } while (0)

/* basicConstraints of a PAI/DAC under defect d; 0 = leave out. */
static int bc(int dac, int d, ext *e)
{
    if (d == TV_BC_MISSING) return 0;
    if (d == TV_BC_CA_FLIP) { if (dac) EXT(NID_basic_constraints, 1, 0x30, 0x03, 0x01, 0x01, 0xFF);
                              else EXT(NID_basic_constraints, 1, 0x30, 0x03, 0x02, 0x01, 0x00); }
    else if (d == TV_BC_PATHLEN_ABSENT && !dac) EXT(NID_basic_constraints, 1, 0x30, 0x03, 0x01, 0x01, 0xFF);
    else if (d >= TV_PATHLEN_0 && d <= TV_PATHLEN_2) {
        uint8_t n = (uint8_t)(d - TV_PATHLEN_0);
        if (dac) EXT(NID_basic_constraints, 1, 0x30, 0x03, 0x02, 0x01, 0x00);
        else EXT(NID_basic_constraints, 1, 0x30, 0x06, 0x01, 0x01, 0xFF, 0x02, 0x01, 0x00);
        e->der[e->len - 1] = n;
    } else if (dac) EXT(NID_basic_constraints, 1, 0x30, 0x00);
    else EXT(NID_basic_constraints, 1, 0x30, 0x06, 0x01, 0x01, 0xFF, 0x02, 0x01, 0x00);
    if (d == TV_BC_NONCRIT) e->crit = 0;
    return 1;
}

static int ku(int dac, int d, ext *e)
{
    if (d == TV_KU_MISSING) return 0;
    if (d == TV_KU_DS_FLIP) { if (dac) EXT(NID_key_usage, 1, 0x03, 0x02, 0x03, 0x08);     /* keyAgreement */
                              else EXT(NID_key_usage, 1, 0x03, 0x02, 0x01, 0x86); }        /* + digitalSignature */
    else if (d == TV_KU_CERTSIGN_FLIP) { if (dac) EXT(NID_key_usage, 1, 0x03, 0x02, 0x02, 0x84);
                                         else EXT(NID_key_usage, 1, 0x03, 0x02, 0x01, 0x02); }
    else if (d == TV_KU_CRLSIGN_FLIP) { if (dac) EXT(NID_key_usage, 1, 0x03, 0x02, 0x01, 0x82);
                                        else EXT(NID_key_usage, 1, 0x03, 0x02, 0x02, 0x04); }
    else if (dac) EXT(NID_key_usage, 1, 0x03, 0x02, 0x07, 0x80);
    else EXT(NID_key_usage, 1, 0x03, 0x02, 0x01, 0x06);
    if (d == TV_KU_NONCRIT) e->crit = 0;
    return 1;
}

static int add_raw(X509 *x, const ext *e)
{
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *xe = NULL;
    int ok = os != NULL && ASN1_OCTET_STRING_set(os, e->der, (int)e->len) == 1 &&
             (xe = X509_EXTENSION_create_by_NID(NULL, e->nid, e->crit, os)) != NULL && X509_add_ext(x, xe, -1) == 1;
    X509_EXTENSION_free(xe);
    ASN1_OCTET_STRING_free(os);
    return ok;
}

static int add_conf(X509 *x, int nid, const char *value)
{
    X509_EXTENSION *xe = X509V3_EXT_conf_nid(NULL, NULL, nid, value);
    int ok = xe != NULL && X509_add_ext(x, xe, -1) == 1;
    X509_EXTENSION_free(xe);
    return ok;
}

/* A key identifier extension: 20 bytes, or 19 under the LEN19 defect. */
static void kid_ext(ext *e, int nid, const uint8_t kid[20], int short_kid)
{
    size_t n = short_kid ? 19 : 20, o = nid == NID_authority_key_identifier ? 4 : 2;
    e->nid = nid;
    e->crit = 0;
    if (o == 4) {
        e->der[0] = 0x30, e->der[1] = (uint8_t)(n + 2), e->der[2] = 0x80, e->der[3] = (uint8_t)n;
    } else {
        e->der[0] = 0x04, e->der[1] = (uint8_t)n;
    }
    memcpy(e->der + o, kid, n);
    e->len = o + n;
}

static int extensions(X509 *x, const tv_spec *s)
{
    int dac = s->type == VA_CERT_DAC, d = s->defect, ok = 1;
    uint8_t skid[20], ikid[20];
    ext e;
    mp_skid(s->point, skid);
    if (bc(dac, d, &e)) ok &= add_raw(x, &e);
    if (ku(dac, d, &e)) ok &= add_raw(x, &e);
    if (d != TV_SKID_MISSING) {
        kid_ext(&e, NID_subject_key_identifier, skid, d == TV_SKID_LEN19);
        ok &= add_raw(x, &e);
    }
    if (d != TV_AKID_MISSING && mp_cert_skid(s->issuer, ikid) == 0) {
        kid_ext(&e, NID_authority_key_identifier, ikid, d == TV_AKID_LEN19);
        ok &= add_raw(x, &e);
    }
    if (d == TV_EXT_EKU) ok &= add_conf(x, NID_ext_key_usage, "critical,clientAuth,serverAuth");
    if (d == TV_EXT_AIA) ok &= add_conf(x, NID_info_access, "OCSP;URI:http://ocsp.example.com");
    if (d == TV_EXT_SAN) ok &= add_conf(x, NID_subject_alt_name, "DNS:device.example.com");
    return ok;
}

static int add_attr(X509_NAME *n, const char *oid, const char *v)
{
    ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
    int ok = o != NULL && X509_NAME_add_entry_by_OBJ(n, o, V_ASN1_UTF8STRING, (const unsigned char *)v, -1, -1, 0) == 1;
    ASN1_OBJECT_free(o);
    return ok;
}

static X509_NAME *subject(const tv_spec *s)
{
    X509_NAME *n = X509_NAME_new();
    int ok = n != NULL;
    if (ok && s->cn) ok = add_attr(n, "2.5.4.3", s->cn);
    if (ok && s->vid) ok = add_attr(n, "1.3.6.1.4.1.37244.2.1", s->vid);
    if (ok && s->pid) ok = add_attr(n, "1.3.6.1.4.1.37244.2.2", s->pid);
    if (!ok) {
        X509_NAME_free(n);
        return NULL;
    }
    return n;
}

static int set_key(X509 *x, const tv_spec *s)
{
    uint8_t *copy = OPENSSL_memdup(s->point, 65);
    if (copy == NULL || X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
                                               V_ASN1_OBJECT, OBJ_nid2obj(s->curve_nid), copy, 65) != 1) {
        OPENSSL_free(copy);
        return 0;
    }
    return 1;
}

int tv_cert_build(const tv_spec *s, X509 **out)
{
    uint8_t serial[16];
    X509 *x = X509_new();
    X509_NAME *name = subject(s);
    BIGNUM *bn = NULL;
    int rc = mp_serial_random(serial);
    if (rc != MP_OK) goto end;
    bn = BN_bin2bn(serial, 16, NULL);
    if (x == NULL || name == NULL || bn == NULL || X509_set_version(x, s->defect == TV_V2 ? 1 : 2) != 1 ||
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL || X509_set_subject_name(x, name) != 1 ||
        X509_set_issuer_name(x, X509_get_subject_name(s->issuer)) != 1 ||
        ASN1_TIME_set(X509_getm_notBefore(x), s->nb) == NULL || ASN1_TIME_set(X509_getm_notAfter(x), s->na) == NULL ||
        !set_key(x, s) || !extensions(x, s) ||
        X509_sign(x, s->signer, s->defect == TV_SHA1 ? EVP_sha1() : EVP_sha256()) <= 0) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "cannot build the test-vector certificate '%s'", s->cn ? s->cn : "");
        goto end;
    }
    *out = x;
    x = NULL;
    rc = MP_OK;
end:
    BN_free(bn);
    X509_NAME_free(name);
    X509_free(x);
    return rc;
}

int tv_key_gen(const char *curve, tv_key *k)
{
    size_t n = 0;
    BIGNUM *d = NULL;
    memset(k, 0, sizeof(*k));
    k->pkey = EVP_EC_gen(curve);
    if (k->pkey == NULL ||
        EVP_PKEY_set_utf8_string_param(k->pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed") != 1 ||
        EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, k->point, 65, &n) != 1 || n != 65 ||
        EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1 || BN_bn2binpad(d, k->priv, 32) != 32) {
        BN_clear_free(d);
        tv_key_free(k);
        return mp_err_ssl(MP_ERR_GENERAL, "cannot generate a %s key", curve);
    }
    BN_clear_free(d);
    return MP_OK;
}

void tv_key_free(tv_key *k)
{
    EVP_PKEY_free(k->pkey);
    OPENSSL_cleanse(k->priv, sizeof(k->priv));
    k->pkey = NULL;
}
