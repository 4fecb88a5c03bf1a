/* ledger_sqlite.c - the SQLite ledger backend (see ledger.h). WAL mode,
 * synchronous=FULL, foreign keys on; the schema is versioned in `meta` and
 * migrated by mp_ledger_open. */
#include "ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "ledger_int.h"
#include "util.h"

#define MAX_EXTRA_STMT 32

enum {
    S_LIST_KNOWN, S_ADD_LIST, S_LIST_COUNT, S_ADD_DEV, S_GET_DEV, S_DEV_BY_KEY, S_ADD_ORDER,
    S_GET_ORDER, S_CLOSE_ORDER, S_EACH_ORDER, S_NEXT_DEV, S_COUNT_AUTH, S_ORDER_INC, S_DEV_ISSUE,
    S_ADD_BATCH, S_ADD_CERT, S_UNWRITTEN, S_BATCH_WRITTEN, S_CERT_UDID, S_REVOKE_FIND, S_REVOKE_ADD,
    S_REVOKE_DEV, S_EACH_REVOKED, S_CRL_NUM, S_CRL_SET, S_EACH_CERT, S_ORDER_LABEL, S_GET_DAC, S_ST_ADD, S_ST_REVOKE, S_ST_GET, S_ST_EACH_REVOKED, S_NSTMT
};

/* A certificate as row_cert reads it (c = dacs, b = its dac_batches row). */
#define CERT_COLS "hex(c.serial),c.udid,c.order_id,b.pai_skid,b.not_before,b.not_after,lower(hex(c.sha256)),c.der," \
                  CERT_PATH ",b.station,c.batch,b.dir"

static const char *const sql[S_NSTMT] = {
    [S_LIST_KNOWN] = "SELECT 1 FROM chip_lists WHERE sha256=?",
    [S_ADD_LIST] = "INSERT INTO chip_lists(sha256,format,source,signed,signer,count,imported_at) VALUES(?,?,?,?,?,0,?)",
    [S_LIST_COUNT] = "UPDATE chip_lists SET count=? WHERE id=?",
    [S_ADD_DEV] = "INSERT INTO devices(udid,pubkey,list_id,state,key_origin,created_at) VALUES(?,?,?,?,?,?)",
    [S_GET_DEV] = "SELECT udid,pubkey,list_id,state,key_origin FROM devices WHERE udid=?",
    [S_DEV_BY_KEY] = "SELECT udid,pubkey,list_id,state,key_origin FROM devices WHERE pubkey=?",
    [S_ADD_ORDER] = "INSERT INTO orders(vid,pid,pai_cert,pai_key,pai_skid,quota,issued,cn_template,valid_from,days,closed,created_at,label) VALUES(?,?,?,?,?,?,0,?,?,?,0,?,?)",
    [S_GET_ORDER] = "SELECT id,vid,pid,pai_cert,pai_key,pai_skid,quota,issued,cn_template,valid_from,days,closed,coalesce(label,'') FROM orders WHERE id=?",
    [S_CLOSE_ORDER] = "UPDATE orders SET closed=1 WHERE id=?",
    [S_EACH_ORDER] = "SELECT id,vid,pid,pai_cert,pai_key,pai_skid,quota,issued,cn_template,valid_from,days,closed,coalesce(label,'') FROM orders ORDER BY id",
    [S_NEXT_DEV] = "SELECT udid,pubkey,list_id,state,key_origin FROM devices INDEXED BY devices_authorized"
                   " WHERE state=0 AND key_origin=0 AND udid>? ORDER BY udid LIMIT ?",
    [S_COUNT_AUTH] = "SELECT count(*) FROM devices WHERE state=0 AND key_origin=0",
    [S_ORDER_INC] = "UPDATE orders SET issued=issued+?2 WHERE id=?1 AND issued+?2<=quota AND closed=0",
    [S_DEV_ISSUE] = "UPDATE devices SET state=1 WHERE udid=? AND state=0",
    [S_ADD_BATCH] = "INSERT INTO dac_batches(order_id,pai_skid,not_before,not_after,dir,station,issued_at,written) VALUES(?,?,?,?,?,?,?,0)",
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
    [S_ORDER_LABEL] = "SELECT id,vid,pid,pai_cert,pai_key,pai_skid,quota,issued,cn_template,valid_from,days,closed,coalesce(label,'') FROM orders WHERE label=?",
    [S_GET_DAC] = "SELECT c.order_id,c.der,b.station FROM dacs c JOIN dac_batches b ON b.id=c.batch WHERE c.udid=?",
    [S_ST_ADD] = "INSERT INTO station_certs(serial,name,not_after,issued_at) VALUES(?,?,?,?)",
    [S_ST_REVOKE] = "UPDATE station_certs SET revoked_at=? WHERE name=? AND revoked_at IS NULL",
    [S_ST_GET] = "SELECT serial,name,not_after,revoked_at FROM station_certs WHERE serial=?",
    [S_ST_EACH_REVOKED] = "SELECT serial,name,not_after,revoked_at FROM station_certs WHERE revoked_at IS NOT NULL ORDER BY serial",
    [S_EACH_CERT] = "SELECT " CERT_COLS " FROM dacs c JOIN dac_batches b ON b.id=c.batch ORDER BY c.order_id,c.udid",
};

struct mp_ledger {
    sqlite3 *db;
    sqlite3_stmt *st[S_NSTMT];
    struct {
        const char *sql;
        sqlite3_stmt *st;
    } extra[MAX_EXTRA_STMT];
    char path[4096];
};

sqlite3_stmt *mp_ledger_stmt(mp_ledger *l, const char *sql)
{
    int i;
    for (i = 0; i < MAX_EXTRA_STMT && l->extra[i].sql != NULL; i++) {
        if (l->extra[i].sql == sql) {
            sqlite3_reset(l->extra[i].st);
            sqlite3_clear_bindings(l->extra[i].st);
            return l->extra[i].st;
        }
    }
    if (i == MAX_EXTRA_STMT) {
        mp_err(MP_ERR_DB, "ledger: too many prepared statements");
        return NULL;
    }
    if (sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &l->extra[i].st, NULL) != SQLITE_OK) {
        mp_err(MP_ERR_DB, "ledger %s: prepare: %s", l->path, sqlite3_errmsg(l->db));
        return NULL;
    }
    l->extra[i].sql = sql;
    return l->extra[i].st;
}

sqlite3 *mp_ledger_db(mp_ledger *l) { return l->db; }

