/* ledger_station.c - many runs, one ledger: device reservations under
 * expiring leases, stations and their sub-quotas, and the hash-chained audit
 * trail (see ledger.h). Portable SQL on the driver of ledger_db.c; the one
 * statement that differs is the reservation (FOR UPDATE SKIP LOCKED on
 * PostgreSQL, where many writers run at once; SQLite has one writer). */
#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ledger.h"
#include "ledger_int.h"
#include "util.h"

static void now_iso(char out[21])
{
    mp_time_iso(time(NULL), out);
}

/* ---- reservations ---------------------------------------------------------- */

/* PostgreSQL reserves rows: a reserved device has state 3 and its run's
 * lease, taken with FOR UPDATE SKIP LOCKED (many writers at once). SQLite
 * has one writer at a time and reserves ranges: a row of `leases` per span
 * of UDIDs [lo, hi] a run took; the authorized devices in it (state 0, no
 * DAC) are that run's while `until` holds, and a new reservation takes
 * devices only from the gaps between live spans. One row per run and order
 * instead of two rewrites of every reserved device (schema v10). Spans never
 * overlap: a span is made in a gap, or grown over the gap right after the
 * run's own span. */

/* Expired leases of any run go back to the pool. */
static int sweep(mp_ledger *l, time_t now)
{
    mp_q *q = mp_q_get(l, mp_ledger_is_pg(l) ? "UPDATE devices SET state=0,lease=NULL,lease_until=NULL,lease_order=NULL"
                                               " WHERE state=3 AND lease_until<?"
                                             : "DELETE FROM leases WHERE until<?");
    if (q == NULL) return MP_ERR_DB;
    mp_q_i64(q, 1, (int64_t)now);
    return mp_q_step(q) >= 0 ? MP_OK : mp_ledger_err(l, "return expired reservations");
}

/* What the order, and the station's sub-quota if it has one, leave beyond
 * the live reservations on the order. */
static int room(mp_ledger *l, int64_t order_id, const char *station, int64_t *left)
{
    static const char pg[] =
        "SELECT o.quota-o.issued-(SELECT count(*) FROM devices d WHERE d.state=3 AND d.lease_order=o.id),"
        " o.closed, (SELECT s.quota-s.issued FROM order_stations s WHERE s.order_id=o.id AND s.station=?2)"
        " FROM orders o WHERE o.id=?1";
    static const char lite[] =
        "SELECT o.quota-o.issued-(SELECT count(*) FROM leases r CROSS JOIN devices d INDEXED BY devices_authorized"
        " WHERE r.order_id=o.id AND d.udid BETWEEN r.lo AND r.hi AND d.state=0 AND d.key_origin=0)," /* spans first */
        " o.closed, (SELECT s.quota-s.issued FROM order_stations s WHERE s.order_id=o.id AND s.station=?2)"
        " FROM orders o WHERE o.id=?1";
    mp_q *q = mp_q_get(l, mp_ledger_is_pg(l) ? pg : lite);
    if (q == NULL) return MP_ERR_DB;
    mp_q_i64(q, 1, order_id);
    mp_q_txt(q, 2, station ? station : "");
    int r = mp_q_step(q);
    if (r < 0) return mp_ledger_err(l, "read the order's quota");
    if (r == 0) return mp_err(MP_ERR_INVALID, "no production order %lld in %s", (long long)order_id, mp_ledger_path(l));
    *left = mp_q_int(q, 1) ? 0 : mp_q_int(q, 0);
    if (!mp_q_isnull(q, 2) && mp_q_int(q, 2) < *left) *left = mp_q_int(q, 2);
    mp_q_reset(q);
    if (*left < 0) *left = 0;
    return MP_OK;
}

/* PostgreSQL: the next free devices in UDID order, rows locked and marked. */
static int reserve_rows(mp_ledger *l, int64_t order_id, const char *lease, time_t until, size_t want, mp_device *out,
                        size_t *n)
{
    mp_q *q = mp_q_get(l, "WITH c AS (SELECT udid FROM devices WHERE state=0 AND key_origin=0 ORDER BY udid LIMIT ?1"
                          " FOR UPDATE SKIP LOCKED)"
                          " UPDATE devices d SET state=3,lease=?2,lease_until=?3,lease_order=?4 FROM c WHERE d.udid=c.udid"
                          " RETURNING d.udid,d.pubkey,d.list_id,d.state,d.key_origin");
    if (q == NULL) return MP_ERR_DB;
    mp_q_i64(q, 1, (int64_t)want);
    mp_q_txt(q, 2, lease);
    mp_q_i64(q, 3, (int64_t)until);
    mp_q_i64(q, 4, order_id);
    int r;
    while ((r = mp_q_step(q)) == 1) {
        if (*n < want) mp_ledger_row_device(q, &out[(*n)++]);
    }
    return r < 0 ? mp_ledger_err(l, "reserve devices") : MP_OK;
}

int mp_ledger_spans(mp_ledger *l, int64_t order_id, const char *lease, int own_only, mp_span **out, size_t *n)
{
    mp_q *q = mp_q_get(l, "SELECT id, lo, hi, lease=?1 AND order_id=?2 FROM leases"
                          " WHERE until>=?3 AND (?4=0 OR (lease=?1 AND order_id=?2)) ORDER BY lo");
    if (q == NULL) return MP_ERR_DB;
    mp_q_txt(q, 1, lease);
    mp_q_i64(q, 2, order_id);
    mp_q_i64(q, 3, (int64_t)time(NULL));
    mp_q_i64(q, 4, own_only != 0);
    size_t cap = 0;
    int r;
    *out = NULL;
    *n = 0;
    while ((r = mp_q_step(q)) == 1) {
        if (*n == cap) {
            mp_span *p = realloc(*out, (cap = cap ? 2 * cap : 16) * sizeof(mp_span));
            if (p == NULL) {
                mp_q_reset(q);
                return mp_err(MP_ERR_GENERAL, "out of memory");
            }
            *out = p;
        }
        mp_span *s = &(*out)[(*n)++];
        s->id = mp_q_int(q, 0);
        snprintf(s->lo, sizeof(s->lo), "%s", mp_q_text(q, 1));
        snprintf(s->hi, sizeof(s->hi), "%s", mp_q_text(q, 2));
        s->own = mp_q_int(q, 3) != 0;
    }
    return r < 0 ? mp_ledger_err(l, "read the reservations") : MP_OK;
}

