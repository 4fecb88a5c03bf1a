/*
 * fd_nrf.c - nRF Connect factory data: one definite-length CBOR map with
 * text keys; integers as shortest unsigned ints, every string and byte value
 * as a byte string (what FactoryDataParser.c expects), and the SDK
 * generator's JSON form ("hex:" byte values), both read back by inspect.
 * factory-data.md section 4.
 */
#include "fd_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util.h"

#define NRF_VERSION 1

static const fd_map nrf_map[] = {
    {F_SN, "sn", 0, E_TEXT, 0},
    {F_VID, "vendor_id", 0, E_INT, 0},
    {F_PID, "product_id", 0, E_INT, 0},
    {F_VNAME, "vendor_name", 0, E_TEXT, 0},
    {F_PNAME, "product_name", 0, E_TEXT, 0},
    {F_PLABEL, "product_label", 0, E_TEXT, 0},
    {F_PURL, "product_url", 0, E_TEXT, 0},
    {F_PARTNO, "part_number", 0, E_TEXT, 0},
    {F_DATE, "date", 0, E_TEXT, 0},
    {F_HWVER, "hw_ver", 0, E_INT, 0},
    {F_HWVERSTR, "hw_ver_str", 0, E_TEXT, 0},
    {F_RDUID, "rd_uid", 0, E_RAW, 0},
    {F_DAC, "dac_cert", 0, E_RAW, 0},
    {F_DACKEY, "dac_key", 0, E_RAW, 0},
    {F_PAI, "pai_cert", 0, E_RAW, 0},
    {F_PASSCODE, "passcode", 0, E_INT, 0},
    {F_ITER, "spake2_it", 0, E_INT, 0},
    {F_SALT, "spake2_salt", 0, E_RAW, 0},
    {F_VERIFIER, "spake2_verifier", 0, E_RAW, 0},
    {F_DISC, "discriminator", 0, E_INT, 0},
    {F_FINISH, "product_finish", 0, E_INT, 0},
    {F_COLOR, "primary_color", 0, E_INT, 0},
};
#define NMAP (sizeof(nrf_map) / sizeof(nrf_map[0]))

/* CBOR head: major type and argument, shortest form. */
static void head(fd_buf *b, int major, uint64_t v)
{
    uint8_t h[9];
    size_t n = 1;
    if (v < 24) {
        h[0] = (uint8_t)(major << 5 | v);
    } else {
        int w = v <= 0xFF ? 1 : v <= 0xFFFF ? 2 : v <= 0xFFFFFFFF ? 4 : 8;
        h[0] = (uint8_t)(major << 5 | (w == 1 ? 24 : w == 2 ? 25 : w == 4 ? 26 : 27));
        for (int i = 0; i < w; i++) h[1 + i] = (uint8_t)(v >> (8 * (w - 1 - i)));
        n = 1 + (size_t)w;
    }
    fd_put(b, h, n);
}

static void text(fd_buf *b, const char *s)
{
    head(b, 3, strlen(s));
    fd_put(b, s, strlen(s));
}

int fd_nrf_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len)
{
    (void)o;
    fd_buf b = {0};
    fd_value v;
    size_t n = 1;
    for (size_t i = 0; i < NMAP; i++) n += (size_t)fd_get(d, nrf_map[i].field, &v);
    head(&b, 5, n);
    text(&b, "version");
    head(&b, 0, NRF_VERSION);
    for (size_t i = 0; i < NMAP; i++) {
        if (!fd_get(d, nrf_map[i].field, &v)) continue;
        text(&b, nrf_map[i].key);
        if (v.kind == K_UINT) {
            head(&b, 0, v.u);
        } else {
            head(&b, 2, v.len);
            fd_put(&b, v.p, v.len);
        }
    }
    return fd_take(&b, out, len);
}

/* ---- decoding ------------------------------------------------------------ */

typedef struct cbor {
    const uint8_t *p;
    size_t n, i;
} cbor;

/* Read a head; returns 0 or -1 (truncated, indefinite or reserved). */
static int rd_head(cbor *c, int *major, uint64_t *arg)
{
    if (c->i >= c->n) return -1;
    uint8_t h = c->p[c->i++];
    int ai = h & 31, w;
    *major = h >> 5;
    if (ai < 24) {
        *arg = (uint64_t)ai;
        return 0;
    }
    if (ai > 27) return -1;
    w = 1 << (ai - 24);
    if (c->n - c->i < (size_t)w) return -1;
    *arg = 0;
    for (int k = 0; k < w; k++) *arg = *arg << 8 | c->p[c->i++];
    return 0;
}

