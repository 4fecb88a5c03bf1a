/* cmd_audit.c - `audit init|checkpoint|verify|export`: the ledger's
 * append-only, hash-chained audit trail (see ledger.h), its checkpoints
 * signed by the audit key in the HSM, and the ceremony log's chain
 * (audit_ckpt.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include "audit_ckpt.h"
#include "cd.h"
#include "ceremony.h"
#include "ledger.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"

enum { O_FORMAT = 1, O_KEY_LABEL, O_OUT, O_AUDIT_KEY };

#define LEDGER_OPT {"ledger", OPT_LEDGER, OT_STR, "PATH|URI", "ledger: SQLite file or PostgreSQL URI (default $MATTER_PKI_LEDGER, else STATE_DIR/ledger.sqlite)"}

static const mp_opt audit_opts[] = {
    {"format", O_FORMAT, OT_ENUM, "jsonl", "output format (audit export; jsonl)"},
    {"audit-key", O_AUDIT_KEY, OT_FILE, "PEM", "audit verify: the audit key's public key (from audit init --out): checkpoints must be signed by it"},
    {"key-label", O_KEY_LABEL, OT_STR, "LABEL", "audit init: label of the new audit key in the token"},
    {"out", O_OUT, OT_OUT, "PEM", "audit init: write the audit key's public key here"},
    LEDGER_OPT,
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

/* audit init: the same options, --key-label required. */
static const mp_opt init_opts[] = {
    {"format", O_FORMAT, OT_ENUM, "jsonl", "output format (audit export; jsonl)"},
    {"audit-key", O_AUDIT_KEY, OT_FILE, "PEM", "audit verify: the audit key's public key (from audit init --out): checkpoints must be signed by it"},
    {"key-label", O_KEY_LABEL, OT_STR | OT_REQUIRED, "LABEL", "audit init: label of the new audit key in the token"},
    {"out", O_OUT, OT_OUT, "PEM", "audit init: write the audit key's public key here"},
    LEDGER_OPT,
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

typedef struct audit_args {
    const char *key_label, *out, *audit_key;
} audit_args;

static int audit_parse(int argc, char **argv, const char *cmd, const char *syn, const char *about, mp_common *c,
                       audit_args *a)
{
    mp_optparse p;
    const char *val;
    int id;
    memset(a, 0, sizeof(*a));
    mp_opt_init(&p, argc, argv, strcmp(cmd, "audit init") == 0 ? init_opts : audit_opts, cmd, syn, about);
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return OPT_HELP;
        if (id == O_FORMAT) continue;
        else if (id == O_KEY_LABEL) a->key_label = val;
        else if (id == O_OUT) a->out = val;
        else if (id == O_AUDIT_KEY) a->audit_key = val;
        else if (!mp_opt_common(c, id, val)) return mp_err(MP_ERR_USAGE, "%s: unexpected argument %s", cmd, mp_opt_shown(val));
    }
    if (id < 0) return -id;
    mp_common_finish(c);
    return MP_OK;
}

/* Sign the head with the ledger's audit key, found in the open token. */
static int checkpoint(mp_ledger *l, mp_ks *ks, const mp_common *c, int quiet_if_none)
{
    mp_audit_key ak;
    mp_ks_key key;
    int found = 0;
    int64_t seq = 0;
    int rc = mp_ledger_audit_key(l, &ak, &found);
    if (rc != MP_OK) return rc;
    if (!found) return quiet_if_none ? MP_OK : mp_err(MP_ERR_KEY_NOT_FOUND, "the ledger has no audit key: run audit init first");
    if ((rc = mp_ks_find(ks, ak.label, &key)) != MP_OK) return rc;
    if (memcmp(key.point, ak.point, 65) != 0) {
        return mp_err(MP_ERR_MISMATCH, "key '%s' in token %s is not the ledger's audit key (SKID %s)", ak.label,
                      mp_ks_token_label(ks), ak.skid);
    }
    if ((rc = mp_audit_sign_head(l, ks, &key, ak.id, &seq)) != MP_OK) return rc;
    /* the ceremony log's entry names the key and is signed by it, also when
     * the trail's head was signed already: it covers the lines before it (a
     * log kept before its entries were signed starts being signed here) */
    char cmd[64];
    if (seq > 0) snprintf(cmd, sizeof(cmd), "audit checkpoint %lld", (long long)seq);
    else snprintf(cmd, sizeof(cmd), "audit checkpoint");
    rc = seq > 0 ? mp_audit_log_checkpoint(l, &c->rec, cmd, ks, &key, seq) : mp_ceremony_log_audit_key(&c->rec, cmd, ks, &key, NULL);
    if (rc == MP_OK && seq > 0) printf("audit checkpoint at row %lld signed by %s\n", (long long)seq, ak.label);
    if (rc == MP_OK && seq == 0) printf("the audit trail's head has its checkpoint already; the ceremony log's head signed by %s\n", ak.label);
    return rc;
}

