/*
 * ledger.h - the device ledger: chip lists, devices, production orders,
 * issued certificates and revocations, stations, reservations and the audit
 * trail.
 *
 * Two backends behind these operations, chosen by the location: a file path
 * is SQLite (one station, `make demo`); a postgresql:// or postgres:// URI or
 * a libpq key=value string is PostgreSQL (many stations sharing one ledger).
 * The operations are written once in portable SQL on a thin driver
 * (ledger_int.h, ledger_db.c); both backends carry the same schema version.
 * Enforcement lives in the database: unique (udid, profile) and unique
 * serials are constraints, quotas conditional updates that are the last
 * statements of a transaction (the order row is locked only for the commit,
 * never across an HSM signature). No session state: PostgreSQL works through
 * pgbouncer in transaction mode.
 *
 * Every change happens inside mp_ledger_begin/commit; on any error the caller
 * rolls back, so an import or a batch chunk is all or nothing.
 *
 * A handle belongs to one thread at a time (the SQLite connection is opened
 * without its own mutex): batch commands keep it on their main thread.
 */
#ifndef MP_LEDGER_H
#define MP_LEDGER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

#define MP_UDID_MAX 64

/* RESERVED: held by a run's lease (mp_ledger_reserve) until it is issued,
 * released, or the lease expires (then any run may take it again). A device
 * row has it on PostgreSQL; on SQLite a span of `leases` holds the device and
 * its row stays AUTHORIZED (mp_ledger_reserve still reports RESERVED). */
enum mp_dev_state { MP_DEV_AUTHORIZED = 0, MP_DEV_ISSUED = 1, MP_DEV_REVOKED = 2, MP_DEV_RESERVED = 3 };

/* The chain profile of a DAC row: one DAC per device and profile (Matter 1.7
 * adds post-quantum chains sharing the P-256 DAC key). */
#define MP_PROFILE_DEFAULT "matter-p256"

/* mp_ledger_add_counted with a lease: the device's reservation expired or
 * went to another run; nothing was recorded for it (the transaction goes on). */
#define MP_ERR_LEASE_LOST MP_ERR_UNAUTHORIZED
enum mp_key_origin { MP_KEY_CHIP = 0, MP_KEY_OFFCHIP = 1 };

typedef struct mp_chip_list {
    int64_t id;
    char sha256[65];      /* of the exact file bytes */
    const char *format;   /* csv | json | birth-certs | generated */
    const char *source;   /* file name as given */
    int is_signed;        /* 1 = detached signature verified */
    const char *signer;   /* signer certificate subject + SHA-256, or "" */
    size_t count;
} mp_chip_list;

typedef struct mp_device {
    char udid[MP_UDID_MAX + 1];
    uint8_t point[65];
    int64_t list_id;
    int state;            /* mp_dev_state */
    int key_origin;       /* mp_key_origin */
} mp_device;

typedef struct mp_order {
    int64_t id;
    uint16_t vid, pid;
    char pai_cert[1024];  /* path as given at creation */
    char pai_key[256];    /* label or pkcs11: URI */
    char pai_skid[41];    /* uppercase hex */
    uint64_t quota, issued;
    char cn_template[128];
    time_t valid_from;    /* 0 = time of issuance */
    long days;            /* 0 = no expiry */
    int closed;
    char label[64];       /* "" = none; unique among orders (EST paths name it) */
} mp_order;

/* A batch of certificates written to one folder by one run (a chunk of
 * `dac issue`, or one CSR): its files are confirmed written all at once. */
typedef struct mp_dac_batch {
    int64_t id;           /* set by mp_ledger_add_batch */
    int64_t order_id;
    const char *pai_skid;
    time_t not_before, not_after;
    const char *dir;      /* absolute folder of its UDID.der files */
    const char *station;
    int written;          /* recorded as written already (no files to write: serve) */
} mp_dac_batch;

