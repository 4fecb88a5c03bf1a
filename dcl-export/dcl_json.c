/* dcl_json.c - see dcl_json.h. */
#include "dcl_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct buf {
    char *p;
    size_t len, cap;
    int oom;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (q == NULL) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void puts_(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Go encoding/json string escaping (HTML-safe, the default of json.Marshal). */
static void put_string(buf *b, const char *s, size_t n)
{
    char esc[8];
    put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *e = NULL;
        if (c == '"') e = "\\\"";
        else if (c == '\\') e = "\\\\";
        else if (c == '\n') e = "\\n";
        else if (c == '\r') e = "\\r";
        else if (c == '\t') e = "\\t";
        else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            e = esc;
        } else if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
                   ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9)) {
            e = (unsigned char)s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029";
            i += 2;
        }
        if (e != NULL) puts_(b, e);
        else put(b, (const char *)&s[i], 1);
    }
    put(b, "\"", 1);
}

static int dump(buf *b, const json_t *v)
{
    char num[32];
    size_t i;
    const char *k;
    json_t *e;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        put(b, "{", 1);
        i = 0;
        json_object_foreach((json_t *)v, k, e) {
            if (i++) put(b, ",", 1);
            put_string(b, k, strlen(k));
            put(b, ":", 1);
            if (dump(b, e) != MP_OK) return MP_ERR_GENERAL;
        }
        put(b, "}", 1);
        return MP_OK;
    case JSON_ARRAY:
        put(b, "[", 1);
        json_array_foreach(v, i, e) {
            if (i) put(b, ",", 1);
            if (dump(b, e) != MP_OK) return MP_ERR_GENERAL;
        }
        put(b, "]", 1);
        return MP_OK;
    case JSON_STRING:
        put_string(b, json_string_value(v), json_string_length(v));
        return MP_OK;
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        puts_(b, num);
        return MP_OK;
    case JSON_TRUE: puts_(b, "true"); return MP_OK;
    case JSON_FALSE: puts_(b, "false"); return MP_OK;
    case JSON_NULL: puts_(b, "null"); return MP_OK;
    default:
        return mp_err(MP_ERR_GENERAL, "DCL JSON: real numbers are never emitted");
    }
}

int dcl_json_dump(const json_t *v, char **out, size_t *len)
{
    buf b = {0};
    int rc = dump(&b, v);
    put(&b, "\n", 1);
    if (rc == MP_OK && b.oom) {
        rc = mp_err(MP_ERR_GENERAL, "DCL JSON: out of memory");
    }
    if (rc != MP_OK) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    *len = b.len;
    return MP_OK;
}

json_t *dcl_tx_new(json_t *msg)
{
    return json_pack("{s:{s:[O],s:s,s:s,s:[],s:[]},s:{s:[],s:{s:[],s:s,s:s,s:s},s:n},s:[]}",
                     "body", "messages", msg, "memo", "", "timeout_height", "0",
                     "extension_options", "non_critical_extension_options",
                     "auth_info", "signer_infos", "fee", "amount", "gas_limit", "200000",
                     "payer", "", "granter", "", "tip", "signatures");
}

json_t *dcl_tx_msg(json_t *tx)
{
    return json_array_get(json_object_get(json_object_get(tx, "body"), "messages"), 0);
}

int dcl_json_write(const char *path, const json_t *v, int force)
{
    char *s = NULL;
    size_t n = 0;
    int rc = dcl_json_dump(v, &s, &n);
    if (rc == MP_OK) {
        rc = mp_write_file(path, s, n, 0644, force);
    }
    free(s);
    return rc;
}
