/*
 * jw.h - a small JSON object writer for the per-device hot path (factory-data
 * images and manifest lines): appends to one growing buffer instead of
 * building a jansson tree per device. Its output is byte for byte what
 * jansson's json_dumps prints for the same object with JSON_PRESERVE_ORDER
 * and either JSON_INDENT(n) or JSON_COMPACT (tests/unit/test_jw.c checks
 * that), strings being valid UTF-8. The buffer may hold secrets: it is
 * wiped whenever it moves and by mp_jw_free.
 */
#ifndef MP_JW_H
#define MP_JW_H

#include <stddef.h>

typedef struct mp_jw {
    char *buf;
    size_t len, cap;
    int indent; /* spaces per level; 0 = compact */
    int depth;
    int first;  /* no member yet at this level */
    int oom;
} mp_jw;

void mp_jw_init(mp_jw *w, int indent, size_t cap_hint);
void mp_jw_open(mp_jw *w);                       /* '{' */
void mp_jw_close(mp_jw *w);                      /* '}' */
void mp_jw_key_obj(mp_jw *w, const char *key);   /* "key": { ... closed by mp_jw_close */
void mp_jw_key_str(mp_jw *w, const char *key, const char *s, size_t n);
void mp_jw_key_cstr(mp_jw *w, const char *key, const char *s);
void mp_jw_key_int(mp_jw *w, const char *key, long long v);
void mp_jw_key_bool(mp_jw *w, const char *key, int v);
/* The text (NUL-terminated, length in *len) handed to the caller, who frees
 * it (mp_free_secret); NULL when memory ran out. */
/* Raw text between top-level objects (a newline in JSON Lines, or CSV). */
void mp_jw_raw(mp_jw *w, const char *s, size_t n);
char *mp_jw_take(mp_jw *w, size_t *len);
void mp_jw_free(mp_jw *w);

#endif
