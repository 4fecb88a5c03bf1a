/* ledger_sqlite.c - the ledger's operations (see ledger.h), written once in
 * portable SQL on the driver of ledger_db.c: the same code runs on an SQLite
 * file (WAL mode, synchronous=FULL, foreign keys on) and on PostgreSQL. The
 * schema is versioned in `meta` and migrated by mp_ledger_open. Production
 * orders (create, get, find, close, list) are in ledger_orders.c. */
#include "ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "ledger_int.h"
#include "util.h"

enum {
    S_LIST_KNOWN, S_ADD_LIST, S_LIST_COUNT, S_ADD_DEV, S_GET_DEV, S_DEV_BY_KEY,
    S_COUNT_AUTH, S_ORDER_INC, S_DEV_ISSUE,
    S_ADD_BATCH, S_ADD_CERT, S_UNWRITTEN, S_BATCH_WRITTEN, S_CERT_UDID, S_REVOKE_FIND, S_REVOKE_ADD,
    S_REVOKE_DEV, S_EACH_REVOKED, S_CRL_NUM, S_CRL_SET, S_EACH_CERT, S_DEV_ISSUE_LEASED, S_GET_DAC,
    S_ST_ADD, S_ST_REVOKE, S_ST_GET, S_ST_EACH_REVOKED, S_DEV_ISSUE_HELD, S_NSTMT
};

/* A certificate as row_cert reads it (c = dacs, b = its dac_batches row). */
#define CERT_COLS "hex(c.serial),c.udid,c.order_id,b.pai_skid,b.not_before,b.not_after,lower(hex(c.sha256)),c.der," \
                  CERT_PATH ",b.station,c.batch,b.dir"

static const char *const sql[S_NSTMT] = {
    [S_LIST_KNOWN] = "SELECT 1 FROM chip_lists WHERE sha256=?",
    [S_ADD_LIST] = "INSERT INTO chip_lists(sha256,format,source,signed,signer,count,imported_at) VALUES(?,?,?,?,?,0,?) RETURNING id",
    [S_LIST_COUNT] = "UPDATE chip_lists SET count=? WHERE id=?",
    [S_ADD_DEV] = "INSERT INTO devices(udid,pubkey,list_id,state,key_origin,created_at) VALUES(?,?,?,?,?,?)",
    [S_GET_DEV] = "SELECT udid,pubkey,list_id,state,key_origin FROM devices WHERE udid=?",
    [S_DEV_BY_KEY] = "SELECT udid,pubkey,list_id,state,key_origin FROM devices WHERE pubkey=?",
    /* reserved ones too: authorized and without a DAC (a run may give them back) */
    [S_COUNT_AUTH] = "SELECT count(*) FROM devices WHERE state IN (0,3) AND key_origin=0",
    /* the order's quota: the last statement of an issuing transaction, so
     * the order row is locked only for the commit */
    [S_ORDER_INC] = "UPDATE orders SET issued=issued+?2 WHERE id=?1 AND issued+?2<=quota AND closed=0 RETURNING issued",
    /* not while a run holds it (SQLite: in a live span of `leases`;
     * PostgreSQL: state 3, and its `leases` is empty) */
    [S_DEV_ISSUE] = "UPDATE devices SET state=1 WHERE udid=?1 AND state=0"
                    " AND NOT EXISTS(SELECT 1 FROM leases WHERE lo<=?1 AND hi>=?1 AND until>=?2)",
    /* SQLite, a reserved device: only while a live span of this run's lease holds it */
    [S_DEV_ISSUE_LEASED] = "UPDATE devices SET state=1 WHERE udid=?1 AND state=0"
                           " AND EXISTS(SELECT 1 FROM leases WHERE lease=?2 AND lo<=?1 AND hi>=?1 AND until>=?3)",
    /* SQLite, a chunk: the caller found the device in a live span of this run's lease */
    [S_DEV_ISSUE_HELD] = "UPDATE devices SET state=1 WHERE udid=?1 AND state=0",
    [S_ADD_BATCH] = "INSERT INTO dac_batches(order_id,pai_skid,not_before,not_after,dir,station,issued_at,written)"
                    " VALUES(?,?,?,?,?,?,?,?) RETURNING id",
    [S_ADD_CERT] = "INSERT INTO dacs(udid,order_id,batch,serial,sha256,der,path) VALUES(?,?,?,?,?,?,?)",
    [S_UNWRITTEN] = "SELECT " CERT_COLS " FROM dac_batches b JOIN dacs c ON c.batch=b.id"
                    " WHERE b.order_id=? AND b.written=0 ORDER BY b.id",
    [S_BATCH_WRITTEN] = "UPDATE dac_batches SET written=1 WHERE id=?",
    [S_CERT_UDID] = "SELECT lower(hex(sha256)) FROM dacs WHERE udid=?",
    [S_REVOKE_FIND] = "SELECT b.pai_skid,c.udid FROM dacs c JOIN dac_batches b ON b.id=c.batch WHERE c.serial=?",
    [S_REVOKE_ADD] = "INSERT INTO revocations(serial,pai_skid,reason,revoked_at) VALUES(?,?,?,?)",
    [S_REVOKE_DEV] = "UPDATE devices SET state=2 WHERE udid=?",
    [S_EACH_REVOKED] = "SELECT serial,revoked_at,reason FROM revocations WHERE pai_skid=? ORDER BY serial",
    [S_CRL_NUM] = "SELECT next FROM crl_numbers WHERE pai_skid=?",
    [S_CRL_SET] = "INSERT INTO crl_numbers(pai_skid,next) VALUES(?,?) ON CONFLICT(pai_skid) DO UPDATE SET next=excluded.next",
    [S_GET_DAC] = "SELECT c.order_id,c.der,b.station FROM dacs c JOIN dac_batches b ON b.id=c.batch WHERE c.udid=?",
    [S_ST_ADD] = "INSERT INTO station_certs(serial,name,not_after,issued_at) VALUES(?,?,?,?)",
    [S_ST_REVOKE] = "UPDATE station_certs SET revoked_at=? WHERE name=? AND revoked_at IS NULL",
    [S_ST_GET] = "SELECT serial,name,not_after,revoked_at FROM station_certs WHERE serial=?",
    [S_ST_EACH_REVOKED] = "SELECT serial,name,not_after,revoked_at FROM station_certs WHERE revoked_at IS NOT NULL ORDER BY serial",
    [S_EACH_CERT] = "SELECT " CERT_COLS " FROM dacs c JOIN dac_batches b ON b.id=c.batch ORDER BY c.order_id,c.udid",
};

