/* build.c - the factory-data batch engine (see build.h). */
#include "factory-data/build.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "b64.h"
#include "csv.h"
#include "factory-data/onboarding.h"
#include "factory-data/spake2p.h"
#include "devsecret.h"
#include "jw.h"
#include "outsink.h"
#include "util.h"
#include "workers.h"

#define CHUNK 1024

enum { ST_NEW = 1, ST_REBUILD, ST_SKIP };

typedef struct fd_item {
    mp_issued dev;
    int state;
    mp_fd_rec rec;
    mp_fd_device fd;
    uint32_t passcode;
    char qr[MP_QR_MAX];
    char manual[MP_MANUAL_MAX];
    char dashed[32];
    unsigned fmask;  /* bit f: build b->formats[f] for this device */
    char sha[MP_FD_MAX_FORMATS][65];
    uint8_t *out[MP_FD_MAX_FORMATS];
    size_t outlen[MP_FD_MAX_FORMATS];
    uint64_t seq;
    int rc;
    char msg[1400];
    mp_devkey key; /* off-chip devices (b->needs_key): found by fill() */
    int key_rc;
} fd_item;

typedef struct fd_chunk {
    fd_item *items;
    size_t n;
    mp_fd_build *b;
} fd_chunk;

static void item_clear(fd_item *it)
{
    for (int f = 0; f < MP_FD_MAX_FORMATS; f++) {
        mp_free_secret(it->out[f], it->outlen[f]);
        it->out[f] = NULL;
        it->outlen[f] = 0;
    }
    mp_wipe(it, sizeof(*it));
}

/* Bundles read during a run: this run's own (images of devices built
 * before, for a rebuild's key) and `dac issue --generate-keys --bundle`
 * files (off-chip keys). Each is indexed once, at its first look-up, so a
 * look-up is one pread whatever the lot's size; workers share the indexes. */
#define FD_BUNDLES 8
typedef struct fd_bundles {
    pthread_mutex_t mu;
    int n;
    struct {
        char path[4096];
        mp_bundle_index ix;
    } v[FD_BUNDLES];
} fd_bundles;

static int bundle_line_of(const mp_fd_build *b, const char *path, const char *udid, char **line)
{
    fd_bundles *c = b->bundles;
    if (c == NULL) return mp_bundle_line(path, udid, line);
    int rc = MP_OK, slot = -1;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n && slot < 0; i++) {
        if (strcmp(c->v[i].path, path) == 0) slot = i;
    }
    if (slot < 0 && c->n < FD_BUNDLES) {
        snprintf(c->v[c->n].path, sizeof(c->v[c->n].path), "%s", path);
        if ((rc = mp_bundle_index_open(path, &c->v[c->n].ix)) == MP_OK) slot = c->n++;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc != MP_OK) return rc;
    return slot < 0 ? mp_bundle_line(path, udid, line) : mp_bundle_index_line(&c->v[slot].ix, udid, line);
}

