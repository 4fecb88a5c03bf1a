/* fd.c - mp_fd_device, validation, and dispatch to the formats (fd.h). */
#include "fd_int.h"

#include <string.h>

#include <openssl/crypto.h>

#include "creds.h"
#include "util.h"

static const struct {
    const char *name, *ext;
} formats[] = {
    [MP_FD_NRF] = {"nrf", "nrf.cbor"},
    [MP_FD_NRF_JSON] = {"nrf-json", "nrf.json"},
    [MP_FD_ESP32] = {"esp32", "esp32.bin"},
    [MP_FD_ESP32_CSV] = {"esp32-csv", "esp32.csv"},
    [MP_FD_NXP] = {"nxp", "nxp.bin"},
    [MP_FD_JSON] = {"json", "json"},
};
#define NFORMATS ((int)(sizeof(formats) / sizeof(formats[0])))

void mp_fd_device_init(mp_fd_device *d)
{
    memset(d, 0, sizeof(*d));
    d->product_finish = d->product_color = -1;
}

void mp_fd_device_wipe(mp_fd_device *d)
{
    OPENSSL_cleanse(d, sizeof(*d));
}

static void copy_str(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

void mp_fd_from_product(const mp_product *p, mp_fd_device *d)
{
    d->vendor_id = p->vendor_id;
    d->product_id = p->product_id;
    copy_str(d->vendor_name, sizeof(d->vendor_name), p->vendor_name);
    copy_str(d->product_name, sizeof(d->product_name), p->product_name);
    copy_str(d->product_label, sizeof(d->product_label), p->product_label);
    copy_str(d->product_url, sizeof(d->product_url), p->product_url);
    copy_str(d->part_number, sizeof(d->part_number), p->part_number);
    copy_str(d->hw_ver_str, sizeof(d->hw_ver_str), p->hardware_version_string);
    d->hw_ver = p->hardware_version;
    d->product_finish = p->product_finish;
    d->product_color = p->product_color;
}

int mp_fd_format_parse(const char *name)
{
    for (int i = 1; i < NFORMATS; i++) {
        if (strcmp(name, formats[i].name) == 0) return i;
    }
    return 0;
}

const char *mp_fd_format_name(int f) { return f > 0 && f < NFORMATS ? formats[f].name : "?"; }
const char *mp_fd_format_ext(int f) { return f > 0 && f < NFORMATS ? formats[f].ext : "bin"; }

int mp_fd_needs_dac_key(int f)
{
    return f == MP_FD_NRF || f == MP_FD_NRF_JSON || f == MP_FD_ESP32 || f == MP_FD_ESP32_CSV || f == MP_FD_NXP;
}

static int starts_json(const uint8_t *b, size_t n)
{
    size_t i = 0;
    while (i < n && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t')) i++;
    return i < n && b[i] == '{';
}

/* Text starting with '{': MP_FD_JSON when it is an object with matter-pki's
 * "format", MP_FD_NRF_JSON when it has none but a key only the nRF layout
 * uses, 0 when it says neither (not JSON, or no telling key). */
static int json_kind(const uint8_t *b, size_t n)
{
    static const char *const nrf_only[] = {"sn", "spake2_it", "spake2_salt", "spake2_verifier", "hw_ver", "date"};
    int kind = 0;
    if (!starts_json(b, n)) return 0;
    json_t *j = json_loadb((const char *)b, n, 0, NULL);
    if (json_is_object(j) && json_object_get(j, "format") != NULL) kind = MP_FD_JSON;
    for (size_t k = 0; kind == 0 && json_is_object(j) && k < sizeof(nrf_only) / sizeof(nrf_only[0]); k++) {
        if (json_object_get(j, nrf_only[k]) != NULL) kind = MP_FD_NRF_JSON;
    }
    json_t *key = json_object_get(j, "dac_key"); /* jansson does not wipe what it frees */
    if (json_is_string(key)) OPENSSL_cleanse((char *)json_string_value(key), json_string_length(key));
    json_decref(j);
    return kind;
}

int mp_fd_detect(const uint8_t *b, size_t n)
{
    if (n >= 12 && b[0] == 0x5E && b[1] == 0xBA && b[2] == 0x47 && b[3] == 0xCE) return MP_FD_NXP;
    if (n >= 4096 && n % 4096 == 0 && b[1] == 0xFF && b[2] == 0xFF && b[3] == 0xFF &&
        (b[0] == 0xFE || b[0] == 0xFC)) return MP_FD_ESP32;
    if (n >= 1 && b[0] >= 0xA0 && b[0] <= 0xBB) return MP_FD_NRF;
    static const char csv_head[] = "key,type,encoding,value";
    if (n > strlen(csv_head) && memcmp(b, csv_head, strlen(csv_head)) == 0 &&
        (b[strlen(csv_head)] == '\n' || b[strlen(csv_head)] == '\r')) return MP_FD_ESP32_CSV;
    if (starts_json(b, n)) return json_kind(b, n) == MP_FD_NRF_JSON ? MP_FD_NRF_JSON : MP_FD_JSON;
    return 0;
}

/* File name suffix -> format (the longest extension that matches). */
static int by_suffix(const char *name)
{
    size_t n = strlen(name), best = 0;
    int f = 0;
    for (int i = 1; i < NFORMATS; i++) {
        size_t e = strlen(formats[i].ext);
        if (n > e && name[n - e - 1] == '.' && strcmp(name + n - e, formats[i].ext) == 0 && e > best) {
            best = e;
            f = i;
        }
    }
    return f;
}

int mp_fd_detect_file(const char *name, const uint8_t *buf, size_t len)
{
    int s = by_suffix(name), c = mp_fd_detect(buf, len);
    if (c == MP_FD_JSON && s == MP_FD_NRF_JSON && json_kind(buf, len) == 0) return s;
    return c ? c : s;
}

/* Fields every image must carry (complete data, never a silent fallback). */
static const int required[] = {F_SN, F_VID, F_PID, F_VNAME, F_PNAME, F_DATE, F_HWVERSTR,
                               F_DAC, F_PAI, F_ITER, F_SALT, F_VERIFIER};

static int check_format(int format, const mp_fd_device *d)
{
    const char *fn = mp_fd_format_name(format);
    if (mp_fd_needs_dac_key(format) && !d->has_dac_key) {
        return mp_err(MP_ERR_INVALID, "format %s stores the DAC private key, but this device's key is not available (chip-held key): use a format without the key (json)", fn);
    }
    if ((format == MP_FD_ESP32 || format == MP_FD_ESP32_CSV || format == MP_FD_NXP) && d->cd_len == 0) {
        return mp_err(MP_ERR_INVALID, "format %s: the certification declaration is required", fn);
    }
    if ((format == MP_FD_NRF || format == MP_FD_NRF_JSON || format == MP_FD_NXP) &&
        (strlen(d->mfg_date) != 10 || d->mfg_date[4] != '-' || d->mfg_date[7] != '-')) {
        return mp_err(MP_ERR_INVALID, "format %s: the manufacturing date must be exactly YYYY-MM-DD (is '%s')", fn, d->mfg_date);
    }
    if (format == MP_FD_NXP && d->rd_uid_len > 16) {
        return mp_err(MP_ERR_INVALID, "format nxp: the rotating device ID unique ID is stored as at most 32 hex characters, so at most 16 bytes (is %zu)", d->rd_uid_len);
    }
    return MP_OK;
}

int mp_fd_validate(int format, const mp_fd_device *d)
{
    fd_value v;
    int rc;
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!fd_get(d, required[i], &v)) {
            return mp_err(MP_ERR_INVALID, "device: %s is required", fd_field_name(required[i]));
        }
    }
    for (int f = 0; f < F_COUNT; f++) {
        if (fd_get(d, f, &v) && (rc = fd_check(f, &v, "device", fd_field_name(f))) != MP_OK) {
            return rc;
        }
    }
    if ((rc = mp_serial_check("device", d->serial)) != MP_OK) return rc;
    if (d->passcode != 0 && (rc = mp_passcode_check("device", d->passcode)) != MP_OK) return rc;
    return check_format(format, d);
}