/* Free devices after `after` and before `upto` (NULL: no bound), in UDID order. */
static int take_gap(mp_ledger *l, const char *after, const char *upto, size_t want, mp_device *out, size_t *n)
{
    mp_q *q = mp_q_get(l, upto != NULL ? "SELECT udid,pubkey,list_id,state,key_origin FROM devices INDEXED BY devices_authorized"
                                         " WHERE state=0 AND key_origin=0 AND udid>?1 AND udid<?3 ORDER BY udid LIMIT ?2"
                                       : "SELECT udid,pubkey,list_id,state,key_origin FROM devices INDEXED BY devices_authorized"
                                         " WHERE state=0 AND key_origin=0 AND udid>?1 ORDER BY udid LIMIT ?2");
    if (q == NULL) return MP_ERR_DB;
    mp_q_txt(q, 1, after);
    mp_q_i64(q, 2, (int64_t)(want - *n));
    if (upto != NULL) mp_q_txt(q, 3, upto);
    int r;
    while ((r = mp_q_step(q)) == 1) {
        if (*n < want) {
            mp_ledger_row_device(q, &out[*n]);
            out[(*n)++].state = MP_DEV_RESERVED;
        }
    }
    return r < 0 ? mp_ledger_err(l, "reserve devices") : MP_OK;
}

/* The span [lo, hi] becomes this run's: a new row, or (grow: the run's own
 * span that ends right before the gap) that row grown over the gap. */
static int put_span(mp_ledger *l, int64_t grow, int64_t order_id, const char *lease, time_t until, const char *lo,
                    const char *hi)
{
    mp_q *q = mp_q_get(l, grow ? "UPDATE leases SET hi=?2, until=?3 WHERE id=?1"
                               : "INSERT INTO leases(lease, order_id, until, lo, hi) VALUES(?1, ?4, ?3, ?5, ?2)");
    if (q == NULL) return MP_ERR_DB;
    if (grow) {
        mp_q_i64(q, 1, grow);
    } else {
        mp_q_txt(q, 1, lease);
        mp_q_i64(q, 4, order_id);
        mp_q_txt(q, 5, lo);
    }
    mp_q_txt(q, 2, hi);
    mp_q_i64(q, 3, (int64_t)until);
    return mp_q_step(q) >= 0 ? MP_OK : mp_ledger_err(l, "record the reservation");
}

/* SQLite: the first free devices in UDID order outside every live span,
 * gap by gap; what is taken from a gap becomes a span of this run. */
static int reserve_spans(mp_ledger *l, int64_t order_id, const char *lease, time_t until, size_t want, mp_device *out,
                         size_t *n)
{
    mp_span *sp = NULL;
    size_t ns = 0;
    char after[MP_UDID_MAX + 1] = "";
    int64_t grow = 0;
    int rc = mp_ledger_spans(l, order_id, lease, 0, &sp, &ns); /* after the sweep: all of them */
    for (size_t k = 0; rc == MP_OK && k <= ns && *n < want; k++) {
        size_t first = *n;
        if ((rc = take_gap(l, after, k < ns ? sp[k].lo : NULL, want, out, n)) != MP_OK) break;
        if (*n > first) rc = put_span(l, grow, order_id, lease, until, out[first].udid, out[*n - 1].udid);
        if (k < ns && strcmp(sp[k].hi, after) > 0) {
            snprintf(after, sizeof(after), "%s", sp[k].hi);
            grow = sp[k].own ? sp[k].id : 0;
        } else {
            grow = 0;
        }
    }
    free(sp);
    return rc;
}

int mp_ledger_reserve(mp_ledger *l, int64_t order_id, const char *station, const char *lease, time_t until,
                      size_t max, mp_device *out, size_t *n)
{
    int64_t left = 0;
    int rc;
    *n = 0;
    if ((rc = mp_ledger_begin(l)) != MP_OK) return rc;
    if ((rc = sweep(l, time(NULL))) == MP_OK && (rc = room(l, order_id, station, &left)) == MP_OK && left > 0) {
        size_t want = (uint64_t)left < max ? (size_t)left : max;
        rc = mp_ledger_is_pg(l) ? reserve_rows(l, order_id, lease, until, want, out, n)
                                : reserve_spans(l, order_id, lease, until, want, out, n);
    }
    if (rc == MP_OK) rc = mp_ledger_commit(l);
    if (rc != MP_OK) *n = 0;
    mp_ledger_rollback(l);
    return rc;
}

/* SQLite: one named device, free and outside every other run's live span;
 * a one-device span of this run unless one of its spans holds it already. */