static mp_q *stmt(mp_ledger *l, int i)
{
    return mp_q_get(l, sql[i]);
}

static int db_err(mp_ledger *l, const char *what)
{
    return mp_ledger_err(l, what);
}

void mp_ledger_now_iso(char out[21])
{
    mp_time_iso(time(NULL), out);
}

int mp_ledger_step_done(mp_ledger *l, mp_q *s, const char *what)
{
    return s != NULL && mp_q_step(s) >= 0 ? MP_OK : db_err(l, what);
}

int mp_ledger_step_id(mp_ledger *l, mp_q *s, const char *what, int64_t *id)
{
    int r = mp_q_step(s);
    if (r < 0) return db_err(l, what);
    *id = r == 1 ? mp_q_int(s, 0) : 0;
    mp_q_reset(s);
    return r == 1 ? MP_OK : mp_err(MP_ERR_DB, "ledger %s: %s: no row returned", mp_ledger_path(l), what);
}

void mp_ledger_copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

int mp_ledger_list_known(mp_ledger *l, const char *sha256, int *known)
{
    mp_q *s = stmt(l, S_LIST_KNOWN);
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, sha256);
    int r = mp_q_step(s);
    *known = r == 1;
    mp_q_reset(s);
    return r >= 0 ? MP_OK : db_err(l, "list lookup");
}

int mp_ledger_add_list(mp_ledger *l, mp_chip_list *list)
{
    char now[21];
    mp_q *s = stmt(l, S_ADD_LIST);
    if (s == NULL) return MP_ERR_DB;
    mp_ledger_now_iso(now);
    mp_q_txt(s, 1, list->sha256);
    mp_q_txt(s, 2, list->format);
    mp_q_txt(s, 3, list->source ? list->source : "");
    mp_q_i64(s, 4, list->is_signed);
    mp_q_txt(s, 5, list->signer ? list->signer : "");
    mp_q_txt(s, 6, now);
    if (mp_q_step(s) != 1) {
        if (mp_ledger_conflict(l, "chip_lists", "sha256")) {
            return mp_err(MP_ERR_DUPLICATE, "this chip list (SHA-256 %s) was already imported", list->sha256);
        }
        return db_err(l, "add chip list");
    }
    list->id = mp_q_int(s, 0);
    mp_q_reset(s);
    return MP_OK;
}

int mp_ledger_set_list_count(mp_ledger *l, int64_t id, size_t count)
{
    char obj[48], detail[64];
    mp_q *s = stmt(l, S_LIST_COUNT);
    if (s == NULL) return MP_ERR_DB;
    mp_q_i64(s, 1, (int64_t)count);
    mp_q_i64(s, 2, id);
    int rc = mp_ledger_step_done(l, s, "set list count");
    snprintf(obj, sizeof(obj), "list=%lld", (long long)id);
    snprintf(detail, sizeof(detail), "{\"count\":%zu}", count);
    return rc == MP_OK ? mp_ledger_audit(l, mp_ledger_station_default(), "chips.import", obj, detail) : rc;
}

void mp_ledger_row_device(mp_q *s, mp_device *d)
{
    size_t n = 0;
    const uint8_t *p;
    memset(d, 0, sizeof(*d));
    mp_ledger_copy_text(d->udid, sizeof(d->udid), mp_q_text(s, 0));
    if ((p = mp_q_bytes(s, 1, &n)) != NULL && n == 65) {
        memcpy(d->point, p, 65);
    }
    d->list_id = mp_q_int(s, 2);
    d->state = (int)mp_q_int(s, 3);
    d->key_origin = (int)mp_q_int(s, 4);
}

