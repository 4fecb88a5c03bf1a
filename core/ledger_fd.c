/* ledger_fd.c - the factory-data part of the SQLite ledger (schema v2, v5 for dacs):
 * credentials generated per device, and the issued devices an order's
 * factory data is built for. */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "ledger.h"
#include "ledger_int.h"

int mp_ledger_next_issued(mp_ledger *l, int64_t order_id, const char *after, size_t max, mp_issued *out, size_t *n)
{
    sqlite3_stmt *s = mp_ledger_stmt(l,
        "SELECT c.udid, d.key_origin, hex(c.serial), c.der, " CERT_PATH
        " FROM dacs c JOIN devices d ON d.udid = c.udid JOIN dac_batches b ON b.id = c.batch"
        " WHERE c.order_id = ? AND c.udid > ? ORDER BY c.udid LIMIT ?");
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_int64(s, 1, order_id);
    sqlite3_bind_text(s, 2, after, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)max);
    *n = 0;
    int r = SQLITE_DONE;
    while (*n < max && (r = sqlite3_step(s)) == SQLITE_ROW) {
        mp_issued *d = &out[(*n)++];
        memset(d, 0, sizeof(*d));
        snprintf(d->udid, sizeof(d->udid), "%s", (const char *)sqlite3_column_text(s, 0));
        d->key_origin = sqlite3_column_int(s, 1);
        snprintf(d->serial, sizeof(d->serial), "%s", (const char *)sqlite3_column_text(s, 2));
        size_t len = (size_t)sqlite3_column_bytes(s, 3);
        if (len > sizeof(d->der)) {
            sqlite3_reset(s);
            return mp_err(MP_ERR_DB, "ledger: the DAC of %s is larger than %zu bytes", d->udid, sizeof(d->der));
        }
        memcpy(d->der, sqlite3_column_blob(s, 3), len);
        d->der_len = len;
        snprintf(d->path, sizeof(d->path), "%s", (const char *)sqlite3_column_text(s, 4));
    }
    int rc = r == SQLITE_ROW || r == SQLITE_DONE ? MP_OK : mp_ledger_db_err(l, "select issued devices");
    sqlite3_reset(s);
    return rc;
}

int mp_ledger_count_issued(mp_ledger *l, int64_t order_id, int key_origin, uint64_t *n)
{
    sqlite3_stmt *s = mp_ledger_stmt(l,
        "SELECT count(*) FROM dacs c JOIN devices d ON d.udid = c.udid WHERE c.order_id = ? AND d.key_origin = ?");
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_int64(s, 1, order_id);
    sqlite3_bind_int(s, 2, key_origin);
    int r = sqlite3_step(s);
    *n = r == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return r == SQLITE_ROW ? MP_OK : mp_ledger_db_err(l, "count issued");
}

int mp_ledger_count_fd(mp_ledger *l, int64_t order_id, uint64_t *n)
{
    sqlite3_stmt *s = mp_ledger_stmt(l, "SELECT count(*) FROM factory_data WHERE order_id = ?");
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_int64(s, 1, order_id);
    int r = sqlite3_step(s);
    *n = r == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return r == SQLITE_ROW ? MP_OK : mp_ledger_db_err(l, "count factory data");
}

int mp_ledger_add_fd(mp_ledger *l, const mp_fd_rec *r)
{
    sqlite3_stmt *s = mp_ledger_stmt(l,
        "INSERT INTO factory_data(udid, order_id, serial, discriminator, iterations, salt, verifier, rd_uid,"
        " passcode, mfg_date, written, built_at) VALUES(?,?,?,?,?,?,?,?,?,?,0,datetime('now'))");
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, r->udid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, r->order_id);
    sqlite3_bind_text(s, 3, r->serial, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, r->discriminator);
    sqlite3_bind_int64(s, 5, r->iterations);
    sqlite3_bind_blob(s, 6, r->salt, (int)r->salt_len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 7, r->verifier, 97, SQLITE_STATIC);
    sqlite3_bind_blob(s, 8, r->rd_uid, (int)r->rd_uid_len, SQLITE_STATIC);
    if (r->has_passcode) {
        sqlite3_bind_int64(s, 9, r->passcode);
    } else {
        sqlite3_bind_null(s, 9);
    }
    sqlite3_bind_text(s, 10, r->mfg_date, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE) {
        int ext = sqlite3_extended_errcode(mp_ledger_db(l));
        sqlite3_reset(s);
        if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
            return mp_err(MP_ERR_DUPLICATE, "factory data for %s: serial number %s or the device is already recorded", r->udid, r->serial);
        }
        return mp_ledger_db_err(l, "add factory data");
    }
    sqlite3_reset(s);
    return MP_OK;
}

int mp_ledger_get_fd(mp_ledger *l, const char *udid, mp_fd_rec *r, int *found)
{
    sqlite3_stmt *s = mp_ledger_stmt(l,
        "SELECT order_id, serial, discriminator, iterations, salt, verifier, rd_uid, passcode, mfg_date, written"
        " FROM factory_data WHERE udid = ?");
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, udid, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *found = rc == SQLITE_ROW;
    if (*found) {
        memset(r, 0, sizeof(*r));
        snprintf(r->udid, sizeof(r->udid), "%s", udid);
        r->order_id = sqlite3_column_int64(s, 0);
        snprintf(r->serial, sizeof(r->serial), "%s", (const char *)sqlite3_column_text(s, 1));
        r->discriminator = (uint16_t)sqlite3_column_int(s, 2);
        r->iterations = (uint32_t)sqlite3_column_int64(s, 3);
        r->salt_len = (size_t)sqlite3_column_bytes(s, 4);
        if (r->salt_len > sizeof(r->salt)) r->salt_len = sizeof(r->salt);
        memcpy(r->salt, sqlite3_column_blob(s, 4), r->salt_len);
        if (sqlite3_column_bytes(s, 5) == 97) memcpy(r->verifier, sqlite3_column_blob(s, 5), 97);
        r->rd_uid_len = (size_t)sqlite3_column_bytes(s, 6);
        if (r->rd_uid_len > sizeof(r->rd_uid)) r->rd_uid_len = sizeof(r->rd_uid);
        memcpy(r->rd_uid, sqlite3_column_blob(s, 6), r->rd_uid_len);
        r->has_passcode = sqlite3_column_type(s, 7) != SQLITE_NULL;
        r->passcode = (uint32_t)sqlite3_column_int64(s, 7);
        snprintf(r->mfg_date, sizeof(r->mfg_date), "%s", (const char *)sqlite3_column_text(s, 8));
        r->written = sqlite3_column_int(s, 9);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? MP_OK : mp_ledger_db_err(l, "get factory data");
}

int mp_ledger_fd_written(mp_ledger *l, const char *udid)
{
    sqlite3_stmt *s = mp_ledger_stmt(l, "UPDATE factory_data SET written = 1 WHERE udid = ?");
    if (s == NULL) return MP_ERR_DB;
    sqlite3_bind_text(s, 1, udid, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    return r == SQLITE_DONE ? MP_OK : mp_ledger_db_err(l, "mark factory data written");
}
