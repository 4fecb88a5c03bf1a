/* serve_int.h - private to serve/: the issuer's shared state (orders, groups,
 * refusals, struct mp_issuer) and the functions its files share:
 * serve_issuer.c (threads and pipeline), serve_record.c (recording issued
 * DACs in the ledger), serve_refusals.c (refusals for the audit trail). */
#ifndef MP_SERVE_INT_H
#define MP_SERVE_INT_H

#include <stdint.h>
#include <time.h>

#include "audit_ckpt.h"
#include "dac/issue.h"
#include "serve/serve.h"
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

#define FLIGHT_BUCKETS 4096

typedef struct group {
    struct group *next;
    job *jobs[MP_EST_MAX_GROUP];
    size_t n;
} group;

/* A refusal waiting for the audit trail. */
typedef struct refusal {
    struct refusal *next;
    int status, reason;
    char station[128];
    char order[64];
    char why[200];
    char at[21];
} refusal;

struct mp_issuer {
    mp_serve_cfg cfg;
    mp_metrics *m;
    void (*done)(void *ctx, job *j);
    void *done_ctx;
    pthread_t th_check, th_commit;
    int started_check, started_commit;
    /* jobs in (event loop -> checker) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    size_t queued;
    int stop;
    /* signed groups (checker -> committer), keys in flight, refusals */
    pthread_mutex_t cmu;
    pthread_cond_t ccv, cspace;
    group *chead, *ctail;
    int cqueued, check_done;
    job *flight[FLIGHT_BUCKETS];
    refusal *rhead, *rtail;
    size_t rqueued;
    uint64_t runrecorded[R_NREASONS];
    /* checker only */
    ord *orders[MAX_ORDERS];
    int n_orders;
    mp_workers team;
    int worker_ids[MP_MAX_JOBS];
    void *states[MP_MAX_JOBS];
    /* committer only: an audit checkpoint every 1,000 rows (audit_ckpt.h) */
    mp_audit_every every;
};

/* A job still to be signed and recorded. */
static inline int serve_pending(const job *j) { return j->kind == J_ENROLL && j->status == 0; }

/* serve_refusals.c */
refusal *serve_take_refusals(mp_issuer *s, uint64_t unrec[R_NREASONS]);
void serve_return_refusals(mp_issuer *s, refusal *r, const uint64_t unrec[R_NREASONS]);
void serve_free_refusals(refusal *r);
int serve_audit_refusals(mp_issuer *s, const refusal *r, const uint64_t unrec[R_NREASONS]);
void serve_flush_refusals(mp_issuer *s);

/* serve_record.c (committer, write connection) */
void serve_commit_group(mp_issuer *s, group *g);

#endif
