/* serve_issuer.c - the issuing side of `serve`: one ledger thread owns the ledger
 * handle; it takes the jobs that arrived (at most MP_EST_MAX_GROUP, waiting
 * a few milliseconds for a group to fill), checks each against the ledger,
 * has the workers sign the accepted ones (one PKCS#11 session per worker and
 * order, the path `dac issue` uses) and records them all in ONE transaction:
 * the order's quota taken by the same conditional update as `dac issue`,
 * one batch per order and station. If that transaction fails, each job is
 * recorded alone, so one bad request never fails its neighbours. A job's
 * answer leaves only after its commit: every DAC a client receives is in
 * the ledger. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dac/issue.h"
#include "serve/serve.h"
#include "util.h"
#include "workers.h"

#define MAX_ORDERS 64

typedef struct ord {
    char ref[64];
    mp_issue is;
    mp_ks_sess *sess[MP_MAX_JOBS];
    time_t tmpl_at;
    uint8_t *cacerts;   /* certs-only CMS of PAI (+ PAA) */
    size_t cacerts_len;
} ord;

struct mp_issuer {
    mp_serve_cfg cfg;
    mp_metrics *m;
    void (*done)(void *ctx, job *j);
    void *done_ctx;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    size_t queued;
    int stop;
    ord *orders[MAX_ORDERS];
    int n_orders;
    mp_workers team;
    int worker_ids[MP_MAX_JOBS];
    void *states[MP_MAX_JOBS];
};

double mp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void mp_job_refuse(job *j, int status, int reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->why, sizeof(j->why), fmt, ap);
    va_end(ap);
    j->status = status;
    j->reason = reason;
}

/* ---- orders -------------------------------------------------------------- */

static int load_cacerts(mp_issuer *s, ord *o)
{
    const uint8_t *certs[2];
    size_t lens[2], n = 0;
    uint8_t *pai = NULL, *paa = NULL;
    X509 *root = NULL;
    int len = i2d_X509(o->is.pai.cert, &pai);
    if (len <= 0) return mp_err_ssl(MP_ERR_GENERAL, "cannot encode the PAI");
    certs[n] = pai;
    lens[n++] = (size_t)len;
    uint8_t akid[20], skid[20];
    for (int i = 0; i < s->cfg.n_paa && n == 1; i++) {
        if (mp_cert_load(s->cfg.paa_certs[i], &root) == MP_OK && mp_cert_akid(o->is.pai.cert, akid) == 0 &&
            mp_cert_skid(root, skid) == 0 && memcmp(akid, skid, 20) == 0 && (len = i2d_X509(root, &paa)) > 0) {
            certs[n] = paa;
            lens[n++] = (size_t)len;
        }
        X509_free(root);
        root = NULL;
    }
    int rc = mp_est_certs_only(certs, lens, n, &o->cacerts, &o->cacerts_len);
    OPENSSL_free(pai);
    OPENSSL_free(paa);
    return rc;
}

static void ord_free(ord *o, int jobs)
{
    if (o == NULL) return;
    for (int j = 0; j < jobs; j++) mp_ks_sess_close(o->sess[j]);
    mp_issue_release(&o->is);
    free(o->cacerts);
    free(o);
}

/* The order a path names, prepared for issuing (PAI checked, template,
 * one signing session per worker); NULL with the job refused. */
static ord *order_get(mp_issuer *s, job *j)
{
    for (int i = 0; i < s->n_orders; i++) {
        if (strcmp(s->orders[i]->ref, j->order) == 0) return s->orders[i];
    }
    mp_order probe;
    if (mp_ledger_find_order(s->cfg.ledger, j->order, &probe) != MP_OK) {
        mp_job_refuse(j, 404, R_NOT_FOUND, "no production order '%s'", j->order);
        return NULL;
    }
    ord *o = calloc(1, sizeof(*o));
    int rc = o == NULL ? MP_ERR_GENERAL : MP_OK;
    if (rc == MP_OK) {
        snprintf(o->ref, sizeof(o->ref), "%s", j->order);
        rc = mp_issue_prepare(&o->is, s->cfg.ledger, s->cfg.ks, probe.id, s->cfg.test_mode);
    }
    for (int w = 0; rc == MP_OK && w < s->cfg.jobs; w++) {
        rc = mp_ks_sess_open(s->cfg.ks, &o->is.pai.key, &o->sess[w]);
    }
    if (rc == MP_OK) rc = load_cacerts(s, o);
    if (rc != MP_OK || s->n_orders == MAX_ORDERS) {
        fprintf(stderr, "matter-pki serve: order %s cannot issue: %s\n", j->order, rc ? mp_err_msg() : "too many orders");
        mp_job_refuse(j, 503, R_UNAVAILABLE, "order %s cannot issue now (see the server log)", j->order);
        ord_free(o, s->cfg.jobs);
        return NULL;
    }
    o->tmpl_at = time(NULL);
    s->orders[s->n_orders++] = o;
    return o;
}

