/* extdac.c - DACs issued by another PKI: import and Infineon-layout export
 * (see extdac.h). */
#include "dac/extdac.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "chips/chips.h"
#include "util.h"
#include "verify/verify.h"
#include "x509.h"

#define MAX_DAC_FILE (1 << 16)

/* ---- the list of files ------------------------------------------------------------ */

typedef struct flist {
    char **v;
    size_t n, cap;
} flist;

static void flist_free(flist *f)
{
    for (size_t i = 0; i < f->n; i++) free(f->v[i]);
    free(f->v);
}

static int flist_add(flist *f, const char *path)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        char **v = realloc(f->v, cap * sizeof(*v));
        if (v == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
        f->v = v;
        f->cap = cap;
    }
    char abs[PATH_MAX];
    if (realpath(path, abs) == NULL) {
        return mp_err(MP_ERR_IO, "%s: no such file", path);
    }
    if ((f->v[f->n] = strdup(abs)) == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    f->n++;
    return MP_OK;
}

static int visible(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

static int flist_collect(flist *f, char **paths, size_t n)
{
    struct stat st;
    int rc = MP_OK;
    for (size_t i = 0; rc == MP_OK && i < n; i++) {
        if (stat(paths[i], &st) != 0) {
            return mp_err(MP_ERR_IO, "%s: no such file or folder", paths[i]);
        }
        if (!S_ISDIR(st.st_mode)) {
            rc = flist_add(f, paths[i]);
            continue;
        }
        struct dirent **names = NULL;
        int k = scandir(paths[i], &names, visible, alphasort);
        if (k < 0) return mp_err(MP_ERR_IO, "%s: cannot read the folder", paths[i]);
        for (int j = 0; j < k; j++) {
            char p[PATH_MAX];
            snprintf(p, sizeof(p), "%s/%s", paths[i], names[j]->d_name);
            if (rc == MP_OK) rc = flist_add(f, p);
            free(names[j]);
        }
        free(names);
    }
    if (rc == MP_OK && f->n == 0) rc = mp_err(MP_ERR_INVALID, "no DAC files given");
    return rc;
}

/* SHA-256 over every file's bytes in order: the import's identity. */
static int flist_hash(const flist *f, char out[65])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t h[32];
    int rc = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? MP_OK : MP_ERR_GENERAL;
    for (size_t i = 0; rc == MP_OK && i < f->n; i++) {
        uint8_t *b = NULL;
        size_t len = 0;
        if ((rc = mp_read_file(f->v[i], MAX_DAC_FILE, &b, &len)) == MP_OK) {
            EVP_DigestUpdate(md, b, len);
        }
        free(b);
    }
    if (rc == MP_OK) {
        EVP_DigestFinal_ex(md, h, NULL);
        mp_hex(h, 32, out, 0);
    }
    EVP_MD_CTX_free(md);
    return rc;
}

/* ---- one DAC ------------------------------------------------------------------------- */

typedef struct ictx {
    mp_dac_import *im;
    mp_ledger *l;
    mp_va_buf paa, pai;
    char pai_skid[41];
    mp_udid_map *map;
    mp_udid_seen *seen;
    mp_order order;
    int64_t batch;
} ictx;

static int subject_attr(X509 *x, int nid, const char *what, char udid[static MP_UDID_MAX + 1])
{
    const X509_NAME *n = X509_get_subject_name(x);
    int i = X509_NAME_get_index_by_NID(n, nid, -1);
    if (i < 0 || X509_NAME_get_index_by_NID(n, nid, i) >= 0) {
        return mp_err(MP_ERR_INVALID, "the DAC subject must have exactly one %s (the UDID)", what);
    }
    const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
    size_t len = (size_t)ASN1_STRING_length(v);
    int rc = mp_chip_udid_check((const char *)ASN1_STRING_get0_data(v), len);
    if (rc == MP_OK) {
        memcpy(udid, ASN1_STRING_get0_data(v), len);
        udid[len] = 0;
    }
    return rc != MP_OK ? mp_err_ctx(rc, "subject %s", what) : MP_OK;
}