int audit_init_main(mp_cmd *mc, int argc, char **argv)
{
    mp_common c = {0};
    audit_args a;
    mp_ks_key key;
    int64_t kid = 0;
    char skid[41], obj[128];
    int rc = audit_parse(argc, argv, "audit init", "--key-label LABEL [--out audit-key.pem] --token T --pin-file F",
                         "Makes the audit key (ECDSA P-256, in the token, its own key: never the PAA's\n"
                         "or a PAI's), records its public key in the ledger and signs the first\n"
                         "checkpoint. From then on every command that writes audit rows signs a\n"
                         "checkpoint at its end when its token holds the key (commands that need no\n"
                         "token open it when given --pin-file or MATTER_PKI_PIN), `dac issue` also every\n"
                         "1,000 audit rows in a long run, `audit checkpoint` signs one on demand, and\n"
                         "the ceremony log's lines are signed by the key when the token holds it.", &c, &a);
    if (rc != MP_OK) return rc == OPT_HELP ? MP_OK : rc;
    if (a.out && (rc = mp_check_output(a.out, c.force)) != MP_OK) return rc;
    if ((rc = mp_cmd_open(mc, &c)) != MP_OK) return rc;
    mp_ledger *l = mc->ledger;
    mp_ks *ks = mc->ks;
    if ((rc = mp_ks_generate(ks, a.key_label, &key)) != MP_OK) return rc;
    mp_hex(key.skid, 20, skid, 1);
    snprintf(obj, sizeof(obj), "audit_key=%s", skid);
    if ((rc = mp_ledger_begin(l)) == MP_OK && (rc = mp_ledger_audit(l, mp_ledger_station_default(), "audit.init", obj, "{}")) == MP_OK &&
        (rc = mp_ledger_audit_key_add(l, a.key_label, skid, key.point, &kid)) == MP_OK) {
        rc = mp_ledger_commit(l);
    }
    mp_ledger_rollback(l);
    if (rc != MP_OK) {
        (void)mp_ks_delete(ks, &key);
        return rc;
    }
    if ((rc = mp_ceremony_log_audit_key(&c.rec, "audit init", ks, &key, a.out)) != MP_OK) return rc;
    if (a.out) {
        EVP_PKEY *pk = mp_cd_point_key(key.point);
        FILE *f = pk ? fopen(a.out, "w") : NULL;
        if (f == NULL || PEM_write_PUBKEY(f, pk) != 1) rc = mp_err(MP_ERR_IO, "%s: cannot write the public key", a.out);
        if (f && fclose(f) != 0 && rc == MP_OK) rc = mp_err(MP_ERR_IO, "%s: cannot write the public key", a.out);
        EVP_PKEY_free(pk);
        if (rc != MP_OK) return rc;
    }
    printf("audit key %s (SKID %s) in token %s\n", a.key_label, skid, mp_ks_token_label(ks));
    return checkpoint(l, ks, &c, 0);
}