static void bundles_free(fd_bundles *c)
{
    if (c == NULL) return;
    for (int i = 0; i < c->n; i++) mp_bundle_index_close(&c->v[i].ix);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* A device's output name: its UDID, or (--name-by serial) its serial number. */
static const char *out_name(const mp_fd_build *b, const char *udid, const char *serial)
{
    return b->name_by == MP_NAME_BY_SERIAL ? serial : udid;
}

/* Its file of extension ext ("nrf.cbor", "qr.png") relative to the folder:
 * NAME.ext (flat) or NAME/NAME.ext (per device). */
static int out_rel(const mp_fd_build *b, const char *udid, const char *serial, const char *ext, char *out, size_t cap)
{
    char suffix[48];
    snprintf(suffix, sizeof(suffix), ".%s", ext);
    return mp_out_relpath(b->layout, out_name(b, udid, serial), suffix, out, cap);
}

/* ---- device secrets (devsecret.h): how this stage reads its own images ---- */

/* devsecret.h's reader of bundle lines: through this run's indexes. */
static int line_of(void *arg, const char *bundle, const char *udid, char **line)
{
    return bundle_line_of(arg, bundle, udid, line);
}

/* Its image of a format as this run's layout keeps it: its file (read
 * without following links, wiped on every path), or the "images" member of
 * its bundle line. *img NULL when there is none. item: the device's
 * fd_item (its recorded serial names it with --name-by serial). */
static int image_load(void *arg, void *item, const char *format, const mp_issued *dev, uint8_t **img, size_t *len)
{
    const mp_fd_build *b = arg;
    const fd_item *it = item;
    const char *serial = it != NULL ? it->rec.serial : dev->udid;
    char rel[600], path[4800], *line = NULL;
    int id = mp_fd_format_parse(format);
    *img = NULL;
    *len = 0;
    if (id == 0) return MP_OK;
    if (b->bundle == NULL) {
        int rc = out_rel(b, dev->udid, serial, mp_fd_format_ext(id), rel, sizeof(rel));
        if (rc != MP_OK) return rc;
        snprintf(path, sizeof(path), "%s/%s", b->out_dir, rel);
        return mp_devsecret_read_file(path, 1 << 20, img, len);
    }
    int rc = bundle_line_of(b, b->bundle, dev->udid, &line);
    if (rc != MP_OK || line == NULL) return rc;
    mp_json_wipe_frees(); /* the line's tree holds the image (and its key) */
    json_t *o = json_loads(line, 0, NULL);
    json_t *d = json_object_get(json_object_get(json_object_get(o, "images"), format), "data");
    size_t dl = json_is_string(d) ? json_string_length(d) : 0;
    uint8_t *out = dl ? malloc(dl) : NULL;
    long n = out ? mp_b64_decode(json_string_value(d), dl, out, dl) : -1;
    if (n > 0) {
        *img = out;
        *len = (size_t)n;
    } else {
        mp_free_secret(out, dl);
    }
    json_decref(o);
    mp_free_secret(line, strlen(line));
    return MP_OK;
}

static int image_key(void *arg, const char *format, const uint8_t *img, size_t len, uint8_t scalar[static 32],
                     uint8_t *dac, size_t dac_cap, size_t *dac_len)
{
    const mp_fd_build *b = arg;
    int id = mp_fd_format_parse(format);
    mp_fd_device *dev = calloc(1, sizeof(*dev));
    int rc = dev == NULL ? mp_err(MP_ERR_GENERAL, "out of memory") : id == 0 ? mp_err(MP_ERR_INVALID, "%s: unknown format", format)
                                                                            : mp_fd_unpack_with(id, img, len, &b->opts, dev);
    if (rc == MP_OK && (!dev->has_dac_key || dev->dac_len > dac_cap)) rc = mp_err(MP_ERR_INVALID, "%s: the image holds no key", format);
    if (rc == MP_OK) {
        memcpy(scalar, dev->dac_key, 32);
        memcpy(dac, dev->dac_der, dev->dac_len);
        *dac_len = dev->dac_len;
    }
    if (dev != NULL) mp_fd_device_wipe(dev);
    free(dev);
    return rc;
}

/* Where this run finds its devices' keys and passcodes. */
static void secrets(const mp_fd_build *b, mp_devsecret *ds, const char **names, size_t cap)
{
    size_t n = 0;
    for (const mp_fd_format_desc *f = mp_fd_formats; f->id != 0 && n + 1 < cap; f++) {
        names[n++] = f->name; /* any format may hold it (json too, for an off-chip device) */
    }
    names[n] = NULL;
    *ds = (mp_devsecret){.ledger = b->ledger,
                         .img = {.dir = b->out_dir, .formats = names, .load = image_load, .key = image_key, .line = line_of,
                                 .arg = (void *)b}};
}

static int new_creds(const mp_fd_build *b, fd_item *it)
{
    const mp_assign_row *a = b->assign ? mp_assign_find(b->assign, it->dev.udid) : NULL;
    mp_fd_rec *r = &it->rec;
    int rc;
    snprintf(r->udid, sizeof(r->udid), "%s", it->dev.udid);
    r->order_id = b->order.id;
    r->iterations = b->iterations;
    r->salt_len = 32;
    snprintf(r->mfg_date, sizeof(r->mfg_date), "%s", b->mfg_date);
    if ((rc = a && a->has_passcode ? (it->passcode = a->passcode, MP_OK) : mp_passcode_random(&it->passcode)) != MP_OK ||
        (rc = a && a->has_discriminator ? (r->discriminator = a->discriminator, MP_OK) : mp_discriminator_random(&r->discriminator)) != MP_OK ||
        (rc = mp_random_bytes(r->salt, 32)) != MP_OK) {
        return rc;
    }
    if (a && a->has_rd_uid) {
        memcpy(r->rd_uid, a->rd_uid, a->rd_uid_len);
        r->rd_uid_len = a->rd_uid_len;
    } else if ((rc = mp_random_bytes(r->rd_uid, 16)) != MP_OK) {
        return rc;
    } else {
        r->rd_uid_len = 16;
    }
    if (a && a->has_serial) {
        snprintf(r->serial, sizeof(r->serial), "%s", a->serial);
    } else if ((rc = mp_serial_format(b->serial_tmpl, it->seq, it->dev.udid, r->serial)) != MP_OK) {
        return rc;
    }
    r->has_passcode = b->record_passcodes;
    r->passcode = b->record_passcodes ? it->passcode : 0;
    return mp_spake2p_verifier(it->passcode, r->salt, r->salt_len, r->iterations, r->verifier);
}

static int onboarding_codes(const mp_fd_build *b, fd_item *it)
{
    mp_payload p = {.vendor_id = b->order.vid, .product_id = b->order.pid,
                    .flow = (uint8_t)b->product->commissioning_flow, .caps = b->product->discovery_caps,
                    .discriminator = it->rec.discriminator, .passcode = it->passcode,
                    .has_vid_pid = b->product->commissioning_flow == MP_FLOW_CUSTOM};
    int rc = mp_qr_encode(&p, it->qr);
    if (rc == MP_OK) {
        rc = mp_manual_encode(&p, it->manual);
    }
    if (rc == MP_OK) mp_manual_dashed(it->manual, it->dashed);
    mp_wipe(&p, sizeof(p));
    return rc;
}

static int fill_device(const mp_fd_build *b, fd_item *it)
{
    mp_fd_device *d = &it->fd;
    const mp_fd_rec *r = &it->rec;
    if (it->dev.der_len > sizeof(d->dac_der) || b->pai_len > sizeof(d->pai_der) || b->cd_len > sizeof(d->cd_der) ||
        r->salt_len > sizeof(d->salt) || r->rd_uid_len > sizeof(d->rd_uid)) {
        return mp_err(MP_ERR_PROFILE, "device %s: its DAC (%zu bytes, at most %zu), PAI, CD, salt or rd_uid is larger than a "
                      "factory-data image holds", it->dev.udid, it->dev.der_len, sizeof(d->dac_der));
    }
    mp_fd_device_init(d);
    mp_fd_from_product(b->product, d);
    snprintf(d->serial, sizeof(d->serial), "%s", r->serial);
    snprintf(d->mfg_date, sizeof(d->mfg_date), "%s", r->mfg_date);
    d->discriminator = r->discriminator;
    d->iterations = r->iterations;
    memcpy(d->salt, r->salt, r->salt_len);
    d->salt_len = r->salt_len;
    memcpy(d->verifier, r->verifier, 97);
    memcpy(d->rd_uid, r->rd_uid, r->rd_uid_len);
    d->rd_uid_len = r->rd_uid_len;
    d->passcode = b->include_passcode ? it->passcode : 0;
    memcpy(d->dac_der, it->dev.der, it->dev.der_len);
    d->dac_len = it->dev.der_len;
    memcpy(d->pai_der, b->pai, b->pai_len);
    d->pai_len = b->pai_len;
    memcpy(d->cd_der, b->cd, b->cd_len);
    d->cd_len = b->cd_len;
    if (b->opts.extras != NULL && (d->extra = mp_fd_extras_row(b->opts.extras, it->dev.udid)) == NULL) {
        return mp_err(MP_ERR_INVALID, "device %s: no row for it in the --esp32-extra-values file", it->dev.udid);
    }
    if (b->opts.has_esp_ecdsa) { /* the chip's key in eFuse: never for a key held off the chip */
        if (it->dev.key_origin == MP_KEY_OFFCHIP) {
            return mp_err(MP_ERR_INVALID, "device %s: --esp32-ecdsa-efuse-key-id: its DAC key is held off the chip", it->dev.udid);
        }
        d->key_efuse_block = (uint8_t)(b->opts.esp_ecdsa_key_id + 4);
    }
    if (it->dev.key_origin == MP_KEY_OFFCHIP && b->needs_key) { /* chip devices: key formats not in fmask */
        memcpy(d->dac_key, it->key.scalar, 32); /* found by fill() (devsecret.h) */
        d->has_dac_key = 1;
    }
    return MP_OK;
}

/* The device's images in every requested format. */
static int pack_item(const mp_fd_build *b, fd_item *it)
{
    int rc = fill_device(b, it);
    for (int f = 0; rc == MP_OK && f < b->nformats; f++) {
        if (!(it->fmask & (1u << f))) continue;
        rc = mp_fd_pack(b->formats[f], &it->fd, &b->opts, &it->out[f], &it->outlen[f]);
        if (rc == MP_OK) {
            uint8_t md[32];
            SHA256(it->out[f], it->outlen[f], md);
            mp_hex(md, 32, it->sha[f], 0);
        }
    }
    return rc;
}

static void work(void *ctx, void *state, size_t i)
{
    fd_chunk *c = ctx;
    const mp_fd_build *b = c->b;
    fd_item *it = &c->items[i];
    (void)state;
    it->rc = it->key_rc; /* fill() could not find the key: its message is in it->msg */
    if (it->state == ST_SKIP || it->rc != MP_OK) {
        return;
    }
    if (it->state == ST_NEW && ((it->rc = new_creds(b, it)) != MP_OK || (it->rc = onboarding_codes(b, it)) != MP_OK)) {
        goto fail;
    }
    if (it->state == ST_REBUILD && b->qr_images && it->passcode != 0 && (it->rc = onboarding_codes(b, it)) != MP_OK) {
        goto fail;
    }
    if (!b->pack_on_main && (it->rc = pack_item(b, it)) != MP_OK) {
        goto fail;
    }
    return;
fail:
    snprintf(it->msg, sizeof(it->msg), "device %s: %s", it->dev.udid, mp_err_msg());
}

/* ---- main thread ----------------------------------------------------------- */

static int files_exist(const mp_fd_build *b, const char *udid, const char *serial, unsigned fmask)
{
    char rel[600], path[4800];
    struct stat st;
    if (b->bundle != NULL) {
        return mp_bundle_has(b->have, b->nhave, udid);
    }
    for (int f = 0; f < b->nformats; f++) {
        if (!(fmask & (1u << f))) continue;
        if (out_rel(b, udid, serial, mp_fd_format_ext(b->formats[f]), rel, sizeof(rel)) != MP_OK) return 0;
        snprintf(path, sizeof(path), "%s/%s", b->out_dir, rel);
        if (stat(path, &st) != 0) return 0;
    }
    if (!b->qr_images) return 1;
    if (out_rel(b, udid, serial, b->qr_images == MP_QR_PNG ? "qr.png" : "qr.svg", rel, sizeof(rel)) != MP_OK) return 0;
    snprintf(path, sizeof(path), "%s/%s", b->out_dir, rel);
    return stat(path, &st) == 0;
}

/* --bundle: a device's line holds an image of every format this run builds
 * for it (and its label image). A line cannot be amended (one line a
 * device), so a bundle made with other --format / --qr-images options is
 * refused for this build before the device is touched. */
static int bundle_line_covers(const mp_fd_build *b, const char *udid, unsigned fmask)
{
    char *line = NULL, pat[64];
    int rc = bundle_line_of(b, b->bundle, udid, &line);
    if (rc != MP_OK || line == NULL) return rc;
    const char *missing = NULL;
    for (int f = 0; missing == NULL && f < b->nformats; f++) {
        if (!(fmask & (1u << f))) continue;
        snprintf(pat, sizeof(pat), "\"%s\":{\"name\":\"", mp_fd_format_name(b->formats[f]));
        if (strstr(line, pat) == NULL) missing = mp_fd_format_name(b->formats[f]);
    }
    if (missing == NULL && b->qr_images) {
        missing = b->qr_images == MP_QR_PNG ? "qr-png" : "qr-svg";
        snprintf(pat, sizeof(pat), "\"%s\":{\"name\":\"", missing);
        if (strstr(line, pat) != NULL) missing = NULL;
    }
    mp_free_secret(line, strlen(line));
    return missing == NULL ? MP_OK
           : mp_err(MP_ERR_MISMATCH, "device %s: its line in %s has no %s image (that bundle was built with other --format or --qr-images options, and a line is never rewritten); give this build a new --bundle file",
                    udid, b->bundle, missing);
}

/* The formats a device gets: all, less those that hold the DAC key when the
 * key stays in the chip. */
static unsigned formats_for(const mp_fd_build *b, const mp_issued *d)
{
    unsigned m = 0;
    for (int f = 0; f < b->nformats; f++) {
        if (d->key_origin == MP_KEY_OFFCHIP || !mp_fd_needs_dac_key_with(b->formats[f], &b->opts)) m |= 1u << f;
    }
    return m;
}

static int wanted(const mp_fd_build *b, const char *udid)
{
    if (b->n_udids == 0) return 1;
    for (size_t i = 0; i < b->n_udids; i++) {
        if (strcmp(b->udids[i], udid) == 0) return 1;
    }
    return 0;
}

/* The off-chip keys of the chunk's devices to build, on this thread (the
 * lookup may read the ledger); a device whose key is not found fails in
 * its turn (store), after the chunks before it are stored. */
static void find_keys(const mp_fd_build *b, const mp_devsecret *ds, fd_chunk *c)
{
    for (size_t i = 0; i < c->n; i++) {
        fd_item *it = &c->items[i];
        it->key_rc = MP_OK;
        if (it->state == ST_SKIP || it->dev.key_origin != MP_KEY_OFFCHIP || !b->needs_key) continue;
        if ((it->key_rc = mp_devsecret_get_key(ds, &it->dev, it, &it->key, NULL)) != MP_OK) {
            snprintf(it->msg, sizeof(it->msg), "%s", mp_err_msg());
            mp_err_clear();
        }
    }
}

/* Next chunk: classify each issued device as new, to rebuild, or done. A
 * device without factory data is this run's only once it holds the claim
 * (another run on the order may build it in its own folder); a recorded one
 * is rebuilt only in the folder that built it. With a {seq} template the
 * sequence numbers come in one block per chunk from the ledger's counter. */
static int fill(mp_fd_build *b, fd_chunk *c, mp_issued *devs, char *after, uint64_t *seq)
{
    const char *names[MP_FD_MAX_FORMATS * 4];
    mp_devsecret ds;
    secrets(b, &ds, names, sizeof(names) / sizeof(names[0]));
    size_t n = 0;
    const char *dir = b->out_abs[0] ? b->out_abs : b->out_dir;
    c->n = 0;
    while (c->n == 0) {
        int rc = mp_ledger_next_issued(b->ledger, b->order.id, after, CHUNK, devs, &n);
        if (rc != MP_OK || n == 0) return rc;
        snprintf(after, MP_UDID_MAX + 1, "%s", devs[n - 1].udid);
        time_t until = time(NULL) + (b->lease_secs > 0 ? b->lease_secs : 600);
        size_t fresh = 0;
        if ((rc = mp_ledger_begin(b->ledger)) != MP_OK) return rc;
        for (size_t i = 0; rc == MP_OK && i < n; i++) {
            int found = 0, state = 0, in_order = 0, got = 1;
            if (!wanted(b, devs[i].udid)) continue;
            if ((rc = mp_ledger_device_in_order(b->ledger, devs[i].udid, b->order.id, &state, &in_order, &found)) != MP_OK) break;
            if (state == MP_DEV_REVOKED) {
                b->revoked++; /* no factory data, no label */
                continue;
            }
            unsigned fmask = formats_for(b, &devs[i]);
            if (fmask == 0) {
                b->chip_skipped++;
                continue;
            }
            fd_item *it = &c->items[c->n];
            item_clear(it);
            it->dev = devs[i];
            it->fmask = fmask;
            if ((rc = mp_ledger_get_fd(b->ledger, it->dev.udid, &it->rec, &found)) != MP_OK) break;
            if (!found) {
                if (b->lease[0] && (rc = mp_ledger_fd_claim(b->ledger, b->lease, until, dir, it->dev.udid, &got)) != MP_OK) break;
                if (!got) {
                    b->skipped++; /* another run builds it, in its folder */
                    continue;
                }
                it->state = ST_NEW;
                fresh++;
                c->n++;
                continue;
            }
            char owner[4096];
            int has_owner = 0;
            if ((rc = mp_ledger_fd_dir(b->ledger, it->dev.udid, owner, sizeof(owner), &has_owner)) != MP_OK) break;
            if (has_owner && strcmp(owner, dir) != 0) {
                b->skipped++; /* built by a run in another folder: its files are there */
                continue;
            }
            c->n++;
            if (b->bundle != NULL && mp_bundle_has(b->have, b->nhave, it->dev.udid) &&
                (rc = bundle_line_covers(b, it->dev.udid, fmask)) != MP_OK) {
                break;
            }
            if (it->rec.written && files_exist(b, it->dev.udid, it->rec.serial, fmask)) {
                it->state = ST_SKIP;
            } else {
                it->state = ST_REBUILD;
                /* the image or the label image needs the passcode (devsecret.h) */
                if (b->include_passcode && (rc = mp_devsecret_get_passcode(&ds, &it->rec, &it->passcode)) != MP_OK) break;
                if (b->qr_images && !b->include_passcode && mp_devsecret_get_passcode(&ds, &it->rec, &it->passcode) != MP_OK) {
                    mp_err_clear();
                    it->passcode = 0; /* no label image for it */
                }
            }
        }
        uint64_t first = *seq;
        /* {seq}: a block from the counter, so runs at once never share a number */
        if (rc == MP_OK && fresh > 0 && b->seq_tmpl) rc = mp_ledger_serial_take(b->ledger, b->serial_tmpl, *seq, fresh, &first);
        if (rc == MP_OK) rc = mp_ledger_commit(b->ledger);
        mp_ledger_rollback(b->ledger);
        if (rc != MP_OK) return rc;
        for (size_t i = 0; i < c->n; i++) {
            if (c->items[i].state == ST_NEW) c->items[i].seq = first++;
        }
        if (first > *seq) *seq = first;
        find_keys(b, &ds, c);
    }
    return MP_OK;
}

/* One CSV line: the cells quoted as RFC 4180 wants. */
static size_t csv_line(char *out, size_t cap, const char *const *cells, int n)
{
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && o + 1 < cap) out[o++] = ',';
        size_t k = o < cap ? mp_csv_cell(out + o, cap - o, cells[i]) : 0;
        if (k == 0 && cells[i][0] != 0) return 0;
        o += k;
    }
    if (o + 2 > cap) return 0;
    out[o++] = '\n';
    out[o] = 0;
    return o;
}

