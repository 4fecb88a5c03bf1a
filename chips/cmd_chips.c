/* cmd_chips.c - `chips import` and `chips simulate`. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "src/commands.h"
#include "chips/chips.h"
#include "opts.h"
#include "util.h"
#include "x509.h"

enum { O_FORMAT = 1, O_SIGNATURE, O_SIGNER, O_ALLOW_UNSIGNED, O_CHECK_HASH, O_CHIP_ROOT,
       O_UDID_FROM, O_COUNT, O_OUT, O_BIRTH, O_KID, O_JSON };

static const mp_opt import_opts[] = {
    {"format", O_FORMAT, OT_ENUM, "csv|json|birth-certs|microchip-manifest", "list format (default from the extension: .csv, .json, .pem/.crt/.der or a folder)"},
    {"signature", O_SIGNATURE, OT_FILE, "FILE", "detached signature over the list file: CMS (DER/PEM) or raw ECDSA-P256/SHA-256 DER"},
    {"signer", O_SIGNER, OT_FILE, "CERT", "the chip maker's signing certificate (required with --signature; a manifest's signer)"},
    {"kid", O_KID, OT_STR, "SLOT", "microchip-manifest: the key slot (JWK kid) to take (default 0)"},
    {"allow-unsigned", O_ALLOW_UNSIGNED, OT_FLAG, NULL, "accept a list without a signature (recorded as unsigned)"},
    {"check-udid-hash", O_CHECK_HASH, OT_FLAG, NULL, "given UDIDs must be the uppercase hex SHA-256 of the public key"},
    {"chip-root", O_CHIP_ROOT, OT_FILE, "CERT", "birth certificates: the chip maker's root (trust anchor)"},
    {"udid-from", O_UDID_FROM, OT_STR, "cn|serial|filename[:PATTERN]|csv:FILE", "birth certificates: UDID from the subject CN (default), serialNumber, the file name (PATTERN default <UDID>_*) or a udid,certificate-file map"},
    {"ledger", OPT_LEDGER, OT_STR, "PATH|URI", "ledger: SQLite file or PostgreSQL URI/key=value (default $MATTER_PKI_LEDGER, else STATE_DIR/ledger.sqlite)"},
    {"quiet", OPT_QUIET, OT_FLAG, NULL, "print nothing on success"},
    {"json", O_JSON, OT_FLAG, NULL, "print the result as one JSON object on stdout"},
    MP_OPTS_HSM, /* the token opened at the end for the audit checkpoint (audit_end.h) */
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int guess_format(const char *path, const char *given, int *fmt)
{
    struct stat st;
    const char *f = given;
    if (f == NULL) {
        if (ends_with(path, ".csv")) f = "csv";
        else if (ends_with(path, ".json")) f = "json";
        else if (ends_with(path, ".pem") || ends_with(path, ".crt") || ends_with(path, ".der") ||
                 (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) f = "birth-certs";
        else return mp_err(MP_ERR_USAGE, "chips import: cannot tell the format of %s; give --format csv|json|birth-certs", path);
    }
    *fmt = strcmp(f, "csv") == 0 ? MP_CHIPS_CSV : strcmp(f, "json") == 0 ? MP_CHIPS_JSON
         : strcmp(f, "microchip-manifest") == 0 ? MP_CHIPS_MANIFEST : MP_CHIPS_BIRTH;
    return MP_OK;
}

typedef struct import_args {
    mp_common c;
    mp_chips_import im;
    const char *format, *root, *udid_from, *kid;
    int json;
} import_args;

/* --udid-from cn|serial|filename[:PATTERN]|csv:FILE */
static int udid_from_arg(const char *v, mp_chips_src *src)
{
    if (v == NULL || strcmp(v, "cn") == 0) {
        src->udid_from = MP_UDID_FROM_CN;
    } else if (strcmp(v, "serial") == 0) {
        src->udid_from = MP_UDID_FROM_SERIAL;
    } else if (strcmp(v, "filename") == 0 || strncmp(v, "filename:", 9) == 0) {
        char probe[MP_UDID_MAX + 1];
        src->udid_from = MP_UDID_FROM_FILENAME;
        src->udid_pattern = v[8] == ':' ? v + 9 : NULL;
        if (src->udid_pattern != NULL && strstr(src->udid_pattern, "<UDID>") == NULL) {
            return mp_udid_from_filename(src->udid_pattern, "x", probe);
        }
    } else if (strncmp(v, "csv:", 4) == 0 && v[4] != 0) {
        src->udid_from = MP_UDID_FROM_CSV;
        src->udid_csv = v + 4;
    } else {
        return mp_err(MP_ERR_USAGE, "chips import --udid-from: '%s' is not one of cn, serial, filename[:PATTERN], csv:FILE", v);
    }
    return MP_OK;
}

/* A manifest: --signer names the JWS signer; --chip-root (optional) checks x5c. */
static int import_manifest_args(import_args *a)
{
    mp_chips_import *im = &a->im;
    int rc;
    if (im->signer_path == NULL || im->sig_path != NULL || a->udid_from != NULL) {
        return mp_err(MP_ERR_USAGE, "chips import: a microchip-manifest takes --signer CERT (the manifest signer), no --signature or --udid-from");
    }
    im->src.slot = a->kid;
    if ((rc = mp_cert_load(im->signer_path, &im->src.manifest_signer)) != MP_OK) {
        return rc;
    }
    return a->root != NULL ? mp_cert_load(a->root, &im->src.root) : MP_OK;
}

static int import_validate(import_args *a)
{
    mp_chips_import *im = &a->im;
    int rc;
    if (im->path == NULL) {
        return mp_err(MP_ERR_USAGE, "chips import: the list FILE is required");
    }
    if ((rc = guess_format(im->path, a->format, &im->format)) != MP_OK) {
        return rc;
    }
    if (im->format == MP_CHIPS_MANIFEST) {
        return import_manifest_args(a);
    }
    if (a->kid != NULL) {
        return mp_err(MP_ERR_USAGE, "chips import: --kid applies to microchip-manifest only");
    }
    if ((im->sig_path == NULL) != (im->signer_path == NULL)) {
        return mp_err(MP_ERR_USAGE, "chips import: --signature and --signer go together");
    }
    if (im->format == MP_CHIPS_BIRTH && a->root == NULL) {
        return mp_err(MP_ERR_USAGE, "chips import: birth certificates need --chip-root");
    }
    if (im->format != MP_CHIPS_BIRTH && (a->root != NULL || a->udid_from != NULL)) {
        return mp_err(MP_ERR_USAGE, "chips import: --chip-root and --udid-from apply to birth certificates only");
    }
    if ((rc = udid_from_arg(a->udid_from, &im->src)) != MP_OK) {
        return rc;
    }
    return a->root != NULL ? mp_cert_load(a->root, &im->src.root) : MP_OK;
}

static int import_parse(import_args *a, int argc, char **argv)
{
    mp_optparse p;
    const char *val;
    int id;
    mp_opt_init(&p, argc, argv, import_opts, "chips import",
                "FILE|DIR [--format csv|json|birth-certs|microchip-manifest] (--signature SIG --signer CERT | --allow-unsigned) [--ledger PATH]",
                "Imports the chip maker's list of authorized chips (UDID + public key born in the\n"
                "chip) into the ledger, in one transaction: all entries or none. The detached\n"
                "signature is verified over the exact file bytes before anything is parsed; an\n"
                "unsigned list is refused (exit 13) unless --allow-unsigned. Birth certificates\n"
                "are each verified to --chip-root. Keys must be valid P-256 points; duplicate\n"
                "UDIDs or keys (in the file or against the ledger) are refused (exit 16).");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return -1;
        case O_FORMAT: a->format = val; break;
        case O_SIGNATURE: a->im.sig_path = val; break;
        case O_SIGNER: a->im.signer_path = val; break;
        case O_ALLOW_UNSIGNED: a->im.allow_unsigned = 1; break;
        case O_CHECK_HASH: a->im.src.check_udid_hash = 1; break;
        case O_CHIP_ROOT: a->root = val; break;
        case O_UDID_FROM: a->udid_from = val; break;
        case O_JSON: a->json = 1; break;
        case O_KID: a->kid = val; break;
        case OPT_POSITIONAL:
            if (a->im.path == NULL) { a->im.path = val; break; }
            return mp_err(MP_ERR_USAGE, "chips import: unexpected argument %s", mp_opt_shown(val));
        default:
            if (!mp_opt_common(&a->c, id, val)) return mp_err(MP_ERR_USAGE, "chips import: unexpected argument %s", mp_opt_shown(val));
        }
    }
    if (id < 0) return -id;
    mp_common_finish(&a->c);
    return import_validate(a);
}