int audit_checkpoint_main(mp_cmd *mc, int argc, char **argv)
{
    mp_common c = {0};
    audit_args a;
    int rc = audit_parse(argc, argv, "audit checkpoint", "--token T --pin-file F [--ledger PATH|URI]",
                         "Signs the audit trail's head (sequence number, hash, time) with the\n"
                         "ledger's audit key in the token; stored in the ledger and the ceremony log.", &c, &a);
    if (rc != MP_OK) return rc == OPT_HELP ? MP_OK : rc;
    if ((rc = mp_cmd_open(mc, &c)) == MP_OK) {
        rc = checkpoint(mc->ledger, mc->ks, &c, 0);
    }
    return rc;
}

static int read_point(const char *file, uint8_t point[65])
{
    FILE *f = fopen(file, "r");
    EVP_PKEY *pk = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
    size_t n = 0;
    int ok = pk != NULL && EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, 65, &n) == 1 && n == 65;
    if (f) fclose(f);
    EVP_PKEY_free(pk);
    return ok ? MP_OK : mp_err_ssl(MP_ERR_INVALID, "%s: expected a PEM P-256 public key (audit init --out)", file);
}

int audit_verify_main(mp_cmd *mc, int argc, char **argv)
{
    mp_common c = {0};
    audit_args a;
    mp_audit_result r;
    uint8_t pinned[65];
    char log[4200];
    int rc = audit_parse(argc, argv, "audit verify", "[--audit-key audit-key.pem] [--ledger PATH|URI]",
                         "Recomputes the ledger's audit chain (every row's hash over the row before it\n"
                         "and its own contents, no sequence number missing, the head at the last row),\n"
                         "checks every checkpoint's signature by the audit key (the one in the ledger,\n"
                         "or --audit-key), and STATE_DIR/ceremony.log: its chain, every entry's signature\n"
                         "by the audit key, and that from the key's announcement on each line is covered\n"
                         "by a signed line. Exit 25 naming the first bad sequence number (or ceremony\n"
                         "log line).", &c, &a);
    if (rc != MP_OK) return rc == OPT_HELP ? MP_OK : rc;
    if (a.audit_key && (rc = read_point(a.audit_key, pinned)) != MP_OK) return rc;
    snprintf(log, sizeof(log), "%s/ceremony.log", c.state_dir);
    if ((rc = mp_cmd_open(mc, &c)) != MP_OK) return rc;
    mp_ledger *l = mc->ledger;
    rc = mp_audit_verify_all(l, a.audit_key ? pinned : NULL, log, &r);
    if (rc == MP_OK && r.bad != 0) {
        rc = mp_err(MP_ERR_AUDIT, "audit trail of %s is broken at sequence number %lld: %s", mp_ledger_path(l), (long long)r.bad, r.why);
    } else if (rc == MP_OK && r.bad_line != 0) {
        rc = mp_err(MP_ERR_AUDIT, "ceremony log broken at line %ld: %s", r.bad_line, r.why);
    } else if (rc == MP_OK) {
        printf("audit trail of %s: %" PRIu64 " row(s), chain intact, %" PRIu64 " signed checkpoint(s) verified;"
               " ceremony log: %" PRIu64 " line(s), chain intact, %" PRIu64 " signed by the audit key\n",
               mp_ledger_path(l), r.rows, r.checkpoints, r.ceremony_lines, r.ceremony_signed);
    }
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

int audit_export_main(mp_cmd *mc, int argc, char **argv)
{
    mp_common c = {0};
    audit_args a;
    int rc = audit_parse(argc, argv, "audit export", "[--format jsonl] [--ledger PATH|URI]",
                         "Writes the audit trail, one JSON object per row (seq, time, station,\n"
                         "operator, event, objects, detail, prev, hash), to standard output.", &c, &a);
    if (rc != MP_OK) return rc == OPT_HELP ? MP_OK : rc;
    if ((rc = mp_cmd_open(mc, &c)) != MP_OK) return rc;
    rc = mp_ledger_each_audit(mc->ledger, export_row, NULL);
    if (rc == MP_OK && fflush(stdout) != 0) rc = mp_err(MP_ERR_IO, "standard output: write failed");
    return rc;
}
