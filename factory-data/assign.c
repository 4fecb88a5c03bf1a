/* assign.c - the --assign CSV of pre-assigned values (see creds.h). */
#include "creds.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util.h"

enum { C_UDID, C_PASSCODE, C_DISC, C_SERIAL, C_RDUID, C_N };
static const char *const col_names[C_N] = {"udid", "passcode", "discriminator", "serial", "rd_uid"};

#define MAX_COLS 8

/* Split line (NUL-terminated, modified) at commas. */
static int split(char *line, char *cells[MAX_COLS])
{
    int n = 0;
    for (char *p = line;; p++) {
        if (n == MAX_COLS) return -1;
        cells[n++] = p;
        p = strchr(p, ',');
        if (p == NULL) break;
        *p = 0;
    }
    return n;
}

static int header(const char *where, char *line, int cols[MAX_COLS], int *ncols)
{
    char *cells[MAX_COLS];
    int seen[C_N] = {0};
    int n = split(line, cells);
    if (n < 0) return mp_err(MP_ERR_INVALID, "%s:1: too many columns", where);
    for (int i = 0; i < n; i++) {
        int c;
        for (c = 0; c < C_N && strcmp(cells[i], col_names[c]) != 0; c++) {}
        if (c == C_N || seen[c] || (i == 0) != (c == C_UDID)) {
            return mp_err(MP_ERR_INVALID, "%s:1: column %d '%s': expected a header 'udid' followed by any of passcode, discriminator, serial, rd_uid (each once)",
                          where, i + 1, cells[i]);
        }
        seen[c] = 1;
        cols[i] = c;
    }
    *ncols = n;
    return MP_OK;
}

static int udid_check(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > MP_UDID_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '.' || c == '_' || c == ':' || c == '-')) return 0;
    }
    return 1;
}

/* Validate one cell into row. */
static int cell(const char *where, unsigned line, int col, const char *v, mp_assign_row *r)
{
    uint64_t n;
    long l;
    if (col == C_UDID) {
        if (!udid_check(v)) return mp_err(MP_ERR_INVALID, "%s:%u: udid '%s': expected 1..%d characters of A-Z a-z 0-9 . _ : -", where, line, v, MP_UDID_MAX);
        strcpy(r->udid, v);
    } else if (*v == 0) {
        return MP_OK;
    } else if (col == C_PASSCODE) {
        if (mp_parse_uint(v, UINT32_MAX, &n) != MP_OK) n = 0;
        if (mp_passcode_check("", n) != MP_OK) return mp_err(MP_ERR_INVALID, "%s:%u: passcode: not a valid passcode (1..99999998, not 11111111, ..., 12345678, 87654321)", where, line);
        r->passcode = (uint32_t)n;
        r->has_passcode = 1;
    } else if (col == C_DISC) {
        if (mp_parse_uint(v, MP_DISC_MAX, &n) != MP_OK) return mp_err(MP_ERR_INVALID, "%s:%u: discriminator '%s': expected 0..4095", where, line, v);
        r->discriminator = (uint16_t)n;
        r->has_discriminator = 1;
    } else if (col == C_SERIAL) {
        if (mp_serial_check("", v) != MP_OK) return mp_err(MP_ERR_INVALID, "%s:%u: serial: expected 1..%d printable ASCII characters", where, line, MP_SERIAL_MAX);
        strcpy(r->serial, v);
        r->has_serial = 1;
    } else {
        l = strlen(v) <= 2 * MP_RDUID_MAX ? mp_unhex(v, r->rd_uid, sizeof(r->rd_uid)) : -1;
        if (l < MP_RDUID_MIN || l > MP_RDUID_MAX) return mp_err(MP_ERR_INVALID, "%s:%u: rd_uid: expected 16..32 bytes in hex", where, line);
        r->rd_uid_len = (size_t)l;
        r->has_rd_uid = 1;
    }
    return MP_OK;
}

static int row(const char *where, unsigned line, char *text, const int *cols, int ncols, mp_assign_row *r)
{
    char *cells[MAX_COLS];
    int n = split(text, cells);
    memset(r, 0, sizeof(*r));
    r->line = line;
    if (n != ncols) {
        return mp_err(MP_ERR_INVALID, "%s:%u: %d columns; the header has %d", where, line, n < 0 ? MAX_COLS + 1 : n, ncols);
    }
    for (int i = 0; i < n; i++) {
        int rc = cell(where, line, cols[i], cells[i], r);
        if (rc != MP_OK) return rc;
    }
    return MP_OK;
}

