/* cmd_factory_data_build.c - `factory-data build`: options, inputs and their checks. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/rand.h>
#include <jansson.h>

#include "cd.h"
#include "factory-data/build.h"
#include "factory-data/build_check.h"
#include "factory-data/check.h"
#include "opts.h"
#include "outsink.h"
#include "src/commands.h"
#include "util.h"
#include "workers.h"
#include "x509.h"

enum { O_ORDER = 1, O_PRODUCT, O_CD, O_FORMAT, O_ITER, O_OUT_DIR, O_JOBS, O_UDID, O_ASSIGN, O_INCLUDE_PC,
       O_RECORD_PC, O_KEEP_KEYS, O_QR, O_SERIAL, O_MFG, O_PSIZE, O_QR_PX, O_SERIAL_START, O_PAA, O_CD_SIGNER,
       O_TRUST_DIR, O_PRODUCTION, O_JSON, O_HEX, O_OFFSET, O_AES, O_LEASE, O_NVS_ENC, O_NVS_KEYS, O_SC_CD, O_HMAC, O_XCONF, O_XVALS, O_ECDSA, O_ESP_DS,
       O_LAYOUT, O_NAME_BY, O_BUNDLE };

static mp_opt opts[] = {
    {"order", O_ORDER, OT_UINT | OT_REQUIRED, "ID", "production order whose issued devices get factory data"},
    {"product", O_PRODUCT, OT_FILE | OT_REQUIRED, "FILE", "product description, product.json"},
    {"cd", O_CD, OT_FILE | OT_REQUIRED, "FILE", "Certification Declaration (must list the order's VID/PID)"},
    {"paa", O_PAA, OT_FILE, "FILE", "the PAA the order's devices chain to (repeatable; or --trust-dir)"},
    {"cd-signer", O_CD_SIGNER, OT_FILE, "FILE", "the certificate the CD must be signed with (repeatable; or --trust-dir)"},
    {"trust-dir", O_TRUST_DIR, OT_DIR, "DIR", "a folder of PAA and CD signer certificates (*.pem, *.der)"},
    {"production", O_PRODUCTION, OT_FLAG, NULL, "a production lot: refuse a development or provisional CD, add the certification-test checks"},
    {"format", O_FORMAT, OT_ENUM | OT_REQUIRED | OT_REPEATABLE, NULL /* set from the format table */, "output format (repeatable; nrf also writes its JSON form, esp32 its CSV)"},
    {"iterations", O_ITER, OT_UINT, "N", "SPAKE2+ PBKDF2 iterations 1000..100000 (default: product.json, else 10000)"},
    {"out-dir", O_OUT_DIR, OT_DIR, "DIR", "output folder (this or --bundle is required)"},
    {"layout", O_LAYOUT, OT_STR, "flat|per-device", "files in DIR (default flat: DIR/NAME.<ext>) or one folder per device (DIR/NAME/NAME.<ext>)"},
    {"name-by", O_NAME_BY, OT_STR, "udid|serial", "name each device's files by its UDID (default) or its serial number"},
    {"bundle", O_BUNDLE, OT_STR, "FILE", "every device's DAC and images in one JSON Lines file (base64, SHA-256) instead of one file per image;"
                                          " onboarding.csv and manifest.jsonl go to FILE's folder"},
    {"jobs", O_JOBS, OT_UINT, "J", "worker threads for PBKDF2 and packing (default 1)"},
    {"udid", O_UDID, OT_STR, "UDID", "only this device (repeatable)"},
    {"assign", O_ASSIGN, OT_FILE, "FILE", "pre-assigned values: CSV udid,passcode,discriminator,serial,rd_uid"},
    {"include-passcode", O_INCLUDE_PC, OT_FLAG, NULL, "also write the passcode into the images (spec 5.1.7: avoid)"},
    {"record-passcodes", O_RECORD_PC, OT_FLAG, NULL, "record passcodes in the ledger in clear (default: never)"},
    {"keep-keys", O_KEEP_KEYS, OT_FLAG, NULL, "keep the loose off-chip DAC key files after packing them"},
    {"qr-images", O_QR, OT_ENUM, "png|svg", "write UDID.qr.png or UDID.qr.svg: the QR code with the manual code under it"},
    {"qr-module-px", O_QR_PX, OT_UINT, "N", "PNG: pixels per QR module, 1..40 (default 6)"},
    {"serial-template", O_SERIAL, OT_STR, "T", "serial numbers: {seq}, {seq:W}, {udid}, {hex:N} (default {hex:16})"},
    {"serial-start", O_SERIAL_START, OT_UINT, "N", "first {seq} (default: where the template's counter in the ledger stands)"},
    {"json", O_JSON, OT_FLAG, NULL, "print the summary as one JSON object"},
    {"mfg-date", O_MFG, OT_DATE, "DATE", "manufacturing date YYYY-MM-DD (default today, UTC)"},
    {"partition-size", O_PSIZE, OT_UINT, "BYTES", "esp32 NVS partition size (default 0x6000); nrf, nxp: the partition, images above it refused"},
    {"hex", O_HEX, OT_FLAG, NULL, "also write UDID.nrf.hex / UDID.nxp.hex: Intel HEX at --offset (needs --offset, --partition-size)"},
    {"offset", O_OFFSET, OT_UINT, "ADDR", "--hex: the factory-data partition's flash address"},
    {"nxp-aes128-key", O_AES, OT_FILE, "FILE", "nxp: write UDID.nxp.aes128.bin, the payload AES-128 encrypted, instead of UDID.nxp.bin"},
    {"esp32-nvs-encrypt", O_NVS_ENC, OT_FLAG, NULL, "esp32: write UDID.esp32.enc.bin, the NVS XTS-AES encrypted, instead of UDID.esp32.bin and its CSV"},
    {"esp32-nvs-keys", O_NVS_KEYS, OT_FILE, "FILE", "--esp32-nvs-encrypt: the NVS keys partition (default: OUT-DIR/nvs_keys.bin, generated 0600 on the first run)"},
    {"esp32-sc-commissionable", O_SC_CD, OT_FLAG, NULL, "esp32-secure-cert: also the discriminator, SPAKE2+ data and rotating-ID UID (the NVS omits them)"},
    {"esp32-hmac-key", O_HMAC, OT_FILE, "FILE", "esp32-secure-cert: encrypt the DAC key under this eFuse HMAC key (one device per key: with --udid)"},
    {"esp32-ecdsa-efuse-key-id", O_ECDSA, OT_UINT, "N", "esp32-secure-cert: chip-list devices keep their key in eFuse key block N (0..5, ECDSA peripheral)"},
    {"esp-ds", O_ESP_DS, OT_STR, "FILE", "refused: the DS peripheral signs RSA only, a DAC key is P-256 (use --esp32-ecdsa-efuse-key-id or --esp32-hmac-key)"},
    {"esp32-extra-config", O_XCONF, OT_FILE, "FILE", "esp32: extra NVS entries per device, key,type,encoding lines under namespace lines"},
    {"esp32-extra-values", O_XVALS, OT_FILE, "FILE", "their values: CSV with the header udid,KEY..., one row per device"},
    {"quiet", OPT_QUIET, OT_FLAG, NULL, "no progress; print only the summary"},
    {"lease", O_LEASE, OT_UINT, "SECONDS", "how long this run holds the devices it claimed before recording them (default 600)"},
    {"ledger", OPT_LEDGER, OT_STR, "PATH|URI", "ledger: SQLite file or PostgreSQL URI/key=value (default $MATTER_PKI_LEDGER, else STATE_DIR/ledger.sqlite)"},
    MP_OPTS_HSM, /* the token opened at the end for the audit checkpoint (audit_end.h) */
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