static int reserve_udid_span(mp_ledger *l, int64_t order_id, const char *lease, time_t until, const char *udid,
                             mp_device *d, int *got)
{
    int own_tx = !mp_ledger_in_tx(l), held = 0, r;
    int64_t now = (int64_t)time(NULL);
    int rc = own_tx ? mp_ledger_begin(l) : MP_OK;
    if (rc == MP_OK) rc = sweep(l, (time_t)now);
    mp_q *q = rc == MP_OK ? mp_q_get(l, "SELECT d.udid,d.pubkey,d.list_id,d.state,d.key_origin,"
                                        " EXISTS(SELECT 1 FROM leases r WHERE r.lo<=?1 AND r.hi>=?1 AND r.lease=?2 AND r.order_id=?3)"
                                        " FROM devices d WHERE d.udid=?1 AND d.key_origin=0 AND d.state=0 AND NOT EXISTS"
                                        " (SELECT 1 FROM leases r WHERE r.lo<=?1 AND r.hi>=?1 AND NOT (r.lease=?2 AND r.order_id=?3))")
                            : NULL;
    if (rc == MP_OK && q == NULL) rc = MP_ERR_DB;
    if (rc == MP_OK) {
        mp_q_txt(q, 1, udid);
        mp_q_txt(q, 2, lease);
        mp_q_i64(q, 3, order_id);
        if ((r = mp_q_step(q)) < 0) {
            rc = mp_ledger_err(l, "reserve a device");
        } else if ((*got = r == 1)) {
            mp_ledger_row_device(q, d);
            d->state = MP_DEV_RESERVED;
            held = mp_q_int(q, 5) != 0;
            mp_q_reset(q);
        }
    }
    if (rc == MP_OK && *got && !held) rc = put_span(l, 0, order_id, lease, until, udid, udid);
    if (own_tx) {
        if (rc == MP_OK) rc = mp_ledger_commit(l);
        mp_ledger_rollback(l);
    }
    if (rc != MP_OK) *got = 0;
    return rc;
}

int mp_ledger_reserve_udid(mp_ledger *l, int64_t order_id, const char *lease, time_t until, const char *udid,
                           mp_device *d, int *got)
{
    *got = 0;
    if (!mp_ledger_is_pg(l)) return reserve_udid_span(l, order_id, lease, until, udid, d, got);
    mp_q *q = mp_q_get(l, "UPDATE devices SET state=3,lease=?2,lease_until=?3,lease_order=?4"
                          " WHERE udid=?1 AND key_origin=0 AND (state=0 OR (state=3 AND (lease_until<?5 OR lease=?2)))"
                          " RETURNING udid,pubkey,list_id,state,key_origin");
    if (q == NULL) return MP_ERR_DB;
    mp_q_txt(q, 1, udid);
    mp_q_txt(q, 2, lease);
    mp_q_i64(q, 3, (int64_t)until);
    mp_q_i64(q, 4, order_id);
    mp_q_i64(q, 5, (int64_t)time(NULL));
    int r = mp_q_step(q);
    *got = r == 1;
    if (r == 1) {
        mp_ledger_row_device(q, d);
        while ((r = mp_q_step(q)) == 1) {
        }
    }
    return r >= 0 ? MP_OK : mp_ledger_err(l, "reserve a device");
}

int mp_ledger_release(mp_ledger *l, const char *lease)
{
    mp_q *q = mp_q_get(l, mp_ledger_is_pg(l) ? "UPDATE devices SET state=0,lease=NULL,lease_until=NULL,lease_order=NULL"
                                               " WHERE state=3 AND lease=?"
                                             : "DELETE FROM leases WHERE lease=?");
    if (q == NULL) return MP_ERR_DB;
    mp_q_txt(q, 1, lease);
    return mp_q_step(q) >= 0 ? MP_OK : mp_ledger_err(l, "return reserved devices");
}

int mp_ledger_renew(mp_ledger *l, const char *lease, time_t until)
{
    mp_q *q = mp_q_get(l, mp_ledger_is_pg(l) ? "UPDATE devices SET lease_until=?2 WHERE state=3 AND lease=?1 AND lease_until>=?3"
                                             : "UPDATE leases SET until=?2 WHERE lease=?1 AND until>=?3");
    if (q == NULL) return MP_ERR_DB;
    mp_q_txt(q, 1, lease);
    mp_q_i64(q, 2, (int64_t)until);
    mp_q_i64(q, 3, (int64_t)time(NULL));
    return mp_q_step(q) >= 0 ? MP_OK : mp_ledger_err(l, "renew the lease");
}

/* ---- stations -------------------------------------------------------------- */

int mp_station_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > MP_STATION_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)name[i]) && name[i] != '.' && name[i] != '-' && name[i] != '_') return 0;
    }
    return 1;
}

/* Why a station's sub-quota refused n (the order has assignments): not
 * assigned, or too little left. MP_OK when the order has none. */
static int station_refused(int64_t order_id, const char *station, uint64_t n, int64_t assigned, int has, int64_t left)
{
    if (assigned > 0 && !has) {
        return mp_err(MP_ERR_UNAUTHORIZED, "station %s is not assigned to production order %lld (order assign)", station,
                      (long long)order_id);
    }
    if (assigned > 0) {
        return mp_err(MP_ERR_QUOTA, "station %s has %lld of its sub-quota left on production order %lld; %llu asked",
                      station, (long long)left, (long long)order_id, (unsigned long long)n);
    }
    return MP_OK;
}

/* PostgreSQL: the station's count and its sub-quota in one statement (both
 * conditional updates run; the counts say which matched; an order without
 * assignments matches none and refuses nothing). */
