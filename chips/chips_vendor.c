/* chips_vendor.c - birth certificates as chip vendors deliver them (see
 * chips.h): UDIDs from file names (Infineon's <ChipUID>_E0E0.pem) or a
 * udid,certificate-file map, the OPTIGA data-object tag header before the
 * DER, and the table that names both files of a colliding UDID. */
#include "chips/chips.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define DEFAULT_PATTERN "<UDID>_*"

/* ---- tag header ---------------------------------------------------------------- */

size_t mp_birth_tag_skip(const uint8_t *b, size_t len)
{
    /* 0xC0, 2-byte length, 3-byte certificate-list length, 3-byte
     * certificate length, then the DER; the object may be padded after. */
    if (len < 9 + 2 || b[0] != 0xC0 || b[9] != 0x30) {
        return 0;
    }
    size_t l1 = (size_t)b[1] << 8 | b[2];
    size_t l2 = (size_t)b[3] << 16 | (size_t)b[4] << 8 | b[5];
    size_t l3 = (size_t)b[6] << 16 | (size_t)b[7] << 8 | b[8];
    if (l1 != l2 + 3 || l2 != l3 + 3 || 3 + l1 > len) {
        return 0;
    }
    return 9;
}

/* ---- UDID from the file name --------------------------------------------------- */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int mp_udid_from_filename(const char *pattern, const char *path, char udid[static MP_UDID_MAX + 1])
{
    const char *pat = pattern && *pattern ? pattern : DEFAULT_PATTERN;
    const char *mark = strstr(pat, "<UDID>"), *name = base_name(path);
    if (mark == NULL || strstr(mark + 6, "<UDID>") != NULL) {
        return mp_err(MP_ERR_USAGE, "--udid-from filename:PATTERN: the pattern must hold <UDID> exactly once");
    }
    size_t pre = (size_t)(mark - pat), n = strlen(name);
    if (strncmp(name, pat, pre) != 0) {
        return mp_err(MP_ERR_INVALID, "file name does not match the pattern %s", pat);
    }
    /* the shortest UDID after which the rest of the name matches */
    for (size_t k = 1; pre + k <= n && k <= MP_UDID_MAX; k++) {
        if (fnmatch(mark + 6, name + pre + k, 0) == 0) {
            memcpy(udid, name + pre, k);
            udid[k] = 0;
            return mp_chip_udid_check(udid, k);
        }
    }
    return mp_err(MP_ERR_INVALID, "file name does not match the pattern %s", pat);
}

/* ---- udid,certificate-file map -------------------------------------------------- */

typedef struct map_row {
    char *file;
    char udid[MP_UDID_MAX + 1];
    size_t line;
    int used;
} map_row;

struct mp_udid_map {
    char *path;
    map_row *rows;
    size_t n;
};

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const map_row *)a)->file, ((const map_row *)b)->file);
}

void mp_udid_map_free(mp_udid_map *m)
{
    if (m == NULL) return;
    for (size_t i = 0; i < m->n; i++) free(m->rows[i].file);
    free(m->rows);
    free(m->path);
    free(m);
}

