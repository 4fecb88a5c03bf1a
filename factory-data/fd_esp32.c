/*
 * fd_esp32.c - ESP-IDF NVS version-2 partition image, namespace
 * chip-factory, written exactly as esp-idf-nvs-partition-gen lays it out
 * (factory-data.md section 5.1), and the CSV that generator takes.
 */
#include "fd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spake2p.h"
#include "util.h"

#define PAGE 4096
#define SLOTS 126
#define T_U8 0x01
#define T_U32 0x04
#define T_SZ 0x21
#define T_BLOB_DATA 0x42
#define T_BLOB_IDX 0x48
#define NS_NAME "chip-factory"

const fd_map fd_esp_map[] = {
    {F_DISC, "discriminator", 0, E_INT, 4},
    {F_ITER, "iteration-count", 0, E_INT, 4},
    {F_SALT, "salt", 0, E_B64, 0},
    {F_VERIFIER, "verifier", 0, E_B64, 0},
    {F_PASSCODE, "pin-code", 0, E_INT, 4},
    {F_DAC, "dac-cert", 0, E_RAW, 0},
    {F_DACKEY, "dac-key", 0, E_RAW, 0},
    {F_PAI, "pai-cert", 0, E_RAW, 0},
    {F_CD, "cert-dclrn", 0, E_RAW, 0},
    {F_VID, "vendor-id", 0, E_INT, 4},
    {F_VNAME, "vendor-name", 0, E_TEXT, 0},
    {F_PID, "product-id", 0, E_INT, 4},
    {F_PNAME, "product-name", 0, E_TEXT, 0},
    {F_HWVER, "hardware-ver", 0, E_INT, 4},
    {F_HWVERSTR, "hw-ver-str", 0, E_TEXT, 0},
    {F_DATE, "mfg-date", 0, E_TEXT, 0},
    {F_SN, "serial-num", 0, E_TEXT, 0},
    {F_RDUID, "rd-id-uid", 0, E_RAW, 0},
    {F_PLABEL, "product-label", 0, E_TEXT, 0},
    {F_PURL, "product-url", 0, E_TEXT, 0},
    {F_PARTNO, "part-number", 0, E_TEXT, 0},
    {F_FINISH, "product-finish", 0, E_INT, 4},
    {F_COLOR, "product-color", 0, E_INT, 4},
};
const size_t fd_esp_nmap = sizeof(fd_esp_map) / sizeof(fd_esp_map[0]);
#define NMAP fd_esp_nmap
#define esp_map fd_esp_map
#define PUBKEY "dac-pub-key"

uint32_t mp_nvs_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0; /* register 0 (= ~0xFFFFFFFF), reflected, final xor */
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t entry_crc(const uint8_t *e)
{
    uint8_t t[28];
    memcpy(t, e, 4);
    memcpy(t + 4, e + 8, 24);
    return mp_nvs_crc32(t, sizeof(t));
}

/* ---- writer -------------------------------------------------------------- */

typedef struct nvs {
    uint8_t *img;
    size_t pages;   /* usable pages (the last of the partition is reserved) */
    size_t page;    /* current page */
    int used;       /* slots used on it */
    int full;       /* ran out of pages */
} nvs;

static uint8_t *pg(nvs *w) { return w->img + w->page * PAGE; }

static void page_start(nvs *w, uint32_t seq)
{
    uint8_t *p = pg(w);
    le32(p, 0xFFFFFFFEu);
    le32(p + 4, seq);
    p[8] = 0xFE;
    le32(p + 28, mp_nvs_crc32(p + 4, 24));
    w->used = 0;
}

static void new_page(nvs *w)
{
    le32(pg(w), 0xFFFFFFFCu);
    if (w->page + 1 >= w->pages) {
        w->full = 1;
        return;
    }
    w->page++;
    page_start(w, (uint32_t)w->page);
}

/* Write one header slot and its data slots at the current position. */
static void put_entry(nvs *w, uint8_t *e, const uint8_t *data, size_t n)
{
    size_t span = 1 + (n + 31) / 32;
    if (w->full || w->used + span > SLOTS) {
        w->full = 1;
        return;
    }
    le32(e + 4, entry_crc(e));
    uint8_t *p = pg(w);
    memcpy(p + 64 + 32 * w->used, e, 32);
    if (n) memcpy(p + 64 + 32 * (w->used + 1), data, n);
    for (size_t k = 0; k < span; k++) {
        int i = w->used + (int)k;
        p[32 + i / 4] &= (uint8_t)~(1u << (2 * (i % 4)));
    }
    w->used += (int)span;
}

static void hdr(uint8_t e[32], uint8_t ns, uint8_t type, size_t span, uint8_t chunk, const char *key)
{
    memset(e, 0xFF, 32);
    e[0] = ns;
    e[1] = type;
    e[2] = (uint8_t)span;
    e[3] = chunk;
    memset(e + 8, 0, 16);
    memcpy(e + 8, key, strlen(key));
}

