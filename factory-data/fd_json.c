/*
 * fd_json.c - matter-pki's platform-neutral factory-data JSON (README,
 * "Factory data JSON"): every field under a readable name; certificates and
 * the CD as base64 DER, salt and verifier base64 (as the SDK tools print
 * them), rd_uid and dac_key as lowercase hex.
 */
#include "fd_int.h"

#include <stdlib.h>
#include <string.h>

#include "jw.h"
#include "util.h"

#define JSON_FORMAT "matter-pki-factory-data"
#define JSON_VERSION 1

static const fd_map json_map[] = {
    {F_SN, "serial_number", 0, E_TEXT, 0},
    {F_VID, "vendor_id", 0, E_INT, 0},
    {F_PID, "product_id", 0, E_INT, 0},
    {F_VNAME, "vendor_name", 0, E_TEXT, 0},
    {F_PNAME, "product_name", 0, E_TEXT, 0},
    {F_PLABEL, "product_label", 0, E_TEXT, 0},
    {F_PURL, "product_url", 0, E_TEXT, 0},
    {F_PARTNO, "part_number", 0, E_TEXT, 0},
    {F_DATE, "manufacturing_date", 0, E_TEXT, 0},
    {F_HWVER, "hardware_version", 0, E_INT, 0},
    {F_HWVERSTR, "hardware_version_string", 0, E_TEXT, 0},
    {F_FINISH, "product_finish", 0, E_INT, 0},
    {F_COLOR, "product_color", 0, E_INT, 0},
    {F_DISC, "discriminator", 0, E_INT, 0},
    {F_PASSCODE, "passcode", 0, E_INT, 0},
    {F_ITER, "spake2p_iterations", 0, E_INT, 0},
    {F_SALT, "spake2p_salt", 0, E_B64, 0},
    {F_VERIFIER, "spake2p_verifier", 0, E_B64, 0},
    {F_RDUID, "rd_uid", 0, E_HEX, 0},
    {F_DAC, "dac_cert", 0, E_B64, 0},
    {F_PAI, "pai_cert", 0, E_B64, 0},
    {F_CD, "certification_declaration", 0, E_B64, 0},
    {F_DACKEY, "dac_key", 0, E_HEX, 0},
};
#define NMAP (sizeof(json_map) / sizeof(json_map[0]))

json_t *mp_fd_to_json(const mp_fd_device *d, int with_key)
{
    uint8_t scratch[FD_SCRATCH];
    mp_json_wipe_frees(); /* the tree may hold the key's hex and the passcode */
    json_t *j = json_object();
    fd_value v, s;
    json_object_set_new(j, "format", json_string(JSON_FORMAT));
    json_object_set_new(j, "version", json_integer(JSON_VERSION));
    for (size_t i = 0; i < NMAP; i++) {
        const fd_map *m = &json_map[i];
        if (!fd_get(d, m->field, &v)) continue;
        if (m->field == F_DACKEY && !with_key) {
            json_object_set_new(j, "dac_key", json_true());
        } else if (v.kind == K_UINT) {
            json_object_set_new(j, m->key, json_integer((json_int_t)v.u));
        } else if (fd_encode(m, &v, scratch, sizeof(scratch), &s) == MP_OK) {
            json_object_set_new(j, m->key, json_stringn((const char *)s.p, s.len));
        }
    }
    if (!with_key && !d->has_dac_key) json_object_set_new(j, "dac_key", json_false());
    mp_wipe(scratch, sizeof(scratch));
    return j;
}

static int json_field(const char *where, const fd_map *m, json_t *val, mp_fd_device *d)
{
    if (fd_field_kind(m->field) == K_UINT) {
        if (!json_is_integer(val) || json_integer_value(val) < 0) {
            return mp_err(MP_ERR_INVALID, "%s: field '%s' must be a non-negative integer", where, m->key);
        }
        return fd_decode_set(d, m, NULL, 0, (uint64_t)json_integer_value(val), where);
    }
    if (!json_is_string(val)) return mp_err(MP_ERR_INVALID, "%s: field '%s' must be a string", where, m->key);
    return fd_decode_set(d, m, (const uint8_t *)json_string_value(val), json_string_length(val), 0, where);
}

