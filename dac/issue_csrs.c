/* issue_csrs.c - batches of device CSRs (issue 18): a folder of PEM/DER
 * requests or one PEM bundle. Each request is checked like a single --csr
 * (proof of possession, a P-256 key that belongs to an authorized device on
 * a trusted chip list, no DAC yet); every bad one gets one report line (file
 * and reason) and the good ones are issued by the batch engine of
 * `dac issue --udid`, so the run is crash-safe and resumable the same way:
 * a re-run finishes the files of the last run, reports the requests whose
 * DAC an earlier run wrote as done, and issues the rest. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "dac/chips.h"
#include "dac/issue.h"
#include "util.h"

#define MAX_CSR_FILE (1 << 16)
#define MAX_BUNDLE ((size_t)1 << 30)

typedef struct batch {
    mp_issue *is;
    FILE *report;
    char **udids;        /* the devices to issue */
    size_t n, cap;
    mp_udid_seen *seen;  /* every device met, and its request (duplicates) */
    size_t refused, done;
    int first_rc;
} batch;

static void refuse(batch *b, const char *where, int rc)
{
    fprintf(b->report, "refused %s: %s\n", where, mp_err_msg());
    if (b->first_rc == MP_OK) b->first_rc = rc;
    b->refused++;
    mp_err_clear();
}

/* Proof of possession and a P-256 key, from a parsed request. */
static int check_req(X509_REQ *r, uint8_t point[static 65])
{
    EVP_PKEY *pk = X509_REQ_get0_pubkey(r);
    int rc = mp_pubkey_point(X509_REQ_get_X509_PUBKEY(r), point);
    if (rc != MP_OK) return rc;
    if (pk == NULL || X509_REQ_verify(r, pk) != 1) {
        ERR_clear_error();
        return mp_err(MP_ERR_VERIFY, "the request's signature does not verify (no proof of possession)");
    }
    return MP_OK;
}

/* Is the device's DAC already in the output folder (an earlier run)? */
static int done_earlier(batch *b, const char *udid)
{
    char sha[65], path[4200], have[65];
    int found = 0;
    uint8_t *buf = NULL, h[32];
    size_t len = 0;
    if (mp_ledger_cert_for_udid(b->is->ledger, udid, sha, &found) != MP_OK || !found) return 0;
    snprintf(path, sizeof(path), "%s/%s.der", b->is->out_dir, udid);
    if (mp_read_file(path, MAX_CSR_FILE, &buf, &len) != MP_OK) {
        mp_err_clear();
        return 0;
    }
    EVP_Digest(buf, len, h, NULL, EVP_sha256(), NULL);
    free(buf);
    mp_hex(h, 32, have, 0);
    return strcmp(have, sha) == 0;
}

static int push(batch *b, const char *udid)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        char **u = realloc(b->udids, cap * sizeof(*u));
        if (u == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
        b->udids = u;
        b->cap = cap;
    }
    if ((b->udids[b->n] = strdup(udid)) == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    b->n++;
    return MP_OK;
}

/* One request: refused with a report line, skipped as done, or queued.
 * Only an internal failure (out of memory, the ledger) stops the batch. */
static int one(batch *b, const char *where, X509_REQ *r)
{
    uint8_t point[65];
    mp_device d;
    int found = 0, rc = r == NULL ? mp_err(MP_ERR_INVALID, "not a PKCS#10 request (PEM or DER)") : check_req(r, point);
    if (rc == MP_OK && (rc = mp_ledger_find_device_by_key(b->is->ledger, point, &d, &found)) != MP_OK) {
        return rc; /* the ledger failed: stop */
    }
    if (rc == MP_OK && !found) {
        rc = mp_err(MP_ERR_UNAUTHORIZED, "its key belongs to no device on a trusted chip list");
    }
    if (rc == MP_OK && (rc = mp_udid_seen_add(b->seen, d.udid, where)) == MP_ERR_DUPLICATE) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%s", mp_err_msg());
        rc = mp_err(MP_ERR_DUPLICATE, "the same device twice: %s", msg);
    }
    if (rc == MP_OK && d.state != MP_DEV_AUTHORIZED) {
        if (done_earlier(b, d.udid)) {
            fprintf(b->report, "done %s: device %s (DAC written by an earlier run)\n", where, d.udid);
            b->done++;
            return MP_OK;
        }
        rc = mp_err(MP_ERR_UNAUTHORIZED, "device %s already has a DAC%s", d.udid, d.state == MP_DEV_REVOKED ? " (revoked)" : "");
    }
    if (rc == MP_ERR_GENERAL) return rc; /* out of memory: stop */
    if (rc != MP_OK) {
        refuse(b, where, rc);
        return MP_OK;
    }
    return push(b, d.udid);
}

