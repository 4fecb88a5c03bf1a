/*
 * verify.h - the device attestation verifier: the checks of the Matter SDK's
 * DefaultDACVerifier, in its order and with its AttestationVerificationResult
 * codes (shared/docs/matter-attestation.md sections 2 and 2.1), plus the
 * certification-test checks of section 3 (production mode) and revocation
 * (section 7).
 *
 * Inputs are DER buffers, as a commissioner receives them. The verifier
 * never prints: it fills an mp_va_report (one entry per check) that
 * va_report.c renders as text or JSON.
 */
#ifndef MP_VERIFY_H
#define MP_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <openssl/x509.h>

#include "err.h"

/* AttestationVerificationResult (DeviceAttestationVerifier.h). */
enum mp_va_code {
    VA_SUCCESS = 0,
    VA_PAA_UNTRUSTED = 100, VA_PAA_NOT_FOUND = 101, VA_PAA_EXPIRED = 102,
    VA_PAA_SIGNATURE_INVALID = 103, VA_PAA_REVOKED = 104, VA_PAA_FORMAT_INVALID = 105,
    VA_PAA_ARGUMENT_INVALID = 106,
    VA_PAI_EXPIRED = 200, VA_PAI_SIGNATURE_INVALID = 201, VA_PAI_REVOKED = 202,
    VA_PAI_FORMAT_INVALID = 203, VA_PAI_ARGUMENT_INVALID = 204, VA_PAI_VENDOR_ID_MISMATCH = 205,
    VA_PAI_AUTHORITY_NOT_FOUND = 206, VA_PAI_MISSING = 207, VA_PAI_AND_DAC_REVOKED = 208,
    VA_DAC_EXPIRED = 300, VA_DAC_SIGNATURE_INVALID = 301, VA_DAC_REVOKED = 302,
    VA_DAC_FORMAT_INVALID = 303, VA_DAC_ARGUMENT_INVALID = 304, VA_DAC_VENDOR_ID_MISMATCH = 305,
    VA_DAC_PRODUCT_ID_MISMATCH = 306, VA_DAC_AUTHORITY_NOT_FOUND = 307,
    VA_FW_INFO_MISMATCH = 400, VA_FW_INFO_MISSING = 401,
    VA_ATT_SIGNATURE_INVALID = 500, VA_ATT_ELEMENTS_MALFORMED = 501, VA_ATT_NONCE_MISMATCH = 502,
    VA_ATT_SIGNATURE_INVALID_FORMAT = 503,
    VA_CD_NO_KEY_ID = 600, VA_CD_NO_CERT_FOUND = 601, VA_CD_INVALID_SIGNATURE = 602,
    VA_CD_INVALID_FORMAT = 603, VA_CD_INVALID_VENDOR_ID = 604, VA_CD_INVALID_PRODUCT_ID = 605,
    VA_CD_INVALID_PAA = 606,
    VA_NO_MEMORY = 700, VA_INVALID_ARGUMENT = 701, VA_INTERNAL_ERROR = 702, VA_NOT_IMPLEMENTED = 703,
};

/* "kDacFormatInvalid" for 303; NULL for a number that is not a result code. */
const char *mp_va_code_name(int code);
/* Parse "303" or "kDacFormatInvalid"; -1 if neither. */
int mp_va_code_parse(const char *s);

/* ---- inputs --------------------------------------------------------------- */

#define MP_VA_MAX_PAAS 32
#define MP_VA_MAX_SIGNERS 8
#define MP_VA_MAX_CRLS 16

typedef struct mp_va_buf {
    const char *name; /* file name, for messages */
    uint8_t *der;
    size_t len;
} mp_va_buf;

/* One entry of a revocation-set JSON (section 7.3), decoded. */
typedef struct mp_va_revset {
    uint8_t issuer_skid[20];
    uint8_t *issuer_name; /* DER */
    size_t issuer_name_len;
    char (*serials)[41];  /* uppercase even-length hex */
    size_t n_serials;
    X509 *signer, *delegator;
} mp_va_revset;