static int db_err(mp_ledger *l, const char *what)
{
    return mp_err(MP_ERR_DB, "ledger %s: %s: %s", l->path, what, sqlite3_errmsg(l->db));
}

int mp_ledger_db_err(mp_ledger *l, const char *what)
{
    return db_err(l, what);
}

static sqlite3_stmt *stmt(mp_ledger *l, int i)
{
    if (l->st[i] == NULL && sqlite3_prepare_v3(l->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &l->st[i], NULL) != SQLITE_OK) {
        db_err(l, "prepare");
        return NULL;
    }
    sqlite3_reset(l->st[i]);
    sqlite3_clear_bindings(l->st[i]);
    return l->st[i];
}

static void now_iso(char out[21])
{
    mp_time_iso(time(NULL), out);
}

int mp_ledger_open(const char *path, mp_ledger **out)
{
    return mp_ledger_open_flags(path, MP_LEDGER_F_CREATE, out);
}

int mp_ledger_open_flags(const char *path, int flags, mp_ledger **out)
{
    mp_ledger *l = calloc(1, sizeof(*l));
    int rc;
    *out = NULL;
    if (l == NULL) {
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    snprintf(l->path, sizeof(l->path), "%s", path);
    if (strncmp(path, "postgres", 8) == 0) {
        free(l);
        return mp_err(MP_ERR_DB, "ledger %s: the PostgreSQL backend is not built in this version; use an SQLite file", path);
    }
    flags = mp_ledger_sqlite_ro_flags(l->path, flags);
    if ((rc = mp_ledger_sqlite_open(l->path, flags, &l->db)) != MP_OK) {
        mp_ledger_close(l);
        return rc;
    }
    sqlite3_busy_timeout(l->db, 10000);
    mp_ledger_sql_functions(l->db);
    if (flags & MP_LEDGER_F_RO) {
        *out = l;
        return MP_OK;
    }
    /* Switching a rollback-journal file (a restored backup, say) to WAL needs
     * the file to itself, and SQLite does not wait for that: retry while
     * another program holds it, up to the busy timeout. */
    int r;
    for (int waited = 0; (r = sqlite3_exec(l->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL)) == SQLITE_BUSY && waited < 10000;
         waited += 10) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (r != SQLITE_OK ||
        sqlite3_exec(l->db, "PRAGMA synchronous=FULL; PRAGMA cache_size=-16384; PRAGMA wal_autocheckpoint=16384;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_err(l, "cannot configure (is it an SQLite database?)");
        mp_ledger_close(l);
        return rc;
    }
    if ((rc = mp_ledger_migrate(l->db, l->path)) != MP_OK) {
        mp_ledger_close(l);
        return rc;
    }
    /* after the migrations: v4 replaces a table others refer to */
    if (sqlite3_exec(l->db, "PRAGMA foreign_keys=ON;", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_err(l, "cannot enable foreign keys");
        mp_ledger_close(l);
        return rc;
    }
    *out = l;
    return MP_OK;
}

void mp_ledger_close(mp_ledger *l)
{
    if (l == NULL) {
        return;
    }
    for (int i = 0; i < S_NSTMT; i++) {
        sqlite3_finalize(l->st[i]);
    }
    for (int i = 0; i < MAX_EXTRA_STMT; i++) {
        sqlite3_finalize(l->extra[i].st);
    }
    sqlite3_close(l->db);
    free(l);
}

const char *mp_ledger_path(const mp_ledger *l) { return l->path; }

int mp_ledger_begin(mp_ledger *l)
{
    return sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? MP_OK : db_err(l, "begin");
}

int mp_ledger_commit(mp_ledger *l)
{
    return sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? MP_OK : db_err(l, "commit");
}

void mp_ledger_rollback(mp_ledger *l)
{
    if (!sqlite3_get_autocommit(l->db)) {
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

static int step_done(mp_ledger *l, sqlite3_stmt *s, const char *what)
{
    return s != NULL && sqlite3_step(s) == SQLITE_DONE ? MP_OK : db_err(l, what);
}

int mp_ledger_list_known(mp_ledger *l, const char *sha256, int *known)
{
    sqlite3_stmt *s = stmt(l, S_LIST_KNOWN);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, sha256, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    *known = r == SQLITE_ROW;
    int rc = r == SQLITE_ROW || r == SQLITE_DONE ? MP_OK : db_err(l, "list lookup");
    sqlite3_reset(s);
    return rc;
}

int mp_ledger_add_list(mp_ledger *l, mp_chip_list *list)
{
    char now[21];
    sqlite3_stmt *s = stmt(l, S_ADD_LIST);
    if (s == NULL) return MP_ERR_DB;
    now_iso(now);
    sqlite3_bind_text(s, 1, list->sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, list->format, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, list->source ? list->source : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, list->is_signed);
    sqlite3_bind_text(s, 5, list->signer ? list->signer : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, now, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE) {
        if (sqlite3_extended_errcode(l->db) == SQLITE_CONSTRAINT_UNIQUE) {
            return mp_err(MP_ERR_DUPLICATE, "this chip list (SHA-256 %s) was already imported", list->sha256);
        }
        return db_err(l, "add chip list");
    }
    list->id = sqlite3_last_insert_rowid(l->db);
    return MP_OK;
}

int mp_ledger_set_list_count(mp_ledger *l, int64_t id, size_t count)
{
    sqlite3_stmt *s = stmt(l, S_LIST_COUNT);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)count);
    sqlite3_bind_int64(s, 2, id);
    return step_done(l, s, "set list count");
}

static void row_device(sqlite3_stmt *s, mp_device *d)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->udid, sizeof(d->udid), "%s", (const char *)sqlite3_column_text(s, 0));
    if (sqlite3_column_bytes(s, 1) == 65) {
        memcpy(d->point, sqlite3_column_blob(s, 1), 65);
    }
    d->list_id = sqlite3_column_int64(s, 2);
    d->state = sqlite3_column_int(s, 3);
    d->key_origin = sqlite3_column_int(s, 4);
}

static int dev_lookup(mp_ledger *l, int which, const void *key, int keylen, mp_device *d, int *found)
{
    sqlite3_stmt *s = stmt(l, which);
    if (s == NULL) return MP_ERR_DB;
    if (which == S_GET_DEV) {
        sqlite3_bind_text(s, 1, key, keylen, SQLITE_STATIC);
    } else {
        sqlite3_bind_blob(s, 1, key, keylen, SQLITE_STATIC);
    }
    int r = sqlite3_step(s);
    *found = r == SQLITE_ROW;
    if (*found && d != NULL) {
        row_device(s, d);
    }
    int rc = r == SQLITE_ROW || r == SQLITE_DONE ? MP_OK : db_err(l, "device lookup");
    sqlite3_reset(s); /* a statement left on a row keeps a read transaction open */
    return rc;
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

/* The schema 6 trigger: another device's UDID equals this one ignoring case. */
static int case_duplicate(mp_ledger *l, const mp_device *d)
{
    static const char q[] = "SELECT udid,list_id FROM devices WHERE udid=? COLLATE NOCASE AND udid<>?1 LIMIT 1";
    sqlite3_stmt *s = mp_ledger_stmt(l, q);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, d->udid, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return db_err(l, "add device");
    }
    int rc = mp_err(MP_ERR_DUPLICATE, "duplicate UDID %s: differs only in case from %s (%s); UDIDs are unique ignoring case",
                    d->udid, (const char *)sqlite3_column_text(s, 0),
                    sqlite3_column_int64(s, 1) == d->list_id ? "earlier in the same list" : "already in the ledger");
    sqlite3_reset(s);
    return rc;
}

int mp_ledger_add_device(mp_ledger *l, const mp_device *d)
{
    char now[21];
    sqlite3_stmt *s = stmt(l, S_ADD_DEV);
    if (s == NULL) return MP_ERR_DB;
    now_iso(now);
    sqlite3_bind_text(s, 1, d->udid, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, d->point, 65, SQLITE_STATIC);
    if (d->list_id > 0) {
        sqlite3_bind_int64(s, 3, d->list_id);
    } else {
        sqlite3_bind_null(s, 3);
    }
    sqlite3_bind_int(s, 4, d->state);
    sqlite3_bind_int(s, 5, d->key_origin);
    sqlite3_bind_text(s, 6, now, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE) {
        int ext = sqlite3_extended_errcode(l->db);
        sqlite3_reset(s);
        if (ext == SQLITE_CONSTRAINT_TRIGGER) {
            return case_duplicate(l, d);
        }
        return ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY ? duplicate_device(l, d)
                                                                                     : db_err(l, "add device");
    }
    return MP_OK;
}

int mp_ledger_add_order(mp_ledger *l, mp_order *o)
{
    char now[21];
    sqlite3_stmt *s = stmt(l, S_ADD_ORDER);
    if (s == NULL) return MP_ERR_DB;
    now_iso(now);
    sqlite3_bind_int(s, 1, o->vid);
    sqlite3_bind_int(s, 2, o->pid);
    sqlite3_bind_text(s, 3, o->pai_cert, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, o->pai_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, o->pai_skid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)o->quota);
    sqlite3_bind_text(s, 7, o->cn_template, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 8, (sqlite3_int64)o->valid_from);
    sqlite3_bind_int64(s, 9, o->days);
    sqlite3_bind_text(s, 10, now, -1, SQLITE_STATIC);
    if (o->label[0]) {
        sqlite3_bind_text(s, 11, o->label, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(s, 11);
    }
    if (sqlite3_step(s) != SQLITE_DONE) {
        int ext = sqlite3_extended_errcode(l->db);
        sqlite3_reset(s);
        return ext == SQLITE_CONSTRAINT_UNIQUE ? mp_err(MP_ERR_DUPLICATE, "an order labelled '%s' exists", o->label)
                                               : db_err(l, "add order");
    }
    int rc = MP_OK;
    if (rc == MP_OK) {
        o->id = sqlite3_last_insert_rowid(l->db);
    }
    return rc;
}

static void row_order(sqlite3_stmt *s, mp_order *o)
{
    memset(o, 0, sizeof(*o));
    o->id = sqlite3_column_int64(s, 0);
    o->vid = (uint16_t)sqlite3_column_int(s, 1);
    o->pid = (uint16_t)sqlite3_column_int(s, 2);
    snprintf(o->pai_cert, sizeof(o->pai_cert), "%s", (const char *)sqlite3_column_text(s, 3));
    snprintf(o->pai_key, sizeof(o->pai_key), "%s", (const char *)sqlite3_column_text(s, 4));
    snprintf(o->pai_skid, sizeof(o->pai_skid), "%s", (const char *)sqlite3_column_text(s, 5));
    o->quota = (uint64_t)sqlite3_column_int64(s, 6);
    o->issued = (uint64_t)sqlite3_column_int64(s, 7);
    snprintf(o->cn_template, sizeof(o->cn_template), "%s", (const char *)sqlite3_column_text(s, 8));
    o->valid_from = (time_t)sqlite3_column_int64(s, 9);
    o->days = (long)sqlite3_column_int64(s, 10);
    o->closed = sqlite3_column_int(s, 11);
    snprintf(o->label, sizeof(o->label), "%s", (const char *)sqlite3_column_text(s, 12));
}

int mp_ledger_get_order(mp_ledger *l, int64_t id, mp_order *o)
{
    sqlite3_stmt *s = stmt(l, S_GET_ORDER);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_int64(s, 1, id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        row_order(s, o);
    }
    int rc = r == SQLITE_ROW ? MP_OK
             : r == SQLITE_DONE ? mp_err(MP_ERR_INVALID, "no production order %lld in %s", (long long)id, l->path)
                                : db_err(l, "get order");
    sqlite3_reset(s);
    return rc;
}

int mp_ledger_find_order(mp_ledger *l, const char *ref, mp_order *o)
{
    uint64_t id;
    if (ref[0] >= '0' && ref[0] <= '9' && mp_parse_uint(ref, INT64_MAX, &id) == MP_OK) {
        return mp_ledger_get_order(l, (int64_t)id, o);
    }
    sqlite3_stmt *s = stmt(l, S_ORDER_LABEL);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, ref, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        row_order(s, o);
    }
    int rc = r == SQLITE_ROW ? MP_OK
             : r == SQLITE_DONE ? mp_err(MP_ERR_INVALID, "no production order with ID or label '%s'", ref)
                                : db_err(l, "find order");
    sqlite3_reset(s);
    return rc;
}

