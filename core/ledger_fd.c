/* ledger_fd.c - the factory-data part of the ledger (schema v2, v5 for dacs):
 * credentials generated per device, and the issued devices an order's
 * factory data is built for. Portable SQL on the driver of ledger_db.c. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ledger.h"
#include "ledger_int.h"

int mp_ledger_next_issued(mp_ledger *l, int64_t order_id, const char *after, size_t max, mp_issued *out, size_t *n)
{
    mp_q *s = mp_q_get(l,
        "SELECT c.udid, d.key_origin, hex(c.serial), c.der, " CERT_PATH ", b.dir"
        " FROM dacs c JOIN devices d ON d.udid = c.udid JOIN dac_batches b ON b.id = c.batch"
        " WHERE c.order_id = ? AND c.udid > ? ORDER BY c.udid LIMIT ?");
    if (s == NULL) return MP_ERR_DB;
    mp_q_i64(s, 1, order_id);
    mp_q_txt(s, 2, after);
    mp_q_i64(s, 3, (int64_t)max);
    *n = 0;
    int r = 0;
    while (*n < max && (r = mp_q_step(s)) == 1) {
        mp_issued *d = &out[(*n)++];
        memset(d, 0, sizeof(*d));
        snprintf(d->udid, sizeof(d->udid), "%s", mp_q_text(s, 0));
        d->key_origin = (int)mp_q_int(s, 1);
        snprintf(d->serial, sizeof(d->serial), "%s", mp_q_text(s, 2));
        size_t len = 0;
        const uint8_t *der = mp_q_bytes(s, 3, &len);
        if (len > sizeof(d->der)) {
            mp_q_reset(s);
            return mp_err(MP_ERR_DB, "ledger: the DAC of %s is larger than %zu bytes", d->udid, sizeof(d->der));
        }
        memcpy(d->der, der, len);
        d->der_len = len;
        snprintf(d->path, sizeof(d->path), "%s", mp_q_text(s, 4));
        mp_ledger_copy_text(d->dir, sizeof(d->dir), mp_q_text(s, 5));
    }
    mp_q_reset(s);
    return r >= 0 ? MP_OK : mp_ledger_err(l, "select issued devices");
}

static int count1(mp_ledger *l, mp_q *s, uint64_t *n, const char *what)
{
    int r = mp_q_step(s);
    *n = r == 1 ? (uint64_t)mp_q_int(s, 0) : 0;
    mp_q_reset(s);
    return r == 1 ? MP_OK : mp_ledger_err(l, what);
}

int mp_ledger_count_issued(mp_ledger *l, int64_t order_id, int key_origin, uint64_t *n)
{
    mp_q *s = mp_q_get(l,
        "SELECT count(*) FROM dacs c JOIN devices d ON d.udid = c.udid WHERE c.order_id = ? AND d.key_origin = ?");
    if (s == NULL) return MP_ERR_DB;
    mp_q_i64(s, 1, order_id);
    mp_q_i64(s, 2, key_origin);
    return count1(l, s, n, "count issued");
}

int mp_ledger_count_fd(mp_ledger *l, int64_t order_id, uint64_t *n)
{
    mp_q *s = mp_q_get(l, "SELECT count(*) FROM factory_data WHERE order_id = ?");
    if (s == NULL) return MP_ERR_DB;
    mp_q_i64(s, 1, order_id);
    return count1(l, s, n, "count factory data");
}

int mp_ledger_add_fd(mp_ledger *l, const mp_fd_rec *r)
{
    mp_q *s = mp_q_get(l,
        "INSERT INTO factory_data(udid, order_id, serial, discriminator, iterations, salt, verifier, rd_uid,"
        " passcode, mfg_date, written, built_at) VALUES(?,?,?,?,?,?,?,?,?,?,0,datetime('now'))");
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, r->udid);
    mp_q_i64(s, 2, r->order_id);
    mp_q_txt(s, 3, r->serial);
    mp_q_i64(s, 4, r->discriminator);
    mp_q_i64(s, 5, r->iterations);
    mp_q_blob(s, 6, r->salt, r->salt_len);
    mp_q_blob(s, 7, r->verifier, 97);
    mp_q_blob(s, 8, r->rd_uid, r->rd_uid_len);
    if (r->has_passcode) {
        mp_q_i64(s, 9, r->passcode);
    } else {
        mp_q_null(s, 9);
    }
    mp_q_txt(s, 10, r->mfg_date);
    if (mp_q_step(s) < 0) {
        if (mp_ledger_conflict(l, NULL, NULL)) {
            return mp_err(MP_ERR_DUPLICATE, "factory data for %s: serial number %s or the device is already recorded", r->udid, r->serial);
        }
        return mp_ledger_err(l, "add factory data");
    }
    return MP_OK;
}

int mp_ledger_get_fd(mp_ledger *l, const char *udid, mp_fd_rec *r, int *found)
{
    mp_q *s = mp_q_get(l,
        "SELECT order_id, serial, discriminator, iterations, salt, verifier, rd_uid, passcode, mfg_date, written"
        " FROM factory_data WHERE udid = ?");
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, udid);
    int rc = mp_q_step(s);
    *found = rc == 1;
    if (*found) {
        size_t n = 0;
        const uint8_t *p;
        memset(r, 0, sizeof(*r));
        snprintf(r->udid, sizeof(r->udid), "%s", udid);
        r->order_id = mp_q_int(s, 0);
        snprintf(r->serial, sizeof(r->serial), "%s", mp_q_text(s, 1));
        r->discriminator = (uint16_t)mp_q_int(s, 2);
        r->iterations = (uint32_t)mp_q_int(s, 3);
        p = mp_q_bytes(s, 4, &n);
        r->salt_len = n > sizeof(r->salt) ? sizeof(r->salt) : n;
        if (p) memcpy(r->salt, p, r->salt_len);
        p = mp_q_bytes(s, 5, &n);
        if (p && n == 97) memcpy(r->verifier, p, 97);
        p = mp_q_bytes(s, 6, &n);
        r->rd_uid_len = n > sizeof(r->rd_uid) ? sizeof(r->rd_uid) : n;
        if (p) memcpy(r->rd_uid, p, r->rd_uid_len);
        r->has_passcode = !mp_q_isnull(s, 7);
        r->passcode = (uint32_t)mp_q_int(s, 7);
        snprintf(r->mfg_date, sizeof(r->mfg_date), "%s", mp_q_text(s, 8));
        r->written = (int)mp_q_int(s, 9);
    }
    mp_q_reset(s);
    return rc >= 0 ? MP_OK : mp_ledger_err(l, "get factory data");
}

int mp_ledger_fd_written(mp_ledger *l, const char *udid)
{
    mp_q *s = mp_q_get(l, "UPDATE factory_data SET written = 1 WHERE udid = ?");
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, udid);
    return mp_q_step(s) >= 0 ? MP_OK : mp_ledger_err(l, "mark factory data written");
}

/* ---- several builds on one order ---------------------------------------- */

