/* issue.c - the DAC batch engine (see issue.h). Chunks of devices are signed
 * by J worker threads (one libp11 signing context each) while the main thread
 * records the previous chunk in the ledger and writes its files. */
#include "dac/issue.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "util.h"
#include "workers.h"

#define CHUNK 2048

typedef struct item {
    mp_device dev;
    char cn[65];
    uint8_t serial[16];
    uint8_t der[MP_DAC_MAX_DER];
    size_t len;
    uint8_t scalar[32]; /* off-chip key, wiped after use */
    int rc;
    char msg[256];
} item;

typedef struct chunk {
    item *items;
    size_t n;
    const mp_issue *is;
} chunk;

typedef struct worker {
    mp_dac_signer sign;
    EVP_PKEY_CTX *keygen;
} worker;

int mp_issue_prepare(mp_issue *is, mp_ledger *l, mp_ks *ks, int64_t order_id, int test_mode)
{
    char skid[41];
    int rc;
    is->ledger = l;
    is->ks = ks;
    if ((rc = mp_ledger_get_order(l, order_id, &is->order)) != MP_OK) {
        return rc;
    }
    if (is->order.closed) {
        return mp_err(MP_ERR_QUOTA, "production order %lld is closed", (long long)order_id);
    }
    if ((rc = mp_ca_open(ks, is->order.pai_cert, is->order.pai_key, MP_PAI, test_mode, &is->pai)) != MP_OK) {
        return mp_err_ctx(rc, "order %lld", (long long)order_id);
    }
    mp_hex(is->pai.skid, 20, skid, 1);
    if (strcmp(skid, is->order.pai_skid) != 0) {
        return mp_err(MP_ERR_MISMATCH, "%s is not the PAI order %lld was created with (SKID %s)", is->order.pai_cert,
                      (long long)order_id, is->order.pai_skid);
    }
    time_t nb = is->order.valid_from ? is->order.valid_from : time(NULL);
    time_t na = is->order.days ? nb + (time_t)is->order.days * 86400 - 1 : MP_NO_EXPIRY;
    if (na > MP_NO_EXPIRY) {
        na = MP_NO_EXPIRY; /* beyond 9999 there is no encoding: no expiry */
    }
    time_t pnb, pna;
    if (mp_asn1_time(X509_get0_notBefore(is->pai.cert), &pnb) != 0 ||
        mp_asn1_time(X509_get0_notAfter(is->pai.cert), &pna) != 0 || nb < pnb || nb > pna) {
        return mp_err(MP_ERR_PROFILE, "the DAC notBefore lies outside the PAI's validity window");
    }
    return mp_dac_tmpl_init(&is->tmpl, is->pai.cert, is->order.vid, is->order.pid, nb, na);
}

void mp_issue_release(mp_issue *is)
{
    mp_ca_close(&is->pai);
}

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
    if ((it->rc = mp_dac_cn(is->order.cn_template, it->dev.udid, is->order.vid, is->order.pid, it->cn)) != MP_OK ||
        (it->rc = mp_serial_random(it->serial)) != MP_OK ||
        (it->rc = mp_dac_build(&is->tmpl, it->cn, it->dev.point, it->serial, &w->sign, it->der, &it->len)) != MP_OK) {
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

/* ---- recording a chunk ----------------------------------------------------- */

static int write_pending_keys(mp_issue *is, chunk *c)
{
    uint8_t der[121];
    char name[MP_UDID_MAX + 24];
    for (size_t i = 0; i < c->n; i++) {
        size_t n = mp_sec1_der(c->items[i].scalar, c->items[i].dev.point, der);
        snprintf(name, sizeof(name), "%s.key.der.pending", c->items[i].dev.udid);
        int rc = mp_write_file_fast(is->out_dir, name, der, n, 0600);
        mp_wipe(der, sizeof(der));
        mp_wipe(c->items[i].scalar, 32);
        if (rc != MP_OK) {
            return rc;
        }
    }
    return mp_sync_dir_fs(is->out_dir);
}

static int record(mp_issue *is, chunk *c)
{
    char path[4400];
    int rc = mp_ledger_begin(is->ledger);
    for (size_t i = 0; rc == MP_OK && i < c->n; i++) {
        item *it = &c->items[i];
        mp_cert_rec r = {.order_id = is->order.id, .not_before = is->tmpl.not_before,
                         .not_after = is->tmpl.not_after, .der = it->der, .der_len = it->len,
                         .path = path, .station = is->station};
        uint8_t h[32];
        snprintf(path, sizeof(path), "%s/%s.der", is->out_dir, it->dev.udid);
        snprintf(r.udid, sizeof(r.udid), "%s", it->dev.udid);
        snprintf(r.pai_skid, sizeof(r.pai_skid), "%s", is->order.pai_skid);
        mp_serial_hex(it->serial, r.serial);
        SHA256(it->der, it->len, h);
        mp_hex(h, 32, r.sha256, 0);
        if (is->generate_keys) {
            it->dev.list_id = is->gen_list_id;
            rc = mp_ledger_add_device(is->ledger, &it->dev);
        }
        if (rc == MP_OK) {
            rc = mp_ledger_add_cert(is->ledger, &r);
        }
    }
    if (rc == MP_OK) {
        rc = mp_ledger_commit(is->ledger);
    }
    mp_ledger_rollback(is->ledger);
    return rc;
}

static int finish_files(mp_issue *is, chunk *c)
{
    char name[MP_UDID_MAX + 16], a[4400], b[4400];
    int rc = MP_OK;
    for (size_t i = 0; rc == MP_OK && i < c->n; i++) {
        const item *it = &c->items[i];
        snprintf(name, sizeof(name), "%s.der", it->dev.udid);
        rc = mp_write_file_fast(is->out_dir, name, it->der, it->len, 0644);
        if (rc == MP_OK && is->generate_keys) {
            snprintf(a, sizeof(a), "%s/%s.key.der.pending", is->out_dir, it->dev.udid);
            snprintf(b, sizeof(b), "%s/%s.key.der", is->out_dir, it->dev.udid);
            if (rename(a, b) != 0) {
                rc = mp_err(MP_ERR_IO, "%s: cannot rename", a);
            }
        }
    }
    if (rc == MP_OK && (rc = mp_sync_dir_fs(is->out_dir)) == MP_OK) {
        rc = mp_ledger_begin(is->ledger);
        /* exactly this chunk's devices: another run may share the order */
        for (size_t i = 0; rc == MP_OK && i < c->n; i++) {
            rc = mp_ledger_mark_written(is->ledger, c->items[i].dev.udid);
        }
    }
    if (rc == MP_OK) {
        rc = mp_ledger_commit(is->ledger);
    }
    mp_ledger_rollback(is->ledger);
    return rc;
}

static int store_chunk(mp_issue *is, chunk *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->items[i].rc != MP_OK) {
            return mp_err(c->items[i].rc, "%s", c->items[i].msg);
        }
    }
    int rc;
    if (is->generate_keys && (rc = write_pending_keys(is, c)) != MP_OK) {
        return rc;
    }
    if ((rc = record(is, c)) != MP_OK || (rc = finish_files(is, c)) != MP_OK) {
        return rc;
    }
    is->issued += c->n;
    return MP_OK;
}

