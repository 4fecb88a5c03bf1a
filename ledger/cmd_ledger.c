/* cmd_ledger.c - `ledger report` and `ledger export`, and the option
 * parsing that `order list|close` share with `ledger report`. */
#include "ledger/cmd_ledger.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "opts.h"
#include "src/commands.h"
#include "util.h"

enum { O_ORDER = 1, O_FORMAT, O_OUT, O_JSON };

#define LEDGER_OPT {"ledger", OPT_LEDGER, OT_STR, "PATH|URI", "ledger: SQLite file or PostgreSQL URI/key=value (default $MATTER_PKI_LEDGER, else STATE_DIR/ledger.sqlite)"}

/* order list and ledger report: no --order (they would take it and ignore it) */
static const mp_opt list_opts[] = {
    LEDGER_OPT,
    {"json", O_JSON, OT_FLAG, NULL, "print the result as one JSON object on stdout"},
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

static const mp_opt close_opts[] = {
    LEDGER_OPT,
    {"order", O_ORDER, OT_UINT | OT_REQUIRED, "ID", "the order"},
    {"json", O_JSON, OT_FLAG, NULL, "print the result as one JSON object on stdout"},
    MP_OPTS_HSM, /* the token opened at the end for the audit checkpoint (audit_end.h) */
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

void *ledger_order_json(const mp_order *o)
{
    char vid[5], pid[5];
    snprintf(vid, sizeof(vid), "%04X", o->vid);
    snprintf(pid, sizeof(pid), "%04X", o->pid);
    json_t *j = json_pack("{sI ss ss sI sI ss ss ss ss sI}", "order", (json_int_t)o->id, "vid", vid, "pid", pid,
                          "issued", (json_int_t)o->issued, "quota", (json_int_t)o->quota, "state", o->closed ? "closed" : "open",
                          "pai_skid", o->pai_skid, "pai_cert", o->pai_cert, "cn_template", o->cn_template,
                          "days", (json_int_t)o->days);
    if (j != NULL && o->label[0]) json_object_set_new(j, "label", json_string(o->label));
    return j;
}

int ledger_print_order(void *ctx, const mp_order *o)
{
    if (ctx != NULL) {
        return json_array_append_new(ctx, ledger_order_json(o)) == 0 ? MP_OK : mp_err(MP_ERR_GENERAL, "out of memory");
    }
    printf("%-6" PRId64 " %04X %04X %10" PRIu64 " %10" PRIu64 " %-6s %s  %s%s%s\n", o->id, o->vid, o->pid, o->issued,
           o->quota, o->closed ? "closed" : "open", o->pai_skid, o->cn_template, o->label[0] ? "  label=" : "", o->label);
    return MP_OK;
}

int ledger_cmd_open_json(mp_cmd *mc, int argc, char **argv, const char *cmd, const char *syn, const char *about,
                         const char **order, int *json)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val;
    int id;
    *order = NULL;
    mp_opt_init(&p, argc, argv, strcmp(cmd, "order close") == 0 ? close_opts : list_opts, cmd, syn, about);
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return OPT_HELP;
        if (id == O_ORDER) *order = val;
        else if (id == O_JSON) *json = 1;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "%s: unexpected argument %s", cmd, mp_opt_shown(val));
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    /* order list and ledger report only read (NEEDS_LEDGER_RO): they work on
     * read-only media */
    return mp_cmd_open(mc, &c);
}

/* ---- ledger report / export ---------------------------------------------- */

static int print_station_count(void *ctx, const mp_station_count *c)
{
    char q[24] = "-";
    if (ctx != NULL) { /* --json: into the report's "stations" array; sub_quota null when none */
        json_t *j = json_pack("{sI ss sI so}", "order", (json_int_t)c->order_id, "station", c->station, "issued", (json_int_t)c->issued,
                              "sub_quota", c->quota >= 0 ? json_integer((json_int_t)c->quota) : json_null());
        return json_array_append_new(ctx, j) == 0 ? MP_OK : mp_err(MP_ERR_GENERAL, "out of memory");
    }
    if (c->quota >= 0) snprintf(q, sizeof(q), "%lld", (long long)c->quota);
    printf("%-6lld %-24s %10" PRIu64 " %10s\n", (long long)c->order_id, c->station, c->issued, q);
    return MP_OK;
}

int ledger_report_main(mp_cmd *mc, int argc, char **argv)
{
    const char *order;
    mp_ledger_counts n;
    int json = 0;
    int rc = ledger_cmd_open_json(mc, argc, argv, "ledger report", "[--ledger PATH] [--json]",
                                  "Counts per device state and per production order.", &order, &json);
    if (rc != MP_OK) return rc == OPT_HELP ? MP_OK : rc;
    mp_ledger *l = mc->ledger;
    if (json && (rc = mp_ledger_counts_get(l, &n)) == MP_OK) {
        json_t *arr = json_array(), *st = json_array();
        if ((rc = mp_ledger_each_order(l, ledger_print_order, arr)) == MP_OK &&
            (rc = mp_ledger_each_station_count(l, print_station_count, st)) == MP_OK) {
            rc = mp_json_print(json_pack("{ss sI sI sI sI sI sI so so}", "ledger", mp_ledger_path(l), "chip_lists", (json_int_t)n.lists,
                                         "devices", (json_int_t)n.devices, "authorized", (json_int_t)n.authorized,
                                         "issued", (json_int_t)n.issued, "revoked", (json_int_t)n.revoked,
                                         "offchip_keys", (json_int_t)n.offchip, "orders", arr, "stations", st));
        } else {
            json_decref(arr);
            json_decref(st);
        }
        return rc; /* stdout holds the one JSON object and nothing else */
    } else if (!json && (rc = mp_ledger_counts_get(l, &n)) == MP_OK) {
        printf("ledger %s\n", mp_ledger_path(l));
        printf("chip lists  %" PRIu64 "\ndevices     %" PRIu64 "\n  authorized %" PRIu64 "\n  issued     %" PRIu64
               "\n  revoked    %" PRIu64 "\n  off-chip keys %" PRIu64 "\n\norders:\n",
               n.lists, n.devices, n.authorized, n.issued, n.revoked, n.offchip);
        printf("%-6s %-4s %-4s %10s %10s %-6s %-40s  %s\n", "id", "vid", "pid", "issued", "quota", "state", "pai_skid", "cn_template");
        rc = mp_ledger_each_order(l, ledger_print_order, NULL);
    }
    if (rc == MP_OK) {
        printf("\nper station:\n%-6s %-24s %10s %10s\n", "order", "station", "issued", "sub-quota");
        rc = mp_ledger_each_station_count(l, print_station_count, NULL);
    }
    return rc;
}