/* The chunk's label lines: onboarding.csv, manifest.jsonl, and both again,
 * tagged with UDID and salt, for .labels.pending. */
static int list_lines(const mp_fd_build *b, const fd_chunk *c, char **onb, char **man, char **pend)
{
    mp_jw o, m, p;
    size_t lo, lm, lp;
    mp_jw_init(&o, 0, 256 * c->n + 1); /* holds passcodes: wiped when it grows or goes */
    mp_jw_init(&m, 0, 700 * c->n + 1);
    mp_jw_init(&p, 0, 1100 * c->n + 1);
    for (size_t i = 0; i < c->n; i++) {
        const fd_item *it = &c->items[i];
        char line[1024], vid[8], pid[8], disc[8], pc[12], salt[65], tag[MP_UDID_MAX + 70];
        if (it->state != ST_NEW) continue;
        snprintf(vid, sizeof(vid), "0x%04X", b->order.vid);
        snprintf(pid, sizeof(pid), "0x%04X", b->order.pid);
        snprintf(disc, sizeof(disc), "%u", it->rec.discriminator);
        snprintf(pc, sizeof(pc), "%08u", it->passcode);
        const char *cells[] = {it->dev.udid, it->rec.serial, vid, pid, disc, pc, it->qr, it->manual, it->dashed};
        size_t k = csv_line(line, sizeof(line), cells, 9);
        if (k == 0) {
            mp_free_secret(mp_jw_take(&o, &lo), lo);
            mp_free_secret(mp_jw_take(&p, &lp), lp);
            free(mp_jw_take(&m, &lm));
            return mp_err(MP_ERR_GENERAL, "device %s: its onboarding.csv line is too long", it->dev.udid);
        }
        mp_hex(it->rec.salt, it->rec.salt_len, salt, 0);
        int tl = snprintf(tag, sizeof(tag), "O\t%s\t%s\t", it->dev.udid, salt);
        mp_jw_raw(&o, line, k);
        mp_jw_raw(&p, tag, (size_t)tl);
        mp_jw_raw(&p, line, k);
        mp_wipe(line, sizeof(line));
        mp_wipe(pc, sizeof(pc));
        size_t m0 = m.len;
        mp_jw_open(&m);
        mp_jw_key_cstr(&m, "udid", it->dev.udid);
        mp_jw_key_cstr(&m, "serial", it->rec.serial);
        mp_jw_key_cstr(&m, "dac_serial", it->dev.serial);
        if (b->bundle != NULL) {
            const char *sl = strrchr(b->bundle, '/');
            mp_jw_key_cstr(&m, "bundle", sl ? sl + 1 : b->bundle);
        }
        mp_jw_key_obj(&m, "files"); /* relative to the folder (with --bundle: the images' names in its line) */
        for (int f = 0; f < b->nformats; f++) {
            char name[600];
            if (!(it->fmask & (1u << f))) continue;
            if (b->bundle != NULL) {
                snprintf(name, sizeof(name), "%s.%s", out_name(b, it->dev.udid, it->rec.serial), mp_fd_format_ext(b->formats[f]));
            } else if (out_rel(b, it->dev.udid, it->rec.serial, mp_fd_format_ext(b->formats[f]), name, sizeof(name)) != MP_OK) {
                name[0] = 0;
            }
            mp_jw_key_cstr(&m, mp_fd_format_name(b->formats[f]), name);
        }
        mp_jw_close(&m);
        mp_jw_key_obj(&m, "sha256");
        for (int f = 0; f < b->nformats; f++) {
            if (it->fmask & (1u << f)) mp_jw_key_cstr(&m, mp_fd_format_name(b->formats[f]), it->sha[f]);
        }
        mp_jw_close(&m);
        mp_jw_key_cstr(&m, "qr", it->qr);
        mp_jw_key_cstr(&m, "manual_code", it->manual);
        mp_jw_key_int(&m, "discriminator", (long long)it->rec.discriminator);
        mp_jw_close(&m);
        mp_jw_raw(&m, "\n", 1);
        tl = snprintf(tag, sizeof(tag), "M\t%s\t%s\t", it->dev.udid, salt);
        mp_jw_raw(&p, tag, (size_t)tl);
        mp_jw_raw(&p, m.buf + m0, m.len - m0);
    }
    *onb = mp_jw_take(&o, &lo);
    *man = mp_jw_take(&m, &lm);
    *pend = mp_jw_take(&p, &lp);
    if (*onb == NULL || *man == NULL || *pend == NULL) {
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    return MP_OK;
}

/* One device's line of the bundle: its DAC, and every image and label image
 * with its name as the flat layout would give it. */
static int bundle_line(mp_fd_build *b, mp_bundle *bu, fd_item *it)
{
    mp_bundle_blob blobs[MP_FD_MAX_FORMATS + 1];
    char names[MP_FD_MAX_FORMATS + 1][600], extra[80];
    uint8_t *qr = NULL;
    size_t nb = 0, qlen = 0;
    const char *name = out_name(b, it->dev.udid, it->rec.serial);
    int rc = MP_OK;
    for (int f = 0; f < b->nformats; f++) {
        if (!(it->fmask & (1u << f))) continue;
        snprintf(names[nb], sizeof(names[nb]), "%s.%s", name, mp_fd_format_ext(b->formats[f]));
        blobs[nb] = (mp_bundle_blob){.key = mp_fd_format_name(b->formats[f]), .name = names[nb], .data = it->out[f],
                                     .len = it->outlen[f]};
        nb++;
    }
    if (b->qr_images && it->qr[0]) {
        int png = b->qr_images == MP_QR_PNG;
        if ((rc = mp_fd_qr_image(b->qr_images, it->dev.udid, it->qr, it->dashed, b->qr_module_px, &qr, &qlen)) != MP_OK) {
            return rc;
        }
        snprintf(names[nb], sizeof(names[nb]), "%s.%s", name, png ? "qr.png" : "qr.svg");
        blobs[nb] = (mp_bundle_blob){.key = png ? "qr-png" : "qr-svg", .name = names[nb], .data = qr, .len = qlen};
        nb++;
    }
    snprintf(extra, sizeof(extra), ",\"dac_serial\":\"%s\"", it->dev.serial);
    rc = mp_bundle_add_blobs(bu, it->dev.udid, it->rec.serial, it->dev.der, it->dev.der_len, extra, blobs, nb);
    mp_free_secret(qr, qlen);
    return rc;
}

static int write_device(mp_fd_build *b, mp_outdir *od, fd_item *it)
{
    char rel[600];
    int rc = MP_OK;
    for (int f = 0; rc == MP_OK && f < b->nformats; f++) {
        int secret = it->fd.has_dac_key || it->fd.passcode != 0;
        if (!(it->fmask & (1u << f))) continue;
        if ((rc = out_rel(b, it->dev.udid, it->rec.serial, mp_fd_format_ext(b->formats[f]), rel, sizeof(rel))) == MP_OK) {
            rc = mp_out_write(od, rel, it->out[f], it->outlen[f], secret ? 0600 : 0644);
        }
    }
    if (rc == MP_OK && b->qr_images && it->qr[0]) {
        uint8_t *img = NULL;
        size_t len = 0;
        if ((rc = mp_fd_qr_image(b->qr_images, it->dev.udid, it->qr, it->dashed, b->qr_module_px, &img, &len)) == MP_OK &&
            (rc = out_rel(b, it->dev.udid, it->rec.serial, b->qr_images == MP_QR_PNG ? "qr.png" : "qr.svg", rel,
                          sizeof(rel))) == MP_OK) {
            rc = mp_out_write(od, rel, img, len, 0600); /* the QR code holds the passcode */
        }
        mp_free_secret(img, len);
    }
    return rc;
}

/* The chunk's images: files (then one syncfs) or bundle lines (then one
 * append and fdatasync). A rebuilt device the bundle already holds (a run
 * killed after the append, before the written mark) gets no second line. */
static int write_images(mp_fd_build *b, mp_outdir *od, mp_bundle *bu, fd_chunk *c)
{
    int rc = MP_OK;
    for (size_t i = 0; rc == MP_OK && i < c->n; i++) {
        fd_item *it = &c->items[i];
        if (it->state == ST_SKIP) continue;
        if (bu == NULL) {
            rc = write_device(b, od, it);
        } else if (it->state == ST_NEW || !mp_bundle_has(b->have, b->nhave, it->dev.udid)) {
            rc = bundle_line(b, bu, it);
        }
    }
    if (rc != MP_OK) return rc;
    return bu != NULL ? mp_bundle_flush(bu) : mp_outdir_sync(od);
}

/* --name-by serial: the serial number becomes a file name (checked before
 * the chunk is recorded, so a refused name leaves nothing of the chunk). */
static int check_names(const mp_fd_build *b, const fd_chunk *c)
{
    for (size_t i = 0; b->name_by == MP_NAME_BY_SERIAL && i < c->n; i++) {
        const fd_item *it = &c->items[i];
        if (it->state != ST_SKIP && (it->rec.serial[0] == 0 || strchr(it->rec.serial, '/') != NULL)) {
            return mp_err(MP_ERR_INVALID, "device %s: serial number '%s' cannot name its files (--name-by serial: it has a '/');"
                          " use --name-by udid or a serial template without '/'", it->dev.udid, it->rec.serial);
        }
    }
    return MP_OK;
}

/* written 0: the new devices' records, every image's SHA-256 (a rebuilt
 * image must be the one recorded) and the serial counter; 1: the marks. */
static int record(mp_fd_build *b, fd_chunk *c, int written)
{
    uint64_t next_seq = 0;
    int any_new = 0;
    size_t added = 0;
    int rc = mp_ledger_begin(b->ledger);
    for (size_t i = 0; rc == MP_OK && i < c->n; i++) {
        fd_item *it = &c->items[i];
        if (it->state == ST_SKIP) continue;
        if (written) {
            rc = mp_ledger_fd_written(b->ledger, it->dev.udid);
            continue;
        }
        if (it->state == ST_NEW) {
            int ok = 1;
            if (b->lease[0] && (rc = mp_ledger_fd_confirm(b->ledger, it->dev.udid, b->lease, &ok)) == MP_OK && !ok) {
                rc = mp_err(MP_ERR_INTERRUPTED, "device %s: this run's claim expired (--lease) and another run took it;"
                            " nothing of this chunk was recorded: run the same command again", it->dev.udid);
            }
            if (rc == MP_OK) rc = mp_ledger_add_fd(b->ledger, &it->rec);
            added++;
            any_new = 1;
            if (it->seq + 1 > next_seq) next_seq = it->seq + 1;
        }
        for (int f = 0; rc == MP_OK && f < b->nformats; f++) {
            char was[65];
            if (!(it->fmask & (1u << f))) continue;
            rc = mp_ledger_fd_image(b->ledger, it->dev.udid, mp_fd_format_name(b->formats[f]), it->sha[f], was);
            if (rc == MP_OK && was[0] && strcmp(was, it->sha[f]) != 0) {
                rc = mp_err(MP_ERR_MISMATCH, "device %s: the rebuilt %s image differs from the one recorded in the ledger (SHA-256 %.16s..., now %.16s...); "
                            "was product.json, the CD, --include-passcode or --partition-size changed since it was built?",
                            it->dev.udid, mp_fd_format_name(b->formats[f]), was, it->sha[f]);
            }
        }
    }
    if (rc == MP_OK && !written && any_new && b->seq_tmpl) rc = mp_ledger_serial_advance(b->ledger, b->serial_tmpl, next_seq);
    if (rc == MP_OK && added > 0) {
        char obj[48], detail[64];
        snprintf(obj, sizeof(obj), "order=%lld", (long long)b->order.id);
        snprintf(detail, sizeof(detail), "{\"count\":%zu}", added);
        rc = mp_ledger_audit(b->ledger, mp_ledger_station_default(), "factory-data.build", obj, detail);
    }
    if (rc == MP_OK) rc = mp_ledger_commit(b->ledger);
    mp_ledger_rollback(b->ledger);
    return rc;
}

/* The images that hold the keys are written and marked: the loose key
 * files go (devsecret.h), unless --keep-keys. */
static void remove_keys(mp_fd_build *b, fd_chunk *c)
{
    const char *names[MP_FD_MAX_FORMATS * 4];
    mp_devsecret ds;
    secrets(b, &ds, names, sizeof(names) / sizeof(names[0]));
    for (size_t i = 0; i < c->n && !b->keep_keys && b->needs_key; i++) {
        if (c->items[i].dev.key_origin != MP_KEY_OFFCHIP) continue; /* already built ones too: their images are marked */
        b->keys_removed += (uint64_t)mp_devsecret_forget(&ds, &c->items[i].dev);
    }
}

static int store(mp_fd_build *b, mp_outdir *od, mp_bundle *bu, fd_chunk *c)
{
    char *onb = NULL, *man = NULL, *pend = NULL;
    int rc = MP_OK;
    for (size_t i = 0; i < c->n; i++) {
        if (c->items[i].rc != MP_OK) return mp_err(c->items[i].rc, "%s", c->items[i].msg);
    }
    for (size_t i = 0; b->pack_on_main && i < c->n; i++) {
        if (c->items[i].state != ST_SKIP && (rc = pack_item(b, &c->items[i])) != MP_OK) {
            return mp_err_ctx(rc, "device %s", c->items[i].dev.udid);
        }
    }
    if ((rc = check_names(b, c)) != MP_OK || (rc = list_lines(b, c, &onb, &man, &pend)) != MP_OK) goto end;
    int work = 0;
    for (size_t i = 0; i < c->n; i++) work |= c->items[i].state != ST_SKIP;
    if (work && (rc = mp_fd_marker(b)) != MP_OK) goto end;
    if (*pend && (rc = mp_fd_lists_stage(b, pend)) != MP_OK) goto end;
    if ((rc = record(b, c, 0)) != MP_OK) goto end;
    if (*onb && (rc = mp_fd_lists_commit(b, onb, man)) != MP_OK) goto end;
    if ((rc = write_images(b, od, bu, c)) != MP_OK || (rc = record(b, c, 1)) != MP_OK) goto end;
    remove_keys(b, c);
    for (size_t i = 0; i < c->n; i++) {
        int st = c->items[i].state;
        b->built += st == ST_NEW;
        b->rebuilt += st == ST_REBUILD;
        b->skipped += st == ST_SKIP;
    }
end:
    mp_free_secret(onb, onb ? strlen(onb) : 0);
    mp_free_secret(man, man ? strlen(man) : 0);
    mp_free_secret(pend, pend ? strlen(pend) : 0);
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The progress bar of `dac issue`: total, percent, rate, ETA (terminal only). */
static void progress(const mp_fd_build *b, double t0, int final)
{
    static double last;
    double t = now_s();
    uint64_t done = b->built + b->rebuilt + b->skipped + b->revoked + b->chip_skipped, total = b->total;
    if (b->quiet || !isatty(2) || (!final && t - last < 0.2)) return;
    last = t;
    if (done > total) total = done;
    double rate = (double)(b->built + b->rebuilt) / (t - t0 > 1e-6 ? t - t0 : 1e-6);
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    int bar = total ? (int)(30.0 * (double)done / (double)total) : 30;
    fprintf(stderr, "\r[%.*s%*s] %llu/%llu %5.1f%% %8.0f/s ETA %d:%02d ", bar, "==============================",
            30 - bar, "", (unsigned long long)done, (unsigned long long)total,
            total ? 100.0 * (double)done / (double)total : 100.0, rate, (int)eta / 60, (int)eta % 60);
    if (final) fputc('\n', stderr);
}

int mp_fd_build_run(mp_fd_build *b)
{
    fd_chunk bufs[2] = {{.b = b}, {.b = b}};
    void *states[MP_MAX_JOBS] = {0};
    mp_workers team;
    char after[MP_UDID_MAX + 1] = "";
    uint64_t seq = 0;
    int rc, cur = 0;
    mp_outdir od = {.fd = -1};
    mp_bundle bundle = {.fd = -1};
    /* With a core to spare, the workers do only the credentials (PBKDF2) and the
     * main thread packs the images between its ledger and file work; with
     * a worker on every core, packing spreads over them instead. */
    cpu_set_t cpus; /* the CPUs this process may use (a container or taskset may limit them) */
    long ncpu = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : sysconf(_SC_NPROCESSORS_ONLN);
    b->pack_on_main = ncpu > 0 && b->jobs < ncpu;
    mp_workers_init(&team, b->jobs, states, work);
    mp_issued *devs = calloc(CHUNK, sizeof(*devs)); /* one ledger page of devices */
    if ((b->bundles = calloc(1, sizeof(*b->bundles))) != NULL) pthread_mutex_init(&b->bundles->mu, NULL);
    bufs[0].items = calloc(CHUNK, sizeof(fd_item));
    bufs[1].items = calloc(CHUNK, sizeof(fd_item));
    if (devs == NULL || bufs[0].items == NULL || bufs[1].items == NULL) {
        rc = mp_err(MP_ERR_GENERAL, "out of memory");
        goto end;
    }
    double t0 = now_s();
    seq = b->seq_start;
    /* a bundle holding keys, passcodes or label images (the QR code holds
     * the passcode) is private like those files */
    int bmode = b->needs_key || b->include_passcode || b->qr_images ? 0600 : 0644;
    if ((rc = mp_outdir_open(&od, b->out_dir)) != MP_OK || (rc = mp_fd_lists_recover(b)) != MP_OK ||
        (b->bundle != NULL && ((rc = mp_bundle_open(&bundle, b->bundle, bmode)) != MP_OK ||
                               (rc = mp_bundle_udids(b->bundle, &b->have, &b->nhave)) != MP_OK)) ||
        (rc = fill(b, &bufs[0], devs, after, &seq)) != MP_OK) {
        goto end;
    }
    od.tmp_fd = od.fd; /* temporary names in the folder itself (per-device layout too), where recovery sweeps them */
    if (bufs[0].n > 0 && (rc = mp_workers_start(&team, &bufs[0], bufs[0].n)) != MP_OK) goto end;
    while (bufs[cur].n > 0) {
        mp_workers_join(&team);
        fd_chunk *done = &bufs[cur];
        cur ^= 1;
        if ((rc = fill(b, &bufs[cur], devs, after, &seq)) != MP_OK) break;
        if (bufs[cur].n > 0 && !mp_interrupted() &&
            (rc = mp_workers_start(&team, &bufs[cur], bufs[cur].n)) != MP_OK) break;
        rc = store(b, &od, b->bundle != NULL ? &bundle : NULL, done);
        progress(b, t0, 0);
        if (rc != MP_OK || !team.running) break;
    }
    mp_workers_join(&team);
    progress(b, t0, 1);
    if (rc == MP_OK && mp_interrupted() && bufs[cur].n > 0) {
        rc = mp_err(MP_ERR_INTERRUPTED, "interrupted after %llu device(s); run the same command again to finish",
                    (unsigned long long)b->built);
    }
    if (rc == MP_OK) {
        char marker[4200];
        snprintf(marker, sizeof(marker), "%s/.labels.pending", b->out_dir); /* empty now: every chunk committed */
        unlink(marker);
        snprintf(marker, sizeof(marker), "%s/.build-incomplete", b->out_dir);
        unlink(marker);
    }
end:
    if (b->lease[0]) {
        /* what this run claimed and did not record goes back at once */
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s", mp_err_msg());
        int r = mp_ledger_fd_release(b->ledger, b->lease);
        rc = rc != MP_OK ? mp_err(rc, "%s", msg) : r;
    }
    mp_workers_free(&team);
    free(devs);
    mp_outdir_close(&od);
    mp_bundle_close(&bundle);
    mp_bundle_udids_free(b->have, b->nhave);
    bundles_free(b->bundles);
    b->bundles = NULL;
    b->have = NULL;
    b->nhave = 0;
    mp_fd_lists_close();
    for (int i = 0; i < 2; i++) {
        for (size_t k = 0; bufs[i].items != NULL && k < CHUNK; k++) item_clear(&bufs[i].items[k]);
        free(bufs[i].items);
    }
    return rc;
}
