/* cmd_ledger_migrate.c - `ledger migrate --to LOCATION`: a ledger copied into
 * an empty one (an SQLite ledger into PostgreSQL, for several stations) and
 * the copy verified; the source is left as it was. */
#include <inttypes.h>
#include <stdio.h>

#include "ledger.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"

enum { O_TO = 1 };

static const mp_opt migrate_opts[] = {
    {"to", O_TO, OT_STR | OT_REQUIRED, "URI", "the empty destination ledger (a PostgreSQL URI or key=value string; no password)"},
    {"ledger", OPT_LEDGER, OT_STR, "PATH|URI", "the ledger to copy (default $MATTER_PKI_LEDGER, else STATE_DIR/ledger.sqlite)"},
    MP_OPTS_HSM, /* the token opened at the end for the audit checkpoint (audit_end.h) */
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

int ledger_migrate_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *to = NULL;
    mp_ledger *dst = NULL;
    uint64_t rows = 0;
    int id, rc;
    mp_opt_init(&p, argc, argv, migrate_opts, "ledger migrate", "--to URI [--ledger PATH]",
                "Copies every row of the ledger (chip lists, devices, orders, certificates,\n"
                "revocations, factory data, stations, the audit chain) into an empty ledger,\n"
                "usually PostgreSQL, in one transaction, and verifies each table read back\n"
                "(rows and SHA-256). The source is not changed; point the stations at the\n"
                "new ledger afterwards (MATTER_PKI_LEDGER).");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id == O_TO) to = val;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "ledger migrate: unexpected argument %s", mp_opt_shown(val));
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    if (mp_ledger_location_has_password(to)) {
        return mp_err(MP_ERR_USAGE, "--to: a password on the command line is refused (others can read it);"
                                    " use PGPASSFILE, ~/.pgpass or PGPASSWORD");
    }
    /* The source is the command's ledger (the dispatcher opens and closes
     * it); the destination is a second ledger, opened here with
     * mp_ledger_open because it is empty and gets its schema now. */
    if ((rc = mp_cmd_open(mc, &c)) == MP_OK && (rc = mp_ledger_open(to, &dst)) == MP_OK &&
        (rc = mp_ledger_copy(mc->ledger, dst, &rows)) == MP_OK) {
        printf("ledger %s copied into %s: %" PRIu64 " rows, every table verified\n", mp_ledger_path(mc->ledger), mp_ledger_path(dst), rows);
        /* its ledger.migrate row is the copy's: signed there (the source got none) */
        rc = mp_cmd_audit_end(mc, NULL, dst, 0);
    }
    mp_ledger_close(dst);
    return rc;
}