int chips_import_main(mp_cmd *mc, int argc, char **argv)
{
    import_args a;
    mp_ledger *l = NULL;
    memset(&a, 0, sizeof(a));
    int rc = import_parse(&a, argc, argv);
    /* Opened here, not by the dispatcher: a ledger is created (create mode)
     * where --ledger names a file that does not exist, which only this
     * command and the init commands do. */
    if (rc == MP_OK) rc = mp_ledger_open_as(a.c.state_dir, a.c.ledger, a.c.ledger ? MP_LEDGER_CREATE : MP_LEDGER_WRITE, &l);
    if (rc == MP_OK) rc = mp_chips_import_run(l, &a.im);
    if (rc == MP_OK && a.json) {
        static const char *const fmts[] = {"csv", "json", "birth-certs", "microchip-manifest"};
        rc = mp_json_print(json_pack("{sI ss ss sb ss ss sI ss}", "imported", (json_int_t)a.im.count, "source", a.im.path,
                                     "format", a.im.format >= 0 && a.im.format < 4 ? fmts[a.im.format] : "?",
                                     "signed", a.im.is_signed, "signer", a.im.is_signed ? a.im.signer : "",
                                     "ledger", mp_ledger_path(l), "chip_list", (json_int_t)a.im.list_id, "sha256", a.im.sha256));
    } else if (rc == MP_OK && !a.c.quiet) {
        printf("imported %zu chips from %s (%s) into %s as chip list %lld\n", a.im.count, a.im.path,
               a.im.is_signed ? "signed" : "UNSIGNED", mp_ledger_path(l), (long long)a.im.list_id);
        if (a.im.is_signed) printf("signer: %s\n", a.im.signer);
        printf("list sha256: %s\n", a.im.sha256);
    }
    /* the ledger is this command's (not the dispatcher's): its audit checkpoint here */
    if (rc == MP_OK) rc = mp_cmd_audit_end(mc, &a.c, l, 0);
    mp_ledger_close(l);
    X509_free(a.im.src.root);
    X509_free(a.im.src.manifest_signer);
    return rc < 0 ? MP_OK : rc;
}