/* ---- checks against the ledger --------------------------------------------- */

int mp_serve_station_check(mp_ledger *l, const job *j, int64_t order_id, char *why, size_t why_len)
{
    mp_station_cert sc;
    int found = 0;
    if (mp_ledger_get_station_cert(l, j->station_serial, &sc, &found) != MP_OK) {
        snprintf(why, why_len, "station check failed: ledger error");
        return 503;
    }
    if (!found || strcmp(sc.name, j->station) != 0) {
        snprintf(why, why_len, "station %s: client certificate serial %s was not issued by `station issue`", j->station,
                 j->station_serial);
        return 403;
    }
    if (sc.revoked) {
        snprintf(why, why_len, "station %s: client certificate serial %s is revoked", j->station, j->station_serial);
        return 403;
    }
    /* a station of the shared ledger's stations table (station add/disable,
     * order assign): enabled and, when the order has assignments, assigned */
    if (mp_ledger_station_exists(l, j->station, &found) != MP_OK) {
        snprintf(why, why_len, "station check failed: ledger error");
        return 503;
    }
    if (found) {
        int rc = mp_ledger_station_check(l, j->station, order_id);
        if (rc != MP_OK) {
            snprintf(why, why_len, "%s", rc == MP_ERR_DB ? "station check failed: ledger error" : mp_err_msg());
            return rc == MP_ERR_DB ? 503 : 403;
        }
    }
    return 0;
}

/* The ledger checks of one enrollment, in the issue's order: station, key on
 * a trusted list (403), order open (409), device not issued yet (409, or the
 * same DAC again for a retry). Leaves j->status 0 when it is to be signed. */
static void check_job(mp_issuer *s, job *j)
{
    mp_ledger *l = s->cfg.ledger;
    mp_device d;
    int found = 0, st;
    if ((j->ord = order_get(s, j)) == NULL) return;
    if ((st = mp_serve_station_check(l, j, j->ord->is.order.id, j->why, sizeof(j->why))) != 0) {
        j->status = st;
        j->reason = st == 403 ? R_STATION : R_UNAVAILABLE;
        return;
    }
    if (mp_ledger_find_device_by_key(l, j->csr.point, &d, &found) != MP_OK) {
        mp_job_refuse(j, 503, R_UNAVAILABLE, "ledger error");
        return;
    }
    if (!found) {
        mp_dac_row r;
        int named = 0, has = 0;
        /* the chip the request names has a DAC for another key */
        if (j->csr.cn[0] && mp_ledger_get_device(l, j->csr.cn, &d, &named) == MP_OK && named &&
            mp_ledger_get_dac(l, d.udid, &r, &has) == MP_OK && has) {
            mp_job_refuse(j, 409, R_ISSUED, "device %s already has a DAC for another key", d.udid);
        } else {
            mp_job_refuse(j, 403, R_NOT_LISTED, "the request's key belongs to no chip on a trusted list");
        }
        return;
    }
    snprintf(j->udid, sizeof(j->udid), "%s", d.udid);
    if (d.state != MP_DEV_AUTHORIZED) {
        mp_dac_row r;
        int has = 0;
        if (d.state == MP_DEV_ISSUED && mp_ledger_get_dac(l, d.udid, &r, &has) == MP_OK && has &&
            r.order_id == j->ord->is.order.id && r.der_len > 0) {
            /* a retry: the same DAC bytes again */
            memcpy(j->der, r.der, r.der_len);
            j->der_len = r.der_len;
            j->status = 200;
            atomic_fetch_add(&s->m->retried, 1);
            return;
        }
        mp_job_refuse(j, 409, R_ISSUED, "device %s already has a DAC%s", d.udid,
               d.state == MP_DEV_REVOKED ? " (revoked)" : has ? " under another order" : "");
        return;
    }
    if (j->ord->is.order.closed) {
        mp_job_refuse(j, 409, R_QUOTA, "production order %s is closed", j->order);
    }
}

