/* serve_issuer.c - the issuing side of `serve`, a pipeline of two threads
 * with a ledger connection each:
 *
 *   checker:   takes the jobs that arrived (at most MP_EST_MAX_GROUP, waiting
 *              up to --group-ms for a group to fill), checks each against
 *              the ledger on a connection that only reads, and has the N
 *              signing workers sign the accepted ones (one PKCS#11 session
 *              per worker and order, the path `dac issue` uses);
 *   committer: records a signed group in ONE transaction (the order's quota
 *              taken by the same conditional update as `dac issue`, one batch
 *              per order and station, one audit row per order, the refusals
 *              noted meanwhile), then hands the answers back.
 *
 * So group N+1 is checked and signed while group N commits. A key already in
 * flight (a retry that arrives before the first answer) waits for that
 * request's answer instead of being checked against a ledger that does not
 * show it yet. If a group's transaction fails, each job is recorded alone,
 * so one bad request never fails its neighbours. A job's answer leaves only
 * after its commit: every DAC a client receives is in the ledger. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_ckpt.h"
#include "dac/issue.h"
#include "jw.h"
#include "serve/serve.h"
#include "util.h"
#include "workers.h"
#include "serve/serve_int.h"


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
    if (mp_ledger_find_order(s->cfg.ledger_rd, j->order, &probe) != MP_OK) {
        mp_job_refuse(j, 404, R_NOT_FOUND, "no production order '%s'", j->order);
        return NULL;
    }
    ord *o = calloc(1, sizeof(*o));
    int rc = o == NULL ? MP_ERR_GENERAL : MP_OK;
    if (rc == MP_OK) {
        snprintf(o->ref, sizeof(o->ref), "%s", j->order);
        rc = mp_issue_prepare(&o->is, s->cfg.ledger_rd, s->cfg.ks, probe.id, s->cfg.test_mode);
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

/* A station's verdict from its standing in the ledger: 0 or 403 and why. */
static int verdict_of(const job *j, const mp_station_standing *st, char *why, size_t why_len)
{
    if (!st->cert_found || strcmp(st->cert.name, j->station) != 0) {
        snprintf(why, why_len, "station %s: client certificate serial %s was not issued by `station issue`", j->station,
                 j->station_serial);
        return 403;
    }
    if (st->cert.revoked) {
        snprintf(why, why_len, "station %s: client certificate serial %s is revoked", j->station, j->station_serial);
        return 403;
    }
    /* a station of the shared ledger's stations table (station add/disable,
     * order assign): enabled and, when the order has assignments, assigned */
    if (st->exists && !st->allowed) {
        snprintf(why, why_len, "%s", st->why);
        return 403;
    }
    return 0;
}

int mp_serve_station_check(mp_ledger *l, const job *j, int64_t order_id, char *why, size_t why_len)
{
    mp_station_standing st;
    const char *serial = j->station_serial, *name = j->station;
    if (mp_ledger_stations_standing(l, order_id, &serial, &name, 1, &st) != MP_OK) {
        snprintf(why, why_len, "station check failed: ledger error");
        return 503;
    }
    return verdict_of(j, &st, why, why_len);
}

/* ---- keys in flight (under cmu) ------------------------------------------------ */

static job **flight_slot(mp_issuer *s, const uint8_t point[65])
{
    unsigned h = (unsigned)point[1] | (unsigned)point[2] << 8 | (unsigned)point[3] << 16;
    return &s->flight[h % FLIGHT_BUCKETS];
}

/* The job in flight for this key and order, or NULL. */
static job *flight_find(mp_issuer *s, const job *j)
{
    for (job *x = *flight_slot(s, j->csr.point); x != NULL; x = x->hnext) {
        if (memcmp(x->csr.point, j->csr.point, 65) == 0 && strcmp(x->order, j->order) == 0) return x;
    }
    return NULL;
}

static void flight_remove(mp_issuer *s, job *j)
{
    for (job **p = flight_slot(s, j->csr.point); *p != NULL; p = &(*p)->hnext) {
        if (*p == j) {
            *p = j->hnext;
            j->hnext = NULL;
            return;
        }
    }
}

