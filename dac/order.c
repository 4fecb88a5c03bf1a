/* order.c - `order create|list|close` and `ledger report|export`. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ca.h"
#include "dac/dacgen.h"
#include "dac/issue.h"
#include "ledger.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"

enum { O_VID = 1, O_PID, O_PAI_CERT, O_PAI_KEY, O_QUOTA, O_CN_TMPL, O_FROM, O_DAYS, O_NO_EXPIRY,
       O_LEDGER, O_ORDER, O_FORMAT, O_OUT, O_TEST_MODE, O_LABEL };

#define LEDGER_OPT {"ledger", O_LEDGER, OT_STR, "PATH", "ledger database (default STATE_DIR/ledger.sqlite)"}
#define DEFAULT_CN "Matter DAC {udid:16}"

static const mp_opt create_opts[] = {
    {"vid", O_VID, OT_HEX, "HEX", "vendor ID, hex (required; must equal the PAI's)"},
    {"pid", O_PID, OT_HEX, "HEX", "product ID, hex (required; must equal the PAI's PID if it has one)"},
    {"pai-cert", O_PAI_CERT, OT_FILE, "FILE", "PAI certificate (required)"},
    {"pai-key", O_PAI_KEY, OT_STR, "LABEL|URI", "PAI key in the token (required)"},
    {"quota", O_QUOTA, OT_UINT, "N", "most DACs this order may issue (required, >= 1)"},
    {"cn-template", O_CN_TMPL, OT_STR, "T", "DAC CN: {udid}, {udid:N}, {vid}, {pid} (default \"" DEFAULT_CN "\")"},
    {"valid-from", O_FROM, OT_DATE, "DATE", "DAC notBefore (default: time of issuance)"},
    {"days", O_DAYS, OT_UINT, "N", "DAC validity in days (default: no expiry)"},
    {"no-expiry", O_NO_EXPIRY, OT_FLAG, NULL, "DAC notAfter 99991231235959Z (the default)"},
    {"test-mode", O_TEST_MODE, OT_FLAG, NULL, "allow a PAI under a Matter SDK test PAA"},
    {"label", O_LABEL, OT_STR, "NAME", "unique name of the order (EST paths: /.well-known/est/NAME/...)"},
    LEDGER_OPT,
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

typedef struct order_args {
    const char *vid, *pid, *pai_cert, *pai_key, *quota, *cn, *from, *days, *ledger, *label;
    int no_expiry, test_mode;
} order_args;

/* A label names an order in EST paths: 1..63 of [A-Za-z0-9._-], not all
 * digits (so it never reads as an ID). */
int mp_order_label_check(const char *s)
{
    size_t n = strlen(s), digits = strspn(s, "0123456789");
    if (n == 0 || n > 63 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n ||
        digits == n || s[0] == '.') {
        return mp_err(MP_ERR_INVALID, "--label '%s': 1..63 characters of A-Z a-z 0-9 . _ -, not only digits, not starting with '.'", s);
    }
    return MP_OK;
}