int mp_ledger_close_order(mp_ledger *l, int64_t id)
{
    sqlite3_stmt *s = stmt(l, S_CLOSE_ORDER);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_int64(s, 1, id);
    int rc = step_done(l, s, "close order");
    if (rc == MP_OK && sqlite3_changes(l->db) == 0) {
        return mp_err(MP_ERR_INVALID, "no production order %lld", (long long)id);
    }
    return rc;
}

int mp_ledger_each_order(mp_ledger *l, int (*cb)(void *, const mp_order *), void *ctx)
{
    sqlite3_stmt *s = stmt(l, S_EACH_ORDER);
    int r, rc = MP_OK;
    if (s == NULL) return MP_ERR_DB;
    while (rc == MP_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        mp_order o;
        row_order(s, &o);
        rc = cb(ctx, &o);
    }
    if (rc == MP_OK && r != SQLITE_DONE) {
        rc = db_err(l, "list orders");
    }
    sqlite3_reset(s);
    return rc;
}

int mp_ledger_next_devices(mp_ledger *l, const char *after, size_t max, mp_device *out, size_t *n)
{
    sqlite3_stmt *s = stmt(l, S_NEXT_DEV);
    int r = SQLITE_DONE;
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, after, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
    *n = 0;
    while (*n < max && (r = sqlite3_step(s)) == SQLITE_ROW) {
        row_device(s, &out[(*n)++]);
    }
    int rc = r == SQLITE_ROW || r == SQLITE_DONE ? MP_OK : db_err(l, "select devices");
    sqlite3_reset(s);
    return rc;
}