/* ---- selecting devices ----------------------------------------------------- */

typedef struct feed {
    mp_issue *is;
    uint64_t left;
    char after[MP_UDID_MAX + 1];
    char **udids;
    size_t n_udids, next_udid;
} feed;

static int fill(feed *f, chunk *c)
{
    size_t want = f->left < CHUNK ? (size_t)f->left : CHUNK;
    c->n = 0;
    if (want == 0) {
        return MP_OK;
    }
    if (f->is->generate_keys) {
        memset(c->items, 0, want * sizeof(item));
        c->n = want;
    } else if (f->udids != NULL) {
        for (; c->n < want && f->next_udid < f->n_udids; f->next_udid++) {
            int found = 0;
            int rc = mp_ledger_get_device(f->is->ledger, f->udids[f->next_udid], &c->items[c->n].dev, &found);
            if (rc != MP_OK) return rc;
            c->n++;
        }
    } else {
        mp_device devs[CHUNK];
        int rc = mp_ledger_next_devices(f->is->ledger, f->after, want, devs, &c->n);
        if (rc != MP_OK) return rc;
        for (size_t i = 0; i < c->n; i++) {
            c->items[i].dev = devs[i];
        }
        if (c->n > 0) {
            snprintf(f->after, sizeof(f->after), "%s", devs[c->n - 1].udid);
        }
    }
    f->left -= c->n;
    return MP_OK;
}

/* ---- progress ---------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

int mp_issue_run(mp_issue *is, uint64_t count, char **udids, size_t n_udids)
{
    worker ws[MP_MAX_JOBS];
    void *states[MP_MAX_JOBS];
    mp_workers team;
    chunk bufs[2] = {{.is = is}, {.is = is}};
    feed f = {.is = is, .left = count, .udids = udids, .n_udids = n_udids};
    int rc;
    memset(ws, 0, sizeof(ws));
    for (int j = 0; j < MP_MAX_JOBS; j++) {
        states[j] = &ws[j];
    }
    mp_workers_init(&team, is->jobs, states, work);
    bufs[0].items = calloc(CHUNK, sizeof(item));
    bufs[1].items = calloc(CHUNK, sizeof(item));
    if (bufs[0].items == NULL || bufs[1].items == NULL) {
        rc = mp_err(MP_ERR_GENERAL, "out of memory");
        goto end;
    }
    if ((rc = init_workers(is, ws)) != MP_OK || (rc = fill(&f, &bufs[0])) != MP_OK) {
        goto end;
    }
    double t0 = now_s();
    int cur = 0;
    if (bufs[0].n > 0 && (rc = mp_workers_start(&team, &bufs[0], bufs[0].n)) != MP_OK) goto end;
    while (bufs[cur].n > 0) {
        mp_workers_join(&team);
        chunk *done = &bufs[cur];
        cur ^= 1;
        /* Sign the next chunk while this one is recorded. */
        if ((rc = fill(&f, &bufs[cur])) != MP_OK) break;
        if (bufs[cur].n > 0 && !mp_interrupted() &&
            (rc = mp_workers_start(&team, &bufs[cur], bufs[cur].n)) != MP_OK) break;
        rc = store_chunk(is, done);
        progress(is, count, t0, 0);
        if (rc != MP_OK || !team.running) {
            break;
        }
    }
    mp_workers_join(&team);
    progress(is, count, t0, 1);
    if (rc == MP_OK && mp_interrupted() && is->issued < count) {
        rc = mp_err(MP_ERR_INTERRUPTED, "interrupted after %llu DACs; run the same command again to finish",
                    (unsigned long long)is->issued);
    }
end:
    free_workers(ws, is->jobs);
    for (int i = 0; i < 2; i++) {
        if (bufs[i].items != NULL) mp_wipe(bufs[i].items, CHUNK * sizeof(item));
        free(bufs[i].items);
    }
    return rc;
}