static int count_station_pg(mp_ledger *l, int64_t order_id, const char *station, uint64_t n, const char *now)
{
    mp_q *q = mp_q_get(l, "WITH s AS (INSERT INTO stations(name,enabled,issued,created_at) VALUES(?2,1,?3,?4)"
                          " ON CONFLICT(name) DO UPDATE SET issued=stations.issued+excluded.issued WHERE stations.enabled=1 RETURNING 1),"
                          " u AS (UPDATE order_stations SET issued=issued+?3 WHERE order_id=?1 AND station=?2 AND issued+?3<=quota RETURNING 1)"
                          " SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM u), count(*),"
                          " CAST(sum(CASE WHEN station=?2 THEN quota-issued END) AS BIGINT) FROM order_stations WHERE order_id=?1");
    if (q == NULL) return MP_ERR_DB;
    mp_q_i64(q, 1, order_id);
    mp_q_txt(q, 2, station);
    mp_q_i64(q, 3, (int64_t)n);
    mp_q_txt(q, 4, now);
    if (mp_q_step(q) != 1) return mp_ledger_err(l, "count against the station");
    int64_t enabled = mp_q_int(q, 0), took = mp_q_int(q, 1), assigned = mp_q_int(q, 2), left = mp_q_int(q, 3);
    int has = !mp_q_isnull(q, 3);
    mp_q_reset(q);
    if (enabled != 1) {
        return mp_err(MP_ERR_UNAUTHORIZED, "station %s is disabled: it may not issue (station list)", station);
    }
    return took == 1 ? MP_OK : station_refused(order_id, station, n, assigned, has, left);
}

/* Count n certificates against a station: registered at its first
 * certificate, refused when disabled; with check_assign, its sub-quota when
 * the order has station assignments (PostgreSQL checks it always, in the
 * same statement). */
static int count_station(mp_ledger *l, int64_t order_id, const char *station, uint64_t n, int check_assign)
{
    char now[21];
    now_iso(now);
    if (mp_ledger_is_pg(l)) return count_station_pg(l, order_id, station, n, now);
    /* the station: registered at its first certificate, refused when disabled */
    mp_q *q = mp_q_get(l, "INSERT INTO stations(name,enabled,issued,created_at) VALUES(?1,1,?2,?3)"
                          " ON CONFLICT(name) DO UPDATE SET issued=stations.issued+excluded.issued WHERE stations.enabled=1");
    if (q == NULL) return MP_ERR_DB;
    mp_q_txt(q, 1, station);
    mp_q_i64(q, 2, (int64_t)n);
    mp_q_txt(q, 3, now);
    if (mp_q_step(q) < 0) return mp_ledger_err(l, "count against the station");
    if (mp_q_changes(q) != 1) {
        return mp_err(MP_ERR_UNAUTHORIZED, "station %s is disabled: it may not issue (station list)", station);
    }
    if (!check_assign) return MP_OK;
    /* its sub-quota, when the order has station assignments */
    q = mp_q_get(l, "UPDATE order_stations SET issued=issued+?3 WHERE order_id=?1 AND station=?2 AND issued+?3<=quota");
    if (q == NULL) return MP_ERR_DB;
    mp_q_i64(q, 1, order_id);
    mp_q_txt(q, 2, station);
    mp_q_i64(q, 3, (int64_t)n);
    if (mp_q_step(q) < 0) return mp_ledger_err(l, "count against the station's sub-quota");
    if (mp_q_changes(q) != 1) {
        q = mp_q_get(l, "SELECT count(*), CAST(sum(CASE WHEN station=?2 THEN quota-issued END) AS BIGINT) FROM order_stations WHERE order_id=?1");
        if (q == NULL) return MP_ERR_DB;
        mp_q_i64(q, 1, order_id);
        mp_q_txt(q, 2, station);
        if (mp_q_step(q) != 1) return mp_ledger_err(l, "read station assignments");
        int64_t assigned = mp_q_int(q, 0);
        int has = !mp_q_isnull(q, 1);
        int64_t left = mp_q_int(q, 1);
        mp_q_reset(q);
        return station_refused(order_id, station, n, assigned, has, left);
    }
    return MP_OK;
}

int mp_ledger_count_station(mp_ledger *l, int64_t order_id, const char *station, uint64_t n)
{
    return count_station(l, order_id, station, n, 1);
}

int mp_ledger_take_quota_station(mp_ledger *l, int64_t order_id, const char *station, uint64_t n)
{
    int rc = count_station(l, order_id, station, n, 1);
    /* the order's quota last: its row is locked only until the commit */
    return rc == MP_OK ? mp_ledger_take_quota(l, order_id, n) : rc;
}

int mp_ledger_take_quota_stations(mp_ledger *l, int64_t order_id, const char *const *stations, const uint64_t *n, size_t k,
                                  size_t *failed)
{
    /* whether the order has station assignments: one read for all */
    mp_q *q = mp_q_get(l, "SELECT count(*) FROM order_stations WHERE order_id=?1");
    if (q == NULL) return MP_ERR_DB;
    mp_q_i64(q, 1, order_id);
    if (mp_q_step(q) != 1) return mp_ledger_err(l, "read station assignments");
    int64_t assigned = mp_q_int(q, 0);
    mp_q_reset(q);
    uint64_t total = 0;
    for (size_t i = 0; i < k; i++) {
        int rc = count_station(l, order_id, stations[i], n[i], assigned > 0);
        if (rc != MP_OK) {
            if (failed) *failed = i;
            return rc;
        }
        total += n[i];
    }
    if (failed) *failed = k;
    /* the order's quota last: its row is locked only until the commit */
    return mp_ledger_take_quota(l, order_id, total);
}

int mp_ledger_station_add(mp_ledger *l, const char *name)
{
    char now[21];
    now_iso(now);
    mp_q *q = mp_q_get(l, "INSERT INTO stations(name,enabled,issued,created_at) VALUES(?,1,0,?)");
    if (q == NULL) return MP_ERR_DB;
    mp_q_txt(q, 1, name);
    mp_q_txt(q, 2, now);
    if (mp_q_step(q) < 0) {
        return mp_ledger_conflict(l, NULL, NULL) ? mp_err(MP_ERR_DUPLICATE, "station %s already exists", name)
                                                 : mp_ledger_err(l, "add station");
    }
    return MP_OK;
}

