/* cmd_station.c - `station add|list|disable`: the factory stations that share
 * one ledger (see ledger.h: stations are enforced in the database). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ledger.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"

enum { O_ORDER = 1, O_STATION, O_QUOTA, O_FORMAT, O_OUT };

#define LEDGER_OPT {"ledger", OPT_LEDGER, OT_STR, "PATH|URI", "ledger: SQLite file or PostgreSQL URI (default $MATTER_PKI_LEDGER, else STATE_DIR/ledger.sqlite)"}

static const mp_opt st_opts[] = {
    LEDGER_OPT,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

/* station add / disable: the token opened at the end for the audit checkpoint (audit_end.h) */
static const mp_opt change_opts[] = {
    LEDGER_OPT,
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

/* Parse [NAME] --ledger ...; the dispatcher opens the ledger (mc->ledger). */
static int open_cmd(mp_cmd *mc, int argc, char **argv, const char *cmd, const char *syn, const char *about, int want_name,
                    const char **name)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val;
    int id;
    *name = NULL;
    mp_opt_init(&p, argc, argv, want_name ? change_opts : st_opts, cmd, syn, about);
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return OPT_HELP;
        if (id == OPT_POSITIONAL && want_name && *name == NULL) *name = val;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "%s: unexpected argument '%s'", cmd, val ? val : "");
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    if (want_name && *name == NULL) return mp_err(MP_ERR_USAGE, "%s: a station NAME is required", cmd);
    if (want_name && !mp_station_name_ok(*name)) {
        return mp_err(MP_ERR_USAGE, "%s: station '%s': expected 1-%d letters, digits, '.', '-' or '_'", cmd, *name, MP_STATION_MAX);
    }
    return mp_cmd_open(mc, &c);
}

static int station_change(mp_cmd *mc, int argc, char **argv, int disable)
{
    const char *name;
    char obj[96];
    int rc = open_cmd(mc, argc, argv, disable ? "station disable" : "station add", "NAME [--ledger PATH|URI]",
                      disable ? "Disables a station: it may no longer issue (its certificates stay valid)."
                              : "Registers a factory station (runs register theirs at first use too).",
                      1, &name);
    if (rc != MP_OK) return rc == OPT_HELP ? MP_OK : rc;
    mp_ledger *l = mc->ledger;
    snprintf(obj, sizeof(obj), "station=%s", name);
    if ((rc = mp_ledger_begin(l)) == MP_OK &&
        (rc = mp_ledger_audit(l, name, disable ? "station.disable" : "station.add", obj, "{}")) == MP_OK &&
        (rc = disable ? mp_ledger_station_disable(l, name) : mp_ledger_station_add(l, name)) == MP_OK) {
        rc = mp_ledger_commit(l);
    }
    mp_ledger_rollback(l);
    if (rc == MP_OK) printf("station %s %s\n", name, disable ? "disabled" : "added");
    return rc;
}

int station_add_main(mp_cmd *mc, int argc, char **argv) { return station_change(mc, argc, argv, 0); }
int station_disable_main(mp_cmd *mc, int argc, char **argv) { return station_change(mc, argc, argv, 1); }

static int print_station(void *ctx, const mp_station *s)
{
    (void)ctx;
    printf("%-24s %-8s %10" PRIu64 "  %s\n", s->name, s->enabled ? "enabled" : "disabled", s->issued, s->created_at);
    return MP_OK;
}

int station_list_main(mp_cmd *mc, int argc, char **argv)
{
    const char *name;
    int rc = open_cmd(mc, argc, argv, "station list", "[--ledger PATH|URI]", "Lists the stations, their state and DAC count.", 0,
                      &name);
    if (rc != MP_OK) return rc == OPT_HELP ? MP_OK : rc;
    printf("%-24s %-8s %10s  %s\n", "station", "state", "issued", "since");
    return mp_ledger_each_station(mc->ledger, print_station, NULL);
}

