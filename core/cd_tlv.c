/* cd_tlv.c - CD content: field rules, SDK-exact encoder, SDK-like decoder. */
#include "cd.h"

#include <string.h>

#include "tlv.h"

enum {
    TAG_FORMAT_VERSION, TAG_VENDOR_ID, TAG_PRODUCT_IDS, TAG_DEVICE_TYPE, TAG_CERT_ID,
    TAG_SEC_LEVEL, TAG_SEC_INFO, TAG_VERSION, TAG_CERT_TYPE, TAG_ORIGIN_VID, TAG_ORIGIN_PID,
    TAG_PAA_LIST, TAG_FIRST_UNKNOWN,
};

static const char *const field_names[] = {
    "format_version", "vendor_id", "product_id_array", "device_type_id", "certificate_id",
    "security_level", "security_information", "version_number", "certification_type",
    "dac_origin_vendor_id", "dac_origin_product_id", "authorized_paa_list",
};

static int check_cert_id(const char *id)
{
    size_t n = strnlen(id, 20);
    if (n != MP_CD_CERT_ID_LEN) {
        return mp_err(MP_ERR_INVALID, "certificate_id: must be exactly %d characters (is %zu)", MP_CD_CERT_ID_LEN, n);
    }
    for (size_t i = 0; i < n; i++) {
        if (id[i] < 0x21 || id[i] > 0x7E) {
            return mp_err(MP_ERR_INVALID, "certificate_id: character %zu is not printable ASCII", i + 1);
        }
    }
    return MP_OK;
}

static int check_lists(const mp_cd *cd)
{
    if (cd->n_pids < 1 || cd->n_pids > MP_CD_MAX_PIDS) {
        return mp_err(MP_ERR_INVALID, "product_id_array: must hold 1..%d product IDs (has %zu)", MP_CD_MAX_PIDS, cd->n_pids);
    }
    for (size_t i = 0; i < cd->n_pids; i++) {
        if (cd->product_ids[i] == 0) {
            return mp_err(MP_ERR_INVALID, "product_id_array[%zu]: product ID 0 is not allowed", i);
        }
    }
    if (cd->has_paa_list && (cd->n_paas < 1 || cd->n_paas > MP_CD_MAX_PAAS)) {
        return mp_err(MP_ERR_INVALID, "authorized_paa_list: must hold 1..%d PAA key identifiers (has %zu)", MP_CD_MAX_PAAS, cd->n_paas);
    }
    if (!cd->has_paa_list && cd->n_paas != 0) {
        return mp_err(MP_ERR_INVALID, "authorized_paa_list: entries given but the list is marked absent");
    }
    return MP_OK;
}

int mp_cd_validate(const mp_cd *cd)
{
    if (cd->format_version != 1) {
        return mp_err(MP_ERR_INVALID, "format_version: must be 1 (is %u)", cd->format_version);
    }
    if (cd->vendor_id < 1 || cd->vendor_id > 0xFFF4) {
        return mp_err(MP_ERR_INVALID, "vendor_id: 0x%04X is out of range (0x0001..0xFFF4)", cd->vendor_id);
    }
    int rc = check_lists(cd);
    if (rc != MP_OK || (rc = check_cert_id(cd->certificate_id)) != MP_OK) {
        return rc;
    }
    if (cd->device_type_id >= 0x7FFFFFFF) {
        return mp_err(MP_ERR_INVALID, "device_type_id: must be below 2^31-1 (is %u)", cd->device_type_id);
    }
    if (cd->security_level != 0) {
        return mp_err(MP_ERR_INVALID, "security_level: must be 0 (is %u)", cd->security_level);
    }
    if (cd->security_information != 0) {
        return mp_err(MP_ERR_INVALID, "security_information: must be 0 (is %u)", cd->security_information);
    }
    if (cd->certification_type > 2) {
        return mp_err(MP_ERR_INVALID, "certification_type: must be 0 (development), 1 (provisional) or 2 (official) (is %u)", cd->certification_type);
    }
    if (cd->has_dac_origin && (cd->dac_origin_vid == 0 || cd->dac_origin_vid > 0xFFF4)) {
        return mp_err(MP_ERR_INVALID, "dac_origin_vendor_id: 0x%04X is out of range (0x0001..0xFFF4)", cd->dac_origin_vid);
    }
    if (cd->has_dac_origin && cd->dac_origin_pid == 0) {
        return mp_err(MP_ERR_INVALID, "dac_origin_product_id: product ID 0 is not allowed");
    }
    return MP_OK;
}

