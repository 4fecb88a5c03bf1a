/* issue.c - the DAC batch engine's run (see issue.h): chunks of devices are
 * signed by J worker threads (one PKCS#11 session each) while the main thread
 * records the previous chunk in the ledger and a writer thread writes the
 * files of the one before; its written marks ride on the next transaction.
 * With a worker per CPU (or more) the main thread is worker 0: it signs the
 * rest of the chunk once the ledger's work for it is done (workers.h).
 * Opening the order and signing one device are in issue_order.c. */
#include "dac/issue.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "devsecret.h"
#include "util.h"
#include "workers.h"

#define CHUNK 2048

typedef struct item {
    mp_device dev;
    uint8_t serial[16];
    uint8_t sha256[32]; /* of the DER, once recorded */
    uint8_t der[MP_DAC_MAX_DER];
    size_t len;
    uint8_t scalar[32]; /* off-chip key, wiped after use */
    int rc;
    int lost; /* its lease was lost: nothing recorded, no file */
    char msg[256];
} item;

typedef struct chunk {
    item *items;
    size_t n;
    const mp_issue *is;
    mp_outdir *od; /* workers write off-chip keys here */
    int64_t batch; /* its ledger batch, once recorded */
    size_t keyed;  /* items handed to the workers (--generate-keys: they may have written keys) */
    int state; /* C_* below */
    int wrc;   /* the writer's result */
    char wmsg[512];
} chunk;

typedef struct worker {
    mp_dac_signer sign;
    EVP_PKEY_CTX *keygen;
} worker;

/* ---- workers --------------------------------------------------------------- */

static int gen_key(EVP_PKEY_CTX *kg, item *it)
{
    EVP_PKEY *k = NULL;
    BIGNUM *d = NULL;
    size_t n = 0;
    int ok = EVP_PKEY_keygen(kg, &k) == 1 &&
             EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, it->dev.point, 65, &n) == 1 &&
             n == 65 && EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1 &&
             BN_bn2binpad(d, it->scalar, 32) == 32;
    BN_clear_free(d);
    EVP_PKEY_free(k);
    if (!ok) {
        return mp_err_ssl(MP_ERR_GENERAL, "key generation failed");
    }
    uint8_t h[32];
    SHA256(it->dev.point, 65, h);
    mp_hex(h, 32, it->dev.udid, 1);
    it->dev.key_origin = MP_KEY_OFFCHIP;
    return MP_OK;
}

/* The item's off-chip key as devsecret.h takes it (the caller clears it). */
static void item_key(const item *it, mp_devkey *k)
{
    memcpy(k->scalar, it->scalar, 32);
    memcpy(k->point, it->dev.point, 65);
}

/* The off-chip key, staged (devsecret.h) before its DAC is committed (the
 * ledger never holds private keys: the file must be on disk first); the
 * writer puts it beside the DAC after the commit (--bundle: in the device's
 * line, and the staged file goes once the line is synced). A key whose DAC
 * never committed stays in the staging folder, where the next run's recovery
 * removes it. The key leaves memory here, or (keep: --bundle) when the
 * writer has put it in the line. */
static int write_key(mp_outdir *od, item *it, int keep)
{
    mp_devkey k;
    item_key(it, &k);
    int rc = mp_devsecret_put_key(od->fd, it->dev.udid, &k);
    MP_DEVSECRET_CLEAR(&k);
    if (!keep) mp_wipe(it->scalar, sizeof(it->scalar));
    return rc;
}

static void work(void *ctx, void *state, size_t i)
{
    chunk *c = ctx;
    worker *w = state;
    const mp_issue *is = c->is;
    item *it = &c->items[i];
    it->rc = MP_OK;
    if (is->generate_keys && (it->rc = gen_key(w->keygen, it)) != MP_OK) {
        snprintf(it->msg, sizeof(it->msg), "%s", mp_err_msg());
        return;
    }
    if ((it->rc = mp_issue_sign(is, &w->sign, it->dev.udid, it->dev.point, it->serial, it->der, &it->len)) != MP_OK ||
        (is->generate_keys && (it->rc = write_key(c->od, it, is->bundle != NULL)) != MP_OK)) {
        snprintf(it->msg, sizeof(it->msg), "%s: %s", it->dev.udid, mp_err_msg());
    }
}

