/*
 * inspect.c - `factory-data inspect`: one image (FILE), or (inspect_lot.c) every image of a
 * build's folder (--lot DIR: the images its manifest.jsonl lists, in the
 * folder or in the --bundle file its lines name, each with
 * the SHA-256 of its line and the passcode of its onboarding.csv line), read
 * back by the formats' own readers and checked: key against DAC, chain to the
 * PAI, VID/PID, the verifier against the passcode, the CDs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "src/commands.h"
#include "check.h"
#include "creds.h"
#include "fd.h"
#include "fd_int.h"
#include "inspect_int.h"
#include "opts.h"
#include "util.h"
#include "x509.h"

enum { O_FORMAT = 1, O_PAI, O_CD, O_PASSCODE, O_MANIFEST, O_AES, O_ESP_SC, O_NVS_KEYS, O_HMAC, O_JSON, O_LOT };

#define MAX_IMAGE (16u << 20)

/* ---- inspect ------------------------------------------------------------ */

static mp_opt inspect_opts[] = {
    {"format", O_FORMAT, OT_ENUM, NULL /* set from the format table */, "image format (default: detected from the content and the file name)"},
    {"pai", O_PAI, OT_FILE, "FILE", "the PAI the DAC must chain to (PEM or DER)"},
    {"cd", O_CD, OT_FILE, "FILE", "a CD (DER, hex or base64) that must cover the device's VID/PID"},
    {"passcode", O_PASSCODE, OT_UINT, "N", "check the verifier against this passcode"},
    {"manifest", O_MANIFEST, OT_FILE, "FILE", "the build's manifest.jsonl: the image must be one it lists (SHA-256)"},
    {"nxp-aes128-key", O_AES, OT_FILE, "FILE", "nxp-aes128: the AES-128 key (16 bytes or 32 hex digits)"},
    {"esp32-secure-cert", O_ESP_SC, OT_FILE, "FILE", "esp32, esp32-csv, esp32-enc: the device's esp_secure_cert partition (DAC, PAI, key; commissionable data)"},
    {"esp32-nvs-keys", O_NVS_KEYS, OT_FILE, "FILE", "esp32-enc: the NVS keys partition"},
    {"esp32-hmac-key", O_HMAC, OT_FILE, "FILE", "esp32-secure-cert: the eFuse HMAC key its DAC key is encrypted under"},
    {"lot", O_LOT, OT_STR, "DIR", "instead of FILE: every image a build's folder lists in its manifest.jsonl (--format: only that format)"},
    {"json", O_JSON, OT_FLAG, NULL, "print JSON (with --lot: one line per image)"},
    {"help", OPT_HELP, OT_FLAG, NULL, "show this help"},
    {NULL, 0, 0, NULL, NULL},
};



/* The image is listed in the manifest with this SHA-256 (a flipped bit in a
 * format without a checksum shows here). */
static int in_manifest(const inspect_in *in)
{
    FILE *f = fopen(in->manifest, "r");
    char *line = NULL;
    size_t cap = 0;
    long n = 0;
    int rc = f ? mp_err(MP_ERR_MISMATCH, "SHA-256 %s is not an image listed in %s (corrupted, or from another build)", in->sha256, in->manifest)
               : mp_err(MP_ERR_IO, "%s: cannot open", in->manifest);
    while (f != NULL && getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL), *v;
        const char *k;
        n++;
        json_object_foreach(json_object_get(o, "sha256"), k, v) {
            if (json_is_string(v) && strcmp(json_string_value(v), in->sha256) == 0) {
                rc = MP_OK;
                mp_err_clear();
            }
        }
        json_decref(o);
        if (rc == MP_OK) break;
    }
    free(line);
    if (f) fclose(f);
    return rc;
}


/* --lot: the file is the image its manifest line lists. */
static int lot_sha256(const inspect_in *in)
{
    if (strcmp(in->sha256, in->expect_sha256) == 0) return MP_OK;
    return mp_err(MP_ERR_MISMATCH, "SHA-256 %s is not the %s that line %ld of the manifest lists (corrupted, or replaced after the build)",
                  in->sha256, in->expect_sha256, in->line);
}

