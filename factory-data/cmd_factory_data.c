/* cmd_factory_data.c - `factory-data verifier`, `inspect` and `pack`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "src/commands.h"
#include "check.h"
#include "creds.h"
#include "fd.h"
#include "fd_int.h"
#include "opts.h"
#include "spake2p.h"
#include "util.h"
#include "x509.h"

enum { O_PASSCODE = 1, O_SALT, O_ITER, O_FORMAT, O_PAI, O_JSON, O_DEVICE, O_OUT, O_PSIZE, O_CD, O_MANIFEST, O_OFFSET, O_AES, O_ESP_SC, O_NVS_KEYS, O_NVS_KEYGEN, O_SC_CD, O_HMAC, O_XCONF, O_XVALS, O_ECDSA, O_ESP_DS };

#define MAX_IMAGE (16u << 20)

static const mp_opt verifier_opts[] = {
    {"passcode", O_PASSCODE, OT_UINT | OT_REQUIRED, "N", "setup passcode 1..99999998"},
    {"salt", O_SALT, OT_STR | OT_REQUIRED, "BASE64", "salt, 16..32 bytes in base64"},
    {"iterations", O_ITER, OT_UINT | OT_REQUIRED, "N", "PBKDF2 iterations 1000..100000"},
    {"help", OPT_HELP, OT_FLAG, NULL, "show this help"},
    {NULL, 0, 0, NULL, NULL},
};

int fd_verifier_main(mp_cmd *mc, int argc, char **argv)
{
    (void)mc;
    mp_optparse p;
    const char *val, *salt64 = NULL;
    uint64_t pc = 0, it = 0;
    int id, rc;
    uint8_t salt[MP_SALT_MAX + 3], v[MP_VERIFIER_LEN];
    char out[MP_VERIFIER_B64_LEN + 1];
    mp_opt_init(&p, argc, argv, verifier_opts, "factory-data verifier", "--passcode N --salt BASE64 --iterations N",
                "Prints the base64 SPAKE2+ verifier W0 || L (97 bytes), like the SDK's spake2p tool.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return MP_OK;
        case O_PASSCODE: pc = mp_opt_uint(val); break;
        case O_SALT: salt64 = val; break;
        case O_ITER: it = mp_opt_uint(val); break;
        default: return mp_err(MP_ERR_USAGE, "factory-data verifier: unexpected argument %s", mp_opt_shown(val));
        }
    }
    if (id < 0) return -id;
    salt64 = mp_opt_given(salt64);
    if ((rc = mp_passcode_check("--passcode", pc)) != MP_OK) return rc;
    long sl = mp_b64_decode(salt64, strlen(salt64), salt, sizeof(salt));
    if (sl < 0) return mp_err(MP_ERR_INVALID, "--salt: not valid base64 of at most %d bytes", MP_SALT_MAX);
    if (it > MP_ITER_MAX) return mp_err(MP_ERR_INVALID, "iterations: %llu; expected %d..%d", (unsigned long long)it, MP_ITER_MIN, MP_ITER_MAX);
    if ((rc = mp_spake2p_verifier((uint32_t)pc, salt, (size_t)sl, (uint32_t)it, v)) != MP_OK) return rc;
    mp_b64_encode(v, sizeof(v), out, sizeof(out));
    printf("%s\n", out);
    return MP_OK;
}

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
    {"json", O_JSON, OT_FLAG, NULL, "print JSON"},
    {"help", OPT_HELP, OT_FLAG, NULL, "show this help"},
    {NULL, 0, 0, NULL, NULL},
};

typedef struct inspect_in {
    const char *file;
    int format;
    X509 *pai;
    const char *cd_file;
    const char *manifest;
    uint32_t passcode; /* 0 = unknown */
    mp_fd_opts opts;   /* the AES key of an encrypted image */
    const char *esp_sc; /* the esp_secure_cert partition that goes with an esp32 NVS */
    char sha256[65];   /* of the file, set by inspect */
} inspect_in;

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