static int dac_udid(ictx *c, const char *path, X509 *x, char udid[static MP_UDID_MAX + 1])
{
    switch (c->im->udid_from) {
    case MP_EXT_UDID_CN: return subject_attr(x, NID_commonName, "CN", udid);
    case MP_EXT_UDID_SERIAL: return subject_attr(x, NID_serialNumber, "serialNumber", udid);
    case MP_EXT_UDID_CSV: return mp_udid_map_get(c->map, path, udid);
    default: return mp_udid_from_filename(c->im->pattern, path, udid);
    }
}

/* The attestation verifier's checks, the PAA the only trust anchor. */
static int verify_chain(ictx *c, mp_va_buf *dac)
{
    mp_va_input in;
    mp_va_report rep;
    memset(&in, 0, sizeof(in));
    in.paa[0] = c->paa;
    in.n_paa = 1;
    in.pai = c->pai;
    in.dac = *dac;
    in.at = c->im->at ? c->im->at : time(NULL);
    int rc = mp_va_verify(&in, &rep);
    if (rc != MP_OK) return rc;
    if (rep.code != VA_SUCCESS) {
        const char *name = mp_va_code_name(rep.code);
        return mp_err(MP_ERR_VERIFY, "the chain is rejected by the attestation verifier: %d %s (%s: %s)", rep.code,
                      name ? name : "?", rep.failed >= 0 ? mp_va_check_name(rep.failed) : "",
                      rep.failed >= 0 ? rep.checks[rep.failed].detail : "");
    }
    return MP_OK;
}

/* VID/PID: the first DAC sets a new order's (set); every DAC must match it. */
static int order_vidpid(ictx *c, X509 *x, int set)
{
    mp_vidpid vp;
    if (mp_dn_vidpid(X509_get_subject_name(x), &vp) != MP_OK || !vp.has_vid || !vp.has_pid) {
        return mp_err(MP_ERR_PROFILE, "the DAC subject has no readable VID and PID");
    }
    if (set) {
        c->order.vid = vp.vid;
        c->order.pid = vp.pid;
        return MP_OK;
    }
    if (vp.vid != c->order.vid || vp.pid != c->order.pid) {
        return mp_err(MP_ERR_MISMATCH, "VID/PID %04X/%04X differs from the order's %04X/%04X (import each product on its own)",
                      vp.vid, vp.pid, c->order.vid, c->order.pid);
    }
    return MP_OK;
}

/* The device: new on the import's list, or one already listed with the same
 * key and no DAC yet. */
static int ensure_device(ictx *c, const char *udid, const uint8_t point[65])
{
    mp_device d;
    int found = 0, rc = mp_ledger_get_device(c->l, udid, &d, &found);
    if (rc != MP_OK) return rc;
    if (found) {
        if (memcmp(d.point, point, 65) != 0) {
            return mp_err(MP_ERR_MISMATCH, "device %s is on a chip list with another public key", udid);
        }
        return d.state == MP_DEV_AUTHORIZED ? MP_OK : mp_err(MP_ERR_DUPLICATE, "device %s already has a DAC", udid);
    }
    memset(&d, 0, sizeof(d));
    snprintf(d.udid, sizeof(d.udid), "%s", udid);
    memcpy(d.point, point, 65);
    d.list_id = c->im->list_id;
    d.state = MP_DEV_AUTHORIZED;
    d.key_origin = MP_KEY_CHIP;
    return mp_ledger_add_device(c->l, &d);
}

