/* serve_refusals.c - refusals for the audit trail: noted by any thread
 * (mp_issuer_refusal), queued under the issuer's cmu, and written by the
 * committer, in a group's transaction or one of their own. Split from
 * serve_issuer.c. */
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

/* ---- refusals for the audit trail ---------------------------------------------------- */

void mp_issuer_refusal(mp_issuer *s, const char *station, const char *order, int status, int reason, const char *why)
{
    if (s == NULL) return;
    refusal *r = NULL;
    pthread_mutex_lock(&s->cmu);
    if (s->rqueued < MP_SERVE_AUDIT_MAX) r = malloc(sizeof(*r));
    if (r == NULL) {
        s->runrecorded[reason >= 0 && reason < R_NREASONS ? reason : R_INTERNAL]++;
    } else {
        r->next = NULL;
        r->status = status;
        r->reason = reason;
        snprintf(r->station, sizeof(r->station), "%s", station ? station : "");
        snprintf(r->order, sizeof(r->order), "%s", order ? order : "");
        snprintf(r->why, sizeof(r->why), "%s", why ? why : "");
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(r->at, sizeof(r->at), "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (s->rtail) s->rtail->next = r;
        else s->rhead = r;
        s->rtail = r;
        s->rqueued++;
    }
    pthread_mutex_unlock(&s->cmu);
}

/* Take the refusals noted so far (and the counts of those that did not fit). */
refusal *serve_take_refusals(mp_issuer *s, uint64_t unrec[R_NREASONS])
{
    pthread_mutex_lock(&s->cmu);
    refusal *r = s->rhead;
    s->rhead = s->rtail = NULL;
    s->rqueued = 0;
    memcpy(unrec, s->runrecorded, sizeof(s->runrecorded));
    memset(s->runrecorded, 0, sizeof(s->runrecorded));
    pthread_mutex_unlock(&s->cmu);
    return r;
}

/* Give them back (their transaction failed): first in line again. */
void serve_return_refusals(mp_issuer *s, refusal *r, const uint64_t unrec[R_NREASONS])
{
    pthread_mutex_lock(&s->cmu);
    if (r != NULL) {
        refusal *t = r;
        size_t k = 1;
        while (t->next) {
            t = t->next;
            k++;
        }
        t->next = s->rhead;
        if (s->rhead == NULL) s->rtail = t;
        s->rhead = r;
        s->rqueued += k;
    }
    for (int i = 0; i < R_NREASONS; i++) s->runrecorded[i] += unrec[i];
    pthread_mutex_unlock(&s->cmu);
}

void serve_free_refusals(refusal *r)
{
    while (r != NULL) {
        refusal *n = r->next;
        free(r);
        r = n;
    }
}

/* One audit row per refusal, in the caller's transaction; one summary row
 * for those that did not fit in the queue. */
int serve_audit_refusals(mp_issuer *s, const refusal *r, const uint64_t unrec[R_NREASONS])
{
    int rc = MP_OK;
    for (; rc == MP_OK && r != NULL; r = r->next) {
        mp_jw w;
        char objects[96];
        mp_jw_init(&w, 0, 320);
        mp_jw_open(&w);
        mp_jw_key_int(&w, "status", r->status);
        mp_jw_key_cstr(&w, "reason", mp_serve_reason_names[r->reason]);
        mp_jw_key_cstr(&w, "why", r->why);
        mp_jw_key_cstr(&w, "at", r->at);
        mp_jw_close(&w);
        size_t n = 0;
        char *detail = mp_jw_take(&w, &n);
        snprintf(objects, sizeof(objects), "order=%s", r->order[0] ? r->order : "-");
        rc = detail ? mp_ledger_audit(s->cfg.ledger, r->station, "est.refuse", objects, detail)
                    : mp_err(MP_ERR_GENERAL, "out of memory");
        free(detail);
        if (rc == MP_OK) atomic_fetch_add(&s->m->audit_rows, 1);
    }
    uint64_t total = 0;
    for (int i = 0; i < R_NREASONS; i++) total += unrec[i];
    if (rc == MP_OK && total > 0) {
        mp_jw w;
        mp_jw_init(&w, 0, 512);
        mp_jw_open(&w);
        mp_jw_key_int(&w, "count", (long long)total);
        for (int i = 0; i < R_NREASONS; i++) {
            if (unrec[i] > 0) mp_jw_key_int(&w, mp_serve_reason_names[i], (long long)unrec[i]);
        }
        mp_jw_close(&w);
        size_t n = 0;
        char *detail = mp_jw_take(&w, &n);
        rc = detail ? mp_ledger_audit(s->cfg.ledger, "", "est.refuse.summary", "", detail) : mp_err(MP_ERR_GENERAL, "out of memory");
        free(detail);
        if (rc == MP_OK) {
            atomic_fetch_add(&s->m->audit_rows, 1);
            atomic_fetch_add(&s->m->audit_unrecorded, total);
        }
    }
    return rc;
}

/* Write the refusals noted so far in a transaction of their own. */
void serve_flush_refusals(mp_issuer *s)
{
    uint64_t unrec[R_NREASONS];
    refusal *r = serve_take_refusals(s, unrec);
    int any = r != NULL;
    for (int i = 0; i < R_NREASONS; i++) any |= unrec[i] != 0;
    if (!any) return;
    mp_ledger *l = s->cfg.ledger;
    int rc = mp_ledger_begin(l);
    if (rc == MP_OK && (rc = serve_audit_refusals(s, r, unrec)) == MP_OK) rc = mp_ledger_commit(l);
    mp_ledger_rollback(l);
    if (rc != MP_OK) {
        fprintf(stderr, "matter-pki serve: writing refusals to the audit trail failed (will retry): %s\n", mp_err_msg());
        serve_return_refusals(s, r, unrec);
        return;
    }
    serve_free_refusals(r);
}
