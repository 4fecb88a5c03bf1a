/*
 * ceremony.h - the append-only ceremony log: one JSON object per line in
 * STATE_DIR/ceremony.log for every key ceremony step. Never holds a PIN.
 */
#ifndef MP_CEREMONY_H
#define MP_CEREMONY_H

#include <stdint.h>

#include <openssl/x509.h>

#include "keystore.h"

/* Where and by whom a ceremony step is recorded; given by the caller (the
 * CLI fills it from its options, a service from its configuration). */
typedef struct mp_ceremony_cfg {
    const char *state_dir;     /* STATE_DIR/ceremony.log */
    const char *operator_name; /* recorded in every entry */
    int force;                 /* overwrite an existing output file */
} mp_ceremony_cfg;

/* key may be NULL (e.g. signing a CSR records the signer key). Unsigned:
 * for a command with no token open (token init); see the next one. */
int mp_ceremony_log(const mp_ceremony_cfg *c, const char *command, const char *token,
                    const mp_ks_key *key, X509 *cert, const char *out_path) MP_MUST_CHECK;

/* Entries are chained: "prev" is the SHA-256 (hex) of the line before (64
 * zeros for the first). Once an audit key exists they are signed too: when
 * the log announces an audit key (an `audit init` entry's "audit_key") and
 * the command's token ks holds it (same label, same public key), the entry
 * gets "audit_skid" (the key's SKID) and, as its last member, "sig": an
 * ECDSA P-256 signature (DER, hex) by the audit key over
 * SHA-256("matter-pki ceremony log v1\n" || the line without its ,"sig":...).
 * The signed bytes hold "prev", so a signature covers its entry and every
 * line before it: it signs the chain's head at that entry. An entry made
 * with a token that lacks the audit key stays unsigned until a later signed
 * entry covers it (`audit checkpoint` writes one). */
int mp_ceremony_log_signed(const mp_ceremony_cfg *c, const char *command, mp_ks *ks,
                           const mp_ks_key *key, X509 *cert, const char *out_path) MP_MUST_CHECK;
/* `audit init`: the entry that announces the audit key (its public point as
 * hex in "audit_key"), signed by that key. */
int mp_ceremony_log_audit_key(const mp_ceremony_cfg *c, const char *command, mp_ks *ks,
                              const mp_ks_key *audit_key, const char *out_path) MP_MUST_CHECK;

/* An audit checkpoint's entry: the same as mp_ceremony_log_audit_key, plus
 * "audit_seq" (the row signed) and "audit_hash" (its hash, hex), so that
 * `audit verify` can hold the ledger's trail to what the log recorded (a
 * trail rewritten with its checkpoints deleted no longer matches). */
int mp_ceremony_log_checkpoint(const mp_ceremony_cfg *c, const char *command, mp_ks *ks, const mp_ks_key *audit_key,
                               int64_t seq, const uint8_t hash[32]) MP_MUST_CHECK;

/* For `audit verify`: the digest a signed line's signature is over. line
 * (len bytes, no newline) must end with ,"sig":"HEX"}: *sig gets the hex
 * (NUL-terminated, in sig_hex of cap bytes). 0 when the line is signed and
 * well formed, -1 when it has no "sig" member at its end. */
int mp_ceremony_signed_digest(const char *line, size_t len, uint8_t digest[32], char *sig_hex, size_t cap);

#endif