/* Skip one data item (for unknown keys such as "user"). */
static int skip(cbor *c, int depth)
{
    int major;
    uint64_t arg;
    if (depth > 8 || rd_head(c, &major, &arg) != 0) return -1;
    if (major == 2 || major == 3) {
        if (arg > c->n - c->i) return -1;
        c->i += (size_t)arg;
    } else if (major == 4 || major == 5) {
        uint64_t items = major == 5 ? 2 * arg : arg;
        if (items > c->n) return -1;
        for (uint64_t k = 0; k < items; k++) {
            if (skip(c, depth + 1) != 0) return -1;
        }
    } else if (major == 6) {
        return skip(c, depth + 1);
    }
    return 0;
}

static int pair(cbor *c, mp_fd_device *d, int *version)
{
    int major;
    uint64_t klen, arg;
    if (rd_head(c, &major, &klen) != 0 || major != 3 || klen > c->n - c->i) {
        return mp_err(MP_ERR_INVALID, "nrf: byte %zu: expected a text key", c->i);
    }
    const char *key = (const char *)c->p + c->i;
    c->i += (size_t)klen;
    const fd_map *m = fd_map_key(nrf_map, NMAP, key, (size_t)klen);
    int is_version = klen == 7 && memcmp(key, "version", 7) == 0;
    if (m == NULL && !is_version) {
        return skip(c, 0) == 0 ? MP_OK : mp_err(MP_ERR_INVALID, "nrf: malformed value of key '%.*s'", (int)klen, key);
    }
    size_t at = c->i;
    if (rd_head(c, &major, &arg) != 0 || (major != 0 && major != 2) || (major == 2 && arg > c->n - c->i)) {
        return mp_err(MP_ERR_INVALID, "nrf: byte %zu: key '%.*s': expected an unsigned integer or a byte string", at, (int)klen, key);
    }
    int want = is_version || m->enc == E_INT ? 0 : 2;
    if (major != want) {
        return mp_err(MP_ERR_INVALID, "nrf: key '%.*s': expected %s", (int)klen, key, want ? "a byte string" : "an unsigned integer");
    }
    if (is_version) {
        *version = (int)(arg > 0xFFFF ? -1 : (int)arg);
        return MP_OK;
    }
    const uint8_t *val = c->p + c->i;
    if (major == 2) c->i += (size_t)arg;
    return fd_decode_set(d, m, val, major == 2 ? (size_t)arg : 0, major == 0 ? arg : 0, "nrf");
}

int fd_nrf_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d)
{
    (void)o;
    cbor c = {buf, len, 0};
    int major, rc, version = -1;
    uint64_t n;
    if (rd_head(&c, &major, &n) != 0 || major != 5) {
        return mp_err(MP_ERR_INVALID, "nrf: expected a definite-length CBOR map at offset 0");
    }
    for (uint64_t k = 0; k < n; k++) {
        if ((rc = pair(&c, d, &version)) != MP_OK) return rc;
    }
    /* Nordic's partition tool ends the map with one zero byte; the firmware never reads past the map */
    for (size_t i = c.i + (c.i < len && buf[c.i] == 0x00); i < len; i++) {
        if (buf[i] != 0xFF) return mp_err(MP_ERR_INVALID, "nrf: byte %zu after the map is not erased flash (0xFF)", i);
    }
    if (version != NRF_VERSION) {
        return mp_err(MP_ERR_INVALID, "nrf: 'version' is %d; this tool writes and reads version %d", version, NRF_VERSION);
    }
    return MP_OK;
}

/* ---- the SDK generator's JSON -------------------------------------------- */

int fd_nrf_json_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len)
{
    (void)o;
    mp_json_wipe_frees(); /* the tree and json_dumps's growing buffer hold the key's hex */
    json_t *j = json_object();
    fd_value v;
    char *hex = NULL;
    int rc = MP_OK;
    json_object_set_new(j, "version", json_integer(NRF_VERSION));
    for (size_t i = 0; i < NMAP && rc == MP_OK; i++) {
        if (!fd_get(d, nrf_map[i].field, &v)) continue;
        if (v.kind == K_UINT) {
            json_object_set_new(j, nrf_map[i].key, json_integer((json_int_t)v.u));
        } else if (nrf_map[i].enc == E_TEXT) {
            json_object_set_new(j, nrf_map[i].key, json_stringn((const char *)v.p, v.len));
        } else if ((hex = malloc(2 * v.len + 5)) == NULL) {
            rc = mp_err(MP_ERR_GENERAL, "out of memory");
        } else {
            memcpy(hex, "hex:", 4);
            mp_hex(v.p, v.len, hex + 4, 0);
            json_object_set_new(j, nrf_map[i].key, json_string(hex));
            mp_free_secret(hex, 2 * v.len + 5);
        }
    }
    char *s = rc == MP_OK ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j); /* wiped as it is freed (mp_json_wipe_frees) */
    if (rc == MP_OK && s == NULL) rc = mp_err(MP_ERR_GENERAL, "out of memory");
    if (rc == MP_OK) {
        *len = strlen(s);
        s[*len] = '\n'; /* replace NUL by a final newline; the buffer is not a C string */
        *len += 1;
        *out = (uint8_t *)s;
    }
    return rc;
}

