/* cmd_dac_revoke.c - `dac revoke` records a revocation in the ledger
 * (`pai crl`, in pai/cmd_pai_crl.c, publishes it). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ledger.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"

enum { O_SERIAL = 1, O_REASON, O_JSON };

#define REASONS "unspecified|keyCompromise|cACompromise|affiliationChanged|superseded|cessationOfOperation|privilegeWithdrawn"

static const mp_opt revoke_opts[] = {
    {"serial", O_SERIAL, OT_STR | OT_REQUIRED, "HEX", "serial number of the DAC (hex, as `ledger export` prints it)"},
    {"reason", O_REASON, OT_ENUM | OT_REQUIRED, REASONS, "RFC 5280 reason"},
    {"json", O_JSON, OT_FLAG, NULL, "print the result as one JSON object on stdout"},
    {"ledger", OPT_LEDGER, OT_STR, "PATH|URI", "ledger: SQLite file or PostgreSQL URI/key=value (default $MATTER_PKI_LEDGER, else STATE_DIR/ledger.sqlite)"},
    MP_OPTS_HSM, /* the token opened at the end for the audit checkpoint (audit_end.h) */
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

/* Normalise a serial to uppercase hex of the integer value, even length. */
static int norm_serial(const char *in, char out[41])
{
    const char *s = in;
    if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0) s += 2;
    while (*s == '0' && s[1] != 0) s++;
    size_t n = strlen(s);
    if (n == 0 || n > 40) {
        return mp_err(MP_ERR_INVALID, "--serial: '%s' is not a serial number (1..20 octets of hex)", in);
    }
    size_t o = n % 2;
    if (o) out[0] = '0';
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)s[i])) return mp_err(MP_ERR_INVALID, "--serial: '%s' is not hex", in);
        out[o + i] = (char)toupper((unsigned char)s[i]);
    }
    out[o + n] = 0;
    return MP_OK;
}

int dac_revoke_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *serial = NULL, *reason = NULL;
    char norm[41];
    int id, rc, json = 0;
    mp_opt_init(&p, argc, argv, revoke_opts, "dac revoke", "--serial HEX --reason R",
                "Records the revocation of an issued DAC in the ledger. `pai crl` then publishes it.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id == O_SERIAL) serial = val;
        else if (id == O_REASON) reason = val;
        else if (id == O_JSON) json = 1;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "dac revoke: unexpected argument %s", mp_opt_shown(val));
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    serial = mp_opt_given(serial);
    reason = mp_opt_given(reason);
    if ((rc = norm_serial(serial, norm)) != MP_OK || (rc = mp_cmd_open(mc, &c)) != MP_OK) {
        return rc;
    }
    mp_ledger *l = mc->ledger;
    if ((rc = mp_ledger_begin(l)) == MP_OK && (rc = mp_ledger_revoke(l, norm, reason)) == MP_OK) {
        rc = mp_ledger_commit(l);
    }
    mp_ledger_rollback(l);
    if (rc == MP_OK && json) rc = mp_json_print(json_pack("{ss ss}", "serial", norm, "reason", reason));
    else if (rc == MP_OK) printf("DAC serial %s revoked (%s)\n", norm, reason);
    return rc;
}
