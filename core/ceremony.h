/*
 * ceremony.h - the append-only ceremony log: one JSON object per line in
 * STATE_DIR/ceremony.log for every key ceremony step. Never holds a PIN.
 */
#ifndef MP_CEREMONY_H
#define MP_CEREMONY_H

#include <openssl/x509.h>

#include "keystore.h"
#include "opts.h"

/* key may be NULL (e.g. signing a CSR records the signer key). */
int mp_ceremony_log(const mp_common *c, const char *command, const char *token,
                    const mp_ks_key *key, X509 *cert, const char *out_path) MP_MUST_CHECK;

#endif