/* ---- chips simulate ------------------------------------------------------------ */

static const mp_opt sim_opts[] = {
    {"count", O_COUNT, OT_UINT | OT_REQUIRED, "N", "number of simulated chips, 1..100000000"},
    {"out", O_OUT, OT_DIR | OT_REQUIRED, "DIR", "output folder (created)"},
    {"birth-certs", O_BIRTH, OT_FLAG, NULL, "also write birth certificates (CN = UDID) to DIR/birth-certs.pem"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace existing outputs"},
    {"quiet", OPT_QUIET, OT_FLAG, NULL, "print nothing on success"},
    {"help", OPT_HELP, OT_FLAG, NULL, "show this help"},
    {NULL, 0, 0, NULL, NULL},
};

static void sim_report(const mp_chips_sim *s)
{
    printf("SIMULATOR: played the chip maker for %llu chips in %s (not for production)\n",
           (unsigned long long)s->count, s->out_dir);
    printf("  chipmaker.key, chipmaker.pem    the simulated chip maker's key (0600) and CA certificate\n");
    printf("  device-keys.csv                 the simulated secure elements' private keys (0600)\n");
    printf("  chips.csv + chips.csv.sig       chip list (hex keys), raw ECDSA-P256/SHA-256 signature\n");
    printf("  chips.json + chips.json.p7s     chip list (base64 keys), CMS detached signature (DER)\n");
    if (s->birth_certs) printf("  birth-certs.pem                 birth certificates issued by chipmaker.pem\n");
}

int chips_simulate_main(mp_cmd *mc, int argc, char **argv)
{
    (void)mc;
    mp_optparse p;
    mp_common c = {0};
    mp_chips_sim s = {0};
    const char *count = NULL, *val;
    int id, rc;
    mp_opt_init(&p, argc, argv, sim_opts, "chips simulate", "--count N --out DIR [--birth-certs]",
                "SIMULATOR - plays the chip maker for demos and tests; never for production.\n"
                "Makes N device key pairs in software (standing in for the chips' secure\n"
                "elements, kept in DIR/device-keys.csv), a chip maker key and CA certificate,\n"
                "the chip list in CSV and JSON with detached signatures, and optionally birth\n"
                "certificates. UDIDs are the uppercase hex SHA-256 of each public key.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return MP_OK;
        case O_COUNT: count = val; break;
        case O_OUT: s.out_dir = val; break;
        case O_BIRTH: s.birth_certs = 1; break;
        default:
            if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "chips simulate: unexpected argument %s", mp_opt_shown(val));
        }
    }
    if (id < 0) return -id;
    s.force = c.force;
    if ((rc = mp_parse_uint(count, 100000000, &s.count)) != MP_OK || s.count == 0) {
        return mp_err(MP_ERR_INVALID, "chips simulate --count: '%s' is not in 1..100000000", count);
    }
    if ((rc = mp_chips_simulate(&s)) == MP_OK && !c.quiet) {
        sim_report(&s);
    }
    return rc;
}
