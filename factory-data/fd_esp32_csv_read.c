/*
 * fd_esp32_csv_read.c - reading back the CSV that esp-idf-nvs-partition-gen
 * takes (fd_esp32_csv_pack): the header "key,type,encoding,value", then
 * records of exactly four fields (RFC 4180 quoting, "" inside quotes, a
 * quoted field may span lines; LF or CRLF line ends, the last line ended
 * too, blank lines skipped). A "namespace" record opens a namespace; the
 * "data" records of chip-factory are mapped like the NVS image's entries:
 * the same keys, U32 integers as "u32" decimal, strings (salt and verifier
 * base64) as "string", blobs as "hex2bin". Other keys and namespaces are
 * checked for syntax and otherwise ignored, as fd_esp32_read.c ignores them.
 * Every error names the line.
 */
#include "fd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util.h"

#define NS_NAME "chip-factory"
#define PUBKEY "dac-pub-key"
#define NFIELDS 4

enum { C_KEY, C_TYPE, C_ENC, C_VALUE };

typedef struct rec {
    char *f[NFIELDS];   /* NUL-terminated, in the reader's buffer */
    size_t len[NFIELDS];
    int nf;
    size_t line;        /* line the record starts on */
} rec;

typedef struct csv {
    const uint8_t *p;
    size_t n, i;
    size_t line;        /* current line, from 1 */
    char *out;          /* unquoted fields of the current record */
} csv;

static int bad(size_t line, const char *what)
{
    return mp_err(MP_ERR_INVALID, "esp32-csv: line %zu: %s", line, what);
}

/* After a field: ',' (*more = 1, another field follows) or the end of the
 * record, LF or CRLF (*more = 0). */
static int field_end(csv *c, int *more)
{
    *more = 0;
    if (c->i >= c->n) return bad(c->line, "no newline at the end of the line (file truncated?)");
    if (c->p[c->i] == ',') {
        c->i++;
        *more = 1;
        return MP_OK;
    }
    if (c->p[c->i] == '\r' && c->i + 1 < c->n && c->p[c->i + 1] == '\n') c->i++;
    if (c->p[c->i] != '\n') return bad(c->line, "expected ',' or the end of the line after a quoted field");
    c->i++;
    c->line++;
    return MP_OK;
}

/* One field into out at *o: quoted or plain. */
static int field(csv *c, size_t *o)
{
    if (c->i < c->n && c->p[c->i] == '"') {
        size_t start = c->line;
        for (c->i++;; c->i++) {
            if (c->i >= c->n) return bad(start, "quoted field not closed (file truncated?)");
            uint8_t ch = c->p[c->i];
            if (ch == '"' && c->i + 1 < c->n && c->p[c->i + 1] == '"') {
                c->i++;
            } else if (ch == '"') {
                c->i++;
                return MP_OK;
            } else if (ch == '\n') {
                c->line++;
            }
            c->out[(*o)++] = (char)ch;
        }
    }
    while (c->i < c->n && c->p[c->i] != ',' && c->p[c->i] != '\n' && c->p[c->i] != '\r') {
        if (c->p[c->i] == '"') return bad(c->line, "a quote inside an unquoted field (quote the whole field, double the quote)");
        c->out[(*o)++] = (char)c->p[c->i++];
    }
    if (c->i < c->n && c->p[c->i] == '\r' && (c->i + 1 >= c->n || c->p[c->i + 1] != '\n')) {
        return bad(c->line, "carriage return not followed by a newline");
    }
    return MP_OK;
}

/* The next record; r->nf = 0 at the end of the file. Blank lines skipped. */
static int record(csv *c, rec *r)
{
    size_t o = 0;
    int more, rc;
    while (c->i < c->n && (c->p[c->i] == '\n' || (c->p[c->i] == '\r' && c->i + 1 < c->n && c->p[c->i + 1] == '\n'))) {
        c->i += c->p[c->i] == '\r' ? 2 : 1;
        c->line++;
    }
    r->nf = 0;
    r->line = c->line;
    if (c->i >= c->n) return MP_OK;
    do {
        if (r->nf == NFIELDS) return bad(r->line, "more than 4 fields; expected key,type,encoding,value");
        size_t start = o;
        if ((rc = field(c, &o)) != MP_OK) return rc;
        r->f[r->nf] = c->out + start;
        r->len[r->nf] = o - start;
        c->out[o++] = 0;
        r->nf++;
        if ((rc = field_end(c, &more)) != MP_OK) return rc;
    } while (more);
    if (r->nf != NFIELDS) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%d field(s); expected 4: key,type,encoding,value (line truncated?)", r->nf);
        return bad(r->line, msg);
    }
    return MP_OK;
}