static int init_workers(mp_issue *is, worker *ws)
{
    for (int j = 0; j < is->jobs; j++) {
        int rc = mp_ks_sess_open(is->ks, &is->pai.key, &ws[j].sign.sess);
        if (rc != MP_OK) {
            return rc;
        }
        if (is->generate_keys) {
            ws[j].keygen = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
            if (ws[j].keygen == NULL || EVP_PKEY_keygen_init(ws[j].keygen) != 1 ||
                EVP_PKEY_CTX_set_group_name(ws[j].keygen, "P-256") != 1) {
                return mp_err_ssl(MP_ERR_GENERAL, "cannot set up key generation");
            }
        }
    }
    return MP_OK;
}

static void free_workers(worker *ws, int jobs)
{
    for (int j = 0; j < jobs; j++) {
        mp_ks_sess_close(ws[j].sign.sess);
        EVP_PKEY_CTX_free(ws[j].keygen);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- recording a chunk ----------------------------------------------------- */

/* Chunk states. Only the writer thread moves a chunk from C_WRITING to
 * C_WRITTEN, under w->mu; everything else happens on the main thread. */
enum { C_FREE, C_SIGNING, C_RECORDING, C_WRITING, C_WRITTEN };

#define NBUF 5 /* signing, read ahead, recording and two in the writer's queue */

typedef struct writer {
    pthread_t th;
    int started, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    chunk *q[NBUF];
    size_t head, len;
    mp_outdir *od;    /* the output folder, shared with the main thread */
    mp_outdir *stage; /* its staging folder (off-chip keys before the commit) */
    mp_bundle *bundle; /* --bundle: the lines go here instead of files */
    const mp_issue *is;
    int failed;    /* first writer error (sticky): no new chunk is recorded after it */
    char fmsg[512];
} writer;

/* Mark every chunk the writer has finished (files written and synced) as
 * written, inside the caller's transaction; *marked gets them (their buffers
 * are free once it commits). A chunk whose files failed stays unwritten for
 * the re-run; its error (w->failed) stops the run at the next chunk. */
static int mark_finished(mp_issue *is, writer *w, chunk *bufs, int marked[NBUF])
{
    int done[NBUF] = {0};
    pthread_mutex_lock(&w->mu);
    for (int b = 0; b < NBUF; b++) {
        done[b] = bufs[b].state == C_WRITTEN;
    }
    pthread_mutex_unlock(&w->mu);
    for (int b = 0; b < NBUF; b++) {
        marked[b] = 0;
        if (!done[b]) continue;
        marked[b] = 1;
        if (bufs[b].wrc != MP_OK) {
            continue; /* its rows stay unwritten for the re-run; the error is w->failed */
        }
        /* exactly this chunk's batch: another run may share the order */
        int rc = mp_ledger_batch_written(is->ledger, bufs[b].batch);
        if (rc != MP_OK) return rc;
    }
    return MP_OK;
}

static void free_marked(chunk *bufs, const int marked[NBUF])
{
    for (int b = 0; b < NBUF; b++) {
        if (marked[b]) {
            bufs[b].state = C_FREE;
            bufs[b].n = 0;
        }
    }
}

/* Drop the items whose lease was lost (nothing of them was recorded):
 * their DACs are never written or published. */
static size_t compact(chunk *c)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->items[i].lost) {
            mp_wipe(&c->items[i], sizeof(item));
            continue;
        }
        if (k != i) c->items[k] = c->items[i];
        k++;
    }
    size_t lost = c->n - k;
    c->n = k;
    return lost;
}

/* A device's output name (its UDID or its DAC serial). */
static const char *out_name(const mp_issue *is, const char *udid, const char *serial)
{
    return is->name_by == MP_NAME_BY_SERIAL ? serial : udid;
}

/* What the ledger records as the certificate's path: "" for UDID.der in the
 * batch's folder (the compact default), the file's absolute path for other
 * layouts and names, or BUNDLE#UDID for a line of a bundle. */
static int out_path(const mp_issue *is, const char *udid, const char *serial, char *out, size_t cap)
{
    char rel[300];
    int rc = MP_OK;
    out[0] = 0;
    if (is->bundle != NULL) {
        snprintf(out, cap, "%s#%s", is->bundle, udid);
    } else if (is->layout != MP_LAYOUT_FLAT || is->name_by != MP_NAME_BY_UDID) {
        if ((rc = mp_out_relpath(is->layout, out_name(is, udid, serial), ".der", rel, sizeof(rel))) == MP_OK) {
            snprintf(out, cap, "%s/%s", is->out_dir, rel);
        }
    }
    return rc;
}