/* --esp32-secure-cert: its DAC, PAI and key complete the esp32 NVS. */
static int read_secure_cert(inspect_in *in)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    mp_fd_device *sc = malloc(sizeof(*sc));
    int rc = sc == NULL ? mp_err(MP_ERR_GENERAL, "out of memory") : in->sc_data ? MP_OK : mp_read_file(in->esp_sc, MAX_IMAGE, &buf, &len);
    if (rc == MP_OK && (rc = mp_fd_unpack_with(MP_FD_ESP32_SC, in->sc_data ? in->sc_data : buf, in->sc_data ? in->sc_len : len,
                                               &in->opts, sc)) != MP_OK) {
        mp_err_ctx(rc, "%s", in->esp_sc);
    }
    if (buf) mp_free_secret(buf, len);
    if (rc == MP_OK) {
        in->opts.esp_sc_dev = sc;
        return MP_OK;
    }
    if (sc) mp_fd_device_wipe(sc);
    free(sc);
    return rc;
}

/* Run one check; record "ok", "skipped" or the failure; keep the first rc. */
static void check(json_t *checks, const char *name, int run, int rc, int *first)
{
    if (!run) {
        json_object_set_new(checks, name, json_string("skipped"));
        return;
    }
    if (rc == MP_OK) {
        json_object_set_new(checks, name, json_string("ok"));
        return;
    }
    char msg[1100];
    snprintf(msg, sizeof(msg), "FAIL: %s", mp_err_msg());
    json_object_set_new(checks, name, json_string(msg));
    if (*first == MP_OK) *first = rc;
}