int mp_cd_encode(const mp_cd *cd, uint8_t *buf, size_t cap, size_t *len)
{
    mp_tlv_writer w;
    int rc = mp_cd_validate(cd);
    if (rc != MP_OK) {
        return rc;
    }
    mp_tlv_writer_init(&w, buf, cap);
    mp_tlv_start(&w, MP_TLV_ANON, MP_TLV_STRUCT);
    mp_tlv_put_uint(&w, mp_tlv_ctx(TAG_FORMAT_VERSION), cd->format_version);
    mp_tlv_put_uint(&w, mp_tlv_ctx(TAG_VENDOR_ID), cd->vendor_id);
    mp_tlv_start(&w, mp_tlv_ctx(TAG_PRODUCT_IDS), MP_TLV_ARRAY);
    for (size_t i = 0; i < cd->n_pids; i++) {
        mp_tlv_put_uint(&w, MP_TLV_ANON, cd->product_ids[i]);
    }
    mp_tlv_end(&w);
    mp_tlv_put_uint(&w, mp_tlv_ctx(TAG_DEVICE_TYPE), cd->device_type_id);
    mp_tlv_put_utf8(&w, mp_tlv_ctx(TAG_CERT_ID), cd->certificate_id, MP_CD_CERT_ID_LEN);
    mp_tlv_put_uint(&w, mp_tlv_ctx(TAG_SEC_LEVEL), cd->security_level);
    mp_tlv_put_uint(&w, mp_tlv_ctx(TAG_SEC_INFO), cd->security_information);
    mp_tlv_put_uint(&w, mp_tlv_ctx(TAG_VERSION), cd->version_number);
    mp_tlv_put_uint(&w, mp_tlv_ctx(TAG_CERT_TYPE), cd->certification_type);
    if (cd->has_dac_origin) {
        mp_tlv_put_uint(&w, mp_tlv_ctx(TAG_ORIGIN_VID), cd->dac_origin_vid);
        mp_tlv_put_uint(&w, mp_tlv_ctx(TAG_ORIGIN_PID), cd->dac_origin_pid);
    }
    if (cd->has_paa_list) {
        mp_tlv_start(&w, mp_tlv_ctx(TAG_PAA_LIST), MP_TLV_ARRAY);
        for (size_t i = 0; i < cd->n_paas; i++) {
            mp_tlv_put_bytes(&w, MP_TLV_ANON, cd->authorized_paas[i], 20);
        }
        mp_tlv_end(&w);
    }
    mp_tlv_end(&w);
    return mp_tlv_finish(&w, len);
}

/* ---- decoder -------------------------------------------------------------- */

static int dec_err(const mp_tlv_elem *e, const char *field, const char *why, const char *sdk)
{
    return mp_err(MP_ERR_INVALID, "CD TLV offset %zu: %s: %s (%s)", e->offset, field, why, sdk);
}

/* An unsigned integer of any width whose value fits max. */
static int get_uint(const mp_tlv_elem *e, const char *field, uint64_t max, uint64_t *out)
{
    if (e->type != MP_TLV_UINT) {
        return dec_err(e, field, "not an unsigned integer", "CHIP_ERROR_WRONG_TLV_TYPE");
    }
    if (e->v.u > max) {
        return dec_err(e, field, "value does not fit the field", "CHIP_ERROR_INVALID_INTEGER_VALUE");
    }
    *out = e->v.u;
    return MP_OK;
}