/* The chunk's certificates, in one call (on PostgreSQL one statement): a
 * device whose lease was lost is marked and skipped; *kept counts the rest. */
static int add_certs(mp_issue *is, chunk *c, size_t *kept)
{
    mp_cert_rec *recs = calloc(c->n, sizeof(*recs));
    char **paths = calloc(c->n, sizeof(char *));
    uint8_t *lost = calloc(c->n, 1);
    int rc = MP_OK;
    *kept = 0;
    if (recs == NULL || paths == NULL || lost == NULL) {
        rc = mp_err(MP_ERR_GENERAL, "out of memory");
    }
    for (size_t i = 0; rc == MP_OK && i < c->n; i++) {
        item *it = &c->items[i];
        mp_cert_rec *r = &recs[i];
        char path[4400];
        r->batch = c->batch;
        r->order_id = is->order.id;
        r->der = it->der;
        r->der_len = it->len;
        r->lease = is->generate_keys ? NULL : is->lease;
        snprintf(r->udid, sizeof(r->udid), "%s", it->dev.udid);
        mp_serial_hex(it->serial, r->serial);
        if ((rc = out_path(is, it->dev.udid, r->serial, path, sizeof(path))) != MP_OK) break;
        if (path[0] && (paths[i] = strdup(path)) == NULL) rc = mp_err(MP_ERR_GENERAL, "out of memory");
        r->path = paths[i];
        mp_sha256(it->der, it->len, it->sha256);
        mp_hex(it->sha256, 32, r->sha256, 0);
        r->serial_bin = mp_serial_octets(it->serial, &r->serial_bin_len);
        r->sha256_bin = it->sha256;
        it->lost = 0;
        if (rc == MP_OK && is->generate_keys) {
            it->dev.list_id = is->gen_list_id;
            rc = mp_ledger_add_device(is->ledger, &it->dev);
        }
    }
    if (rc == MP_OK) {
        rc = mp_ledger_add_counted_many(is->ledger, recs, c->n, lost);
    }
    for (size_t i = 0; rc == MP_OK && i < c->n; i++) {
        /* another run may hold a lost device now: nothing recorded for it */
        c->items[i].lost = lost[i];
        *kept += !lost[i];
    }
    for (size_t i = 0; paths != NULL && i < c->n; i++) free(paths[i]);
    free(paths);
    free(recs);
    free(lost);
    return rc;
}

/* One transaction: the written marks of finished chunks, then (c != NULL)
 * this chunk's certificates (a device whose lease was lost is skipped), its
 * audit row, and the station's and the order's quota as the last statements
 * (conditional updates: the order row is locked only for the commit). */
