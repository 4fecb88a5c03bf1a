/* assign.c - the --assign CSV of pre-assigned values (see creds.h). */
#include "creds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "csv.h"
#include "util.h"

enum { C_UDID, C_PASSCODE, C_DISC, C_SERIAL, C_RDUID, C_N };
static const char *const col_names[C_N] = {"udid", "passcode", "discriminator", "serial", "rd_uid"};

#define MAX_COLS 8

static int header(const char *where, char *const *cells, int n, int cols[MAX_COLS], int *ncols)
{
    int seen[C_N] = {0};
    if (n > MAX_COLS) return mp_err(MP_ERR_INVALID, "%s:1: too many columns", where);
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
        if (mp_serial_check("serial", v) != MP_OK) {
            char msg[400];
            snprintf(msg, sizeof(msg), "%s", mp_err_msg());
            return mp_err(MP_ERR_INVALID, "%s:%u: %s", where, line, msg);
        }
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

static int row(const char *where, unsigned line, char *const *cells, int n, const int *cols, int ncols, mp_assign_row *r)
{
    memset(r, 0, sizeof(*r));
    r->line = line;
    if (n != ncols) {
        return mp_err(MP_ERR_INVALID, "%s:%u: %d columns; the header has %d", where, line, n, ncols);
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

/* FNV-1a, for the duplicate sets. */
static uint64_t hash(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* The first row (other than row i) with the same serial (what 0) or rd_uid
 * (what 1), through an open-addressing set of row indices: linear time. */
static int dup_pass(const char *where, const mp_assign *a, int what)
{
    size_t cap = 16;
    while (cap < 2 * a->n) cap <<= 1;
    size_t *set = malloc(cap * sizeof(*set)); /* row index + 1; 0 = empty */
    if (set == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    memset(set, 0, cap * sizeof(*set));
    int rc = MP_OK;
    for (size_t i = 0; i < a->n && rc == MP_OK; i++) {
        const mp_assign_row *x = &a->rows[i];
        const void *key = what ? (const void *)x->rd_uid : (const void *)x->serial;
        size_t klen = what ? x->rd_uid_len : strlen(x->serial);
        if (what ? !x->has_rd_uid : !x->has_serial) continue;
        for (size_t h = (size_t)hash(key, klen) & (cap - 1);; h = (h + 1) & (cap - 1)) {
            if (set[h] == 0) {
                set[h] = i + 1;
                break;
            }
            const mp_assign_row *y = &a->rows[set[h] - 1];
            const void *yk = what ? (const void *)y->rd_uid : (const void *)y->serial;
            size_t ylen = what ? y->rd_uid_len : strlen(y->serial);
            if (ylen == klen && memcmp(yk, key, klen) == 0) {
                unsigned l1 = y->line < x->line ? y->line : x->line, l2 = y->line < x->line ? x->line : y->line;
                rc = what ? mp_err(MP_ERR_DUPLICATE, "%s:%u: the same rd_uid as line %u", where, l2, l1)
                          : mp_err(MP_ERR_DUPLICATE, "%s:%u: serial '%s' also on line %u", where, l2, x->serial, l1);
                break;
            }
        }
    }
    free(set);
    return rc;
}

/* Duplicate UDIDs (rows sorted: neighbours), serials and rd_uids (hash sets). */
static int duplicates(const char *where, const mp_assign *a)
{
    for (size_t i = 1; i < a->n; i++) {
        if (strcmp(a->rows[i - 1].udid, a->rows[i].udid) == 0) {
            unsigned l1 = a->rows[i - 1].line, l2 = a->rows[i].line;
            return mp_err(MP_ERR_DUPLICATE, "%s:%u: udid '%s' also on line %u", where, l1 > l2 ? l1 : l2, a->rows[i].udid, l1 > l2 ? l2 : l1);
        }
    }
    int rc = dup_pass(where, a, 0);
    return rc == MP_OK ? dup_pass(where, a, 1) : rc;
}

static int parse_lines(const char *where, FILE *f, mp_assign *out)
{
    int cols[MAX_COLS], ncols = 0, rc = MP_OK;
    size_t cap = 0;
    mp_csv c;
    mp_csv_init(&c, f, where);
    while (rc == MP_OK && (rc = mp_csv_next(&c)) == MP_OK && c.n > 0) {
        unsigned line = (unsigned)c.line;
        if (line > 1 && ((c.n == 1 && c.fields[0][0] == 0) || c.fields[0][0] == '#')) continue;
        if (line == 1) {
            rc = header(where, c.fields, c.n, cols, &ncols);
            continue;
        }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 64;
            mp_assign_row *r = realloc(out->rows, cap * sizeof(*r));
            if (r == NULL) {
                rc = mp_err(MP_ERR_GENERAL, "out of memory");
                break;
            }
            out->rows = r;
        }
        rc = row(where, line, c.fields, c.n, cols, ncols, &out->rows[out->n]);
        out->n++;
    }
    if (rc == MP_OK && c.next_line == 1) rc = mp_err(MP_ERR_INVALID, "%s: empty file; expected a header line 'udid,...'", where);
    mp_csv_free(&c);
    return rc;
}

int mp_assign_parse(const char *where, const char *text, size_t len, mp_assign *out)
{
    memset(out, 0, sizeof(*out));
    char *buf = malloc(len + 1);
    if (buf == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    memcpy(buf, text, len);
    buf[len] = 0;
    FILE *f = strlen(buf) != len || len == 0 ? NULL : fmemopen(buf, len, "r");
    char *vbuf = f != NULL ? malloc(4096) : NULL; /* stdio's copy of the passcodes: ours, wiped */
    if (vbuf != NULL) setvbuf(f, vbuf, _IOFBF, 4096);
    int rc = len == 0 ? mp_err(MP_ERR_INVALID, "%s: empty file; expected a header line 'udid,...'", where)
             : strlen(buf) != len ? mp_err(MP_ERR_INVALID, "%s: contains a NUL byte", where)
             : f == NULL        ? mp_err(MP_ERR_GENERAL, "out of memory")
                                : parse_lines(where, f, out);
    if (f != NULL) fclose(f);
    mp_free_secret(vbuf, 4096);
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