int mp_ledger_station_disable(mp_ledger *l, const char *name)
{
    mp_q *q = mp_q_get(l, "UPDATE stations SET enabled=0 WHERE name=?");
    if (q == NULL) return MP_ERR_DB;
    mp_q_txt(q, 1, name);
    if (mp_q_step(q) < 0) return mp_ledger_err(l, "disable station");
    return mp_q_changes(q) == 1 ? MP_OK : mp_err(MP_ERR_INVALID, "no station %s in the ledger (station list)", name);
}

int mp_ledger_each_station(mp_ledger *l, int (*cb)(void *, const mp_station *), void *ctx)
{
    mp_q *q = mp_q_get(l, "SELECT name,enabled,issued,created_at FROM stations ORDER BY name");
    int r = 0, rc = MP_OK;
    if (q == NULL) return MP_ERR_DB;
    while (rc == MP_OK && (r = mp_q_step(q)) == 1) {
        mp_station s;
        memset(&s, 0, sizeof(s));
        snprintf(s.name, sizeof(s.name), "%s", mp_q_text(q, 0));
        s.enabled = (int)mp_q_int(q, 1);
        s.issued = (uint64_t)mp_q_int(q, 2);
        snprintf(s.created_at, sizeof(s.created_at), "%s", mp_q_text(q, 3) ? mp_q_text(q, 3) : "");
        rc = cb(ctx, &s);
    }
    mp_q_reset(q);
    return rc == MP_OK && r < 0 ? mp_ledger_err(l, "list stations") : rc;
}

int mp_ledger_station_exists(mp_ledger *l, const char *name, int *found)
{
    mp_q *q = mp_q_get(l, "SELECT 1 FROM stations WHERE name=?");
    if (q == NULL) return MP_ERR_DB;
    mp_q_txt(q, 1, name);
    int r = mp_q_step(q);
    mp_q_reset(q);
    *found = r == 1;
    return r < 0 ? mp_ledger_err(l, "read station") : MP_OK;
}

int mp_ledger_station_check(mp_ledger *l, const char *name, int64_t order_id)
{
    char now[21];
    int rc, r;
    if (!mp_station_name_ok(name)) {
        return mp_err(MP_ERR_USAGE, "station '%s': expected 1-%d letters, digits, '.', '-' or '_'", name, MP_STATION_MAX);
    }
    /* read first: a registered station is checked without a write (serve
     * checks each enrollment on a connection that only reads) */
    for (int pass = 0;; pass++) {
        mp_q *q = mp_q_get(l, "SELECT s.enabled, (SELECT count(*) FROM order_stations WHERE order_id=?2),"
                              " (SELECT count(*) FROM order_stations WHERE order_id=?2 AND station=?1) FROM stations s WHERE s.name=?1");
        if (q == NULL) return MP_ERR_DB;
        mp_q_txt(q, 1, name);
        mp_q_i64(q, 2, order_id);
        if ((r = mp_q_step(q)) == 1) {
            int enabled = (int)mp_q_int(q, 0);
            int64_t assigned = mp_q_int(q, 1), mine = mp_q_int(q, 2);
            mp_q_reset(q);
            if (!enabled) {
                rc = mp_err(MP_ERR_UNAUTHORIZED, "station %s is disabled: it may not issue (station list)", name);
            } else if (order_id > 0 && assigned > 0 && mine == 0) {
                rc = mp_err(MP_ERR_UNAUTHORIZED, "station %s is not assigned to production order %lld (order assign)", name,
                            (long long)order_id);
            } else {
                rc = MP_OK;
            }
            return rc;
        }
        mp_q_reset(q);
        if (r < 0 || pass > 0) return mp_ledger_err(l, "read station");
        now_iso(now);
        q = mp_q_get(l, "INSERT INTO stations(name,enabled,issued,created_at) VALUES(?,1,0,?) ON CONFLICT(name) DO NOTHING");
        if (q == NULL) return MP_ERR_DB;
        mp_q_txt(q, 1, name);
        mp_q_txt(q, 2, now);
        if (mp_q_step(q) < 0) return mp_ledger_err(l, "register station");
    }
}

int mp_ledger_order_assign(mp_ledger *l, int64_t order_id, const char *station, uint64_t quota)
{
    char now[21];
    now_iso(now);
    mp_q *q = mp_q_get(l, "INSERT INTO stations(name,enabled,issued,created_at) VALUES(?,1,0,?) ON CONFLICT(name) DO NOTHING");
    if (q == NULL) return MP_ERR_DB;
    mp_q_txt(q, 1, station);
    mp_q_txt(q, 2, now);
    if (mp_q_step(q) < 0) return mp_ledger_err(l, "register station");
    q = mp_q_get(l, "INSERT INTO order_stations(order_id,station,quota,issued) VALUES(?1,?2,?3,0)"
                    " ON CONFLICT(order_id,station) DO UPDATE SET quota=excluded.quota WHERE order_stations.issued<=excluded.quota");
    if (q == NULL) return MP_ERR_DB;
    mp_q_i64(q, 1, order_id);
    mp_q_txt(q, 2, station);
    mp_q_i64(q, 3, (int64_t)quota);
    if (mp_q_step(q) < 0) return mp_ledger_err(l, "assign station");
    if (mp_q_changes(q) != 1) {
        return mp_err(MP_ERR_QUOTA, "station %s already issued more than %llu on production order %lld", station,
                      (unsigned long long)quota, (long long)order_id);
    }
    return MP_OK;
}