typedef struct mp_cert_rec {
    int64_t batch;        /* its mp_dac_batch (0 in mp_ledger_add_cert: a batch of its own) */
    char serial[41];      /* uppercase hex of the integer value */
    char udid[MP_UDID_MAX + 1];
    int64_t order_id;
    char pai_skid[41];
    time_t not_before, not_after;
    char sha256[65];
    const uint8_t *der;   /* borrowed */
    size_t der_len;
    const char *path;     /* output file; NULL when it is UDID.der in the batch's folder */
    const char *station;
    const char *lease;    /* mp_ledger_add_counted: the run's lease on a reserved device (NULL: an authorized one) */
    /* mp_ledger_add_counted: serial and sha256 as octets, when the caller has
     * them (NULL: parsed from the hex above, which must say the same) */
    const uint8_t *serial_bin;
    size_t serial_bin_len;
    const uint8_t *sha256_bin;
    const char *dir;      /* read back: its batch's folder (the run's output folder) */
} mp_cert_rec;

typedef struct mp_ledger mp_ledger;

/* Is this location PostgreSQL (a URI or key=value string)? Does it carry a
 * password (refused on the command line)? */
int mp_ledger_is_pg_location(const char *loc);
int mp_ledger_location_has_password(const char *loc);

/* Open (creating and migrating the schema as needed): the low-level call
 * for tests and tools; commands use mp_ledger_open_as (ledger_id.c). */
int mp_ledger_open(const char *path, mp_ledger **out) MP_MUST_CHECK;
/* The same with flags: MP_LEDGER_F_CREATE allows a new file and schema
 * (without it a missing file or one without a ledger schema is
 * MP_ERR_NO_STATE); MP_LEDGER_F_RO opens read-only (no migration; works on
 * read-only media). */
#define MP_LEDGER_F_CREATE 1
#define MP_LEDGER_F_RO 2
int mp_ledger_open_flags(const char *path, int flags, mp_ledger **out) MP_MUST_CHECK;

/* How a command opens its ledger: `path` (a --ledger value: refused with
 * MP_ERR_USAGE when it holds a password), else $MATTER_PKI_LEDGER, else
 * STATE_DIR/ledger.sqlite. A PostgreSQL ledger (an empty database) gets its
 * schema in the write modes. A ledger is created only in MP_LEDGER_CREATE mode and only
 * where no file exists; a missing or empty ledger is MP_ERR_NO_STATE naming
 * the path; a ledger bound to another PKI than the state directory's
 * (state.h) is MP_ERR_NO_STATE. MP_LEDGER_READ never writes. */
enum mp_ledger_mode { MP_LEDGER_WRITE = 0, MP_LEDGER_READ = 1, MP_LEDGER_CREATE = 2 };
int mp_ledger_open_as(const char *state_dir, const char *path, int mode, mp_ledger **out) MP_MUST_CHECK;
/* mp_ledger_open_as(state_dir, path, MP_LEDGER_WRITE, out). */
int mp_ledger_open_state(const char *state_dir, const char *path, mp_ledger **out) MP_MUST_CHECK;
/* The ledger's meta table (key/value text), e.g. "pki_id". */
int mp_ledger_meta_get(mp_ledger *l, const char *key, char *val, size_t cap, int *found) MP_MUST_CHECK;
int mp_ledger_meta_set(mp_ledger *l, const char *key, const char *val) MP_MUST_CHECK;
void mp_ledger_close(mp_ledger *l);
const char *mp_ledger_path(const mp_ledger *l);

int mp_ledger_begin(mp_ledger *l) MP_MUST_CHECK;
int mp_ledger_commit(mp_ledger *l) MP_MUST_CHECK;
void mp_ledger_rollback(mp_ledger *l);

/* Chip lists and devices (inside a transaction). */
int mp_ledger_list_known(mp_ledger *l, const char *sha256, int *known) MP_MUST_CHECK;
int mp_ledger_add_list(mp_ledger *l, mp_chip_list *list) MP_MUST_CHECK; /* sets list->id */
int mp_ledger_set_list_count(mp_ledger *l, int64_t list_id, size_t count) MP_MUST_CHECK;
/* Adds one device; MP_ERR_DUPLICATE (message names which field clashes and
 * whether with the ledger or within the same list) when the UDID or key exists. */
int mp_ledger_add_device(mp_ledger *l, const mp_device *d) MP_MUST_CHECK;
int mp_ledger_get_device(mp_ledger *l, const char *udid, mp_device *d, int *found) MP_MUST_CHECK;
int mp_ledger_find_device_by_key(mp_ledger *l, const uint8_t point[static 65], mp_device *d,
                                 int *found) MP_MUST_CHECK;