#define CLAIM_DONE 9000000000000000000LL /* a claim whose factory data is recorded */
/* An unrecorded claim of the caller's own folder is taken over at once: the
 * folder's lock says the run that made it is gone. */

int mp_ledger_fd_claim(mp_ledger *l, const char *lease, time_t until, const char *dir, const char *udid, int *got)
{
    mp_q *s = mp_q_get(l, "INSERT INTO fd_claims(udid,lease,until,dir) VALUES(?1,?2,?3,?4) ON CONFLICT(udid) DO UPDATE"
                          " SET lease=excluded.lease,until=excluded.until,dir=excluded.dir"
                          " WHERE fd_claims.until<?5 OR fd_claims.lease=excluded.lease"
                          " OR (fd_claims.dir=excluded.dir AND fd_claims.until<?6)");
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, udid);
    mp_q_txt(s, 2, lease);
    mp_q_i64(s, 3, (int64_t)until);
    mp_q_txt(s, 4, dir);
    mp_q_i64(s, 5, (int64_t)time(NULL));
    mp_q_i64(s, 6, CLAIM_DONE);
    if (mp_q_step(s) < 0) return mp_ledger_err(l, "claim a device for factory data");
    *got = mp_q_changes(s) == 1;
    return MP_OK;
}

int mp_ledger_fd_confirm(mp_ledger *l, const char *udid, const char *lease, int *ok)
{
    mp_q *s = mp_q_get(l, "UPDATE fd_claims SET until=?3 WHERE udid=?1 AND lease=?2 AND until>=?4");
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, udid);
    mp_q_txt(s, 2, lease);
    mp_q_i64(s, 3, CLAIM_DONE);
    mp_q_i64(s, 4, (int64_t)time(NULL));
    if (mp_q_step(s) < 0) return mp_ledger_err(l, "confirm a factory-data claim");
    *ok = mp_q_changes(s) == 1;
    return MP_OK;
}