static int create_check(mp_common *c, const order_args *a, mp_order *o)
{
    mp_ks *ks = NULL;
    mp_ca pai = {0};
    char cn[65];
    uint64_t q;
    int rc;
    if ((rc = mp_parse_vid("--vid", a->vid, &o->vid)) != MP_OK ||
        (rc = mp_parse_pid("--pid", a->pid, &o->pid)) != MP_OK) {
        return rc;
    }
    if (mp_parse_uint(a->quota, (uint64_t)INT64_MAX, &q) != MP_OK || q == 0) {
        return mp_err(MP_ERR_INVALID, "--quota: '%s' must be a number >= 1", a->quota);
    }
    o->quota = q;
    if (a->label != NULL && (rc = mp_order_label_check(a->label)) != MP_OK) {
        return rc;
    }
    snprintf(o->label, sizeof(o->label), "%s", a->label ? a->label : "");
    snprintf(o->cn_template, sizeof(o->cn_template), "%s", a->cn ? a->cn : DEFAULT_CN);
    /* Worst case: a 64-character UDID (uppercase hex SHA-256). */
    if ((rc = mp_dac_cn(o->cn_template, "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
                        o->vid, o->pid, cn)) != MP_OK) {
        return mp_err_ctx(rc, "--cn-template (checked with a 64-character UDID)");
    }
    time_t nb = 0, na;
    if (a->from != NULL && (rc = mp_validity(a->from, a->days, a->no_expiry, 0, &nb, &na)) != MP_OK) {
        return rc;
    }
    uint64_t days = 0;
    if (a->days != NULL && (mp_parse_uint(a->days, 3650000, &days) != MP_OK || days == 0)) {
        return mp_err(MP_ERR_INVALID, "--days: '%s' is not a number of days (1..3650000)", a->days);
    }
    if (a->days != NULL && a->no_expiry) {
        return mp_err(MP_ERR_USAGE, "--days and --no-expiry exclude each other");
    }
    o->valid_from = nb;
    o->days = (long)days;
    if ((rc = mp_ks_open(&c->hsm, &ks)) != MP_OK ||
        (rc = mp_ca_open(ks, a->pai_cert, a->pai_key, MP_PAI, a->test_mode, &pai)) != MP_OK) {
        goto end;
    }
    if (pai.vp.vid != o->vid) {
        rc = mp_err(MP_ERR_MISMATCH, "order VID 0x%04X differs from the PAI's 0x%04X", o->vid, pai.vp.vid);
    } else if (pai.vp.has_pid && pai.vp.pid != 0 && pai.vp.pid != o->pid) {
        rc = mp_err(MP_ERR_MISMATCH, "order PID 0x%04X differs from the PAI's 0x%04X", o->pid, pai.vp.pid);
    }
    time_t pnb, pna, dnb = nb ? nb : time(NULL);
    mp_dac_tmpl probe;
    if (rc == MP_OK && (mp_asn1_time(X509_get0_notBefore(pai.cert), &pnb) != 0 ||
                        mp_asn1_time(X509_get0_notAfter(pai.cert), &pna) != 0 || dnb < pnb || dnb > pna)) {
        rc = mp_err(MP_ERR_PROFILE, "--valid-from: DACs of this order would start outside the PAI's validity window");
    }
    if (rc == MP_OK) {
        rc = mp_dac_tmpl_init(&probe, pai.cert, o->vid, o->pid, dnb, MP_NO_EXPIRY);
    }
    mp_hex(pai.skid, 20, o->pai_skid, 1);
    char *abs = realpath(a->pai_cert, NULL);
    snprintf(o->pai_cert, sizeof(o->pai_cert), "%s", abs ? abs : a->pai_cert);
    free(abs);
    snprintf(o->pai_key, sizeof(o->pai_key), "%s", a->pai_key);
end:
    mp_ca_close(&pai);
    mp_ks_close(ks);
    return rc;
}

int order_create_main(int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    order_args a = {0};
    mp_order o = {0};
    mp_ledger *l = NULL;
    const char *val;
    int id, rc;
    mp_opt_init(&p, argc, argv, create_opts, "order create",
                "--vid HEX --pid HEX --pai-cert pai.pem --pai-key LABEL --quota N [--cn-template T] [--days N | --no-expiry]",
                "Creates a production order: at most --quota DACs for this VID/PID, signed by the\n"
                "PAI key in the token. Prints the order ID. The PAI and its key are checked now.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return MP_OK;
        case O_VID: a.vid = val; break;
        case O_PID: a.pid = val; break;
        case O_PAI_CERT: a.pai_cert = val; break;
        case O_PAI_KEY: a.pai_key = val; break;
        case O_QUOTA: a.quota = val; break;
        case O_CN_TMPL: a.cn = val; break;
        case O_FROM: a.from = val; break;
        case O_DAYS: a.days = val; break;
        case O_NO_EXPIRY: a.no_expiry = 1; break;
        case O_TEST_MODE: a.test_mode = 1; break;
        case O_LEDGER: a.ledger = val; break;
        case O_LABEL: a.label = val; break;
        default:
            if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "order create: unexpected argument '%s'", val ? val : "");
        }
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    if (!a.vid || !a.pid || !a.pai_cert || !a.pai_key || !a.quota) {
        return mp_err(MP_ERR_USAGE, "order create: --vid, --pid, --pai-cert, --pai-key and --quota are required");
    }
    if ((rc = create_check(&c, &a, &o)) != MP_OK ||
        (rc = mp_ledger_open_state(c.state_dir, a.ledger, &l)) != MP_OK) {
        return rc;
    }
    if ((rc = mp_ledger_begin(l)) == MP_OK && (rc = mp_ledger_add_order(l, &o)) == MP_OK) {
        rc = mp_ledger_commit(l);
    }
    if (rc != MP_OK) {
        mp_ledger_rollback(l);
    } else {
        printf("%" PRId64 "\n", o.id);
    }
    mp_ledger_close(l);
    return rc;
}

/* ---- order list / order close -------------------------------------------- */