static int record(ictx *c, const char *path, X509 *x, const mp_va_buf *dac, const char *udid)
{
    uint8_t point[65], h[32];
    time_t nb, na;
    mp_cert_rec r;
    int rc;
    if ((rc = mp_cert_point(x, point)) != MP_OK || (rc = ensure_device(c, udid, point)) != MP_OK) {
        return rc;
    }
    memset(&r, 0, sizeof(r));
    r.batch = c->batch;
    r.order_id = c->order.id;
    snprintf(r.udid, sizeof(r.udid), "%s", udid);
    snprintf(r.pai_skid, sizeof(r.pai_skid), "%s", c->pai_skid);
    mp_va_serial_hex(X509_get0_serialNumber(x), r.serial);
    if (mp_asn1_time(X509_get0_notBefore(x), &nb) != 0 || mp_asn1_time(X509_get0_notAfter(x), &na) != 0) {
        return mp_err(MP_ERR_PROFILE, "unreadable validity");
    }
    r.not_before = nb;
    r.not_after = na;
    EVP_Digest(dac->der, dac->len, h, NULL, EVP_sha256(), NULL);
    mp_hex(h, 32, r.sha256, 0);
    r.der = dac->der;
    r.der_len = dac->len;
    r.path = path;
    r.station = c->im->station;
    if ((rc = mp_udid_seen_add(c->seen, udid, path)) != MP_OK) return rc;
    return mp_ledger_add_counted(c->l, &r);
}

static int import_one(ictx *c, const char *path)
{
    mp_va_buf dac = {0};
    X509 *x = NULL;
    char udid[MP_UDID_MAX + 1];
    int rc = mp_va_load_cert(path, &dac);
    if (rc == MP_OK) {
        const uint8_t *p = dac.der;
        x = d2i_X509(NULL, &p, (long)dac.len);
        rc = x == NULL ? mp_err(MP_ERR_INVALID, "not a certificate") : MP_OK;
    }
    if (rc == MP_OK) rc = verify_chain(c, &dac);
    if (rc == MP_OK) rc = order_vidpid(c, x, 0);
    if (rc == MP_OK) rc = dac_udid(c, path, x, udid);
    if (rc == MP_OK) rc = record(c, path, x, &dac, udid);
    X509_free(x);
    free(dac.der);
    return rc != MP_OK ? mp_err_ctx(rc, "%s", path) : MP_OK;
}

/* ---- the transaction ---------------------------------------------------------------------- */

static int open_order(ictx *c)
{
    mp_dac_import *im = c->im;
    if (im->order_id != 0) {
        int rc = mp_ledger_get_order(c->l, im->order_id, &c->order);
        if (rc != MP_OK) return rc;
        if (!mp_order_is_external(&c->order)) {
            return mp_err(MP_ERR_USAGE, "order %lld issues our own DACs; --order takes an order made by dac import", (long long)im->order_id);
        }
        if (strcmp(c->order.pai_skid, c->pai_skid) != 0) {
            return mp_err(MP_ERR_MISMATCH, "order %lld is for the PAI with SKID %s, not %s (%s)", (long long)im->order_id,
                          c->order.pai_skid, c->pai_skid, im->pai_path);
        }
        return MP_OK;
    }
    memset(&c->order, 0, sizeof(c->order));
    char *abs = realpath(im->pai_path, NULL);
    if (abs == NULL || strlen(abs) >= sizeof(c->order.pai_cert)) {
        free(abs);
        return mp_err(MP_ERR_IO, "%s: no such file (or its path is too long)", im->pai_path);
    }
    snprintf(c->order.pai_cert, sizeof(c->order.pai_cert), "%s", abs);
    free(abs);
    snprintf(c->order.pai_key, sizeof(c->order.pai_key), "%s", MP_PAI_KEY_EXTERNAL);
    snprintf(c->order.pai_skid, sizeof(c->order.pai_skid), "%s", c->pai_skid);
    snprintf(c->order.cn_template, sizeof(c->order.cn_template), "(issued by another PKI)");
    return MP_OK;
}

