/* cmd_dcl.c - `matter-pki dcl export KIND`: parse, load the product, the
 * certificates and the CD, build and validate one record (or all of them),
 * then write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcl_export.h"
#include "dcl_json.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"
#include "x509.h"

enum { O_PRODUCT = 1, O_CERT, O_PAA_CERT, O_PAI_CERT, O_SIGNER, O_LABEL, O_DATA_URL, O_CD, O_SWV, O_SWVS,
       O_OTA_URL, O_OTA_FILE, O_OTA_SIZE, O_OTA_SUM, O_OTA_TYPE, O_MIN, O_MAX, O_FROM, O_VER, O_TEST,
       O_OUT, O_OUT_DIR, O_CRL_FILE, O_LEDGER, O_CHANGES, O_DEL_MV, O_DEL_MODEL, O_REMOVE_PAI, O_REVOKE_PAA,
       O_REASON, O_NOPT };

static const mp_opt opts[] = {
    {"product", O_PRODUCT, OT_FILE, "FILE", "product description (default product.json)"},
    {"cert", O_CERT, OT_FILE, "FILE", "paa, pai: the certificate (PEM or DER)"},
    {"paa-cert", O_PAA_CERT, OT_FILE, "FILE", "revocation-point, all: the PAA (isPAA true)"},
    {"pai-cert", O_PAI_CERT, OT_FILE, "FILE", "revocation-point, all: the PAI (isPAA false)"},
    {"crl-signer-cert", O_SIGNER, OT_FILE, "FILE", "revocation-point: delegated CRL signer (default: the CA itself)"},
    {"label", O_LABEL, OT_STR, "TEXT", "revocation-point: label (else dcl.revocation_points.<paa|pai>.label)"},
    {"data-url", O_DATA_URL, OT_STR, "URL", "revocation-point: CRL URL (else dcl.revocation_points.<paa|pai>.data_url)"},
    {"cd", O_CD, OT_FILE, "FILE", "model-version, compliance, all: the Certification Declaration"},
    {"software-version", O_SWV, OT_UINT, "N", "model-version, compliance: softwareVersion"},
    {"software-version-string", O_SWVS, OT_STR, "S", "model-version, compliance: softwareVersionString"},
    {"ota-url", O_OTA_URL, OT_STR, "URL", "model-version: otaUrl"},
    {"ota-file", O_OTA_FILE, OT_FILE, "FILE", "model-version: OTA image; sets otaFileSize and SHA-256 otaChecksum"},
    {"ota-file-size", O_OTA_SIZE, OT_UINT, "N", "model-version: otaFileSize"},
    {"ota-checksum", O_OTA_SUM, OT_STR, "B64", "model-version: otaChecksum (base64 digest)"},
    {"ota-checksum-type", O_OTA_TYPE, OT_UINT, "N", "model-version: 1 SHA-256, 7 SHA-384, 8 SHA-512, 10-12 SHA3"},
    {"min-applicable", O_MIN, OT_UINT, "N", "model-version: minApplicableSoftwareVersion"},
    {"max-applicable", O_MAX, OT_UINT, "N", "model-version: maxApplicableSoftwareVersion"},
    {"from", O_FROM, OT_STR, "ADDRESS", "signing account (cosmos1...); default: creator/signer left empty"},
    {"dcl-version", O_VER, OT_ENUM, "1.5|1.6", "target DCL version (default 1.6)"},
    {"test-mode", O_TEST, OT_FLAG, NULL, "accept SDK test PAAs and development/test CDs"},
    {"out", O_OUT, OT_OUT, "FILE", "output file (default standard output)"},
    {"out-dir", O_OUT_DIR, OT_DIR, "DIR", "all, changes: output directory (one file per record + index.json)"},
    {"crl-file", O_CRL_FILE, OT_FILE, "FILE", "(update-)revocation-point: the CRL served at dataURL, checked against the point"},
    {"changes", O_CHANGES, OT_FLAG, NULL, "same as KIND changes: only what changed since the last export (ledger)"},
    {"ledger", O_LEDGER, OT_STR, "PATH", "changes: ledger holding the last exported records (default STATE_DIR/ledger.sqlite)"},
    {"delete-model-version", O_DEL_MV, OT_UINT, "N", "changes: delete software version N (repeatable)"},
    {"delete-model", O_DEL_MODEL, OT_FLAG, NULL, "changes: delete the model (and with it every version)"},
    {"remove-pai", O_REMOVE_PAI, OT_FLAG, NULL, "changes: remove the --pai-cert from the DCL (remove-x509-cert)"},
    {"revoke-paa", O_REVOKE_PAA, OT_FLAG, NULL, "changes: hand-off for Trustees to revoke the --paa-cert (propose-revoke-x509-root-cert)"},
    {"reason", O_REASON, OT_STR, "TEXT", "changes: info text of revoke/remove records"},
    {"state-dir", OPT_STATE_DIR, OT_STR, "DIR", "state directory (default ./.matter-pki; env MATTER_PKI_STATE)"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace existing output files"},
    {"help", OPT_HELP, OT_FLAG, NULL, "show this help"},
    {NULL, 0, 0, NULL, NULL},
};

/* Which options each KIND takes (bit per KIND, in dcl_kinds order). */
#define K(x) (1u << (x))
#define RPX (K(DK_RP) | K(DK_RP_UPDATE) | K(DK_RP_DELETE))
#define MVX (K(DK_MV) | K(DK_ALL) | K(DK_CHANGES))
static const unsigned allowed[O_NOPT] = {
    [O_PRODUCT] = 0x7FF, [O_FROM] = 0x7FF, [O_VER] = 0x7FF, [O_TEST] = 0x7FF,
    [O_OUT] = 0x7F | K(DK_RP_UPDATE) | K(DK_RP_DELETE),
    [O_CERT] = K(DK_PAI) | K(DK_PAA),
    [O_PAA_CERT] = RPX | K(DK_ALL) | K(DK_CHANGES), [O_PAI_CERT] = RPX | K(DK_ALL) | K(DK_CHANGES),
    [O_SIGNER] = RPX | K(DK_CHANGES), [O_LABEL] = RPX | K(DK_CHANGES), [O_DATA_URL] = RPX | K(DK_CHANGES),
    [O_CD] = K(DK_MV) | K(DK_COMPLIANCE) | K(DK_ALL) | K(DK_CHANGES),
    [O_SWV] = MVX | K(DK_COMPLIANCE), [O_SWVS] = MVX | K(DK_COMPLIANCE),
    [O_OTA_URL] = MVX, [O_OTA_FILE] = MVX, [O_OTA_SIZE] = MVX, [O_OTA_SUM] = MVX, [O_OTA_TYPE] = MVX,
    [O_MIN] = MVX, [O_MAX] = MVX, [O_OUT_DIR] = K(DK_ALL) | K(DK_CHANGES),
    [O_CRL_FILE] = K(DK_RP) | K(DK_RP_UPDATE) | K(DK_CHANGES),
    [O_LEDGER] = K(DK_CHANGES), [O_CHANGES] = K(DK_CHANGES), [O_DEL_MV] = K(DK_CHANGES), [O_DEL_MODEL] = K(DK_CHANGES),
    [O_REMOVE_PAI] = K(DK_CHANGES), [O_REVOKE_PAA] = K(DK_CHANGES), [O_REASON] = K(DK_CHANGES),
};