/* ---- signing ----------------------------------------------------------------- */

typedef struct group {
    job *jobs[MP_EST_MAX_GROUP];
    size_t n;
} group;

static void sign_one(void *ctx, void *state, size_t i)
{
    group *g = ctx;
    int w = *(int *)state;
    job *j = g->jobs[i];
    if (j->status != 0 || j->leader >= 0) return;
    mp_dac_signer sg = {.sess = j->ord->sess[w]};
    if (mp_issue_sign(&j->ord->is, &sg, j->udid, j->csr.point, j->serial, j->der, &j->der_len) != MP_OK) {
        mp_job_refuse(j, 503, R_UNAVAILABLE, "signing failed: %s", mp_err_msg());
    }
}

/* ---- recording ----------------------------------------------------------------- */

static int pending(const job *j) { return j->status == 0 && j->leader < 0; }

/* Record jobs[0..n) that are pending, in the caller's transaction. Jobs past
 * an order's quota are refused here (409) and not recorded. */
static int record(mp_issuer *s, job **jobs, size_t n)
{
    mp_ledger *l = s->cfg.ledger;
    int rc = MP_OK;
    for (size_t a = 0; rc == MP_OK && a < n; a++) {
        job *first = jobs[a];
        if (!pending(first)) continue; /* the first pending job of an order not handled yet */
        ord *o = first->ord;
        mp_order now;
        if ((rc = mp_ledger_get_order(l, o->is.order.id, &now)) != MP_OK) break;
        uint64_t left = now.closed ? 0 : now.quota - now.issued, k = 0;
        for (size_t b = a; b < n; b++) {
            job *j = jobs[b];
            if (j->ord != o || !pending(j)) continue;
            if (k < left) {
                j->status = -1; /* taken: recorded below */
                k++;
            } else {
                mp_job_refuse(j, 409, R_QUOTA, "production order %s is %s", j->order, now.closed ? "closed" : "out of quota");
            }
        }
        if (k == 0) continue;
        /* one batch per station of this order, each counted against the
         * station (enabled, its sub-quota when the order has assignments)
         * and then the order's quota, as dac issue counts a station's run */
        for (size_t b = a; rc == MP_OK && b < n; b++) {
            job *j = jobs[b];
            int first_of_station = j->ord == o && j->status == -1;
            for (size_t c = a; first_of_station && c < b; c++) {
                first_of_station = !(jobs[c]->ord == o && jobs[c]->status == -1 && strcmp(jobs[c]->station, j->station) == 0);
            }
            if (!first_of_station) continue;
            uint64_t mine = 0;
            for (size_t c = b; c < n; c++) {
                mine += jobs[c]->ord == o && jobs[c]->status == -1 && strcmp(jobs[c]->station, j->station) == 0;
            }
            if ((rc = mp_ledger_take_quota_station(l, o->is.order.id, j->station, mine)) != MP_OK) break;
            mp_dac_batch bt = {.order_id = o->is.order.id, .pai_skid = o->is.order.pai_skid,
                               .not_before = o->is.tmpl.not_before, .not_after = o->is.tmpl.not_after,
                               .dir = "est:", .station = j->station};
            if ((rc = mp_ledger_add_batch(l, &bt)) != MP_OK || (rc = mp_ledger_batch_written(l, bt.id)) != MP_OK) break;
            for (size_t c = b; rc == MP_OK && c < n; c++) {
                job *x = jobs[c];
                if (x->ord != o || x->status != -1 || strcmp(x->station, j->station) != 0) continue;
                mp_cert_rec r;
                mp_issue_rec(&o->is, x->udid, x->serial, x->der, x->der_len, &r);
                r.batch = bt.id;
                r.station = x->station;
                rc = mp_ledger_add_counted(l, &r);
            }
        }
    }
    return rc;
}