typedef struct mp_va_input {
    mp_va_buf paa[MP_VA_MAX_PAAS]; /* the trust store */
    size_t n_paa;
    mp_va_buf pai;                 /* len 0: missing (-> 207) */
    mp_va_buf dac;
    mp_va_buf cd;                  /* len 0: CD checks skipped */
    mp_va_buf cd_signer[MP_VA_MAX_SIGNERS];
    size_t n_cd_signer;
    int has_vid, has_pid;          /* Basic Information VendorID/ProductID */
    uint16_t vid, pid;             /* default: the DAC's */
    time_t at;                     /* "now" for the DAC validity check */
    mp_va_buf crl[MP_VA_MAX_CRLS];
    size_t n_crl;
    mp_va_buf crl_signer[MP_VA_MAX_SIGNERS];
    size_t n_crl_signer;
    mp_va_revset *revset;          /* NULL: none */
    size_t n_revset;
    int has_revocation;            /* --crl or --revocation-set given */
    int production;                /* add the certification-test checks */
} mp_va_input;

/* ---- report --------------------------------------------------------------- */

enum mp_va_status { VA_NOT_RUN = 0, VA_PASS, VA_FAIL, VA_SKIP };

/* The checks in the order they run. */
enum mp_va_check_id {
    VC_TRUST_STORE, VC_ARGUMENTS, VC_PAI_PRESENT, VC_PAI_FORMAT, VC_DAC_FORMAT, VC_SIZES,
    VC_VIDPID, VC_ATT_SIGNATURE, VC_PAA_LOOKUP, VC_PAA_VIDPID, VC_TEST_PAA, VC_ISSUERS,
    VC_DAC_VALIDITY, VC_CHAIN, VC_PAA_SKID, VC_ATT_ELEMENTS, VC_CD_SIGNATURE, VC_CD_PAYLOAD,
    VC_REVOCATION, VC_COUNT
};

typedef struct mp_va_check {
    int status;       /* enum mp_va_status */
    int code;         /* result code when failed */
    char detail[240];
} mp_va_check;

typedef struct mp_va_report {
    mp_va_check checks[VC_COUNT];
    int code;         /* first failure, VA_SUCCESS when accepted */
    int failed;       /* check id of the first failure, -1 */
    char notes[4][200]; /* things the user should know (dropped PAAs, ignored CRLs) */
    int n_notes;
} mp_va_report;

/* Name ("pai-format") and one-line description of a check. */
const char *mp_va_check_name(int id);
const char *mp_va_check_about(int id);

/* Run every check. Returns MP_OK when the report is complete (accepted or
 * rejected: see rep->code), or an exit code for an input that cannot be
 * judged (e.g. a CRL whose signature does not verify), message recorded. */
int mp_va_verify(const mp_va_input *in, mp_va_report *rep) MP_MUST_CHECK;

/* Free what mp_va_load_* allocated in in. */
void mp_va_input_free(mp_va_input *in);

/* Loaders (file -> DER; PEM accepted). Errors name the file. */
int mp_va_load_cert(const char *path, mp_va_buf *out) MP_MUST_CHECK;
int mp_va_load_crl(const char *path, mp_va_buf *out) MP_MUST_CHECK;
int mp_va_load_revset(const char *path, mp_va_input *in) MP_MUST_CHECK;

/* Output. */
void mp_va_print_text(const mp_va_report *rep, FILE *f);
int mp_va_print_json(const mp_va_report *rep, FILE *f);

/* ---- building blocks (tested on their own) -------------------------------- */

enum { VA_CERT_PAA = 0, VA_CERT_PAI = 1, VA_CERT_DAC = 2 };

/* VerifyAttestationCertificateFormat(): 0 or -1, with the failed rule. */
int mp_va_cert_format(const uint8_t *der, size_t len, int type, char *why, size_t whylen);

/* The SDK's CMS walks: CMS_ExtractKeyId (0/-1) and CMS_Verify (0/-1). */
int mp_va_cms_key_id(const uint8_t *der, size_t len, const uint8_t **kid, size_t *kid_len);
int mp_va_cms_verify(const uint8_t *der, size_t len, const uint8_t point[65],
                     const uint8_t **content, size_t *content_len);

/* Uppercase, even-length hex of a serial number's value (revocation set). */
void mp_va_serial_hex(const ASN1_INTEGER *sn, char out[41]);

#endif