static int set_opt(dcl_args *a, int id, const char *v)
{
    if ((id == O_SWV || id == O_OTA_TYPE || id == O_MIN || id == O_MAX || id == O_DEL_MV) && mp_opt_uint(v) > 0xFFFFFFFFu) {
        mp_err(MP_ERR_USAGE, "dcl export: \x27%s\x27 is above 4294967295 (a uint32 field)", v);
        return -1;
    }
    switch (id) {
    case O_PRODUCT: a->product = v; break;
    case O_CERT: a->cert = v; break;
    case O_PAA_CERT: a->paa_cert = v; break;
    case O_PAI_CERT: a->pai_cert = v; break;
    case O_SIGNER: a->signer_cert = v; break;
    case O_LABEL: a->label = v; break;
    case O_DATA_URL: a->data_url = v; break;
    case O_CD: a->cd = v; break;
    case O_SWV: a->sw.has_version = 1; a->sw.version = (uint32_t)mp_opt_uint(v); break;
    case O_SWVS: a->sw.version_string = v; break;
    case O_OTA_URL: a->sw.ota_url = v; break;
    case O_OTA_FILE: a->sw.ota_file = v; break;
    case O_OTA_SIZE: a->sw.has_ota_size = 1; a->sw.ota_size = mp_opt_uint(v); break;
    case O_OTA_SUM: a->sw.ota_checksum = v; break;
    case O_OTA_TYPE: a->sw.has_ota_type = 1; a->sw.ota_type = (uint32_t)mp_opt_uint(v); break;
    case O_MIN: a->sw.has_min = 1; a->sw.min_applicable = (uint32_t)mp_opt_uint(v); break;
    case O_MAX: a->sw.has_max = 1; a->sw.max_applicable = (uint32_t)mp_opt_uint(v); break;
    case O_FROM: a->from = v; break;
    case O_VER: a->ver = strcmp(v, "1.5") == 0 ? DCL_V15 : DCL_V16; break;
    case O_TEST: a->test_mode = 1; break;
    case O_OUT: a->out = v; break;
    case O_OUT_DIR: a->out_dir = v; break;
    case OPT_FORCE: a->force = 1; break;
    case O_CRL_FILE: a->crl_file = v; break;
    case O_LEDGER: a->ledger = v; break;
    case OPT_STATE_DIR: a->state_dir = v; break;
    case O_CHANGES: break;
    case O_DEL_MV:
        if (a->n_delete_mv == DCL_MAX_DELETE) {
            mp_err(MP_ERR_USAGE, "dcl export: at most %d --delete-model-version", DCL_MAX_DELETE);
            return -1;
        }
        a->delete_mv[a->n_delete_mv++] = (uint32_t)mp_opt_uint(v);
        break;
    case O_DEL_MODEL: a->delete_model = 1; break;
    case O_REMOVE_PAI: a->remove_pai = 1; break;
    case O_REVOKE_PAA: a->revoke_paa = 1; break;
    case O_REASON: a->reason = v; break;
    default: return 0;
    }
    return 1;
}