int mp_fd_from_json(const char *where, json_t *j, mp_fd_device *d)
{
    const char *k;
    json_t *val;
    int rc;
    if (!json_is_object(j)) return mp_err(MP_ERR_INVALID, "%s: expected a JSON object", where);
    json_t *f = json_object_get(j, "format"), *ver = json_object_get(j, "version");
    if (!json_is_string(f) || strcmp(json_string_value(f), JSON_FORMAT) != 0) {
        return mp_err(MP_ERR_INVALID, "%s: field 'format' must be \"%s\"", where, JSON_FORMAT);
    }
    if (!json_is_integer(ver) || json_integer_value(ver) != JSON_VERSION) {
        return mp_err(MP_ERR_INVALID, "%s: field 'version' must be %d", where, JSON_VERSION);
    }
    json_object_foreach(j, k, val) {
        if (strcmp(k, "format") == 0 || strcmp(k, "version") == 0) continue;
        const fd_map *m = fd_map_key(json_map, NMAP, k, strlen(k));
        if (m == NULL) return mp_err(MP_ERR_INVALID, "%s: unknown field '%s'", where, k);
        if ((rc = json_field(where, m, val, d)) != MP_OK) return rc;
    }
    return MP_OK;
}

/* Per device in a batch: written straight to text (the same bytes as
 * json_dumps of mp_fd_to_json(d, 1) with JSON_INDENT(2)), no jansson tree. */
int fd_json_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len)
{
    (void)o;
    uint8_t scratch[FD_SCRATCH];
    fd_value v, s;
    mp_jw w;
    mp_jw_init(&w, 2, 8192);
    mp_jw_open(&w);
    mp_jw_key_cstr(&w, "format", JSON_FORMAT);
    mp_jw_key_int(&w, "version", JSON_VERSION);
    for (size_t i = 0; i < NMAP; i++) {
        const fd_map *m = &json_map[i];
        if (!fd_get(d, m->field, &v)) continue;
        if (v.kind == K_UINT) {
            mp_jw_key_int(&w, m->key, (long long)v.u);
        } else if (fd_encode(m, &v, scratch, sizeof(scratch), &s) == MP_OK) {
            mp_jw_key_str(&w, m->key, (const char *)s.p, s.len);
        }
    }
    mp_jw_close(&w);
    mp_wipe(scratch, sizeof(scratch));
    char *t = mp_jw_take(&w, len);
    if (t == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    t[(*len)++] = '\n'; /* over the NUL: the image is the bytes, not a C string */
    *out = (uint8_t *)t;
    return MP_OK;
}

/* The tree's copies of the secrets (the DAC key's hex, the passcode) are
 * wiped before jansson frees them. */
static void wipe_secrets(json_t *j)
{
    json_t *k = json_object_get(j, "dac_key"), *p = json_object_get(j, "passcode");
    if (json_is_string(k)) mp_wipe((void *)json_string_value(k), json_string_length(k));
    if (json_is_integer(p)) json_integer_set(p, 0);
}

int fd_json_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d)
{
    (void)o;
    json_error_t e;
    mp_json_wipe_frees(); /* the parser's token buffers and a tree cut short by an error too */
    json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &e);
    if (j == NULL) {
        mp_wipe(e.text, sizeof(e.text)); /* may quote a piece of the input */
        return mp_err(MP_ERR_INVALID, "json:%d:%d: syntax error", e.line, e.column);
    }
    int rc = mp_fd_from_json("json", j, d);
    wipe_secrets(j);
    json_decref(j);
    return rc;
}

int fd_json_kind(const uint8_t *b, size_t n)
{
    static const char *const nrf_only[] = {"sn", "spake2_it", "spake2_salt", "spake2_verifier", "hw_ver", "date"};
    size_t i = 0;
    int kind = 0;
    while (i < n && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t')) i++;
    if (i >= n || b[i] != '{') return -1;
    mp_json_wipe_frees();
    json_t *j = json_loadb((const char *)b, n, 0, NULL);
    if (json_is_object(j) && json_object_get(j, "format") != NULL) kind = MP_FD_JSON;
    for (size_t k = 0; kind == 0 && json_is_object(j) && k < sizeof(nrf_only) / sizeof(nrf_only[0]); k++) {
        if (json_object_get(j, nrf_only[k]) != NULL) kind = MP_FD_NRF_JSON;
    }
    wipe_secrets(j); /* jansson does not wipe what it frees */
    json_decref(j);
    return kind;
}

/* Any JSON object the nRF test does not claim: surely ours when it says
 * "format", else a fallback guess (the reader names what is wrong). */
int fd_json_detect(const uint8_t *b, size_t n)
{
    int k = fd_json_kind(b, n);
    return k == MP_FD_JSON ? 2 : k == 0 ? 1 : 0;
}