/* Production orders. */
int mp_ledger_add_order(mp_ledger *l, mp_order *o) MP_MUST_CHECK; /* sets o->id */
int mp_ledger_get_order(mp_ledger *l, int64_t id, mp_order *o) MP_MUST_CHECK;
int mp_ledger_close_order(mp_ledger *l, int64_t id) MP_MUST_CHECK;
/* An order by its decimal ID or its label (MP_ERR_INVALID when neither). */
int mp_ledger_find_order(mp_ledger *l, const char *ref, mp_order *o) MP_MUST_CHECK;
int mp_ledger_each_order(mp_ledger *l, int (*cb)(void *ctx, const mp_order *o), void *ctx) MP_MUST_CHECK;

/* Issuance. Authorized chip devices without a DAC (reserved ones too). */
int mp_ledger_count_authorized(mp_ledger *l, uint64_t *n) MP_MUST_CHECK;
/* Record one certificate in a batch of its own (its fields from c, the
 * folder from c->path), mark the device issued and count it against the
 * order; refuses past the quota (MP_ERR_QUOTA) or a reused serial. */
int mp_ledger_add_cert(mp_ledger *l, mp_cert_rec *c) MP_MUST_CHECK; /* sets c->batch */
/* Batches: count n certificates against the order at once (MP_ERR_QUOTA when
 * fewer are left or it is closed), add the batch, then each certificate with
 * mp_ledger_add_counted (c->batch set), all in one transaction. */
int mp_ledger_take_quota(mp_ledger *l, int64_t order_id, uint64_t n) MP_MUST_CHECK;
/* The same for a station: its sub-quota on the order (when the order has
 * station assignments) and its enabled flag, in conditional updates, then the
 * order's quota last. MP_ERR_QUOTA / MP_ERR_UNAUTHORIZED name what refused. */
int mp_ledger_take_quota_station(mp_ledger *l, int64_t order_id, const char *station, uint64_t n) MP_MUST_CHECK;
/* Its first half, the station's count and sub-quota (mp_ledger_take_quota
 * must follow in the same transaction, last). */
int mp_ledger_count_station(mp_ledger *l, int64_t order_id, const char *station, uint64_t n) MP_MUST_CHECK;
/* The same for k stations at once (serve: one group of requests), with the
 * order's assignments read once and its quota taken once for the total;
 * *failed = the index of the station refused (k when the order's quota was). */
int mp_ledger_take_quota_stations(mp_ledger *l, int64_t order_id, const char *const *stations, const uint64_t *n, size_t k,
                                  size_t *failed) MP_MUST_CHECK;
int mp_ledger_add_batch(mp_ledger *l, mp_dac_batch *b) MP_MUST_CHECK; /* sets b->id */
int mp_ledger_add_counted(mp_ledger *l, const mp_cert_rec *c) MP_MUST_CHECK;
/* The same for n certificates of one batch (c[k].batch, order and lease the
 * same for all): a device whose lease was lost gets lost[k] = 1 and nothing
 * recorded, the others are recorded (each once: a reused UDID or serial fails
 * the call, MP_ERR_DUPLICATE, and the caller rolls back). On PostgreSQL with a
 * lease, one set-based statement for the whole chunk. */
int mp_ledger_add_counted_many(mp_ledger *l, const mp_cert_rec *c, size_t n, uint8_t *lost) MP_MUST_CHECK;
/* Files: the certificates of the order's batches whose files are not
 * confirmed written, batch by batch (c->path always set), and the mark. */
int mp_ledger_each_unwritten(mp_ledger *l, int64_t order_id,
                             int (*cb)(void *ctx, const mp_cert_rec *c), void *ctx) MP_MUST_CHECK;
int mp_ledger_batch_written(mp_ledger *l, int64_t batch) MP_MUST_CHECK;
/* Is there a certificate for this UDID (any order)? sha256 receives its hash. */
int mp_ledger_cert_for_udid(mp_ledger *l, const char *udid, char sha256[65], int *found) MP_MUST_CHECK;