int mp_ledger_count_authorized(mp_ledger *l, uint64_t *n)
{
    sqlite3_stmt *s = stmt(l, S_COUNT_AUTH);
    if (s == NULL || sqlite3_step(s) != SQLITE_ROW) return db_err(l, "count");
    *n = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return MP_OK;
}

int mp_ledger_take_quota(mp_ledger *l, int64_t order_id, uint64_t n)
{
    sqlite3_stmt *s = stmt(l, S_ORDER_INC);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_int64(s, 1, order_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)n);
    if (step_done(l, s, "count against order") != MP_OK) return MP_ERR_DB;
    if (sqlite3_changes(l->db) != 1) {
        return mp_err(MP_ERR_QUOTA, "production order %lld is closed or has fewer than %llu of its quota left",
                      (long long)order_id, (unsigned long long)n);
    }
    return MP_OK;
}

int mp_ledger_add_batch(mp_ledger *l, mp_dac_batch *b)
{
    char now[21];
    sqlite3_stmt *s = stmt(l, S_ADD_BATCH);
    if (s == NULL) return MP_ERR_DB;
    now_iso(now);
    sqlite3_bind_int64(s, 1, b->order_id);
    sqlite3_bind_text(s, 2, b->pai_skid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)b->not_before);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)b->not_after);
    sqlite3_bind_text(s, 5, b->dir ? b->dir : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, b->station ? b->station : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, now, -1, SQLITE_STATIC);
    int rc = step_done(l, s, "add batch");
    if (rc == MP_OK) {
        b->id = sqlite3_last_insert_rowid(l->db);
    }
    return rc;
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
    int rc = mp_ledger_take_quota(l, c->order_id, 1);
    if (rc == MP_OK && (rc = mp_ledger_add_batch(l, &b)) == MP_OK) {
        c->batch = b.id;
        rc = mp_ledger_add_counted(l, c);
    }
    return rc;
}

int mp_ledger_add_counted(mp_ledger *l, const mp_cert_rec *c)
{
    uint8_t serial[20], hash[32];
    long sn = mp_ledger_unhex(c->serial, serial, sizeof(serial));
    long hn = mp_ledger_unhex(c->sha256, hash, sizeof(hash));
    if (sn <= 0 || hn <= 0) {
        return mp_err(MP_ERR_INVALID, "certificate of %s: serial '%s' or SHA-256 is not hex", c->udid, c->serial);
    }
    sqlite3_stmt *s;
    if ((s = stmt(l, S_DEV_ISSUE)) == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, c->udid, -1, SQLITE_STATIC);
    if (step_done(l, s, "mark device issued") != MP_OK) return MP_ERR_DB;
    if (sqlite3_changes(l->db) != 1) {
        return mp_err(MP_ERR_UNAUTHORIZED, "device %s is not authorized or already has a DAC", c->udid);
    }
    if ((s = stmt(l, S_ADD_CERT)) == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, c->udid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, c->order_id);
    sqlite3_bind_int64(s, 3, c->batch);
    sqlite3_bind_blob(s, 4, serial, (int)sn, SQLITE_STATIC);
    sqlite3_bind_blob(s, 5, hash, (int)hn, SQLITE_STATIC);
    sqlite3_bind_blob(s, 6, c->der, (int)c->der_len, SQLITE_STATIC);
    if (c->path != NULL && *c->path) {
        sqlite3_bind_text(s, 7, c->path, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(s, 7);
    }
    if (sqlite3_step(s) != SQLITE_DONE) {
        int ext = sqlite3_extended_errcode(l->db);
        sqlite3_reset(s);
        if ((ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) &&
            strstr(sqlite3_errmsg(l->db), "dacs.udid") != NULL) {
            return mp_err(MP_ERR_DUPLICATE, "device %s already has a certificate in the ledger", c->udid);
        }
        if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
            return mp_err(MP_ERR_DUPLICATE, "serial %s was already used", c->serial);
        }
        return db_err(l, "add certificate");
    }
    sqlite3_reset(s);
    return MP_OK;
}

static void row_cert(sqlite3_stmt *s, mp_cert_rec *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->serial, sizeof(c->serial), "%s", (const char *)sqlite3_column_text(s, 0));
    snprintf(c->udid, sizeof(c->udid), "%s", (const char *)sqlite3_column_text(s, 1));
    c->order_id = sqlite3_column_int64(s, 2);
    snprintf(c->pai_skid, sizeof(c->pai_skid), "%s", (const char *)sqlite3_column_text(s, 3));
    c->not_before = (time_t)sqlite3_column_int64(s, 4);
    c->not_after = (time_t)sqlite3_column_int64(s, 5);
    snprintf(c->sha256, sizeof(c->sha256), "%s", (const char *)sqlite3_column_text(s, 6));
    c->der = sqlite3_column_blob(s, 7);
    c->der_len = (size_t)sqlite3_column_bytes(s, 7);
    c->path = (const char *)sqlite3_column_text(s, 8);
    c->station = (const char *)sqlite3_column_text(s, 9);
    c->batch = sqlite3_column_int64(s, 10);
    c->dir = (const char *)sqlite3_column_text(s, 11);
}

static int each_cert(mp_ledger *l, sqlite3_stmt *s, int (*cb)(void *, const mp_cert_rec *), void *ctx)
{
    int r, rc = MP_OK;
    while (rc == MP_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        mp_cert_rec c;
        row_cert(s, &c);
        rc = cb(ctx, &c);
    }
    if (rc == MP_OK && r != SQLITE_DONE) {
        rc = db_err(l, "read certificates");
    }
    sqlite3_reset(s);
    return rc;
}