static int dev_lookup(mp_ledger *l, int which, const void *key, int keylen, mp_device *d, int *found)
{
    mp_q *s = stmt(l, which);
    if (s == NULL) return MP_ERR_DB;
    if (which == S_GET_DEV) {
        mp_q_txt(s, 1, key);
    } else {
        mp_q_blob(s, 1, key, (size_t)keylen);
    }
    int r = mp_q_step(s);
    *found = r == 1;
    if (*found && d != NULL) {
        mp_ledger_row_device(s, d);
    }
    mp_q_reset(s); /* a statement left on a row keeps a read transaction open */
    return r >= 0 ? MP_OK : db_err(l, "device lookup");
}

int mp_ledger_get_device(mp_ledger *l, const char *udid, mp_device *d, int *found)
{
    return dev_lookup(l, S_GET_DEV, udid, -1, d, found);
}

int mp_ledger_find_device_by_key(mp_ledger *l, const uint8_t point[static 65], mp_device *d, int *found)
{
    return dev_lookup(l, S_DEV_BY_KEY, point, 65, d, found);
}

static int duplicate_device(mp_ledger *l, const mp_device *d)
{
    mp_device other;
    int found = 0;
    if (mp_ledger_is_pg(l)) {
        /* the failed statement ended the transaction: no lookups; the
         * constraint says which field clashed */
        if (mp_ledger_conflict(l, "devices", "pubkey")) {
            return mp_err(MP_ERR_DUPLICATE, "duplicate public key: UDID %s has the same key as another device"
                          " (earlier in the same list or already in the ledger)", d->udid);
        }
        return mp_err(MP_ERR_DUPLICATE, "duplicate UDID %s (earlier in the same list or already in the ledger)", d->udid);
    }
    if (mp_ledger_get_device(l, d->udid, &other, &found) == MP_OK && found) {
        return mp_err(MP_ERR_DUPLICATE, "duplicate UDID %s (%s)", d->udid,
                      other.list_id == d->list_id ? "earlier in the same list" : "already in the ledger from another list");
    }
    if (mp_ledger_find_device_by_key(l, d->point, &other, &found) == MP_OK && found) {
        return mp_err(MP_ERR_DUPLICATE, "duplicate public key: UDID %s has the same key as %s (%s)", d->udid, other.udid,
                      other.list_id == d->list_id ? "earlier in the same list" : "already in the ledger");
    }
    return db_err(l, "add device");
}

/* The schema 6 rule: another device's UDID equals this one ignoring case. */
static int case_duplicate(mp_ledger *l, const mp_device *d)
{
    if (mp_ledger_is_pg(l)) {
        return mp_err(MP_ERR_DUPLICATE, "duplicate UDID %s: differs only in case from another device (earlier in the same"
                      " list or already in the ledger); UDIDs are unique ignoring case", d->udid);
    }
    static const char q[] = "SELECT udid,list_id FROM devices WHERE udid=?1 COLLATE NOCASE AND udid<>?1 LIMIT 1";
    mp_q *s = mp_q_get(l, q);
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, d->udid);
    if (mp_q_step(s) != 1) {
        mp_q_reset(s);
        return db_err(l, "add device");
    }
    int rc = mp_err(MP_ERR_DUPLICATE, "duplicate UDID %s: differs only in case from %s (%s); UDIDs are unique ignoring case",
                    d->udid, mp_q_text(s, 0), mp_q_int(s, 1) == d->list_id ? "earlier in the same list" : "already in the ledger");
    mp_q_reset(s);
    return rc;
}

int mp_ledger_add_device(mp_ledger *l, const mp_device *d)
{
    char now[21];
    mp_q *s = stmt(l, S_ADD_DEV);
    if (s == NULL) return MP_ERR_DB;
    mp_ledger_now_iso(now);
    mp_q_txt(s, 1, d->udid);
    mp_q_blob(s, 2, d->point, 65);
    if (d->list_id > 0) {
        mp_q_i64(s, 3, d->list_id);
    } else {
        mp_q_null(s, 3);
    }
    mp_q_i64(s, 4, d->state);
    mp_q_i64(s, 5, d->key_origin);
    mp_q_txt(s, 6, now);
    if (mp_q_step(s) < 0) {
        /* UDIDs are unique ignoring case (schema 6: a trigger on SQLite, a
         * unique index on PostgreSQL) */
        if (mp_ledger_conflict(l, "devices", "udid_nocase") ||
            (!mp_ledger_is_pg(l) && strstr(sqlite3_errmsg(mp_ledger_db(l)), "differs only in case") != NULL)) {
            return case_duplicate(l, d);
        }
        return mp_ledger_conflict(l, NULL, NULL) ? duplicate_device(l, d) : db_err(l, "add device");
    }
    return MP_OK;
}

int mp_ledger_count_authorized(mp_ledger *l, uint64_t *n)
{
    int64_t v = 0;
    mp_q *s = stmt(l, S_COUNT_AUTH);
    if (s == NULL) return MP_ERR_DB;
    int rc = mp_ledger_step_id(l, s, "count", &v);
    *n = (uint64_t)v;
    return rc;
}

int mp_ledger_take_quota(mp_ledger *l, int64_t order_id, uint64_t n)
{
    mp_q *s = stmt(l, S_ORDER_INC);
    if (s == NULL) return MP_ERR_DB;
    mp_q_i64(s, 1, order_id);
    mp_q_i64(s, 2, (int64_t)n);
    int r = mp_q_step(s);
    mp_q_reset(s);
    if (r < 0) return db_err(l, "count against order");
    if (r == 0) {
        return mp_err(MP_ERR_QUOTA, "production order %lld is closed or has fewer than %llu of its quota left",
                      (long long)order_id, (unsigned long long)n);
    }
    return MP_OK;
}

