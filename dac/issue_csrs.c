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

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "chips/chips.h"
#include "dac/issue.h"
#include "util.h"
#include "workers.h"

#define MAX_CSR_FILE (1 << 16)
#define MAX_BUNDLE ((size_t)1 << 30)

typedef struct batch {
    mp_issue *is;
    FILE *report;
    char **udids;        /* the devices to issue */
    size_t n, cap;
    mp_udid_seen *seen;  /* every device met, and its request (duplicates) */
    struct item *items;  /* a chunk */
    mp_workers *team;
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

/* ---- the fast path: a P-256 / ecdsa-with-SHA256 request read in place ------
 * d2i_X509_REQ decodes the key through OpenSSL's provider decoders (0.6 ms a
 * request, twice the signature check); the requests devices make all have
 * the same shape, so their fields are found directly and only the signature
 * is checked by OpenSSL. Anything else goes the general way below. */

static const uint8_t spki_p256[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01,
                                    0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};
static const uint8_t alg_es256[] = {0x30, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02};

/* One DER TLV at *p (before end): tag, start of its contents, their length. */
static int tlv(const uint8_t **p, const uint8_t *end, int tag, const uint8_t **val, size_t *len)
{
    const uint8_t *q = *p;
    size_t n;
    if (end - q < 2 || q[0] != tag) return -1;
    n = q[1];
    q += 2;
    if (n & 0x80) {
        int k = n & 0x7F;
        if (k < 1 || k > 3 || end - q < k) return -1;
        for (n = 0; k > 0; k--) n = n << 8 | *q++;
    }
    if ((size_t)(end - q) < n) return -1;
    *val = q;
    *len = n;
    *p = q + n;
    return 0;
}

typedef struct fast_req {
    const uint8_t *tbs, *sig;
    size_t tbs_len, sig_len;
    uint8_t point[65];
} fast_req;

static int fast_parse(const uint8_t *der, size_t len, fast_req *f)
{
    const uint8_t *p = der, *end = der + len, *outer, *cri, *v, *q;
    size_t ol, cl, vl;
    if (tlv(&p, end, 0x30, &outer, &ol) != 0 || p != end) return -1;
    p = outer;
    end = outer + ol;
    f->tbs = p;
    if (tlv(&p, end, 0x30, &cri, &cl) != 0) return -1;
    f->tbs_len = (size_t)(p - f->tbs);
    q = cri;
    if (tlv(&q, cri + cl, 0x02, &v, &vl) != 0 || vl != 1 || v[0] != 0 || tlv(&q, cri + cl, 0x30, &v, &vl) != 0) return -1;
    if ((size_t)(cri + cl - q) < sizeof(spki_p256) + 64 || memcmp(q, spki_p256, sizeof(spki_p256)) != 0) return -1;
    memcpy(f->point, q + sizeof(spki_p256) - 1, 65);
    q += sizeof(spki_p256) + 64;
    if (q != cri + cl && (tlv(&q, cri + cl, 0xA0, &v, &vl) != 0 || q != cri + cl)) return -1; /* [0] attributes */
    if ((size_t)(end - p) < sizeof(alg_es256) || memcmp(p, alg_es256, sizeof(alg_es256)) != 0) return -1;
    p += sizeof(alg_es256);
    if (tlv(&p, end, 0x03, &v, &vl) != 0 || p != end || vl < 2 || v[0] != 0) return -1;
    f->sig = v + 1;
    f->sig_len = vl - 1;
    return 0;
}

typedef struct verifier {
    EVP_PKEY_CTX *fromdata;
    EVP_MD_CTX *md;
} verifier;

static int fast_verify(verifier *vf, const fast_req *f)
{
    OSSL_PARAM ps[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)f->point, 65),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY *k = NULL;
    int ok = EVP_PKEY_fromdata_init(vf->fromdata) == 1 && EVP_PKEY_fromdata(vf->fromdata, &k, EVP_PKEY_PUBLIC_KEY, ps) == 1 &&
             EVP_MD_CTX_reset(vf->md) == 1 && EVP_DigestVerifyInit_ex(vf->md, NULL, "SHA256", NULL, NULL, k, NULL) == 1 &&
             EVP_DigestVerify(vf->md, f->sig, f->sig_len, f->tbs, f->tbs_len) == 1;
    EVP_PKEY_free(k);
    ERR_clear_error();
    return ok;
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
static int one(batch *b, const char *where, int rc, const uint8_t point[static 65])
{
    mp_device d;
    int found = 0;
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

/* DER of a PEM request block, or the bytes themselves; NULL when neither. */
static uint8_t *req_der(const uint8_t *buf, size_t len, size_t *dlen)
{
    if (len > 0 && buf[0] == 0x30) {
        uint8_t *d = malloc(len);
        if (d != NULL) memcpy(d, buf, len);
        *dlen = len;
        return d;
    }
    BIO *bio = BIO_new_mem_buf(buf, (int)len);
    char *name = NULL, *hdr = NULL;
    uint8_t *data = NULL;
    long n = 0;
    if (bio == NULL || PEM_read_bio(bio, &name, &hdr, &data, &n) != 1 ||
        (strcmp(name, "CERTIFICATE REQUEST") != 0 && strcmp(name, "NEW CERTIFICATE REQUEST") != 0)) {
        OPENSSL_free(data);
        data = NULL;
    }
    OPENSSL_free(name);
    OPENSSL_free(hdr);
    BIO_free(bio);
    ERR_clear_error();
    uint8_t *d = data ? malloc((size_t)n) : NULL;
    if (d != NULL) memcpy(d, data, (size_t)n);
    OPENSSL_free(data);
    *dlen = (size_t)n;
    return d;
}

/* Check one request's bytes (any thread): the fast path for the common
 * shape, OpenSSL's general parser for everything else (and for its precise
 * messages). */
static int verify_bytes(verifier *vf, const uint8_t *buf, size_t len, uint8_t point[static 65])
{
    size_t dlen = 0;
    fast_req f;
    uint8_t *der = req_der(buf, len, &dlen);
    int rc;
    if (der != NULL && fast_parse(der, dlen, &f) == 0) {
        memcpy(point, f.point, 65);
        rc = fast_verify(vf, &f) ? MP_OK
             : mp_err(MP_ERR_VERIFY, "the request's signature does not verify (no proof of possession)");
    } else {
        X509_REQ *r = req_from_mem(buf, len);
        rc = r == NULL ? mp_err(MP_ERR_INVALID, "not a PKCS#10 request (PEM or DER)") : check_req(r, point);
        X509_REQ_free(r);
    }
    free(der);
    return rc;
}

/* ---- chunks: requests verified by --jobs threads, then looked up in order ---- */

#define CHUNK 1024

typedef struct item {
    char where[4200];
    uint8_t *buf;
    size_t len;
    int rc;
    char msg[512];
    uint8_t point[65];
} item;

static void work(void *ctx, void *state, size_t i)
{
    item *it = (item *)ctx + i;
    it->rc = verify_bytes(state, it->buf, it->len, it->point);
    if (it->rc != MP_OK) snprintf(it->msg, sizeof(it->msg), "%s", mp_err_msg());
}

/* Verify the chunk's n requests in parallel, then take them in order. */
static int flush(batch *b, size_t *n)
{
    int rc = *n > 0 ? mp_workers_start(b->team, b->items, *n) : MP_OK;
    if (rc != MP_OK) return rc;
    mp_workers_join(b->team);
    for (size_t i = 0; i < *n; i++) {
        item *it = &b->items[i];
        if (rc == MP_OK) {
            if (it->rc != MP_OK) mp_err(it->rc, "%s", it->msg);
            rc = one(b, it->where, it->rc, it->point);
        }
        free(it->buf);
        it->buf = NULL;
    }
    *n = 0;
    return rc;
}

/* Queue a request (buf is taken over); a full chunk is flushed. */
static int queue(batch *b, size_t *n, const char *where, uint8_t *buf, size_t len)
{
    item *it = &b->items[*n];
    snprintf(it->where, sizeof(it->where), "%s", where);
    it->buf = buf;
    it->len = len;
    it->rc = MP_OK;
    return ++*n == CHUNK ? flush(b, n) : MP_OK;
}

static int visible(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

static int scan_dir(batch *b, const char *dir)
{
    struct dirent **names = NULL;
    int k = scandir(dir, &names, visible, alphasort), rc = MP_OK;
    size_t n = 0;
    if (k < 0) return mp_err(MP_ERR_IO, "--csr-dir %s: cannot read the folder", dir);
    for (int i = 0; i < k; i++) {
        char path[4200];
        uint8_t *buf = NULL;
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (rc == MP_OK) {
            if (mp_read_file(path, MAX_CSR_FILE, &buf, &len) != MP_OK) {
                rc = flush(b, &n); /* keep the report in file order */
                refuse(b, path, MP_ERR_IO);
            } else {
                rc = queue(b, &n, path, buf, len);
            }
        }
        free(names[i]);
    }
    free(names);
    if (rc == MP_OK) rc = flush(b, &n);
    if (rc == MP_OK && k == 0) rc = mp_err(MP_ERR_INVALID, "--csr-dir %s: no requests", dir);
    return rc;
}

/* Each -----BEGIN ...----- ... -----END ...----- block on its own, so that a
 * damaged block is refused alone. */
static int scan_bundle(batch *b, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0, n = 0, q = 0;
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
            if ((rc = flush(b, &q)) != MP_OK) break;
            mp_err(MP_ERR_INVALID, "a PEM block without its END line");
            refuse(b, where, MP_ERR_INVALID);
            break;
        }
        eol += 5;
        uint8_t *copy = malloc((size_t)(eol - beg));
        if (copy == NULL) {
            rc = mp_err(MP_ERR_GENERAL, "out of memory");
            break;
        }
        memcpy(copy, beg, (size_t)(eol - beg));
        rc = queue(b, &q, where, copy, (size_t)(eol - beg));
        p = eol;
    }
    if (rc == MP_OK) rc = flush(b, &q);
    free(buf);
    if (rc == MP_OK && n == 0) rc = mp_err(MP_ERR_INVALID, "--csr-bundle %s: no PEM requests", path);
    return rc;
}

static int udid_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int mp_issue_csr_batch(mp_issue *is, const char *dir, const char *bundle, FILE *report, uint64_t *queued,
                       size_t *refused, size_t *done)
{
    verifier vf[MP_MAX_JOBS];
    void *states[MP_MAX_JOBS];
    mp_workers team;
    int jobs = is->jobs < 1 ? 1 : is->jobs > MP_MAX_JOBS ? MP_MAX_JOBS : is->jobs, ok = 1;
    for (int j = 0; j < jobs; j++) {
        vf[j].fromdata = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        vf[j].md = EVP_MD_CTX_new();
        ok &= vf[j].fromdata != NULL && vf[j].md != NULL;
        states[j] = &vf[j];
    }
    mp_workers_init(&team, jobs, states, work);
    batch b = {.is = is, .report = report, .first_rc = MP_OK, .team = &team, .items = calloc(CHUNK, sizeof(item))};
    int rc = ok && b.items != NULL ? mp_udid_seen_new(&b.seen) : mp_err(MP_ERR_GENERAL, "out of memory");
    if (rc == MP_OK) rc = dir != NULL ? scan_dir(&b, dir) : scan_bundle(&b, bundle);
    uint64_t left = is->order.quota - is->order.issued;
    if (rc == MP_OK && b.n > left) {
        rc = mp_err(MP_ERR_QUOTA, "order %lld has %llu DAC(s) left of its quota of %llu; %zu good requests",
                    (long long)is->order.id, (unsigned long long)left, (unsigned long long)is->order.quota, b.n);
    }
    mp_workers_free(&team); /* the batch engine has its own */
    for (int j = 0; j < jobs; j++) {
        EVP_PKEY_CTX_free(vf[j].fromdata);
        EVP_MD_CTX_free(vf[j].md);
    }
    free(b.items);
    /* in UDID order, as a chip-list batch walks them: the ledger's device and
     * certificate pages are then touched in order, not at random */
    if (rc == MP_OK && b.n > 0) qsort(b.udids, b.n, sizeof(char *), udid_cmp);
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
