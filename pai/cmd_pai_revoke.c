/* cmd_pai_revoke.c - `pai revoke`: record a PAI's revocation under its PAA
 * (found by the PAI's AKID); `paa crl` publishes it. */
#include <stdio.h>
#include <string.h>

#include "ledger.h"
#include "lint.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"
#include "verify/verify.h"
#include "x509.h"

enum { O_PAI_CERT = 1, O_REASON };

/* ---- pai revoke ----------------------------------------------------------- */

#define REASONS "unspecified|keyCompromise|cACompromise|affiliationChanged|superseded|cessationOfOperation|privilegeWithdrawn"

static const mp_opt revoke_opts[] = {
    {"pai-cert", O_PAI_CERT, OT_FILE | OT_REQUIRED, "FILE", "the PAI certificate to revoke"},
    {"reason", O_REASON, OT_ENUM | OT_REQUIRED, REASONS, "RFC 5280 reason"},
    {"ledger", OPT_LEDGER, OT_STR, "PATH", "ledger database (default STATE_DIR/ledger.sqlite)"},
    MP_OPTS_HSM, /* the token opened at the end for the audit checkpoint (audit_end.h) */
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

int pai_revoke_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *cert = NULL, *reason = NULL;
    X509 *x = NULL;
    mp_lint lint;
    uint8_t akid[20];
    char issuer[41], serial[41];
    int id, rc;
    mp_opt_init(&p, argc, argv, revoke_opts, "pai revoke", "--pai-cert pai.pem --reason R",
                "Records the revocation of a PAI under its PAA in the ledger (the PAA is found by\n"
                "the PAI's authorityKeyIdentifier). `paa crl` then publishes it.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id == O_PAI_CERT) cert = val;
        else if (id == O_REASON) reason = val;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "pai revoke: unexpected argument '%s'", val ? val : "");
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    if ((rc = mp_cert_load(cert, &x)) != MP_OK) return rc;
    if (mp_lint_cert(x, MP_PAI, &lint) > 0) {
        rc = mp_err(MP_ERR_PROFILE, "%s: not a PAI certificate: %s", cert, lint.msg[0]);
    } else if (mp_cert_akid(x, akid) != 0) {
        rc = mp_err(MP_ERR_PROFILE, "%s: no authorityKeyIdentifier: cannot tell which PAA issued it", cert);
    } else {
        mp_hex(akid, 20, issuer, 1);
        mp_va_serial_hex(X509_get0_serialNumber(x), serial);
        mp_ledger *l = NULL;
        if ((rc = mp_cmd_open(mc, &c)) == MP_OK && (rc = mp_ledger_begin(l = mc->ledger)) == MP_OK) {
            if ((rc = mp_ledger_revoke_ca(l, issuer, serial, reason)) == MP_OK) rc = mp_ledger_commit(l);
            if (rc != MP_OK) mp_ledger_rollback(l);
        }
    }
    if (rc == MP_OK) printf("PAI serial %s revoked under the PAA with SKID %s (%s)\n", serial, issuer, reason);
    X509_free(x);
    return rc;
}
