/*
 * ceremony.h - the append-only ceremony log: one JSON object per line in
 * STATE_DIR/ceremony.log for every key ceremony step. Never holds a PIN.
 */
#ifndef MP_CEREMONY_H
#define MP_CEREMONY_H

#include <openssl/x509.h>

#include "keystore.h"

/* Where and by whom a ceremony step is recorded; given by the caller (the
 * CLI fills it from its options, a service from its configuration). */
typedef struct mp_ceremony_cfg {
    const char *state_dir;     /* STATE_DIR/ceremony.log */
    const char *operator_name; /* recorded in every entry */
    int force;                 /* overwrite an existing output file */
} mp_ceremony_cfg;

/* key may be NULL (e.g. signing a CSR records the signer key). */
int mp_ceremony_log(const mp_ceremony_cfg *c, const char *command, const char *token,
                    const mp_ks_key *key, X509 *cert, const char *out_path) MP_MUST_CHECK;

#endif