/* The DAC of a device (any order): its DER (MP_DAC_MAX_DER bytes), order and station. */
typedef struct mp_dac_row {
    int64_t order_id;
    uint8_t der[700];
    size_t der_len;
    char station[128];
} mp_dac_row;
int mp_ledger_get_dac(mp_ledger *l, const char *udid, mp_dac_row *r, int *found) MP_MUST_CHECK;

/* Station certificates (`station issue`/`station revoke`), keyed by serial
 * (uppercase hex of the integer value), for the station CRL and the server. */
typedef struct mp_station_cert {
    char serial[41];
    char name[128];
    time_t not_after;
    int revoked;
    time_t revoked_at;
} mp_station_cert;
/* Both append an audit row (station.cert.issue; station.cert.revoke when
 * *n > 0) in the caller's transaction. */
int mp_ledger_add_station_cert(mp_ledger *l, const mp_station_cert *c) MP_MUST_CHECK;
/* Revoke every certificate of station `name`; *n receives how many were not revoked yet. */
int mp_ledger_revoke_station(mp_ledger *l, const char *name, uint64_t *n) MP_MUST_CHECK;
int mp_ledger_get_station_cert(mp_ledger *l, const char *serial, mp_station_cert *c, int *found) MP_MUST_CHECK;

/* ---- a group of EST requests at once (ledger_est.c; one statement each on
 * PostgreSQL, per-row operations on SQLite) -------------------------------- */
/* The devices of n public keys: found[i] = 0 for a key on no list. */
int mp_ledger_devices_by_keys(mp_ledger *l, const uint8_t *const *points, size_t n, mp_device *out, int *found) MP_MUST_CHECK;
/* A station's standing for an order, read only: its certificate serials[i]
 * (cert_found, cert), whether names[i] is in the stations table (exists) and
 * then whether it may issue for the order (enabled and, when the order has
 * assignments, assigned; why says what it may not). */
typedef struct mp_station_standing {
    int cert_found;
    mp_station_cert cert;
    int exists, allowed;
    char why[200];
} mp_station_standing;
int mp_ledger_stations_standing(mp_ledger *l, int64_t order_id, const char *const *serials, const char *const *names,
                                size_t n, mp_station_standing *out) MP_MUST_CHECK;
/* Record n DACs of one order (recs[i].station set; proto: the order's batch
 * fields) in the caller's transaction: one batch per station, marked
 * written; the stations counted (refused when disabled or over a sub-quota),
 * the order's quota taken once; the devices moved from authorized to issued.
 * *first and *last: the batch IDs made. MP_ERR_UNAUTHORIZED (a station
 * refused, a device not authorized), MP_ERR_QUOTA, MP_ERR_DUPLICATE: the
 * caller rolls back. */
int mp_ledger_add_est_group(mp_ledger *l, const mp_dac_batch *proto, const mp_cert_rec *recs, size_t n, int64_t *first,
                            int64_t *last) MP_MUST_CHECK;
int mp_ledger_each_station_revoked(mp_ledger *l, int (*cb)(void *ctx, const mp_station_cert *c), void *ctx) MP_MUST_CHECK;

/* Revocation. */
int mp_ledger_revoke(mp_ledger *l, const char *serial, const char *reason) MP_MUST_CHECK;
/* Revoked serials of certificates issued under the PAI with this SKID. */
int mp_ledger_each_revoked(mp_ledger *l, const char *pai_skid,
                           int (*cb)(void *ctx, const char *serial, time_t when, const char *reason),
                           void *ctx) MP_MUST_CHECK;
int mp_ledger_next_crl_number(mp_ledger *l, const char *pai_skid, uint64_t *n) MP_MUST_CHECK;

/* Factory data: the values generated for a device, so that a rebuild gives
 * the same credentials. The passcode only when recording was asked for. */
typedef struct mp_fd_rec {
    char udid[MP_UDID_MAX + 1];
    int64_t order_id;
    char serial[33];
    uint16_t discriminator;
    uint32_t iterations;
    uint8_t salt[32];
    size_t salt_len;
    uint8_t verifier[97];
    uint8_t rd_uid[32];
    size_t rd_uid_len;
    int has_passcode;
    uint32_t passcode;
    char mfg_date[17];
    int written;
} mp_fd_rec;

