/* station_cmd.c - `station add|list|disable`, `order assign` (per-station
 * sub-quotas) and `audit verify|export`: many stations sharing one ledger. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ledger.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"

enum { O_LEDGER = 1, O_ORDER, O_STATION, O_QUOTA, O_FORMAT, O_OUT };

#define LEDGER_OPT {"ledger", O_LEDGER, OT_STR, "PATH|URI", "ledger: SQLite file or PostgreSQL URI (default $MATTER_PKI_LEDGER, else STATE_DIR/ledger.sqlite)"}

static const mp_opt st_opts[] = {
    LEDGER_OPT,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

/* Parse [NAME] --ledger ...; open the ledger. */
static int open_cmd(int argc, char **argv, const char *cmd, const char *syn, const char *about, int want_name,
                    const char **name, mp_ledger **l)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *ledger = NULL;
    int id;
    *name = NULL;
    mp_opt_init(&p, argc, argv, st_opts, cmd, syn, about);
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return OPT_HELP;
        if (id == O_LEDGER) ledger = val;
        else if (id == OPT_POSITIONAL && want_name && *name == NULL) *name = val;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "%s: unexpected argument '%s'", cmd, val ? val : "");
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    if (want_name && *name == NULL) return mp_err(MP_ERR_USAGE, "%s: a station NAME is required", cmd);
    if (want_name && !mp_station_name_ok(*name)) {
        return mp_err(MP_ERR_USAGE, "%s: station '%s': expected 1-%d letters, digits, '.', '-' or '_'", cmd, *name, MP_STATION_MAX);
    }
    return mp_ledger_open_state(c.state_dir, ledger, l);
}

static int station_change(int argc, char **argv, int disable)
{
    mp_ledger *l = NULL;
    const char *name;
    char obj[96];
    int rc = open_cmd(argc, argv, disable ? "station disable" : "station add", "NAME [--ledger PATH|URI]",
                      disable ? "Disables a station: it may no longer issue (its certificates stay valid)."
                              : "Registers a factory station (runs register theirs at first use too).",
                      1, &name, &l);
    if (rc != MP_OK) return rc == OPT_HELP ? MP_OK : rc;
    snprintf(obj, sizeof(obj), "station=%s", name);
    if ((rc = mp_ledger_begin(l)) == MP_OK &&
        (rc = mp_ledger_audit(l, name, disable ? "station.disable" : "station.add", obj, "{}")) == MP_OK &&
        (rc = disable ? mp_ledger_station_disable(l, name) : mp_ledger_station_add(l, name)) == MP_OK) {
        rc = mp_ledger_commit(l);
    }
    mp_ledger_rollback(l);
    if (rc == MP_OK) printf("station %s %s\n", name, disable ? "disabled" : "added");
    mp_ledger_close(l);
    return rc;
}

int station_add_main(int argc, char **argv) { return station_change(argc, argv, 0); }
int station_disable_main(int argc, char **argv) { return station_change(argc, argv, 1); }

static int print_station(void *ctx, const mp_station *s)
{
    (void)ctx;
    printf("%-24s %-8s %10" PRIu64 "  %s\n", s->name, s->enabled ? "enabled" : "disabled", s->issued, s->created_at);
    return MP_OK;
}

int station_list_main(int argc, char **argv)
{
    mp_ledger *l = NULL;
    const char *name;
    int rc = open_cmd(argc, argv, "station list", "[--ledger PATH|URI]", "Lists the stations, their state and DAC count.", 0,
                      &name, &l);
    if (rc != MP_OK) return rc == OPT_HELP ? MP_OK : rc;
    printf("%-24s %-8s %10s  %s\n", "station", "state", "issued", "since");
    rc = mp_ledger_each_station(l, print_station, NULL);
    mp_ledger_close(l);
    return rc;
}