int mp_ledger_add_batch(mp_ledger *l, mp_dac_batch *b)
{
    char now[21];
    mp_q *s = stmt(l, S_ADD_BATCH);
    if (s == NULL) return MP_ERR_DB;
    mp_ledger_now_iso(now);
    mp_q_i64(s, 1, b->order_id);
    mp_q_txt(s, 2, b->pai_skid);
    mp_q_i64(s, 3, (int64_t)b->not_before);
    mp_q_i64(s, 4, (int64_t)b->not_after);
    mp_q_txt(s, 5, b->dir ? b->dir : "");
    mp_q_txt(s, 6, b->station ? b->station : "");
    mp_q_txt(s, 7, now);
    mp_q_i64(s, 8, b->written ? 1 : 0);
    return mp_ledger_step_id(l, s, "add batch", &b->id);
}

int mp_ledger_add_cert(mp_ledger *l, mp_cert_rec *c)
{
    char dir[4096] = "";
    const char *slash = c->path ? strrchr(c->path, '/') : NULL;
    if (slash != NULL) {
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - c->path), c->path);
    }
    mp_dac_batch b = {.order_id = c->order_id, .pai_skid = c->pai_skid, .not_before = c->not_before,
                      .not_after = c->not_after, .dir = dir, .station = c->station};
    int rc = mp_ledger_add_batch(l, &b);
    if (rc == MP_OK) {
        c->batch = b.id;
        rc = mp_ledger_add_counted(l, c);
    }
    if (rc == MP_OK) {
        rc = c->station != NULL && *c->station ? mp_ledger_take_quota_station(l, c->order_id, c->station, 1)
                                               : mp_ledger_take_quota(l, c->order_id, 1);
    }
    return rc;
}

/* The certificate's serial and SHA-256 as octets: the caller's, or parsed from its hex. */
static int rec_octets(const mp_cert_rec *c, uint8_t sbuf[20], uint8_t hbuf[32], const uint8_t **serial, long *sn,
                      const uint8_t **hash)
{
    long hn = 32;
    *serial = sbuf;
    *hash = hbuf;
    if (c->serial_bin != NULL && c->serial_bin_len > 0 && c->serial_bin_len <= 20) {
        *serial = c->serial_bin; /* a chunk of `dac issue`: no hex round trip per device */
        *sn = (long)c->serial_bin_len;
    } else {
        *sn = mp_ledger_unhex(c->serial, sbuf, 20);
    }
    if (c->sha256_bin != NULL) {
        *hash = c->sha256_bin;
    } else {
        hn = mp_ledger_unhex(c->sha256, hbuf, 32);
    }
    if (*sn <= 0 || hn <= 0) {
        return mp_err(MP_ERR_INVALID, "certificate of %s: serial '%s' or SHA-256 is not hex", c->udid, c->serial);
    }
    return MP_OK;
}

/* Why a certificate row was refused: the device's DAC or the serial is there already. */
static int cert_refused(mp_ledger *l, const mp_cert_rec *c)
{
    if (mp_ledger_conflict(l, "dacs", "udid")) {
        return mp_err(MP_ERR_DUPLICATE, "device %s already has a certificate in the ledger", c->udid);
    }
    if (mp_ledger_conflict(l, NULL, NULL)) {
        return mp_err(MP_ERR_DUPLICATE, "serial %s was already used", c->serial);
    }
    return db_err(l, "add certificate");
}

static int lease_lost(const mp_cert_rec *c)
{
    return mp_err(MP_ERR_LEASE_LOST, "device %s: this run's reservation expired (lease lost) before its DAC"
                  " was recorded; nothing recorded for it", c->udid);
}

/* Bind the certificate row's columns, ?1 (the UDID) to ?7. */
static void bind_cert(mp_q *s, const mp_cert_rec *c, const uint8_t *serial, long sn, const uint8_t *hash)
{
    mp_q_txt(s, 1, c->udid);
    mp_q_i64(s, 2, c->order_id);
    mp_q_i64(s, 3, c->batch);
    mp_q_blob(s, 4, serial, (size_t)sn);
    mp_q_blob(s, 5, hash, 32);
    mp_q_blob(s, 6, c->der, c->der_len);
    if (c->path != NULL && *c->path) {
        mp_q_txt(s, 7, c->path);
    } else {
        mp_q_null(s, 7);
    }
}

/* PostgreSQL, a leased device in one round trip: it moves to issued only
 * while this run's lease holds, and the certificate row goes in only if it did. */