static const mp_opt list_opts[] = {
    LEDGER_OPT,
    {"order", O_ORDER, OT_UINT, "ID", "the order (order close)"},
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

static int print_order(void *ctx, const mp_order *o)
{
    (void)ctx;
    printf("%-6" PRId64 " %04X %04X %10" PRIu64 " %10" PRIu64 " %-6s %s  %s%s%s\n", o->id, o->vid, o->pid, o->issued,
           o->quota, o->closed ? "closed" : "open", o->pai_skid, o->cn_template, o->label[0] ? "  label=" : "", o->label);
    return MP_OK;
}

static int simple_ledger_cmd(int argc, char **argv, const char *cmd, const char *syn, const char *about,
                             mp_ledger **l, const char **order)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *ledger = NULL;
    int id;
    *order = NULL;
    mp_opt_init(&p, argc, argv, list_opts, cmd, syn, about);
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return OPT_HELP;
        if (id == O_LEDGER) ledger = val;
        else if (id == O_ORDER) *order = val;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "%s: unexpected argument '%s'", cmd, val ? val : "");
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    return mp_ledger_open_state(c.state_dir, ledger, l);
}

int order_list_main(int argc, char **argv)
{
    mp_ledger *l = NULL;
    const char *order;
    int rc = simple_ledger_cmd(argc, argv, "order list", "[--ledger PATH]", "Lists production orders.", &l, &order);
    if (rc != MP_OK) return rc == OPT_HELP ? MP_OK : rc;
    printf("%-6s %-4s %-4s %10s %10s %-6s %-40s  %s\n", "id", "vid", "pid", "issued", "quota", "state", "pai_skid", "cn_template");
    rc = mp_ledger_each_order(l, print_order, NULL);
    mp_ledger_close(l);
    return rc;
}

int order_close_main(int argc, char **argv)
{
    mp_ledger *l = NULL;
    const char *order;
    uint64_t id;
    int rc = simple_ledger_cmd(argc, argv, "order close", "--order ID [--ledger PATH]",
                               "Closes a production order: no further DAC is issued under it.", &l, &order);
    if (rc != MP_OK) return rc == OPT_HELP ? MP_OK : rc;
    if (order == NULL || mp_parse_uint(order, INT64_MAX, &id) != MP_OK) {
        rc = mp_err(MP_ERR_USAGE, "order close: --order ID is required");
    } else if ((rc = mp_ledger_begin(l)) == MP_OK && (rc = mp_ledger_close_order(l, (int64_t)id)) == MP_OK) {
        rc = mp_ledger_commit(l);
    }
    mp_ledger_rollback(l);
    if (rc == MP_OK) printf("order %" PRIu64 " closed\n", id);
    mp_ledger_close(l);
    return rc;
}

/* ---- ledger report / export ---------------------------------------------- */

int ledger_report_main(int argc, char **argv)
{
    mp_ledger *l = NULL;
    const char *order;
    mp_ledger_counts n;
    int rc = simple_ledger_cmd(argc, argv, "ledger report", "[--ledger PATH]",
                               "Counts per device state and per production order.", &l, &order);
    if (rc != MP_OK) return rc == OPT_HELP ? MP_OK : rc;
    if ((rc = mp_ledger_counts_get(l, &n)) == MP_OK) {
        printf("ledger %s\n", mp_ledger_path(l));
        printf("chip lists  %" PRIu64 "\ndevices     %" PRIu64 "\n  authorized %" PRIu64 "\n  issued     %" PRIu64
               "\n  revoked    %" PRIu64 "\n  off-chip keys %" PRIu64 "\n\norders:\n",
               n.lists, n.devices, n.authorized, n.issued, n.revoked, n.offchip);
        printf("%-6s %-4s %-4s %10s %10s %-6s %-40s  %s\n", "id", "vid", "pid", "issued", "quota", "state", "pai_skid", "cn_template");
        rc = mp_ledger_each_order(l, print_order, NULL);
    }
    mp_ledger_close(l);
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

int ledger_export_main(int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *ledger = NULL, *fmt = "csv", *out = NULL;
    mp_ledger *l = NULL;
    int id, rc;
    mp_opt_init(&p, argc, argv, export_opts, "ledger export", "[--format csv|jsonl] [--out FILE]",
                "Exports every issued certificate: serial, UDID, order, PAI SKID, validity,\n"
                "SHA-256 of the DER, and for jsonl also the output path and station.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id == O_LEDGER) ledger = val;
        else if (id == O_FORMAT) fmt = val;
        else if (id == O_OUT) out = val;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "ledger export: unexpected argument '%s'", val ? val : "");
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    if (out != NULL && (rc = mp_check_output(out, c.force)) != MP_OK) return rc;
    if ((rc = mp_ledger_open_state(c.state_dir, ledger, &l)) != MP_OK) return rc;
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
    mp_ledger_close(l);
    return rc;
}