static int record(mp_issue *is, writer *w, chunk *bufs, chunk *c)
{
    int marked[NBUF];
    size_t kept = 0;
    if (c != NULL) {
        pthread_mutex_lock(&w->mu);
        int failed = w->failed;
        pthread_mutex_unlock(&w->mu);
        if (failed) {
            return mp_err(failed, "%s", w->fmsg); /* fmsg is final once failed is set */
        }
    }
    int rc = mp_ledger_begin(is->ledger);
    if (rc == MP_OK) {
        rc = mark_finished(is, w, bufs, marked);
    }
    if (rc == MP_OK && c != NULL && c->n > 0) {
        mp_dac_batch b = {.order_id = is->order.id, .pai_skid = is->order.pai_skid,
                          .not_before = is->tmpl.not_before, .not_after = is->tmpl.not_after,
                          .dir = is->out_dir, .station = is->station};
        if ((rc = mp_ledger_add_batch(is->ledger, &b)) == MP_OK) {
            c->batch = b.id;
        }
    }
    if (c != NULL && rc == MP_OK && c->n > 0) {
        rc = add_certs(is, c, &kept);
    }
    if (rc == MP_OK && c != NULL && c->n > 0) {
        char objects[128], detail[512];
        size_t first = 0, last = c->n;
        while (first < c->n && c->items[first].lost) first++;
        while (last > first && c->items[last - 1].lost) last--;
        snprintf(objects, sizeof(objects), "order=%lld batch=%lld", (long long)is->order.id, (long long)c->batch);
        snprintf(detail, sizeof(detail), "{\"count\":%zu,\"lost_lease\":%zu,\"dir\":\"%s\",\"first\":\"%s\",\"last\":\"%s\"}",
                 kept, c->n - kept, is->out_dir, kept ? c->items[first].dev.udid : "", kept ? c->items[last - 1].dev.udid : "");
        for (char *p = detail; *p; p++) {
            if (*p == '\\') *p = '/';
        }
        if (is->run.id != 0 && kept > 0) {
            rc = mp_ledger_run_count(is->ledger, is->run.id, kept);
        }
        /* the station's rows first, then the two rows every station
         * shares: the audit head and the order's quota (last), so that their
         * locks are held for the fewest round trips */
        if (rc == MP_OK && kept > 0) rc = mp_ledger_count_station(is->ledger, is->order.id, is->station, kept);
        if (rc == MP_OK) rc = mp_ledger_audit(is->ledger, is->station, "dac.issue", objects, detail);
        if (rc == MP_OK && kept > 0) rc = mp_ledger_take_quota(is->ledger, is->order.id, kept);
    }
    if (rc == MP_OK) {
        rc = mp_ledger_commit(is->ledger);
    }
    mp_ledger_rollback(is->ledger);
    if (rc == MP_OK) {
        free_marked(bufs, marked);
        if (c != NULL) {
            size_t lost = compact(c);
            is->lost += lost;
            if (lost > 0 && !is->quiet) {
                fprintf(stderr, "matter-pki dac issue: %zu device(s) of this chunk lost their reservation (--lease %ld s)"
                        " before the commit: nothing recorded for them; they return to the pool\n", lost, is->lease_secs);
            }
        }
    }
    return rc;
}

/* A committed device's off-chip key, from the staging folder to its place
 * beside the DAC (never over an existing file). */
static int move_key(writer *w, const char *udid, const char *dac_rel)
{
    char rel[300];
    int rc = mp_devsecret_key_path(dac_rel, rel, sizeof(rel));
    return rc != MP_OK ? rc : mp_devsecret_place_key(w->stage->fd, w->od->fd, w->od->path, udid, rel);
}

/* A committed device's line of the bundle; with --generate-keys it holds the
 * private key (PKCS#8), which leaves memory here. */
static int bundle_line(writer *w, item *it, const char *serial)
{
    char key[MP_DEVSECRET_MEMBER_MAX] = "";
    int rc = MP_OK;
    if (w->is->generate_keys) {
        mp_devkey k;
        item_key(it, &k);
        rc = mp_devsecret_bundle_member(&k, key, sizeof(key));
        MP_DEVSECRET_CLEAR(&k);
        mp_wipe(it->scalar, sizeof(it->scalar));
    }
    /* the digest the ledger recorded for it (add_certs) */
    if (rc == MP_OK) rc = mp_bundle_add(w->bundle, it->dev.udid, serial, it->der, it->len, it->sha256, key);
    mp_wipe(key, sizeof(key));
    return rc;
}

/* --generate-keys --bundle: the chunk's lines (with the keys) are synced, so
 * the staged key files go; one a later unlink misses is removed by the next
 * run's sweep, which finds its device's line in the bundle. */
static void unstage_keys(writer *w, chunk *c)
{
    for (size_t i = 0; w->is->generate_keys && i < c->n; i++) {
        (void)mp_devsecret_drop_staged(w->stage->fd, c->items[i].dev.udid);
    }
}

/* Writer thread: a committed chunk's files (or bundle lines), then one
 * sync; the main thread marks them written afterwards. */
static int write_files(writer *w, chunk *c)
{
    const mp_issue *is = w->is;
    char rel[300], serial[41];
    int rc = MP_OK;
    for (size_t i = 0; rc == MP_OK && i < c->n; i++) {
        item *it = &c->items[i];
        mp_serial_hex(it->serial, serial);
        const char *name = out_name(is, it->dev.udid, serial);
        if (w->bundle != NULL) {
            rc = bundle_line(w, it, serial);
            continue;
        }
        if ((rc = mp_out_relpath(is->layout, name, ".der", rel, sizeof(rel))) != MP_OK ||
            (is->generate_keys && (rc = move_key(w, it->dev.udid, rel)) != MP_OK)) {
            break;
        }
        rc = mp_out_write(w->od, rel, it->der, it->len, 0644);
    }
    if (w->bundle != NULL) {
        if (rc == MP_OK && (rc = mp_bundle_flush(w->bundle)) == MP_OK) unstage_keys(w, c);
        return rc;
    }
    return rc == MP_OK ? mp_outdir_sync(w->od) : rc;
}