int mp_ledger_each_station_count(mp_ledger *l, int (*cb)(void *, const mp_station_count *), void *ctx)
{
    mp_q *q = mp_q_get(l,
        "SELECT x.order_id, x.station, CAST(sum(x.n) AS BIGINT), max(x.quota) FROM ("
        " SELECT b.order_id AS order_id, b.station AS station, count(*) AS n, NULL AS quota"
        " FROM dacs c JOIN dac_batches b ON b.id=c.batch GROUP BY b.order_id, b.station"
        " UNION ALL SELECT order_id, station, 0, quota FROM order_stations) x"
        " GROUP BY x.order_id, x.station ORDER BY x.order_id, x.station");
    int r = 0, rc = MP_OK;
    if (q == NULL) return MP_ERR_DB;
    while (rc == MP_OK && (r = mp_q_step(q)) == 1) {
        mp_station_count c;
        memset(&c, 0, sizeof(c));
        c.order_id = mp_q_int(q, 0);
        snprintf(c.station, sizeof(c.station), "%s", mp_q_text(q, 1));
        c.issued = (uint64_t)mp_q_int(q, 2);
        c.quota = mp_q_isnull(q, 3) ? -1 : mp_q_int(q, 3);
        rc = cb(ctx, &c);
    }
    mp_q_reset(q);
    return rc == MP_OK && r < 0 ? mp_ledger_err(l, "count per station") : rc;
}

/* ---- audit trail ------------------------------------------------------------- */

const char *mp_ledger_station_default(void)
{
    static char host[MP_STATION_MAX + 1];
    const char *e = getenv("MATTER_PKI_STATION");
    if (e != NULL && *e) return e;
    if (host[0] == 0 && gethostname(host, sizeof(host) - 1) != 0) snprintf(host, sizeof(host), "localhost");
    return host;
}

const char *mp_ledger_operator(void)
{
    static char name[64];
    const char *e = getenv("MATTER_PKI_OPERATOR");
    if (e != NULL && *e) return e;
    struct passwd *pw = getpwuid(geteuid());
    snprintf(name, sizeof(name), "%s", pw && pw->pw_name ? pw->pw_name : "unknown");
    return name;
}

static void audit_hash(const mp_audit_row *r, uint8_t out[32])
{
    char seq[24];
    unsigned int len = 0;
    snprintf(seq, sizeof(seq), "%lld", (long long)r->seq);
    const char *parts[] = {seq, r->at, r->station, r->operator_, r->event, r->objects, r->detail};
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_DigestInit_ex(m, EVP_sha256(), NULL);
    EVP_DigestUpdate(m, r->prev, 32);
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (i > 0) EVP_DigestUpdate(m, "\n", 1);
        EVP_DigestUpdate(m, parts[i] ? parts[i] : "", strlen(parts[i] ? parts[i] : ""));
    }
    EVP_DigestFinal_ex(m, out, &len);
    EVP_MD_CTX_free(m);
}

/* PostgreSQL: the append in one statement (one round trip while the head's
 * lock is held). `o` locks the head first (an uncorrelated subquery in the
 * update's condition runs before the update) and holds its latest version;
 * the update computes the new hash from that same version over the canonical
 * bytes of audit_hash (the previous hash, then seq, time, station, operator,
 * event, objects and detail joined by newlines). Its condition compares only
 * the constant id, so a concurrent append (re-read under the lock) never
 * filters the row out. The row comes back and is checked here against
 * audit_hash: a disagreement fails the transaction. */
static int audit_pg(mp_ledger *l, mp_audit_row *r)
{
    mp_q *q = mp_q_get(l, "WITH o AS (SELECT id,hash FROM audit_head WHERE id=1 FOR UPDATE),"
                          " h AS (UPDATE audit_head a SET seq=a.seq+1, hash=sha256(a.hash||convert_to(concat_ws(E'\\n',"
                          "CAST(a.seq+1 AS TEXT),CAST(?1 AS TEXT),CAST(?2 AS TEXT),CAST(?3 AS TEXT),CAST(?4 AS TEXT),"
                          "CAST(?5 AS TEXT),CAST(?6 AS TEXT)),'UTF8')) WHERE a.id=(SELECT id FROM o)"
                          " RETURNING a.seq AS seq, a.hash AS hash, (SELECT hash FROM o) AS prev)"
                          " INSERT INTO audit(seq,at,station,operator,event,objects,detail,prev,hash)"
                          " SELECT seq,?1,?2,?3,?4,?5,?6,prev,hash FROM h RETURNING seq,prev,hash");
    if (q == NULL) return MP_ERR_DB;
    mp_q_txt(q, 1, r->at);
    mp_q_txt(q, 2, r->station);
    mp_q_txt(q, 3, r->operator_);
    mp_q_txt(q, 4, r->event);
    mp_q_txt(q, 5, r->objects);
    mp_q_txt(q, 6, r->detail);
    int st = mp_q_step(q);
    if (st < 0) return mp_ledger_err(l, "append to the audit trail");
    size_t np = 0, nh = 0;
    const uint8_t *prev = st == 1 ? mp_q_bytes(q, 1, &np) : NULL, *hash = st == 1 ? mp_q_bytes(q, 2, &nh) : NULL;
    uint8_t got[32];
    int ok = prev != NULL && hash != NULL && np == 32 && nh == 32;
    if (ok) {
        r->seq = mp_q_int(q, 0);
        memcpy(r->prev, prev, 32);
        memcpy(got, hash, 32);
        audit_hash(r, r->hash);
        ok = memcmp(got, r->hash, 32) == 0;
    }
    mp_q_reset(q);
    if (!ok) {
        return mp_err(MP_ERR_DB, "ledger %s: append to the audit trail: the server's row does not hash as expected", mp_ledger_path(l));
    }
    return MP_OK;
}

