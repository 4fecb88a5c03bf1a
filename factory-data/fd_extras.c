/*
 * fd_extras.c - per-device extra NVS entries, as esp-matter-mfg-tool takes
 * them (--csv, --mcsv): a config CSV of `key,type,encoding` lines, each
 * namespace opened by a `name,namespace,` line (an optional first line
 * `key,type,encoding`), and a values CSV whose header is `udid` followed by
 * the keys and whose rows give each device's values. The esp32 formats
 * write them after matter-pki's own chip-factory keys: the chip-factory
 * ones in that namespace, the others each in its namespace, in the config's
 * order (fd_esp32.c).
 *
 * Encodings as esp-idf-nvs-partition-gen reads them: u8 i8 u16 i16 u32 i32
 * u64 i64 (decimal), string (at most 3999 bytes, NUL added), hex2bin and
 * base64 (blobs). Not taken: `file` lines (a path per device is a second
 * channel for secrets), the `binary` encoding, a 4th column (REPEAT), and
 * the Wi-Fi keys for which that generator adds derived entries.
 */
#include "fd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "b64.h"
#include "csv.h"
#include "util.h"

#define MAX_BLOB 65536

static const struct {
    const char *name;
    uint8_t type;
    int bits;   /* integers: width; 0 string/blob */
    int sign;
} encs[] = {
    {"u8", 0x01, 8, 0}, {"i8", 0x11, 8, 1}, {"u16", 0x02, 16, 0}, {"i16", 0x12, 16, 1},
    {"u32", 0x04, 32, 0}, {"i32", 0x14, 32, 1}, {"u64", 0x08, 64, 0}, {"i64", 0x18, 64, 1},
    {"string", 0x21, 0, 0}, {"hex2bin", 0x48, 0, 0}, {"base64", 0x48, 0, 0},
};
#define NENC (sizeof(encs) / sizeof(encs[0]))

static int enc_of(const char *e)
{
    for (size_t i = 0; i < NENC; i++) {
        if (strcmp(encs[i].name, e) == 0) return (int)i;
    }
    return -1;
}

static int reserved(const char *ns, const char *key)
{
    static const char *const wifi[] = {"ap.ssid", "ap.passwd", "ap.authmode", "sta.ssid", "sta.pswd"};
    for (size_t i = 0; i < sizeof(wifi) / sizeof(wifi[0]); i++) {
        if (strcmp(key, wifi[i]) == 0) return 2;
    }
    if (strcmp(ns, "chip-factory") != 0) return 0;
    if (strcmp(key, "dac-pub-key") == 0 || fd_map_key(fd_esp_map, fd_esp_nmap, key, strlen(key)) != NULL) return 1;
    return 0;
}

static int add_key(mp_fd_extras *x, const mp_fd_csv_pos *at, const char *ns, const char *key, const char *enc);

/* NVS key and namespace names: 1..15 printable ASCII characters. */
static int name_ok(const char *s)
{
    size_t l = strlen(s);
    for (size_t i = 0; i < l; i++) {
        if (s[i] < 0x21 || s[i] > 0x7E) return 0;
    }
    return l >= 1 && l <= 15;
}

/* ---- config ----------------------------------------------------------------- */

