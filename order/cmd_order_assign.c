/* cmd_order_assign.c - `order assign`: a station's sub-quota of an order,
 * enforced in the database with the order's quota. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"

enum { O_ORDER = 1, O_STATION, O_QUOTA, O_FORMAT, O_OUT };

#define LEDGER_OPT {"ledger", OPT_LEDGER, OT_STR, "PATH|URI", "ledger: SQLite file or PostgreSQL URI (default $MATTER_PKI_LEDGER, else STATE_DIR/ledger.sqlite)"}

static const mp_opt assign_opts[] = {
    {"order", O_ORDER, OT_UINT | OT_REQUIRED, "ID", "production order"},
    {"station", O_STATION, OT_STR | OT_REQUIRED, "NAME", "station"},
    {"quota", O_QUOTA, OT_UINT | OT_REQUIRED, "N", "most DACs this station may issue on the order"},
    LEDGER_OPT,
    MP_OPTS_HSM, /* the token opened at the end for the audit checkpoint (audit_end.h) */
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

int order_assign_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *order = NULL, *station = NULL, *quota = NULL;
    mp_order o;
    int id, rc;
    mp_opt_init(&p, argc, argv, assign_opts, "order assign", "--order ID --station NAME --quota N [--ledger PATH|URI]",
                "Gives a station a sub-quota of an order. Once an order has assignments, only its\n"
                "assigned stations issue under it, each within its sub-quota (enforced in the\n"
                "database with the order's quota). Assigning again changes the sub-quota.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return MP_OK;
        case O_ORDER: order = val; break;
        case O_STATION: station = val; break;
        case O_QUOTA: quota = val; break;
        default:
            if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "order assign: unexpected argument '%s'", val ? val : "");
        }
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    if (!mp_station_name_ok(station)) {
        return mp_err(MP_ERR_USAGE, "--station '%s': expected 1-%d letters, digits, '.', '-' or '_'", station, MP_STATION_MAX);
    }
    uint64_t oid = mp_opt_uint(order), q = mp_opt_uint(quota);
    if ((rc = mp_cmd_open(mc, &c)) != MP_OK) return rc;
    mp_ledger *l = mc->ledger;
    char obj[128], detail[64];
    snprintf(obj, sizeof(obj), "order=%" PRIu64 " station=%s", oid, station);
    snprintf(detail, sizeof(detail), "{\"quota\":%" PRIu64 "}", q);
    if ((rc = mp_ledger_get_order(l, (int64_t)oid, &o)) == MP_OK) {
        if (q > o.quota) {
            rc = mp_err(MP_ERR_QUOTA, "--quota %" PRIu64 " is more than order %" PRIu64 "'s quota (%" PRIu64 ")", q, oid, o.quota);
        } else if ((rc = mp_ledger_begin(l)) == MP_OK && (rc = mp_ledger_audit(l, station, "order.assign", obj, detail)) == MP_OK &&
                   (rc = mp_ledger_order_assign(l, (int64_t)oid, station, q)) == MP_OK) {
            rc = mp_ledger_commit(l);
        }
    }
    mp_ledger_rollback(l);
    if (rc == MP_OK) printf("order %" PRIu64 ": station %s may issue %" PRIu64 "\n", oid, station, q);
    return rc;
}

