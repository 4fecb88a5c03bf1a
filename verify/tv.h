/*
 * tv.h - commissioner certification test vectors (matter-attestation.md
 * sections 9 and 10): deliberately defective DAC/PAI certificates and CDs,
 * built on the OpenSSL API (mp_cert_build refuses defects by design).
 */
#ifndef MP_TV_H
#define MP_TV_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"

/* Certificate structure defects (category A of section 10). */
enum tv_defect {
    TV_NONE = 0, TV_V2, TV_SHA1, TV_BC_MISSING, TV_BC_NONCRIT, TV_BC_CA_FLIP, TV_BC_PATHLEN_ABSENT,
    TV_PATHLEN_0, TV_PATHLEN_1, TV_PATHLEN_2, TV_KU_MISSING, TV_KU_NONCRIT, TV_KU_DS_FLIP,
    TV_KU_CERTSIGN_FLIP, TV_KU_CRLSIGN_FLIP, TV_AKID_MISSING, TV_SKID_MISSING, TV_SKID_LEN19,
    TV_AKID_LEN19, TV_EXT_EKU, TV_EXT_AIA, TV_EXT_SAN,
};

typedef struct tv_spec {
    int type;             /* VA_CERT_PAI or VA_CERT_DAC */
    const char *cn;       /* NULL: no CN */
    const char *vid, *pid;/* matter-vid / matter-pid attribute values; NULL = absent */
    X509 *issuer;         /* issuer name and AKID (= issuer SKID, absent if it has none) */
    EVP_PKEY *signer;     /* HSM or software key */
    const uint8_t *point; /* subject public point, 65 bytes */
    int curve_nid;        /* NID_X9_62_prime256v1 or NID_secp256k1 */
    time_t nb, na;
    int defect;           /* enum tv_defect */
} tv_spec;

int tv_cert_build(const tv_spec *s, X509 **out) MP_MUST_CHECK;

/* A software EC key on curve ("P-256", "secp256k1"): point and scalar. */
typedef struct tv_key {
    EVP_PKEY *pkey;
    uint8_t point[65];
    uint8_t priv[32];
} tv_key;
int tv_key_gen(const char *curve, tv_key *k) MP_MUST_CHECK;
void tv_key_free(tv_key *k);

/* CD content with every field optional (category C). */
enum { TVF_FORMAT = 1u << 0, TVF_VENDOR = 1u << 1, TVF_PIDS = 1u << 2, TVF_DEVTYPE = 1u << 3,
       TVF_CERTID = 1u << 4, TVF_SECLEVEL = 1u << 5, TVF_SECINFO = 1u << 6, TVF_VERSION = 1u << 7,
       TVF_CERTTYPE = 1u << 8, TVF_ORIGIN_VID = 1u << 9, TVF_ORIGIN_PID = 1u << 10, TVF_PAAS = 1u << 11,
       TVF_ALL = 0x1FF };

typedef struct tv_cd {
    unsigned fields;      /* TVF_* present */
    uint32_t format_version, vendor_id, device_type, sec_level, sec_info, version, cert_type;
    uint16_t pids[100];
    size_t n_pids;
    const char *cert_id;
    uint16_t origin_vid, origin_pid;
    uint8_t paas[10][20];
    size_t n_paas;
} tv_cd;

/* CMS envelope defects. */
enum tv_cms_defect {
    TVC_NONE = 0, TVC_SIGNER_V2, TVC_SIGNER_DIGEST_SHA1, TVC_SIGNED_DATA_V2, TVC_DIGEST_SHA1,
    TVC_SIG_ALG_SHA1, TVC_ECONTENT_OTHER, TVC_CORRUPT_SIG, TVC_UNKNOWN_KID,
    TVC_TWO_DIGESTS, /* SignedData digestAlgorithms {sha256, sha1}: only TC-DA-1.2 objects */
};

int tv_cd_tlv(const tv_cd *cd, uint8_t *buf, size_t cap, size_t *len) MP_MUST_CHECK;
/* CMS SignedData around tlv, signed with key (kid = its 20-byte SKID). */
int tv_cd_sign(const uint8_t *tlv, size_t len, const uint8_t kid[20], EVP_PKEY *key, int defect,
               uint8_t *out, size_t cap, size_t *out_len) MP_MUST_CHECK;

#endif
