/*
 * inspect_lot.c - `factory-data inspect --lot DIR`: a whole build read back in
 * one process. DIR/manifest.jsonl lists each device's images (in DIR, or in
 * the --bundle file its lines name) with their SHA-256; DIR/onboarding.csv
 * has the passcodes (read through the device-secret module); an esp32 NVS is
 * read with the device's esp_secure_cert partition, an encrypted one with
 * DIR/nvs_keys.bin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "b64.h"
#include "devsecret.h"
#include "err.h"
#include "fd.h"
#include "inspect_int.h"
#include "outsink.h"
#include "util.h"

typedef struct lot_pc {
    char *udid;
    uint32_t passcode;
} lot_pc;

typedef struct lot {
    const char *dir;
    int only;              /* --format: only images of this format */
    int mode;              /* P_LOT_TEXT or P_LOT_JSON */
    lot_pc *pcs;           /* onboarding.csv's passcodes, sorted by UDID */
    size_t npcs, cap;
    size_t devices, images, failed;
    size_t per_format[32];  /* images by format id */
    int first;             /* the first failure's exit code */
    char bname[256];       /* a bundle build: the bundle its lines name, indexed */
    mp_bundle_index ix;
    int ix_open;
} lot;

static int add_pc(void *ctx, const char *udid, uint32_t passcode)
{
    lot *l = ctx;
    if (l->npcs == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        lot_pc *n = calloc(cap, sizeof(*n));
        if (n == NULL) return 1;
        if (l->pcs) memcpy(n, l->pcs, l->npcs * sizeof(*n));
        mp_free_secret(l->pcs, l->cap * sizeof(*l->pcs));
        l->pcs = n;
        l->cap = cap;
    }
    if ((l->pcs[l->npcs].udid = strdup(udid)) == NULL) return 1;
    l->pcs[l->npcs++].passcode = passcode;
    return 0;
}

static int cmp_pc(const void *a, const void *b)
{
    return strcmp(((const lot_pc *)a)->udid, ((const lot_pc *)b)->udid);
}

static uint32_t lot_passcode(const lot *l, const char *udid)
{
    lot_pc key = {.udid = (char *)udid};
    const lot_pc *p = l->npcs ? bsearch(&key, l->pcs, l->npcs, sizeof(*l->pcs), cmp_pc) : NULL;
    return p ? p->passcode : 0;
}

/* A failure of one image or line: counted, its exit code kept, and shown
 * when inspect did not print its report. */
static void lot_fail(lot *l, const inspect_in *in, const char *what, int rc)
{
    l->failed++;
    if (l->first == MP_OK) l->first = rc;
    if (in != NULL && in->reported) return;
    if (l->mode == P_LOT_JSON) {
        json_t *o = json_object();
        json_object_set_new(o, "file", json_string(what));
        if (in != NULL && in->udid != NULL) json_object_set_new(o, "udid", json_string(in->udid));
        json_object_set_new(o, "error", json_string(mp_err_msg()));
        json_object_set_new(o, "exit", json_integer(rc));
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("%s\n", s ? s : "");
        free(s);
        json_decref(o);
    } else {
        const char *m = mp_err_msg();
        size_t w = strlen(what);
        printf("%s%s%s\n", strncmp(m, what, w) == 0 ? "" : what, strncmp(m, what, w) == 0 ? "" : ": ", m);
    }
}

static int is_nvs(int format)
{
    return format == MP_FD_ESP32 || format == MP_FD_ESP32_CSV || format == MP_FD_ESP32_ENC;
}

/* A bundle build: the device's line of the bundle (DIR/NAME), parsed. */
static int bundle_line_of(lot *l, const char *bundle, const char *udid, json_t **out)
{
    char path[4200], *text = NULL;
    int rc = MP_OK;
    *out = NULL;
    if (*bundle == 0 || strchr(bundle, '/') != NULL || strlen(bundle) >= sizeof(l->bname)) {
        return mp_err(MP_ERR_INVALID, "bundle name '%s' is not a file name in %s", bundle, l->dir);
    }
    snprintf(path, sizeof(path), "%s/%s", l->dir, bundle);
    if (!l->ix_open || strcmp(l->bname, bundle) != 0) {
        if (l->ix_open) mp_bundle_index_close(&l->ix);
        l->ix_open = 0;
        if (access(path, F_OK) != 0) return mp_err(MP_ERR_IO, "%s: cannot open (the bundle its manifest lines name)", path);
        if ((rc = mp_bundle_index_open(path, &l->ix)) != MP_OK) return rc;
        l->ix_open = 1;
        snprintf(l->bname, sizeof(l->bname), "%s", bundle);
    }
    if ((rc = mp_bundle_index_line(&l->ix, udid, &text)) != MP_OK) return rc;
    if (text == NULL) return mp_err(MP_ERR_IO, "%s: no line for device %s", path, udid);
    *out = json_loads(text, 0, NULL);
    mp_free_secret(text, strlen(text));
    return *out ? MP_OK : mp_err(MP_ERR_INVALID, "%s: the line of device %s is not JSON", path, udid);
}