/* An issued device of an order, for the factory-data stage. */
typedef struct mp_issued {
    char udid[MP_UDID_MAX + 1];
    int key_origin;
    char serial[41];        /* DAC serial */
    uint8_t der[700];
    size_t der_len;
    char path[1024];        /* where dac issue wrote the DAC */
    char dir[1024];         /* its batch's folder ("" when not recorded) */
} mp_issued;

int mp_ledger_next_issued(mp_ledger *l, int64_t order_id, const char *after, size_t max,
                          mp_issued *out, size_t *n) MP_MUST_CHECK;
int mp_ledger_count_issued(mp_ledger *l, int64_t order_id, int key_origin, uint64_t *n) MP_MUST_CHECK;
int mp_ledger_add_fd(mp_ledger *l, const mp_fd_rec *r) MP_MUST_CHECK;
int mp_ledger_get_fd(mp_ledger *l, const char *udid, mp_fd_rec *r, int *found) MP_MUST_CHECK;
int mp_ledger_fd_written(mp_ledger *l, const char *udid) MP_MUST_CHECK;
int mp_ledger_count_fd(mp_ledger *l, int64_t order_id, uint64_t *n) MP_MUST_CHECK;

/* Several `factory-data build` runs on one order (each in its own folder):
 * a run claims a device without factory data under its lease before making
 * its credentials (*got = 0: a live run of another folder has it), takes
 * {seq} numbers in blocks (mp_ledger_serial_take: a killed run leaves a gap,
 * never a repeat), and confirms each claim in the transaction that
 * records the device (*ok = 0: the claim expired and another run took it).
 * A confirmed claim keeps the folder (mp_ledger_fd_dir): only that folder's
 * runs rebuild the device's files. */
int mp_ledger_fd_claim(mp_ledger *l, const char *lease, time_t until, const char *dir, const char *udid, int *got) MP_MUST_CHECK;
int mp_ledger_fd_confirm(mp_ledger *l, const char *udid, const char *lease, int *ok) MP_MUST_CHECK;
int mp_ledger_fd_release(mp_ledger *l, const char *lease) MP_MUST_CHECK;
int mp_ledger_fd_dir(mp_ledger *l, const char *udid, char *dir, size_t cap, int *found) MP_MUST_CHECK;
/* Factory-data line-readiness (issues 13/14). Tables of the schema (v9;
 * created on first use before it): fd_images(udid, format, sha256) - the
 * SHA-256 of every image built; serial_counters(template, next) - where
 * {seq} of a serial template goes on across orders; a UNIQUE index on
 * factory_data(rd_uid). */
/* Record the SHA-256 (hex) of a device's image in a format; *recorded
 * receives the one recorded before ("" when none; it is then kept: the
 * caller compares). */
int mp_ledger_fd_image(mp_ledger *l, const char *udid, const char *format, const char sha256[65],
                       char recorded[65]) MP_MUST_CHECK;
/* The images recorded for a device: cb(format, sha256) per fd_images row. */
int mp_ledger_fd_images(mp_ledger *l, const char *udid, int (*cb)(void *ctx, const char *format, const char *sha256),
                        void *ctx) MP_MUST_CHECK;
/* The device that already has this serial / rd_uid in factory_data ("" when none). */
int mp_ledger_fd_serial_owner(mp_ledger *l, const char *serial, char udid[MP_UDID_MAX + 1]) MP_MUST_CHECK;
int mp_ledger_fd_rd_uid_owner(mp_ledger *l, const uint8_t *rd_uid, size_t len, char udid[MP_UDID_MAX + 1]) MP_MUST_CHECK;
/* The next {seq} of a serial template (*found 0 when the template has none)
 * and its update (never moves back). */
int mp_ledger_serial_next(mp_ledger *l, const char *tmpl, uint64_t *next, int *found) MP_MUST_CHECK;
int mp_ledger_serial_advance(mp_ledger *l, const char *tmpl, uint64_t next) MP_MUST_CHECK;
/* Take n consecutive {seq} numbers of a template at once (not below floor):
 * *first is the first; runs at once get disjoint blocks. */