typedef struct build_args {
    const char *order, *product, *cd, *iter, *out_dir, *jobs, *assign, *serial, *mfg, *psize, *qr, *qr_px, *serial_start, *lease;
    const char *offset, *aes_key, *nvs_keys, *hmac_key, *xconf, *xvals, *ecdsa, *layout, *name_by, *bundle;
    int hex, nvs_enc, sc_cd;
    mp_fd_trust trust;
    int json;
    const char *formats[MP_FD_MAX_FORMATS];
    int nformats;
    char *udids[4096];
    size_t n_udids;
    int include_pc, record_pc, keep_keys;
} build_args;

static int parse(int argc, char **argv, mp_common *c, build_args *a)
{
    mp_optparse p;
    const char *val;
    int id;
    mp_opt_set_arg(opts, O_FORMAT, mp_fd_format_choices(1));
    mp_opt_init(&p, argc, argv, opts, "factory-data build",
                "--order ID --product product.json --cd cd.der --paa paa.pem --cd-signer cds.pem --format F [--format F]... (--out-dir DIR | --bundle FILE) [--jobs J]",
                "Builds the factory-data partition of every issued device of the order, one\n"
                "file per device and format (UDID.<ext>, mode 0600 when it holds a key or the\n"
                "passcode), plus manifest.jsonl and onboarding.csv (the only place passcodes go).\n"
                "Re-running is idempotent; an interrupted build finishes on re-run. Credentials\n"
                "are recorded in the ledger so a rebuild gives the same values. Before writing\n"
                "anything the CD and one device are verified as a commissioner would.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return OPT_HELP;
        case O_ORDER: a->order = val; break;
        case O_PRODUCT: a->product = val; break;
        case O_CD: a->cd = val; break;
        case O_ITER: a->iter = val; break;
        case O_OUT_DIR: a->out_dir = val; break;
        case O_LAYOUT: a->layout = val; break;
        case O_NAME_BY: a->name_by = val; break;
        case O_BUNDLE: a->bundle = val; break;
        case O_JOBS: a->jobs = val; break;
        case O_ASSIGN: a->assign = val; break;
        case O_SERIAL: a->serial = val; break;
        case O_MFG: a->mfg = val; break;
        case O_PSIZE: a->psize = val; break;
        case O_HEX: a->hex = 1; break;
        case O_OFFSET: a->offset = val; break;
        case O_AES: a->aes_key = val; break;
        case O_NVS_ENC: a->nvs_enc = 1; break;
        case O_NVS_KEYS: a->nvs_keys = val; break;
        case O_SC_CD: a->sc_cd = 1; break;
        case O_HMAC: a->hmac_key = val; break;
        case O_XCONF: a->xconf = val; break;
        case O_ECDSA: a->ecdsa = val; break;
        case O_ESP_DS: return -mp_fd_esp_ds_refuse("factory-data build"); /* its file is never read */
        case O_XVALS: a->xvals = val; break;
        case O_LEASE: a->lease = val; break;
        case O_INCLUDE_PC: a->include_pc = 1; break;
        case O_RECORD_PC: a->record_pc = 1; break;
        case O_KEEP_KEYS: a->keep_keys = 1; break;
        case O_QR: a->qr = val; break;
        case O_QR_PX: a->qr_px = val; break;
        case O_SERIAL_START: a->serial_start = val; break;
        case O_JSON: a->json = 1; break;
        case O_PRODUCTION: a->trust.production = 1; break;
        case O_TRUST_DIR: a->trust.trust_dir = val; break;
        case O_PAA:
            if (a->trust.n_paa >= 8) return -mp_err(MP_ERR_USAGE, "factory-data build: at most 8 --paa options");
            a->trust.paa[a->trust.n_paa++] = val;
            break;
        case O_CD_SIGNER:
            if (a->trust.n_signer >= 8) return -mp_err(MP_ERR_USAGE, "factory-data build: at most 8 --cd-signer options");
            a->trust.signer[a->trust.n_signer++] = val;
            break;
        case O_FORMAT:
            if (a->nformats >= MP_FD_MAX_FORMATS / 2) return -mp_err(MP_ERR_USAGE, "factory-data build: at most %d --format options", MP_FD_MAX_FORMATS / 2);
            a->formats[a->nformats++] = val;
            break;
        case O_UDID:
            if (a->n_udids >= 4096) return -mp_err(MP_ERR_USAGE, "factory-data build: at most 4096 --udid options");
            a->udids[a->n_udids++] = (char *)val;
            break;
        default:
            if (!mp_opt_common(c, id, val)) return -mp_err(MP_ERR_USAGE, "factory-data build: unexpected argument %s", mp_opt_shown(val));
        }
    }
    mp_common_finish(c);
    return id;
}