int mp_ledger_audit(mp_ledger *l, const char *station, const char *event, const char *objects, const char *detail)
{
    mp_audit_row r;
    size_t n = 0;
    const uint8_t *p;
    memset(&r, 0, sizeof(r));
    now_iso(r.at);
    r.station = station ? station : "";
    r.operator_ = mp_ledger_operator();
    r.event = event;
    r.objects = objects ? objects : "";
    r.detail = detail ? detail : "{}";
    if (mp_ledger_is_pg(l)) {
        int rc = audit_pg(l, &r);
        if (rc == MP_OK) mp_ledger_audit_note(l, r.seq); /* a long run's checkpoint hint, as below */
        return rc;
    }
    /* the one-row head: its lock serializes appends until the commit */
    mp_q *q = mp_q_get(l, "UPDATE audit_head SET seq=seq+1 WHERE id=1 RETURNING seq, hash");
    if (q == NULL) return MP_ERR_DB;
    if (mp_q_step(q) != 1) return mp_ledger_err(l, "append to the audit trail");
    r.seq = mp_q_int(q, 0);
    if ((p = mp_q_bytes(q, 1, &n)) != NULL && n == 32) memcpy(r.prev, p, 32);
    mp_q_reset(q);
    audit_hash(&r, r.hash);
    q = mp_q_get(l, "INSERT INTO audit(seq,at,station,operator,event,objects,detail,prev,hash) VALUES(?,?,?,?,?,?,?,?,?)");
    if (q == NULL) return MP_ERR_DB;
    mp_q_i64(q, 1, r.seq);
    mp_q_txt(q, 2, r.at);
    mp_q_txt(q, 3, r.station);
    mp_q_txt(q, 4, r.operator_);
    mp_q_txt(q, 5, r.event);
    mp_q_txt(q, 6, r.objects);
    mp_q_txt(q, 7, r.detail);
    mp_q_blob(q, 8, r.prev, 32);
    mp_q_blob(q, 9, r.hash, 32);
    if (mp_q_step(q) < 0) return mp_ledger_err(l, "append to the audit trail");
    q = mp_q_get(l, "UPDATE audit_head SET hash=? WHERE id=1");
    if (q == NULL) return MP_ERR_DB;
    mp_q_blob(q, 1, r.hash, 32);
    if (mp_q_step(q) < 0) return mp_ledger_err(l, "append to the audit trail");
    mp_ledger_audit_note(l, r.seq);
    return MP_OK;
}

static int audit_row(mp_q *q, mp_q_cb cb, void *ctx)
{
    mp_audit_row a;
    size_t n = 0;
    const uint8_t *p;
    memset(&a, 0, sizeof(a));
    a.seq = mp_q_int(q, 0);
    snprintf(a.at, sizeof(a.at), "%s", mp_q_text(q, 1) ? mp_q_text(q, 1) : "");
    a.station = mp_q_text(q, 2);
    a.operator_ = mp_q_text(q, 3);
    a.event = mp_q_text(q, 4);
    a.objects = mp_q_text(q, 5);
    a.detail = mp_q_text(q, 6);
    if ((p = mp_q_bytes(q, 7, &n)) != NULL && n == 32) memcpy(a.prev, p, 32);
    if ((p = mp_q_bytes(q, 8, &n)) != NULL && n == 32) memcpy(a.hash, p, 32);
    return ((int (*)(void *, const mp_audit_row *))cb)(ctx, &a);
}

int mp_ledger_each_audit(mp_ledger *l, int (*cb)(void *, const mp_audit_row *), void *ctx)
{
    return mp_q_each(l, mp_q_get(l, "SELECT seq,at,station,operator,event,objects,detail,prev,hash FROM audit ORDER BY seq"),
                     audit_row, (mp_q_cb)cb, ctx, "read the audit trail");
}

typedef struct verify_ctx {
    int64_t expect, bad;
    uint8_t prev[32];
    char *why;
    size_t cap;
    uint64_t rows;
} verify_ctx;

static int verify_row(void *arg, const mp_audit_row *r)
{
    verify_ctx *v = arg;
    uint8_t h[32];
    v->rows++;
    if (r->seq != v->expect) {
        v->bad = v->expect;
        snprintf(v->why, v->cap, "row %lld is missing (the next row is %lld)", (long long)v->expect, (long long)r->seq);
        return 1;
    }
    if (memcmp(r->prev, v->prev, 32) != 0) {
        v->bad = r->seq;
        snprintf(v->why, v->cap, "row %lld does not chain to the row before it", (long long)r->seq);
        return 1;
    }
    audit_hash(r, h);
    if (memcmp(h, r->hash, 32) != 0) {
        v->bad = r->seq;
        snprintf(v->why, v->cap, "row %lld was altered (its hash does not match its contents)", (long long)r->seq);
        return 1;
    }
    memcpy(v->prev, r->hash, 32);
    v->expect++;
    return MP_OK;
}

int mp_ledger_audit_verify(mp_ledger *l, int64_t *bad, char *why, size_t why_cap, uint64_t *rows)
{
    verify_ctx v = {.expect = 1, .why = why, .cap = why_cap};
    memset(v.prev, 0, sizeof(v.prev));
    *bad = 0;
    why[0] = 0;
    int rc = mp_ledger_each_audit(l, verify_row, &v);
    *rows = v.rows;
    if (rc < 0 || rc > 1) return rc;
    if (v.bad) {
        *bad = v.bad;
        return MP_OK;
    }
    /* the head names the last row: rows deleted at the end show here */
    mp_q *q = mp_q_get(l, "SELECT seq, hash FROM audit_head WHERE id=1");
    if (q == NULL) return MP_ERR_DB;
    if (mp_q_step(q) != 1) return mp_ledger_err(l, "read the audit head");
    size_t n = 0;
    const uint8_t *p = mp_q_bytes(q, 1, &n);
    int64_t head = mp_q_int(q, 0);
    int same = p != NULL && n == 32 && memcmp(p, v.prev, 32) == 0;
    mp_q_reset(q);
    if (head == v.expect - 1 && !same && head > 0) {
        /* as many rows as were written, but the last is not the one the head recorded */
        *bad = head;
        snprintf(why, why_cap, "row %lld is not the row that was written last (the head holds another hash): it was "
                 "changed and its hash recomputed", (long long)head);
    } else if (head != v.expect - 1 || !same) {
        *bad = v.expect;
        snprintf(why, why_cap, "the trail ends at row %lld but %lld row(s) were written: row %lld onwards is missing",
                 (long long)(v.expect - 1), (long long)head, (long long)v.expect);
    }
    return MP_OK;
}