static void put_prim(nvs *w, uint8_t type, const char *key, uint8_t ns, uint64_t v, int width)
{
    uint8_t e[32];
    if (w->used >= SLOTS) new_page(w);
    hdr(e, ns, type, 1, 0xFF, key);
    for (int i = 0; i < width; i++) e[24 + i] = (uint8_t)(v >> (8 * i));
    put_entry(w, e, NULL, 0);
}

static void put_str(nvs *w, uint8_t ns, const char *key, const uint8_t *s, size_t len)
{
    uint8_t e[32], buf[4001];
    size_t n = len + 1, span = 1 + (n + 31) / 32;
    if (n > 4000) {
        w->full = 1;
        return;
    }
    memcpy(buf, s, len);
    buf[len] = 0;
    if (w->used + (int)span >= SLOTS) new_page(w);
    hdr(e, ns, T_SZ, span, 0xFF, key);
    e[24] = (uint8_t)n;
    e[25] = (uint8_t)(n >> 8);
    le32(e + 28, mp_nvs_crc32(buf, n));
    put_entry(w, e, buf, n);
}

static void put_blob(nvs *w, uint8_t ns, const char *key, const uint8_t *data, size_t n)
{
    uint8_t e[32], chunks = 0;
    size_t off = 0, rest = n;
    if (w->used >= SLOTS) new_page(w);
    while (!w->full) {
        size_t room = (size_t)(SLOTS - w->used - 1) * 32, sz = rest < room ? rest : room;
        hdr(e, ns, T_BLOB_DATA, 1 + (sz + 31) / 32, chunks, key);
        e[24] = (uint8_t)sz;
        e[25] = (uint8_t)(sz >> 8);
        le32(e + 28, mp_nvs_crc32(data + off, sz));
        put_entry(w, e, data + off, sz);
        chunks++;
        off += sz;
        rest -= sz;
        if (rest > 0 || room - sz < 32) new_page(w);
        if (rest == 0) break;
    }
    hdr(e, ns, T_BLOB_IDX, 1, 0xFF, key);
    le32(e + 24, (uint32_t)n);
    e[28] = chunks;
    e[29] = 0;
    put_entry(w, e, NULL, 0);
}

/* One field (or the derived dac-pub-key) into the image or CSV. */
typedef void (*emit_fn)(void *ctx, const fd_map *m, const fd_value *v);

static int each_field(const mp_fd_device *d, const mp_fd_opts *o, emit_fn fn, void *ctx)
{
    uint8_t scratch[FD_SCRATCH], point[65];
    fd_value v, s;
    int rc = MP_OK;
    if (!d->has_dac_key && !(o != NULL && o->esp_secure_cert)) { /* validation let it through for the eFuse key */
        return mp_err(MP_ERR_INVALID, "esp32: the DAC key is in the chip's eFuse: the DAC and PAI go to the esp_secure_cert partition (--format esp32-secure-cert, or pack --esp32-secure-cert)");
    }
    for (size_t i = 0; i < NMAP && rc == MP_OK; i++) {
        int f = esp_map[i].field;
        if (o != NULL && o->esp_secure_cert && (f == F_DAC || f == F_PAI || f == F_DACKEY)) continue; /* in esp_secure_cert */
        if (o != NULL && o->esp_sc_cd && fd_esp_sc_cd_field(f)) continue; /* so is the commissionable data */
        if (!fd_get(d, f, &v)) continue;
        if ((rc = fd_encode(&esp_map[i], &v, scratch, sizeof(scratch), &s)) != MP_OK) break;
        fn(ctx, &esp_map[i], &s);
        if (esp_map[i].field == F_DACKEY && (rc = mp_p256_point(d->dac_key, point)) == MP_OK) {
            static const fd_map pub = {F_DACKEY, PUBKEY, 0, E_RAW, 0};
            fd_value pv = {K_BYTES, 0, point, 65};
            fn(ctx, &pub, &pv);
        }
    }
    mp_wipe(scratch, sizeof(scratch));
    return rc;
}

static void emit_nvs(void *ctx, const fd_map *m, const fd_value *v)
{
    nvs *w = ctx;
    if (v->kind == K_UINT) put_prim(w, T_U32, m->key, 1, (uint32_t)v->u, 4);
    else if (m->enc == E_RAW) put_blob(w, 1, m->key, v->p, v->len);
    else put_str(w, 1, m->key, v->p, v->len);
}

/* The extra entries (fd_extras.c): chip-factory's in its namespace, then
 * each other namespace (its definition entry, index 2, 3, ...) and its keys,
 * in the config's order; what the esp32-csv side output lists the same way. */
typedef void (*xemit_fn)(void *ctx, int ns_index, const char *ns, const mp_fd_xkey *k, const mp_fd_xval *v);