static int read_pids(mp_tlv_reader *r, mp_cd *cd)
{
    mp_tlv_elem e;
    uint64_t v = 0;
    int rc;
    for (;;) {
        if ((rc = mp_tlv_next(r, &e)) != MP_OK) return rc;
        if (e.type == MP_TLV_END) return MP_OK;
        if (cd->n_pids >= MP_CD_MAX_PIDS) {
            return dec_err(&e, "product_id_array", "more than 100 product IDs", "CHIP_ERROR_INVALID_ARGUMENT");
        }
        if ((rc = get_uint(&e, "product_id_array", 0xFFFF, &v)) != MP_OK) return rc;
        cd->product_ids[cd->n_pids++] = (uint16_t)v;
    }
}

static int read_paas(mp_tlv_reader *r, mp_cd *cd)
{
    mp_tlv_elem e;
    int rc;
    for (;;) {
        if ((rc = mp_tlv_next(r, &e)) != MP_OK) return rc;
        if (e.type == MP_TLV_END) return MP_OK;
        if (cd->n_paas >= MP_CD_MAX_PAAS) {
            return dec_err(&e, "authorized_paa_list", "more than 10 entries", "CHIP_ERROR_INVALID_ARGUMENT");
        }
        if (e.type != MP_TLV_BYTES) {
            return dec_err(&e, "authorized_paa_list", "entry is not an octet string", "CHIP_ERROR_WRONG_TLV_TYPE");
        }
        if (e.len != 20) {
            return dec_err(&e, "authorized_paa_list", "entry is not a 20-byte key identifier", "CHIP_ERROR_INVALID_TLV_ELEMENT");
        }
        memcpy(cd->authorized_paas[cd->n_paas++], e.data, 20);
    }
}

static int read_cert_id(const mp_tlv_elem *e, mp_cd *cd)
{
    if (e->type != MP_TLV_UTF8) {
        return dec_err(e, "certificate_id", "not a UTF-8 string", "CHIP_ERROR_WRONG_TLV_TYPE");
    }
    if (e->len != MP_CD_CERT_ID_LEN || memchr(e->data, 0, e->len) != NULL) {
        return dec_err(e, "certificate_id", "not exactly 19 characters", "CHIP_ERROR_INVALID_TLV_ELEMENT");
    }
    memcpy(cd->certificate_id, e->data, MP_CD_CERT_ID_LEN);
    cd->certificate_id[MP_CD_CERT_ID_LEN] = 0;
    return MP_OK;
}

/* One field of known tag t (already checked to be in order). */
static int read_field(mp_tlv_reader *r, const mp_tlv_elem *e, int t, mp_cd *cd)
{
    static const uint64_t max[] = {0xFFFF, 0xFFFF, 0, 0xFFFFFFFF, 0, 0xFF, 0xFFFF, 0xFFFF, 0xFF, 0xFFFF, 0xFFFF};
    uint64_t v = 0;
    int rc;
    if (t == TAG_PRODUCT_IDS || t == TAG_PAA_LIST) {
        if (e->type != MP_TLV_ARRAY) {
            return dec_err(e, field_names[t], "not an array", "CHIP_ERROR_WRONG_TLV_TYPE");
        }
        if (t == TAG_PAA_LIST) cd->has_paa_list = 1;
        return t == TAG_PRODUCT_IDS ? read_pids(r, cd) : read_paas(r, cd);
    }
    if (t == TAG_CERT_ID) {
        return read_cert_id(e, cd);
    }
    if ((rc = get_uint(e, field_names[t], max[t], &v)) != MP_OK) {
        return rc;
    }
    switch (t) {
    case TAG_FORMAT_VERSION: cd->format_version = (uint16_t)v; break;
    case TAG_VENDOR_ID: cd->vendor_id = (uint16_t)v; break;
    case TAG_DEVICE_TYPE: cd->device_type_id = (uint32_t)v; break;
    case TAG_SEC_LEVEL: cd->security_level = (uint8_t)v; break;
    case TAG_SEC_INFO: cd->security_information = (uint16_t)v; break;
    case TAG_VERSION: cd->version_number = (uint16_t)v; break;
    case TAG_CERT_TYPE: cd->certification_type = (uint8_t)v; break;
    case TAG_ORIGIN_VID: cd->dac_origin_vid = (uint16_t)v; break;
    default: cd->dac_origin_pid = (uint16_t)v; cd->has_dac_origin = 1; break;
    }
    return MP_OK;
}