/* One key of the SDK generator's JSON: integers as JSON integers, strings as
 * strings, bytes as "hex:" and hex digits. */
static int json_pair(const char *key, json_t *val, mp_fd_device *d)
{
    const fd_map *m = fd_map_key(nrf_map, NMAP, key, strlen(key));
    const char *s = json_is_string(val) ? json_string_value(val) : NULL;
    size_t n = s ? json_string_length(val) : 0;
    if (m == NULL) return mp_err(MP_ERR_INVALID, "nrf-json: unknown key '%.64s'", key);
    if (m->enc == E_INT) {
        if (!json_is_integer(val) || json_integer_value(val) < 0) {
            return mp_err(MP_ERR_INVALID, "nrf-json: key '%s': expected a non-negative integer", key);
        }
        return fd_decode_set(d, m, NULL, 0, (uint64_t)json_integer_value(val), "nrf-json");
    }
    if (m->enc == E_TEXT) {
        if (s == NULL) return mp_err(MP_ERR_INVALID, "nrf-json: key '%s': expected a string", key);
        if (m->field == F_DATE && (n != 10 || s[4] != '-' || s[7] != '-')) { /* the schema's pattern */
            return mp_err(MP_ERR_INVALID, "nrf-json: key 'date': '%.16s'; expected exactly YYYY-MM-DD", s);
        }
        return fd_decode_set(d, m, (const uint8_t *)s, n, 0, "nrf-json");
    }
    if (s == NULL || n < 4 || memcmp(s, "hex:", 4) != 0) {
        return mp_err(MP_ERR_INVALID, "nrf-json: key '%s': expected a string \"hex:\" followed by hex digits", key);
    }
    fd_map hex = *m;
    hex.enc = E_HEX;
    return fd_decode_set(d, &hex, (const uint8_t *)s + 4, n - 4, 0, "nrf-json");
}

/* Keys of the SDK schema that mp_fd_device does not carry: checked, then
 * ignored (the CBOR reader skips them too). */
static int sdk_only(const char *key, json_t *val, int *handled)
{
    const char *s = json_is_string(val) ? json_string_value(val) : "";
    uint8_t b[16];
    *handled = 1;
    if (strcmp(key, "user") == 0) {
        return json_is_object(val) ? MP_OK : mp_err(MP_ERR_INVALID, "nrf-json: key 'user': expected an object");
    }
    if (strcmp(key, "enable_key") == 0) {
        if (strncmp(s, "hex:", 4) != 0 || strlen(s) != 4 + 32 || mp_unhex(s + 4, b, sizeof(b)) != 16) {
            return mp_err(MP_ERR_INVALID, "nrf-json: key 'enable_key': expected \"hex:\" and 16 bytes in hex");
        }
        return MP_OK;
    }
    *handled = 0;
    return MP_OK;
}

int fd_nrf_json_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d)
{
    (void)o;
    json_error_t e;
    mp_json_wipe_frees(); /* the parser's buffers held the key's hex */
    json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &e), *val;
    const char *k;
    int rc = MP_OK, handled;
    if (j == NULL) {
        char *near = strstr(e.text, " near "); /* "... near '<a piece of the input>'": maybe of the key */
        if (near != NULL) mp_wipe(near, sizeof(e.text) - (size_t)(near - e.text));
        rc = mp_err(MP_ERR_INVALID, "nrf-json:%d:%d: %s", e.line, e.column, e.text);
        mp_wipe(e.text, sizeof(e.text));
        return rc;
    }
    json_t *ver = json_object_get(j, "version");
    if (!json_is_object(j)) {
        rc = mp_err(MP_ERR_INVALID, "nrf-json: expected a JSON object");
    } else if (!json_is_integer(ver) || json_integer_value(ver) != NRF_VERSION) {
        rc = mp_err(MP_ERR_INVALID, "nrf-json: key 'version' must be the integer %d", NRF_VERSION);
    }
    json_object_foreach(j, k, val) {
        if (rc != MP_OK) break;
        if (strcmp(k, "version") == 0) continue;
        if ((rc = sdk_only(k, val, &handled)) == MP_OK && !handled) rc = json_pair(k, val, d);
    }
    json_decref(j); /* every block wiped as it is freed (mp_json_wipe_frees) */
    return rc;
}

/* A CBOR map (major type 5) with up to 27 pairs or a 1-byte count. */
int fd_nrf_detect(const uint8_t *b, size_t n)
{
    return n >= 1 && b[0] >= 0xA0 && b[0] <= 0xBB ? 2 : 0;
}

int fd_nrf_json_detect(const uint8_t *b, size_t n)
{
    return fd_json_kind(b, n) == MP_FD_NRF_JSON ? 2 : 0;
}