static int add_counted_pg(mp_ledger *l, const mp_cert_rec *c, const uint8_t *serial, long sn, const uint8_t *hash)
{
    mp_q *s = mp_q_get(l, "WITH u AS (UPDATE devices SET state=1,lease=NULL,lease_until=NULL,lease_order=NULL"
                          " WHERE udid=?1 AND state=3 AND lease=?8 AND lease_until>=?9 RETURNING udid)"
                          " INSERT INTO dacs(udid,order_id,batch,serial,sha256,der,path) SELECT udid,?2,?3,?4,?5,?6,?7 FROM u");
    if (s == NULL) return MP_ERR_DB;
    bind_cert(s, c, serial, sn, hash);
    mp_q_txt(s, 8, c->lease);
    mp_q_i64(s, 9, (int64_t)time(NULL));
    if (mp_q_step(s) < 0) return cert_refused(l, c);
    return mp_q_changes(s) == 1 ? MP_OK : lease_lost(c);
}

/* The device moves to issued by statement `which` (S_DEV_ISSUE: not while a
 * run holds it; S_DEV_ISSUE_LEASED: only while this run's span does;
 * S_DEV_ISSUE_HELD: the caller checked the span), then its certificate row. */
static int issue_row(mp_ledger *l, const mp_cert_rec *c, int which)
{
    uint8_t sbuf[20], hbuf[32];
    const uint8_t *serial, *hash;
    long sn;
    int rc = rec_octets(c, sbuf, hbuf, &serial, &sn, &hash);
    if (rc != MP_OK) return rc;
    if (c->lease != NULL && mp_ledger_is_pg(l)) return add_counted_pg(l, c, serial, sn, hash);
    mp_q *s = stmt(l, which);
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, c->udid);
    if (which == S_DEV_ISSUE_LEASED) {
        mp_q_txt(s, 2, c->lease);
        mp_q_i64(s, 3, (int64_t)time(NULL));
    } else if (which == S_DEV_ISSUE) {
        mp_q_i64(s, 2, (int64_t)time(NULL));
    }
    if (mp_ledger_step_done(l, s, "mark device issued") != MP_OK) return MP_ERR_DB;
    if (mp_q_changes(s) != 1) {
        if (c->lease != NULL) return lease_lost(c);
        return mp_err(MP_ERR_UNAUTHORIZED, "device %s is not authorized or already has a DAC", c->udid);
    }
    if ((s = stmt(l, S_ADD_CERT)) == NULL) return MP_ERR_DB;
    bind_cert(s, c, serial, sn, hash);
    return mp_q_step(s) < 0 ? cert_refused(l, c) : MP_OK;
}

