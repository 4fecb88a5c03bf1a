/*
 * state.h - the state directory of a PKI (softhsm2.conf, ceremony.log,
 * ledger.sqlite, pki-id) and the identity that binds a ledger to its PKI.
 *
 * Finding it: an explicit directory, else the one named by the environment
 * (the caller passes MATTER_PKI_STATE's value), else the nearest .matter-pki
 * found walking up from the current folder, as git finds .git. Nothing here
 * creates a state directory except mp_state_create.
 *
 * Identity: mp_state_create writes STATE/pki-id (32 hex digits, random), the
 * ledger records the same ID in its meta table (key "pki_id") and every
 * ceremony record carries it, so a ledger that is not this PKI's, or a lost
 * one replaced by an empty file, is refused instead of silently used.
 */
#ifndef MP_STATE_H
#define MP_STATE_H

#include <stddef.h>

#include "err.h"

#define MP_STATE_NAME ".matter-pki"
#define MP_PKI_ID_LEN 32

/* Resolve the state directory into out. MP_OK when it exists;
 * MP_ERR_NO_STATE (message names every path looked at and how to point at
 * the right one) when it does not; then out still receives where it would
 * be created (explicit, else env, else ./.matter-pki). */
int mp_state_find(const char *explicit_dir, const char *env_dir, char *out, size_t cap) MP_MUST_CHECK;

/* Create a state directory (0700) with a new PKI ID, or return the ID of an
 * existing one (a state made before IDs existed gets one). */
int mp_state_create(const char *dir, char id[static MP_PKI_ID_LEN + 1]) MP_MUST_CHECK;

/* The PKI ID of a state directory; *found 0 when it has none (older state). */
int mp_state_pki_id(const char *dir, char id[static MP_PKI_ID_LEN + 1], int *found) MP_MUST_CHECK;

#endif