int mp_ledger_each_unwritten(mp_ledger *l, int64_t order_id, int (*cb)(void *, const mp_cert_rec *), void *ctx)
{
    sqlite3_stmt *s = stmt(l, S_UNWRITTEN);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_int64(s, 1, order_id);
    return each_cert(l, s, cb, ctx);
}

int mp_ledger_each_cert(mp_ledger *l, int (*cb)(void *, const mp_cert_rec *), void *ctx)
{
    sqlite3_stmt *s = stmt(l, S_EACH_CERT);
    if (s == NULL) return MP_ERR_DB;
    return each_cert(l, s, cb, ctx);
}

int mp_ledger_batch_written(mp_ledger *l, int64_t batch)
{
    sqlite3_stmt *s = stmt(l, S_BATCH_WRITTEN);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_int64(s, 1, batch);
    return step_done(l, s, "mark written");
}

int mp_ledger_cert_for_udid(mp_ledger *l, const char *udid, char sha256[65], int *found)
{
    sqlite3_stmt *s = stmt(l, S_CERT_UDID);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, udid, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    *found = r == SQLITE_ROW;
    if (*found) {
        snprintf(sha256, 65, "%s", (const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_reset(s);
    return r == SQLITE_ROW || r == SQLITE_DONE ? MP_OK : db_err(l, "certificate lookup");
}

int mp_ledger_get_dac(mp_ledger *l, const char *udid, mp_dac_row *r, int *found)
{
    sqlite3_stmt *s = stmt(l, S_GET_DAC);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, udid, -1, SQLITE_STATIC);
    int x = sqlite3_step(s);
    *found = x == SQLITE_ROW;
    if (*found) {
        size_t n = (size_t)sqlite3_column_bytes(s, 1);
        r->order_id = sqlite3_column_int64(s, 0);
        r->der_len = n <= sizeof(r->der) ? n : 0;
        memcpy(r->der, sqlite3_column_blob(s, 1), r->der_len);
        snprintf(r->station, sizeof(r->station), "%s", (const char *)sqlite3_column_text(s, 2));
    }
    sqlite3_reset(s);
    return x == SQLITE_ROW || x == SQLITE_DONE ? MP_OK : db_err(l, "DAC lookup");
}

int mp_ledger_add_station_cert(mp_ledger *l, const mp_station_cert *c)
{
    char now[21];
    sqlite3_stmt *s = stmt(l, S_ST_ADD);
    if (s == NULL) return MP_ERR_DB;
    now_iso(now);
    sqlite3_bind_text(s, 1, c->serial, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)c->not_after);
    sqlite3_bind_text(s, 4, now, -1, SQLITE_STATIC);
    return step_done(l, s, "add station certificate");
}

int mp_ledger_revoke_station(mp_ledger *l, const char *name, uint64_t *n)
{
    sqlite3_stmt *s = stmt(l, S_ST_REVOKE);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)time(NULL));
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    int rc = step_done(l, s, "revoke station");
    *n = rc == MP_OK ? (uint64_t)sqlite3_changes(l->db) : 0;
    return rc;
}

static void row_station(sqlite3_stmt *s, mp_station_cert *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->serial, sizeof(c->serial), "%s", (const char *)sqlite3_column_text(s, 0));
    snprintf(c->name, sizeof(c->name), "%s", (const char *)sqlite3_column_text(s, 1));
    c->not_after = (time_t)sqlite3_column_int64(s, 2);
    c->revoked = sqlite3_column_type(s, 3) != SQLITE_NULL;
    c->revoked_at = (time_t)sqlite3_column_int64(s, 3);
}

int mp_ledger_get_station_cert(mp_ledger *l, const char *serial, mp_station_cert *c, int *found)
{
    sqlite3_stmt *s = stmt(l, S_ST_GET);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, serial, -1, SQLITE_STATIC);
    int x = sqlite3_step(s);
    *found = x == SQLITE_ROW;
    if (*found) {
        row_station(s, c);
    }
    sqlite3_reset(s);
    return x == SQLITE_ROW || x == SQLITE_DONE ? MP_OK : db_err(l, "station certificate lookup");
}

int mp_ledger_each_station_revoked(mp_ledger *l, int (*cb)(void *, const mp_station_cert *), void *ctx)
{
    sqlite3_stmt *s = stmt(l, S_ST_EACH_REVOKED);
    int r, rc = MP_OK;
    if (s == NULL) return MP_ERR_DB;
    while (rc == MP_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        mp_station_cert c;
        row_station(s, &c);
        rc = cb(ctx, &c);
    }
    if (rc == MP_OK && r != SQLITE_DONE) {
        rc = db_err(l, "list revoked stations");
    }
    sqlite3_reset(s);
    return rc;
}

int mp_ledger_revoke(mp_ledger *l, const char *serial, const char *reason)
{
    char skid[41], udid[MP_UDID_MAX + 1];
    uint8_t sb[20];
    long sn = mp_ledger_unhex(serial, sb, sizeof(sb));
    if (sn <= 0) {
        return mp_err(MP_ERR_INVALID, "serial '%s': expected hex of at most 20 bytes", serial);
    }
    sqlite3_stmt *s = stmt(l, S_REVOKE_FIND);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_blob(s, 1, sb, (int)sn, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r != SQLITE_ROW) {
        sqlite3_reset(s);
        return r == SQLITE_DONE ? mp_err(MP_ERR_INVALID, "no certificate with serial %s in the ledger", serial)
                                : db_err(l, "find certificate");
    }
    snprintf(skid, sizeof(skid), "%s", (const char *)sqlite3_column_text(s, 0));
    snprintf(udid, sizeof(udid), "%s", (const char *)sqlite3_column_text(s, 1));
    sqlite3_reset(s); /* serials are unique in the ledger */
    if ((s = stmt(l, S_REVOKE_ADD)) == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, serial, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, skid, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)time(NULL));
    if (sqlite3_step(s) != SQLITE_DONE) {
        return sqlite3_extended_errcode(l->db) == SQLITE_CONSTRAINT_PRIMARYKEY
                   ? mp_err(MP_ERR_DUPLICATE, "serial %s is already revoked", serial)
                   : db_err(l, "revoke");
    }
    if ((s = stmt(l, S_REVOKE_DEV)) == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, udid, -1, SQLITE_STATIC);
    return step_done(l, s, "mark device revoked");
}