static void *writer_main(void *arg)
{
    writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->len == 0 && !w->stop) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        if (w->len == 0) {
            break;
        }
        chunk *c = w->q[w->head];
        w->head = (w->head + 1) % NBUF;
        w->len--;
        pthread_mutex_unlock(&w->mu);
        c->wrc = write_files(w, c);
        if (c->wrc == MP_OK) mp_fault_point("dac-issue-written"); /* synced, not yet marked written */
        if (c->wrc != MP_OK) {
            snprintf(c->wmsg, sizeof(c->wmsg), "%s", mp_err_msg());
        }
        pthread_mutex_lock(&w->mu);
        c->state = C_WRITTEN;
        if (c->wrc != MP_OK && !w->failed) {
            snprintf(w->fmsg, sizeof(w->fmsg), "%s", c->wmsg);
            w->failed = c->wrc;
        }
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void writer_push(writer *w, chunk *c)
{
    pthread_mutex_lock(&w->mu);
    c->state = C_WRITING;
    w->q[(w->head + w->len) % NBUF] = c;
    w->len++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Wait until the writer has finished every chunk handed to it. */
static void writer_drain(writer *w, chunk *bufs)
{
    pthread_mutex_lock(&w->mu);
    for (;;) {
        int busy = 0;
        for (int b = 0; b < NBUF; b++) busy |= bufs[b].state == C_WRITING;
        if (!busy) break;
        pthread_cond_wait(&w->cv, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
}

/* A free chunk buffer for the next signing round; marks finished chunks
 * written (own transaction) or waits for the writer when all are taken. */
static int acquire(mp_issue *is, writer *w, chunk *bufs, chunk **out)
{
    for (;;) {
        int finished = 0;
        pthread_mutex_lock(&w->mu);
        for (int b = 0; b < NBUF; b++) {
            if (bufs[b].state == C_FREE) {
                bufs[b].state = C_SIGNING;
                pthread_mutex_unlock(&w->mu);
                *out = &bufs[b];
                return MP_OK;
            }
            finished |= bufs[b].state == C_WRITTEN;
        }
        if (!finished) {
            double t = now_s();
            pthread_cond_wait(&w->cv, &w->mu);
            is->write_wait_ms += (now_s() - t) * 1e3;
        }
        pthread_mutex_unlock(&w->mu);
        if (finished) {
            int rc = record(is, w, bufs, NULL);
            if (rc != MP_OK) return rc;
        }
    }
}

static int store_chunk(mp_issue *is, writer *w, chunk *bufs, chunk *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->items[i].rc != MP_OK) {
            return mp_err(c->items[i].rc, "%s", c->items[i].msg);
        }
    }
    int rc;
    c->state = C_RECORDING;
    /* the workers wrote the chunk's keys: on disk before the commit */
    if (is->generate_keys && (rc = mp_outdir_sync(w->od)) != MP_OK) {
        return rc;
    }
    mp_fault_point("dac-issue-record");
    if ((rc = record(is, w, bufs, c)) != MP_OK) {
        return rc;
    }
    mp_fault_point("dac-issue-commit"); /* committed, its files or lines not yet written */
    is->issued += c->n;
    writer_push(w, c);
    return is->on_commit != NULL ? is->on_commit(is->on_commit_ctx) : MP_OK;
}

/* ---- selecting devices ----------------------------------------------------- */

typedef struct feed {
    mp_issue *is;
    uint64_t left;
    char after[MP_UDID_MAX + 1];
    char **udids;
    size_t n_udids, next_udid;
    time_t expires; /* the earliest lease expiry of this run's reservations (0: none yet) */
} feed;

static int fill(feed *f, chunk *c)
{
    mp_issue *is = f->is;
    size_t block = is->block > 0 && is->block < CHUNK ? is->block : CHUNK;
    size_t want = f->left < block ? (size_t)f->left : block;
    time_t until = time(NULL) + is->lease_secs;
    c->n = 0;
    if (want == 0 || mp_interrupted()) {
        return MP_OK;
    }
    if (is->generate_keys) {
        memset(c->items, 0, want * sizeof(item));
        c->n = want;
    } else if (f->udids != NULL) {
        for (; c->n < want && f->next_udid < f->n_udids; f->next_udid++) {
            int got = 0;
            const char *u = f->udids[f->next_udid];
            int rc = mp_ledger_reserve_udid(is->ledger, is->order.id, is->lease, until, u, &c->items[c->n].dev, &got);
            if (rc != MP_OK) return rc;
            if (!got) {
                return mp_err(MP_ERR_UNAUTHORIZED, "--udid %s: it has a DAC now or another run holds it", u);
            }
            c->n++;
        }
    } else {
        mp_device devs[CHUNK];
        int rc = MP_OK;
        /* this run's earlier reservations stay ours while it signs: renewed
         * once half the lease has passed (not every chunk: a renewal rewrites
         * every reserved row) */
        if (f->expires != 0 && time(NULL) + (is->lease_secs + 1) / 2 >= f->expires) {
            if ((rc = mp_ledger_renew(is->ledger, is->lease, until)) == MP_OK) f->expires = until;
        }
        if (rc == MP_OK) rc = mp_ledger_reserve(is->ledger, is->order.id, is->station, is->lease, until, want, devs, &c->n);
        if (rc != MP_OK) return rc;
        if (f->expires == 0 && c->n > 0) f->expires = until;
        for (size_t i = 0; i < c->n; i++) {
            c->items[i].dev = devs[i];
        }
    }
    f->left -= c->n;
    return MP_OK;
}

static int start(mp_workers *team, chunk *c)
{
    c->keyed = c->n;
    return mp_workers_start(team, c, c->n);
}

/* --generate-keys: keys are written under their final names before their
 * chunk commits. A chunk that never committed (a failed transaction, a quota
 * or closed order met part-way, an error or Ctrl-C while it was signed) must
 * not leave its keys behind: remove every key of such a chunk whose UDID the
 * ledger does not hold (a COMMIT that failed may still have committed). The
 * next run's sweep does the same after a kill. */
static int drop_uncommitted_keys(mp_issue *is, mp_outdir *od, chunk *bufs)
{
    uint64_t removed = 0;
    int rc = MP_OK;
    for (int b = 0; rc == MP_OK && b < NBUF; b++) {
        chunk *c = &bufs[b];
        if (c->state != C_SIGNING && c->state != C_RECORDING) continue;
        for (size_t i = 0; rc == MP_OK && i < c->keyed; i++) {
            char sha[65];
            int found = 1;
            const char *udid = c->items[i].dev.udid;
            if (udid[0] == 0 || (rc = mp_ledger_cert_for_udid(is->ledger, udid, sha, &found)) != MP_OK || found) {
                continue;
            }
            removed += (uint64_t)mp_devsecret_drop_staged(od->fd, udid);
        }
        c->keyed = 0;
    }
    if (removed > 0) {
        fprintf(stderr, "matter-pki dac issue: removed %llu key file(s) of devices whose DAC was not recorded\n",
                (unsigned long long)removed);
        if (rc == MP_OK) rc = mp_outdir_sync(od);
    }
    return rc;
}

/* ---- progress ---------------------------------------------------------------- */


static void progress(const mp_issue *is, uint64_t total, double t0, int final)
{
    static double last;
    double t = now_s();
    if (is->quiet || !isatty(2) || (!final && t - last < 0.2)) {
        return;
    }
    last = t;
    double rate = (double)is->issued / (t - t0 > 1e-6 ? t - t0 : 1e-6);
    double eta = rate > 0 ? (double)(total - is->issued) / rate : 0;
    int bar = total ? (int)(30.0 * (double)is->issued / (double)total) : 30;
    fprintf(stderr, "\r[%.*s%*s] %llu/%llu %5.1f%% %8.0f/s ETA %d:%02d ", bar, "==============================",
            30 - bar, "", (unsigned long long)is->issued, (unsigned long long)total,
            total ? 100.0 * (double)is->issued / (double)total : 100.0, rate, (int)eta / 60, (int)eta % 60);
    if (final) fputc('\n', stderr);
}

/* MATTER_PKI_LEDGER_STATS: where the ledger's thread waited (make
 * bench-stations tells from it which stage binds a station). */
static void write_stats(const mp_issue *is)
{
    const char *path = getenv("MATTER_PKI_LEDGER_STATS");
    FILE *f = path != NULL && *path ? fopen(path, "a") : NULL;
    if (f == NULL) return;
    struct timespec cpu = {0};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu); /* this (the ledger's) thread, from the start of the process */
    fprintf(f, "{\"pid\":%ld,\"kind\":\"issue\",\"jobs\":%d,\"issued\":%llu,\"run_ms\":%.1f,\"sign_wait_ms\":%.1f,\"write_wait_ms\":%.1f,\"sign_self_ms\":%.1f,"
            "\"main_cpu_ms\":%.1f}\n",
            (long)getpid(), is->jobs, (unsigned long long)is->issued, is->run_ms, is->sign_wait_ms, is->write_wait_ms, is->sign_self_ms,
            (double)cpu.tv_sec * 1e3 + (double)cpu.tv_nsec / 1e6);
    fclose(f);
}

