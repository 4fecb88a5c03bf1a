/*
 * cd.h - Matter Certification Declarations (CD): the TLV content and its CMS
 * SignedData envelope (docs/matter-attestation.md sections 4 and 5).
 *
 * All functions return MP_OK or an exit code (err.h) with the message
 * recorded by mp_err(). Decode errors carry the SDK error name
 * (e.g. "CHIP_ERROR_INVALID_INTEGER_VALUE"); envelope errors name the rule.
 */
#ifndef MP_CD_H
#define MP_CD_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "err.h"

#define MP_CD_MAX_PIDS 100
#define MP_CD_MAX_PAAS 10
#define MP_CD_CERT_ID_LEN 19
/* Largest CD TLV we produce or accept (100 PIDs, 10 PAAs): well below this. */
#define MP_CD_MAX_TLV 1024
/* kMaxCMSSignedCDMessage = 183 + max CD TLV length. */
#define MP_CD_MAX_CMS (183 + MP_CD_MAX_TLV)

typedef struct mp_cd {
    uint16_t format_version, vendor_id;
    uint16_t product_ids[MP_CD_MAX_PIDS];
    size_t n_pids;
    uint32_t device_type_id;
    char certificate_id[20]; /* 19 chars + NUL */
    uint8_t security_level;
    uint16_t security_information;
    uint16_t version_number;
    uint8_t certification_type;
    int has_dac_origin;
    uint16_t dac_origin_vid, dac_origin_pid;
    int has_paa_list;
    size_t n_paas;
    uint8_t authorized_paas[MP_CD_MAX_PAAS][20];
} mp_cd;

/* Check the field rules of the issue (format_version 1, vendor_id
 * 1..0xFFF4, 1..100 non-zero PIDs, certificate_id 19 chars, security
 * fields 0, certification_type 0..2, 1..10 PAAs when has_paa_list).
 * The message names the field; MP_ERR_INVALID. */
int mp_cd_validate(const mp_cd *cd) MP_MUST_CHECK;

/* Encode the CD TLV exactly as the SDK encoder does (minimal-width
 * integers, tags in order, optional fields omitted). Validates first. */
int mp_cd_encode(const mp_cd *cd, uint8_t *buf, size_t cap, size_t *len) MP_MUST_CHECK;

/* Decode a CD TLV with the SDK decoder's behaviour (section 4.4): any
 * integer width whose value fits, tags in order, 9 and 10 together,
 * <= 100 PIDs, <= 10 PAAs of 20 bytes, unknown tags >= 12 skipped.
 * Field *rules* (e.g. format_version 1) are not checked: use
 * mp_cd_validate. MP_ERR_INVALID with the SDK error name. */
int mp_cd_decode(const uint8_t *tlv, size_t len, mp_cd *cd) MP_MUST_CHECK;

/* Strict CMS envelope walk (section 5 + TC-DA-1.2): on success gives the
 * eContent (CD TLV) and the signer key id; on failure a distinct message
 * naming the rule (MP_ERR_INVALID). Pointers point into der. */
typedef struct mp_cd_env {
    const uint8_t *content;
    size_t content_len;
    uint8_t skid[32];
    size_t skid_len;
    const uint8_t *sig; /* DER ECDSA-Sig-Value */
    size_t sig_len;
} mp_cd_env;
int mp_cd_env_parse(const uint8_t *der, size_t len, mp_cd_env *env) MP_MUST_CHECK;

/* Signature check of a parsed envelope against a signer public point
 * (65 bytes, uncompressed): ECDSA-SHA256 over the content bytes.
 * MP_ERR_VERIFY when it does not verify. */
int mp_cd_env_verify(const mp_cd_env *env, const uint8_t point[65]) MP_MUST_CHECK;

/* Read a CD file (DER, hex or base64): parse envelope + decode TLV, no
 * signature check. *der is malloc'd (free it); env points into it. */
int mp_cd_read_file(const char *path, uint8_t **der, size_t *der_len, mp_cd_env *env,
                    mp_cd *cd) MP_MUST_CHECK;

/* Build the CMS SignedData envelope around tlv and sign it with signer
 * (HSM-backed or software EVP_PKEY, P-256). skid is the signer's 20-byte
 * key identifier. *der is malloc'd (free it). */
int mp_cd_sign(const uint8_t *tlv, size_t tlv_len, const uint8_t skid[20], EVP_PKEY *signer,
               uint8_t **der, size_t *der_len) MP_MUST_CHECK;

/* A P-256 public EVP_PKEY from a 65-byte uncompressed point (NULL if the
 * point is not on the curve). */
EVP_PKEY *mp_cd_point_key(const uint8_t point[65]);

/* Decode a CD file's bytes: DER as is, else hex or base64 (PEM armour
 * lines are skipped). *der is malloc'd. */
int mp_cd_unarmor(const uint8_t *buf, size_t len, uint8_t **der, size_t *der_len) MP_MUST_CHECK;

/* Name of a certification_type value. */
const char *mp_cd_type_name(unsigned type);

#endif
