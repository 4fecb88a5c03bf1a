/* cmd_audit.c - `audit verify|export`: the ledger's append-only, hash-chained
 * audit trail (see ledger.h). */
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
