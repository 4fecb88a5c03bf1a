/* ledger_life.c - ledger operations of the credential lifecycle (CA
 * revocations, published CRLs, the DCL records last exported; issue 19) and
 * the meta key-value pairs: statements not yet on the driver (SQLite only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "ledger.h"
#include "ledger_int.h"
#include "util.h"

/* ---- SQLite only: statements not yet on the driver -------------------------- */

static int raw_done(mp_ledger *l, sqlite3_stmt *s, const char *what)
{
    int r = s != NULL ? sqlite3_step(s) : SQLITE_ERROR;
    if (s != NULL) sqlite3_reset(s);
    return r == SQLITE_DONE ? MP_OK : mp_ledger_db_err(l, what);
}

int mp_ledger_meta_get(mp_ledger *l, const char *key, char *val, size_t cap, int *found)
{
    mp_q *s = mp_q_get(l, "SELECT value FROM meta WHERE key=?");
    *found = 0;
    if (s == NULL) {
        return MP_ERR_DB;
    }
    mp_q_txt(s, 1, key);
    int r = mp_q_step(s);
    if (r == 1) {
        mp_ledger_copy_text(val, cap, mp_q_text(s, 0));
        *found = 1;
    }
    mp_q_reset(s);
    return r >= 0 ? MP_OK : mp_ledger_err(l, "read meta");
}

int mp_ledger_meta_set(mp_ledger *l, const char *key, const char *val)
{
    mp_q *s = mp_q_get(l, "INSERT INTO meta(key,value) VALUES(?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value");
    if (s == NULL) {
        return MP_ERR_DB;
    }
    mp_q_txt(s, 1, key);
    mp_q_txt(s, 2, val);
    return mp_ledger_step_done(l, s, "write meta");
}

/* ---- Credential lifecycle (issue 19) ---------------------------------- */

static const char life_ddl[] =
    "CREATE TABLE IF NOT EXISTS crl_published(issuer_skid TEXT PRIMARY KEY, issuer_der BLOB NOT NULL,"
    " signer_der BLOB NOT NULL, number INTEGER NOT NULL, this_update INTEGER NOT NULL, next_update INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS dcl_state(key TEXT PRIMARY KEY, json TEXT NOT NULL, exported_at INTEGER NOT NULL);";

static int life_tables(mp_ledger *l)
{
    if (mp_ledger_is_pg(l)) {
        return mp_err(MP_ERR_DB, "ledger %s: CA revocations, CRL records and DCL state are not available on PostgreSQL yet",
                      mp_ledger_path(l));
    }
    return mp_ledger_exec(l, life_ddl) == MP_OK ? MP_OK : mp_ledger_err(l, "lifecycle tables");
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
    return sqlite3_extended_errcode(mp_ledger_db(l)) == SQLITE_CONSTRAINT_PRIMARYKEY
               ? mp_err(MP_ERR_DUPLICATE, "serial %s is already revoked", serial)
               : mp_ledger_err(l, "revoke");
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
    return raw_done(l, s, "record CRL");
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
    if (rc == MP_OK && r != SQLITE_DONE) rc = mp_ledger_err(l, "list CRLs");
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
    return r == SQLITE_ROW || r == SQLITE_DONE ? MP_OK : mp_ledger_err(l, "read DCL state");
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
    return raw_done(l, s, "write DCL state");
}

int mp_ledger_dcl_delete(mp_ledger *l, const char *key)
{
    static const char q[] = "DELETE FROM dcl_state WHERE key=?";
    int rc = life_tables(l);
    sqlite3_stmt *s = rc == MP_OK ? mp_ledger_stmt(l, q) : NULL;
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    return raw_done(l, s, "delete DCL state");
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
    if (rc == MP_OK && r != SQLITE_DONE) rc = mp_ledger_err(l, "list DCL state");
    sqlite3_reset(s);
    return rc;
}