/* --esp32-secure-cert: its DAC, PAI and key complete the esp32 NVS. */
static int read_secure_cert(inspect_in *in)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    mp_fd_device *sc = malloc(sizeof(*sc));
    int rc = sc ? mp_read_file(in->esp_sc, MAX_IMAGE, &buf, &len) : mp_err(MP_ERR_GENERAL, "out of memory");
    if (rc == MP_OK && (rc = mp_fd_unpack_with(MP_FD_ESP32_SC, buf, len, &in->opts, sc)) != MP_OK) mp_err_ctx(rc, "%s", in->esp_sc);
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
static int given_cd(const mp_fd_device *d, const char *path)
{
    uint8_t *der = NULL;
    size_t len = 0;
    mp_cd_env env;
    mp_cd *cd = malloc(sizeof(*cd));
    int rc = cd ? mp_cd_read_file(path, &der, &len, &env, cd) : mp_err(MP_ERR_GENERAL, "out of memory");
    if (rc == MP_OK) rc = mp_fd_check_cd_covers(d, cd);
    if (rc == MP_OK && d->cd_len && (len != d->cd_len || memcmp(der, d->cd_der, len) != 0)) {
        rc = mp_err(MP_ERR_MISMATCH, "the CD in the image is not %s", path);
    }
    free(der);
    free(cd);
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
    check(checks, "cd_covers_vid_pid", in->cd_file != NULL && !partial, in->cd_file && !partial ? given_cd(d, in->cd_file) : MP_OK, &first);
    check(checks, "sha256_in_manifest", in->manifest != NULL, in->manifest ? in_manifest(in) : MP_OK, &first);
    return first;
}

static void print_inspect(json_t *report, int as_json)
{
    if (as_json) {
        char *s = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s ? s : "");
        free(s);
        return;
    }
    const char *k;
    json_t *v;
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

static int inspect(inspect_in *in, int as_json)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    mp_fd_device *d = malloc(sizeof(*d));
    int rc = d ? mp_read_file(in->file, MAX_IMAGE, &buf, &len) : mp_err(MP_ERR_GENERAL, "out of memory");
    int format = in->format;
    if (rc != MP_OK) goto end;
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
    print_inspect(report, as_json);
    json_decref(report);
    if (rc != MP_OK) mp_err(rc, "%s: a check failed (see the output)", in->file);
    mp_fd_device_wipe(d);
end:
    if (buf) mp_free_secret(buf, len);
    free(d);
    return rc;
}

static int inspect_main(int argc, char **argv, inspect_in *inp)
{
    mp_optparse p;
    const char *val, *pai = NULL;
    int id, json = 0, rc;
#define in (*inp)
    mp_opt_set_arg(inspect_opts, O_FORMAT, mp_fd_format_choices(0));
    mp_opt_init(&p, argc, argv, inspect_opts, "factory-data inspect", "FILE [--format F] [--pai pai.pem] [--cd cd.der] [--passcode N] [--json]",
                "Decodes a factory-data image (any format pack writes, the nrf-json and\n"
                "esp32-csv text forms too) back to the platform-neutral fields (the DAC key\n"
                "is never printed) and checks: CRCs/hash of the format, every field's limits,\n"
                "the DAC key against the DAC, the DAC's VID/PID, the DAC's signature by the PAI\n"
                "(and that it is --pai), that the image's CD and --cd list the VID/PID, the\n"
                "verifier against the passcode (--passcode or the image's).\n"
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
        case OPT_POSITIONAL: if (in.file == NULL) { in.file = val; break; } /* fall through */
        default: return mp_err(MP_ERR_USAGE, "factory-data inspect: unexpected argument %s", mp_opt_shown(val));
        }
    }
    if (id < 0) return -id;
    if (in.file == NULL) return mp_err(MP_ERR_USAGE, "factory-data inspect: FILE is required");
    if (pai != NULL && (rc = mp_cert_load(pai, &in.pai)) != MP_OK) return rc;
    rc = inspect(&in, json);
    X509_free(in.pai);
    return rc;
#undef in
}

int fd_inspect_main(mp_cmd *mc, int argc, char **argv)
{
    (void)mc;
    inspect_in in = {0};
    int rc = inspect_main(argc, argv, &in);
    if (in.opts.esp_sc_dev != NULL) {
        mp_fd_device_wipe((mp_fd_device *)in.opts.esp_sc_dev);
        free((void *)in.opts.esp_sc_dev);
    }
    mp_wipe(&in.opts, sizeof(in.opts));
    return rc;
}

/* ---- pack --------------------------------------------------------------- */