/* The chunks through the three stages until the run's target, the quota or
 * an interruption; the caller ends the writer and records its last marks. */
static int pipeline(mp_issue *is, mp_workers *team, writer *w, chunk *bufs, feed *f, uint64_t count, uint64_t lost0)
{
    chunk *sig = NULL;
    int rc;
    double t0 = now_s();
    chunk *nxt = NULL;
    if ((rc = acquire(is, w, bufs, &sig)) != MP_OK || (rc = fill(f, sig)) != MP_OK) return rc;
    if (sig->n > 0 && (rc = start(team, sig)) != MP_OK) return rc;
    /* Three stages overlap: workers sign chunk k+1 while this thread records
     * chunk k in the ledger and the writer thread writes chunk k-1's files.
     * The next chunk is read from the ledger while the workers sign, so they
     * start it the moment they are done. */
    if (sig->n > 0 && ((rc = acquire(is, w, bufs, &nxt)) != MP_OK || (rc = fill(f, nxt)) != MP_OK)) return rc;
    while (sig->n > 0) {
        double tj = now_s();
        mp_workers_help(team); /* this thread's ledger work is done: it signs the rest (when it is worker 0) */
        is->sign_self_ms += (now_s() - tj) * 1e3;
        tj = now_s();
        mp_workers_join(team);
        is->sign_wait_ms += (now_s() - tj) * 1e3;
        chunk *done = sig;
        sig = nxt;
        nxt = NULL;
        if (sig->n > 0 && !mp_interrupted() && (rc = start(team, sig)) != MP_OK) break;
        if (!team->running) {
            sig->n = 0;
        }
        rc = store_chunk(is, w, bufs, done);
        progress(is, count, t0, 0);
        if (rc == MP_ERR_QUOTA && is->all_mode) {
            /* another run took the order's last quota between this chunk's
             * reservation and its commit: nothing of it was recorded; its
             * devices go back at the end and the caller looks again */
            is->quota_race = 1;
            rc = MP_OK;
            break;
        }
        if (rc != MP_OK) {
            break;
        }
        if (sig->n > 0 && ((rc = acquire(is, w, bufs, &nxt)) != MP_OK || (rc = fill(f, nxt)) != MP_OK)) break;
    }
    mp_workers_join(team);
    progress(is, count, t0, 1);
    is->run_ms += (now_s() - t0) * 1e3;
    /* every device up to the quota: devices of the last chunks whose lease
     * was lost went back to the pool after the next chunk found no room
     * (they were still reserved then); look again, or the run ended with the
     * order short and exit 0 */
    if (rc == MP_OK && is->all_mode && is->lost > lost0) {
        is->quota_race = 1;
    }
    write_stats(is);
    return rc;
}