/* ---- checkpoints ---------------------------------------------------------------- */

void mp_audit_checkpoint_digest(const mp_audit_checkpoint *c, uint8_t out[static 32])
{
    char hex[65], msg[160];
    unsigned int len = 0;
    static const char hexd[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = hexd[c->hash[i] >> 4];
        hex[2 * i + 1] = hexd[c->hash[i] & 15];
    }
    hex[64] = 0;
    int n = snprintf(msg, sizeof(msg), "matter-pki audit checkpoint v1\n%lld\n%s\n%s", (long long)c->seq, hex, c->at);
    EVP_Digest(msg, (size_t)n, out, &len, EVP_sha256(), NULL);
}

int mp_ledger_audit_key_add(mp_ledger *l, const char *label, const char *skid, const uint8_t point[static 65], int64_t *id)
{
    char now[21];
    now_iso(now);
    mp_q *q = mp_q_get(l, "INSERT INTO audit_keys(label,skid,pubkey,created_at) VALUES(?,?,?,?) RETURNING id");
    if (q == NULL) return MP_ERR_DB;
    mp_q_txt(q, 1, label);
    mp_q_txt(q, 2, skid);
    mp_q_blob(q, 3, point, 65);
    mp_q_txt(q, 4, now);
    if (mp_q_step(q) != 1) return mp_ledger_err(l, "add the audit key");
    *id = mp_q_int(q, 0);
    mp_q_reset(q);
    return MP_OK;
}

int mp_ledger_audit_key(mp_ledger *l, mp_audit_key *k, int *found)
{
    mp_q *q = mp_q_get(l, "SELECT id,label,skid,pubkey FROM audit_keys ORDER BY id DESC LIMIT 1");
    if (q == NULL) return MP_ERR_DB;
    int r = mp_q_step(q);
    *found = r == 1;
    if (r == 1) {
        size_t n = 0;
        const uint8_t *p = mp_q_bytes(q, 3, &n);
        memset(k, 0, sizeof(*k));
        k->id = mp_q_int(q, 0);
        snprintf(k->label, sizeof(k->label), "%s", mp_q_text(q, 1));
        snprintf(k->skid, sizeof(k->skid), "%s", mp_q_text(q, 2));
        if (p != NULL && n == 65) memcpy(k->point, p, 65);
    }
    mp_q_reset(q);
    return r >= 0 ? MP_OK : mp_ledger_err(l, "read the audit key");
}

int mp_ledger_audit_head(mp_ledger *l, int64_t *seq, uint8_t hash[static 32])
{
    mp_q *q = mp_q_get(l, "SELECT seq,hash FROM audit_head WHERE id=1");
    if (q == NULL) return MP_ERR_DB;
    if (mp_q_step(q) != 1) return mp_ledger_err(l, "read the audit head");
    size_t n = 0;
    const uint8_t *p = mp_q_bytes(q, 1, &n);
    *seq = mp_q_int(q, 0);
    memset(hash, 0, 32);
    if (p != NULL && n == 32) memcpy(hash, p, 32);
    mp_q_reset(q);
    return MP_OK;
}

int mp_ledger_checkpoint_add(mp_ledger *l, const mp_audit_checkpoint *c)
{
    mp_q *q = mp_q_get(l, "INSERT INTO audit_checkpoints(seq,hash,at,key_id,sig) VALUES(?,?,?,?,?) ON CONFLICT(seq) DO NOTHING");
    if (q == NULL) return MP_ERR_DB;
    mp_q_i64(q, 1, c->seq);
    mp_q_blob(q, 2, c->hash, 32);
    mp_q_txt(q, 3, c->at);
    mp_q_i64(q, 4, c->key_id);
    mp_q_blob(q, 5, c->sig, c->sig_len);
    return mp_q_step(q) >= 0 ? MP_OK : mp_ledger_err(l, "add an audit checkpoint");
}

static int checkpoint_row(mp_q *q, mp_q_cb cb, void *ctx)
{
    mp_audit_checkpoint c;
    size_t n = 0;
    const uint8_t *p;
    memset(&c, 0, sizeof(c));
    c.seq = mp_q_int(q, 0);
    if ((p = mp_q_bytes(q, 1, &n)) != NULL && n == 32) memcpy(c.hash, p, 32);
    snprintf(c.at, sizeof(c.at), "%s", mp_q_text(q, 2) ? mp_q_text(q, 2) : "");
    c.key_id = mp_q_int(q, 3);
    if ((p = mp_q_bytes(q, 4, &n)) != NULL && n <= sizeof(c.sig)) {
        memcpy(c.sig, p, n);
        c.sig_len = n;
    }
    return ((int (*)(void *, const mp_audit_checkpoint *))cb)(ctx, &c);
}

int mp_ledger_each_checkpoint(mp_ledger *l, int (*cb)(void *, const mp_audit_checkpoint *), void *ctx)
{
    return mp_q_each(l, mp_q_get(l, "SELECT seq,hash,at,key_id,sig FROM audit_checkpoints ORDER BY seq"), checkpoint_row,
                     (mp_q_cb)cb, ctx, "read audit checkpoints");
}