int mp_ledger_serial_take(mp_ledger *l, const char *tmpl, uint64_t floor, uint64_t n, uint64_t *first) MP_MUST_CHECK;
/* The device's state (enum mp_dev_state) and whether its DAC belongs to
 * order_id; *found 0 for an unknown UDID. */
int mp_ledger_device_in_order(mp_ledger *l, const char *udid, int64_t order_id, int *state, int *in_order,
                              int *found) MP_MUST_CHECK;

/* DACs issued by another PKI (`dac import`, issue 18). Their order's pai_key
 * is MP_PAI_KEY_EXTERNAL: it records, it never signs. */
#define MP_PAI_KEY_EXTERNAL "external:"
/* Raise an external order's quota by n (the imported DACs are then counted
 * with mp_ledger_take_quota as any batch). MP_ERR_INVALID when the order is
 * not an open external order. */
int mp_ledger_grow_external_quota(mp_ledger *l, int64_t order_id, uint64_t n) MP_MUST_CHECK;
/* Is the order external (its pai_key MP_PAI_KEY_EXTERNAL)? */
int mp_order_is_external(const mp_order *o);

/* Reports. */
int mp_ledger_each_cert(mp_ledger *l, int (*cb)(void *ctx, const mp_cert_rec *c), void *ctx) MP_MUST_CHECK;
typedef struct mp_ledger_counts {
    uint64_t lists, devices, authorized, issued, revoked, offchip;
} mp_ledger_counts;
int mp_ledger_counts_get(mp_ledger *l, mp_ledger_counts *c) MP_MUST_CHECK;

/* The recorded file of the UDID's certificate and its order (found = 0 if it
 * has none; order_id may be NULL). */
int mp_ledger_cert_path(mp_ledger *l, const char *udid, char *path, size_t cap, int64_t *order_id,
                        int *found) MP_MUST_CHECK;

/* Runs of `dac issue` with a target (--count N, or --generate-keys up to the
 * quota), remembered per order and output folder (schema 6) so that the same
 * command re-run after an interruption finishes the remainder: at most one
 * open run per (order, folder); each chunk's transaction counts its DACs
 * against the run (never past its target); a run is finished (closed) when
 * the command that completes it exits. */
typedef struct mp_dac_run {
    int64_t id;           /* set by mp_ledger_run_start */
    int64_t order_id;
    const char *dir;      /* absolute output folder */
    int generate;         /* --generate-keys */
    uint64_t target, issued;
    const char *station;
} mp_dac_run;
/* The open run of this order and folder (found = 0 if none); r->dir must
 * point at the folder; on return target, issued, generate and id are set. */
int mp_ledger_run_get(mp_ledger *l, int64_t order_id, const char *dir, mp_dac_run *r, int *found) MP_MUST_CHECK;
/* Inside a transaction: a new open run (issued 0). */
int mp_ledger_run_start(mp_ledger *l, mp_dac_run *r) MP_MUST_CHECK;
/* Inside a chunk's transaction: n more DACs of the run; MP_ERR_QUOTA past its target. */
int mp_ledger_run_count(mp_ledger *l, int64_t run_id, uint64_t n) MP_MUST_CHECK;
/* Inside a transaction: the run is complete (a later command starts a new one). */
int mp_ledger_run_finish(mp_ledger *l, int64_t run_id) MP_MUST_CHECK;

/* ---- Credential lifecycle (issue 19): CA revocations, published CRLs and
 * the DCL records exported last, on both backends. Their tables are in the
 * schema (v9; SQLite ledgers before it created them on first use). */

/* Record the revocation of a CA certificate (a PAI) under the issuer (the
 * PAA) whose SKID is issuer_skid, with its audit row (inside a
 * transaction); listed by mp_ledger_each_revoked(issuer). MP_ERR_DUPLICATE
 * when that serial is already revoked. */
int mp_ledger_revoke_ca(mp_ledger *l, const char *issuer_skid, const char *serial,
                        const char *reason) MP_MUST_CHECK;

/* The last CRL signed for an issuer: the issuer (whose certificates it
 * lists) and the signer (the issuer itself or a delegated CRL signer). */
