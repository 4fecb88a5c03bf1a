/* ledger_est.c - the ledger operations of `serve` for a whole group of
 * requests at once. On PostgreSQL each is one statement (arrays passed as
 * text literals and unnest()ed), because a round trip per request and
 * station was what limited the service: at 64 stations a group had ~260
 * statements. On SQLite (in-process, no round trips) they loop over the
 * per-row operations. Same rules as those: the devices move from authorized
 * to issued by a conditional update, stations are counted and refused when
 * disabled or (orders with assignments) over their sub-quota, the order's
 * quota is the last conditional update, and the constraints refuse a
 * second DAC for a device or a reused serial. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger.h"
#include "ledger_int.h"
#include "util.h"

/* ---- PostgreSQL array literals ---------------------------------------------- */

typedef struct arr {
    char *s;
    size_t len, cap;
    int n, oom;
} arr;

static void arr_put(arr *a, const char *p, size_t n)
{
    if (a->oom) return;
    if (a->len + n + 2 > a->cap) {
        size_t cap = (a->cap ? a->cap * 2 : 256) + n;
        char *s = realloc(a->s, cap);
        if (s == NULL) {
            a->oom = 1;
            return;
        }
        a->s = s;
        a->cap = cap;
    }
    memcpy(a->s + a->len, p, n);
    a->len += n;
    a->s[a->len] = 0;
}

/* Append one element, quoted ("..." with \ and " escaped). */
static void arr_add(arr *a, const char *v)
{
    arr_put(a, a->n++ ? ",\"" : "{\"", 2);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\') arr_put(a, "\\", 1);
        arr_put(a, p, 1);
    }
    arr_put(a, "\"", 1);
}

static void arr_add_hex(arr *a, const uint8_t *b, size_t n)
{
    char *h = malloc(2 * n + 1);
    if (h == NULL) {
        a->oom = 1;
        return;
    }
    mp_hex(b, n, h, 0);
    arr_add(a, h);
    free(h);
}

/* The literal, or NULL when out of memory. */
static const char *arr_end(arr *a)
{
    if (a->n == 0) arr_put(a, "{", 1);
    arr_put(a, "}", 1);
    return a->oom ? NULL : a->s;
}

static void arr_free(arr *a) { free(a->s); }

/* ---- devices by key ------------------------------------------------------------ */

int mp_ledger_devices_by_keys(mp_ledger *l, const uint8_t *const *points, size_t n, mp_device *out, int *found)
{
    for (size_t i = 0; i < n; i++) found[i] = 0;
    if (!mp_ledger_is_pg(l)) {
        int rc = MP_OK;
        for (size_t i = 0; rc == MP_OK && i < n; i++) rc = mp_ledger_find_device_by_key(l, points[i], &out[i], &found[i]);
        return rc;
    }
    if (n == 0) return MP_OK;
    arr keys = {0};
    for (size_t i = 0; i < n; i++) arr_add_hex(&keys, points[i], 65);
    const char *lit = arr_end(&keys);
    mp_q *q = lit ? mp_q_get(l, "SELECT udid,pubkey,list_id,state,key_origin FROM devices"
                                " WHERE pubkey = ANY(SELECT decode(x,'hex') FROM unnest(?1::text[]) AS x)")
                  : NULL;
    if (q == NULL) {
        arr_free(&keys);
        return lit ? MP_ERR_DB : mp_err(MP_ERR_GENERAL, "out of memory");
    }
    mp_q_txt(q, 1, lit);
    int r;
    while ((r = mp_q_step(q)) == 1) {
        size_t len = 0;
        const uint8_t *p = mp_q_bytes(q, 1, &len);
        for (size_t i = 0; p != NULL && len == 65 && i < n; i++) {
            if (!found[i] && memcmp(points[i], p, 65) == 0) {
                mp_device *d = &out[i];
                memset(d, 0, sizeof(*d));
                mp_ledger_copy_text(d->udid, sizeof(d->udid), mp_q_text(q, 0));
                memcpy(d->point, p, 65);
                d->list_id = mp_q_int(q, 2);
                d->state = (int)mp_q_int(q, 3);
                d->key_origin = (int)mp_q_int(q, 4);
                found[i] = 1;
            }
        }
    }
    arr_free(&keys);
    return r < 0 ? mp_ledger_err(l, "look devices up by key") : MP_OK;
}

/* ---- stations' standing ---------------------------------------------------------- */

