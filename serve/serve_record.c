/* serve_record.c - the committer's recording of issued DACs in the ledger
 * (write connection): one audit row per order and transaction, the jobs
 * recorded in the caller's transaction, and a group committed in one
 * transaction with the refusals noted meanwhile (each job alone after a
 * failure). Split from serve_issuer.c. */
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

/* ---- recording (committer, write connection) ------------------------------------------ */

/* One audit row per order and transaction: what was issued, to which station. */
static int audit_issued(mp_issuer *s, job **jobs, size_t n, const ord *o, int64_t first_batch, int64_t last_batch)
{
    mp_jw w;
    size_t count = 0, len = 0;
    char objects[96];
    mp_jw_init(&w, 0, 64 + n * 96);
    mp_jw_open(&w);
    mp_jw_key_cstr(&w, "server", "est");
    /* "station udid" pairs, one per DAC, space separated */
    char *list = malloc(n * (MP_UDID_MAX + 130) + 1);
    if (list == NULL) {
        mp_jw_free(&w);
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    list[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const job *j = jobs[i];
        if (j->ord != o || j->status != -1) continue;
        len += (size_t)sprintf(list + len, "%s%s:%s", count ? " " : "", j->station, j->udid);
        count++;
    }
    mp_jw_key_int(&w, "count", (long long)count);
    mp_jw_key_str(&w, "dacs", list, len);
    mp_jw_close(&w);
    free(list);
    size_t dlen = 0;
    char *detail = mp_jw_take(&w, &dlen);
    if (detail == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    if (first_batch == last_batch) {
        snprintf(objects, sizeof(objects), "order=%lld batch=%lld", (long long)o->is.order.id, (long long)first_batch);
    } else {
        snprintf(objects, sizeof(objects), "order=%lld batches=%lld-%lld", (long long)o->is.order.id,
                 (long long)first_batch, (long long)last_batch);
    }
    int rc = mp_ledger_audit(s->cfg.ledger, mp_ledger_station_default(), "est.enroll", objects, detail);
    free(detail);
    if (rc == MP_OK) atomic_fetch_add(&s->m->audit_rows, 1);
    return rc;
}

/* Record jobs[0..n) that are pending, in the caller's transaction. Jobs past
 * an order's quota are refused here (409) and not recorded. */
static int record(mp_issuer *s, job **jobs, size_t n)
{
    mp_ledger *l = s->cfg.ledger;
    int rc = MP_OK;
    for (size_t a = 0; rc == MP_OK && a < n; a++) {
        job *first = jobs[a];
        if (!serve_pending(first)) continue; /* the first pending job of an order not handled yet */
        ord *o = first->ord;
        mp_order now;
        if ((rc = mp_ledger_get_order(l, o->is.order.id, &now)) != MP_OK) break;
        uint64_t left = now.closed ? 0 : now.quota - now.issued, k = 0;
        for (size_t b = a; b < n; b++) {
            job *j = jobs[b];
            if (j->ord != o || !serve_pending(j)) continue;
            if (k < left) {
                j->status = -1; /* taken: recorded below */
                k++;
            } else {
                mp_job_refuse(j, 409, R_QUOTA, "production order %s is %s", j->order, now.closed ? "closed" : "out of quota");
            }
        }
        if (k == 0) continue;
        /* one batch per station of this order, each counted against the
         * station (enabled, its sub-quota when the order has assignments),
         * then the order's quota once for the lot, as dac issue counts a
         * station's run */
        mp_cert_rec *recs = calloc(k, sizeof(*recs));
        size_t nr = 0;
        if (recs == NULL) {
            rc = mp_err(MP_ERR_GENERAL, "out of memory");
            break;
        }
        for (size_t b = a; b < n; b++) {
            job *x = jobs[b];
            if (x->ord != o || x->status != -1) continue;
            mp_cert_rec *r = &recs[nr++];
            mp_issue_rec(&o->is, x->udid, x->serial, x->der, x->der_len, r);
            r->not_before = x->not_before;
            r->not_after = x->not_after;
            r->station = x->station;
        }
        mp_dac_batch proto = {.order_id = o->is.order.id, .pai_skid = o->is.order.pai_skid,
                              .not_before = recs[0].not_before, .not_after = recs[0].not_after, .dir = "est:", .written = 1};
        int64_t first_batch = 0, last_batch = 0;
        rc = mp_ledger_add_est_group(l, &proto, recs, nr, &first_batch, &last_batch);
        free(recs);
        if (rc == MP_OK) rc = audit_issued(s, jobs, n, o, first_batch, last_batch);
    }
    return rc;
}

/* Commit the group in one transaction, with the refusals noted meanwhile;
 * after a failure, each job alone. */
void serve_commit_group(mp_issuer *s, group *g)
{
    mp_ledger *l = s->cfg.ledger;
    uint64_t unrec[R_NREASONS];
    refusal *refs = serve_take_refusals(s, unrec);
    int rc = mp_ledger_begin(l);
    if (rc == MP_OK && (rc = record(s, g->jobs, g->n)) == MP_OK && (rc = serve_audit_refusals(s, refs, unrec)) == MP_OK) {
        rc = mp_ledger_commit(l);
    }
    mp_ledger_rollback(l);
    atomic_fetch_add(&s->m->commits, 1);
    if (rc == MP_OK) {
        serve_free_refusals(refs);
        for (size_t i = 0; i < g->n; i++) {
            if (g->jobs[i]->status == -1) g->jobs[i]->status = 201;
        }
        return;
    }
    serve_return_refusals(s, refs, unrec);
    for (size_t i = 0; i < g->n; i++) {
        job *j = g->jobs[i];
        if (j->status == -1) j->status = 0;
        /* quota refusals made during the failed attempt are decided again */
        if (j->status == 409 && j->reason == R_QUOTA && j->der_len > 0) j->status = 0;
    }
    for (size_t i = 0; i < g->n; i++) {
        job *j = g->jobs[i];
        if (!serve_pending(j)) continue;
        rc = mp_ledger_begin(l);
        if (rc == MP_OK && (rc = record(s, &g->jobs[i], 1)) == MP_OK) rc = mp_ledger_commit(l);
        mp_ledger_rollback(l);
        atomic_fetch_add(&s->m->commits, 1);
        if (rc == MP_OK) {
            if (j->status == -1) j->status = 201;
            continue;
        }
        mp_device d;
        mp_dac_row r;
        int found = 0, has = 0;
        if ((rc == MP_ERR_DUPLICATE || rc == MP_ERR_UNAUTHORIZED) &&
            mp_ledger_find_device_by_key(l, j->csr.point, &d, &found) == MP_OK && found && d.state == MP_DEV_ISSUED &&
            mp_ledger_get_dac(l, d.udid, &r, &has) == MP_OK && has && r.order_id == j->ord->is.order.id &&
            r.der_len > 0 && r.der_len <= sizeof(j->der)) {
            /* another request (another server) recorded this key's DAC
             * first: that DAC is the answer, as for a retry */
            memcpy(j->der, r.der, r.der_len);
            j->der_len = r.der_len;
            j->status = 200;
            atomic_fetch_add(&s->m->retried, 1);
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