/* The ESP32 options' keys and modes into b->opts (issue 20). */
static int esp_keys(mp_fd_build *b, const build_args *a)
{
    int rc;
    if (a->nvs_keys != NULL && !a->nvs_enc) return mp_err(MP_ERR_USAGE, "factory-data build: --esp32-nvs-keys goes with --esp32-nvs-encrypt");
    if (a->nvs_keys != NULL && (rc = mp_fd_nvs_keys_load(a->nvs_keys, &b->opts)) != MP_OK) return rc;
    if (a->hmac_key != NULL && (rc = mp_fd_esp_hmac_load(a->hmac_key, &b->opts)) != MP_OK) return rc;
    b->opts.esp_sc_cd = a->sc_cd;
    if (a->ecdsa != NULL) {
        if (mp_opt_uint(a->ecdsa) > 5) return mp_err(MP_ERR_USAGE, "--esp32-ecdsa-efuse-key-id: 0..5");
        if (a->hmac_key != NULL) return mp_err(MP_ERR_USAGE, "factory-data build: --esp32-ecdsa-efuse-key-id (key in eFuse) or --esp32-hmac-key (key in the partition), not both");
        b->opts.has_esp_ecdsa = 1;
        b->opts.esp_ecdsa_key_id = (int)mp_opt_uint(a->ecdsa);
    }
    return MP_OK;
}