/* ---- checks against the ledger (checker, read connection) ------------------------ */

/* The ledger checks of a group's enrollments, in the issue's order: station
 * (403), key on a trusted list (403), order open (409), device not issued
 * yet (409, or the same DAC again for a retry). Each kind of lookup is one
 * query for the group. A request for a key in flight follows it (taken out
 * of the group: *follows[i] = 1). Leaves j->status 0 for those to sign. */
/* check_enrollments' scratch, one entry per job of the group. */
typedef struct scratch {
    const char **serials, **names;
    const uint8_t **points;
    mp_station_standing *st;
    mp_device *dev;
    int *found, *vst;
    size_t *who;
    char (*vwhy)[200];
} scratch;

/* 1. stations: one lookup per order for the group's distinct certificates */
static void check_stations(mp_issuer *s, group *g, scratch *x)
{
    size_t n = g->n;
    for (int oi = 0; oi < s->n_orders; oi++) {
        const ord *o = s->orders[oi];
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            job *j = g->jobs[i];
            if (j->kind != J_ENROLL || j->status != 0 || j->ord != o) continue;
            size_t v = 0;
            while (v < k && strcmp(x->serials[v], j->station_serial) != 0) v++;
            if (v == k) {
                x->serials[k] = j->station_serial;
                x->names[k] = j->station;
                x->who[k++] = i;
            }
        }
        if (k == 0) continue;
        int rc = mp_ledger_stations_standing(s->cfg.ledger_rd, o->is.order.id, x->serials, x->names, k, x->st);
        for (size_t v = 0; v < k; v++) {
            if (rc != MP_OK) {
                x->vst[v] = 503;
                snprintf(x->vwhy[v], sizeof(x->vwhy[v]), "station check failed: ledger error");
            } else {
                x->vst[v] = verdict_of(g->jobs[x->who[v]], &x->st[v], x->vwhy[v], sizeof(x->vwhy[v]));
            }
        }
        for (size_t i = 0; i < n; i++) {
            job *j = g->jobs[i];
            if (j->kind != J_ENROLL || j->status != 0 || j->ord != o) continue;
            size_t v = 0;
            while (strcmp(x->serials[v], j->station_serial) != 0) v++;
            if (x->vst[v] != 0) mp_job_refuse(j, x->vst[v], x->vst[v] == 403 ? R_STATION : R_UNAVAILABLE, "%s", x->vwhy[v]);
        }
    }
}

/* 2. the same key in flight: its answer is this one's (looked up before the
 * ledger, which shows that request only once it is committed). The others'
 * keys go to x->points (their jobs to x->who); returns how many. */
static size_t join_in_flight(mp_issuer *s, group *g, int *follows, scratch *x)
{
    size_t m = 0;
    for (size_t i = 0; i < g->n; i++) {
        job *j = g->jobs[i];
        if (j->kind != J_ENROLL || j->status != 0) continue;
        pthread_mutex_lock(&s->cmu);
        job *lead = flight_find(s, j);
        if (lead != NULL) {
            j->fnext = lead->followers;
            lead->followers = j;
        }
        pthread_mutex_unlock(&s->cmu);
        if (lead != NULL) {
            follows[i] = 1;
            continue;
        }
        x->points[m] = j->csr.point;
        x->who[m++] = i;
    }
    return m;
}

/* A key on no trusted list: refused, naming the device when the request's
 * chip has a DAC for another key. */
static void refuse_unlisted(mp_ledger *l, job *j)
{
    mp_dac_row r;
    mp_device named;
    int isnamed = 0, has = 0;
    if (j->csr.cn[0] && mp_ledger_get_device(l, j->csr.cn, &named, &isnamed) == MP_OK && isnamed &&
        mp_ledger_get_dac(l, named.udid, &r, &has) == MP_OK && has) {
        mp_job_refuse(j, 409, R_ISSUED, "device %s already has a DAC for another key", named.udid);
    } else {
        mp_job_refuse(j, 403, R_NOT_LISTED, "the request's key belongs to no chip on a trusted list");
    }
}