int mp_ledger_stations_standing(mp_ledger *l, int64_t order_id, const char *const *serials, const char *const *names,
                                size_t n, mp_station_standing *out)
{
    memset(out, 0, n * sizeof(*out));
    if (!mp_ledger_is_pg(l) || n == 0) {
        int rc = MP_OK;
        for (size_t i = 0; rc == MP_OK && i < n; i++) {
            mp_station_standing *s = &out[i];
            rc = mp_ledger_get_station_cert(l, serials[i], &s->cert, &s->cert_found);
            if (rc == MP_OK) rc = mp_ledger_station_exists(l, names[i], &s->exists);
            if (rc == MP_OK && s->exists) {
                int c = mp_ledger_station_check(l, names[i], order_id);
                if (c == MP_ERR_DB) return c;
                s->allowed = c == MP_OK;
                if (c != MP_OK) snprintf(s->why, sizeof(s->why), "%s", mp_err_msg());
            }
        }
        return rc;
    }
    arr as = {0}, an = {0};
    for (size_t i = 0; i < n; i++) {
        arr_add(&as, serials[i]);
        arr_add(&an, names[i]);
    }
    const char *ls = arr_end(&as), *ln = arr_end(&an);
    int rc = ls && ln ? MP_OK : mp_err(MP_ERR_GENERAL, "out of memory");
    mp_q *q = NULL;
    int r = 0;
    if (rc == MP_OK &&
        (q = mp_q_get(l, "SELECT serial,name,not_after,revoked_at FROM station_certs WHERE serial = ANY(?1::text[])")) == NULL) {
        rc = MP_ERR_DB;
    }
    if (rc == MP_OK) {
        mp_q_txt(q, 1, ls);
        while ((r = mp_q_step(q)) == 1) {
            const char *serial = mp_q_text(q, 0);
            for (size_t i = 0; serial != NULL && i < n; i++) {
                if (out[i].cert_found || strcmp(serials[i], serial) != 0) continue;
                mp_station_cert *c = &out[i].cert;
                mp_ledger_copy_text(c->serial, sizeof(c->serial), serial);
                mp_ledger_copy_text(c->name, sizeof(c->name), mp_q_text(q, 1));
                c->not_after = (time_t)mp_q_int(q, 2);
                c->revoked = !mp_q_isnull(q, 3);
                c->revoked_at = c->revoked ? (time_t)mp_q_int(q, 3) : 0;
                out[i].cert_found = 1;
            }
        }
        if (r < 0) rc = mp_ledger_err(l, "look station certificates up");
    }
    if (rc == MP_OK &&
        (q = mp_q_get(l, "SELECT s.name, s.enabled, (SELECT count(*) FROM order_stations WHERE order_id=?2),"
                         " (SELECT count(*) FROM order_stations o WHERE o.order_id=?2 AND o.station=s.name)"
                         " FROM stations s WHERE s.name = ANY(?1::text[])")) == NULL) {
        rc = MP_ERR_DB;
    }
    if (rc == MP_OK) {
        mp_q_txt(q, 1, ln);
        mp_q_i64(q, 2, order_id);
        while ((r = mp_q_step(q)) == 1) {
            const char *name = mp_q_text(q, 0);
            int enabled = (int)mp_q_int(q, 1);
            int64_t assigned = mp_q_int(q, 2), mine = mp_q_int(q, 3);
            for (size_t i = 0; name != NULL && i < n; i++) {
                mp_station_standing *s = &out[i];
                if (s->exists || strcmp(names[i], name) != 0) continue;
                s->exists = 1;
                s->allowed = enabled && !(order_id > 0 && assigned > 0 && mine == 0);
                if (!enabled) {
                    snprintf(s->why, sizeof(s->why), "station %s is disabled: it may not issue (station list)", name);
                } else if (!s->allowed) {
                    snprintf(s->why, sizeof(s->why), "station %s is not assigned to production order %lld (order assign)", name,
                             (long long)order_id);
                }
            }
        }
        if (r < 0) rc = mp_ledger_err(l, "look stations up");
    }
    arr_free(&as);
    arr_free(&an);
    return rc;
}

/* ---- recording a group ------------------------------------------------------------- */

static int add_group_sqlite(mp_ledger *l, const mp_dac_batch *proto, const mp_cert_rec *recs, size_t n,
                            const char *const *names, const uint64_t *counts, size_t k, int64_t *first, int64_t *last)
{
    size_t failed = 0;
    int rc = mp_ledger_take_quota_stations(l, proto->order_id, names, counts, k, &failed);
    for (size_t i = 0; rc == MP_OK && i < k; i++) {
        mp_dac_batch b = *proto;
        b.station = names[i];
        b.written = 1;
        if ((rc = mp_ledger_add_batch(l, &b)) != MP_OK) break;
        if (*first == 0) *first = b.id;
        *last = b.id;
        for (size_t j = 0; rc == MP_OK && j < n; j++) {
            if (strcmp(recs[j].station, names[i]) != 0) continue;
            mp_cert_rec r = recs[j];
            r.batch = b.id;
            rc = mp_ledger_add_counted(l, &r);
        }
    }
    return rc;
}

