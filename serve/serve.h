/* serve.h - internals of `matter-pki serve`, shared by the HTTP side
 * (cmd_serve.c: one event-loop thread) and the issuing side (serve_issuer.c: one
 * ledger thread and N signing workers). */
#ifndef MP_SERVE_H
#define MP_SERVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

#include "est/est.h"
#include "ceremony.h"
#include "keystore.h"
#include "ledger.h"

enum job_kind { J_ENROLL, J_CACERTS, J_CSRATTRS };

/* Refusal reasons, the label of mp_refusals_total{reason=...} in /metrics. */
enum reason {
    R_CLIENT_CERT, R_STATION, R_RATE, R_BODY, R_CSR, R_KEY, R_NOT_LISTED, R_ORDER, R_QUOTA, R_ISSUED,
    R_NOT_FOUND, R_METHOD, R_UNAVAILABLE, R_INTERNAL, R_NREASONS
};
extern const char *const mp_serve_reason_names[R_NREASONS];

/* One request on its way from the event loop to the ledger thread and back. */
typedef struct job {
    struct job *next;
    struct evhttp_request *req;
    int kind;
    double t0;                 /* arrival, seconds (monotonic) */
    char order[64];            /* as named in the path: ID or label */
    char station[128];         /* CN of the client certificate */
    char station_serial[41];
    mp_est_csr csr;
    /* set by the ledger thread */
    int status;                /* HTTP status; 0 while pending */
    int reason;                /* enum reason when refused */
    char why[200];             /* one-line text/plain reason */
    uint8_t *body;             /* response body (DER, base64-encoded by the event loop) */
    size_t body_len;
    /* issuing (issuer threads only) */
    struct ord *ord;
    char udid[MP_UDID_MAX + 1];
    uint8_t serial[16];
    uint8_t der[700];
    size_t der_len;
    time_t not_before, not_after; /* the validity it was signed with */
    struct job *hnext;         /* in the issuer's table of keys in flight */
    struct job *followers;     /* requests for the same key that take this one's answer */
    struct job *fnext;
} job;

/* Refuse a job: HTTP status, reason label, one-line text. */
void mp_job_refuse(job *j, int status, int reason, const char *fmt, ...) MP_PRINTF(4, 5);

/* Settings and shared state of a server. */
typedef struct mp_serve_cfg {
    mp_ledger *ledger;         /* the commits (and the audit rows) */
    mp_ledger *ledger_rd;      /* the checks: a second connection that only reads */
    mp_ks *ks;
    int jobs;                  /* signing workers */
    int group_ms;              /* wait this long for a group to fill (0: no wait) */
    int test_mode;
    const char *paa_certs[8];  /* for cacerts: the PAA of each order's PAI */
    int n_paa;
    const mp_ceremony_cfg *rec; /* the ceremony log of the audit checkpoints every 1,000 rows (NULL: none) */
} mp_serve_cfg;

typedef struct mp_metrics {
    atomic_ullong requests[3];          /* enroll, cacerts, csrattrs */
    atomic_ullong issued, retried;      /* new DACs; DACs sent again to a retry */
    atomic_ullong refusals[R_NREASONS];
    atomic_ullong lat_bucket[12];       /* enrollment latency histogram */
    atomic_ullong lat_count;
    atomic_ullong lat_sum_us;
    atomic_ullong ledger_us, hsm_us, groups, grouped;
    atomic_ullong check_us, commit_us, commits;  /* ledger_us = check_us + commit_us */
    atomic_ullong audit_rows, audit_unrecorded;
    atomic_ullong connections, conn_refused;
} mp_metrics;
extern const double mp_serve_lat_bounds[12];

/* The issuing side: a ledger thread that takes jobs in groups of up to
 * MP_EST_MAX_GROUP, signs them with the workers and commits each group in
 * one transaction; finished jobs come back through done(). */
typedef struct mp_issuer mp_issuer;
int mp_issuer_start(const mp_serve_cfg *cfg, mp_metrics *m, void (*done)(void *ctx, job *j), void *ctx,
                    mp_issuer **out) MP_MUST_CHECK;
void mp_issuer_submit(mp_issuer *is, job *j);
/* Finish every submitted job, write the refusals noted, then stop the threads. */
void mp_issuer_stop(mp_issuer *is);
/* A refusal for the audit trail (any thread): written in batches, in the
 * next group's transaction or within MP_SERVE_AUDIT_MS. Beyond
 * MP_SERVE_AUDIT_MAX waiting, refusals are counted by reason into one
 * summary row instead. */
#define MP_SERVE_AUDIT_MS 200
#define MP_SERVE_AUDIT_MAX 4096
void mp_issuer_refusal(mp_issuer *is, const char *station, const char *order, int status, int reason, const char *why);

/* The single place where a station's standing is decided on the ledger
 * thread: its certificate is one the station CA issued and recorded, not
 * revoked; and when the station is in the stations table (station add,
 * order assign, or its first DAC), mp_ledger_station_check: enabled and,
 * when the order has station assignments, assigned to it. Returns 0, 403 or
 * 503 (ledger error) and why. */
int mp_serve_station_check(mp_ledger *l, const job *j, int64_t order_id, char *why, size_t why_len);

double mp_now(void);

#endif