static int transaction(ictx *c, const flist *f, const char *sha256)
{
    mp_dac_import *im = c->im;
    char signer[512], paa_desc[512];
    int known = 0, rc;
    X509 *paa = NULL;
    if ((rc = mp_ledger_list_known(c->l, sha256, &known)) != MP_OK) return rc;
    if (known) return mp_err(MP_ERR_DUPLICATE, "these DAC files (SHA-256 %s) were imported before", sha256);
    if ((rc = mp_cert_from_mem(c->paa.der, c->paa.len, &paa)) != MP_OK) return rc;
    mp_chips_signer_desc(paa, paa_desc);
    X509_free(paa);
    snprintf(signer, sizeof(signer), "DACs issued by another PKI, chains verified to %s", paa_desc);
    mp_chip_list list = {.format = "external-dacs", .source = f->n == 1 ? f->v[0] : im->paths[0],
                         .is_signed = 1, .signer = signer};
    memcpy(list.sha256, sha256, 65);
    if ((rc = mp_ledger_add_list(c->l, &list)) != MP_OK || (rc = open_order(c)) != MP_OK) return rc;
    im->list_id = list.id;
    /* the order is added once its VID/PID is known (from the first DAC) */
    if (c->order.id == 0) {
        mp_va_buf dac = {0};
        X509 *x = NULL;
        if ((rc = mp_va_load_cert(f->v[0], &dac)) == MP_OK) {
            const uint8_t *p = dac.der;
            x = d2i_X509(NULL, &p, (long)dac.len);
            rc = x == NULL ? mp_err(MP_ERR_INVALID, "%s: not a certificate", f->v[0]) : order_vidpid(c, x, 1);
            if (rc != MP_OK) mp_err_ctx(rc, "%s", f->v[0]);
        }
        X509_free(x);
        free(dac.der);
        if (rc == MP_OK) rc = mp_ledger_add_order(c->l, &c->order);
        if (rc != MP_OK) return rc;
    }
    mp_dac_batch b = {.order_id = c->order.id, .pai_skid = c->pai_skid, .dir = "", .station = im->station};
    if ((rc = mp_ledger_grow_external_quota(c->l, c->order.id, f->n)) != MP_OK ||
        (rc = mp_ledger_take_quota(c->l, c->order.id, f->n)) != MP_OK || (rc = mp_ledger_add_batch(c->l, &b)) != MP_OK) {
        return rc;
    }
    c->batch = b.id;
    for (size_t i = 0; rc == MP_OK && i < f->n; i++) {
        rc = import_one(c, f->v[i]);
    }
    if (rc == MP_OK && c->map != NULL) rc = mp_udid_map_all_used(c->map);
    if (rc == MP_OK) rc = mp_ledger_set_list_count(c->l, list.id, f->n);
    if (rc == MP_OK) rc = mp_ledger_batch_written(c->l, b.id); /* the files are the vendor's, in place */
    if (rc == MP_OK) {
        char obj[96], detail[128];
        snprintf(obj, sizeof(obj), "order=%lld batch=%lld list=%lld", (long long)c->order.id, (long long)b.id, (long long)list.id);
        snprintf(detail, sizeof(detail), "{\"count\":%zu,\"sha256\":\"%s\"}", f->n, sha256);
        rc = mp_ledger_audit(c->l, im->station ? im->station : mp_ledger_station_default(), "dac.import", obj, detail);
    }
    im->count = f->n;
    im->vid = c->order.vid;
    im->pid = c->order.pid;
    im->order_id = c->order.id;
    return rc;
}

static int load_anchors(ictx *c)
{
    uint8_t skid[20];
    X509 *pai = NULL;
    int rc = mp_va_load_cert(c->im->paa_path, &c->paa);
    if (rc == MP_OK) rc = mp_va_load_cert(c->im->pai_path, &c->pai);
    if (rc == MP_OK && (rc = mp_cert_from_mem(c->pai.der, c->pai.len, &pai)) == MP_OK && mp_cert_skid(pai, skid) != 0) {
        rc = mp_err(MP_ERR_PROFILE, "%s: the PAI has no 20-byte subject key identifier", c->im->pai_path);
    }
    if (rc == MP_OK) mp_hex(skid, 20, c->pai_skid, 1);
    X509_free(pai);
    return rc;
}