typedef struct mp_crl_rec {
    char issuer_skid[41];
    const uint8_t *issuer_der;  /* borrowed */
    size_t issuer_len;
    const uint8_t *signer_der;  /* borrowed; = issuer when not delegated */
    size_t signer_len;
    uint64_t number;
    time_t this_update, next_update;
} mp_crl_rec;
/* Replace the issuer's record (inside a transaction). */
int mp_ledger_crl_record(mp_ledger *l, const mp_crl_rec *r) MP_MUST_CHECK;
int mp_ledger_each_crl(mp_ledger *l, int (*cb)(void *ctx, const mp_crl_rec *r), void *ctx) MP_MUST_CHECK;

/* DCL records as exported last, by key (e.g. "model/FFF2/8001"), as JSON
 * text. get: *json is malloc'd (NULL and *found 0 when absent). */
int mp_ledger_dcl_get(mp_ledger *l, const char *key, char **json, int *found) MP_MUST_CHECK;
int mp_ledger_dcl_put(mp_ledger *l, const char *key, const char *json) MP_MUST_CHECK;
int mp_ledger_dcl_delete(mp_ledger *l, const char *key) MP_MUST_CHECK;
/* Every stored record whose key starts with prefix, in key order. */
int mp_ledger_dcl_each(mp_ledger *l, const char *prefix,
                       int (*cb)(void *ctx, const char *key, const char *json), void *ctx) MP_MUST_CHECK;

/* ---- reservations (many runs, one order) ----------------------------------
 * A run reserves the devices it works on under a lease (a random token of
 * the run) that expires at `until`: expired reservations of any run return to
 * the pool first. PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED on device rows
 * (state RESERVED); SQLite, under its single writer: spans of UDIDs in the
 * `leases` table, the free devices between two UDIDs (state stays AUTHORIZED;
 * see ledger_station.c). At most what the order (and the
 * station's sub-quota) has left beyond the live reservations of other runs
 * is reserved. Each call is its own short transaction. */
int mp_ledger_reserve(mp_ledger *l, int64_t order_id, const char *station, const char *lease, time_t until,
                      size_t max, mp_device *out, size_t *n) MP_MUST_CHECK;
/* One named device (--udid): *got = 0 when it has a DAC or another live run holds it. */
int mp_ledger_reserve_udid(mp_ledger *l, int64_t order_id, const char *lease, time_t until, const char *udid,
                           mp_device *d, int *got) MP_MUST_CHECK;
/* Give back every device this lease still holds (the unused part of a block). */
int mp_ledger_release(mp_ledger *l, const char *lease) MP_MUST_CHECK;
/* Extend the lease of this run's reservations (long runs). */
int mp_ledger_renew(mp_ledger *l, const char *lease, time_t until) MP_MUST_CHECK;

/* ---- stations ------------------------------------------------------------ */
typedef struct mp_station {
    char name[65];
    int enabled;
    uint64_t issued;
    char created_at[21];
} mp_station;
#define MP_STATION_MAX 64
/* A station name: 1-64 of [A-Za-z0-9._-]. */
int mp_station_name_ok(const char *name);
/* Add (MP_ERR_DUPLICATE if it exists), disable (MP_ERR_INVALID if unknown). */
int mp_ledger_station_add(mp_ledger *l, const char *name) MP_MUST_CHECK;
int mp_ledger_station_disable(mp_ledger *l, const char *name) MP_MUST_CHECK;
int mp_ledger_each_station(mp_ledger *l, int (*cb)(void *ctx, const mp_station *s), void *ctx) MP_MUST_CHECK;
/* A run's station: registered on first use (enabled), refused when disabled
 * (MP_ERR_UNAUTHORIZED) or, when the order has station assignments, not
 * assigned to it (MP_ERR_UNAUTHORIZED). Its own transaction. A registered
 * station is only read (no write lock taken). */
int mp_ledger_station_check(mp_ledger *l, const char *name, int64_t order_id) MP_MUST_CHECK;
/* Is the station in the stations table (without registering it)? */
int mp_ledger_station_exists(mp_ledger *l, const char *name, int *found) MP_MUST_CHECK;
/* order assign: a per-station sub-quota of an order (replaces an earlier one;
 * not below what the station already issued on it). */