/* Commit the group in one transaction; after a failure, each job alone. */
static void commit_group(mp_issuer *s, group *g)
{
    mp_ledger *l = s->cfg.ledger;
    int rc = mp_ledger_begin(l);
    if (rc == MP_OK && (rc = record(s, g->jobs, g->n)) == MP_OK) rc = mp_ledger_commit(l);
    mp_ledger_rollback(l);
    if (rc == MP_OK) {
        for (size_t i = 0; i < g->n; i++) {
            if (g->jobs[i]->status == -1) g->jobs[i]->status = 201;
        }
        return;
    }
    for (size_t i = 0; i < g->n; i++) {
        job *j = g->jobs[i];
        if (j->status == -1) j->status = 0;
        /* quota refusals made during the failed attempt are decided again */
        if (j->status == 409 && j->reason == R_QUOTA && j->leader < 0 && j->der_len > 0) j->status = 0;
    }
    for (size_t i = 0; i < g->n; i++) {
        job *j = g->jobs[i];
        if (!pending(j)) continue;
        rc = mp_ledger_begin(l);
        if (rc == MP_OK && (rc = record(s, &g->jobs[i], 1)) == MP_OK) rc = mp_ledger_commit(l);
        mp_ledger_rollback(l);
        if (rc == MP_OK) {
            if (j->status == -1) j->status = 201;
        } else if (rc == MP_ERR_UNAUTHORIZED && j->ord != NULL &&
                   mp_serve_station_check(l, j, j->ord->is.order.id, j->why, sizeof(j->why)) == 403) {
            /* the station was disabled or unassigned since the check */
            j->status = 403;
            j->reason = R_STATION;
        } else if (rc == MP_ERR_DUPLICATE || rc == MP_ERR_UNAUTHORIZED) {
            mp_job_refuse(j, 409, R_ISSUED, "device %s already has a DAC", j->udid);
        } else if (rc == MP_ERR_QUOTA) {
            mp_job_refuse(j, 409, R_QUOTA, "production order %s is closed or out of quota for station %s (%s)", j->order,
                          j->station, mp_err_msg());
        } else {
            fprintf(stderr, "matter-pki serve: recording the DAC of %s failed: %s\n", j->udid, mp_err_msg());
            mp_job_refuse(j, 503, R_UNAVAILABLE, "the ledger could not record the DAC; retry");
        }
    }
}

static void answer_body(job *j)
{
    if (j->status == 200 || j->status == 201) {
        const uint8_t *c = j->der;
        size_t len = j->der_len;
        if (mp_est_certs_only(&c, &len, 1, &j->body, &j->body_len) != MP_OK) {
            mp_job_refuse(j, 500, R_INTERNAL, "cannot encode the response");
        } else {
            j->status = 200;
        }
    }
}

