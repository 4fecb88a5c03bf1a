/*
 * fd_esp32_read.c - decoding an NVS v2 partition image: page header, entry
 * and data CRCs, the entry-state bitmap, multi-page blobs reassembled from
 * their chunks, then the chip-factory keys mapped back to the device.
 */
#include "fd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "spake2p.h"
#include "util.h"

#define PAGE 4096
#define SLOTS 126

typedef struct item {
    uint8_t ns, type, chunk;
    char key[16];
    const uint8_t *data;
    size_t size;        /* SZ/BLOB_DATA bytes; BLOB_IDX total */
    uint32_t u;         /* primitive value (low 32 bits); BLOB_IDX chunk count */
    uint64_t u64;       /* primitive value, all 8 bytes of the field */
    size_t page, slot;
} item;

typedef struct reader {
    item *items;
    size_t n, cap;
} reader;

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t entry_crc(const uint8_t *e)
{
    uint8_t t[28];
    memcpy(t, e, 4);
    memcpy(t + 4, e + 8, 24);
    return mp_nvs_crc32(t, sizeof(t));
}

static int bad(size_t page, size_t slot, const char *what)
{
    return mp_err(MP_ERR_INVALID, "esp32: page %zu entry %zu: %s", page, slot, what);
}

/* Parse the entry at slot i; *span gets the slots it covers. */
static int entry(reader *r, const uint8_t *p, size_t page, int i, int *span)
{
    const uint8_t *e = p + 64 + 32 * i;
    item it = {.ns = e[0], .type = e[1], .chunk = e[3], .page = page, .slot = (size_t)i};
    *span = e[2];
    if (rd32(e + 4) != entry_crc(e)) return bad(page, (size_t)i, "entry CRC mismatch");
    if (e[2] < 1 || i + e[2] > SLOTS) return bad(page, (size_t)i, "bad span");
    if (memchr(e + 8, 0, 16) == NULL) return bad(page, (size_t)i, "key not NUL-terminated");
    memcpy(it.key, e + 8, 16);
    if (it.type == 0x21 || it.type == 0x42) {
        it.size = (size_t)e[24] | (size_t)e[25] << 8;
        if (it.size > (size_t)(e[2] - 1) * 32) return bad(page, (size_t)i, "data size exceeds the span");
        it.data = e + 32;
        if (rd32(e + 28) != mp_nvs_crc32(it.data, it.size)) return bad(page, (size_t)i, "data CRC mismatch");
        if (it.type == 0x21 && (it.size == 0 || it.data[it.size - 1] != 0)) return bad(page, (size_t)i, "string without its NUL");
    } else if (it.type == 0x48) {
        it.size = rd32(e + 24);
        it.u = e[28];
    } else if ((it.type & 0x0F) <= 8 && (it.type & 0xF0) <= 0x10) {
        it.u = rd32(e + 24);
        it.u64 = (uint64_t)it.u | (uint64_t)rd32(e + 28) << 32;
    } else {
        return bad(page, (size_t)i, "unknown entry type");
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        item *n = realloc(r->items, r->cap * sizeof(item));
        if (n == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
        r->items = n;
    }
    r->items[r->n++] = it;
    return MP_OK;
}

static int page(reader *r, const uint8_t *p, size_t idx)
{
    uint32_t state = rd32(p);
    if (state == 0xFFFFFFFFu) {
        for (size_t k = 0; k < PAGE; k++) {
            if (p[k] != 0xFF) return mp_err(MP_ERR_INVALID, "esp32: page %zu: uninitialised page holds data at byte %zu", idx, k);
        }
        return MP_OK;
    }
    if (state != 0xFFFFFFFEu && state != 0xFFFFFFFCu) return mp_err(MP_ERR_INVALID, "esp32: page %zu: unknown state 0x%08X", idx, state);
    if (p[8] != 0xFE) return mp_err(MP_ERR_INVALID, "esp32: page %zu: format version 0x%02X; expected 0xFE (NVS v2)", idx, p[8]);
    if (rd32(p + 28) != mp_nvs_crc32(p + 4, 24)) return mp_err(MP_ERR_INVALID, "esp32: page %zu: header CRC mismatch", idx);
    for (int i = 0; i < SLOTS;) {
        int st = (p[32 + i / 4] >> (2 * (i % 4))) & 3, span = 1, rc;
        if (st == 2 && (rc = entry(r, p, idx, i, &span)) != MP_OK) return rc;
        if (st == 2) {
            for (int k = 1; k < span; k++) {
                int s2 = (p[32 + (i + k) / 4] >> (2 * ((i + k) % 4))) & 3;
                if (s2 != 2) return bad(idx, (size_t)(i + k), "data slot not marked written");
            }
        }
        i += span;
    }
    return MP_OK;
}

/* Concatenate the chunks of blob idx into out (malloc'd). */
static int blob(const reader *r, const item *idx, uint8_t **out)
{
    uint8_t *b = malloc(idx->size ? idx->size : 1);
    size_t off = 0;
    if (b == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    for (uint32_t c = 0; c < idx->u; c++) {
        const item *ch = NULL;
        for (size_t k = 0; k < r->n; k++) {
            const item *x = &r->items[k];
            if (x->type == 0x42 && x->ns == idx->ns && x->chunk == c && strcmp(x->key, idx->key) == 0) ch = x;
        }
        if (ch == NULL || off + ch->size > idx->size) {
            mp_free_secret(b, idx->size);
            return mp_err(MP_ERR_INVALID, "esp32: blob '%s': chunk %u missing or too long", idx->key, c);
        }
        memcpy(b + off, ch->data, ch->size);
        off += ch->size;
    }
    if (off != idx->size) {
        mp_free_secret(b, idx->size);
        return mp_err(MP_ERR_INVALID, "esp32: blob '%s': chunks hold %zu bytes, index says %zu", idx->key, off, idx->size);
    }
    *out = b;
    return MP_OK;
}

#define NMAP fd_esp_nmap
#define esp_read_map fd_esp_map

/* Map one chip-factory item to the device. */
static int apply(const reader *r, const item *it, mp_fd_device *d, uint8_t pub[65], int *has_pub)
{
    const fd_map *m = fd_map_key(esp_read_map, NMAP, it->key, strlen(it->key));
    uint8_t *b = NULL;
    int is_pub = strcmp(it->key, "dac-pub-key") == 0, rc;
    if (m == NULL && !is_pub) return MP_OK; /* other device-info keys */
    if (it->type == 0x48) {
        if ((rc = blob(r, it, &b)) != MP_OK) return rc;
        if (is_pub && it->size == 65) {
            memcpy(pub, b, 65);
            *has_pub = 1;
        } else if (is_pub || m->enc != E_RAW) {
            rc = mp_err(MP_ERR_INVALID, "esp32: key '%s': unexpected blob (or size)", it->key);
        } else {
            rc = fd_decode_set(d, m, b, it->size, 0, "esp32");
        }
        mp_free_secret(b, it->size);
        return rc;
    }
    if (is_pub || (it->type == 0x21) != (m->enc == E_TEXT || m->enc == E_B64) || (it->type != 0x21 && it->type != 0x04)) {
        return mp_err(MP_ERR_INVALID, "esp32: key '%s': unexpected NVS type 0x%02X", it->key, it->type);
    }
    return fd_decode_set(d, m, it->data, it->type == 0x21 ? it->size - 1 : 0, it->u, "esp32");
}

static int map_items(const reader *r, mp_fd_device *d)
{
    int ns = -1, has_pub = 0, rc;
    uint8_t pub[65];
    for (size_t k = 0; k < r->n; k++) {
        const item *it = &r->items[k];
        if (it->ns == 0 && it->type == 0x01 && strcmp(it->key, "chip-factory") == 0) ns = (int)(it->u & 0xFF);
    }
    if (ns < 0) return mp_err(MP_ERR_INVALID, "esp32: no namespace 'chip-factory' in the image");
    for (size_t k = 0; k < r->n; k++) {
        const item *it = &r->items[k];
        if (it->ns != ns || it->type == 0x42) continue;
        for (size_t j = 0; j < k; j++) {
            const item *o = &r->items[j];
            if (o->ns == ns && o->type != 0x42 && strcmp(o->key, it->key) == 0) return mp_err(MP_ERR_INVALID, "esp32: key '%s' appears twice", it->key);
        }
        if ((rc = apply(r, it, d, pub, &has_pub)) != MP_OK) return rc;
    }
    return fd_esp_check_pub(d, pub, has_pub, "esp32");
}

int fd_esp_check_pub(const mp_fd_device *d, const uint8_t pub[65], int has_pub, const char *where)
{
    uint8_t point[65];
    int rc;
    if (d->has_dac_key != has_pub) return mp_err(MP_ERR_INVALID, "%s: dac-key and dac-pub-key must be present together", where);
    if (has_pub && ((rc = mp_p256_point(d->dac_key, point)) != MP_OK || memcmp(point, pub, 65) != 0)) {
        return mp_err(MP_ERR_MISMATCH, "%s: dac-pub-key is not the public key of dac-key", where);
    }
    return MP_OK;
}

int fd_esp32_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d)
{
    reader r = {0};
    int rc = MP_OK;
    if (len < 0x3000 || len % PAGE != 0) return mp_err(MP_ERR_INVALID, "esp32: image of %zu bytes; expected a multiple of 4096, at least 0x3000", len);
    for (size_t p = 0; p < len / PAGE && rc == MP_OK; p++) rc = page(&r, buf + p * PAGE, p);
    if (rc == MP_OK) rc = map_items(&r, d);
    free(r.items);
    return rc == MP_OK ? fd_esp_merge_sc(d, o, "esp32") : rc;
}

int fd_esp_merge_sc(mp_fd_device *d, const mp_fd_opts *o, const char *where)
{
    if (o == NULL || o->esp_sc_dev == NULL) {
        return d->dac_len || d->pai_len || d->has_dac_key ? MP_OK
               : mp_err(MP_ERR_INVALID, "%s: no DAC, PAI or key: an NVS built for the esp_secure_cert partition (give that partition: --esp32-secure-cert FILE)", where);
    }
    const mp_fd_device *s = o->esp_sc_dev;
    if (d->dac_len || d->pai_len || d->has_dac_key) {
        return mp_err(MP_ERR_INVALID, "%s: the NVS holds the DAC, PAI or key too, which the esp_secure_cert partition is for", where);
    }
    memcpy(d->dac_der, s->dac_der, s->dac_len);
    d->dac_len = s->dac_len;
    memcpy(d->pai_der, s->pai_der, s->pai_len);
    d->pai_len = s->pai_len;
    memcpy(d->dac_key, s->dac_key, 32);
    d->has_dac_key = s->has_dac_key;
    d->key_efuse_block = s->key_efuse_block;
    if (s->iterations == 0) return MP_OK; /* the commissionable data is in the NVS */
    if (d->iterations || d->salt_len || (s->rd_uid_len && d->rd_uid_len)) {
        return mp_err(MP_ERR_INVALID, "%s: the NVS holds the commissionable data too, which the esp_secure_cert partition holds (type 201)", where);
    }
    d->discriminator = s->discriminator;
    d->iterations = s->iterations;
    memcpy(d->salt, s->salt, s->salt_len);
    d->salt_len = s->salt_len;
    memcpy(d->verifier, s->verifier, sizeof(d->verifier));
    if (s->rd_uid_len) {
        memcpy(d->rd_uid, s->rd_uid, s->rd_uid_len);
        d->rd_uid_len = s->rd_uid_len;
    }
    return MP_OK;
}

int fd_esp_sc_cd_field(int f)
{
    return f == F_DISC || f == F_ITER || f == F_SALT || f == F_VERIFIER || f == F_RDUID;
}

int fd_esp32_detect(const uint8_t *b, size_t n)
{
    int page = n >= 4096 && n % 4096 == 0 && b[1] == 0xFF && b[2] == 0xFF && b[3] == 0xFF && (b[0] == 0xFE || b[0] == 0xFC);
    return !page ? 0 : fd_esp_entry0_plain(b, n) ? 2 : 1; /* 1: entries not in clear (esp32-enc) */
}

/* ---- the other entries ---------------------------------------------------- */

static json_t *other_value(const reader *r, const item *it, int *rc)
{
    uint8_t *b = NULL;
    const uint8_t *p = it->data;
    size_t n = it->size;
    if (it->type == 0x21) {
        json_t *s = json_stringn((const char *)it->data, it->size - 1);
        if (s != NULL) return s;
        char *hx = malloc(2 * it->size + 5); /* not UTF-8: "hex:" and its bytes */
        if (hx == NULL) return NULL;
        memcpy(hx, "hex:", 4);
        mp_hex(it->data, it->size - 1, hx + 4, 0);
        s = json_string(hx);
        free(hx);
        return s;
    }
    if (it->type == 0x48) {
        if ((*rc = blob(r, it, &b)) != MP_OK) return NULL;
        p = b;
    }
    if (it->type == 0x48) {
        char *hx = malloc(2 * n + 1);
        json_t *j = hx ? (mp_hex(p, n, hx, 0), json_string(hx)) : NULL;
        if (hx) OPENSSL_clear_free(hx, 2 * n + 1);
        mp_free_secret(b, n);
        return j;
    }
    /* integers: the value field's first 1, 2, 4 or 8 bytes, sign-extended for the I types */
    int w = it->type & 0x0F;
    uint64_t u = it->u64;
    if (w < 8) u &= (1ull << (8 * w)) - 1;
    if ((it->type & 0xF0) == 0x10) {
        int64_t s = w < 8 && (u >> (8 * w - 1)) ? (int64_t)(u | ~((1ull << (8 * w)) - 1)) : (int64_t)u;
        return json_integer((json_int_t)s);
    }
    if (u > (uint64_t)INT64_MAX) { /* a u64 above JSON's safe integers: decimal text */
        char t[24];
        snprintf(t, sizeof(t), "%llu", (unsigned long long)u);
        return json_string(t);
    }
    return json_integer((json_int_t)u);
}

int mp_fd_esp32_other_entries(const uint8_t *buf, size_t len, json_t **out)
{
    reader r = {0};
    int rc = MP_OK;
    char names[256][16];
    memset(names, 0, sizeof(names));
    *out = NULL;
    if (len < 0x3000 || len % PAGE != 0) return mp_err(MP_ERR_INVALID, "esp32: image of %zu bytes; expected a multiple of 4096, at least 0x3000", len);
    for (size_t p = 0; p < len / PAGE && rc == MP_OK; p++) rc = page(&r, buf + p * PAGE, p);
    json_t *o = rc == MP_OK ? json_object() : NULL;
    for (size_t k = 0; o != NULL && k < r.n; k++) {
        const item *it = &r.items[k];
        if (it->ns == 0 && it->type == 0x01) memcpy(names[it->u & 0xFF], it->key, 16);
    }
    for (size_t k = 0; rc == MP_OK && o != NULL && k < r.n; k++) {
        const item *it = &r.items[k];
        if (it->ns == 0 || it->type == 0x42 || names[it->ns][0] == 0) continue;
        if (strcmp(names[it->ns], "chip-factory") == 0 &&
            (strcmp(it->key, "dac-pub-key") == 0 || fd_map_key(fd_esp_map, fd_esp_nmap, it->key, strlen(it->key)) != NULL)) {
            continue;
        }
        json_t *ns = json_object_get(o, names[it->ns]);
        if (ns == NULL) json_object_set_new(o, names[it->ns], ns = json_object());
        json_t *v = other_value(&r, it, &rc);
        if (v != NULL) json_object_set_new(ns, it->key, v);
        else if (rc == MP_OK) rc = mp_err(MP_ERR_GENERAL, "out of memory");
    }
    free(r.items);
    if (rc != MP_OK) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return o ? MP_OK : mp_err(MP_ERR_GENERAL, "out of memory");
}