/* A device that is not authorized (any more): a retry of this order gets
 * the same DAC bytes again (1); otherwise refused (0). */
static int answer_issued(mp_issuer *s, mp_ledger *l, job *j, const mp_device *d)
{
    mp_dac_row r;
    int has = 0;
    if (d->state == MP_DEV_ISSUED && mp_ledger_get_dac(l, d->udid, &r, &has) == MP_OK && has &&
        r.order_id == j->ord->is.order.id && r.der_len > 0 && r.der_len <= sizeof(j->der)) {
        memcpy(j->der, r.der, r.der_len);
        j->der_len = r.der_len;
        j->status = 200;
        atomic_fetch_add(&s->m->retried, 1);
        return 1;
    }
    mp_job_refuse(j, 409, R_ISSUED, "device %s already has a DAC%s", d->udid,
                  d->state == MP_DEV_REVOKED ? " (revoked)" : has ? " under another order" : "");
    return 0;
}

/* 3. the devices of the m keys, one lookup; the ones to sign go in flight */
static void check_devices(mp_issuer *s, group *g, int *follows, scratch *x, size_t m)
{
    mp_ledger *l = s->cfg.ledger_rd;
    if (mp_ledger_devices_by_keys(l, x->points, m, x->dev, x->found) != MP_OK) {
        for (size_t v = 0; v < m; v++) mp_job_refuse(g->jobs[x->who[v]], 503, R_UNAVAILABLE, "ledger error");
        return;
    }
    for (size_t v = 0; v < m; v++) {
        job *j = g->jobs[x->who[v]];
        const mp_device *d = &x->dev[v];
        if (!x->found[v]) {
            refuse_unlisted(l, j);
            continue;
        }
        snprintf(j->udid, sizeof(j->udid), "%s", d->udid);
        if (d->state != MP_DEV_AUTHORIZED) {
            (void)answer_issued(s, l, j, d);
            continue;
        }
        if (j->ord->is.order.closed) {
            mp_job_refuse(j, 409, R_QUOTA, "production order %s is closed", j->order);
            continue;
        }
        /* to be signed: later requests for this key follow it (also later
         * in this group) */
        pthread_mutex_lock(&s->cmu);
        job *lead = flight_find(s, j);
        if (lead != NULL) {
            j->fnext = lead->followers;
            lead->followers = j;
            follows[x->who[v]] = 1;
        } else {
            job **slot = flight_slot(s, j->csr.point);
            j->hnext = *slot;
            *slot = j;
        }
        pthread_mutex_unlock(&s->cmu);
    }
}

static void check_enrollments(mp_issuer *s, group *g, int *follows)
{
    size_t n = g->n;
    scratch x = {
        .serials = calloc(n, sizeof(char *)), .names = calloc(n, sizeof(char *)), .points = calloc(n, sizeof(uint8_t *)),
        .st = calloc(n, sizeof(mp_station_standing)), .dev = calloc(n, sizeof(mp_device)), .found = calloc(n, sizeof(int)),
        .vst = calloc(n, sizeof(int)), .who = calloc(n, sizeof(size_t)), .vwhy = calloc(n, sizeof(*x.vwhy)),
    };
    if (!x.serials || !x.names || !x.points || !x.st || !x.dev || !x.found || !x.vst || !x.who || !x.vwhy) {
        for (size_t i = 0; i < n; i++) {
            if (g->jobs[i]->kind == J_ENROLL && g->jobs[i]->status == 0) mp_job_refuse(g->jobs[i], 503, R_UNAVAILABLE, "out of memory");
        }
    } else {
        check_stations(s, g, &x);
        check_devices(s, g, follows, &x, join_in_flight(s, g, follows, &x));
    }
    free(x.serials);
    free(x.names);
    free(x.points);
    free(x.st);
    free(x.dev);
    free(x.found);
    free(x.vst);
    free(x.who);
    free(x.vwhy);
}