int mp_ledger_fd_release(mp_ledger *l, const char *lease)
{
    mp_q *s = mp_q_get(l, "DELETE FROM fd_claims WHERE lease=? AND until<?");
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, lease);
    mp_q_i64(s, 2, CLAIM_DONE);
    return mp_q_step(s) >= 0 ? MP_OK : mp_ledger_err(l, "release factory-data claims");
}

int mp_ledger_fd_dir(mp_ledger *l, const char *udid, char *dir, size_t cap, int *found)
{
    mp_q *s = mp_q_get(l, "SELECT dir FROM fd_claims WHERE udid=?");
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, udid);
    int r = mp_q_step(s);
    *found = r == 1;
    if (r == 1) snprintf(dir, cap, "%s", mp_q_text(s, 0) ? mp_q_text(s, 0) : "");
    mp_q_reset(s);
    return r >= 0 ? MP_OK : mp_ledger_err(l, "read a factory-data claim");
}

/* ---- factory-data line-readiness (see ledger.h) ------------------------------ */

int mp_ledger_fd_image(mp_ledger *l, const char *udid, const char *format, const char sha256[65], char recorded[65])
{
    static const char q_get[] = "SELECT sha256 FROM fd_images WHERE udid = ? AND format = ?";
    static const char q_put[] = "INSERT INTO fd_images(udid, format, sha256) VALUES(?,?,?)";
    mp_q *s = mp_q_get(l, q_get);
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, udid);
    mp_q_txt(s, 2, format);
    int r = mp_q_step(s);
    recorded[0] = 0;
    if (r == 1) mp_ledger_copy_text(recorded, 65, mp_q_text(s, 0));
    mp_q_reset(s);
    if (r < 0) return mp_ledger_err(l, "image hash");
    if (r == 1) return MP_OK;
    if ((s = mp_q_get(l, q_put)) == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, udid);
    mp_q_txt(s, 2, format);
    mp_q_txt(s, 3, sha256);
    return mp_ledger_step_done(l, s, "record image hash");
}

int mp_ledger_fd_images(mp_ledger *l, const char *udid, int (*cb)(void *ctx, const char *format, const char *sha256), void *ctx)
{
    mp_q *s = mp_q_get(l, "SELECT format, sha256 FROM fd_images WHERE udid = ? ORDER BY format");
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, udid);
    int r, rc = MP_OK;
    while (rc == MP_OK && (r = mp_q_step(s)) == 1) {
        const char *f = mp_q_text(s, 0), *h = mp_q_text(s, 1);
        rc = cb(ctx, f ? f : "", h ? h : "");
    }
    mp_q_reset(s);
    if (rc != MP_OK) return rc;
    return r >= 0 ? MP_OK : mp_ledger_err(l, "read image hashes");
}