int mp_ledger_add_counted(mp_ledger *l, const mp_cert_rec *c)
{
    return issue_row(l, c, c->lease != NULL ? S_DEV_ISSUE_LEASED : S_DEV_ISSUE);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* PostgreSQL, leased devices: one statement for the chunk. The devices move
 * to issued only while this run's lease holds (a conditional update), the
 * certificate rows go in only for the devices that moved, and the constraints
 * (unique UDID and profile, unique serial) refuse a duplicate: the whole
 * statement then fails and the caller rolls back. */
static int add_counted_set(mp_ledger *l, const mp_cert_rec *c, size_t n, uint8_t *lost)
{
    static const char q[] =
        "WITH v AS (SELECT * FROM unnest(?1::text[],?2::bytea[],?3::bytea[],?4::bytea[],?5::text[]) AS v(udid,serial,sha256,der,path)),"
        " u AS (UPDATE devices d SET state=1,lease=NULL,lease_until=NULL,lease_order=NULL FROM v"
        " WHERE d.udid=v.udid AND d.state=3 AND d.lease=?6 AND d.lease_until>=?7 RETURNING d.udid)"
        " INSERT INTO dacs(udid,order_id,batch,serial,sha256,der,path)"
        " SELECT v.udid,?8,?9,v.serial,v.sha256,v.der,v.path FROM v JOIN u ON u.udid=v.udid RETURNING udid";
    int rc = MP_OK;
    const void **udid = calloc(n, sizeof(void *)), **ser = calloc(n, sizeof(void *)), **sha = calloc(n, sizeof(void *));
    const void **der = calloc(n, sizeof(void *)), **path = calloc(n, sizeof(void *));
    size_t *ser_n = calloc(n, sizeof(size_t)), *sha_n = calloc(n, sizeof(size_t)), *der_n = calloc(n, sizeof(size_t));
    uint8_t *bin = calloc(n, 52);
    char **got = calloc(n, sizeof(char *));
    size_t ngot = 0;
    if (!udid || !ser || !sha || !der || !path || !ser_n || !sha_n || !der_n || !bin || !got) {
        rc = mp_err(MP_ERR_GENERAL, "out of memory");
        goto end;
    }
    for (size_t k = 0; k < n; k++) {
        const uint8_t *sp, *hp;
        long sn;
        if ((rc = rec_octets(&c[k], bin + 52 * k, bin + 52 * k + 20, &sp, &sn, &hp)) != MP_OK) goto end;
        udid[k] = c[k].udid;
        ser[k] = sp;
        ser_n[k] = (size_t)sn;
        sha[k] = hp;
        sha_n[k] = 32;
        der[k] = c[k].der;
        der_n[k] = c[k].der_len;
        path[k] = c[k].path != NULL && *c[k].path ? c[k].path : NULL;
    }
    mp_q *s = mp_q_get(l, q);
    if (s == NULL) {
        rc = MP_ERR_DB;
        goto end;
    }
    if ((rc = mp_q_array(s, 1, MP_OID_TEXT, udid, NULL, n)) != MP_OK || (rc = mp_q_array(s, 2, MP_OID_BYTEA, ser, ser_n, n)) != MP_OK ||
        (rc = mp_q_array(s, 3, MP_OID_BYTEA, sha, sha_n, n)) != MP_OK || (rc = mp_q_array(s, 4, MP_OID_BYTEA, der, der_n, n)) != MP_OK ||
        (rc = mp_q_array(s, 5, MP_OID_TEXT, path, NULL, n)) != MP_OK) {
        goto end;
    }
    mp_q_txt(s, 6, c[0].lease);
    mp_q_i64(s, 7, (int64_t)time(NULL));
    mp_q_i64(s, 8, c[0].order_id);
    mp_q_i64(s, 9, c[0].batch);
    int r;
    while ((r = mp_q_step(s)) == 1) {
        const char *u = mp_q_text(s, 0);
        if (ngot < n && u != NULL && (got[ngot] = strdup(u)) != NULL) ngot++;
    }
    if (r < 0) {
        if (mp_ledger_conflict(l, "dacs", "udid")) {
            rc = mp_err(MP_ERR_DUPLICATE, "a device of this chunk already has a certificate in the ledger (%s)", mp_ledger_last_detail(l));
        } else if (mp_ledger_conflict(l, NULL, NULL)) {
            rc = mp_err(MP_ERR_DUPLICATE, "a serial of this chunk was already used (%s)", mp_ledger_last_detail(l));
        } else {
            rc = db_err(l, "add certificates");
        }
        goto end;
    }
    qsort(got, ngot, sizeof(char *), cmp_str);
    for (size_t k = 0; k < n; k++) {
        const char *key = c[k].udid;
        lost[k] = bsearch(&key, got, ngot, sizeof(char *), cmp_str) == NULL;
    }
end:
    for (size_t k = 0; got != NULL && k < ngot; k++) free(got[k]);
    free(got);
    free(udid);
    free(ser);
    free(sha);
    free(der);
    free(path);
    free(ser_n);
    free(sha_n);
    free(der_n);
    free(bin);
    return rc;
}

/* SQLite, a chunk under one lease: the run's live spans are read once (the
 * transaction holds SQLite's only write lock, so they cannot change under
 * it); a device outside them lost its lease and is skipped. */
static int add_counted_spans(mp_ledger *l, const mp_cert_rec *c, size_t n, uint8_t *lost)
{
    mp_span *sp = NULL;
    size_t ns = 0;
    int rc = mp_ledger_spans(l, c[0].order_id, c[0].lease, 1, &sp, &ns);
    for (size_t k = 0; rc == MP_OK && k < n; k++) {
        size_t i = 0;
        while (i < ns && !(strcmp(sp[i].lo, c[k].udid) <= 0 && strcmp(c[k].udid, sp[i].hi) <= 0)) i++;
        if (i == ns || c[k].lease == NULL || strcmp(c[k].lease, c[0].lease) != 0) {
            lost[k] = 1;
            continue;
        }
        rc = issue_row(l, &c[k], S_DEV_ISSUE_HELD);
        lost[k] = rc == MP_ERR_LEASE_LOST;
        if (lost[k]) rc = MP_OK;
    }
    free(sp);
    return rc;
}

int mp_ledger_add_counted_many(mp_ledger *l, const mp_cert_rec *c, size_t n, uint8_t *lost)
{
    if (n == 0) return MP_OK;
    if (c[0].lease != NULL) {
        return mp_ledger_is_pg(l) ? add_counted_set(l, c, n, lost) : add_counted_spans(l, c, n, lost);
    }
    for (size_t k = 0; k < n; k++) {
        int rc = mp_ledger_add_counted(l, &c[k]);
        lost[k] = rc == MP_ERR_LEASE_LOST && c[k].lease != NULL;
        if (rc != MP_OK && !lost[k]) return rc;
    }
    return MP_OK;
}

static void row_cert(mp_q *s, mp_cert_rec *c)
{
    memset(c, 0, sizeof(*c));
    mp_ledger_copy_text(c->serial, sizeof(c->serial), mp_q_text(s, 0));
    mp_ledger_copy_text(c->udid, sizeof(c->udid), mp_q_text(s, 1));
    c->order_id = mp_q_int(s, 2);
    mp_ledger_copy_text(c->pai_skid, sizeof(c->pai_skid), mp_q_text(s, 3));
    c->not_before = (time_t)mp_q_int(s, 4);
    c->not_after = (time_t)mp_q_int(s, 5);
    mp_ledger_copy_text(c->sha256, sizeof(c->sha256), mp_q_text(s, 6));
    c->der = mp_q_bytes(s, 7, &c->der_len);
    c->path = mp_q_text(s, 8);
    c->station = mp_q_text(s, 9);
    c->batch = mp_q_int(s, 10);
    c->dir = mp_q_text(s, 11);
}

static int each_cert(mp_ledger *l, mp_q *s, int (*cb)(void *, const mp_cert_rec *), void *ctx)
{
    int r = 0, rc = MP_OK;
    while (rc == MP_OK && (r = mp_q_step(s)) == 1) {
        mp_cert_rec c;
        row_cert(s, &c);
        rc = cb(ctx, &c);
    }
    if (rc == MP_OK && r < 0) {
        rc = db_err(l, "read certificates");
    }
    mp_q_reset(s);
    return rc;
}

int mp_ledger_each_unwritten(mp_ledger *l, int64_t order_id, int (*cb)(void *, const mp_cert_rec *), void *ctx)
{
    mp_q *s = stmt(l, S_UNWRITTEN);
    if (s == NULL) return MP_ERR_DB;
    mp_q_i64(s, 1, order_id);
    return each_cert(l, s, cb, ctx);
}

int mp_ledger_each_cert(mp_ledger *l, int (*cb)(void *, const mp_cert_rec *), void *ctx)
{
    mp_q *s = stmt(l, S_EACH_CERT);
    if (s == NULL) return MP_ERR_DB;
    return each_cert(l, s, cb, ctx);
}

int mp_ledger_batch_written(mp_ledger *l, int64_t batch)
{
    mp_q *s = stmt(l, S_BATCH_WRITTEN);
    if (s == NULL) return MP_ERR_DB;
    mp_q_i64(s, 1, batch);
    return mp_ledger_step_done(l, s, "mark written");
}

int mp_ledger_cert_for_udid(mp_ledger *l, const char *udid, char sha256[65], int *found)
{
    mp_q *s = stmt(l, S_CERT_UDID);
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, udid);
    int r = mp_q_step(s);
    *found = r == 1;
    if (*found) {
        mp_ledger_copy_text(sha256, 65, mp_q_text(s, 0));
    }
    mp_q_reset(s);
    return r >= 0 ? MP_OK : db_err(l, "certificate lookup");
}

