/*
 * est.h - DAC issuance as an EST service (RFC 7030 as clarified by RFC 8951)
 * for factory stations: the server (`serve`), its station CA (`station ...`)
 * and a client (`est ...`), plus the encodings they share.
 */
#ifndef MP_EST_H
#define MP_EST_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "err.h"

#define MP_EST_MAX_BODY 4096  /* largest simpleenroll body accepted */
#define MP_EST_MAX_GROUP 64   /* most requests committed in one ledger transaction */

/* est_codec.c: names and serials the station CA and the server share */
/* A station name: 1..64 of [A-Za-z0-9._-], not starting with '.' or '-'. */
int mp_station_name_check(const char *s) MP_MUST_CHECK;
/* A certificate's serial as uppercase hex of the integer value (even length). */
int mp_cert_serial_hex(X509 *x, char out[41]) MP_MUST_CHECK;

/* A certs-only CMS SignedData (DER) holding the given DER certificates, in
 * order; *out is malloc'd. */
int mp_est_certs_only(const uint8_t *const *certs, const size_t *lens, size_t n, uint8_t **out,
                      size_t *out_len) MP_MUST_CHECK;
/* The certificates of a certs-only CMS (DER); caller frees with sk_X509_pop_free. */
int mp_est_parse_certs_only(const uint8_t *der, size_t len, STACK_OF(X509) **out) MP_MUST_CHECK;
/* Base64 in 64-column lines (LF); *out is malloc'd and NUL-terminated. */
int mp_est_b64_encode(const uint8_t *in, size_t n, char **out, size_t *out_len) MP_MUST_CHECK;
/* Base64 as RFC 8951 receivers read it: CR, LF, space and tab ignored, the
 * rest strict (padding, alphabet). Returns the byte count, or -1. */
long mp_est_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap);

/* cmd_est.c: the exit code of an HTTP answer (status, X-MP-Reason header). */
int mp_est_exit_code(long status, const char *reason);

/* The checks of a PKCS#10 request body in their order, each with its HTTP
 * status: it decodes (400), its signature verifies (400: no proof of
 * possession), its key is P-256 (403). On success point receives the key and
 * cn the subject CN ("" when absent; a station may name the chip there). */
typedef struct mp_est_csr {
    uint8_t point[65];
    char cn[65];
} mp_est_csr;
int mp_est_check_csr(const uint8_t *der, size_t len, mp_est_csr *out, char *why, size_t why_len);
/* Its two ways: the usual shape (P-256 key, ecdsa-with-SHA256) read without
 * OpenSSL's decoders (-1: not that shape), and OpenSSL's X509_REQ for the
 * rest. Both give the same status for the same bytes (tests/unit/test_est.c). */
int mp_est_check_csr_fast(const uint8_t *der, size_t len, mp_est_csr *out, char *why, size_t why_len);
int mp_est_check_csr_openssl(const uint8_t *der, size_t len, mp_est_csr *out, char *why, size_t why_len);

#endif
