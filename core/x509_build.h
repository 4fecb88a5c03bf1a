/*
 * x509_build.h - the builders of what is not a Matter attestation
 * certificate (those are x509.h's mp_cert_build): X.509 certificates from
 * OpenSSL configuration-syntax extensions (the station CA and station
 * certificates), and the one CRL builder.
 *
 * The CRL: a v2 CRL framed for its signer, its
 * revoked entries, then the CRL number, AKID, optional
 * IssuingDistributionPoint, and the signature. The PAA/PAI CRLs
 * (revocation/crl_build.c, `paa crl`, `pai crl`) and the station CRL
 * (`station crl`) are made with it; where their entries and numbers come
 * from (the ledger) is up to the caller, between mp_crl_frame and
 * mp_crl_seal.
 */
#ifndef MP_X509_BUILD_H
#define MP_X509_BUILD_H

#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "err.h"

/* One extension in OpenSSL's configuration syntax, e.g.
 * {NID_key_usage, "critical,digitalSignature"}; a list ends with nid 0. */
typedef struct mp_conf_ext {
    int nid;
    const char *value;
} mp_conf_ext;

/* Build and sign a v3 certificate: a random 16-byte serial, subject CN = cn,
 * notBefore nb, notAfter nb + days, the public key pub, the issuer's subject
 * as issuer (issuer NULL: self-signed, by pub's own key), the extensions in
 * order, SHA-256 by signer. MP_ERR_GENERAL: "cannot build the certificate",
 * or "cannot sign the WHAT" when an extension or the signature fails. */
int mp_cert_build_conf(const char *cn, time_t nb, long days, EVP_PKEY *pub, X509 *issuer, const mp_conf_ext *exts,
                       EVP_PKEY *signer, const char *what, X509 **out) MP_MUST_CHECK;

/* A new v2 CRL: issuer = signer_cert's subject, thisUpdate, nextUpdate
 * (UTCTime before 2050). MP_ERR_GENERAL "cannot build the CRL". */
int mp_crl_frame(X509 *signer_cert, time_t this_update, time_t next_update, X509_CRL **out) MP_MUST_CHECK;

/* Add one revoked certificate: its serial in hex, the revocation date, the
 * reason (RFC 5280 reason name; NULL, "" or "unspecified": no reason code
 * extension) and, for an indirect CRL, the certificateIssuer (critical) naming
 * the CA that issued it (NULL: none). MP_ERR_GENERAL naming the serial. */
int mp_crl_add_revoked(X509_CRL *crl, const char *serial_hex, time_t when, const char *reason,
                       const X509_NAME *cert_issuer) MP_MUST_CHECK;

/* Finish and sign: AKID = signer_cert's 20-byte SKID, CRL number, an
 * IssuingDistributionPoint (critical; fullName idp_url when not NULL,
 * indirectCRL when indirect) if idp_url or indirect, entries sorted,
 * ecdsa-with-SHA256 (or the key's SHA-256 signature) by signer.
 * MP_ERR_GENERAL "cannot sign the CRL". */
int mp_crl_seal(X509_CRL *crl, X509 *signer_cert, EVP_PKEY *signer, uint64_t number, const char *idp_url,
                int indirect) MP_MUST_CHECK;

#endif
