/* chips_import.c - a chip list into the ledger, all or nothing (see chips.h). */
#include "chips/chips.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "util.h"
#include "x509.h"

#define MAX_LIST_BYTES ((size_t)4 << 30)
#define MAX_CERT_FILE ((size_t)1 << 30)

static const char *const format_names[] = {"csv", "json", "birth-certs", "microchip-manifest"};

typedef struct add_ctx {
    mp_ledger *l;
    int64_t list_id;
    mp_udid_seen *seen; /* birth certificates: name both files of a collision */
} add_ctx;

static int add_cb(void *vctx, const mp_chip_entry *e)
{
    add_ctx *a = vctx;
    mp_device d;
    int rc;
    if (a->seen != NULL && (rc = mp_udid_seen_add(a->seen, e->udid, e->where)) != MP_OK) {
        return rc;
    }
    memset(&d, 0, sizeof(d));
    memcpy(d.udid, e->udid, sizeof(d.udid));
    memcpy(d.point, e->point, 65);
    d.list_id = a->list_id;
    d.state = MP_DEV_AUTHORIZED;
    d.key_origin = MP_KEY_CHIP;
    return mp_ledger_add_device(a->l, &d);
}

static void sha256_hex(const uint8_t *b, size_t n, char out[65])
{
    uint8_t h[32];
    unsigned int hl = 0;
    EVP_Digest(b, n, h, &hl, EVP_sha256(), NULL);
    mp_hex(h, 32, out, 0);
}

/* ---- a folder of birth certificates ---------------------------------------- */