/* The ESP32 options against the formats; the extra entries loaded. */
static int esp_formats(mp_fd_build *b, const build_args *a, int with_xts, int with_sc)
{
    if (a->nvs_enc && !with_xts) return mp_err(MP_ERR_USAGE, "factory-data build --esp32-nvs-encrypt: no --format esp32 to encrypt");
    if ((a->sc_cd || a->hmac_key || a->ecdsa) && !with_sc) {
        return mp_err(MP_ERR_USAGE, "factory-data build --%s: no --format esp32-secure-cert", a->sc_cd ? "esp32-sc-commissionable" : a->hmac_key ? "esp32-hmac-key" : "esp32-ecdsa-efuse-key-id");
    }
    if ((a->xconf == NULL) != (a->xvals == NULL)) return mp_err(MP_ERR_USAGE, "factory-data build: --esp32-extra-config and --esp32-extra-values go together");
    if (a->xconf == NULL) return MP_OK;
    int esp = 0;
    for (int i = 0; i < b->nformats; i++) esp |= b->formats[i] == MP_FD_ESP32 || b->formats[i] == MP_FD_ESP32_ENC;
    if (!esp) return mp_err(MP_ERR_USAGE, "factory-data build --esp32-extra-config: no --format esp32");
    mp_fd_extras *x = calloc(1, sizeof(*x));
    if (x == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    b->opts.extras = x; /* freed by fd_build_main */
    return mp_fd_extras_load(a->xconf, a->xvals, x);
}

static int set_formats(mp_fd_build *b, const build_args *a)
{
    if (a->hex && (a->offset == NULL || a->psize == NULL)) {
        return mp_err(MP_ERR_USAGE, "factory-data build --hex: --offset ADDR and --partition-size BYTES are required (the partition's address and size)");
    }
    if (!a->hex && a->offset != NULL) return mp_err(MP_ERR_USAGE, "factory-data build: --offset is for --hex");
    if (a->offset != NULL) {
        if (mp_opt_uint(a->offset) > UINT32_MAX) return mp_err(MP_ERR_USAGE, "--offset %s: past the 32-bit address space", a->offset);
        b->opts.offset = (uint32_t)mp_opt_uint(a->offset);
        b->opts.has_offset = 1;
    }
    int with_hex = 0, with_enc = 0, with_xts = 0, with_sc = 0, rc;
    if (a->aes_key != NULL && (rc = mp_fd_aes128_load(a->aes_key, &b->opts)) != MP_OK) return rc;
    if ((rc = esp_keys(b, a)) != MP_OK) return rc;
    for (int i = 0; i < a->nformats; i++) {
        int f = mp_fd_format_parse(a->formats[i]), e = mp_fd_format(f)->enc;
        unsigned ef = e ? mp_fd_format(e)->flags : 0;
        if ((a->aes_key != NULL && (ef & MP_FDF_AES)) || (a->nvs_enc && (ef & MP_FDF_XTS))) { /* the clear image is not written at all */
            if (a->hex) return mp_err(MP_ERR_USAGE, "factory-data build: --hex with an encryption key would write the %s image in clear; the encrypted form has no hex form yet", a->formats[i]);
            f = e;
            with_enc |= (ef & MP_FDF_AES) != 0;
            with_xts |= (ef & MP_FDF_XTS) != 0;
        }
        with_sc |= f == MP_FD_ESP32_SC;
        for (int j = 0; j < b->nformats; j++) {
            if (b->formats[j] == f) return mp_err(MP_ERR_USAGE, "--format %s given twice", a->formats[i]);
        }
        if (b->nformats + 3 > MP_FD_MAX_FORMATS) return mp_err(MP_ERR_USAGE, "factory-data build: too many --format options");
        b->formats[b->nformats++] = f;
        if (mp_fd_format(f)->side != 0) b->formats[b->nformats++] = mp_fd_format(f)->side;
        if (a->hex && mp_fd_format(f)->hex != 0) b->formats[b->nformats++] = mp_fd_format(f)->hex;
        with_hex |= mp_fd_format(f)->hex != 0;
        b->needs_key |= mp_fd_needs_dac_key(f);
    }
    for (int i = 0; i < b->nformats; i++) { /* DAC, PAI and key go to esp_secure_cert, not the NVS */
        if (mp_fd_format(b->formats[i])->flags & MP_FDF_ATTEST) b->opts.esp_secure_cert = 1;
    }
    if (a->aes_key != NULL && !with_enc) return mp_err(MP_ERR_USAGE, "factory-data build --nxp-aes128-key: no --format nxp to encrypt");
    if ((rc = esp_formats(b, a, with_xts, with_sc)) != MP_OK) return rc;
    if (a->hex && !with_hex) return mp_err(MP_ERR_USAGE, "factory-data build --hex: none of the formats has an Intel HEX form (nrf, nxp)");
    return MP_OK;
}

static int check_inputs(mp_fd_build *b, const build_args *a, mp_cd *cd)
{
    const mp_product *p = b->product;
    uint64_t chip = 0, n;
    int rc;
    if (p->vendor_id != b->order.vid || p->product_id != b->order.pid) {
        return mp_err(MP_ERR_MISMATCH, "%s describes VID 0x%04X PID 0x%04X but order %lld is for 0x%04X/0x%04X", a->product,
                      p->vendor_id, p->product_id, (long long)b->order.id, b->order.vid, b->order.pid);
    }
    mp_fd_device probe;
    mp_fd_device_init(&probe);
    probe.vendor_id = b->order.vid;
    probe.product_id = b->order.pid;
    if ((rc = mp_fd_check_cd_covers(&probe, cd)) != MP_OK) {
        return mp_err_ctx(MP_ERR_MISMATCH, "%s", a->cd);
    }
    uint64_t offchip = 0;
    if ((rc = mp_ledger_count_issued(b->ledger, b->order.id, MP_KEY_CHIP, &chip)) != MP_OK ||
        (rc = mp_ledger_count_issued(b->ledger, b->order.id, MP_KEY_OFFCHIP, &offchip)) != MP_OK) {
        return rc;
    }
    b->total = b->n_udids ? b->n_udids : chip + offchip;
    if (b->opts.has_esp_hmac_key && b->total != 1) {
        /* esp_secure_cert derives the AES-GCM key and IV from the HMAC key alone */
        return mp_err(MP_ERR_USAGE, "--esp32-hmac-key: one eFuse HMAC key would encrypt %llu devices' DAC keys under the same AES-GCM key and IV; give each device its own key (one --udid per run)",
                      (unsigned long long)b->total);
    }
    int all_key = 1;
    for (int f = 0; f < b->nformats; f++) all_key &= mp_fd_needs_dac_key_with(b->formats[f], &b->opts);
    if (b->opts.has_esp_ecdsa && offchip > 0 && b->n_udids == 0) {
        return mp_err(MP_ERR_INVALID, "--esp32-ecdsa-efuse-key-id: order %lld has %llu device(s) whose DAC key is held off the chip; burning it into eFuse would need it in a file in clear (build them without the option, or choose chip-list devices with --udid)",
                      (long long)b->order.id, (unsigned long long)offchip);
    }
    if (all_key && chip > 0 && offchip == 0) {
        /* a mixed order builds the key formats for its off-chip devices and reports the others as skipped */
        return mp_err(MP_ERR_INVALID, "the requested formats store the DAC private key, but all %llu device(s) of order %lld keep their key in the chip (chip-list devices); use --format json for them, or issue with --generate-keys",
                      (unsigned long long)chip, (long long)b->order.id);
    }
    if (a->iter != NULL && (mp_parse_uint(a->iter, 100000, &n) != MP_OK || n < 1000)) {
        return mp_err(MP_ERR_INVALID, "--iterations: 1000..100000");
    }
    b->iterations = a->iter ? (uint32_t)mp_opt_uint(a->iter) : p->iterations;
    if (a->psize != NULL) {
        b->opts.partition_size = (size_t)mp_opt_uint(a->psize);
    }
    char sn[MP_SERIAL_MAX + 1];
    if ((rc = mp_serial_format(b->serial_tmpl, 0, "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF", sn)) != MP_OK) {
        return mp_err_ctx(rc, "--serial-template");
    }
    b->seq_tmpl = strstr(b->serial_tmpl, "{seq") != NULL;
    if (a->serial_start != NULL) {
        if (!b->seq_tmpl) return mp_err(MP_ERR_USAGE, "--serial-start: the serial template has no {seq}");
        if (mp_parse_uint(a->serial_start, (uint64_t)INT64_MAX, &b->seq_start) != MP_OK) return mp_err(MP_ERR_USAGE, "--serial-start: not a number");
    } else if (b->seq_tmpl) {
        int found = 0;
        if ((rc = mp_ledger_serial_next(b->ledger, b->serial_tmpl, &b->seq_start, &found)) != MP_OK) return rc;
        if (!found && (rc = mp_ledger_count_fd(b->ledger, b->order.id, &b->seq_start)) != MP_OK) return rc; /* ledgers before the counter */
    }
    return MP_OK;
}

static int load_pai(mp_fd_build *b)
{
    X509 *pai = NULL;
    uint8_t *der = NULL;
    size_t len = 0;
    int rc = mp_cert_load(b->order.pai_cert, &pai);
    if (rc == MP_OK && (rc = mp_cert_der(pai, &der, &len)) == MP_OK) {
        if (len > sizeof(b->pai)) {
            rc = mp_err(MP_ERR_PROFILE, "%s: PAI larger than %zu bytes", b->order.pai_cert, sizeof(b->pai));
        } else {
            memcpy(b->pai, der, len);
            b->pai_len = len;
        }
    }
    OPENSSL_free(der);
    X509_free(pai);
    return rc;
}


/* The options that need no file, ledger or token. */
static int set_options(mp_fd_build *b, const build_args *a, const mp_common *c)
{
    uint64_t jobs = 1, px;
    if (a->jobs && (mp_parse_uint(a->jobs, MP_MAX_JOBS, &jobs) != MP_OK || jobs == 0)) return mp_err(MP_ERR_USAGE, "--jobs: 1..64");
    b->jobs = (int)jobs;
    b->quiet = c->quiet;
    b->out_dir = a->out_dir;
    if ((a->out_dir == NULL) == (a->bundle == NULL)) {
        return mp_err(MP_ERR_USAGE, "factory-data build: one of --out-dir DIR or --bundle FILE is required");
    }
    if (a->bundle != NULL && (a->layout || a->name_by)) {
        return mp_err(MP_ERR_USAGE, "factory-data build --bundle takes no --layout or --name-by (one file holds every device)");
    }
    int rc;
    if ((a->layout && (rc = mp_layout_parse(a->layout, &b->layout)) != MP_OK) ||
        (a->name_by && (rc = mp_name_by_parse(a->name_by, &b->name_by)) != MP_OK)) {
        return rc;
    }
    if (b->name_by == MP_NAME_BY_SERIAL && a->serial != NULL && strchr(a->serial, '/') != NULL) {
        return mp_err(MP_ERR_USAGE, "--name-by serial: the serial template '%s' has a '/', which a file name cannot hold", a->serial);
    }
    b->udids = (char **)a->udids;
    b->n_udids = a->n_udids;
    b->include_passcode = a->include_pc;
    b->record_passcodes = a->record_pc;
    b->keep_keys = a->keep_keys;
    b->qr_images = a->qr == NULL ? MP_QR_NONE : strcmp(a->qr, "png") == 0 ? MP_QR_PNG : MP_QR_SVG;
    b->qr_module_px = 6;
    if (a->qr_px != NULL) {
        if (mp_parse_uint(a->qr_px, 40, &px) != MP_OK || px == 0) return mp_err(MP_ERR_USAGE, "--qr-module-px: 1..40");
        if (b->qr_images != MP_QR_PNG) return mp_err(MP_ERR_USAGE, "--qr-module-px goes with --qr-images png");
        b->qr_module_px = (int)px;
    }
    b->serial_tmpl = a->serial ? a->serial : "{hex:16}";
    if (a->mfg) {
        snprintf(b->mfg_date, sizeof(b->mfg_date), "%.10s", a->mfg);
        if (strlen(a->mfg) > 10 && !c->quiet) {
            fprintf(stderr, "matter-pki factory-data build: warning: --mfg-date %s cut to %s (the nRF and NXP firmware read exactly YYYY-MM-DD)\n",
                    a->mfg, b->mfg_date);
        }
    } else {
        char now[21];
        mp_time_iso(time(NULL), now);
        snprintf(b->mfg_date, sizeof(b->mfg_date), "%.10s", now); /* YYYY-MM-DD, UTC */
    }
    return MP_OK;
}

/* Whether FILE (a label list of the folder) names an esp32-enc image. */
static int lists_enc(const char *dir, const char *file)
{
    char path[4200], *line = NULL;
    size_t cap = 0;
    int found = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    while (f != NULL && !found && getline(&line, &cap, f) > 0) found = strstr(line, "\"esp32-enc\":") != NULL;
    if (f != NULL) fclose(f);
    if (line != NULL) mp_free_secret(line, cap); /* .labels.pending holds passcodes */
    return found;
}

/* Whether the folder already holds esp32-enc images: listed in its
 * manifest.jsonl or .labels.pending (every layout, and --bundle), or lying
 * in it as UDID.esp32.enc.bin. */
static int has_enc_images(const char *out_dir)
{
    if (lists_enc(out_dir, "manifest.jsonl") || lists_enc(out_dir, ".labels.pending")) return 1;
    DIR *dir = opendir(out_dir);
    struct dirent *e;
    size_t ext = strlen(".esp32.enc.bin");
    int found = 0;
    while (dir != NULL && !found && (e = readdir(dir)) != NULL) {
        size_t l = strlen(e->d_name);
        found = l > ext && strcmp(e->d_name + l - ext, ".esp32.enc.bin") == 0;
    }
    if (dir != NULL) closedir(dir);
    return found;
}

/* --esp32-nvs-encrypt without --esp32-nvs-keys: OUT-DIR/nvs_keys.bin, made
 * 0600 by the first run and read by the runs that finish or extend it (so
 * every image of the folder opens with the one keys partition). A folder
 * whose images were encrypted under a keys file that is gone is refused: a
 * new key would not open them. */
static int nvs_keys_default(mp_fd_build *b, const char *out_dir)
{
    char path[4200];
    uint8_t part[MP_NVS_KEYS_SIZE];
    struct stat st;
    snprintf(path, sizeof(path), "%s/nvs_keys.bin", out_dir);
    if (lstat(path, &st) == 0) return mp_fd_nvs_keys_load(path, &b->opts);
    if (has_enc_images(out_dir)) {
        return mp_err(MP_ERR_NO_STATE, "%s: encrypted NVS images but no nvs_keys.bin: the keys partition they were made with is gone (restore it, or give it with --esp32-nvs-keys)", out_dir);
    }
    int rc = mp_fd_nvs_keys_new(&b->opts, part);
    if (rc == MP_OK) rc = mp_write_file(path, part, sizeof(part), 0600, 0);
    mp_wipe(part, sizeof(part));
    return rc;
}

static void summary(const mp_fd_build *b, const char *out_dir, int json)
{
    if (json) {
        printf("{\"order\":%lld,\"built\":%llu,\"rebuilt\":%llu,\"already_built\":%llu,\"revoked_skipped\":%llu,"
               "\"chip_key_skipped\":%llu,\"key_files_removed\":%llu,\"%s\":",
               (long long)b->order.id, (unsigned long long)b->built, (unsigned long long)b->rebuilt, (unsigned long long)b->skipped,
               (unsigned long long)b->revoked, (unsigned long long)b->chip_skipped, (unsigned long long)b->keys_removed,
               b->bundle ? "bundle" : "out_dir");
        json_t *s = json_string(out_dir);
        char *t = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
        printf("%s}\n", t ? t : "null");
        free(t);
        json_decref(s);
        return;
    }
    printf("order %lld: factory data for %llu new device(s), %llu rebuilt, %llu already built; %llu revoked device(s) skipped; "
           "%llu chip-key device(s) skipped (their key formats need the key); %llu loose key file(s) removed; output in %s\n",
           (long long)b->order.id, (unsigned long long)b->built, (unsigned long long)b->rebuilt, (unsigned long long)b->skipped,
           (unsigned long long)b->revoked, (unsigned long long)b->chip_skipped, (unsigned long long)b->keys_removed, out_dir);
}

int fd_build_main(mp_cmd *mc, int argc, char **argv)
{
    mp_common c = {0};
    build_args a;
    mp_fd_build b;
    mp_product prod = {0};
    mp_assign assign = {0};
    mp_cd cd;
    mp_cd_env env;
    uint8_t *cd_der = NULL;
    size_t cd_len = 0;
    uint64_t order;
    struct stat st;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    int rc = parse(argc, argv, &c, &a);
    if (rc != 0) return rc == OPT_HELP ? MP_OK : -rc;
    if (mp_parse_uint(a.order, INT64_MAX, &order) != MP_OK) return mp_err(MP_ERR_USAGE, "--order: not a number");
    if ((rc = set_options(&b, &a, &c)) != MP_OK) return rc;
    if (a.lease != NULL && ((b.lease_secs = (long)mp_opt_uint(a.lease)) < 1 || b.lease_secs > 7 * 86400)) {
        return mp_err(MP_ERR_USAGE, "--lease: 1..604800 seconds");
    }
    mp_signals_install();
    if ((rc = set_formats(&b, &a)) != MP_OK || (rc = mp_product_load(a.product, &prod)) != MP_OK) goto end;
    b.product = &prod;
    if ((rc = mp_cd_read_file(a.cd, &cd_der, &cd_len, &env, &cd)) != MP_OK) {
        mp_err_ctx(rc, "%s", a.cd);
        goto end;
    }
    b.cd = cd_der;
    b.cd_len = cd_len;
    if (cd_len > MP_FD_MAX_CD) {
        rc = mp_err(MP_ERR_INVALID, "%s: %zu bytes; a factory-data image holds a CD of at most %d", a.cd, cd_len, MP_FD_MAX_CD);
        goto end;
    }
    if (a.assign && (rc = mp_assign_load(a.assign, &assign)) != MP_OK) goto end;
    b.assign = a.assign ? &assign : NULL;
    b.assign_path = a.assign;
    if ((rc = mp_cmd_open(mc, &c)) != MP_OK) goto end;
    b.ledger = mc->ledger;
    if ((rc = mp_ledger_get_order(b.ledger, (int64_t)order, &b.order)) != MP_OK || (rc = check_inputs(&b, &a, &cd)) != MP_OK ||
        (rc = load_pai(&b)) != MP_OK ||
        (rc = mp_fd_build_precheck(&b)) != MP_OK || (rc = mp_fd_build_verify_cd(&b, &a.trust, &cd)) != MP_OK) {
        goto end;
    }
    int lock = -1; /* held until exit */
    char folder[4096], bundle_abs[4200];
    if (a.bundle != NULL) { /* --bundle FILE: the run's folder (lock, lists, markers) is FILE's folder */
        mp_bundle_folder(a.bundle, folder, sizeof(folder));
        b.out_dir = a.out_dir = folder;
    } else { /* set_options checked that one of --out-dir and --bundle is given */
        a.out_dir = mp_opt_given(a.out_dir);
    }
    if ((stat(a.out_dir, &st) != 0 && (rc = mp_mkdir_p(a.out_dir, 0700)) != MP_OK) ||
        (rc = mp_dir_lock(a.out_dir, &lock)) != MP_OK) {
        goto end;
    }
    {
        uint8_t r[16];
        char *abs = realpath(a.out_dir, NULL);
        if (abs == NULL) {
            rc = mp_err(MP_ERR_IO, "%s: %s", a.out_dir, strerror(errno));
            goto end;
        }
        snprintf(b.out_abs, sizeof(b.out_abs), "%s", abs);
        free(abs);
        if (a.bundle != NULL) {
            mp_bundle_abs(b.out_abs, a.bundle, bundle_abs, sizeof(bundle_abs));
            b.bundle = bundle_abs;
        }
        if (RAND_bytes(r, sizeof(r)) != 1) {
            rc = mp_err_ssl(MP_ERR_GENERAL, "RAND_bytes");
            goto end;
        }
        mp_hex(r, sizeof(r), b.lease, 0);
    }
    if (a.nvs_enc && a.nvs_keys == NULL && (rc = nvs_keys_default(&b, a.out_dir)) != MP_OK) goto end;
    rc = mp_fd_build_run(&b);
    if (rc == MP_OK) summary(&b, b.bundle ? b.bundle : a.out_dir, a.json);
end:
    if (b.opts.extras != NULL) {
        mp_fd_extras_free((mp_fd_extras *)b.opts.extras);
        free((void *)b.opts.extras);
    }
    mp_wipe(&b.opts, sizeof(b.opts)); /* the AES, XTS and HMAC keys */
    mp_assign_free(&assign);
    free(cd_der);
    mp_product_free(&prod);
    return rc;
}
