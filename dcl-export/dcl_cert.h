/*
 * dcl_cert.h - certificates as the DCL sees them (x/pki/x509/x509.go):
 * PEM text, subject as base64 DER, key IDs in colon and plain notation,
 * decimal serial, and the CRL-signer checks of the revocation-point keeper.
 */
#ifndef MP_DCL_CERT_H
#define MP_DCL_CERT_H

#include <stdint.h>

#include <openssl/x509.h>

#include "err.h"

/* PEM text with "\n" line breaks and a trailing newline (malloc'd). */
int dcl_cert_pem(X509 *x, char **pem) MP_MUST_CHECK;
/* Standard base64 (with '=') of the DER subject (malloc'd). */
int dcl_cert_subject_b64(X509 *x, char **out) MP_MUST_CHECK;
/* "E2:90:..." (uppercase, colon-separated) and "E290..." (no colons). */
void dcl_kid_colon(const uint8_t kid[static 20], char out[static 60]);
void dcl_kid_plain(const uint8_t kid[static 20], char out[static 41]);
/* Serial number in decimal (malloc'd). */
int dcl_cert_serial_dec(X509 *x, char **out) MP_MUST_CHECK;
/* SKID of a certificate, or MP_ERR_PROFILE naming `what`. */
int dcl_cert_skid(X509 *x, const char *what, uint8_t skid[static 20]) MP_MUST_CHECK;
/* 1 when the certificate is self-signed (issuer = subject, signature verifies). */
int dcl_cert_self_signed(X509 *x);
/* MP_OK when child's AKID is issuer's SKID and issuer's key verifies child's
 * signature; MP_ERR_MISMATCH / MP_ERR_VERIFY otherwise. */
int dcl_cert_issued_by(X509 *child, const char *cwhat, X509 *issuer, const char *iwhat) MP_MUST_CHECK;
/* The CRL-signer profile the keeper applies to a delegated signer (cases B
 * and D): v3, ecdsa-with-SHA256, P-256, SKID, basicConstraints critical
 * cA=FALSE, keyUsage critical with cRLSign and nothing but cRLSign and
 * digitalSignature. MP_ERR_PROFILE naming the rule. */
int dcl_check_crl_signer(X509 *x, const char *what) MP_MUST_CHECK;

#endif