int mp_dac_import_run(mp_ledger *l, mp_dac_import *im)
{
    ictx c;
    flist f = {0};
    char sha[65];
    memset(&c, 0, sizeof(c));
    c.im = im;
    c.l = l;
    int rc = load_anchors(&c);
    if (rc == MP_OK) rc = flist_collect(&f, im->paths, im->n_paths);
    if (rc == MP_OK && im->udid_from == MP_EXT_UDID_CSV) rc = mp_udid_map_load(im->csv, &c.map);
    if (rc == MP_OK) rc = mp_udid_seen_new(&c.seen);
    if (rc == MP_OK) rc = flist_hash(&f, sha);
    if (rc == MP_OK && (rc = mp_ledger_begin(l)) == MP_OK) {
        rc = transaction(&c, &f, sha);
        if (rc == MP_OK) rc = mp_ledger_commit(l);
        if (rc != MP_OK) {
            mp_ledger_rollback(l);
            im->count = 0;
        }
    }
    mp_udid_seen_free(c.seen);
    mp_udid_map_free(c.map);
    free(c.paa.der);
    free(c.pai.der);
    flist_free(&f);
    return rc;
}

/* ---- export in Infineon's layout ------------------------------------------------------------ */

static int write_pem(const char *dir, const mp_issued *d, int force)
{
    char path[4096];
    const uint8_t *p = d->der;
    X509 *x = d2i_X509(NULL, &p, (long)d->der_len);
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    int rc;
    snprintf(path, sizeof(path), "%s/%s_E0E0.pem", dir, d->udid);
    if (x == NULL || b == NULL || PEM_write_bio_X509(b, x) != 1) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "%s: cannot encode PEM", d->udid);
    } else {
        long n = BIO_get_mem_data(b, &data);
        uint8_t *old = NULL;
        size_t olen = 0;
        /* a re-run after a crash finds the same file: leave it */
        if (!force && mp_read_file(path, MAX_DAC_FILE, &old, &olen) == MP_OK && olen == (size_t)n &&
            memcmp(old, data, olen) == 0) {
            rc = MP_OK;
        } else {
            mp_err_clear();
            rc = mp_write_file(path, data, (size_t)n, 0644, force);
        }
        free(old);
    }
    BIO_free(b);
    X509_free(x);
    return rc;
}

static int in_dir(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && path[n] == '/' && strchr(path + n + 1, '/') == NULL;
}

int mp_dac_export_infineon(mp_ledger *l, int64_t order_id, const char *dir, const char *only_dir, int force,
                           uint64_t *written)
{
    enum { CHUNK = 256 };
    mp_issued *devs = calloc(CHUNK, sizeof(*devs));
    char after[MP_UDID_MAX + 1] = "";
    size_t n = 0;
    int rc = devs != NULL ? mp_mkdir_p(dir, 0755) : mp_err(MP_ERR_GENERAL, "out of memory");
    *written = 0;
    while (rc == MP_OK && (rc = mp_ledger_next_issued(l, order_id, after, CHUNK, devs, &n)) == MP_OK && n > 0) {
        for (size_t i = 0; rc == MP_OK && i < n; i++) {
            if (only_dir != NULL && !in_dir(devs[i].path, only_dir)) continue;
            rc = write_pem(dir, &devs[i], force);
            *written += rc == MP_OK;
        }
        snprintf(after, sizeof(after), "%s", devs[n - 1].udid);
    }
    if (rc == MP_OK) mp_fsync_dir(dir);
    free(devs);
    return rc;
}
