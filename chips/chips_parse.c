/* chips_parse.c - streaming CSV and JSON chip-list parsers (see chips.h). */
#include "chips/chips.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "util.h"

int mp_chip_entry_udid(const mp_chips_src *src, const char *udid, size_t len, mp_chip_entry *e)
{
    char want[65];
    int rc;
    mp_chip_udid_of(e->point, want);
    if (len == 0) {
        memcpy(e->udid, want, sizeof(want));
        return MP_OK;
    }
    if ((rc = mp_chip_udid_check(udid, len)) != MP_OK) {
        return rc;
    }
    memcpy(e->udid, udid, len);
    e->udid[len] = 0;
    if (src->check_udid_hash && strcmp(e->udid, want) != 0) {
        return mp_err(MP_ERR_MISMATCH, "UDID '%s' is not the uppercase hex SHA-256 of its public key (expected %s)", e->udid, want);
    }
    return MP_OK;
}

/* Decode key and UDID into e and hand it to the callback. */
static int entry_emit(mp_chip_dec *d, const mp_chips_src *src, const char *udid, size_t ulen,
                      const char *key, size_t klen, mp_chip_entry *e, mp_chip_cb cb, void *ctx)
{
    int rc = mp_chip_point_decode(d, key, klen, e->point);
    if (rc == MP_OK) {
        rc = mp_chip_entry_udid(src, udid, ulen, e);
    }
    if (rc == MP_OK) {
        rc = cb(ctx, e);
    }
    return rc != MP_OK ? mp_err_ctx(rc, "%s", e->where) : MP_OK;
}

/* ---- CSV ------------------------------------------------------------------ */

typedef struct field {
    const char *p;
    size_t n;
} field;

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Trim blanks and one pair of double quotes; no quote may remain inside. */
static int field_clean(field *f)
{
    while (f->n > 0 && is_blank(f->p[0])) { f->p++; f->n--; }
    while (f->n > 0 && is_blank(f->p[f->n - 1])) { f->n--; }
    if (f->n >= 2 && f->p[0] == '"' && f->p[f->n - 1] == '"') {
        f->p++;
        f->n -= 2;
    }
    return memchr(f->p, '"', f->n) == NULL ? MP_OK : -1;
}

/* Split a line into exactly two fields. */
static int split2(const char *line, size_t n, field out[2])
{
    const char *comma = memchr(line, ',', n);
    if (comma == NULL) {
        return mp_err(MP_ERR_INVALID, "expected 2 comma-separated fields (udid,public_key), found 1");
    }
    size_t rest = n - (size_t)(comma - line) - 1;
    if (memchr(comma + 1, ',', rest) != NULL) {
        return mp_err(MP_ERR_INVALID, "expected 2 comma-separated fields (udid,public_key), found more");
    }
    out[0] = (field){line, (size_t)(comma - line)};
    out[1] = (field){comma + 1, rest};
    if (field_clean(&out[0]) != 0 || field_clean(&out[1]) != 0) {
        return mp_err(MP_ERR_INVALID, "a stray double quote inside a field");
    }
    return MP_OK;
}

static int csv_header(const mp_chips_src *src, const char *line, size_t n)
{
    field f[2];
    if (split2(line, n, f) != MP_OK || f[0].n != 4 || memcmp(f[0].p, "udid", 4) != 0 ||
        f[1].n != 10 || memcmp(f[1].p, "public_key", 10) != 0) {
        return mp_err(MP_ERR_INVALID, "%s:1: the header must be 'udid,public_key'", src->name);
    }
    return MP_OK;
}

static int csv_lines(mp_chip_dec *d, const mp_chips_src *src, const char *s, size_t len,
                     mp_chip_cb cb, void *ctx, size_t *count)
{
    size_t pos = 0, lineno = 0;
    mp_chip_entry e;
    while (pos < len) {
        const char *nl = memchr(s + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - s) : len, n = end - pos;
        const char *line = s + pos;
        pos = end + 1;
        lineno++;
        if (n > 0 && line[n - 1] == '\r') n--;
        if (lineno == 1) {
            if (csv_header(src, line, n) != MP_OK) return MP_ERR_INVALID;
            continue;
        }
        size_t k = 0;
        while (k < n && is_blank(line[k])) k++;
        if (k == n) continue; /* blank line */
        field f[2];
        memset(&e, 0, sizeof(e));
        e.index = *count + 1;
        snprintf(e.where, sizeof(e.where), "%s:%zu", src->name, lineno);
        if (split2(line, n, f) != MP_OK) return mp_err_ctx(MP_ERR_INVALID, "%s", e.where);
        int rc = entry_emit(d, src, f[0].p, f[0].n, f[1].p, f[1].n, &e, cb, ctx);
        if (rc != MP_OK) return rc;
        (*count)++;
    }
    return MP_OK;
}

int mp_chips_parse_csv(const mp_chips_src *src, const uint8_t *buf, size_t len,
                       mp_chip_cb cb, void *ctx, size_t *count)
{
    mp_chip_dec *d = NULL;
    const char *s = (const char *)buf;
    int rc;
    *count = 0;
    if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 BOM */
        s += 3;
        len -= 3;
    }
    if (len == 0) {
        return mp_err(MP_ERR_INVALID, "%s: empty file; expected the header 'udid,public_key'", src->name);
    }
    if ((rc = mp_chip_dec_new(&d)) != MP_OK) {
        return rc;
    }
    rc = csv_lines(d, src, s, len, cb, ctx, count);
    mp_chip_dec_free(d);
    if (rc == MP_OK && *count == 0) {
        rc = mp_err(MP_ERR_INVALID, "%s: the list has no entries", src->name);
    }
    return rc;
}