static int config_line(mp_fd_extras *x, const mp_csv *c, char *ns, int first)
{
    char *const *f = c->fields;
    if (c->n == 1 && f[0][0] == 0) return MP_OK; /* blank */
    if (first && c->n >= 3 && strcmp(f[0], "key") == 0 && strcmp(f[1], "type") == 0) return MP_OK;
    if (c->n >= 2 && strcmp(f[1], "namespace") == 0) {
        if (c->n > 3 || (c->n == 3 && f[2][0] != 0)) return mp_err(MP_ERR_INVALID, "%s:%lu: a namespace line is `name,namespace,`", c->where, c->line);
        if (!name_ok(f[0])) return mp_err(MP_ERR_INVALID, "%s:%lu: a namespace is 1..15 printable ASCII characters", c->where, c->line);
        memcpy(ns, f[0], strlen(f[0]) + 1);
        return MP_OK;
    }
    if (c->n < 3 || c->n > 4) return mp_err(MP_ERR_INVALID, "%s:%lu: expected key,type,encoding", c->where, c->line);
    if (c->n == 4 && f[3][0] != 0) {
        return mp_err(MP_ERR_INVALID, "%s:%lu: key '%s': a 4th column (%s) is not taken; give the value in every row of the values file", c->where, c->line, f[0], f[3]);
    }
    if (strcmp(f[1], "data") != 0) {
        return mp_err(MP_ERR_INVALID, "%s:%lu: key '%s': type '%s'; only `data` is taken (not `file`)", c->where, c->line, f[0], f[1]);
    }
    if (ns[0] == 0) return mp_err(MP_ERR_INVALID, "%s:%lu: key '%s' before any `name,namespace,` line", c->where, c->line, f[0]);
    mp_fd_csv_pos at = {c->where, c->line};
    return add_key(x, &at, ns, f[0], f[2]);
}

