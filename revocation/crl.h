/*
 * crl.h - the revocation kit after launch (issue 19): v2 CRLs signed in the
 * token by a PAA or PAI or by a CRL signer they delegated, their freshness
 * check, the delegated CRL-signer certificate, and the revocation set that
 * chip-tool reads (shared/docs/matter-attestation.md section 7).
 */
#ifndef MP_CRL_H
#define MP_CRL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "err.h"
#include "keystore.h"
#include "ledger.h"

/* What one CRL covers and who signs it. */
typedef struct mp_crl_spec {
    X509 *issuer;          /* the CA whose certificates the CRL lists (PAA or PAI) */
    X509 *signer_cert;     /* issuer itself, or a delegated CRL signer it certified */
    EVP_PKEY *signer;      /* signs in the token */
    long days;             /* nextUpdate = thisUpdate + days */
    const char *idp_url;   /* IssuingDistributionPoint fullName URI (the DCL dataURL); NULL: none */
    time_t now;            /* thisUpdate (0 = time(NULL)) */
} mp_crl_spec;

/* Is signer_cert a delegated signer (not the issuer itself)? */
int mp_crl_is_indirect(const mp_crl_spec *s);

/* Check that signer is a CRL signer the issuer certified (7.2): signed by
 * the issuer, AKID = issuer SKID, cA FALSE, keyUsage cRLSign and nothing but
 * cRLSign/digitalSignature. what names the file in the message. */
int mp_crl_check_delegated(X509 *signer, X509 *issuer, const char *what) MP_MUST_CHECK;

/* Sign the CRL of every revocation the ledger holds under the issuer. In
 * one transaction first: the revoked serials, the next CRL number of the
 * signer (committed, so a crash later skips a number and never reuses one)
 * and the record of the issuer and signer for `revocation-set`. An indirect
 * CRL (delegated signer) carries a critical IssuingDistributionPoint with
 * indirectCRL TRUE and a certificateIssuer entry extension naming the
 * issuer on every entry (RFC 5280 5.2.5, 5.3.3). */
int mp_crl_sign(mp_ledger *l, const mp_crl_spec *s, X509_CRL **out, uint64_t *number) MP_MUST_CHECK;

/* Freshness of a published CRL (`crl --check`): MP_OK when nextUpdate is
 * more than warn_days after now, MP_ERR_EXPIRING when it is sooner or past
 * or absent (message says which). issuer (may be NULL) checks the signature
 * (MP_ERR_VERIFY). Describes the CRL on f when f is not NULL. */
int mp_crl_check(const char *path, X509 *signer, time_t now, long warn_days, FILE *f) MP_MUST_CHECK;

/* Load a CRL file, DER or PEM. */
int mp_crl_load(const char *path, X509_CRL **out) MP_MUST_CHECK;


/* ---- revocation set (section 7.3) ----------------------------------------- */

/* Build the revocation-set JSON array, as credentials/generate_revocation_set.py
 * writes it, from the CRLs recorded in the ledger (l may be NULL) and from
 * CRL files with a pool of certificates (signers, delegators, PAAs) to
 * resolve them. *out is a new JSON array. */
int mp_revset_build(mp_ledger *l, X509_CRL **crls, const char **crl_names, size_t n_crls,
                    X509 **pool, size_t n_pool, json_t **out) MP_MUST_CHECK;
/* Serialise as the SDK script does: json.dump(..., indent=4). */
char *mp_revset_dumps(json_t *set);

#endif
