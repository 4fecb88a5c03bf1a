/* csv.c - RFC 4180 reader and cell writer (see csv.h). */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void mp_csv_init(mp_csv *c, FILE *f, const char *where)
{
    memset(c, 0, sizeof(*c));
    c->f = f;
    c->where = where;
    c->next_line = 1;
}

void mp_csv_free(mp_csv *c)
{
    mp_free_secret(c->buf, c->cap);
    c->buf = NULL;
    c->cap = 0;
    c->n = 0;
}

static int put(mp_csv *c, size_t *len, char ch)
{
    if (*len + 1 >= c->cap) {
        size_t ncap = c->cap ? 2 * c->cap : 256;
        char *nb = malloc(ncap);
        if (nb == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
        if (c->buf) memcpy(nb, c->buf, *len);
        mp_free_secret(c->buf, c->cap);
        c->buf = nb;
        c->cap = ncap;
    }
    c->buf[(*len)++] = ch;
    return MP_OK;
}

int mp_csv_next(mp_csv *c)
{
    size_t len = 0, starts[MP_CSV_MAX_FIELDS];
    int ch, quoted = 0, inq = 0, after = 0, any = 0;
    c->n = 0;
    c->complete = 0;
    c->line = c->next_line;
    starts[0] = 0;
    int nf = 1;
    while ((ch = getc_unlocked(c->f)) != EOF) {
        any = 1;
        if (inq) {
            if (ch == '"') {
                int n2 = getc_unlocked(c->f);
                if (n2 == '"') {
                    if (put(c, &len, '"') != MP_OK) return MP_ERR_GENERAL;
                    continue;
                }
                if (n2 != EOF) ungetc(n2, c->f);
                inq = 0;
                after = 1;
                continue;
            }
            if (ch == '\n') c->next_line++;
            if (put(c, &len, (char)ch) != MP_OK) return MP_ERR_GENERAL;
            continue;
        }
        if (ch == '\r') {
            int n2 = getc_unlocked(c->f);
            if (n2 == '\n') ch = '\n';
            else {
                if (n2 != EOF) ungetc(n2, c->f);
                return mp_err(MP_ERR_INVALID, "%s:%lu: a carriage return outside quotes", c->where, c->next_line);
            }
        }
        if (ch == '\n') {
            c->next_line++;
            c->complete = 1;
            break;
        }
        if (ch == ',') {
            if (nf == MP_CSV_MAX_FIELDS) return mp_err(MP_ERR_INVALID, "%s:%lu: more than %d fields", c->where, c->line, MP_CSV_MAX_FIELDS);
            if (put(c, &len, 0) != MP_OK) return MP_ERR_GENERAL;
            starts[nf++] = len;
            quoted = after = 0;
            continue;
        }
        if (after) return mp_err(MP_ERR_INVALID, "%s:%lu: field %d: text after the closing quote", c->where, c->line, nf);
        if (ch == '"') {
            if (len != starts[nf - 1] || quoted) {
                return mp_err(MP_ERR_INVALID, "%s:%lu: field %d: a quote inside an unquoted field", c->where, c->line, nf);
            }
            quoted = inq = 1;
            continue;
        }
        if (put(c, &len, (char)ch) != MP_OK) return MP_ERR_GENERAL;
    }
    if (inq) return mp_err(MP_ERR_INVALID, "%s:%lu: a quoted field is not closed", c->where, c->line);
    if (!any) return MP_OK; /* end of file */
    if (put(c, &len, 0) != MP_OK) return MP_ERR_GENERAL;
    for (int i = 0; i < nf; i++) c->fields[i] = c->buf + starts[i];
    c->n = nf;
    return MP_OK;
}

size_t mp_csv_cell(char *out, size_t cap, const char *v)
{
    size_t n = strlen(v), o = 0;
    int q = strpbrk(v, ",\"\r\n") != NULL || (n > 0 && (v[0] == ' ' || v[n - 1] == ' '));
    if (!q) {
        if (n + 1 > cap) goto small;
        memcpy(out, v, n + 1);
        return n;
    }
    if (cap < 3) goto small;
    out[o++] = '"';
    for (const char *p = v; *p; p++) {
        if (o + (*p == '"' ? 2 : 1) + 2 > cap) goto small;
        if (*p == '"') out[o++] = '"';
        out[o++] = *p;
    }
    out[o++] = '"';
    out[o] = 0;
    return o;
small:
    if (cap > 0) out[0] = 0;
    return 0;
}
