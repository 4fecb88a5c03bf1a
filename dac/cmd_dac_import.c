/* cmd_dac_import.c - `dac import`, `dac export` and `dac handoff`: DACs issued by
 * another PKI (see extdac.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b64.h"
#include "dac/extdac.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"
#include "x509.h"

enum { O_PAI = 1, O_PAA, O_UDID_FROM, O_ORDER, O_STATION, O_LAYOUT, O_OUT_DIR, O_OUT, O_AT };

#define LEDGER_OPT {"ledger", OPT_LEDGER, OT_STR, "PATH", "ledger database (default STATE_DIR/ledger.sqlite)"}

static const mp_opt import_opts[] = {
    {"pai", O_PAI, OT_FILE | OT_REQUIRED, "CERT", "the vendor's PAI certificate"},
    {"paa", O_PAA, OT_FILE | OT_REQUIRED, "CERT", "the PAA the chains must verify to"},
    {"udid-from", O_UDID_FROM, OT_STR, "filename[:PATTERN]|cn|serial|csv:FILE", "UDID of each DAC (default filename, PATTERN <UDID>_*)"},
    {"order", O_ORDER, OT_UINT, "ID", "add to this order of an earlier dac import (same PAI, VID, PID)"},
    {"station", O_STATION, OT_STR, "NAME", "station recorded in the ledger (default host name)"},
    {"at", O_AT, OT_DATE, "DATE", "verify the chains at this time (default now)"},
    LEDGER_OPT,
    MP_OPTS_HSM, /* the token opened at the end for the audit checkpoint (audit_end.h) */
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

static int udid_from(const char *v, mp_dac_import *im)
{
    if (v == NULL || strcmp(v, "filename") == 0) {
        im->udid_from = MP_EXT_UDID_FILENAME;
    } else if (strncmp(v, "filename:", 9) == 0 && strstr(v + 9, "<UDID>") != NULL) {
        im->udid_from = MP_EXT_UDID_FILENAME;
        im->pattern = v + 9;
    } else if (strcmp(v, "cn") == 0) {
        im->udid_from = MP_EXT_UDID_CN;
    } else if (strcmp(v, "serial") == 0) {
        im->udid_from = MP_EXT_UDID_SERIAL;
    } else if (strncmp(v, "csv:", 4) == 0 && v[4] != 0) {
        im->udid_from = MP_EXT_UDID_CSV;
        im->csv = v + 4;
    } else {
        return mp_err(MP_ERR_USAGE, "dac import --udid-from: '%s' is not one of filename[:PATTERN with <UDID>], cn, serial, csv:FILE", v);
    }
    return MP_OK;
}

int dac_import_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    mp_dac_import im;
    const char *val, *uf = NULL, *order = NULL, *at = NULL;
    char host[256] = "";
    int id, rc;
    memset(&im, 0, sizeof(im));
    im.paths = calloc((size_t)argc + 1, sizeof(char *));
    if (im.paths == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    mp_opt_init(&p, argc, argv, import_opts, "dac import",
                "FILES|DIR... --pai pai.pem --paa paa.pem [--udid-from filename|cn|serial|csv:FILE] [--order ID]",
                "Records DACs that another PKI issued (pre-provisioned modules) in the ledger,\n"
                "after the attestation verifier accepted each chain (PAA the only trust anchor):\n"
                "all of them in one transaction, or none. The devices are then issued like our own\n"
                "(one DAC per chip; reports, DCL export, labels, factory data) but the order only\n"
                "records: revocations go to the PAI's owner (`dac handoff`).");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: free(im.paths); return MP_OK;
        case O_PAI: im.pai_path = val; break;
        case O_PAA: im.paa_path = val; break;
        case O_UDID_FROM: uf = val; break;
        case O_ORDER: order = val; break;
        case O_STATION: im.station = val; break;
        case O_AT: at = val; break;
        case OPT_POSITIONAL: im.paths[im.n_paths++] = (char *)val; break;
        default:
            if (!mp_opt_common(&c, id, val)) {
                free(im.paths);
                return mp_err(MP_ERR_USAGE, "dac import: unexpected argument '%s'", val ? val : "");
            }
        }
    }
    rc = id < 0 ? -id : MP_OK;
    mp_common_finish(&c);
    if (rc == MP_OK && im.n_paths == 0) { /* operands: the option table cannot declare them */
        rc = mp_err(MP_ERR_USAGE, "dac import: DAC files or folders are required");
    }
    uint64_t oid = 0;
    if (rc == MP_OK) rc = udid_from(uf, &im);
    if (rc == MP_OK && order != NULL && (rc = mp_parse_uint(order, INT64_MAX, &oid)) == MP_OK) im.order_id = (int64_t)oid;
    if (rc == MP_OK && at != NULL) rc = mp_parse_time(at, &im.at);
    gethostname(host, sizeof(host) - 1);
    if (im.station == NULL) im.station = host;
    if (rc == MP_OK) rc = mp_cmd_open(mc, &c);
    if (rc == MP_OK) rc = mp_dac_import_run(mc->ledger, &im);
    if (rc == MP_OK && !c.quiet) {
        printf("imported %zu DACs issued by another PKI (VID %04X PID %04X) into order %lld, chip list %lld\n", im.count,
               im.vid, im.pid, (long long)im.order_id, (long long)im.list_id);
    }
    free(im.paths);
    return rc;
}

/* ---- dac export ------------------------------------------------------------- */

