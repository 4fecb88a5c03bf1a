/*
 * cd_signer.c - a self-signed development CD signing certificate, and the
 * checks that bind a signer certificate to the key that signs with it.
 */
#include "cd_signer.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "keystore.h"
#include "util.h"

/* basicConstraints CA pathLen 0 and keyUsage digitalSignature + keyCertSign
 * + cRLSign, as the CSA CD signing certificates carry them. */
static const uint8_t bc_signer[] = {0x30, 0x06, 0x01, 0x01, 0xFF, 0x02, 0x01, 0x00};
static const uint8_t ku_signer[] = {0x03, 0x02, 0x01, 0x86};

static int add_key_ids(X509 *x, const uint8_t point[65])
{
    uint8_t skid[22] = {0x04, 0x14}, akid[24] = {0x30, 0x16, 0x80, 0x14};
    mp_skid(point, skid + 2);
    memcpy(akid + 4, skid + 2, 20);
    return mp_x509_add_ext(x, NID_basic_constraints, 1, bc_signer, sizeof(bc_signer)) &&
           mp_x509_add_ext(x, NID_key_usage, 1, ku_signer, sizeof(ku_signer)) &&
           mp_x509_add_ext(x, NID_subject_key_identifier, 0, skid, sizeof(skid)) &&
           mp_x509_add_ext(x, NID_authority_key_identifier, 0, akid, sizeof(akid));
}

int mp_cd_signer_build(const char *cn, time_t nb, time_t na, const uint8_t point[65],
                       EVP_PKEY *signer, X509 **out)
{
    uint8_t serial[16];
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    EVP_PKEY *pub = mp_cd_point_key(point);
    BIGNUM *bn = NULL;
    int rc = MP_ERR_GENERAL;
    if (cn == NULL || *cn == 0 || strlen(cn) > 64) {
        rc = mp_err(MP_ERR_INVALID, "--cn: the common name must be 1..64 characters");
        goto end;
    }
    if (na <= nb) {
        rc = mp_err(MP_ERR_INVALID, "validity ends before it starts");
        goto end;
    }
    if (mp_serial_random(serial) != MP_OK || (bn = BN_bin2bn(serial, 16, NULL)) == NULL ||
        x == NULL || name == NULL || pub == NULL || X509_set_version(x, 2) != 1 ||
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
        X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1 ||
        X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, name) != 1 ||
        !mp_asn1_set_time(X509_getm_notBefore(x), nb) || !mp_asn1_set_time(X509_getm_notAfter(x), na) ||
        X509_set_pubkey(x, pub) != 1 || !add_key_ids(x, point) || X509_sign(x, signer, EVP_sha256()) <= 0) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "cannot build the CD signer certificate");
        goto end;
    }
    *out = x;
    x = NULL;
    rc = MP_OK;
end:
    BN_free(bn);
    EVP_PKEY_free(pub);
    X509_NAME_free(name);
    X509_free(x);
    return rc;
}

int mp_cd_signer_load(const char *path, uint8_t point[65], uint8_t skid[20])
{
    X509 *x = NULL;
    uint8_t ext[20];
    int rc = mp_cert_load(path, &x);
    if (rc != MP_OK) {
        return rc;
    }
    if ((rc = mp_cert_point(x, point)) != MP_OK) {
        mp_err_ctx(rc, "%s", path);
        goto end;
    }
    mp_skid(point, skid);
    /* TC-DA-1.2 finds the signer by SHA-1(point); the SDK by the extension. */
    if (mp_cert_skid(x, ext) == 0 && memcmp(ext, skid, 20) != 0) {
        rc = mp_err(MP_ERR_PROFILE, "%s: subjectKeyIdentifier is not SHA-1 of the public key; commissioners could not find this signer", path);
    }
end:
    X509_free(x);
    return rc;
}