static int owner_of(mp_ledger *l, const char *q, const void *key, size_t len, int text, char udid[MP_UDID_MAX + 1])
{
    mp_q *s = mp_q_get(l, q);
    if (s == NULL) return MP_ERR_DB;
    if (text) mp_q_txt(s, 1, key);
    else mp_q_blob(s, 1, key, len);
    int r = mp_q_step(s);
    udid[0] = 0;
    if (r == 1) mp_ledger_copy_text(udid, MP_UDID_MAX + 1, mp_q_text(s, 0));
    mp_q_reset(s);
    return r >= 0 ? MP_OK : mp_ledger_err(l, "factory-data lookup");
}

int mp_ledger_fd_serial_owner(mp_ledger *l, const char *serial, char udid[MP_UDID_MAX + 1])
{
    static const char q[] = "SELECT udid FROM factory_data WHERE serial = ?";
    return owner_of(l, q, serial, 0, 1, udid);
}

int mp_ledger_fd_rd_uid_owner(mp_ledger *l, const uint8_t *rd_uid, size_t len, char udid[MP_UDID_MAX + 1])
{
    static const char q[] = "SELECT udid FROM factory_data WHERE rd_uid = ?";
    return owner_of(l, q, rd_uid, len, 0, udid);
}

int mp_ledger_serial_next(mp_ledger *l, const char *tmpl, uint64_t *next, int *found)
{
    static const char q[] = "SELECT next FROM serial_counters WHERE template = ?";
    mp_q *s = mp_q_get(l, q);
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, tmpl);
    int r = mp_q_step(s);
    *found = r == 1;
    *next = *found ? (uint64_t)mp_q_int(s, 0) : 0;
    mp_q_reset(s);
    return r >= 0 ? MP_OK : mp_ledger_err(l, "serial counter");
}

int mp_ledger_serial_advance(mp_ledger *l, const char *tmpl, uint64_t next)
{
    static const char q[] = "INSERT INTO serial_counters(template, next) VALUES(?1, ?2)"
                            " ON CONFLICT(template) DO UPDATE SET next = CASE WHEN serial_counters.next > ?2"
                            " THEN serial_counters.next ELSE ?2 END";
    mp_q *s = mp_q_get(l, q);
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, tmpl);
    mp_q_i64(s, 2, (int64_t)next);
    return mp_ledger_step_done(l, s, "advance serial counter");
}

int mp_ledger_serial_take(mp_ledger *l, const char *tmpl, uint64_t floor, uint64_t n, uint64_t *first)
{
    /* one conditional upsert: the counter's row is locked until the commit,
     * so runs at once get disjoint blocks */
    static const char q[] = "INSERT INTO serial_counters(template, next) VALUES(?1, ?2 + ?3)"
                            " ON CONFLICT(template) DO UPDATE SET next = CASE WHEN serial_counters.next > ?2"
                            " THEN serial_counters.next ELSE ?2 END + ?3 RETURNING next";
    mp_q *s = mp_q_get(l, q);
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, tmpl);
    mp_q_i64(s, 2, (int64_t)floor);
    mp_q_i64(s, 3, (int64_t)n);
    int r = mp_q_step(s);
    int64_t v = r == 1 ? mp_q_int(s, 0) : 0;
    mp_q_reset(s);
    if (r != 1) return mp_ledger_err(l, "take serial numbers");
    *first = (uint64_t)v - n;
    return MP_OK;
}

int mp_ledger_device_in_order(mp_ledger *l, const char *udid, int64_t order_id, int *state, int *in_order, int *found)
{
    static const char q[] = "SELECT d.state, CASE WHEN EXISTS(SELECT 1 FROM dacs c WHERE c.udid = d.udid AND c.order_id = ?2)"
                            " THEN 1 ELSE 0 END FROM devices d WHERE d.udid = ?1";
    mp_q *s = mp_q_get(l, q);
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, udid);
    mp_q_i64(s, 2, order_id);
    int r = mp_q_step(s);
    *found = r == 1;
    *state = *found ? (int)mp_q_int(s, 0) : 0;
    *in_order = *found ? (int)mp_q_int(s, 1) : 0;
    mp_q_reset(s);
    return r >= 0 ? MP_OK : mp_ledger_err(l, "device lookup");
}
