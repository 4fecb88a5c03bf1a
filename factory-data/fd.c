/* fd.c - mp_fd_device, validation, and dispatch to the formats (fd.h). */
#include "fd_int.h"

#include <string.h>

#include <openssl/crypto.h>

#include "creds.h"
#include "util.h"

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
    for (const mp_fd_format_desc *f = mp_fd_formats; f->id != 0; f++) {
        if (strcmp(name, f->name) == 0) return f->id;
    }
    return 0;
}

const char *mp_fd_format_name(int format)
{
    const mp_fd_format_desc *f = mp_fd_format(format);
    return f ? f->name : "?";
}

const char *mp_fd_format_ext(int format)
{
    const mp_fd_format_desc *f = mp_fd_format(format);
    return f ? f->ext : "bin";
}

int mp_fd_needs_dac_key(int format)
{
    const mp_fd_format_desc *f = mp_fd_format(format);
    return f != NULL && (f->flags & MP_FDF_KEY) != 0;
}

/* The ESP32 formats that can leave the key to an eFuse block named in the
 * esp_secure_cert partition. */
static int esp_family(int format)
{
    return format == MP_FD_ESP32_SC || format == MP_FD_ESP32 || format == MP_FD_ESP32_CSV || format == MP_FD_ESP32_ENC;
}

int mp_fd_needs_dac_key_with(int format, const mp_fd_opts *o)
{
    return mp_fd_needs_dac_key(format) && !(o != NULL && o->has_esp_ecdsa && esp_family(format));
}

/* The format whose content test is surest (the first such row on a tie);
 * *score 2 sure, 1 a fallback guess, 0 none. */
static int detect(const uint8_t *b, size_t n, int *score)
{
    int best = 0;
    *score = 0;
    for (const mp_fd_format_desc *f = mp_fd_formats; f->id != 0; f++) {
        int s = f->detect ? f->detect(b, n) : 0;
        if (s > *score) {
            *score = s;
            best = f->id;
        }
    }
    return best;
}

int mp_fd_detect(const uint8_t *b, size_t n)
{
    int score;
    return detect(b, n, &score);
}

/* File name suffix -> format (the longest extension that matches). */
static int by_suffix(const char *name)
{
    size_t n = strlen(name), best = 0;
    int id = 0;
    for (const mp_fd_format_desc *f = mp_fd_formats; f->id != 0; f++) {
        size_t e = strlen(f->ext);
        if (n > e && name[n - e - 1] == '.' && strcmp(name + n - e, f->ext) == 0 && e > best) {
            best = e;
            id = f->id;
        }
    }
    return id;
}

int mp_fd_detect_file(const char *name, const uint8_t *buf, size_t len)
{
    int score, s = by_suffix(name), c = detect(buf, len, &score);
    if (score == 1 && s != 0 && (mp_fd_format(s)->flags & MP_FDF_SUFFIX)) return s;
    return c ? c : s;
}

/* Fields every image must carry (complete data, never a silent fallback). */
static const int required[] = {F_SN, F_VID, F_PID, F_VNAME, F_PNAME, F_DATE, F_HWVERSTR,
                               F_DAC, F_PAI, F_ITER, F_SALT, F_VERIFIER};

static int check_format(const mp_fd_format_desc *f, const mp_fd_device *d)
{
    const char *fn = f->name;
    if ((f->flags & MP_FDF_KEY) && !d->has_dac_key && !(d->key_efuse_block && esp_family(f->id))) {
        return mp_err(MP_ERR_INVALID, "format %s stores the DAC private key, but this device's key is not available (chip-held key): use a format without the key (json)", fn);
    }
    if ((f->flags & MP_FDF_CD) && d->cd_len == 0) {
        return mp_err(MP_ERR_INVALID, "format %s: the certification declaration is required", fn);
    }
    if ((f->flags & MP_FDF_ISO_DATE) && (strlen(d->mfg_date) != 10 || d->mfg_date[4] != '-' || d->mfg_date[7] != '-')) {
        return mp_err(MP_ERR_INVALID, "format %s: the manufacturing date must be exactly YYYY-MM-DD (is '%s')", fn, d->mfg_date);
    }
    return f->check ? f->check(d) : MP_OK;
}

int mp_fd_validate(int format, const mp_fd_device *d)
{
    fd_value v;
    int rc;
    const mp_fd_format_desc *fm = mp_fd_format(format);
    int attest_only = fm != NULL && (fm->flags & MP_FDF_ATTEST); /* only DAC, PAI (and key) required */
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (attest_only && required[i] != F_DAC && required[i] != F_PAI) continue;
        if (!fd_get(d, required[i], &v)) {
            return mp_err(MP_ERR_INVALID, "device: %s is required", fd_field_name(required[i]));
        }
    }
    for (int f = 0; f < F_COUNT; f++) {
        if (fd_get(d, f, &v) && (rc = fd_check(f, &v, "device", fd_field_name(f))) != MP_OK) {
            return rc;
        }
    }
    if ((!attest_only || d->serial[0]) && (rc = mp_serial_check("device", d->serial)) != MP_OK) return rc;
    if (d->passcode != 0 && (rc = mp_passcode_check("device", d->passcode)) != MP_OK) return rc;
    const mp_fd_format_desc *f = mp_fd_format(format);
    if (f == NULL) return mp_err(MP_ERR_USAGE, "unknown factory-data format %d", format);
    return check_format(f, d);
}

int mp_fd_pack(int format, const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len)
{
    const mp_fd_format_desc *f = mp_fd_format(format);
    *out = NULL;
    *len = 0;
    if (f == NULL) return mp_err(MP_ERR_USAGE, "unknown factory-data format %d", format);
    int rc = mp_fd_validate(format, d);
    if (rc == MP_OK) rc = f->pack(d, o, out, len);
    if (rc == MP_OK && f->max_size != 0 && *len > f->max_size) {
        mp_free_secret(*out, *len);
        *out = NULL;
        rc = mp_err(MP_ERR_INVALID, "format %s: the image is %zu bytes; the platform reads at most %zu", f->name, *len, f->max_size);
        *len = 0;
    }
    if (rc == MP_OK && (f->flags & MP_FDF_FLASH) && o != NULL && o->partition_size != 0 && *len > o->partition_size) {
        rc = mp_err(MP_ERR_INVALID, "format %s: the image is %zu bytes; the partition (--partition-size) holds %zu", f->name, *len, o->partition_size);
        mp_free_secret(*out, *len);
        *out = NULL;
        *len = 0;
    }
    return rc;
}

int mp_fd_unpack(int format, const uint8_t *buf, size_t len, mp_fd_device *d)
{
    return mp_fd_unpack_with(format, buf, len, NULL, d);
}

int mp_fd_unpack_with(int format, const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d)
{
    const mp_fd_format_desc *f = mp_fd_format(format);
    mp_fd_device_init(d);
    if (f == NULL) return mp_err(MP_ERR_USAGE, "unknown factory-data format %d", format);
    int rc = f->unpack(buf, len, o, d);
    if (rc == MP_OK) rc = mp_fd_validate(format, d);
    if (rc != MP_OK) mp_fd_device_wipe(d);
    return rc;
}