int mp_ledger_each_revoked(mp_ledger *l, const char *pai_skid,
                           int (*cb)(void *, const char *, time_t, const char *), void *ctx)
{
    sqlite3_stmt *s = stmt(l, S_EACH_REVOKED);
    int r, rc = MP_OK;
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, pai_skid, -1, SQLITE_STATIC);
    while (rc == MP_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        rc = cb(ctx, (const char *)sqlite3_column_text(s, 0), (time_t)sqlite3_column_int64(s, 1),
                (const char *)sqlite3_column_text(s, 2));
    }
    if (rc == MP_OK && r != SQLITE_DONE) {
        rc = db_err(l, "list revocations");
    }
    sqlite3_reset(s);
    return rc;
}

int mp_ledger_next_crl_number(mp_ledger *l, const char *pai_skid, uint64_t *n)
{
    sqlite3_stmt *s = stmt(l, S_CRL_NUM);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, pai_skid, -1, SQLITE_STATIC);
    *n = sqlite3_step(s) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 1;
    sqlite3_reset(s);
    if ((s = stmt(l, S_CRL_SET)) == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, pai_skid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)(*n + 1));
    return step_done(l, s, "crl number");
}

static uint64_t count_of(mp_ledger *l, const char *q)
{
    sqlite3_stmt *s = NULL;
    uint64_t n = 0;
    if (sqlite3_prepare_v2(l->db, q, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
        n = (uint64_t)sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    return n;
}

int mp_ledger_counts_get(mp_ledger *l, mp_ledger_counts *c)
{
    c->lists = count_of(l, "SELECT count(*) FROM chip_lists");
    c->devices = count_of(l, "SELECT count(*) FROM devices");
    c->authorized = count_of(l, "SELECT count(*) FROM devices WHERE state=0");
    c->issued = count_of(l, "SELECT count(*) FROM devices WHERE state=1");
    c->revoked = count_of(l, "SELECT count(*) FROM devices WHERE state=2");
    c->offchip = count_of(l, "SELECT count(*) FROM devices WHERE key_origin=1");
    return MP_OK;
}

int mp_ledger_meta_get(mp_ledger *l, const char *key, char *val, size_t cap, int *found)
{
    sqlite3_stmt *s = mp_ledger_stmt(l, "SELECT value FROM meta WHERE key=?");
    *found = 0;
    if (s == NULL) {
        return MP_ERR_DB;
    }
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        snprintf(val, cap, "%s", (const char *)sqlite3_column_text(s, 0));
        *found = 1;
    }
    sqlite3_reset(s);
    return r == SQLITE_ROW || r == SQLITE_DONE ? MP_OK : db_err(l, "read meta");
}

int mp_ledger_meta_set(mp_ledger *l, const char *key, const char *val)
{
    sqlite3_stmt *s = mp_ledger_stmt(l, "INSERT INTO meta(key,value) VALUES(?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value");
    if (s == NULL) {
        return MP_ERR_DB;
    }
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, val, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    return r == SQLITE_DONE ? MP_OK : db_err(l, "write meta");
}

/* ---- Credential lifecycle (issue 19) ---------------------------------- */

static const char life_ddl[] =
    "CREATE TABLE IF NOT EXISTS crl_published(issuer_skid TEXT PRIMARY KEY, issuer_der BLOB NOT NULL,"
    " signer_der BLOB NOT NULL, number INTEGER NOT NULL, this_update INTEGER NOT NULL, next_update INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS dcl_state(key TEXT PRIMARY KEY, json TEXT NOT NULL, exported_at INTEGER NOT NULL);";

static int life_tables(mp_ledger *l)
{
    return sqlite3_exec(l->db, life_ddl, NULL, NULL, NULL) == SQLITE_OK ? MP_OK : db_err(l, "lifecycle tables");
}

int mp_ledger_revoke_ca(mp_ledger *l, const char *issuer_skid, const char *serial, const char *reason)
{
    static const char q[] = "INSERT INTO revocations(serial,pai_skid,reason,revoked_at) VALUES(?,?,?,?)";
    sqlite3_stmt *s = mp_ledger_stmt(l, q);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, serial, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, issuer_skid, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)time(NULL));
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r == SQLITE_DONE) return MP_OK;
    return sqlite3_extended_errcode(l->db) == SQLITE_CONSTRAINT_PRIMARYKEY
               ? mp_err(MP_ERR_DUPLICATE, "serial %s is already revoked", serial)
               : db_err(l, "revoke");
}

int mp_ledger_crl_record(mp_ledger *l, const mp_crl_rec *r)
{
    static const char q[] = "INSERT INTO crl_published(issuer_skid,issuer_der,signer_der,number,this_update,next_update)"
                            " VALUES(?,?,?,?,?,?) ON CONFLICT(issuer_skid) DO UPDATE SET issuer_der=excluded.issuer_der,"
                            " signer_der=excluded.signer_der, number=excluded.number, this_update=excluded.this_update,"
                            " next_update=excluded.next_update";
    int rc = life_tables(l);
    sqlite3_stmt *s = rc == MP_OK ? mp_ledger_stmt(l, q) : NULL;
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, r->issuer_skid, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, r->issuer_der, (int)r->issuer_len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, r->signer_der, (int)r->signer_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)r->number);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)r->this_update);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)r->next_update);
    return step_done(l, s, "record CRL");
}

int mp_ledger_each_crl(mp_ledger *l, int (*cb)(void *, const mp_crl_rec *), void *ctx)
{
    static const char q[] = "SELECT issuer_skid,issuer_der,signer_der,number,this_update,next_update"
                            " FROM crl_published ORDER BY issuer_skid";
    int rc = life_tables(l), r = SQLITE_DONE;
    sqlite3_stmt *s = rc == MP_OK ? mp_ledger_stmt(l, q) : NULL;
    if (s == NULL) return MP_ERR_DB;
    while (rc == MP_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        mp_crl_rec c = {0};
        snprintf(c.issuer_skid, sizeof(c.issuer_skid), "%s", (const char *)sqlite3_column_text(s, 0));
        c.issuer_der = sqlite3_column_blob(s, 1);
        c.issuer_len = (size_t)sqlite3_column_bytes(s, 1);
        c.signer_der = sqlite3_column_blob(s, 2);
        c.signer_len = (size_t)sqlite3_column_bytes(s, 2);
        c.number = (uint64_t)sqlite3_column_int64(s, 3);
        c.this_update = (time_t)sqlite3_column_int64(s, 4);
        c.next_update = (time_t)sqlite3_column_int64(s, 5);
        rc = cb(ctx, &c);
    }
    if (rc == MP_OK && r != SQLITE_DONE) rc = db_err(l, "list CRLs");
    sqlite3_reset(s);
    return rc;
}