int mp_ledger_order_assign(mp_ledger *l, int64_t order_id, const char *station, uint64_t quota) MP_MUST_CHECK;
typedef struct mp_station_count {
    int64_t order_id;
    char station[65];
    uint64_t issued;
    int64_t quota; /* -1: no sub-quota */
} mp_station_count;
/* Certificates per order and station (with the sub-quotas). */
int mp_ledger_each_station_count(mp_ledger *l, int (*cb)(void *ctx, const mp_station_count *c), void *ctx) MP_MUST_CHECK;

/* Copy every row of src into dst, which must be empty (`ledger migrate`),
 * with its IDs and the audit chain as it is, in one transaction on dst, and
 * verify each table read back (rows and SHA-256); then an audit row
 * `ledger.migrate` on dst. *rows: rows copied. MP_ERR_EXISTS if dst is not
 * empty. */
int mp_ledger_copy(mp_ledger *src, mp_ledger *dst, uint64_t *rows) MP_MUST_CHECK;

/* ---- audit trail ------------------------------------------------------------
 * Append-only (a trigger refuses UPDATE and DELETE), hash-chained: hash =
 * SHA-256(prev || canonical row) where the canonical row is
 * "seq\nat\nstation\noperator\nevent\nobjects\ndetail". Appends serialize on
 * the one-row table audit_head (inside the caller's transaction). */
typedef struct mp_audit_row {
    int64_t seq;
    char at[21];
    const char *station, *operator_, *event, *objects, *detail;
    uint8_t prev[32], hash[32];
} mp_audit_row;
int mp_ledger_audit(mp_ledger *l, const char *station, const char *event, const char *objects,
                    const char *detail_json) MP_MUST_CHECK;
/* Recompute the chain: *bad = the first bad sequence number (0: all good),
 * why names what is wrong. */
int mp_ledger_audit_verify(mp_ledger *l, int64_t *bad, char *why, size_t why_cap, uint64_t *rows) MP_MUST_CHECK;
int mp_ledger_each_audit(mp_ledger *l, int (*cb)(void *ctx, const mp_audit_row *r), void *ctx) MP_MUST_CHECK;
/* Checkpoints: an ECDSA P-256 signature by the audit key in the HSM (its own
 * key, never the PAA's or a PAI's) over SHA-256("matter-pki audit
 * checkpoint v1\n" seq "\n" hex(hash) "\n" time) of the trail's head. The
 * key's public point is kept in audit_keys; `audit init --out` also writes it
 * to a file that `audit verify --audit-key` pins. */
typedef struct mp_audit_key {
    int64_t id;
    char label[128];
    char skid[41];
    uint8_t point[65];
} mp_audit_key;
int mp_ledger_audit_key_add(mp_ledger *l, const char *label, const char *skid, const uint8_t point[static 65], int64_t *id) MP_MUST_CHECK;
/* The newest audit key; *found = 0 when none was made (`audit init`). */
int mp_ledger_audit_key(mp_ledger *l, mp_audit_key *k, int *found) MP_MUST_CHECK;
int mp_ledger_audit_head(mp_ledger *l, int64_t *seq, uint8_t hash[static 32]) MP_MUST_CHECK;
typedef struct mp_audit_checkpoint {
    int64_t seq, key_id;
    uint8_t hash[32];
    char at[21];
    uint8_t sig[80];
    size_t sig_len;
} mp_audit_checkpoint;
int mp_ledger_checkpoint_add(mp_ledger *l, const mp_audit_checkpoint *c) MP_MUST_CHECK;
int mp_ledger_each_checkpoint(mp_ledger *l, int (*cb)(void *ctx, const mp_audit_checkpoint *c), void *ctx) MP_MUST_CHECK;
/* The digest a checkpoint signs. */
void mp_audit_checkpoint_digest(const mp_audit_checkpoint *c, uint8_t out[static 32]);

/* The station of a run that names none: $MATTER_PKI_STATION, else the host name. */
const char *mp_ledger_station_default(void);
/* The operator recorded in audit rows: $MATTER_PKI_OPERATOR, else the login name. */
const char *mp_ledger_operator(void);

#endif