/* The writer finishes what it holds and stops; the last written marks are
 * recorded, also after an error (a re-run then has less to redo). */
static int writer_end(mp_issue *is, writer *w, chunk *bufs, int rc)
{
    if (!w->started) return rc;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    writer_drain(w, bufs);
    pthread_join(w->th, NULL);
    if (rc == MP_OK) {
        rc = record(is, w, bufs, NULL);
        if (rc == MP_OK && w->failed) {
            rc = mp_err(w->failed, "%s", w->fmsg);
        }
    } else {
        mp_err_hold(); /* the failure stays the recorded error */
        (void)record(is, w, bufs, NULL);
        mp_err_release();
    }
    return rc;
}

/* After the writer ended: the unused reservations go back, uncommitted
 * off-chip keys go, and a run that stopped short says why (or asks the
 * caller to look again). */
static int settle(mp_issue *is, mp_outdir *stage, chunk *bufs, int rc, uint64_t count, char **udids, uint64_t lost0)
{
    if (!is->generate_keys) {
        /* the unused part of this run's block goes back to the pool (a run
         * killed instead leaves it to its lease's expiry) */
        if (rc != MP_OK) mp_err_hold(); /* after a failure, the failure stays the recorded error */
        int r = mp_ledger_release(is->ledger, is->lease);
        if (rc != MP_OK) mp_err_release();
        rc = rc != MP_OK ? rc : r;
    }
    if (is->generate_keys && stage->fd >= 0) {
        if (rc != MP_OK) mp_err_hold(); /* after a failure, the failure stays the recorded error */
        int r = drop_uncommitted_keys(is, stage, bufs);
        if (rc != MP_OK) mp_err_release();
        rc = rc != MP_OK ? rc : r;
    }
    if (rc == MP_OK && !is->all_mode && !mp_interrupted() && is->issued < count && !is->generate_keys) {
        /* --count N: devices that lost their lease went back to the pool
         * (nothing recorded for them) and the run stopped short; the caller
         * looks again while the order has room, as for the whole order */
        if (is->lost > lost0 && udids == NULL) {
            is->quota_race = 1;
        } else {
            rc = mp_issue_short(is, count);
        }
    }
    if (rc == MP_OK && mp_interrupted() && (is->all_mode || is->issued < count)) {
        rc = mp_err(MP_ERR_INTERRUPTED, "interrupted after %llu DACs; run the same command again to finish",
                    (unsigned long long)is->issued);
    }
    return rc;
}

