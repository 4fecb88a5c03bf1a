/*
 * x509.h - Matter attestation certificates: building PAA/PAI/DAC exactly per
 * the profile, loading, and extracting VID/PID and key identifiers.
 */
#ifndef MP_X509_H
#define MP_X509_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"

struct mp_subject;

/* MP_CRL_SIGNER: a delegated CRL signer (matter-attestation.md 7.2): cA
 * FALSE, keyUsage cRLSign only, the issuer's VID (and PID when given). */
enum mp_cert_type { MP_PAA = 1, MP_PAI = 2, MP_DAC = 3, MP_CRL_SIGNER = 4 };

#define MP_NO_EXPIRY ((time_t)253402300799) /* 9999-12-31T23:59:59Z */
#define MP_MAX_CERT_DER 600
#define MP_MAX_CN 64

typedef struct mp_cert_spec {
    int type;                 /* MP_PAA, MP_PAI, MP_DAC */
    const char *cn;           /* subject CN (UTF8String, <= 64 chars) */
    uint16_t vid;             /* 0 = absent (PAA only) */
    uint16_t pid;             /* 0 = absent (PAA always, PAI optional) */
    time_t not_before;
    time_t not_after;         /* MP_NO_EXPIRY for 99991231235959Z */
    const uint8_t *point;     /* subject public point, 65 bytes */
    X509 *issuer;             /* NULL: self-signed (PAA) */
    const uint8_t *serial;    /* big-endian magnitude; NULL = random */
    size_t serial_len;
    int paa_pathlen_absent;   /* PAA: omit pathLen (default pathLen 1) */
    const struct mp_subject *subject; /* PAA/PAI: full subject (subject.h) in its
                                       * order, then VID/PID; NULL = CN only.
                                       * cn must then be its CN. */
} mp_cert_spec;

/* Build and sign a certificate. signer signs (PKCS#11 or software key). */
int mp_cert_build(const mp_cert_spec *spec, EVP_PKEY *signer, X509 **out) MP_MUST_CHECK;

/* A new serial: 16 octets, positive, first octet 0x01..0x7F: the time in
 * milliseconds (6 octets, so serials sort by issuing time) and 80 random bits. */
int mp_serial_random(uint8_t serial[static 16]) MP_MUST_CHECK;

/* Load a certificate from PEM or DER. */
int mp_cert_load(const char *path, X509 **out) MP_MUST_CHECK;
int mp_cert_from_mem(const uint8_t *buf, size_t len, X509 **out) MP_MUST_CHECK;
/* Write PEM atomically. */
int mp_cert_write_pem(const char *path, X509 *x, int force) MP_MUST_CHECK;
/* DER encoding (caller frees with OPENSSL_free). */
int mp_cert_der(X509 *x, uint8_t **der, size_t *len) MP_MUST_CHECK;
void mp_cert_sha256_hex(X509 *x, char out[65]);

/* The 65-byte uncompressed point of a certificate's P-256 key. */
int mp_cert_point(X509 *x, uint8_t point[static 65]) MP_MUST_CHECK;
int mp_pubkey_point(const X509_PUBKEY *pk, uint8_t point[static 65]) MP_MUST_CHECK;
/* SKID / AKID keyIdentifier (20 bytes); returns 0 when present. */
int mp_cert_skid(X509 *x, uint8_t skid[static 20]);
int mp_cert_akid(X509 *x, uint8_t akid[static 20]);

/* VID/PID from a DN per the SDK rules (OID attributes, else legacy Mvid:/Mpid:
 * in the first CN). Returns MP_OK, or MP_ERR_PROFILE for WRONG_CERT_DN. */
typedef struct mp_vidpid {
    int has_vid, has_pid;
    uint16_t vid, pid;
    int from_cn; /* legacy CN encoding used */
} mp_vidpid;
int mp_dn_vidpid(const X509_NAME *name, mp_vidpid *out) MP_MUST_CHECK;
/* Parse one attribute value: exactly 4 uppercase hex digits. */
int mp_vidpid_attr(const char *s, size_t len, uint16_t *out);
/* Scan a CN for Mvid:/Mpid: (legacy); returns MP_OK or MP_ERR_PROFILE. */
int mp_cn_vidpid(const char *cn, size_t len, mp_vidpid *out);

/* Is this key ID one of the SDK test PAAs (TC-DA-1.7 denylist)? */
int mp_is_test_paa(const uint8_t kid[static 20]);

/* Add an extension from its DER value (exact bytes, no string parsing). */
int mp_x509_add_ext(X509 *x, int nid, int crit, const uint8_t *der, size_t len);
/* The RFC 5280 text of a time: YYMMDDHHMMSSZ (returns 1, UTCTime) before
 * 2050, YYYYMMDDHHMMSSZ (returns 0, GeneralizedTime) from 2050. */
int mp_x509_time_str(time_t when, char buf[static 16]);
/* UTCTime before 2050, GeneralizedTime from 2050 (RFC 5280); 1 on success. */
int mp_asn1_set_time(ASN1_TIME *t, time_t when);

/* Load a PKCS#10 request (PEM or DER), require a P-256 key and a signature
 * that verifies (proof of possession: MP_ERR_VERIFY otherwise). */
int mp_csr_load(const char *path, X509_REQ **out, uint8_t point[static 65]) MP_MUST_CHECK;

/* Time of an ASN1_TIME as time_t. */
int mp_asn1_time(const ASN1_TIME *t, time_t *out);

#endif
