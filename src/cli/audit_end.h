/*
 * audit_end.h - issue 16's checkpoint at the end of every command that wrote
 * audit rows: the dispatcher calls it once after each command (and `ledger
 * migrate` for its destination), so no command signs its own.
 */
#ifndef MP_CLI_AUDIT_END_H
#define MP_CLI_AUDIT_END_H

#include "ceremony.h"
#include "keystore.h"
#include "ledger.h"

/* After a command that used ledger l: when it appended audit rows through l
 * and the ledger has an audit key, sign the trail's head with it (stored in
 * audit_checkpoints, a signed "audit checkpoint N" line in the ceremony log).
 * *ks: the command's open token; when none is open (a command that needs no
 * token: chips import, order close/assign, station add/disable, pai/dac
 * revoke, factory-data build, ledger migrate) the token is opened into *ks
 * (the caller closes it) only when a PIN source is given (--pin-file or
 * MATTER_PKI_PIN): such commands never prompt. Without one, or after a failed
 * command, the rows wait for the next checkpoint and a note on stderr (unless
 * quiet) says so. A token that lacks the audit key signs nothing. */
int mp_cli_audit_end(mp_ledger *l, mp_ks **ks, const mp_hsm_cfg *hsm, const mp_ceremony_cfg *rec, int quiet,
                     int failed) MP_MUST_CHECK;

#endif