/* --cd: it covers the device, and it is the CD in the image (when any). */
static int given_cd(const mp_fd_device *d, const char *path, inspect_cd *cdc)
{
    if (cdc == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    if (!cdc->loaded) { /* read once; a file that cannot be read is tried again (and reported) per image */
        mp_cd_env env;
        int rc = mp_cd_read_file(path, &cdc->der, &cdc->len, &env, &cdc->cd);
        if (rc != MP_OK) {
            free(cdc->der);
            cdc->der = NULL;
            return rc;
        }
        cdc->loaded = 1;
    }
    int rc = mp_fd_check_cd_covers(d, &cdc->cd);
    if (rc == MP_OK && d->cd_len && (cdc->len != d->cd_len || memcmp(cdc->der, d->cd_der, cdc->len) != 0)) {
        rc = mp_err(MP_ERR_MISMATCH, "the CD in the image is not %s", path);
    }
    return rc;
}

static int run_checks(const mp_fd_device *d, const inspect_in *in, json_t *checks)
{
    int first = MP_OK;
    uint32_t pc = in->passcode ? in->passcode : d->passcode;
    check(checks, "dac_key_matches_dac", d->has_dac_key, d->has_dac_key ? mp_fd_check_dac_key(d) : MP_OK, &first);
    int partial = d->vendor_id == 0; /* esp32-secure-cert alone: attestation material only */
    check(checks, "dac_vid_pid_match", !partial, partial ? MP_OK : mp_fd_check_dac_vidpid(d), &first);
    check(checks, "dac_chains_to_pai", 1, mp_fd_check_chain(d, in->pai), &first);
    check(checks, "verifier_matches_passcode", pc != 0 && !partial, pc && !partial ? mp_fd_check_verifier(d, pc) : MP_OK, &first);
    check(checks, "image_cd_covers_vid_pid", d->cd_len > 0, d->cd_len ? mp_fd_check_image_cd(d) : MP_OK, &first);
    check(checks, "cd_covers_vid_pid", in->cd_file != NULL && !partial, in->cd_file && !partial ? given_cd(d, in->cd_file, in->cdc) : MP_OK, &first);
    check(checks, "sha256_in_manifest", in->manifest != NULL || in->expect_sha256 != NULL,
          in->expect_sha256 ? lot_sha256(in) : in->manifest ? in_manifest(in) : MP_OK, &first);
    return first;
}

static void print_inspect(json_t *report, int mode, int failed)
{
    if (mode == P_JSON || mode == P_LOT_JSON) {
        char *s = json_dumps(report, (mode == P_JSON ? JSON_INDENT(2) : JSON_COMPACT) | JSON_PRESERVE_ORDER);
        printf("%s\n", s ? s : "");
        free(s);
        return;
    }
    const char *k;
    json_t *v;
    if (mode == P_LOT_TEXT) { /* only what failed, one line per check */
        json_object_foreach(json_object_get(report, "checks"), k, v) {
            if (failed && strncmp(json_string_value(v), "FAIL", 4) == 0) {
                printf("%s: check %s: %s\n", json_string_value(json_object_get(report, "file")), k, json_string_value(v));
            }
        }
        return;
    }
    printf("file: %s\nformat: %s\n", json_string_value(json_object_get(report, "file")),
           json_string_value(json_object_get(report, "format")));
    json_object_foreach(json_object_get(report, "device"), k, v) {
        if (json_is_string(v)) printf("  %s: %s\n", k, json_string_value(v));
        else if (json_is_integer(v)) printf("  %s: %lld\n", k, (long long)json_integer_value(v));
        else printf("  %s: %s\n", k, json_is_true(v) ? "present" : "absent");
    }
    const char *ns;
    json_t *keys;
    json_object_foreach(json_object_get(report, "nvs_other"), ns, keys) {
        json_object_foreach(keys, k, v) {
            if (json_is_integer(v)) printf("  nvs %s/%s: %lld\n", ns, k, (long long)json_integer_value(v));
            else printf("  nvs %s/%s: %s\n", ns, k, json_string_value(v));
        }
    }
    json_object_foreach(json_object_get(report, "checks"), k, v) {
        printf("check %s: %s\n", k, json_string_value(v));
    }
}

/* esp32, esp32-enc: the NVS entries besides matter-pki's chip-factory keys
 * (--esp32-extra-config entries, other namespaces) as "nvs_other". */
static int other_entries(int format, const uint8_t *buf, size_t len, const mp_fd_opts *o, json_t *report)
{
    json_t *x = NULL;
    uint8_t *plain = NULL;
    int rc = MP_OK;
    if (format != MP_FD_ESP32 && format != MP_FD_ESP32_ENC) return MP_OK;
    if (format == MP_FD_ESP32_ENC) { /* read back already, so the key is there */
        if ((plain = malloc(len)) == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
        memcpy(plain, buf, len);
        rc = fd_nvs_xts(plain, len, o->nvs_keys, 0);
    }
    if (rc == MP_OK) rc = mp_fd_esp32_other_entries(plain ? plain : buf, len, &x);
    if (plain) mp_free_secret(plain, len);
    if (rc == MP_OK && json_object_size(x) > 0) json_object_set(report, "nvs_other", x);
    json_decref(x);
    return rc;
}

int mp_fd_inspect_one(inspect_in *in, int mode)
{
    uint8_t *owned = NULL;
    size_t len = in->data_len;
    const uint8_t *buf = in->data;
    mp_fd_device *d = malloc(sizeof(*d));
    int rc = d == NULL ? mp_err(MP_ERR_GENERAL, "out of memory") : buf ? MP_OK : mp_read_file(in->file, MAX_IMAGE, &owned, &len);
    int format = in->format;
    if (rc != MP_OK) goto end;
    if (buf == NULL) buf = owned;
    if (format == 0 && (format = mp_fd_detect_file(in->file, buf, len)) == 0) {
        rc = mp_err(MP_ERR_INVALID, "%s: unknown image format (give --format)", in->file);
        goto end;
    }
    if (in->esp_sc != NULL && (rc = read_secure_cert(in)) != MP_OK) goto end;
    if ((rc = mp_fd_unpack_with(format, buf, len, &in->opts, d)) != MP_OK) {
        mp_err_ctx(rc, "%s", in->file);
        goto end;
    }
    uint8_t md[32];
    SHA256(buf, len, md);
    mp_hex(md, 32, in->sha256, 0);

    json_t *report = json_object(), *checks = json_object();
    json_object_set_new(report, "file", json_string(in->file));
    if (in->udid != NULL) json_object_set_new(report, "udid", json_string(in->udid));
    json_object_set_new(report, "format", json_string(mp_fd_format_name(format)));
    json_object_set_new(report, "device", mp_fd_to_json(d, 0));
    if (d->key_efuse_block) json_object_set_new(json_object_get(report, "device"), "dac_key_efuse_key_id", json_integer(d->key_efuse_block - 4));
    if ((rc = other_entries(format, buf, len, &in->opts, report)) != MP_OK) {
        json_decref(report);
        json_decref(checks);
        mp_fd_device_wipe(d);
        goto end;
    }
    rc = run_checks(d, in, checks);
    json_object_set_new(report, "checks", checks);
    print_inspect(report, mode, rc != MP_OK);
    in->reported = 1;
    json_decref(report);
    if (rc != MP_OK) mp_err(rc, "%s: a check failed (see the output)", in->file);
    mp_fd_device_wipe(d);
end:
    if (owned) mp_free_secret(owned, len);
    free(d);
    return rc;
}

static int inspect_main(int argc, char **argv, inspect_in *inp)
{
    mp_optparse p;
    const char *val, *pai = NULL, *lotdir = NULL;
    int id, json = 0, rc;
#define in (*inp)
    mp_opt_set_arg(inspect_opts, O_FORMAT, mp_fd_format_choices(0));
    mp_opt_init(&p, argc, argv, inspect_opts, "factory-data inspect", "FILE|--lot DIR [--format F] [--pai pai.pem] [--cd cd.der] [--passcode N] [--json]",
                "Decodes a factory-data image (any format pack writes, the nrf-json and\n"
                "esp32-csv text forms too) back to the platform-neutral fields (the DAC key\n"
                "is never printed) and checks: CRCs/hash of the format, every field's limits,\n"
                "the DAC key against the DAC, the DAC's VID/PID, the DAC's signature by the PAI\n"
                "(and that it is --pai), that the image's CD and --cd list the VID/PID, the\n"
                "verifier against the passcode (--passcode or the image's).\n"
                "--lot DIR reads back a whole build (folder or --bundle): every image its manifest.jsonl lists,\n"
                "each against the SHA-256 of its line and the passcode of its onboarding.csv\n"
                "line, an esp32 NVS with its esp_secure_cert partition, DIR/nvs_keys.bin for\n"
                "encrypted NVS; it prints the failures and a summary (--json: a line per image).\n"
                "Exit 10 malformed, 12 mismatch, 13 bad signature.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return MP_OK;
        case O_FORMAT: in.format = mp_fd_format_parse(val); break;
        case O_PAI: pai = val; break;
        case O_CD: in.cd_file = val; break;
        case O_MANIFEST: in.manifest = val; break;
        case O_AES:
            if ((rc = mp_fd_aes128_load(val, &in.opts)) != MP_OK) return rc;
            break;
        case O_ESP_SC: in.esp_sc = val; break;
        case O_NVS_KEYS:
            if ((rc = mp_fd_nvs_keys_load(val, &in.opts)) != MP_OK) return rc;
            break;
        case O_HMAC:
            if ((rc = mp_fd_esp_hmac_load(val, &in.opts)) != MP_OK) return rc;
            break;
        case O_PASSCODE:
            if ((rc = mp_passcode_check("--passcode", mp_opt_uint(val))) != MP_OK) return rc;
            in.passcode = (uint32_t)mp_opt_uint(val);
            break;
        case O_JSON: json = 1; break;
        case O_LOT: lotdir = val; break;
        case OPT_POSITIONAL: if (in.file == NULL) { in.file = val; break; } /* fall through */
        default: return mp_err(MP_ERR_USAGE, "factory-data inspect: unexpected argument %s", mp_opt_shown(val));
        }
    }
    if (id < 0) return -id;
    if ((in.file == NULL) == (lotdir == NULL)) return mp_err(MP_ERR_USAGE, "factory-data inspect: give FILE or --lot DIR (one of them)");
    if (lotdir != NULL && (in.manifest != NULL || in.esp_sc != NULL || in.passcode != 0)) {
        return mp_err(MP_ERR_USAGE, "factory-data inspect --lot: --manifest, --esp32-secure-cert and --passcode come from the folder "
                      "(its manifest.jsonl and onboarding.csv)");
    }
    if (pai != NULL && (rc = mp_cert_load(pai, &in.pai)) != MP_OK) return rc;
    rc = lotdir != NULL ? mp_fd_inspect_lot(&in, lotdir, json) : mp_fd_inspect_one(&in, json ? P_JSON : P_TEXT);
    X509_free(in.pai);
    return rc;
#undef in
}

int fd_inspect_main(mp_cmd *mc, int argc, char **argv)
{
    (void)mc;
    inspect_in in = {0};
    in.cdc = calloc(1, sizeof(*in.cdc));
    int rc = inspect_main(argc, argv, &in);
    if (in.cdc != NULL) free(in.cdc->der);
    free(in.cdc);
    if (in.opts.esp_sc_dev != NULL) {
        mp_fd_device_wipe((mp_fd_device *)in.opts.esp_sc_dev);
        free((void *)in.opts.esp_sc_dev);
    }
    mp_wipe(&in.opts, sizeof(in.opts));
    return rc;
}