static void process(mp_issuer *s, group *g)
{
    time_t now = time(NULL);
    double t0 = mp_now();
    for (size_t i = 0; i < g->n; i++) {
        job *j = g->jobs[i];
        j->leader = -1;
        if (j->kind != J_ENROLL) {
            if ((j->ord = order_get(s, j)) != NULL) {
                if (j->kind == J_CACERTS) {
                    j->body = malloc(j->ord->cacerts_len);
                    if (j->body) memcpy(j->body, j->ord->cacerts, j->ord->cacerts_len);
                    j->body_len = j->body ? j->ord->cacerts_len : 0;
                }
                j->status = j->body || j->kind == J_CSRATTRS ? 200 : 500;
            }
            continue;
        }
        check_job(s, j);
        /* the same device twice in a group: the later ones share the first's result */
        for (size_t k = 0; j->status == 0 && k < i; k++) {
            if (g->jobs[k]->kind == J_ENROLL && g->jobs[k]->ord == j->ord && strcmp(g->jobs[k]->udid, j->udid) == 0) {
                j->leader = (int)k;
                break;
            }
        }
    }
    /* refresh the order's status and its DACs' validity (orders without
     * --valid-from start their DACs at the time of issuance) */
    for (int i = 0; i < s->n_orders; i++) {
        ord *o = s->orders[i];
        mp_order cur;
        if (mp_ledger_get_order(s->cfg.ledger, o->is.order.id, &cur) == MP_OK) {
            o->is.order.closed = cur.closed;
            o->is.order.issued = cur.issued;
        }
        if (!o->is.order.valid_from && now - o->tmpl_at >= 60 && mp_issue_set_validity(&o->is, now) == MP_OK) {
            o->tmpl_at = now;
        }
    }
    size_t to_sign = 0;
    for (size_t i = 0; i < g->n; i++) to_sign += g->jobs[i]->kind == J_ENROLL && pending(g->jobs[i]);
    double t1 = mp_now();
    if (to_sign > 0) {
        if (mp_workers_start(&s->team, g, g->n) == MP_OK) {
            mp_workers_join(&s->team);
        } else {
            for (size_t i = 0; i < g->n; i++) {
                if (pending(g->jobs[i])) mp_job_refuse(g->jobs[i], 503, R_UNAVAILABLE, "no signing workers");
            }
        }
    }
    double t2 = mp_now();
    if (to_sign > 0) commit_group(s, g);
    double t3 = mp_now();
    for (size_t i = 0; i < g->n; i++) {
        job *j = g->jobs[i];
        if (j->kind == J_ENROLL && j->leader >= 0) {
            const job *f = g->jobs[j->leader];
            j->status = f->status;
            j->reason = f->reason;
            memcpy(j->why, f->why, sizeof(j->why));
            memcpy(j->der, f->der, f->der_len);
            j->der_len = f->der_len;
            if (j->status == 201) j->status = 200;
        } else if (j->kind == J_ENROLL && j->status == 201) {
            atomic_fetch_add(&s->m->issued, 1);
        }
        if (j->kind == J_ENROLL) answer_body(j);
    }
    atomic_fetch_add(&s->m->hsm_us, (unsigned long long)((t2 - t1) * 1e6));
    atomic_fetch_add(&s->m->ledger_us, (unsigned long long)((t1 - t0 + t3 - t2) * 1e6));
    atomic_fetch_add(&s->m->groups, 1);
    atomic_fetch_add(&s->m->grouped, g->n);
}

/* ---- the thread -------------------------------------------------------------------- */

static void *ledger_main(void *arg)
{
    mp_issuer *s = arg;
    group g;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->head == NULL && !s->stop) pthread_cond_wait(&s->cv, &s->mu);
        if (s->head == NULL) break;
        /* let a group fill for a few milliseconds */
        if (s->queued < MP_EST_MAX_GROUP && s->cfg.group_ms > 0 && !s->stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += (long)s->cfg.group_ms * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            while (s->queued < MP_EST_MAX_GROUP && !s->stop &&
                   pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT) {
            }
        }
        g.n = 0;
        while (s->head != NULL && g.n < MP_EST_MAX_GROUP) {
            job *j = s->head;
            s->head = j->next;
            if (s->head == NULL) s->tail = NULL;
            s->queued--;
            j->next = NULL;
            g.jobs[g.n++] = j;
        }
        pthread_mutex_unlock(&s->mu);
        process(s, &g);
        for (size_t i = 0; i < g.n; i++) s->done(s->done_ctx, g.jobs[i]);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int mp_issuer_start(const mp_serve_cfg *cfg, mp_metrics *m, void (*done)(void *ctx, job *j), void *ctx,
                    mp_issuer **out)
{
    mp_issuer *s = calloc(1, sizeof(*s));
    if (s == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    s->cfg = *cfg;
    s->m = m;
    s->done = done;
    s->done_ctx = ctx;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    for (int j = 0; j < MP_MAX_JOBS; j++) {
        s->worker_ids[j] = j;
        s->states[j] = &s->worker_ids[j];
    }
    mp_workers_init(&s->team, cfg->jobs, s->states, sign_one);
    if (pthread_create(&s->th, NULL, ledger_main, s) != 0) {
        mp_workers_free(&s->team);
        free(s);
        return mp_err(MP_ERR_GENERAL, "cannot start the ledger thread");
    }
    *out = s;
    return MP_OK;
}

void mp_issuer_submit(mp_issuer *s, job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->tail) s->tail->next = j;
    else s->head = j;
    s->tail = j;
    s->queued++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void mp_issuer_stop(mp_issuer *s)
{
    if (s == NULL) return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->th, NULL);
    mp_workers_free(&s->team);
    for (int i = 0; i < s->n_orders; i++) ord_free(s->orders[i], s->cfg.jobs);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