int mp_issue_run(mp_issue *is, uint64_t count, char **udids, size_t n_udids)
{
    worker ws[MP_MAX_JOBS];
    void *states[MP_MAX_JOBS];
    mp_workers team;
    chunk bufs[NBUF];
    mp_outdir od = {.fd = -1}, stage = {.fd = -1};
    mp_bundle bundle = {.fd = -1};
    writer w = {.od = &od, .stage = &stage, .is = is};
    /* count is the run's whole target: a second look (see the end) asks
     * only for what the first left */
    feed f = {.is = is, .left = is->all_mode ? UINT64_MAX : count - (is->issued < count ? is->issued : count),
              .udids = udids, .n_udids = n_udids};
    uint64_t lost0 = is->lost;
    int rc;
    memset(ws, 0, sizeof(ws));
    memset(bufs, 0, sizeof(bufs));
    for (int j = 0; j < MP_MAX_JOBS; j++) {
        states[j] = &ws[j];
    }
    mp_workers_init(&team, is->jobs, states, work);
    (void)mp_workers_caller_helps(&team); /* with a thread per CPU, this thread signs too (workers.h) */
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    for (int b = 0; b < NBUF; b++) {
        bufs[b].is = is;
        bufs[b].od = &stage; /* off-chip keys are staged until their DAC commits */
        if ((bufs[b].items = calloc(CHUNK, sizeof(item))) == NULL) {
            rc = mp_err(MP_ERR_GENERAL, "out of memory");
            goto end;
        }
    }
    if ((rc = mp_outdir_open(&od, is->out_dir)) != MP_OK || (rc = mp_issue_staging_open(is->out_dir, &stage)) != MP_OK ||
        (is->bundle != NULL && (rc = mp_bundle_open(&bundle, is->bundle, is->generate_keys ? 0600 : 0644)) != MP_OK) ||
        (rc = init_workers(is, ws)) != MP_OK) {
        goto end;
    }
    od.tmp_fd = stage.fd; /* temporary names only in the staging folder */
    w.bundle = is->bundle != NULL ? &bundle : NULL;
    if (pthread_create(&w.th, NULL, writer_main, &w) != 0) {
        rc = mp_err(MP_ERR_GENERAL, "cannot start the file writer thread");
        goto end;
    }
    w.started = 1;
    rc = pipeline(is, &team, &w, bufs, &f, count, lost0);
end:
    rc = writer_end(is, &w, bufs, rc);
    rc = settle(is, &stage, bufs, rc, count, udids, lost0);
    mp_workers_free(&team);
    free_workers(ws, is->jobs);
    for (int b = 0; b < NBUF; b++) {
        if (bufs[b].items != NULL) mp_wipe(bufs[b].items, CHUNK * sizeof(item));
        free(bufs[b].items);
    }
    mp_outdir_close(&od);
    mp_outdir_close(&stage);
    mp_bundle_close(&bundle);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}