/* PostgreSQL: a group's columns as array literals (stations and their
 * counts; per certificate UDID, station, serial, SHA-256 and DER in hex). */
typedef struct est_cols {
    arr an, ac, au, ast, as, ah, ad;
    const char *names, *counts, *udids, *stations, *serials, *hashes, *ders;
    uint64_t total;
} est_cols;

static int est_cols_fill(est_cols *c, const mp_cert_rec *recs, size_t n, const char **names, const uint64_t *counts, size_t k)
{
    char num[24];
    for (size_t i = 0; i < k; i++) {
        arr_add(&c->an, names[i]);
        snprintf(num, sizeof(num), "%llu", (unsigned long long)counts[i]);
        arr_add(&c->ac, num);
        c->total += counts[i];
    }
    for (size_t j = 0; j < n; j++) {
        uint8_t serial[20], hash[32];
        long sn = mp_ledger_unhex(recs[j].serial, serial, sizeof(serial));
        long hn = mp_ledger_unhex(recs[j].sha256, hash, sizeof(hash));
        if (sn <= 0 || hn <= 0) {
            return mp_err(MP_ERR_INVALID, "certificate of %s: serial '%s' or SHA-256 is not hex", recs[j].udid, recs[j].serial);
        }
        arr_add(&c->au, recs[j].udid);
        arr_add(&c->ast, recs[j].station);
        arr_add_hex(&c->as, serial, (size_t)sn);
        arr_add_hex(&c->ah, hash, (size_t)hn);
        arr_add_hex(&c->ad, recs[j].der, recs[j].der_len);
    }
    c->names = arr_end(&c->an);
    c->counts = arr_end(&c->ac);
    c->udids = arr_end(&c->au);
    c->stations = arr_end(&c->ast);
    c->serials = arr_end(&c->as);
    c->hashes = arr_end(&c->ah);
    c->ders = arr_end(&c->ad);
    if (!(c->names && c->counts && c->udids && c->stations && c->serials && c->hashes && c->ders)) {
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    return MP_OK;
}

static void est_cols_free(est_cols *c)
{
    arr_free(&c->an);
    arr_free(&c->ac);
    arr_free(&c->au);
    arr_free(&c->ast);
    arr_free(&c->as);
    arr_free(&c->ah);
    arr_free(&c->ad);
}

/* PostgreSQL: the order's quota and the stations' counts in one statement,
 * only when the order has no station assignments (*assigned > 0 then, and
 * nothing written: sub-quotas take the per-row path). */
static int est_take_quota(mp_ledger *l, const mp_dac_batch *proto, const est_cols *c, const char *now, size_t k, int64_t *assigned)
{
    mp_q *q = mp_q_get(l, "WITH a AS (SELECT count(*) AS n FROM order_stations WHERE order_id=?4),"
                          " o AS (UPDATE orders SET issued=issued+?5 WHERE id=?4 AND issued+?5<=quota AND closed=0"
                          " AND (SELECT n FROM a)=0 RETURNING issued),"
                          " s AS (INSERT INTO stations(name,enabled,issued,created_at)"
                          " SELECT v.name, 1, v.n, ?3 FROM unnest(?1::text[], ?2::bigint[]) AS v(name, n)"
                          " WHERE EXISTS (SELECT 1 FROM o)"
                          " ON CONFLICT(name) DO UPDATE SET issued=stations.issued+excluded.issued WHERE stations.enabled=1"
                          " RETURNING name)"
                          " SELECT (SELECT n FROM a), (SELECT count(*) FROM o), (SELECT count(*) FROM s)");
    int rc = MP_OK;
    if (q == NULL) return MP_ERR_DB;
    mp_q_txt(q, 1, c->names);
    mp_q_txt(q, 2, c->counts);
    mp_q_txt(q, 3, now);
    mp_q_i64(q, 4, proto->order_id);
    mp_q_i64(q, 5, (int64_t)c->total);
    if (mp_q_step(q) != 1) {
        rc = mp_ledger_err(l, "count against the order and the stations");
    } else if ((*assigned = mp_q_int(q, 0)) == 0 && mp_q_int(q, 1) == 0) {
        rc = mp_err(MP_ERR_QUOTA, "production order %lld is closed or has fewer than %llu of its quota left",
                    (long long)proto->order_id, (unsigned long long)c->total);
    } else if (*assigned == 0 && mp_q_int(q, 2) != (int64_t)k) {
        rc = mp_err(MP_ERR_UNAUTHORIZED, "a station of this group is disabled: it may not issue (station list)");
    }
    mp_q_reset(q);
    return rc;
}

/* PostgreSQL: batches (one per station), devices and certificates in one
 * statement; *first and *last get the batches' IDs. */
static int est_insert(mp_ledger *l, const mp_dac_batch *proto, const est_cols *c, const char *now, size_t n, int64_t *first,
                      int64_t *last)
{
    mp_q *q = mp_q_get(l, "WITH v AS (SELECT * FROM unnest(?1::text[],?2::text[],?3::text[],?4::text[],?5::text[])"
                          " AS v(udid,station,serial,sha256,der)),"
                          " b AS (INSERT INTO dac_batches(order_id,pai_skid,not_before,not_after,dir,station,issued_at,written)"
                          " SELECT ?6,?7,?8,?9,?10,s.station,?11,1 FROM (SELECT DISTINCT station FROM v) s RETURNING id, station),"
                          " u AS (UPDATE devices d SET state=1 FROM v WHERE d.udid=v.udid AND d.state=0 RETURNING d.udid)"
                          " INSERT INTO dacs(udid,order_id,batch,serial,sha256,der,path)"
                          " SELECT v.udid,?6,b.id,decode(v.serial,'hex'),decode(v.sha256,'hex'),decode(v.der,'hex'),NULL"
                          " FROM v JOIN u ON u.udid=v.udid JOIN b ON b.station=v.station RETURNING batch");
    if (q == NULL) return MP_ERR_DB;
    mp_q_txt(q, 1, c->udids);
    mp_q_txt(q, 2, c->stations);
    mp_q_txt(q, 3, c->serials);
    mp_q_txt(q, 4, c->hashes);
    mp_q_txt(q, 5, c->ders);
    mp_q_i64(q, 6, proto->order_id);
    mp_q_txt(q, 7, proto->pai_skid);
    mp_q_i64(q, 8, (int64_t)proto->not_before);
    mp_q_i64(q, 9, (int64_t)proto->not_after);
    mp_q_txt(q, 10, proto->dir ? proto->dir : "");
    mp_q_txt(q, 11, now);
    size_t got = 0;
    int r;
    while ((r = mp_q_step(q)) == 1) {
        int64_t b = mp_q_int(q, 0);
        if (*first == 0 || b < *first) *first = b;
        if (b > *last) *last = b;
        got++;
    }
    if (r < 0) {
        return mp_ledger_conflict(l, NULL, NULL) ? mp_err(MP_ERR_DUPLICATE, "a device of this group already has a certificate,"
                                                                            " or a serial was used before")
                                                 : mp_ledger_err(l, "add certificates");
    }
    if (got != n) return mp_err(MP_ERR_UNAUTHORIZED, "a device of this group is not authorized or already has a DAC");
    return MP_OK;
}

int mp_ledger_add_est_group(mp_ledger *l, const mp_dac_batch *proto, const mp_cert_rec *recs, size_t n, int64_t *first,
                            int64_t *last)
{
    const char **names = calloc(n ? n : 1, sizeof(char *));
    uint64_t *counts = calloc(n ? n : 1, sizeof(uint64_t));
    size_t k = 0;
    int rc = names && counts ? MP_OK : mp_err(MP_ERR_GENERAL, "out of memory");
    *first = *last = 0;
    for (size_t j = 0; rc == MP_OK && j < n; j++) {
        size_t i = 0;
        while (i < k && strcmp(names[i], recs[j].station) != 0) i++;
        if (i == k) {
            names[k] = recs[j].station;
            counts[k++] = 0;
        }
        counts[i]++;
    }
    if (rc != MP_OK || !mp_ledger_is_pg(l) || n == 0) {
        /* SQLite: the per-row operations */
        if (rc == MP_OK) rc = add_group_sqlite(l, proto, recs, n, names, counts, k, first, last);
        free(names);
        free(counts);
        return rc;
    }
    est_cols c;
    char now[21];
    int64_t assigned = 0;
    memset(&c, 0, sizeof(c));
    mp_ledger_now_iso(now);
    rc = est_cols_fill(&c, recs, n, names, counts, k);
    if (rc == MP_OK) rc = est_take_quota(l, proto, &c, now, k, &assigned);
    if (rc == MP_OK && assigned > 0) {
        rc = add_group_sqlite(l, proto, recs, n, names, counts, k, first, last); /* an order with sub-quotas */
    } else if (rc == MP_OK) {
        rc = est_insert(l, proto, &c, now, n, first, last);
    }
    est_cols_free(&c);
    free(names);
    free(counts);
    return rc;
}
