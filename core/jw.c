/* jw.c - see jw.h. */
#include "jw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void mp_jw_init(mp_jw *w, int indent, size_t cap_hint)
{
    memset(w, 0, sizeof(*w));
    w->indent = indent;
    w->cap = cap_hint < 64 ? 64 : cap_hint;
    w->buf = malloc(w->cap);
    w->oom = w->buf == NULL;
}

static int grow(mp_jw *w, size_t more)
{
    if (w->oom) return 0;
    if (w->len + more + 1 <= w->cap) return 1;
    size_t cap = w->cap * 2;
    while (cap < w->len + more + 1) cap *= 2;
    char *b = malloc(cap);
    if (b == NULL) {
        w->oom = 1;
        return 0;
    }
    memcpy(b, w->buf, w->len);
    mp_wipe(w->buf, w->cap); /* never leave a copy of what was written */
    free(w->buf);
    w->buf = b;
    w->cap = cap;
    return 1;
}

static void put(mp_jw *w, const char *s, size_t n)
{
    if (grow(w, n)) {
        memcpy(w->buf + w->len, s, n);
        w->len += n;
    }
}

static void newline(mp_jw *w, int depth)
{
    if (w->indent == 0 || !grow(w, 1 + (size_t)(depth * w->indent))) return;
    w->buf[w->len++] = '\n';
    memset(w->buf + w->len, ' ', (size_t)(depth * w->indent));
    w->len += (size_t)(depth * w->indent);
}

/* A JSON string as jansson escapes it: quote, backslash, the named controls,
 * other controls as \u00XX; everything else (UTF-8 included) as is. */
static void string(mp_jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t run = 0;
    put(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        put(w, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            memcpy(u, "\\u00", 4);
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
            u[6] = 0;
            esc = u;
        }
        put(w, esc, strlen(esc));
    }
    put(w, s + run, n - run);
    put(w, "\"", 1);
}

static void key(mp_jw *w, const char *k)
{
    if (!w->first) {
        put(w, ",", 1);
    }
    newline(w, w->depth);
    w->first = 0;
    string(w, k, strlen(k));
    put(w, w->indent ? ": " : ":", w->indent ? 2 : 1);
}

void mp_jw_open(mp_jw *w)
{
    put(w, "{", 1);
    w->depth++;
    w->first = 1;
}

void mp_jw_close(mp_jw *w)
{
    w->depth--;
    if (!w->first) {
        newline(w, w->depth);
    }
    put(w, "}", 1);
    w->first = 0;
}

void mp_jw_key_obj(mp_jw *w, const char *k)
{
    key(w, k);
    mp_jw_open(w);
}

void mp_jw_key_str(mp_jw *w, const char *k, const char *s, size_t n)
{
    key(w, k);
    string(w, s, n);
}

void mp_jw_key_cstr(mp_jw *w, const char *k, const char *s) { mp_jw_key_str(w, k, s, strlen(s)); }

void mp_jw_key_int(mp_jw *w, const char *k, long long v)
{
    char n[24];
    key(w, k);
    put(w, n, (size_t)snprintf(n, sizeof(n), "%lld", v));
}

void mp_jw_key_bool(mp_jw *w, const char *k, int v)
{
    key(w, k);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void mp_jw_raw(mp_jw *w, const char *s, size_t n) { put(w, s, n); }

char *mp_jw_take(mp_jw *w, size_t *len)
{
    if (w->oom || !grow(w, 0)) {
        mp_jw_free(w);
        return NULL;
    }
    w->buf[w->len] = 0;
    char *b = w->buf;
    *len = w->len;
    w->buf = NULL;
    w->len = w->cap = 0;
    return b;
}

void mp_jw_free(mp_jw *w)
{
    if (w->buf != NULL) {
        mp_wipe(w->buf, w->cap);
        free(w->buf);
    }
    w->buf = NULL;
    w->len = w->cap = 0;
}