static int cmp_udid(const void *a, const void *b)
{
    return strcmp(((const mp_assign_row *)a)->udid, ((const mp_assign_row *)b)->udid);
}

/* Duplicate UDIDs (rows sorted), serials and rd_uids (quadratic is fine for
 * label batches; a hash would be the next step for millions). */
static int duplicates(const char *where, const mp_assign *a)
{
    for (size_t i = 1; i < a->n; i++) {
        if (strcmp(a->rows[i - 1].udid, a->rows[i].udid) == 0) {
            return mp_err(MP_ERR_DUPLICATE, "%s:%u: udid '%s' also on line %u", where, a->rows[i].line, a->rows[i].udid, a->rows[i - 1].line);
        }
    }
    for (size_t i = 0; i < a->n; i++) {
        const mp_assign_row *x = &a->rows[i];
        for (size_t j = i + 1; j < a->n; j++) {
            const mp_assign_row *y = &a->rows[j];
            if (x->has_serial && y->has_serial && strcmp(x->serial, y->serial) == 0) {
                return mp_err(MP_ERR_DUPLICATE, "%s: serial '%s' on lines %u and %u", where, x->serial, x->line, y->line);
            }
            if (x->has_rd_uid && y->has_rd_uid && x->rd_uid_len == y->rd_uid_len &&
                memcmp(x->rd_uid, y->rd_uid, x->rd_uid_len) == 0) {
                return mp_err(MP_ERR_DUPLICATE, "%s: the same rd_uid on lines %u and %u", where, x->line, y->line);
            }
        }
    }
    return MP_OK;
}

static int parse_lines(const char *where, char *buf, mp_assign *out)
{
    int cols[MAX_COLS], ncols = 0, rc = MP_OK;
    unsigned line = 0;
    size_t cap = 0;
    char *save = NULL;
    for (char *l = buf; l != NULL && rc == MP_OK; l = save) {
        save = strchr(l, '\n');
        if (save != NULL) *save++ = 0;
        line++;
        size_t n = strlen(l);
        if (n > 0 && l[n - 1] == '\r') l[--n] = 0;
        if (line > 1 && (n == 0 || l[0] == '#')) continue;
        if (strchr(l, '"') != NULL) return mp_err(MP_ERR_INVALID, "%s:%u: quoted cells are not supported (values never contain commas)", where, line);
        if (line == 1) {
            rc = header(where, l, cols, &ncols);
            continue;
        }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 64;
            mp_assign_row *r = realloc(out->rows, cap * sizeof(*r));
            if (r == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
            out->rows = r;
        }
        rc = row(where, line, l, cols, ncols, &out->rows[out->n]);
        out->n++;
    }
    if (rc == MP_OK && line == 0) rc = mp_err(MP_ERR_INVALID, "%s: empty file; expected a header line 'udid,...'", where);
    return rc;
}

int mp_assign_parse(const char *where, const char *text, size_t len, mp_assign *out)
{
    memset(out, 0, sizeof(*out));
    char *buf = malloc(len + 1);
    if (buf == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    memcpy(buf, text, len);
    buf[len] = 0;
    int rc = strlen(buf) != len ? mp_err(MP_ERR_INVALID, "%s: contains a NUL byte", where) : parse_lines(where, buf, out);
    mp_free_secret(buf, len + 1);
    if (rc == MP_OK) {
        if (out->n > 0) qsort(out->rows, out->n, sizeof(*out->rows), cmp_udid);
        rc = duplicates(where, out);
    }
    if (rc != MP_OK) mp_assign_free(out);
    return rc;
}

int mp_assign_load(const char *path, mp_assign *out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = mp_read_file(path, 64u << 20, &buf, &len);
    if (rc != MP_OK) return rc;
    rc = mp_assign_parse(path, (const char *)buf, len, out);
    mp_free_secret(buf, len);
    return rc;
}

const mp_assign_row *mp_assign_find(const mp_assign *a, const char *udid)
{
    mp_assign_row key;
    if (a == NULL || a->n == 0 || strlen(udid) > MP_UDID_MAX) return NULL;
    strcpy(key.udid, udid);
    return bsearch(&key, a->rows, a->n, sizeof(key), cmp_udid);
}

void mp_assign_free(mp_assign *a)
{
    if (a->rows != NULL) OPENSSL_cleanse(a->rows, a->n * sizeof(*a->rows));
    free(a->rows);
    a->rows = NULL;
    a->n = 0;
}