int mp_ledger_get_dac(mp_ledger *l, const char *udid, mp_dac_row *r, int *found)
{
    mp_q *s = stmt(l, S_GET_DAC);
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, udid);
    int x = mp_q_step(s);
    *found = x == 1;
    if (*found) {
        size_t n = 0;
        const uint8_t *der = mp_q_bytes(s, 1, &n);
        r->order_id = mp_q_int(s, 0);
        r->der_len = der != NULL && n <= sizeof(r->der) ? n : 0;
        if (r->der_len) memcpy(r->der, der, r->der_len);
        mp_ledger_copy_text(r->station, sizeof(r->station), mp_q_text(s, 2));
    }
    mp_q_reset(s);
    return x >= 0 ? MP_OK : db_err(l, "DAC lookup");
}

int mp_ledger_add_station_cert(mp_ledger *l, const mp_station_cert *c)
{
    char now[21];
    mp_q *s = stmt(l, S_ST_ADD);
    if (s == NULL) return MP_ERR_DB;
    mp_ledger_now_iso(now);
    mp_q_txt(s, 1, c->serial);
    mp_q_txt(s, 2, c->name);
    mp_q_i64(s, 3, (int64_t)c->not_after);
    mp_q_txt(s, 4, now);
    int rc = mp_ledger_step_done(l, s, "add station certificate");
    mp_q_reset(s);
    if (rc == MP_OK) {
        char obj[200], detail[48];
        snprintf(obj, sizeof(obj), "station=%s serial=%s", c->name, c->serial);
        snprintf(detail, sizeof(detail), "{\"not_after\":%lld}", (long long)c->not_after);
        rc = mp_ledger_audit(l, c->name, "station.cert.issue", obj, detail);
    }
    return rc;
}

int mp_ledger_revoke_station(mp_ledger *l, const char *name, uint64_t *n)
{
    mp_q *s = stmt(l, S_ST_REVOKE);
    if (s == NULL) return MP_ERR_DB;
    mp_q_i64(s, 1, (int64_t)time(NULL));
    mp_q_txt(s, 2, name);
    int rc = mp_ledger_step_done(l, s, "revoke station");
    *n = rc == MP_OK ? (uint64_t)mp_q_changes(s) : 0;
    mp_q_reset(s);
    if (rc == MP_OK && *n > 0) {
        char obj[96], detail[48];
        snprintf(obj, sizeof(obj), "station=%s", name);
        snprintf(detail, sizeof(detail), "{\"certificates\":%llu}", (unsigned long long)*n);
        rc = mp_ledger_audit(l, name, "station.cert.revoke", obj, detail);
    }
    return rc;
}

static void row_station(mp_q *s, mp_station_cert *c)
{
    memset(c, 0, sizeof(*c));
    mp_ledger_copy_text(c->serial, sizeof(c->serial), mp_q_text(s, 0));
    mp_ledger_copy_text(c->name, sizeof(c->name), mp_q_text(s, 1));
    c->not_after = (time_t)mp_q_int(s, 2);
    c->revoked = !mp_q_isnull(s, 3);
    c->revoked_at = c->revoked ? (time_t)mp_q_int(s, 3) : 0;
}

int mp_ledger_get_station_cert(mp_ledger *l, const char *serial, mp_station_cert *c, int *found)
{
    mp_q *s = stmt(l, S_ST_GET);
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, serial);
    int x = mp_q_step(s);
    *found = x == 1;
    if (*found) {
        row_station(s, c);
    }
    mp_q_reset(s);
    return x >= 0 ? MP_OK : db_err(l, "station certificate lookup");
}