static const mp_opt export_opts[] = {
    {"format", O_FORMAT, OT_ENUM, "csv|jsonl", "output format (default csv)"},
    {"out", O_OUT, OT_OUT, "FILE", "output file (default standard output)"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace an existing output file"},
    LEDGER_OPT,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

/* Rows go straight to their destination: standard output, or with --out an
 * mp_stream (a temporary file beside FILE that becomes FILE only once every
 * row is written). Memory does not grow with the number of rows. */
typedef struct export_ctx {
    FILE *f;
    const char *name; /* FILE or "standard output", for messages */
    int jsonl;
} export_ctx;

/* Why the rows stopped: Ctrl-C (exit 20) or a failed write (errno err). */
static int export_fail(const export_ctx *e, int err)
{
    if (mp_interrupted()) {
        return mp_err(MP_ERR_INTERRUPTED, "interrupted; run the same command again to export");
    }
    return mp_err(MP_ERR_IO, "%s: write failed: %s", e->name, err ? strerror(err) : "I/O error");
}

static int export_one(void *ctx, const mp_cert_rec *c)
{
    export_ctx *e = ctx;
    char nb[21], na[21];
    if (mp_interrupted()) {
        return export_fail(e, 0);
    }
    mp_time_iso(c->not_before, nb);
    mp_time_iso(c->not_after, na);
    errno = 0;
    if (!e->jsonl) {
        fprintf(e->f, "%s,%s,%" PRId64 ",%s,%s,%s,%s,%s\n", c->serial, c->udid, c->order_id, c->pai_skid, nb, na,
                c->sha256, c->station ? c->station : "");
        return ferror(e->f) ? export_fail(e, errno) : MP_OK;
    }
    json_error_t je;
    json_t *o = json_pack_ex(&je, 0, "{s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s}", "serial", c->serial, "udid", c->udid,
                             "order", (json_int_t)c->order_id, "pai_skid", c->pai_skid, "not_before", nb,
                             "not_after", na, "sha256", c->sha256, "path", c->path ? c->path : "",
                             "station", c->station ? c->station : "");
    if (o == NULL) { /* a path or station that is not UTF-8 */
        return mp_err(MP_ERR_INVALID, "certificate %s: cannot be written as JSON: %s", c->serial, je.text);
    }
    int bad = json_dumpf(o, e->f, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0 || fputc('\n', e->f) == EOF;
    json_decref(o);
    return bad || ferror(e->f) ? export_fail(e, errno) : MP_OK;
}

static int export_rows(mp_ledger *l, export_ctx *e)
{
    if (!e->jsonl && fputs("serial,udid,order,pai_skid,not_before,not_after,sha256,station\n", e->f) == EOF) {
        return export_fail(e, errno);
    }
    return mp_ledger_each_cert(l, export_one, e);
}

/* Export into out's temporary file, then put it in place. */
static int export_to_file(mp_ledger *l, export_ctx *e, const char *out, int force)
{
    mp_stream st;
    int rc = mp_stream_open(&st, out, 0644);
    if (rc != MP_OK) {
        return rc;
    }
    e->f = st.f;
    rc = export_rows(l, e);
    if (rc == MP_OK && (rc = mp_stream_close(&st)) != MP_OK && mp_interrupted()) {
        rc = export_fail(e, 0);
    }
    if (rc == MP_OK) {
        rc = mp_stream_commit(&st, force);
    }
    mp_stream_abort(&st);
    e->f = NULL;
    return rc;
}

int ledger_export_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *fmt = "csv", *out = NULL;
    int id, rc;
    mp_opt_init(&p, argc, argv, export_opts, "ledger export", "[--format csv|jsonl] [--out FILE]",
                "Exports every issued certificate: serial, UDID, order, PAI SKID, validity,\n"
                "SHA-256 of the DER, and for jsonl also the output path and station.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id == O_FORMAT) fmt = val;
        else if (id == O_OUT) out = val;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "ledger export: unexpected argument %s", mp_opt_shown(val));
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    if (out != NULL && (rc = mp_check_output(out, c.force)) != MP_OK) return rc;
    if ((rc = mp_cmd_open(mc, &c)) != MP_OK) return rc; /* NEEDS_LEDGER_RO */
    mp_ledger *l = mc->ledger;
    mp_signals_install(); /* Ctrl-C stops between rows, and --out's temporary file goes */
    export_ctx e = {stdout, out ? out : "standard output", strcmp(fmt, "jsonl") == 0};
    if (out != NULL) {
        rc = export_to_file(l, &e, out, c.force);
    } else {
        rc = export_rows(l, &e);
        errno = 0;
        if (rc == MP_OK && (fflush(stdout) != 0 || ferror(stdout))) {
            rc = export_fail(&e, errno);
        }
    }
    return rc;
}
