/*
 * audit_ckpt.h - signed checkpoints of the ledger's audit trail and the
 * checks of `audit verify`: the hash chain (ledger.h), every checkpoint's
 * signature by the audit key, and the ceremony log's chain.
 */
#ifndef MP_AUDIT_CKPT_H
#define MP_AUDIT_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "ceremony.h"
#include "keystore.h"
#include "ledger.h"

/* Sign the trail's head with the audit key in the token (its own
 * transaction); *seq = the row signed, 0 when the trail is empty or the
 * head already has a checkpoint (nothing done). */
int mp_audit_sign_head(mp_ledger *l, mp_ks *ks, const mp_ks_key *key, int64_t key_id, int64_t *seq) MP_MUST_CHECK;

/* At the end of a command that wrote audit rows: sign the head if the ledger
 * has an audit key and this token holds it (*seq = 0 otherwise; *label gets
 * the key's label for the ceremony log). MP_ERR_MISMATCH if the token's key
 * of that label is another key. */
int mp_audit_checkpoint_if_key(mp_ledger *l, mp_ks *ks, int64_t *seq, mp_ks_key *key) MP_MUST_CHECK;

/* At the end of a command that wrote audit rows through l (and holds the
 * token ks open): sign the trail's head if this token holds the ledger's
 * audit key, and record that in the ceremony log (its line signed by the
 * key). Nothing when the command wrote no audit row or the token lacks the
 * key. For any command (a dispatcher may call it after each one). */
int mp_audit_command_end(mp_ledger *l, mp_ks *ks, const mp_ceremony_cfg *rec) MP_MUST_CHECK;

/* The ceremony log's entry for the checkpoint of row seq (command `what`),
 * with the row's hash (mp_ceremony_log_checkpoint), signed by key. */
int mp_audit_log_checkpoint(mp_ledger *l, const mp_ceremony_cfg *rec, const char *what, mp_ks *ks, const mp_ks_key *key,
                            int64_t seq) MP_MUST_CHECK;

/* Checkpoints in long runs: besides the one at the end of a command that
 * wrote audit rows, one whenever the trail has grown by `every` rows (1,000;
 * MATTER_PKI_AUDIT_EVERY overrides it, for tests) since the newest
 * checkpoint, its own or another station's. Only when the token holds the
 * ledger's audit key (else key_id stays 0 and nothing is done). */
typedef struct mp_audit_every {
    int64_t every, key_id, signed_seq;
    mp_ks_key key;
} mp_audit_every;
int mp_audit_every_init(mp_audit_every *e, mp_ledger *l, mp_ks *ks) MP_MUST_CHECK;
/* After a commit (outside a transaction): sign the head if a checkpoint is
 * due; *seq = the row signed (0: none was due). Costs no database round
 * trip until one is due (it compares the last row this handle appended). */
int mp_audit_every_tick(mp_audit_every *e, mp_ledger *l, mp_ks *ks, int64_t *seq) MP_MUST_CHECK;

typedef struct mp_audit_result {
    uint64_t rows, checkpoints, ceremony_lines, ceremony_signed;
    int64_t bad;        /* first bad sequence number (0: none) */
    long bad_line;      /* first bad ceremony log line (0: none) */
    char why[512];
} mp_audit_result;
/* Everything `audit verify` checks. pinned: the audit key's public point
 * from a file (NULL: the ledger's own); ceremony_log NULL or absent: not
 * checked. MP_OK with r->bad / r->bad_line set when something is wrong. The
 * log's signed checkpoint entries (audit_seq, audit_hash) are held to the
 * trail: a row they name that is gone or has another hash sets r->bad. */
int mp_audit_verify_all(mp_ledger *l, const uint8_t *pinned, const char *ceremony_log, mp_audit_result *r) MP_MUST_CHECK;

#endif