static const mp_opt assign_opts[] = {
    {"order", O_ORDER, OT_UINT, "ID", "production order (required)"},
    {"station", O_STATION, OT_STR, "NAME", "station (required)"},
    {"quota", O_QUOTA, OT_UINT, "N", "most DACs this station may issue on the order (required)"},
    LEDGER_OPT,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

int order_assign_main(int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *ledger = NULL, *order = NULL, *station = NULL, *quota = NULL;
    mp_ledger *l = NULL;
    mp_order o;
    int id, rc;
    mp_opt_init(&p, argc, argv, assign_opts, "order assign", "--order ID --station NAME --quota N [--ledger PATH|URI]",
                "Gives a station a sub-quota of an order. Once an order has assignments, only its\n"
                "assigned stations issue under it, each within its sub-quota (enforced in the\n"
                "database with the order's quota). Assigning again changes the sub-quota.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return MP_OK;
        case O_LEDGER: ledger = val; break;
        case O_ORDER: order = val; break;
        case O_STATION: station = val; break;
        case O_QUOTA: quota = val; break;
        default:
            if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "order assign: unexpected argument '%s'", val ? val : "");
        }
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    if (order == NULL || station == NULL || quota == NULL) {
        return mp_err(MP_ERR_USAGE, "order assign: --order, --station and --quota are required");
    }
    if (!mp_station_name_ok(station)) {
        return mp_err(MP_ERR_USAGE, "--station '%s': expected 1-%d letters, digits, '.', '-' or '_'", station, MP_STATION_MAX);
    }
    uint64_t oid = mp_opt_uint(order), q = mp_opt_uint(quota);
    if ((rc = mp_ledger_open_state(c.state_dir, ledger, &l)) != MP_OK) return rc;
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
    mp_ledger_close(l);
    return rc;
}

/* ---- audit ------------------------------------------------------------------- */

static const mp_opt audit_opts[] = {
    {"format", O_FORMAT, OT_ENUM, "jsonl", "output format (audit export; jsonl)"},
    LEDGER_OPT,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

static int audit_open(int argc, char **argv, const char *cmd, const char *syn, const char *about, mp_ledger **l)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *ledger = NULL;
    int id;
    mp_opt_init(&p, argc, argv, audit_opts, cmd, syn, about);
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return OPT_HELP;
        if (id == O_LEDGER) ledger = val;
        else if (id == O_FORMAT) continue;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "%s: unexpected argument '%s'", cmd, val ? val : "");
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    return mp_ledger_open_state(c.state_dir, ledger, l);
}

int audit_verify_main(int argc, char **argv)
{
    mp_ledger *l = NULL;
    int64_t bad = 0;
    uint64_t rows = 0;
    char why[512];
    int rc = audit_open(argc, argv, "audit verify", "[--ledger PATH|URI]",
                        "Recomputes the ledger's audit chain: every row's hash over the row before\n"
                        "it and its own contents, no sequence number missing, the head at the last\n"
                        "row. Exit 25 naming the first bad sequence number.", &l);
    if (rc != MP_OK) return rc == OPT_HELP ? MP_OK : rc;
    rc = mp_ledger_audit_verify(l, &bad, why, sizeof(why), &rows);
    if (rc == MP_OK && bad != 0) {
        rc = mp_err(MP_ERR_AUDIT, "audit trail of %s is broken at sequence number %lld: %s", mp_ledger_path(l), (long long)bad, why);
    } else if (rc == MP_OK) {
        printf("audit trail of %s: %" PRIu64 " row(s), chain intact\n", mp_ledger_path(l), rows);
    }
    mp_ledger_close(l);
    return rc;
}

static int export_row(void *ctx, const mp_audit_row *r)
{
    (void)ctx;
    char prev[65], hash[65];
    mp_hex(r->prev, 32, prev, 0);
    mp_hex(r->hash, 32, hash, 0);
    json_t *detail = json_loads(r->detail ? r->detail : "{}", 0, NULL);
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:s}", "seq", (json_int_t)r->seq, "time", r->at, "station",
                          r->station ? r->station : "", "operator", r->operator_ ? r->operator_ : "", "event",
                          r->event ? r->event : "", "objects", r->objects ? r->objects : "", "detail",
                          detail ? detail : json_string(r->detail ? r->detail : ""), "prev", prev, "hash", hash);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (s == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    int ok = puts(s) >= 0;
    free(s);
    return ok ? MP_OK : mp_err(MP_ERR_IO, "standard output: write failed");
}

int audit_export_main(int argc, char **argv)
{
    mp_ledger *l = NULL;
    int rc = audit_open(argc, argv, "audit export", "[--format jsonl] [--ledger PATH|URI]",
                        "Writes the audit trail, one JSON object per row (seq, time, station,\n"
                        "operator, event, objects, detail, prev, hash), to standard output.", &l);
    if (rc != MP_OK) return rc == OPT_HELP ? MP_OK : rc;
    rc = mp_ledger_each_audit(l, export_row, NULL);
    if (rc == MP_OK && fflush(stdout) != 0) rc = mp_err(MP_ERR_IO, "standard output: write failed");
    mp_ledger_close(l);
    return rc;
}