/* Order rule for the tag of e, given the last known tag read (prev). */
static int check_order(const mp_tlv_elem *e, int t, int prev, int seen_unknown)
{
    if (t <= TAG_CERT_TYPE && t != prev + 1) {
        const char *want = prev + 1 <= TAG_CERT_TYPE ? field_names[prev + 1] : "no mandatory field";
        return mp_err(MP_ERR_INVALID, "CD TLV offset %zu: found %s (tag %d) where %s is expected (CHIP_ERROR_UNEXPECTED_TLV_ELEMENT)",
                      e->offset, field_names[t], t, want);
    }
    if (t == TAG_ORIGIN_PID && prev != TAG_ORIGIN_VID) {
        return dec_err(e, "dac_origin_product_id", "present without dac_origin_vendor_id right before it", "CHIP_ERROR_INVALID_TLV_ELEMENT");
    }
    if (prev == TAG_ORIGIN_VID && t != TAG_ORIGIN_PID) {
        return dec_err(e, "dac_origin_vendor_id", "not followed by dac_origin_product_id", "CHIP_ERROR_UNEXPECTED_TLV_ELEMENT");
    }
    if (t > TAG_CERT_TYPE && (t <= prev || seen_unknown)) {
        return dec_err(e, field_names[t], "out of order", "CHIP_ERROR_UNEXPECTED_TLV_ELEMENT");
    }
    return MP_OK;
}

static int read_fields(mp_tlv_reader *r, mp_cd *cd)
{
    mp_tlv_elem e;
    int prev = -1, seen_unknown = 0, rc;
    for (;;) {
        if ((rc = mp_tlv_next(r, &e)) != MP_OK) return rc;
        if (e.type == MP_TLV_END) break;
        int known = e.tag.form == MP_TLV_TAG_CONTEXT && e.tag.num < TAG_FIRST_UNKNOWN;
        if (!known) {
            if (prev < TAG_CERT_TYPE) {
                return dec_err(&e, field_names[prev + 1], "expected here", "CHIP_ERROR_UNEXPECTED_TLV_ELEMENT");
            }
            seen_unknown = 1;
            if (e.depth < r->depth && (rc = mp_tlv_skip(r)) != MP_OK) return rc;
            continue;
        }
        int t = (int)e.tag.num;
        if ((rc = check_order(&e, t, prev, seen_unknown)) != MP_OK ||
            (rc = read_field(r, &e, t, cd)) != MP_OK) {
            return rc;
        }
        prev = t;
    }
    if (prev < TAG_CERT_TYPE || prev == TAG_ORIGIN_VID) {
        const char *missing = field_names[prev == TAG_ORIGIN_VID ? TAG_ORIGIN_PID : prev + 1];
        return dec_err(&e, missing, "missing", prev == TAG_ORIGIN_VID ? "CHIP_ERROR_INVALID_TLV_ELEMENT" : "CHIP_END_OF_TLV");
    }
    return MP_OK;
}

int mp_cd_decode(const uint8_t *tlv, size_t len, mp_cd *cd)
{
    mp_tlv_reader r;
    mp_tlv_elem e;
    int rc;
    memset(cd, 0, sizeof(*cd));
    if (len > MP_CD_MAX_TLV) {
        return mp_err(MP_ERR_INVALID, "CD TLV is %zu bytes; at most %d accepted (CHIP_ERROR_BUFFER_TOO_SMALL)", len, MP_CD_MAX_TLV);
    }
    mp_tlv_reader_init(&r, tlv, len);
    if ((rc = mp_tlv_next(&r, &e)) != MP_OK) {
        return rc;
    }
    if (e.type != MP_TLV_STRUCT || e.tag.form != MP_TLV_TAG_ANON) {
        return dec_err(&e, "CD", "must be an anonymous structure", "CHIP_ERROR_WRONG_TLV_TYPE");
    }
    if ((rc = read_fields(&r, cd)) != MP_OK) {
        return rc;
    }
    if (r.off != len) {
        return mp_err(MP_ERR_INVALID, "CD TLV: %zu trailing byte(s) after the structure (CHIP_ERROR_UNEXPECTED_TLV_ELEMENT)", len - r.off);
    }
    return MP_OK;
}