static int station_row(mp_q *s, mp_q_cb cb, void *ctx)
{
    mp_station_cert c;
    row_station(s, &c);
    return ((int (*)(void *, const mp_station_cert *))cb)(ctx, &c);
}

int mp_ledger_each_station_revoked(mp_ledger *l, int (*cb)(void *, const mp_station_cert *), void *ctx)
{
    return mp_q_each(l, stmt(l, S_ST_EACH_REVOKED), station_row, (mp_q_cb)cb, ctx, "list revoked stations");
}

int mp_ledger_revoke(mp_ledger *l, const char *serial, const char *reason)
{
    char skid[41], udid[MP_UDID_MAX + 1];
    uint8_t sb[20];
    long sn = mp_ledger_unhex(serial, sb, sizeof(sb));
    if (sn <= 0) {
        return mp_err(MP_ERR_INVALID, "serial '%s': expected hex of at most 20 bytes", serial);
    }
    mp_q *s = stmt(l, S_REVOKE_FIND);
    if (s == NULL) return MP_ERR_DB;
    mp_q_blob(s, 1, sb, (size_t)sn);
    int r = mp_q_step(s);
    if (r != 1) {
        mp_q_reset(s);
        return r == 0 ? mp_err(MP_ERR_INVALID, "no certificate with serial %s in the ledger", serial)
                      : db_err(l, "find certificate");
    }
    mp_ledger_copy_text(skid, sizeof(skid), mp_q_text(s, 0));
    mp_ledger_copy_text(udid, sizeof(udid), mp_q_text(s, 1));
    mp_q_reset(s); /* serials are unique in the ledger */
    if ((s = stmt(l, S_REVOKE_ADD)) == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, serial);
    mp_q_txt(s, 2, skid);
    mp_q_txt(s, 3, reason);
    mp_q_i64(s, 4, (int64_t)time(NULL));
    if (mp_q_step(s) < 0) {
        return mp_ledger_conflict(l, NULL, NULL) ? mp_err(MP_ERR_DUPLICATE, "serial %s is already revoked", serial)
                                                 : db_err(l, "revoke");
    }
    if ((s = stmt(l, S_REVOKE_DEV)) == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, udid);
    int rc = mp_ledger_step_done(l, s, "mark device revoked");
    if (rc == MP_OK) {
        char obj[160], detail[96];
        snprintf(obj, sizeof(obj), "serial=%s udid=%s pai_skid=%s", serial, udid, skid);
        snprintf(detail, sizeof(detail), "{\"reason\":\"%.60s\"}", reason);
        rc = mp_ledger_audit(l, mp_ledger_station_default(), "dac.revoke", obj, detail);
    }
    return rc;
}

int mp_ledger_each_revoked(mp_ledger *l, const char *pai_skid,
                           int (*cb)(void *, const char *, time_t, const char *), void *ctx)
{
    mp_q *s = stmt(l, S_EACH_REVOKED);
    int r = 0, rc = MP_OK;
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, pai_skid);
    while (rc == MP_OK && (r = mp_q_step(s)) == 1) {
        rc = cb(ctx, mp_q_text(s, 0), (time_t)mp_q_int(s, 1), mp_q_text(s, 2));
    }
    if (rc == MP_OK && r < 0) {
        rc = db_err(l, "list revocations");
    }
    mp_q_reset(s);
    return rc;
}

int mp_ledger_next_crl_number(mp_ledger *l, const char *pai_skid, uint64_t *n)
{
    mp_q *s = stmt(l, S_CRL_NUM);
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, pai_skid);
    int r = mp_q_step(s);
    if (r < 0) return db_err(l, "crl number");
    *n = r == 1 ? (uint64_t)mp_q_int(s, 0) : 1;
    mp_q_reset(s);
    if ((s = stmt(l, S_CRL_SET)) == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, pai_skid);
    mp_q_i64(s, 2, (int64_t)(*n + 1));
    int rc = mp_ledger_step_done(l, s, "crl number");
    if (rc == MP_OK) {
        char obj[96];
        snprintf(obj, sizeof(obj), "pai_skid=%s crl_number=%llu", pai_skid, (unsigned long long)*n);
        rc = mp_ledger_audit(l, mp_ledger_station_default(), "crl.issue", obj, "{}");
    }
    return rc;
}

static uint64_t count_of(mp_ledger *l, const char *q)
{
    mp_q *s = mp_q_get(l, q);
    uint64_t n = 0;
    if (s != NULL && mp_q_step(s) == 1) {
        n = (uint64_t)mp_q_int(s, 0);
    }
    if (s != NULL) mp_q_reset(s);
    return n;
}

int mp_ledger_counts_get(mp_ledger *l, mp_ledger_counts *c)
{
    c->lists = count_of(l, "SELECT count(*) FROM chip_lists");
    c->devices = count_of(l, "SELECT count(*) FROM devices");
    c->authorized = count_of(l, "SELECT count(*) FROM devices WHERE state IN (0,3)");
    c->issued = count_of(l, "SELECT count(*) FROM devices WHERE state=1");
    c->revoked = count_of(l, "SELECT count(*) FROM devices WHERE state=2");
    c->offchip = count_of(l, "SELECT count(*) FROM devices WHERE key_origin=1");
    return MP_OK;
}