static int visible_file(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

typedef struct folder {
    struct dirent **names;
    int n;
    mp_birth *b;
} folder;

static void folder_free(folder *f)
{
    mp_birth_free(f->b);
    for (int i = 0; i < f->n; i++) free(f->names[i]);
    free(f->names);
}

static int folder_read(folder *f, const char *dir, int i, char path[4096], uint8_t **buf, size_t *len)
{
    snprintf(path, 4096, "%s/%s", dir, f->names[i]->d_name);
    return mp_read_file(path, MAX_CERT_FILE, buf, len);
}

/* Pass 1 (before the transaction): CA certificates, and the list hash over
 * every file's bytes in name order. */
static int folder_pass1(mp_chips_import *im, folder *f)
{
    char path[4096];
    uint8_t *buf = NULL, h[32];
    size_t len;
    int rc = mp_birth_new(&im->src, &f->b);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (rc != MP_OK || md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return rc != MP_OK ? rc : mp_err(MP_ERR_GENERAL, "cannot hash the folder");
    }
    for (int i = 0; rc == MP_OK && i < f->n; i++) {
        if ((rc = folder_read(f, im->path, i, path, &buf, &len)) != MP_OK) break;
        EVP_DigestUpdate(md, buf, len);
        rc = mp_birth_add_cas(f->b, path, buf, len);
        free(buf);
    }
    EVP_DigestFinal_ex(md, h, NULL);
    EVP_MD_CTX_free(md);
    mp_hex(h, 32, im->sha256, 0);
    return rc;
}

/* Pass 2 (inside the transaction): the device certificates. */
static int folder_pass2(mp_chips_import *im, folder *f, mp_chip_cb cb, void *ctx)
{
    char path[4096];
    uint8_t *buf = NULL;
    size_t len;
    int rc = MP_OK;
    for (int i = 0; rc == MP_OK && i < f->n; i++) {
        if ((rc = folder_read(f, im->path, i, path, &buf, &len)) != MP_OK) break;
        rc = mp_birth_parse(f->b, path, buf, len, cb, ctx, &im->count);
        free(buf);
    }
    if (rc == MP_OK && im->count == 0) {
        rc = mp_err(MP_ERR_INVALID, "%s: no device certificates", im->path);
    }
    if (rc == MP_OK) rc = mp_birth_finish(f->b);
    return rc;
}

static int folder_open(mp_chips_import *im, folder *f)
{
    f->n = scandir(im->path, &f->names, visible_file, alphasort);
    if (f->n < 0) {
        f->n = 0;
        return mp_err(MP_ERR_IO, "%s: cannot read the folder", im->path);
    }
    if (f->n == 0) {
        return mp_err(MP_ERR_INVALID, "%s: the folder holds no certificate files", im->path);
    }
    return MP_OK;
}

/* ---- list authenticity ------------------------------------------------------ */

static int check_signature(mp_chips_import *im, const uint8_t *data, size_t len)
{
    X509 *signer = NULL;
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    const char *kind = "";
    int rc = mp_cert_load(im->signer_path, &signer);
    if (rc == MP_OK) rc = mp_read_file(im->sig_path, 1 << 20, &sig, &sig_len);
    if (rc == MP_OK) {
        rc = mp_chips_verify_sig(data, len, sig, sig_len, signer, im->signer, &kind);
        if (rc != MP_OK) rc = mp_err_ctx(rc, "%s: signature %s", im->path, im->sig_path);
    }
    im->is_signed = rc == MP_OK;
    free(sig);
    X509_free(signer);
    return rc;
}

static int check_authenticity(mp_chips_import *im, const uint8_t *data, size_t len)
{
    if (im->sig_path != NULL) {
        return check_signature(im, data, len);
    }
    if (im->format == MP_CHIPS_MANIFEST) {
        /* each entry is a JWS of the manifest signer, verified as it is read */
        char who[512];
        mp_chips_signer_desc(im->src.manifest_signer, who);
        snprintf(im->signer, sizeof(im->signer), "manifest entries signed by %s", who);
        im->is_signed = 1;
        return MP_OK;
    }
    if (im->format == MP_CHIPS_BIRTH) {
        /* each entry is signed by the chip root; that is the list's authenticity */
        char root[512];
        mp_chips_signer_desc(im->src.root, root);
        snprintf(im->signer, sizeof(im->signer), "birth certificates under %s", root);
        im->is_signed = 1;
        return MP_OK;
    }
    if (!im->allow_unsigned) {
        return mp_err(MP_ERR_VERIFY, "%s: unsigned chip list refused: give --signature FILE --signer CERT, or --allow-unsigned", im->path);
    }
    im->is_signed = 0;
    im->signer[0] = 0;
    return MP_OK;
}

/* ---- the transaction ---------------------------------------------------------- */

static int parse_into(mp_chips_import *im, const uint8_t *buf, size_t len, folder *f, add_ctx *a)
{
    switch (im->format) {
    case MP_CHIPS_CSV: return mp_chips_parse_csv(&im->src, buf, len, add_cb, a, &im->count);
    case MP_CHIPS_JSON: return mp_chips_parse_json(&im->src, buf, len, add_cb, a, &im->count);
    case MP_CHIPS_MANIFEST: return mp_chips_parse_manifest(&im->src, im->path, add_cb, a, &im->count);
    default: break;
    }
    return f == NULL ? mp_chips_parse_birth(&im->src, buf, len, add_cb, a, &im->count)
                     : folder_pass2(im, f, add_cb, a);
}

static int transaction(mp_ledger *l, mp_chips_import *im, const uint8_t *buf, size_t len, folder *f)
{
    int known = 0, rc;
    mp_chip_list list = {.format = format_names[im->format], .source = im->path,
                         .is_signed = im->is_signed, .signer = im->signer};
    memcpy(list.sha256, im->sha256, sizeof(list.sha256));
    if ((rc = mp_ledger_list_known(l, im->sha256, &known)) != MP_OK) return rc;
    if (known) {
        return mp_err(MP_ERR_DUPLICATE, "%s: this chip list (SHA-256 %s) was already imported", im->path, im->sha256);
    }
    if ((rc = mp_ledger_add_list(l, &list)) != MP_OK) return rc;
    add_ctx a = {l, list.id, NULL};
    im->count = 0;
    /* a folder of files (Infineon bundles: one chip a file) names both files
     * of a colliding UDID; a single bundle leaves that to the ledger */
    if (im->format == MP_CHIPS_BIRTH && f != NULL && (rc = mp_udid_seen_new(&a.seen)) != MP_OK) return rc;
    rc = parse_into(im, buf, len, f, &a);
    mp_udid_seen_free(a.seen);
    if (rc != MP_OK) return rc;
    im->list_id = list.id;
    return mp_ledger_set_list_count(l, list.id, im->count);
}

static int run_locked(mp_ledger *l, mp_chips_import *im, const uint8_t *buf, size_t len, folder *f)
{
    int rc = mp_ledger_begin(l);
    if (rc != MP_OK) {
        return rc;
    }
    rc = transaction(l, im, buf, len, f);
    if (rc == MP_OK) {
        rc = mp_ledger_commit(l);
    }
    if (rc != MP_OK) {
        mp_ledger_rollback(l);
        im->count = 0;
        im->list_id = 0;
    }
    return rc;
}

int mp_chips_import_run(mp_ledger *l, mp_chips_import *im)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t len = 0;
    folder f = {NULL, 0, NULL};
    int rc, is_dir = stat(im->path, &st) == 0 && S_ISDIR(st.st_mode);
    im->src.name = im->path;
    if (is_dir && (im->format != MP_CHIPS_BIRTH || im->sig_path != NULL)) {
        return mp_err(MP_ERR_USAGE, "%s: a folder is accepted only as birth certificates without --signature", im->path);
    }
    if (is_dir) {
        rc = folder_open(im, &f);
        if (rc == MP_OK) rc = folder_pass1(im, &f);
        if (rc == MP_OK) rc = check_authenticity(im, NULL, 0);
        if (rc == MP_OK) rc = run_locked(l, im, NULL, 0, &f);
        folder_free(&f);
        return rc;
    }
    if (im->format == MP_CHIPS_MANIFEST) { /* streamed: never the whole file in memory */
        if (im->sig_path != NULL) {
            return mp_err(MP_ERR_USAGE, "%s: a manifest is signed entry by entry; it takes --signer, not --signature", im->path);
        }
        rc = mp_chips_hash_file(im->path, im->sha256);
        if (rc == MP_OK) rc = check_authenticity(im, NULL, 0);
        if (rc == MP_OK) rc = run_locked(l, im, NULL, 0, NULL);
        return rc;
    }
    if ((rc = mp_read_file(im->path, MAX_LIST_BYTES, &buf, &len)) != MP_OK) {
        return rc;
    }
    sha256_hex(buf, len, im->sha256);
    rc = check_authenticity(im, buf, len);
    if (rc == MP_OK) {
        rc = run_locked(l, im, buf, len, NULL);
    }
    free(buf);
    return rc;
}
