/* audit_end.c - see audit_end.h. */
#include "audit_end.h"

#include <stdio.h>

#include "audit_ckpt.h"
#include "ledger_int.h"
#include "pin.h"

int mp_cli_audit_end(mp_ledger *l, mp_ks **ks, const mp_hsm_cfg *hsm, const mp_ceremony_cfg *rec, int quiet, int failed)
{
    mp_audit_key ak;
    int found = 0, rc;
    if (l == NULL || mp_ledger_audit_last(l) == 0) return MP_OK;
    if (*ks != NULL) return mp_audit_command_end(l, *ks, rec);
    if ((rc = mp_ledger_audit_key(l, &ak, &found)) != MP_OK || !found) return rc;
    if (!failed && hsm != NULL && (hsm->pin_file != NULL || mp_cli_pin_given())) {
        if ((rc = mp_ks_open(hsm, ks)) != MP_OK) {
            return mp_err_ctx(rc, "the change is recorded, but its audit checkpoint is not signed (`audit checkpoint` signs it)");
        }
        return mp_audit_command_end(l, *ks, rec);
    }
    if (!quiet) {
        fprintf(stderr, "matter-pki: note: audit row %lld is not signed yet: no token was opened (--token and --pin-file "
                        "or MATTER_PKI_PIN sign it at a command's end; else `audit checkpoint` or the next command with "
                        "the audit key's token does)\n",
                (long long)mp_ledger_audit_last(l));
    }
    return MP_OK;
}