static int add_key(mp_fd_extras *x, const mp_fd_csv_pos *at, const char *ns, const char *key, const char *enc)
{
    int e = enc_of(enc), r;
    if (!name_ok(key)) return mp_err(MP_ERR_INVALID, "%s:%lu: a key is 1..15 printable ASCII characters", at->file, at->line);
    if (e < 0) return mp_err(MP_ERR_INVALID, "%s:%lu: key '%s': encoding '%s'; expected u8, i8, u16, i16, u32, i32, u64, i64, string, hex2bin or base64", at->file, at->line, key, enc);
    if ((r = reserved(ns, key)) != 0) {
        return mp_err(MP_ERR_INVALID, r == 1 ? "%s:%lu: key '%s': matter-pki writes chip-factory/%s itself" : "%s:%lu: key '%s': Espressif's generator adds derived Wi-Fi entries for it (%s), which matter-pki does not",
                      at->file, at->line, key, key);
    }
    for (size_t i = 0; i < x->nkeys; i++) {
        if (strcmp(x->keys[i].ns, ns) == 0 && strcmp(x->keys[i].key, key) == 0) return mp_err(MP_ERR_INVALID, "%s:%lu: key '%s' twice in namespace '%s'", at->file, at->line, key, ns);
    }
    mp_fd_xkey *k = realloc(x->keys, (x->nkeys + 1) * sizeof(*k));
    if (k == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    x->keys = k;
    k += x->nkeys++;
    memset(k, 0, sizeof(*k));
    snprintf(k->ns, sizeof(k->ns), "%s", ns);
    snprintf(k->key, sizeof(k->key), "%s", key);
    snprintf(k->enc, sizeof(k->enc), "%s", enc);
    k->type = encs[e].type;
    k->col = -1;
    return MP_OK;
}

static int load_config(const char *path, mp_fd_extras *x)
{
    FILE *f = mp_fopen_input(path);
    mp_csv c;
    char ns[16] = "";
    int rc = f ? MP_OK : MP_ERR_IO, first = 1;
    if (f == NULL) return rc;
    mp_csv_init(&c, f, path);
    while (rc == MP_OK && (rc = mp_csv_next(&c)) == MP_OK && c.n > 0) {
        rc = config_line(x, &c, ns, first);
        first = 0;
    }
    mp_csv_free(&c);
    fclose(f);
    if (rc == MP_OK && x->nkeys == 0) rc = mp_err(MP_ERR_INVALID, "%s: no key,type,encoding line", path);
    return rc;
}

/* ---- values ----------------------------------------------------------------- */

static int parse_int(const char *s, int e, uint64_t *u)
{
    int neg = s[0] == '-', bits = encs[e].bits;
    const char *d = s + neg;
    uint64_t v = 0;
    if (*d == 0 || (neg && !encs[e].sign)) return -1;
    for (; *d; d++) {
        if (*d < '0' || *d > '9' || v > (UINT64_MAX - (uint64_t)(*d - '0')) / 10) return -1;
        v = v * 10 + (uint64_t)(*d - '0');
    }
    uint64_t max = bits == 64 ? (encs[e].sign ? (uint64_t)INT64_MAX : UINT64_MAX) : encs[e].sign ? (1ull << (bits - 1)) - 1 : (1ull << bits) - 1;
    if (v > max + (uint64_t)neg) return -1;
    *u = neg ? (uint64_t)0 - v : v;
    if (bits < 64) *u &= (1ull << bits) - 1;
    return 0;
}

static int value(const mp_fd_xkey *k, const char *s, const mp_fd_csv_pos *at, mp_fd_xval *v)
{
    int e = enc_of(k->enc);
    size_t n = strlen(s);
    long got = 0;
    if ((v->text = strdup(s)) == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    if (encs[e].bits) {
        if (parse_int(s, e, &v->u) != 0) return mp_err(MP_ERR_INVALID, "%s:%lu: column %s: '%s' is not a decimal %s", at->file, at->line, k->key, s, k->enc);
        return MP_OK;
    }
    if (strcmp(k->enc, "string") == 0 && n > 3999) return mp_err(MP_ERR_INVALID, "%s:%lu: column %s: a string holds at most 3999 bytes (is %zu)", at->file, at->line, k->key, n);
    if ((v->p = malloc(n + 1)) == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    if (strcmp(k->enc, "string") == 0) {
        memcpy(v->p, s, n);
        v->len = n;
        return MP_OK;
    }
    got = strcmp(k->enc, "hex2bin") == 0 ? mp_unhex(s, v->p, n + 1) : mp_b64_decode(s, n, v->p, n + 1);
    if (got <= 0 || got > MAX_BLOB) {
        return mp_err(MP_ERR_INVALID, "%s:%lu: column %s: not %s of 1..%d bytes", at->file, at->line, k->key, strcmp(k->enc, "hex2bin") == 0 ? "hex (an even number of digits)" : "base64", MAX_BLOB);
    }
    v->len = (size_t)got;
    return MP_OK;
}

static int header(mp_fd_extras *x, const mp_csv *c)
{
    if (c->n < 2 || strcmp(c->fields[0], "udid") != 0) return mp_err(MP_ERR_INVALID, "%s:%lu: the header is udid followed by the keys", c->where, c->line);
    for (size_t i = 0; i < x->nkeys; i++) {
        for (int j = 1; j < c->n; j++) {
            if (strcmp(c->fields[j], x->keys[i].key) != 0) continue;
            if (x->keys[i].col >= 0) return mp_err(MP_ERR_INVALID, "%s:%lu: column %s twice", c->where, c->line, c->fields[j]);
            x->keys[i].col = j;
        }
        for (size_t k = 0; k < i; k++) { /* one column per key name: the same key in two namespaces shares it */
            if (strcmp(x->keys[k].key, x->keys[i].key) == 0) return mp_err(MP_ERR_INVALID, "%s:%lu: key %s is in two namespaces; one values column cannot feed both", c->where, c->line, x->keys[i].key);
        }
        if (x->keys[i].col < 0) return mp_err(MP_ERR_INVALID, "%s:%lu: no column for key %s", c->where, c->line, x->keys[i].key);
    }
    return MP_OK;
}

static int row(mp_fd_extras *x, const mp_csv *c, int ncols)
{
    if (c->n != ncols) return mp_err(MP_ERR_INVALID, "%s:%lu: %d fields; the header has %d", c->where, c->line, c->n, ncols);
    if (c->fields[0][0] == 0 || strlen(c->fields[0]) > 64) return mp_err(MP_ERR_INVALID, "%s:%lu: the udid is empty or longer than 64", c->where, c->line);
    char **u = realloc(x->udid, (x->nrows + 1) * sizeof(*u));
    if (u != NULL) x->udid = u;
    mp_fd_xval *v = u ? realloc(x->vals, (x->nrows + 1) * x->nkeys * sizeof(*v)) : NULL;
    if (v == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    x->vals = v;
    v += x->nrows * x->nkeys;
    memset(v, 0, x->nkeys * sizeof(*v));
    if ((x->udid[x->nrows] = strdup(c->fields[0])) == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    x->nrows++;
    mp_fd_csv_pos at = {c->where, c->line};
    for (size_t i = 0; i < x->nkeys; i++) {
        int rc = value(&x->keys[i], c->fields[x->keys[i].col], &at, &v[i]);
        if (rc != MP_OK) return rc;
    }
    return MP_OK;
}

static const mp_fd_extras *sort_x;
static int by_udid(const void *a, const void *b)
{
    return strcmp(sort_x->udid[*(const size_t *)a], sort_x->udid[*(const size_t *)b]);
}

static int load_values(const char *path, mp_fd_extras *x)
{
    FILE *f = mp_fopen_input(path);
    mp_csv c;
    int rc = MP_OK, ncols = 0;
    if (f == NULL) return MP_ERR_IO;
    mp_csv_init(&c, f, path);
    while (rc == MP_OK && (rc = mp_csv_next(&c)) == MP_OK && c.n > 0) {
        if (c.n == 1 && c.fields[0][0] == 0) continue;
        if (ncols == 0) {
            rc = header(x, &c);
            ncols = c.n;
        } else {
            rc = row(x, &c, ncols);
        }
    }
    mp_csv_free(&c);
    fclose(f);
    if (rc == MP_OK && x->nrows == 0) rc = mp_err(MP_ERR_INVALID, "%s: no device rows", path);
    if (rc == MP_OK && (x->sorted = malloc(x->nrows * sizeof(size_t))) == NULL) rc = mp_err(MP_ERR_GENERAL, "out of memory");
    if (rc != MP_OK) return rc;
    for (size_t i = 0; i < x->nrows; i++) x->sorted[i] = i;
    sort_x = x; /* loaded once, before any worker thread */
    qsort(x->sorted, x->nrows, sizeof(size_t), by_udid);
    for (size_t i = 1; i < x->nrows; i++) {
        if (strcmp(x->udid[x->sorted[i - 1]], x->udid[x->sorted[i]]) == 0) return mp_err(MP_ERR_INVALID, "%s: udid %s in two rows", path, x->udid[x->sorted[i]]);
    }
    return MP_OK;
}

int mp_fd_extras_load(const char *config, const char *values, mp_fd_extras *x)
{
    memset(x, 0, sizeof(*x));
    int rc = load_config(config, x);
    if (rc == MP_OK) rc = load_values(values, x);
    if (rc != MP_OK) mp_fd_extras_free(x);
    return rc;
}

const mp_fd_xval *mp_fd_extras_row(const mp_fd_extras *x, const char *udid)
{
    size_t lo = 0, hi = x->nrows;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(x->udid[x->sorted[mid]], udid);
        if (c == 0) return x->vals + x->sorted[mid] * x->nkeys;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

void mp_fd_extras_free(mp_fd_extras *x)
{
    size_t nv = x->vals ? x->nrows * x->nkeys : 0;
    for (size_t i = 0; i < nv; i++) {
        if (x->vals[i].text) OPENSSL_clear_free(x->vals[i].text, strlen(x->vals[i].text));
        if (x->vals[i].p) OPENSSL_clear_free(x->vals[i].p, x->vals[i].len + 1);
    }
    for (size_t i = 0; x->udid && i < x->nrows; i++) free(x->udid[i]);
    free(x->vals);
    free(x->udid);
    free(x->keys);
    free(x->sorted);
    memset(x, 0, sizeof(*x));
}