static int parse(int argc, char **argv, dcl_args *a, int *help)
{
    mp_optparse p;
    const char *val, *kind = NULL;
    int id, seen[O_NOPT] = {0};
    mp_opt_init(&p, argc, argv, opts, "dcl export",
                "vendor-info|model|model-version|pai|revocation-point|update-revocation-point|\n"
                "       delete-revocation-point|paa|compliance|all|changes [options]",
                "Writes DCL records, validated against the DCL's own rules for the chosen version:\n"
                "unsigned transactions for the vendor account (vendor-info, model, model-version, pai,\n"
                "revocation-point) exactly as `dcld tx ... --generate-only` prints them, ready for\n"
                "`dcld tx sign`; hand-offs for CSA (paa: Trustees; compliance: certification center).\n"
                "Output is deterministic. `all --out-dir DIR` writes every record that applies;\n"
                "`changes --out-dir DIR` only what changed since the records stored in the ledger.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) {
            *help = 1;
            return MP_OK;
        }
        if (id == OPT_POSITIONAL && kind == NULL) {
            kind = val;
            continue;
        }
        int s = id == OPT_POSITIONAL ? 0 : set_opt(a, id, val);
        if (s < 0) return MP_ERR_USAGE;
        if (s == 0) return mp_err(MP_ERR_USAGE, "dcl export: unexpected argument %s", mp_opt_shown(val));
        if (id < O_NOPT) seen[id] = 1;
    }
    if (id < 0) return -id;
    if (kind == NULL && seen[O_CHANGES]) kind = "changes";
    if (kind == NULL || (a->kind = dcl_kind_parse(kind)) < 0) {
        return mp_err(MP_ERR_USAGE, "dcl export: KIND must be one of vendor-info, model, model-version, pai, revocation-point, update-revocation-point, delete-revocation-point, paa, compliance, all, changes");
    }
    for (const mp_opt *o = opts; o->name != NULL; o++) {
        if (o->id < O_NOPT && seen[o->id] && !(allowed[o->id] & K(a->kind))) {
            return mp_err(MP_ERR_USAGE, "dcl export %s: --%s does not apply to this KIND", kind, o->name);
        }
    }
    return MP_OK;
}

/* dcl export changes: the dispatcher opens the ledger (the row says
 * NEEDS_LATE | NEEDS_LEDGER: the other kinds need none) and closes it. */
static int open_ledger(void *ctx, const char *state_dir, const char *ledger, mp_ledger **l)
{
    mp_cmd *mc = ctx;
    mp_common c = {0};
    c.state_dir = state_dir;
    c.ledger = ledger;
    int rc = mp_cmd_open(mc, &c);
    *l = mc->ledger;
    return rc;
}

int dcl_export_main(mp_cmd *mc, int argc, char **argv)
{
    dcl_args a = {.product = "product.json", .ver = DCL_V16, .open_ledger = open_ledger, .open_ctx = mc};
    int help = 0;
    int rc = parse(argc, argv, &a, &help);
    if (rc != MP_OK || help) return rc;
    return dcl_export(&a);
}