static X509_REQ *req_from_mem(const uint8_t *buf, size_t len)
{
    BIO *bio = BIO_new_mem_buf(buf, (int)len);
    X509_REQ *r = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (r == NULL) {
        const uint8_t *p = buf;
        ERR_clear_error();
        r = d2i_X509_REQ(NULL, &p, (long)len);
        if (r != NULL && p != buf + len) {
            X509_REQ_free(r);
            r = NULL;
        }
    }
    ERR_clear_error();
    return r;
}

static int visible(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

static int scan_dir(batch *b, const char *dir)
{
    struct dirent **names = NULL;
    int k = scandir(dir, &names, visible, alphasort), rc = MP_OK;
    if (k < 0) return mp_err(MP_ERR_IO, "--csr-dir %s: cannot read the folder", dir);
    for (int i = 0; i < k; i++) {
        char path[4200];
        uint8_t *buf = NULL;
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (rc == MP_OK) {
            if (mp_read_file(path, MAX_CSR_FILE, &buf, &len) != MP_OK) {
                refuse(b, path, MP_ERR_IO);
            } else {
                X509_REQ *r = req_from_mem(buf, len);
                rc = one(b, path, r);
                X509_REQ_free(r);
            }
        }
        free(buf);
        free(names[i]);
    }
    free(names);
    if (rc == MP_OK && k == 0) rc = mp_err(MP_ERR_INVALID, "--csr-dir %s: no requests", dir);
    return rc;
}

/* Each -----BEGIN ...----- ... -----END ...----- block on its own, so that a
 * damaged block is refused alone. */
static int scan_bundle(batch *b, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0, n = 0;
    int rc = mp_read_file(path, MAX_BUNDLE, &buf, &len);
    if (rc != MP_OK) return rc;
    const char *p = (const char *)buf, *end = p + len;
    while (rc == MP_OK && p < end) {
        const char *beg = memmem(p, (size_t)(end - p), "-----BEGIN", 10);
        if (beg == NULL) break;
        const char *stop = memmem(beg + 10, (size_t)(end - beg - 10), "-----END", 8);
        const char *eol = stop ? memmem(stop + 8, (size_t)(end - stop - 8), "-----", 5) : NULL;
        char where[4200];
        snprintf(where, sizeof(where), "%s: request %zu", path, ++n);
        if (eol == NULL) {
            mp_err(MP_ERR_INVALID, "a PEM block without its END line");
            refuse(b, where, MP_ERR_INVALID);
            break;
        }
        eol += 5;
        X509_REQ *r = req_from_mem((const uint8_t *)beg, (size_t)(eol - beg));
        rc = one(b, where, r);
        X509_REQ_free(r);
        p = eol;
    }
    free(buf);
    if (rc == MP_OK && n == 0) rc = mp_err(MP_ERR_INVALID, "--csr-bundle %s: no PEM requests", path);
    return rc;
}

int mp_issue_csr_batch(mp_issue *is, const char *dir, const char *bundle, FILE *report, uint64_t *queued,
                       size_t *refused, size_t *done)
{
    batch b = {.is = is, .report = report, .first_rc = MP_OK};
    int rc = mp_udid_seen_new(&b.seen);
    if (rc == MP_OK) rc = dir != NULL ? scan_dir(&b, dir) : scan_bundle(&b, bundle);
    uint64_t left = is->order.quota - is->order.issued;
    if (rc == MP_OK && b.n > left) {
        rc = mp_err(MP_ERR_QUOTA, "order %lld has %llu DAC(s) left of its quota of %llu; %zu good requests",
                    (long long)is->order.id, (unsigned long long)left, (unsigned long long)is->order.quota, b.n);
    }
    if (rc == MP_OK && b.n > 0) rc = mp_issue_run(is, b.n, b.udids, b.n);
    *queued = b.n;
    *refused = b.refused;
    *done = b.done;
    for (size_t i = 0; i < b.n; i++) {
        free(b.udids[i]);
    }
    free(b.udids);
    mp_udid_seen_free(b.seen);
    /* the good ones are issued; the run's status is the first refusal's code */
    if (rc == MP_OK && b.first_rc != MP_OK) {
        rc = mp_err(b.first_rc, "%zu request(s) refused (one line each above); the good ones were issued", b.refused);
    }
    return rc;
}