/* ---- signing (workers) ------------------------------------------------------------ */

static void sign_one(void *ctx, void *state, size_t i)
{
    group *g = ctx;
    int w = *(int *)state;
    job *j = g->jobs[i];
    if (!serve_pending(j)) return;
    mp_dac_signer sg = {.sess = j->ord->sess[w]};
    if (mp_issue_sign(&j->ord->is, &sg, j->udid, j->csr.point, j->serial, j->der, &j->der_len) != MP_OK) {
        mp_job_refuse(j, 503, R_UNAVAILABLE, "signing failed: %s", mp_err_msg());
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

/* ---- the checker --------------------------------------------------------------------- */

/* Check and sign a group; jobs that follow a request in flight leave it. */
static void check_group(mp_issuer *s, group *g)
{
    time_t now = time(NULL);
    double t0 = mp_now();
    /* the orders' status and their DACs' validity (orders without
     * --valid-from start their DACs at the time of issuance) */
    for (int i = 0; i < s->n_orders; i++) {
        ord *o = s->orders[i];
        mp_order cur;
        if (mp_ledger_get_order(s->cfg.ledger_rd, o->is.order.id, &cur) == MP_OK) {
            o->is.order.closed = cur.closed;
            o->is.order.issued = cur.issued;
        }
        if (!o->is.order.valid_from && now - o->tmpl_at >= 60 && mp_issue_set_validity(&o->is, now) == MP_OK) {
            o->tmpl_at = now;
        }
    }
    int follows[MP_EST_MAX_GROUP] = {0};
    for (size_t i = 0; i < g->n; i++) {
        job *j = g->jobs[i];
        if ((j->ord = order_get(s, j)) == NULL || j->kind == J_ENROLL) continue;
        if (j->kind == J_CACERTS) {
            j->body = malloc(j->ord->cacerts_len);
            if (j->body) memcpy(j->body, j->ord->cacerts, j->ord->cacerts_len);
            j->body_len = j->body ? j->ord->cacerts_len : 0;
        }
        j->status = j->body || j->kind == J_CSRATTRS ? 200 : 500;
    }
    check_enrollments(s, g, follows);
    size_t kept = 0, to_sign = 0;
    for (size_t i = 0; i < g->n; i++) {
        job *j = g->jobs[i];
        if (follows[i]) continue; /* answered with the request it follows */
        if (serve_pending(j)) {
            j->not_before = j->ord->is.tmpl.not_before;
            j->not_after = j->ord->is.tmpl.not_after;
            to_sign++;
        }
        g->jobs[kept++] = j;
    }
    g->n = kept;
    double t1 = mp_now();
    if (to_sign > 0) {
        if (mp_workers_start(&s->team, g, g->n) == MP_OK) {
            mp_workers_join(&s->team);
        } else {
            for (size_t i = 0; i < g->n; i++) {
                if (serve_pending(g->jobs[i])) mp_job_refuse(g->jobs[i], 503, R_UNAVAILABLE, "no signing workers");
            }
        }
    }
    double t2 = mp_now();
    atomic_fetch_add(&s->m->hsm_us, (unsigned long long)((t2 - t1) * 1e6));
    atomic_fetch_add(&s->m->check_us, (unsigned long long)((t1 - t0) * 1e6));
    atomic_fetch_add(&s->m->ledger_us, (unsigned long long)((t1 - t0) * 1e6));
}

static void *checker_main(void *arg)
{
    mp_issuer *s = arg;
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
        group *g = calloc(1, sizeof(*g));
        while (g != NULL && s->head != NULL && g->n < MP_EST_MAX_GROUP) {
            job *j = s->head;
            s->head = j->next;
            if (s->head == NULL) s->tail = NULL;
            s->queued--;
            j->next = NULL;
            g->jobs[g->n++] = j;
        }
        pthread_mutex_unlock(&s->mu);
        if (g == NULL) { /* out of memory: try again shortly */
            struct timespec ts = {0, 10000000L};
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        check_group(s, g);
        /* to the committer; at most one group waits while one commits, and
         * while it waits it takes in what arrives (checked and signed), so
         * that a slow commit makes the next group larger, not the queue */
        pthread_mutex_lock(&s->cmu);
        while (s->cqueued >= 1) {
            if (g->n >= MP_EST_MAX_GROUP) {
                pthread_cond_wait(&s->cspace, &s->cmu);
                continue;
            }
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->cspace, &s->cmu, &until);
            if (s->cqueued == 0) break;
            pthread_mutex_unlock(&s->cmu);
            group more = {.n = 0};
            pthread_mutex_lock(&s->mu);
            while (s->head != NULL && g->n + more.n < MP_EST_MAX_GROUP) {
                job *j = s->head;
                s->head = j->next;
                if (s->head == NULL) s->tail = NULL;
                s->queued--;
                j->next = NULL;
                more.jobs[more.n++] = j;
            }
            pthread_mutex_unlock(&s->mu);
            if (more.n > 0) {
                check_group(s, &more);
                for (size_t i = 0; i < more.n; i++) g->jobs[g->n++] = more.jobs[i];
            }
            pthread_mutex_lock(&s->cmu);
        }
        if (s->ctail) s->ctail->next = g;
        else s->chead = g;
        s->ctail = g;
        s->cqueued++;
        pthread_cond_signal(&s->ccv);
        pthread_mutex_unlock(&s->cmu);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_lock(&s->cmu);
    s->check_done = 1;
    pthread_cond_signal(&s->ccv);
    pthread_mutex_unlock(&s->cmu);
    return NULL;
}

/* ---- the committer ---------------------------------------------------------------------- */

/* A request that followed j takes its answer. */
static void follow(mp_issuer *s, const job *j, job *f)
{
    f->ord = j->ord;
    snprintf(f->udid, sizeof(f->udid), "%s", j->udid);
    f->status = j->status == 201 ? 200 : j->status;
    f->reason = j->reason;
    memcpy(f->why, j->why, sizeof(f->why));
    f->der_len = j->der_len <= sizeof(f->der) ? j->der_len : 0;
    memcpy(f->der, j->der, f->der_len);
    if (f->status == 200) atomic_fetch_add(&s->m->retried, 1);
    answer_body(f);
}

static void finish_group(mp_issuer *s, group *g)
{
    for (size_t i = 0; i < g->n; i++) {
        job *j = g->jobs[i];
        job *f = NULL;
        if (j->kind == J_ENROLL) {
            pthread_mutex_lock(&s->cmu);
            flight_remove(s, j);
            f = j->followers;
            j->followers = NULL;
            pthread_mutex_unlock(&s->cmu);
            if (j->status == 201) atomic_fetch_add(&s->m->issued, 1);
            for (job *x = f; x != NULL; x = x->fnext) follow(s, j, x);
            answer_body(j);
        }
        s->done(s->done_ctx, j);
        while (f != NULL) {
            job *n = f->fnext;
            s->done(s->done_ctx, f);
            f = n;
        }
    }
}

/* After a commit: the audit checkpoint every 1,000 rows when the token holds
 * the ledger's audit key (the one at the end is the dispatcher's). A failure
 * is said and leaves the rows to the next one. */
static void audit_tick(mp_issuer *s)
{
    int64_t seq = 0;
    char what[96];
    if (s->every.key_id == 0) return;
    int rc = mp_audit_every_tick(&s->every, s->cfg.ledger, s->cfg.ks, &seq);
    if (rc == MP_OK && seq > 0 && s->cfg.rec != NULL) {
        snprintf(what, sizeof(what), "audit checkpoint %lld (every %lld rows)", (long long)seq, (long long)s->every.every);
        rc = mp_audit_log_checkpoint(s->cfg.ledger, s->cfg.rec, what, s->cfg.ks, &s->every.key, seq);
    }
    if (rc != MP_OK) fprintf(stderr, "matter-pki serve: audit checkpoint failed (the next one covers its rows): %s\n", mp_err_msg());
}

static void *committer_main(void *arg)
{
    mp_issuer *s = arg;
    pthread_mutex_lock(&s->cmu);
    for (;;) {
        if (s->chead == NULL && !s->check_done) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += (long)MP_SERVE_AUDIT_MS * 1000000L;
            while (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->ccv, &s->cmu, &until);
        }
        group *g = s->chead;
        if (g != NULL) {
            s->chead = g->next;
            if (s->chead == NULL) s->ctail = NULL;
            s->cqueued--;
            pthread_cond_signal(&s->cspace);
        }
        int done = g == NULL && s->check_done;
        pthread_mutex_unlock(&s->cmu);
        if (g != NULL) {
            double t0 = mp_now();
            size_t to_commit = 0;
            for (size_t i = 0; i < g->n; i++) to_commit += serve_pending(g->jobs[i]);
            if (to_commit > 0) serve_commit_group(s, g);
            double t1 = mp_now();
            atomic_fetch_add(&s->m->commit_us, (unsigned long long)((t1 - t0) * 1e6));
            atomic_fetch_add(&s->m->ledger_us, (unsigned long long)((t1 - t0) * 1e6));
            atomic_fetch_add(&s->m->groups, 1);
            atomic_fetch_add(&s->m->grouped, g->n);
            finish_group(s, g);
            free(g);
        } else {
            serve_flush_refusals(s); /* idle: the refusals noted meanwhile */
        }
        audit_tick(s);
        if (done) break;
        pthread_mutex_lock(&s->cmu);
    }
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------------------ */

int mp_issuer_start(const mp_serve_cfg *cfg, mp_metrics *m, void (*done)(void *ctx, job *j), void *ctx,
                    mp_issuer **out)
{
    mp_issuer *s = calloc(1, sizeof(*s));
    if (s == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    s->cfg = *cfg;
    if (s->cfg.ledger_rd == NULL) s->cfg.ledger_rd = s->cfg.ledger;
    s->m = m;
    s->done = done;
    s->done_ctx = ctx;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_init(&s->cmu, NULL);
    pthread_cond_init(&s->ccv, NULL);
    pthread_cond_init(&s->cspace, NULL);
    for (int j = 0; j < MP_MAX_JOBS; j++) {
        s->worker_ids[j] = j;
        s->states[j] = &s->worker_ids[j];
    }
    mp_workers_init(&s->team, cfg->jobs, s->states, sign_one);
    s->team.name = "mp-sign"; /* thread names: bench/est_run.sh splits the CPU by them */
    *out = s;
    int rc = cfg->ks != NULL ? mp_audit_every_init(&s->every, s->cfg.ledger, cfg->ks) : MP_OK;
    if (rc != MP_OK) return rc;
    if (pthread_create(&s->th_commit, NULL, committer_main, s) != 0) {
        return mp_err(MP_ERR_GENERAL, "cannot start the ledger threads");
    }
    s->started_commit = 1;
    pthread_setname_np(s->th_commit, "mp-commit");
    if (pthread_create(&s->th_check, NULL, checker_main, s) != 0) {
        return mp_err(MP_ERR_GENERAL, "cannot start the ledger threads");
    }
    s->started_check = 1;
    pthread_setname_np(s->th_check, "mp-check");
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
    if (s->started_check) {
        pthread_join(s->th_check, NULL);
    } else {
        pthread_mutex_lock(&s->cmu);
        s->check_done = 1;
        pthread_cond_signal(&s->ccv);
        pthread_mutex_unlock(&s->cmu);
    }
    if (s->started_commit) pthread_join(s->th_commit, NULL);
    serve_flush_refusals(s); /* noted after the committer's last pass */
    uint64_t unrec[R_NREASONS];
    serve_free_refusals(serve_take_refusals(s, unrec));
    mp_workers_free(&s->team);
    for (int i = 0; i < s->n_orders; i++) ord_free(s->orders[i], s->cfg.jobs);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->ccv);
    pthread_cond_destroy(&s->cspace);
    pthread_mutex_destroy(&s->cmu);
    free(s);
}