/* ---- JSON ----------------------------------------------------------------- */

typedef struct jscan {
    const char *s;
    size_t len, pos, line;
} jscan;

static void skip_ws(jscan *j)
{
    while (j->pos < j->len) {
        char c = j->s[j->pos];
        if (c == '\n') j->line++;
        else if (c != ' ' && c != '\t' && c != '\r') break;
        j->pos++;
    }
}

static void advance(jscan *j, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (j->s[j->pos + i] == '\n') j->line++;
    }
    j->pos += n;
}

static int str_field(json_t *o, const char *key, int required, const char **v, size_t *n)
{
    json_t *x = json_object_get(o, key);
    if (x == NULL || (json_is_null(x) && !required)) {
        if (required) return mp_err(MP_ERR_INVALID, "\"%s\" is missing", key);
        *v = "";
        *n = 0;
        return MP_OK;
    }
    if (!json_is_string(x)) {
        return mp_err(MP_ERR_INVALID, "\"%s\" must be a string", key);
    }
    *v = json_string_value(x);
    *n = json_string_length(x);
    return MP_OK;
}

static int parse_entry(mp_chip_dec *d, const mp_chips_src *src, json_t *o, mp_chip_entry *e,
                      mp_chip_cb cb, void *ctx)
{
    const char *udid = "", *key = "", *k;
    size_t un = 0, kn = 0;
    json_t *v;
    if (!json_is_object(o)) {
        return mp_err_ctx(mp_err(MP_ERR_INVALID, "expected an object {\"udid\":..., \"public_key\":...}"), "%s", e->where);
    }
    json_object_foreach(o, k, v) {
        if (strcmp(k, "udid") != 0 && strcmp(k, "public_key") != 0) {
            return mp_err(MP_ERR_INVALID, "%s: unknown field \"%s\" (expected udid, public_key)", e->where, k);
        }
    }
    if (str_field(o, "udid", 0, &udid, &un) != MP_OK ||
        str_field(o, "public_key", 1, &key, &kn) != MP_OK) {
        return mp_err_ctx(MP_ERR_INVALID, "%s", e->where);
    }
    return entry_emit(d, src, udid, un, key, kn, e, cb, ctx);
}

/* One array element at j->pos; advances past it. */
static int parse_element(mp_chip_dec *d, const mp_chips_src *src, jscan *j, size_t index,
                        mp_chip_cb cb, void *ctx)
{
    json_error_t jerr;
    mp_chip_entry e;
    memset(&e, 0, sizeof(e));
    e.index = index;
    snprintf(e.where, sizeof(e.where), "%s: entry %zu (line %zu)", src->name, index, j->line);
    json_t *o = json_loadb(j->s + j->pos, j->len - j->pos,
                           JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (o == NULL) {
        return mp_err(MP_ERR_INVALID, "%s: line %zu: %s", src->name, j->line + (size_t)jerr.line - 1, jerr.text);
    }
    int rc = parse_entry(d, src, o, &e, cb, ctx);
    json_decref(o);
    if (rc == MP_OK) {
        advance(j, (size_t)jerr.position);
    }
    return rc;
}

static int parse_array(mp_chip_dec *d, const mp_chips_src *src, jscan *j, mp_chip_cb cb, void *ctx,
                      size_t *count)
{
    skip_ws(j);
    if (j->pos >= j->len || j->s[j->pos] != '[') {
        return mp_err(MP_ERR_INVALID, "%s: line %zu: expected a JSON array '[' of entries", src->name, j->line);
    }
    j->pos++;
    skip_ws(j);
    if (j->pos < j->len && j->s[j->pos] == ']') {
        j->pos++;
    } else {
        for (;;) {
            int rc = parse_element(d, src, j, *count + 1, cb, ctx);
            if (rc != MP_OK) return rc;
            (*count)++;
            skip_ws(j);
            char c = j->pos < j->len ? j->s[j->pos] : 0;
            j->pos++;
            if (c == ']') break;
            if (c != ',') {
                return mp_err(MP_ERR_INVALID, "%s: line %zu: expected ',' or ']' after entry %zu", src->name, j->line, *count);
            }
            skip_ws(j);
        }
    }
    skip_ws(j);
    if (j->pos < j->len) {
        return mp_err(MP_ERR_INVALID, "%s: line %zu: unexpected data after the array", src->name, j->line);
    }
    return MP_OK;
}

int mp_chips_parse_json(const mp_chips_src *src, const uint8_t *buf, size_t len,
                        mp_chip_cb cb, void *ctx, size_t *count)
{
    mp_chip_dec *d = NULL;
    jscan j = {(const char *)buf, len, 0, 1};
    int rc;
    *count = 0;
    if ((rc = mp_chip_dec_new(&d)) != MP_OK) {
        return rc;
    }
    rc = parse_array(d, src, &j, cb, ctx, count);
    mp_chip_dec_free(d);
    if (rc == MP_OK && *count == 0) {
        rc = mp_err(MP_ERR_INVALID, "%s: the list has no entries", src->name);
    }
    return rc;
}
