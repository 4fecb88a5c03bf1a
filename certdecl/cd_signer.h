/*
 * cd_signer.h - CD signing certificates: a development signer (self-signed,
 * key in the token) and loading the signer certificate of a CD.
 */
#ifndef MP_CD_SIGNER_H
#define MP_CD_SIGNER_H

#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cd.h"
#include "x509.h"

/* Self-signed P-256 certificate for point, signed by signer (the same key):
 * CN only, basicConstraints CA pathLen 0 (critical), keyUsage
 * digitalSignature+keyCertSign+cRLSign (critical), SKID = AKID =
 * SHA-1(point), ecdsa-with-SHA256. */
int mp_cd_signer_build(const char *cn, time_t nb, time_t na, const uint8_t point[65],
                       EVP_PKEY *signer, X509 **out) MP_MUST_CHECK;

/* The 65-byte point of a CD signer certificate and its key identifier as
 * commissioners compute it (SHA-1 of the point); refuses a certificate
 * whose SKID extension differs from that. */
int mp_cd_signer_load(const char *path, uint8_t point[65], uint8_t skid[20]) MP_MUST_CHECK;

/* cd verify --trust: the CD signer (signer_path, or found in dir by the CMS
 * key ID = SHA-1 of its key), either a root of the trust folder itself or
 * chained by OpenSSL to one, with digitalSignature when keyUsage is present.
 * point receives its key; how says which. MP_ERR_VERIFY/MISMATCH/PROFILE. */
int mp_cd_trust_signer(const char *dir, const char *signer_path, const uint8_t *kid, size_t kid_len,
                       uint8_t point[65], char *how, size_t howlen) MP_MUST_CHECK;

#endif
