/*
 * issue.h - DAC issuance: the batch engine shared by chip-list batches and
 * off-chip key generation, its crash-safe file handling, and CSR mode.
 *
 * Crash safety: a chunk of devices is signed in memory, then recorded in the
 * ledger in one transaction, and only then are its files written by a writer
 * thread (each appears whole: mp_outdir_write; one syncfs per chunk) and
 * marked written in the ledger, in the transaction of a later chunk. A
 * run killed at any point leaves either nothing of a chunk (not committed:
 * its serials were never published) or a committed chunk whose files the
 * next run rewrites from the DER kept in the ledger. Off-chip private keys
 * (where they live and when they go: core/devsecret.h, the only code that
 * names or reads key files) are written to the run's staging folder
 * (DIR/.matter-pki.staging) and
 * synced BEFORE the commit (the ledger never holds private keys), then moved
 * beside their DAC after it; recovery removes only staging entries whose
 * UDID the ledger does not hold, never anything else in DIR. Recovery still
 * renames `UDID.key.der.pending` files that runs before schema v5 left.
 */
#ifndef MP_ISSUE_H
#define MP_ISSUE_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "ca.h"
#include "dac/dacgen.h"
#include "devsecret.h"
#include "ledger.h"
#include "outsink.h"

typedef struct mp_issue {
    mp_ledger *ledger;
    mp_ks *ks;
    mp_ca pai;
    mp_order order;
    mp_dac_tmpl tmpl;
    const char *out_dir;
    char out_abs[4096];
    char bundle_abs[4200]; /* --bundle: the file's absolute path (bundle points here) */
    const char *station;
    int jobs;
    int quiet;
    int generate_keys;   /* off-chip key pairs, made here */
    int64_t gen_list_id; /* the ledger list that records generated devices */
    /* Reservations: this run's lease on the devices it works on (a random
     * token), for lease_secs at a time; all_mode = every device up to the
     * quota, together with any other runs on the order. */
    char lease[33];
    long lease_secs;
    int all_mode;
    uint64_t lost;       /* devices whose lease was lost before their commit */
    size_t block;        /* devices reserved and signed per chunk (0: 2048) */
    int quota_race;      /* look again: all_mode, a commit met the quota another run had just
                          * taken; all_mode or --count N, devices lost their lease and went
                          * back to the pool (the run is short of its target) */
    int layout, name_by; /* outsink.h: flat | per-device, by UDID | serial */
    const char *bundle;  /* --bundle: absolute path of the JSON Lines file (out_dir is its folder) */
    mp_dac_run run;      /* the remembered run this one counts against (id 0: none) */
    /* called after each committed chunk, outside a transaction (NULL: none):
     * the CLI signs an audit checkpoint there when one is due */
    int (*on_commit)(void *ctx);
    void *on_commit_ctx;
    /* results */
    uint64_t issued, recovered_files, removed_files, removed_tmp, moved_keys, bundled_keys;
    /* where this thread (the ledger's) waited, ms: for the signing workers
     * and for the file writer; how long it signed itself (it is signer 0
     * with a worker per CPU, workers.h); with MATTER_PKI_LEDGER_STATS set,
     * written there as a line {"kind":"issue",...} at the end of each run */
    double sign_wait_ms, write_wait_ms, sign_self_ms, run_ms;
} mp_issue;

/* The private folder of a run's uncommitted files in its output folder:
 * off-chip keys before their DAC commits, and temporary names. Everything in
 * it was made by matter-pki; recovery removes only what is in it (and whose
 * device the ledger does not hold), never anything else in the folder. */
#define MP_STAGING MP_DEVSECRET_STAGING
int mp_issue_staging_open(const char *dir, mp_outdir *stage) MP_MUST_CHECK;

/* Open the order, its PAI (checked against the profile and the token key)
 * and build the DER template. A closed order opens too (its unfinished files
 * can still be recovered); mp_issue_check_open refuses it for issuance. */
int mp_issue_prepare(mp_issue *is, mp_ledger *l, mp_ks *ks, int64_t order_id, int test_mode) MP_MUST_CHECK;
int mp_issue_check_open(const mp_issue *is) MP_MUST_CHECK;
void mp_issue_release(mp_issue *is);

/* Finish what an interrupted run left: rewrite unwritten files from the
 * ledger, rename pending keys, remove leftovers the ledger does not know. */
int mp_issue_recover(mp_issue *is, int sweep_out_dir) MP_MUST_CHECK;

/* Issue to `count` devices: the next authorized ones (udids == NULL), or the
 * given UDIDs, or (generate_keys) newly generated ones. count is the whole
 * target: called again after quota_race, it asks for count - is->issued. */
int mp_issue_run(mp_issue *is, uint64_t count, char **udids, size_t n_udids) MP_MUST_CHECK;

/* MP_ERR_QUOTA: the run issued is->issued of the count asked. */
int mp_issue_short(const mp_issue *is, uint64_t count) MP_MUST_CHECK;

/* One DAC for a device: CN from the order's template, a fresh random serial,
 * built and signed by sg (the code every issuing path shares). */
int mp_issue_sign(const mp_issue *is, const mp_dac_signer *sg, const char *udid, const uint8_t point[static 65],
                  uint8_t serial[static 16], uint8_t *der, size_t *len) MP_MUST_CHECK;
/* Its ledger record (der borrowed; batch, path and station left to the caller). */
void mp_issue_rec(const mp_issue *is, const char *udid, const uint8_t serial[static 16], const uint8_t *der, size_t len,
                  mp_cert_rec *r);
/* Rebuild the template's validity from the order for DACs made now (orders
 * without --valid-from start at the time of issuance: long-running servers). */
int mp_issue_set_validity(mp_issue *is, time_t now) MP_MUST_CHECK;

/* CSR mode (issue_csr.c): one DAC for a device-made PKCS#10 request. */
int mp_issue_csr(mp_issue *is, const char *csr, const char *out, int force) MP_MUST_CHECK;

/* Batches of CSRs (issue_csrs.c): every request in the folder (PEM or DER
 * files) or PEM bundle is checked like --csr; a bad one gets one line
 * "refused WHERE: REASON" on report, one an earlier run issued into
 * is->out_dir a line "done WHERE: ..."; the rest are issued by mp_issue_run
 * (crash-safe, resumable). Returns MP_OK, or the first refusal's code once
 * the good ones are issued, or an error that stopped the run. */
int mp_issue_csr_batch(mp_issue *is, const char *dir, const char *bundle, FILE *report, uint64_t *queued,
                       size_t *refused, size_t *done) MP_MUST_CHECK;

/* issue_files.c: serial text (off-chip key files: devsecret.h). */
/* Serial as uppercase hex of the integer value (even length). */
void mp_serial_hex(const uint8_t serial[static 16], char out[41]);
/* The octets of that value (no leading zero octets; the ledger stores these): *len of them. */
const uint8_t *mp_serial_octets(const uint8_t serial[static 16], size_t *len);

#endif