int mp_ledger_dcl_get(mp_ledger *l, const char *key, char **json, int *found)
{
    static const char q[] = "SELECT json FROM dcl_state WHERE key=?";
    int rc = life_tables(l);
    sqlite3_stmt *s = rc == MP_OK ? mp_ledger_stmt(l, q) : NULL;
    *json = NULL;
    *found = 0;
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        *json = strdup((const char *)sqlite3_column_text(s, 0));
        *found = 1;
    }
    sqlite3_reset(s);
    if (r == SQLITE_ROW && *json == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    return r == SQLITE_ROW || r == SQLITE_DONE ? MP_OK : db_err(l, "read DCL state");
}

int mp_ledger_dcl_put(mp_ledger *l, const char *key, const char *json)
{
    static const char q[] = "INSERT INTO dcl_state(key,json,exported_at) VALUES(?,?,?)"
                            " ON CONFLICT(key) DO UPDATE SET json=excluded.json, exported_at=excluded.exported_at";
    int rc = life_tables(l);
    sqlite3_stmt *s = rc == MP_OK ? mp_ledger_stmt(l, q) : NULL;
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)time(NULL));
    return step_done(l, s, "write DCL state");
}

int mp_ledger_dcl_delete(mp_ledger *l, const char *key)
{
    static const char q[] = "DELETE FROM dcl_state WHERE key=?";
    int rc = life_tables(l);
    sqlite3_stmt *s = rc == MP_OK ? mp_ledger_stmt(l, q) : NULL;
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    return step_done(l, s, "delete DCL state");
}

int mp_ledger_dcl_each(mp_ledger *l, const char *prefix, int (*cb)(void *, const char *, const char *), void *ctx)
{
    static const char q[] = "SELECT key,json FROM dcl_state WHERE substr(key,1,length(?1))=?1 ORDER BY key";
    int rc = life_tables(l), r = SQLITE_DONE;
    sqlite3_stmt *s = rc == MP_OK ? mp_ledger_stmt(l, q) : NULL;
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, prefix, -1, SQLITE_STATIC);
    while (rc == MP_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        rc = cb(ctx, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1));
    }
    if (rc == MP_OK && r != SQLITE_DONE) rc = db_err(l, "list DCL state");
    sqlite3_reset(s);
    return rc;
}

/* ---- factory-data line-readiness (see ledger.h) ------------------------------ */

int mp_ledger_fd_prepare(mp_ledger *l)
{
    static const char ddl[] =
        "CREATE TABLE IF NOT EXISTS fd_images(udid TEXT NOT NULL REFERENCES devices(udid), format TEXT NOT NULL,"
        " sha256 TEXT NOT NULL, PRIMARY KEY(udid, format)) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS serial_counters(template TEXT PRIMARY KEY, next INTEGER NOT NULL);"
        "CREATE UNIQUE INDEX IF NOT EXISTS factory_data_rd_uid ON factory_data(rd_uid);";
    if (sqlite3_exec(l->db, ddl, NULL, NULL, NULL) != SQLITE_OK) {
        return sqlite3_extended_errcode(l->db) == SQLITE_CONSTRAINT_UNIQUE
                   ? mp_err(MP_ERR_DUPLICATE, "ledger %s: two devices already share an rd_uid in factory_data; find them with: "
                            "SELECT hex(rd_uid), group_concat(udid) FROM factory_data GROUP BY rd_uid HAVING count(*) > 1", l->path)
                   : db_err(l, "prepare factory-data tables");
    }
    return MP_OK;
}

int mp_ledger_fd_image(mp_ledger *l, const char *udid, const char *format, const char sha256[65], char recorded[65])
{
    static const char q_get[] = "SELECT sha256 FROM fd_images WHERE udid = ? AND format = ?";
    static const char q_put[] = "INSERT INTO fd_images(udid, format, sha256) VALUES(?,?,?)";
    sqlite3_stmt *s = mp_ledger_stmt(l, q_get);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, udid, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, format, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    recorded[0] = 0;
    if (r == SQLITE_ROW) snprintf(recorded, 65, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    if (r != SQLITE_ROW && r != SQLITE_DONE) return db_err(l, "image hash");
    if (r == SQLITE_ROW) return MP_OK;
    if ((s = mp_ledger_stmt(l, q_put)) == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, udid, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, format, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, sha256, -1, SQLITE_STATIC);
    return step_done(l, s, "record image hash");
}

static int owner_of(mp_ledger *l, const char *q, const void *key, int len, int text, char udid[MP_UDID_MAX + 1])
{
    sqlite3_stmt *s = mp_ledger_stmt(l, q);
    if (s == NULL) return MP_ERR_DB;
    if (text) sqlite3_bind_text(s, 1, key, len, SQLITE_STATIC);
    else sqlite3_bind_blob(s, 1, key, len, SQLITE_STATIC);
    int r = sqlite3_step(s);
    udid[0] = 0;
    if (r == SQLITE_ROW) snprintf(udid, MP_UDID_MAX + 1, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    return r == SQLITE_ROW || r == SQLITE_DONE ? MP_OK : db_err(l, "factory-data lookup");
}

int mp_ledger_fd_serial_owner(mp_ledger *l, const char *serial, char udid[MP_UDID_MAX + 1])
{
    static const char q[] = "SELECT udid FROM factory_data WHERE serial = ?";
    return owner_of(l, q, serial, -1, 1, udid);
}

int mp_ledger_fd_rd_uid_owner(mp_ledger *l, const uint8_t *rd_uid, size_t len, char udid[MP_UDID_MAX + 1])
{
    static const char q[] = "SELECT udid FROM factory_data WHERE rd_uid = ?";
    return owner_of(l, q, rd_uid, (int)len, 0, udid);
}

int mp_ledger_serial_next(mp_ledger *l, const char *tmpl, uint64_t *next, int *found)
{
    static const char q[] = "SELECT next FROM serial_counters WHERE template = ?";
    sqlite3_stmt *s = mp_ledger_stmt(l, q);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, tmpl, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    *found = r == SQLITE_ROW;
    *next = *found ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return r == SQLITE_ROW || r == SQLITE_DONE ? MP_OK : db_err(l, "serial counter");
}

int mp_ledger_serial_advance(mp_ledger *l, const char *tmpl, uint64_t next)
{
    static const char q[] = "INSERT INTO serial_counters(template, next) VALUES(?1, ?2)"
                            " ON CONFLICT(template) DO UPDATE SET next = max(next, ?2)";
    sqlite3_stmt *s = mp_ledger_stmt(l, q);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, tmpl, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)next);
    return step_done(l, s, "advance serial counter");
}