static void each_extra(const mp_fd_device *d, const mp_fd_opts *o, xemit_fn fn, void *ctx)
{
    const mp_fd_extras *x = o ? o->extras : NULL;
    if (x == NULL || d->extra == NULL) return;
    for (size_t i = 0; i < x->nkeys; i++) {
        if (strcmp(x->keys[i].ns, NS_NAME) == 0) fn(ctx, 1, NULL, &x->keys[i], &d->extra[i]);
    }
    int idx = 1;
    for (size_t i = 0; i < x->nkeys; i++) {
        const char *ns = x->keys[i].ns;
        int seen = strcmp(ns, NS_NAME) == 0;
        for (size_t j = 0; j < i && !seen; j++) seen = strcmp(x->keys[j].ns, ns) == 0;
        if (seen) continue;
        idx++;
        for (size_t j = i; j < x->nkeys; j++) {
            if (strcmp(x->keys[j].ns, ns) == 0) fn(ctx, idx, j == i ? ns : NULL, &x->keys[j], &d->extra[j]);
        }
    }
}

static int prim_width(uint8_t type)
{
    return type & 0x0F; /* 1, 2, 4, 8 bytes */
}

static void emit_nvs_extra(void *ctx, int ns_index, const char *ns, const mp_fd_xkey *k, const mp_fd_xval *v)
{
    nvs *w = ctx;
    if (ns != NULL) put_prim(w, T_U8, ns, 0, (uint64_t)ns_index, 1);
    if (k->type == T_SZ) put_str(w, (uint8_t)ns_index, k->key, v->p, v->len);
    else if (k->type == T_BLOB_IDX) put_blob(w, (uint8_t)ns_index, k->key, v->p, v->len);
    else put_prim(w, k->type, k->key, (uint8_t)ns_index, v->u, prim_width(k->type));
}

int fd_esp32_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len)
{
    size_t size = o && o->partition_size ? o->partition_size : MP_FD_ESP32_DEFAULT_SIZE;
    if (size % PAGE != 0 || size < 0x3000 || size > (16u << 20)) {
        return mp_err(MP_ERR_INVALID, "esp32: partition size 0x%zx must be a multiple of 0x1000, at least 0x3000", size);
    }
    nvs w = {malloc(size), size / PAGE - 1, 0, 0, 0};
    if (w.img == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    memset(w.img, 0xFF, size);
    page_start(&w, 0);
    put_prim(&w, T_U8, NS_NAME, 0, 1, 1);
    int rc = each_field(d, o, emit_nvs, &w);
    if (rc == MP_OK) each_extra(d, o, emit_nvs_extra, &w);
    if (rc == MP_OK && w.full) {
        rc = mp_err(MP_ERR_INVALID, "esp32: the data does not fit a partition of 0x%zx bytes (the last page stays reserved); raise --partition-size", size);
    }
    if (rc != MP_OK) {
        mp_free_secret(w.img, size);
        return rc;
    }
    *out = w.img;
    *len = size;
    return MP_OK;
}

/* ---- CSV for esp-idf-nvs-partition-gen ----------------------------------- */

static void csv_text(fd_buf *b, const uint8_t *p, size_t n)
{
    int quote = memchr(p, ',', n) || memchr(p, '"', n) || memchr(p, '\n', n);
    if (quote) fd_put_u8(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"') fd_put_u8(b, '"');
        fd_put_u8(b, p[i]);
    }
    if (quote) fd_put_u8(b, '"');
}

static void emit_csv(void *ctx, const fd_map *m, const fd_value *v)
{
    fd_buf *b = ctx;
    char line[64];
    const char *enc = v->kind == K_UINT ? "u32" : m->enc == E_RAW ? "hex2bin" : "string";
    snprintf(line, sizeof(line), "%s,data,%s,", m->key, enc);
    fd_put(b, line, strlen(line));
    if (v->kind == K_UINT) {
        snprintf(line, sizeof(line), "%llu", (unsigned long long)v->u);
        fd_put(b, line, strlen(line));
    } else if (m->enc == E_RAW) {
        char hx[3];
        for (size_t i = 0; i < v->len; i++) {
            mp_hex(v->p + i, 1, hx, 0);
            fd_put(b, hx, 2);
        }
    } else {
        csv_text(b, v->p, v->len);
    }
    fd_put_u8(b, '\n');
}

static void emit_csv_extra(void *ctx, int ns_index, const char *ns, const mp_fd_xkey *k, const mp_fd_xval *v)
{
    fd_buf *b = ctx;
    (void)ns_index;
    if (ns != NULL) {
        fd_put(b, ns, strlen(ns));
        fd_put(b, ",namespace,,\n", 13);
    }
    fd_put(b, k->key, strlen(k->key));
    fd_put(b, ",data,", 6);
    fd_put(b, k->enc, strlen(k->enc));
    fd_put_u8(b, ',');
    csv_text(b, (const uint8_t *)v->text, strlen(v->text));
    fd_put_u8(b, '\n');
}

int fd_esp32_csv_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len)
{
    fd_buf b = {0};
    static const char head[] = "key,type,encoding,value\n" NS_NAME ",namespace,,\n";
    fd_put(&b, head, strlen(head));
    int rc = each_field(d, o, emit_csv, &b);
    if (rc == MP_OK) each_extra(d, o, emit_csv_extra, &b);
    if (rc != MP_OK) {
        fd_buf_wipe(&b);
        return rc;
    }
    return fd_take(&b, out, len);
}