static const mp_opt export_opts[] = {
    {"order", O_ORDER, OT_UINT | OT_REQUIRED, "ID", "the order whose DACs to write"},
    {"layout", O_LAYOUT, OT_ENUM | OT_REQUIRED, "infineon", "file layout: infineon = DIR/<UDID>_E0E0.pem"},
    {"out-dir", O_OUT_DIR, OT_DIR | OT_REQUIRED, "DIR", "output folder (created)"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace existing files that differ"},
    LEDGER_OPT,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

int dac_export_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *order = NULL, *dir = NULL;
    uint64_t oid = 0, n = 0;
    int id, rc;
    mp_opt_init(&p, argc, argv, export_opts, "dac export", "--order ID --layout infineon --out-dir DIR",
                "Writes every DAC of an order from the ledger in a vendor's station layout:\n"
                "infineon = one PEM file per chip named <UDID>_E0E0.pem (Infineon's OPTIGA Trust M\n"
                "provisioning scripts flash these unchanged). Files are written atomically; a\n"
                "re-run leaves identical files and refuses different ones without --force.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id == O_ORDER) order = val;
        else if (id == O_LAYOUT) continue; /* required; infineon is its only value */
        else if (id == O_OUT_DIR) dir = val;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "dac export: unexpected argument '%s'", val ? val : "");
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    mp_order o;
    if ((rc = mp_parse_uint(order, INT64_MAX, &oid)) != MP_OK || (rc = mp_cmd_open(mc, &c)) != MP_OK) { /* NEEDS_LEDGER_RO */
        return rc;
    }
    mp_ledger *l = mc->ledger;
    rc = mp_ledger_get_order(l, (int64_t)oid, &o);
    if (rc == MP_OK) rc = mp_dac_export_infineon(l, (int64_t)oid, dir, NULL, c.force, &n);
    if (rc == MP_OK && !c.quiet) {
        printf("%llu DACs of order %llu written to %s as <UDID>_E0E0.pem\n", (unsigned long long)n, (unsigned long long)oid, dir);
    }
    return rc;
}

/* ---- dac handoff -------------------------------------------------------------- */

static const mp_opt handoff_opts[] = {
    {"pai", O_PAI, OT_FILE | OT_REQUIRED, "CERT", "the other PKI's PAI certificate"},
    {"out", O_OUT, OT_OUT | OT_REQUIRED, "FILE", "hand-off JSON"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace an existing output file"},
    LEDGER_OPT,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

static int add_revoked(void *ctx, const char *serial, time_t when, const char *reason)
{
    char t[32];
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *e = json_pack("{s:s, s:s, s:s}", "serial_number", serial, "reason", reason, "revoked_at", t);
    return e != NULL && json_array_append_new(ctx, e) == 0 ? MP_OK : mp_err(MP_ERR_GENERAL, "out of memory");
}

static int handoff_json(mp_ledger *l, X509 *pai, char **out)
{
    uint8_t skid[20];
    char hex[41], b64[1024];
    const uint8_t *der = NULL;
    size_t dlen = 0;
    if (mp_cert_skid(pai, skid) != 0) return mp_err(MP_ERR_PROFILE, "the PAI has no 20-byte subject key identifier");
    mp_hex(skid, 20, hex, 1);
    if (X509_NAME_get0_der(X509_get_subject_name(pai), &der, &dlen) != 1 || mp_b64_encode(der, dlen, b64, sizeof(b64)) == 0) {
        return mp_err(MP_ERR_PROFILE, "the PAI subject cannot be encoded");
    }
    json_t *revoked = json_array();
    int rc = revoked ? mp_ledger_each_revoked(l, hex, add_revoked, revoked) : MP_ERR_GENERAL;
    if (rc != MP_OK) {
        json_decref(revoked);
        return rc;
    }
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:o}", "type", "matter-pki-revocation-handoff",
                            "note", "DACs this PKI did not issue: the PAI's owner signs their CRL / DCL revocation",
                            "issuer_subject_key_id", hex, "issuer_name", b64, "revoked", revoked);
    *out = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    return *out ? MP_OK : mp_err(MP_ERR_GENERAL, "cannot encode the hand-off");
}

int dac_handoff_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *pai_path = NULL, *out = NULL;
    X509 *pai = NULL;
    char *json = NULL;
    int id, rc;
    mp_opt_init(&p, argc, argv, handoff_opts, "dac handoff", "--pai pai.pem --out handoff.json",
                "Writes the revocations recorded (`dac revoke`) for DACs under a PAI of another\n"
                "PKI (`dac import`) as JSON for the PAI's owner, who signs the CRL or DCL\n"
                "revocation entry: issuer SKID and name, then serial, reason and time of each.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id == O_PAI) pai_path = val;
        else if (id == O_OUT) out = val;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "dac handoff: unexpected argument '%s'", val ? val : "");
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    if ((rc = mp_cert_load(pai_path, &pai)) == MP_OK && (rc = mp_cmd_open(mc, &c)) == MP_OK && /* NEEDS_LEDGER_RO */
        (rc = handoff_json(mc->ledger, pai, &json)) == MP_OK) {
        rc = mp_write_file(out, json, strlen(json), 0644, c.force);
    }
    if (rc == MP_OK && !c.quiet) printf("revocation hand-off for %s written to %s\n", pai_path, out);
    free(json);
    X509_free(pai);
    return rc;
}