int mp_fd_pack(int format, const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len)
{
    int rc = mp_fd_validate(format, d);
    *out = NULL;
    *len = 0;
    if (rc != MP_OK) return rc;
    switch (format) {
    case MP_FD_NRF: return fd_nrf_pack(d, out, len);
    case MP_FD_NRF_JSON: return fd_nrf_json_pack(d, out, len);
    case MP_FD_ESP32: return fd_esp32_pack(d, o && o->partition_size ? o->partition_size : MP_FD_ESP32_DEFAULT_SIZE, out, len);
    case MP_FD_ESP32_CSV: return fd_esp32_csv_pack(d, out, len);
    case MP_FD_NXP: return fd_nxp_pack(d, out, len);
    case MP_FD_JSON: return fd_json_pack(d, out, len);
    default: return mp_err(MP_ERR_USAGE, "unknown factory-data format %d", format);
    }
}

int mp_fd_unpack(int format, const uint8_t *buf, size_t len, mp_fd_device *d)
{
    int rc;
    mp_fd_device_init(d);
    switch (format) {
    case MP_FD_NRF: rc = fd_nrf_unpack(buf, len, d); break;
    case MP_FD_NRF_JSON: rc = fd_nrf_json_unpack(buf, len, d); break;
    case MP_FD_ESP32: rc = fd_esp32_unpack(buf, len, d); break;
    case MP_FD_ESP32_CSV: rc = fd_esp32_csv_unpack(buf, len, d); break;
    case MP_FD_NXP: rc = fd_nxp_unpack(buf, len, d); break;
    case MP_FD_JSON: rc = fd_json_unpack(buf, len, d); break;
    default: return mp_err(MP_ERR_USAGE, "unknown factory-data format %d", format);
    }
    if (rc == MP_OK) rc = mp_fd_validate(format, d);
    if (rc != MP_OK) mp_fd_device_wipe(d);
    return rc;
}