/* An image of a bundle line (base64): malloc'd into *buf (mp_free_secret). */
static int bundle_image(json_t *line, const char *fmt, uint8_t **buf, size_t *len)
{
    const char *b64 = json_string_value(json_object_get(json_object_get(json_object_get(line, "images"), fmt), "data"));
    *buf = NULL;
    *len = 0;
    if (b64 == NULL) return mp_err(MP_ERR_INVALID, "no %s image in the device's bundle line", fmt);
    size_t cap = strlen(b64) / 4 * 3 + 3;
    long n;
    if ((*buf = malloc(cap)) == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    if ((n = mp_b64_decode(b64, strlen(b64), *buf, cap)) < 0) {
        mp_free_secret(*buf, cap);
        *buf = NULL;
        return mp_err(MP_ERR_INVALID, "the %s image of the device's bundle line is not base64", fmt);
    }
    *len = (size_t)n;
    return MP_OK;
}

/* One manifest line: every image it lists (an esp32 NVS with its
 * esp_secure_cert partition), each against the line's SHA-256. */
static void lot_line(lot *l, const inspect_in *base, json_t *o, long line)
{
    char what[4200], path[4200], sc[4200];
    const char *udid = json_string_value(json_object_get(o, "udid"));
    json_t *files = json_object_get(o, "files"), *shas = json_object_get(o, "sha256"), *v;
    const char *fmt;
    snprintf(what, sizeof(what), "%s/manifest.jsonl line %ld", l->dir, line);
    if (udid == NULL || !json_is_object(files) || !json_is_object(shas)) {
        lot_fail(l, NULL, what, mp_err(MP_ERR_INVALID, "not a manifest line of factory-data build (udid, files and sha256 expected)"));
        return;
    }
    const char *bundle = json_string_value(json_object_get(o, "bundle"));
    json_t *bl = NULL; /* a bundle build: the device's line, which holds its images */
    uint8_t *scbuf = NULL;
    size_t sclen = 0;
    if (bundle != NULL) {
        int rc = bundle_line_of(l, bundle, udid, &bl);
        if (rc != MP_OK) {
            lot_fail(l, NULL, what, rc);
            return;
        }
    }
    const char *scname = json_string_value(json_object_get(files, mp_fd_format_name(MP_FD_ESP32_SC)));
    if (bl != NULL && scname != NULL && bundle_image(bl, mp_fd_format_name(MP_FD_ESP32_SC), &scbuf, &sclen) != MP_OK) {
        scname = NULL; /* the partition itself is reported as its own image below */
    }
    l->devices++;
    json_object_foreach(files, fmt, v) {
        int format = mp_fd_format_parse(fmt);
        const char *name = json_string_value(v), *sha = json_string_value(json_object_get(shas, fmt));
        if (l->only && format != l->only) continue;
        if (bundle != NULL) {
            snprintf(path, sizeof(path), "%s/%s#%s", l->dir, bundle, name ? name : "");
        } else {
            snprintf(path, sizeof(path), "%s/%s", l->dir, name ? name : "");
        }
        inspect_in in = *base;
        in.file = path;
        in.format = format;
        in.udid = udid;
        in.line = line;
        in.expect_sha256 = sha;
        in.passcode = lot_passcode(l, udid);
        in.esp_sc = NULL;
        if (is_nvs(format) && scname != NULL) {
            snprintf(sc, sizeof(sc), bundle ? "%s/%s#%s" : "%s/%s%s", l->dir, bundle ? bundle : "", scname);
            in.esp_sc = sc;
            in.sc_data = scbuf;
            in.sc_len = sclen;
        }
        uint8_t *img = NULL;
        size_t ilen = 0;
        int rc;
        if (format == 0 || name == NULL || *name == 0 || strchr(name, '/') != NULL || sha == NULL) {
            rc = mp_err(MP_ERR_INVALID, "%s: device %s: image '%s' of format '%s' is not one inspect reads from a folder", what, udid,
                        name ? name : "", fmt);
        } else if (bl != NULL && (rc = bundle_image(bl, fmt, &img, &ilen)) != MP_OK) {
            mp_err_ctx(rc, "%s", path);
        } else {
            in.data = img;
            in.data_len = ilen;
            rc = mp_fd_inspect_one(&in, l->mode);
        }
        if (img) mp_free_secret(img, ilen);
        l->images++;
        if (format > 0 && format < (int)(sizeof(l->per_format) / sizeof(l->per_format[0]))) l->per_format[format]++;
        if (rc != MP_OK) lot_fail(l, &in, path, rc);
        if (in.opts.esp_sc_dev != NULL) {
            mp_fd_device_wipe((mp_fd_device *)in.opts.esp_sc_dev);
            free((void *)in.opts.esp_sc_dev);
        }
        mp_wipe(&in.opts, sizeof(in.opts));
    }
    if (scbuf) mp_free_secret(scbuf, sclen);
    json_decref(bl);
}

int mp_fd_inspect_lot(inspect_in *base, const char *dir, int as_json)
{
    char path[4200];
    lot l = {.dir = dir, .only = base->format, .mode = as_json ? P_LOT_JSON : P_LOT_TEXT};
    int found, rc;
    mp_json_wipe_frees(); /* a bundle's lines may hold DAC keys */
    snprintf(path, sizeof(path), "%s/nvs_keys.bin", dir);
    if (!base->opts.has_nvs_keys && access(path, F_OK) == 0 && (rc = mp_fd_nvs_keys_load(path, &base->opts)) != MP_OK) return rc;
    snprintf(path, sizeof(path), "%s/manifest.jsonl", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return mp_err(MP_ERR_IO, "%s: cannot open: --lot takes the --out-dir of a factory-data build (its manifest.jsonl lists the images)", path);
    }
    rc = mp_devsecret_each_passcode(dir, add_pc, &l, &found);
    if (rc == MP_OK && l.npcs) qsort(l.pcs, l.npcs, sizeof(*l.pcs), cmp_pc);
    char *buf = NULL;
    size_t cap = 0;
    long line = 0;
    while (rc == MP_OK && getline(&buf, &cap, f) > 0) {
        json_error_t je;
        json_t *o = json_loads(buf, 0, &je);
        line++;
        if (o == NULL) {
            char what[4300];
            snprintf(what, sizeof(what), "%s line %ld", path, line);
            lot_fail(&l, NULL, what, mp_err(MP_ERR_INVALID, "not JSON (%s)", je.text));
            continue;
        }
        lot_line(&l, base, o, line);
        json_decref(o);
    }
    free(buf);
    fclose(f);
    if (l.ix_open) mp_bundle_index_close(&l.ix);
    for (size_t i = 0; i < l.npcs; i++) free(l.pcs[i].udid);
    mp_free_secret(l.pcs, l.cap * sizeof(*l.pcs));
    if (rc != MP_OK) return rc;
    if (l.images == 0 && l.failed == 0) {
        return mp_err(MP_ERR_INVALID, "%s: no image%s%s listed", path, l.only ? " of format " : "", l.only ? mp_fd_format_name(l.only) : "");
    }
    if (!as_json) {
        char counts[1024] = "";
        size_t k = 0;
        for (int fm = 1; fm < (int)(sizeof(l.per_format) / sizeof(l.per_format[0])) && k < sizeof(counts); fm++) {
            if (l.per_format[fm]) k += (size_t)snprintf(counts + k, sizeof(counts) - k, "%s%s %zu", k ? ", " : "", mp_fd_format_name(fm), l.per_format[fm]);
        }
        printf("lot %s: %zu device(s), %zu image(s) (%s)%s%s: %s\n", dir, l.devices, l.images, counts,
               found ? "" : ", no onboarding.csv", found ? "" : " (passcodes only from the images)",
               l.failed ? "FAILED" : "every check passed");
    }
    if (l.failed) {
        return mp_err(l.first, "lot %s: %zu of %zu image(s) or line(s) failed (listed above)", dir, l.failed, l.images);
    }
    return MP_OK;
}