int mp_ledger_device_in_order(mp_ledger *l, const char *udid, int64_t order_id, int *state, int *in_order, int *found)
{
    static const char q[] = "SELECT d.state, EXISTS(SELECT 1 FROM dacs c WHERE c.udid = d.udid AND c.order_id = ?2)"
                            " FROM devices d WHERE d.udid = ?1";
    sqlite3_stmt *s = mp_ledger_stmt(l, q);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, udid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, order_id);
    int r = sqlite3_step(s);
    *found = r == SQLITE_ROW;
    *state = *found ? sqlite3_column_int(s, 0) : 0;
    *in_order = *found ? sqlite3_column_int(s, 1) : 0;
    sqlite3_reset(s);
    return r == SQLITE_ROW || r == SQLITE_DONE ? MP_OK : db_err(l, "device lookup");
}

/* ---- DACs issued by another PKI (issue 18) ---------------------------------- */

int mp_order_is_external(const mp_order *o)
{
    return strcmp(o->pai_key, MP_PAI_KEY_EXTERNAL) == 0;
}

int mp_ledger_grow_external_quota(mp_ledger *l, int64_t order_id, uint64_t n)
{
    sqlite3_stmt *s = mp_ledger_stmt(l, "UPDATE orders SET quota = quota + ?2 WHERE id = ?1 AND pai_key = '"
                                        MP_PAI_KEY_EXTERNAL "' AND closed = 0");
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_int64(s, 1, order_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)n);
    int rc = step_done(l, s, "raise the quota of an external order");
    if (rc == MP_OK && sqlite3_changes(l->db) != 1) {
        rc = mp_err(MP_ERR_INVALID, "order %lld is not an open order of externally issued DACs", (long long)order_id);
    }
    return rc;
}

/* ---- runs of dac issue with a target (schema 6; see ledger.h) ---------------- */

int mp_ledger_run_get(mp_ledger *l, int64_t order_id, const char *dir, mp_dac_run *r, int *found)
{
    static const char q[] = "SELECT id,generate,target,issued FROM dac_runs WHERE order_id=? AND dir=? AND finished_at IS NULL";
    sqlite3_stmt *s = mp_ledger_stmt(l, q);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_int64(s, 1, order_id);
    sqlite3_bind_text(s, 2, dir, -1, SQLITE_STATIC);
    int st = sqlite3_step(s);
    *found = st == SQLITE_ROW;
    if (*found) {
        r->id = sqlite3_column_int64(s, 0);
        r->order_id = order_id;
        r->generate = sqlite3_column_int(s, 1);
        r->target = (uint64_t)sqlite3_column_int64(s, 2);
        r->issued = (uint64_t)sqlite3_column_int64(s, 3);
    }
    sqlite3_reset(s);
    return st == SQLITE_ROW || st == SQLITE_DONE ? MP_OK : db_err(l, "read the run of the output folder");
}

int mp_ledger_run_start(mp_ledger *l, mp_dac_run *r)
{
    static const char q[] = "INSERT INTO dac_runs(order_id,dir,generate,target,issued,station,started_at) VALUES(?,?,?,?,0,?,?)";
    char now[21];
    sqlite3_stmt *s = mp_ledger_stmt(l, q);
    if (s == NULL) return MP_ERR_DB;
    now_iso(now);
    sqlite3_bind_int64(s, 1, r->order_id);
    sqlite3_bind_text(s, 2, r->dir, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, r->generate);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)r->target);
    sqlite3_bind_text(s, 5, r->station ? r->station : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, now, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE) {
        int ext = sqlite3_extended_errcode(l->db);
        sqlite3_reset(s);
        return ext == SQLITE_CONSTRAINT_UNIQUE ? mp_err(MP_ERR_UNAUTHORIZED, "order %lld already has an unfinished run in %s",
                                                        (long long)r->order_id, r->dir)
                                               : db_err(l, "record the run");
    }
    sqlite3_reset(s);
    r->id = sqlite3_last_insert_rowid(l->db);
    r->issued = 0;
    return MP_OK;
}

int mp_ledger_run_count(mp_ledger *l, int64_t run_id, uint64_t n)
{
    static const char q[] = "UPDATE dac_runs SET issued=issued+?2 WHERE id=?1 AND issued+?2<=target AND finished_at IS NULL";
    sqlite3_stmt *s = mp_ledger_stmt(l, q);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_int64(s, 1, run_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)n);
    int st = sqlite3_step(s);
    sqlite3_reset(s);
    if (st != SQLITE_DONE) return db_err(l, "count against the run");
    if (sqlite3_changes(l->db) != 1) {
        return mp_err(MP_ERR_QUOTA, "the run would pass its target (%llu more asked)", (unsigned long long)n);
    }
    return MP_OK;
}

int mp_ledger_run_finish(mp_ledger *l, int64_t run_id)
{
    static const char q[] = "UPDATE dac_runs SET finished_at=? WHERE id=? AND finished_at IS NULL";
    char now[21];
    sqlite3_stmt *s = mp_ledger_stmt(l, q);
    if (s == NULL) return MP_ERR_DB;
    now_iso(now);
    sqlite3_bind_text(s, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, run_id);
    int st = sqlite3_step(s);
    sqlite3_reset(s);
    return st == SQLITE_DONE ? MP_OK : db_err(l, "finish the run");
}

int mp_ledger_cert_path(mp_ledger *l, const char *udid, char *path, size_t cap, int64_t *order_id, int *found)
{
    static const char q[] = "SELECT " CERT_PATH ",c.order_id FROM dacs c JOIN dac_batches b ON b.id=c.batch WHERE c.udid=?";
    sqlite3_stmt *s = mp_ledger_stmt(l, q);
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, udid, -1, SQLITE_STATIC);
    int st = sqlite3_step(s);
    *found = st == SQLITE_ROW;
    if (*found) {
        snprintf(path, cap, "%s", (const char *)sqlite3_column_text(s, 0));
        if (order_id != NULL) *order_id = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    return st == SQLITE_ROW || st == SQLITE_DONE ? MP_OK : db_err(l, "read a certificate's path");
}
