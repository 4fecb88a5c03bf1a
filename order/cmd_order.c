/* cmd_order.c - `order create`, `order list` and `order close`. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ca.h"
#include "dac/dacgen.h"
#include "ledger.h"
#include "ledger/cmd_ledger.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"

enum { O_VID = 1, O_PID, O_PAI_CERT, O_PAI_KEY, O_QUOTA, O_CN_TMPL, O_FROM, O_DAYS, O_NO_EXPIRY,
       O_TEST_MODE, O_LABEL, O_JSON };

#define LEDGER_OPT {"ledger", OPT_LEDGER, OT_STR, "PATH|URI", "ledger: SQLite file or PostgreSQL URI/key=value (default $MATTER_PKI_LEDGER, else STATE_DIR/ledger.sqlite)"}
#define DEFAULT_CN "Matter DAC {udid:16}"

static const mp_opt create_opts[] = {
    {"vid", O_VID, OT_HEX | OT_REQUIRED, "HEX", "vendor ID, hex (must equal the PAI's)"},
    {"pid", O_PID, OT_HEX | OT_REQUIRED, "HEX", "product ID, hex (must equal the PAI's PID if it has one)"},
    {"pai-cert", O_PAI_CERT, OT_FILE | OT_REQUIRED, "FILE", "PAI certificate"},
    {"pai-key", O_PAI_KEY, OT_STR | OT_REQUIRED, "LABEL|URI", "PAI key in the token"},
    {"quota", O_QUOTA, OT_UINT | OT_REQUIRED, "N", "most DACs this order may issue (>= 1)"},
    {"cn-template", O_CN_TMPL, OT_STR, "T", "DAC CN: {udid}, {udid:N}, {vid}, {pid} (default \"" DEFAULT_CN "\")"},
    {"valid-from", O_FROM, OT_DATE, "DATE", "DAC notBefore (default: time of issuance)"},
    {"days", O_DAYS, OT_UINT, "N", "DAC validity in days (default: no expiry)"},
    {"no-expiry", O_NO_EXPIRY, OT_FLAG, NULL, "DAC notAfter 99991231235959Z (the default)"},
    {"test-mode", O_TEST_MODE, OT_FLAG, NULL, "allow a PAI under a Matter SDK test PAA"},
    {"label", O_LABEL, OT_STR, "NAME", "unique name of the order (EST paths: /.well-known/est/NAME/...)"},
    {"json", O_JSON, OT_FLAG, NULL, "print the order as one JSON object on stdout"},
    LEDGER_OPT,
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

typedef struct order_args {
    const char *vid, *pid, *pai_cert, *pai_key, *quota, *cn, *from, *days, *label;
    int no_expiry, test_mode, json;
} order_args;

/* A label names an order in EST paths: 1..63 of [A-Za-z0-9._-], not all
 * digits (so it never reads as an ID). */
static int label_check(const char *s)
{
    size_t n = strlen(s), digits = strspn(s, "0123456789");
    if (n == 0 || n > 63 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n ||
        digits == n || s[0] == '.') {
        return mp_err(MP_ERR_INVALID, "--label '%s': 1..63 characters of A-Z a-z 0-9 . _ -, not only digits, not starting with '.'", s);
    }
    return MP_OK;
}

static int create_check(mp_cmd *mc, mp_common *c, const order_args *a, mp_order *o)
{
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
    if (a->label != NULL && (rc = label_check(a->label)) != MP_OK) {
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
    /* the token before the ledger: the PAI and its key are checked first */
    if ((rc = mp_cmd_open_needs(mc, c, NEEDS_TOKEN)) != MP_OK ||
        (rc = mp_ca_open(mc->ks, a->pai_cert, a->pai_key, MP_PAI, a->test_mode, &pai)) != MP_OK) {
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
    return rc;
}

int order_create_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    order_args a = {0};
    mp_order o = {0};
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
        case O_LABEL: a.label = val; break;
        case O_JSON: a.json = 1; break;
        default:
            if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "order create: unexpected argument %s", mp_opt_shown(val));
        }
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    if ((rc = create_check(mc, &c, &a, &o)) != MP_OK || (rc = mp_cmd_open(mc, &c)) != MP_OK) {
        return rc;
    }
    mp_ledger *l = mc->ledger;
    if ((rc = mp_ledger_begin(l)) == MP_OK && (rc = mp_ledger_add_order(l, &o)) == MP_OK) {
        rc = mp_ledger_commit(l);
    }
    if (rc != MP_OK) {
        mp_ledger_rollback(l);
    } else if (a.json) {
        rc = mp_json_print(ledger_order_json(&o));
    } else {
        printf("%" PRId64 "\n", o.id);
    }
    return rc;
}

/* ---- order list / order close (options shared with ledger report) -------- */

int order_list_main(mp_cmd *mc, int argc, char **argv)
{
    const char *order;
    int json = 0;
    int rc = ledger_cmd_open_json(mc, argc, argv, "order list", "[--ledger PATH] [--json]", "Lists production orders.", &order, &json);
    if (rc != MP_OK) return rc == OPT_HELP ? MP_OK : rc;
    mp_ledger *l = mc->ledger;
    if (json) {
        json_t *arr = json_array();
        if ((rc = mp_ledger_each_order(l, ledger_print_order, arr)) == MP_OK) {
            rc = mp_json_print(json_pack("{so}", "orders", arr));
        } else {
            json_decref(arr);
        }
        return rc;
    }
    printf("%-6s %-4s %-4s %10s %10s %-6s %-40s  %s\n", "id", "vid", "pid", "issued", "quota", "state", "pai_skid", "cn_template");
    return mp_ledger_each_order(l, ledger_print_order, NULL);
}

int order_close_main(mp_cmd *mc, int argc, char **argv)
{
    const char *order;
    uint64_t id;
    int json = 0;
    int rc = ledger_cmd_open_json(mc, argc, argv, "order close", "--order ID [--ledger PATH] [--json]",
                                  "Closes a production order: no further DAC is issued under it.", &order, &json);
    if (rc != MP_OK) return rc == OPT_HELP ? MP_OK : rc;
    mp_ledger *l = mc->ledger;
    if (mp_parse_uint(order, INT64_MAX, &id) != MP_OK) {
        rc = mp_err(MP_ERR_USAGE, "order close: --order: '%s' is not an order ID", order);
    } else if ((rc = mp_ledger_begin(l)) == MP_OK && (rc = mp_ledger_close_order(l, (int64_t)id)) == MP_OK) {
        rc = mp_ledger_commit(l);
    }
    mp_ledger_rollback(l);
    if (rc == MP_OK && json) rc = mp_json_print(json_pack("{sI sb}", "order", (json_int_t)id, "closed", 1));
    else if (rc == MP_OK) printf("order %" PRIu64 " closed\n", id);
    return rc;
}