static mp_opt pack_opts[] = {
    {"device", O_DEVICE, OT_FILE | OT_REQUIRED, "FILE", "the device's factory data in matter-pki JSON"},
    {"format", O_FORMAT, OT_ENUM | OT_REQUIRED, NULL /* set from the format table */, "output format"},
    {"partition-size", O_PSIZE, OT_UINT, "N", "esp32: partition size, multiple of 0x1000, >= 0x3000 (default 0x6000); nrf, nxp and their hex forms: the largest image"},
    {"offset", O_OFFSET, OT_UINT, "ADDR", "nrf-hex, nxp-hex: the partition's flash address"},
    {"nxp-aes128-key", O_AES, OT_FILE, "FILE", "nxp-aes128: the AES-128 key (16 bytes or 32 hex digits)"},
    {"esp32-secure-cert", O_ESP_SC, OT_FLAG, NULL, "esp32, esp32-csv, esp32-enc: leave DAC, PAI and key to the esp_secure_cert partition"},
    {"esp32-sc-commissionable", O_SC_CD, OT_FLAG, NULL, "esp32-secure-cert: also the commissionable data; esp32, esp32-csv, esp32-enc: leave it to that partition"},
    {"esp32-hmac-key", O_HMAC, OT_FILE, "FILE", "esp32-secure-cert: encrypt the DAC key under this eFuse HMAC key (32 bytes or 64 hex digits)"},
    {"esp32-ecdsa-efuse-key-id", O_ECDSA, OT_UINT, "N", "esp32-secure-cert: the chip's own key is in eFuse key block N (0..5, ECDSA peripheral); devices without dac_key"},
    {"esp-ds", O_ESP_DS, OT_STR, "FILE", "refused: the DS peripheral signs RSA only, a DAC key is P-256 (use --esp32-ecdsa-efuse-key-id or --esp32-hmac-key)"},
    {"esp32-nvs-keys", O_NVS_KEYS, OT_FILE, "FILE", "esp32-enc: the NVS keys partition (4096 bytes, its CRC checked)"},
    {"esp32-nvs-keygen", O_NVS_KEYGEN, OT_OUT, "FILE", "esp32-enc: generate a new NVS keys partition into FILE (0600) and encrypt with it"},
    {"esp32-extra-config", O_XCONF, OT_FILE, "FILE", "esp32, esp32-csv, esp32-enc: extra NVS entries, key,type,encoding lines under namespace lines"},
    {"esp32-extra-values", O_XVALS, OT_FILE, "FILE", "their values: CSV with the header udid,KEY...; pack takes its one row"},
    {"out", O_OUT, OT_OUT | OT_REQUIRED, "FILE", "output file; mode 0600 when it holds the DAC key"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace an existing output file"},
    {"help", OPT_HELP, OT_FLAG, NULL, "show this help"},
    {NULL, 0, 0, NULL, NULL},
};

static int pack_file(const char *dev, int format, const mp_fd_opts *o, const char *out, int force)
{
    uint8_t *buf = NULL, *img = NULL;
    size_t len = 0, n = 0;
    mp_fd_device *d = malloc(sizeof(*d));
    int rc = d ? mp_read_file(dev, MAX_IMAGE, &buf, &len) : mp_err(MP_ERR_GENERAL, "out of memory");
    if (rc == MP_OK && (rc = mp_fd_unpack(MP_FD_JSON, buf, len, d)) != MP_OK) mp_err_ctx(rc, "%s", dev);
    if (rc == MP_OK && o->extras != NULL) d->extra = o->extras->vals; /* its one row */
    if (rc == MP_OK && o->has_esp_ecdsa) {
        if (d->has_dac_key) rc = mp_err(MP_ERR_INVALID, "%s: --esp32-ecdsa-efuse-key-id is for a key held in the chip, but the device has dac_key", dev);
        d->key_efuse_block = (uint8_t)(o->esp_ecdsa_key_id + 4);
    }
    if (rc == MP_OK && (rc = mp_fd_pack(format, d, o, &img, &n)) == MP_OK) {
        rc = mp_write_file(out, img, n, d->has_dac_key ? 0600 : 0644, force);
    }
    if (img) mp_free_secret(img, n);
    if (buf) mp_free_secret(buf, len);
    if (d) mp_fd_device_wipe(d);
    free(d);
    return rc;
}

static int pack_main(int argc, char **argv, mp_fd_opts *op)
{
    mp_optparse p;
    const char *val, *dev = NULL, *out = NULL, *keygen = NULL, *xconf = NULL, *xvals = NULL;
    int id, format = 0, force = 0, rc;
    uint64_t psize = 0;
#define o (*op)
    mp_opt_set_arg(pack_opts, O_FORMAT, mp_fd_format_choices(0));
    mp_opt_init(&p, argc, argv, pack_opts, "factory-data pack", "--device dev.json --format F --out FILE [--partition-size N] [--offset ADDR]",
                "Renders one device's factory data (matter-pki JSON, README \"Factory data\n"
                "JSON\") in a platform layout. Every field is validated first.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return MP_OK;
        case O_DEVICE: dev = val; break;
        case O_FORMAT: format = mp_fd_format_parse(val); break;
        case O_PSIZE: psize = mp_opt_uint(val); break;
        case O_OFFSET:
            if (mp_opt_uint(val) > UINT32_MAX) return mp_err(MP_ERR_USAGE, "factory-data pack --offset: %s is past the 32-bit address space", val);
            o.offset = (uint32_t)mp_opt_uint(val);
            o.has_offset = 1;
            break;
        case O_AES:
            if ((rc = mp_fd_aes128_load(val, &o)) != MP_OK) return rc;
            break;
        case O_ESP_SC: o.esp_secure_cert = 1; break;
        case O_SC_CD: o.esp_sc_cd = 1; break;
        case O_HMAC:
            if ((rc = mp_fd_esp_hmac_load(val, &o)) != MP_OK) return rc;
            break;
        case O_NVS_KEYS:
            if ((rc = mp_fd_nvs_keys_load(val, &o)) != MP_OK) return rc;
            break;
        case O_NVS_KEYGEN: keygen = val; break;
        case O_ECDSA:
            if (mp_opt_uint(val) > 5) return mp_err(MP_ERR_USAGE, "factory-data pack --esp32-ecdsa-efuse-key-id: 0..5");
            o.has_esp_ecdsa = 1;
            o.esp_ecdsa_key_id = (int)mp_opt_uint(val);
            break;
        case O_ESP_DS: return mp_fd_esp_ds_refuse("factory-data pack"); /* its file is never read */
        case O_XCONF: xconf = val; break;
        case O_XVALS: xvals = val; break;
        case O_OUT: out = val; break;
        case OPT_FORCE: force = 1; break;
        default: return mp_err(MP_ERR_USAGE, "factory-data pack: unexpected argument %s", mp_opt_shown(val));
        }
    }
    if (id < 0) return -id;
    o.partition_size = (size_t)psize;
    if (keygen != NULL && o.has_nvs_keys) return mp_err(MP_ERR_USAGE, "factory-data pack: --esp32-nvs-keys or --esp32-nvs-keygen, not both");
    if ((xconf == NULL) != (xvals == NULL)) return mp_err(MP_ERR_USAGE, "factory-data pack: --esp32-extra-config and --esp32-extra-values go together");
    if (xconf != NULL) {
        mp_fd_extras *x = calloc(1, sizeof(*x));
        if (x == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
        o.extras = x; /* freed by fd_pack_main */
        if ((rc = mp_fd_extras_load(xconf, xvals, x)) != MP_OK) return rc;
        if (x->nrows != 1) return mp_err(MP_ERR_USAGE, "%s: %zu rows; pack takes one device (build takes one row per device)", xvals, x->nrows);
    }
    if ((rc = mp_check_output(out, force)) != MP_OK || (keygen != NULL && (rc = mp_check_output(keygen, force)) != MP_OK)) return rc;
    if (keygen != NULL) { /* the keys partition first: an image no key opens is never written */
        uint8_t part[MP_NVS_KEYS_SIZE];
        rc = mp_fd_nvs_keys_new(&o, part);
        if (rc == MP_OK) rc = mp_write_file(keygen, part, sizeof(part), 0600, force);
        mp_wipe(part, sizeof(part));
        if (rc != MP_OK) return rc;
    }
    rc = pack_file(dev, format, &o, out, force);
    return rc;
#undef o
}

/* The options hold the AES key: wiped on every path. */
int fd_pack_main(mp_cmd *mc, int argc, char **argv)
{
    (void)mc;
    mp_fd_opts o = {0};
    int rc = pack_main(argc, argv, &o);
    if (o.extras != NULL) {
        mp_fd_extras_free((mp_fd_extras *)o.extras);
        free((void *)o.extras);
    }
    mp_wipe(&o, sizeof(o));
    return rc;
}