static int map_line(mp_udid_map *m, char *line, size_t lineno, size_t *cap)
{
    size_t l = strlen(line);
    while (l > 0 && (line[l - 1] == '\r' || line[l - 1] == '\n' || line[l - 1] == ' ')) line[--l] = 0;
    if (l == 0 || (lineno == 1 && strncmp(line, "udid,", 5) == 0)) {
        return MP_OK;
    }
    char *comma = strchr(line, ',');
    if (comma == NULL || comma == line || comma[1] == 0 || strchr(comma + 1, ',') != NULL) {
        return mp_err(MP_ERR_INVALID, "%s:%zu: expected udid,certificate-file", m->path, lineno);
    }
    *comma = 0;
    int rc = mp_chip_udid_check(line, strlen(line));
    if (rc != MP_OK) {
        return mp_err_ctx(rc, "%s:%zu", m->path, lineno);
    }
    if (m->n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        map_row *r = realloc(m->rows, *cap * sizeof(*r));
        if (r == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
        m->rows = r;
    }
    map_row *r = &m->rows[m->n];
    memset(r, 0, sizeof(*r));
    snprintf(r->udid, sizeof(r->udid), "%s", line);
    r->file = strdup(base_name(comma + 1));
    r->line = lineno;
    if (r->file == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    m->n++;
    return MP_OK;
}

int mp_udid_map_load(const char *path, mp_udid_map **out)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t lcap = 0, cap = 0, lineno = 0;
    int rc = MP_OK;
    if (f == NULL) {
        return mp_err(MP_ERR_IO, "--udid-from csv:%s: cannot open: %s", path, strerror(errno));
    }
    mp_udid_map *m = calloc(1, sizeof(*m));
    if (m == NULL || (m->path = strdup(path)) == NULL) rc = mp_err(MP_ERR_GENERAL, "out of memory");
    while (rc == MP_OK && getline(&line, &lcap, f) >= 0) {
        rc = map_line(m, line, ++lineno, &cap);
    }
    free(line);
    fclose(f);
    if (rc == MP_OK && m->n == 0) rc = mp_err(MP_ERR_INVALID, "%s: the map has no rows", path);
    if (rc == MP_OK) {
        qsort(m->rows, m->n, sizeof(map_row), row_cmp);
        for (size_t i = 1; i < m->n; i++) {
            if (strcmp(m->rows[i].file, m->rows[i - 1].file) == 0) {
                rc = mp_err(MP_ERR_DUPLICATE, "%s:%zu: file %s is mapped again (line %zu)", path,
                            m->rows[i].line, m->rows[i].file, m->rows[i - 1].line);
                break;
            }
        }
    }
    if (rc != MP_OK) {
        mp_udid_map_free(m);
        return rc;
    }
    *out = m;
    return MP_OK;
}

int mp_udid_map_get(mp_udid_map *m, const char *path, char udid[static MP_UDID_MAX + 1])
{
    map_row key = {.file = (char *)base_name(path)};
    map_row *r = bsearch(&key, m->rows, m->n, sizeof(map_row), row_cmp);
    if (r == NULL) {
        return mp_err(MP_ERR_INVALID, "not listed in %s", m->path);
    }
    r->used = 1;
    memcpy(udid, r->udid, sizeof(r->udid));
    return MP_OK;
}

int mp_udid_map_all_used(const mp_udid_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        if (!m->rows[i].used) {
            return mp_err(MP_ERR_INVALID, "%s:%zu: no device certificate file %s was read", m->path,
                          m->rows[i].line, m->rows[i].file);
        }
    }
    return MP_OK;
}

/* ---- UDIDs seen, with where they came from ---------------------------------------- */

typedef struct seen_slot {
    char *udid, *where;
} seen_slot;

struct mp_udid_seen {
    seen_slot *slots;
    size_t cap, n;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void mp_udid_seen_free(mp_udid_seen *t)
{
    if (t == NULL) return;
    for (size_t i = 0; i < t->cap; i++) {
        free(t->slots[i].udid);
        free(t->slots[i].where);
    }
    free(t->slots);
    free(t);
}

int mp_udid_seen_new(mp_udid_seen **out)
{
    mp_udid_seen *t = calloc(1, sizeof(*t));
    if (t == NULL || (t->slots = calloc(1024, sizeof(seen_slot))) == NULL) {
        free(t);
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    t->cap = 1024;
    *out = t;
    return MP_OK;
}

static int grow(mp_udid_seen *t)
{
    seen_slot *old = t->slots;
    size_t ocap = t->cap;
    seen_slot *s = calloc(ocap * 2, sizeof(seen_slot));
    if (s == NULL) return -1;
    t->slots = s;
    t->cap = ocap * 2;
    for (size_t i = 0; i < ocap; i++) {
        if (old[i].udid == NULL) continue;
        size_t j = hash(old[i].udid) & (t->cap - 1);
        while (s[j].udid != NULL) j = (j + 1) & (t->cap - 1);
        s[j] = old[i];
    }
    free(old);
    return 0;
}

int mp_udid_seen_add(mp_udid_seen *t, const char *udid, const char *where)
{
    if ((t->n + 1) * 2 > t->cap && grow(t) != 0) {
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    size_t j = hash(udid) & (t->cap - 1);
    for (; t->slots[j].udid != NULL; j = (j + 1) & (t->cap - 1)) {
        if (strcmp(t->slots[j].udid, udid) == 0) {
            return mp_err(MP_ERR_DUPLICATE, "UDID %s collides: %s and %s give the same UDID", udid,
                          t->slots[j].where, where);
        }
    }
    if ((t->slots[j].udid = strdup(udid)) == NULL || (t->slots[j].where = strdup(where)) == NULL) {
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    t->n++;
    return MP_OK;
}