static const char *const encodings[] = {"u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64",
                                        "string", "hex2bin", "base64", "binary"};

/* Decimal 0..0xFFFFFFFF, digits only. */
/* A u32 value as the NVS generator writes it: decimal digits only. */
static int parse_u32(const char *s, uint64_t *v)
{
    return s[0] >= '0' && s[0] <= '9' && strncmp(s, "0x", 2) != 0 && strncmp(s, "0X", 2) != 0 &&
                   mp_parse_uint(s, 0xFFFFFFFFu, v) == MP_OK
               ? 0
               : -1;
}

typedef struct state {
    int ns;             /* 0 none yet, 1 chip-factory, 2 another */
    int seen_ns;        /* chip-factory opened */
    char (*keys)[16];   /* chip-factory keys seen, for duplicates */
    size_t *lines;
    size_t nkeys, cap;
    uint8_t pub[65];
    int has_pub;
} state;

static int remember(state *s, const rec *r)
{
    const char *key = r->f[C_KEY];
    for (size_t k = 0; k < s->nkeys; k++) {
        if (strcmp(s->keys[k], key) == 0) {
            return mp_err(MP_ERR_INVALID, "esp32-csv: line %zu: key '%s' appears twice (first on line %zu)", r->line, key, s->lines[k]);
        }
    }
    if (s->nkeys == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 32;
        char (*keys)[16] = realloc(s->keys, cap * sizeof(*keys));
        if (keys != NULL) s->keys = keys;
        size_t *lines = keys ? realloc(s->lines, cap * sizeof(*lines)) : NULL;
        if (lines == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
        s->lines = lines;
        s->cap = cap;
    }
    snprintf(s->keys[s->nkeys], sizeof(s->keys[0]), "%s", key);
    s->lines[s->nkeys++] = r->line;
    return MP_OK;
}

/* A data record of chip-factory whose key is known. */
static int known(state *s, const rec *r, const fd_map *m, mp_fd_device *d)
{
    const char *key = r->f[C_KEY], *val = r->f[C_VALUE];
    int is_pub = m == NULL;
    const char *want = is_pub || m->enc == E_RAW ? "hex2bin" : m->enc == E_INT ? "u32" : "string";
    char where[48];
    uint64_t u;
    snprintf(where, sizeof(where), "esp32-csv: line %zu", r->line);
    if (strcmp(r->f[C_TYPE], "data") != 0) {
        return mp_err(MP_ERR_INVALID, "%s: key '%s': type '%s'; expected 'data' (values read from files are not supported)", where, key, r->f[C_TYPE]);
    }
    if (strcmp(r->f[C_ENC], want) != 0) {
        return mp_err(MP_ERR_INVALID, "%s: key '%s': encoding '%s'; expected '%s'", where, key, r->f[C_ENC], want);
    }
    if (is_pub) {
        if (r->len[C_VALUE] != 130 || mp_unhex(val, s->pub, sizeof(s->pub)) != 65 || s->pub[0] != 0x04) {
            return mp_err(MP_ERR_INVALID, "%s: key '%s': expected 65 bytes in hex (an uncompressed P-256 point, 04...)", where, key);
        }
        s->has_pub = 1;
        return MP_OK;
    }
    if (m->enc == E_INT) {
        if (parse_u32(val, &u) != 0) {
            return mp_err(MP_ERR_INVALID, "%s: key '%s': '%.24s' is not a decimal number 0..4294967295", where, key, val);
        }
        return fd_decode_set(d, m, NULL, 0, u, where);
    }
    if (m->enc == E_RAW) {
        fd_map hex = *m;
        hex.enc = E_HEX;
        return fd_decode_set(d, &hex, (const uint8_t *)val, r->len[C_VALUE], 0, where);
    }
    return fd_decode_set(d, m, (const uint8_t *)val, r->len[C_VALUE], 0, where);
}

static int one(state *s, const rec *r, mp_fd_device *d)
{
    const char *key = r->f[C_KEY], *type = r->f[C_TYPE], *enc = r->f[C_ENC];
    char msg[128];
    int rc;
    if (r->len[C_KEY] == 0 || r->len[C_KEY] > 15) {
        snprintf(msg, sizeof(msg), "key '%.40s': expected 1..15 characters (the NVS limit)", key);
        return bad(r->line, msg);
    }
    if (strcmp(type, "namespace") == 0) {
        if (r->len[C_ENC] != 0 || r->len[C_VALUE] != 0) return bad(r->line, "a namespace record has an empty encoding and value");
        if (strcmp(key, NS_NAME) != 0) {
            s->ns = 2;
            return MP_OK;
        }
        if (s->seen_ns) return bad(r->line, "namespace 'chip-factory' opened twice");
        s->ns = s->seen_ns = 1;
        return MP_OK;
    }
    if (strcmp(type, "data") != 0 && strcmp(type, "file") != 0) {
        snprintf(msg, sizeof(msg), "type '%.40s'; expected namespace, data or file", type);
        return bad(r->line, msg);
    }
    if (s->ns == 0) return bad(r->line, "a data record before the first namespace record");
    size_t e = 0;
    while (e < sizeof(encodings) / sizeof(encodings[0]) && strcmp(enc, encodings[e]) != 0) e++;
    if (e == sizeof(encodings) / sizeof(encodings[0])) {
        snprintf(msg, sizeof(msg), "key '%s': encoding '%.20s'; expected u8, i8, u16, i16, u32, i32, u64, i64, string, hex2bin, base64 or binary", key, enc);
        return bad(r->line, msg);
    }
    if (s->ns != 1) return MP_OK;
    if ((rc = remember(s, r)) != MP_OK) return rc;
    const fd_map *m = fd_map_key(fd_esp_map, fd_esp_nmap, key, r->len[C_KEY]);
    if (m == NULL && strcmp(key, PUBKEY) != 0) return MP_OK; /* other device-info keys */
    return known(s, r, m, d);
}

int fd_esp32_csv_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d)
{
    static const char *const head[NFIELDS] = {"key", "type", "encoding", "value"};
    csv c = {buf, len, 0, 1, NULL};
    state s = {0};
    rec r;
    int rc = MP_OK;
    const uint8_t *nul = memchr(buf, 0, len);
    if (nul != NULL) {
        size_t line = 1;
        for (const uint8_t *p = buf; p < nul; p++) line += *p == '\n';
        return bad(line, "a NUL byte; the CSV is text");
    }
    if ((c.out = malloc(len + NFIELDS + 1)) == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    int ok = record(&c, &r) == MP_OK && r.nf == NFIELDS && r.line == 1;
    for (int k = 0; k < NFIELDS && ok; k++) ok = strcmp(r.f[k], head[k]) == 0;
    if (!ok) rc = bad(1, "expected the header key,type,encoding,value");
    while (rc == MP_OK && (rc = record(&c, &r)) == MP_OK && r.nf > 0) rc = one(&s, &r, d);
    if (rc == MP_OK && !s.seen_ns) rc = mp_err(MP_ERR_INVALID, "esp32-csv: no namespace 'chip-factory'");
    if (rc == MP_OK) rc = fd_esp_check_pub(d, s.pub, s.has_pub, "esp32-csv");
    if (rc == MP_OK) rc = fd_esp_merge_sc(d, o, "esp32-csv");
    mp_free_secret(c.out, len + NFIELDS + 1);
    free(s.keys);
    free(s.lines);
    return rc;
}

int fd_esp32_csv_detect(const uint8_t *b, size_t n)
{
    static const char head[] = "key,type,encoding,value";
    size_t h = sizeof(head) - 1;
    return n > h && memcmp(b, head, h) == 0 && (b[h] == '\n' || b[h] == '\r') ? 2 : 0;
}
