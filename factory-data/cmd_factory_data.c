/* cmd_factory_data.c - `factory-data verifier` and `pack` (`inspect`: inspect.c). */
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
