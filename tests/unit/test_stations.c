/* test_stations.c - many runs, one ledger (SQLite backend; t_pg.sh runs the
 * same operations on PostgreSQL): reservations and leases (a lost lease
 * records nothing), station sub-quotas and disabled stations, the audit
 * chain, and which locations are PostgreSQL or carry a password. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ledger.h"
#include "testutil.h"

static char dir[64], path[128];

static mp_ledger *setup(int ndev, uint64_t quota, int64_t *order)
{
    mp_ledger *l = NULL;
    snprintf(dir, sizeof(dir), "/tmp/mp-st-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/l.sqlite", dir);
    CU_ASSERT_EQUAL_FATAL(mp_ledger_open(path, &l), MP_OK);
    mp_chip_list cl = {.format = "csv", .source = "t", .signer = ""};
    strcpy(cl.sha256, "ab");
    mp_order o = {.vid = 0xFFF2, .pid = 1, .quota = quota};
    strcpy(o.pai_cert, "pai.pem");
    strcpy(o.pai_key, "pai");
    strcpy(o.pai_skid, "AA");
    strcpy(o.cn_template, "X");
    CU_ASSERT_EQUAL_FATAL(mp_ledger_begin(l), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_ledger_add_list(l, &cl), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_ledger_add_order(l, &o), MP_OK);
    for (int i = 0; i < ndev; i++) {
        mp_device d = {.list_id = cl.id};
        snprintf(d.udid, sizeof(d.udid), "U%02d", i);
        memset(d.point, i + 1, 65);
        d.point[0] = 4;
        CU_ASSERT_EQUAL_FATAL(mp_ledger_add_device(l, &d), MP_OK);
    }
    CU_ASSERT_EQUAL_FATAL(mp_ledger_commit(l), MP_OK);
    *order = o.id;
    return l;
}

/* The first column of the first row of sql on the test's ledger file ("" if none). */
static const char *one(sqlite3 *db, const char *sql)
{
    static char out[256];
    sqlite3_stmt *st = NULL;
    out[0] = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_text(st, 0) != NULL) {
        snprintf(out, sizeof(out), "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return out;
}

static const char *one_at(const char *sql)
{
    sqlite3 *db = NULL;
    const char *r = "";
    if (sqlite3_open(path, &db) == SQLITE_OK) r = one(db, sql);
    sqlite3_close(db);
    return r;
}

static void done(mp_ledger *l)
{
    char cmd[128];
    mp_ledger_close(l);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

/* Record one reserved device's certificate under a lease, then the quota. */
static int issue(mp_ledger *l, int64_t order, const char *udid, const char *lease, const char *station, int serial)
{
    static const uint8_t der[3] = {1, 2, 3};
    mp_dac_batch b = {.order_id = order, .pai_skid = "AA", .dir = "/tmp", .station = station};
    mp_cert_rec c = {.order_id = order, .der = der, .der_len = 3, .lease = lease};
    snprintf(c.udid, sizeof(c.udid), "%s", udid);
    snprintf(c.serial, sizeof(c.serial), "%02X", serial);
    strcpy(c.sha256, "0011");
    int rc = mp_ledger_begin(l);
    if (rc == MP_OK && (rc = mp_ledger_add_batch(l, &b)) == MP_OK) {
        c.batch = b.id;
        rc = mp_ledger_add_counted(l, &c);
    }
    if (rc == MP_OK) rc = mp_ledger_take_quota_station(l, order, station, 1);
    if (rc == MP_OK) rc = mp_ledger_commit(l);
    mp_ledger_rollback(l);
    return rc;
}

/* A chunk recorded in one call (mp_ledger_add_counted_many): the device
 * whose lease was lost in the middle is flagged and not recorded, the others
 * are recorded once; the same chunk again records nothing twice. */
static void test_chunk_lost_one_keeps_others(void)
{
    static const uint8_t der[3] = {1, 2, 3};
    int64_t o;
    mp_ledger *l = setup(6, 6, &o);
    mp_device a[6];
    size_t na = 0;
    CU_ASSERT_EQUAL(mp_ledger_reserve(l, o, "s1", "leaseA", time(NULL) + 60, 4, a, &na), MP_OK);
    CU_ASSERT_EQUAL_FATAL(na, 4);
    /* the second device's reservation expired and went to another run: A's
     * span of the four is cut around it, and B holds it */
    sqlite3 *db = NULL;
    char sql[512];
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM leases WHERE lease='leaseA' AND lo='%s' AND hi='%s'", a[0].udid, a[3].udid);
    CU_ASSERT_STRING_EQUAL(one(db, sql), "1"); /* one span for the four, not a row each */
    snprintf(sql, sizeof(sql), "UPDATE leases SET hi='%s' WHERE lease='leaseA';"
             "INSERT INTO leases(lease, order_id, until, lo, hi) VALUES('leaseB', %lld, %lld, '%s', '%s'), ('leaseA', %lld, %lld, '%s', '%s')",
             a[0].udid, (long long)o, (long long)time(NULL) + 60, a[1].udid, a[1].udid, (long long)o, (long long)time(NULL) + 60,
             a[2].udid, a[3].udid);
    CU_ASSERT_EQUAL(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    mp_dac_batch b = {.order_id = o, .pai_skid = "AA", .dir = "/tmp", .station = "s1"};
    mp_cert_rec c[4];
    uint8_t lost[4] = {9, 9, 9, 9};
    memset(c, 0, sizeof(c));
    CU_ASSERT_EQUAL_FATAL(mp_ledger_begin(l), MP_OK);
    CU_ASSERT_EQUAL_FATAL(mp_ledger_add_batch(l, &b), MP_OK);
    for (int i = 0; i < 4; i++) {
        c[i] = (mp_cert_rec){.batch = b.id, .order_id = o, .der = der, .der_len = 3, .lease = "leaseA"};
        snprintf(c[i].udid, sizeof(c[i].udid), "%s", a[i].udid);
        snprintf(c[i].serial, sizeof(c[i].serial), "%02X", 0x40 + i);
        strcpy(c[i].sha256, "0011");
    }
    CU_ASSERT_EQUAL(mp_ledger_add_counted_many(l, c, 4, lost), MP_OK);
    CU_ASSERT(lost[0] == 0 && lost[1] == 1 && lost[2] == 0 && lost[3] == 0);
    CU_ASSERT_EQUAL(mp_ledger_take_quota_station(l, o, "s1", 3), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_commit(l), MP_OK);
    for (int i = 0; i < 4; i++) {
        char sha[65];
        int found = -1;
        CU_ASSERT_EQUAL(mp_ledger_cert_for_udid(l, a[i].udid, sha, &found), MP_OK);
        CU_ASSERT_EQUAL(found, i != 1);
    }
    /* the same chunk again: the recorded ones are no longer reserved */
    for (int i = 0; i < 4; i++) snprintf(c[i].serial, sizeof(c[i].serial), "%02X", 0x50 + i);
    CU_ASSERT_EQUAL_FATAL(mp_ledger_begin(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_add_counted_many(l, c, 4, lost), MP_OK);
    CU_ASSERT(lost[0] == 1 && lost[1] == 1 && lost[2] == 1 && lost[3] == 1);
    CU_ASSERT_EQUAL(mp_ledger_commit(l), MP_OK);
    mp_ledger_counts n;
    CU_ASSERT_EQUAL(mp_ledger_counts_get(l, &n), MP_OK);
    CU_ASSERT_EQUAL(n.issued, 3);
    mp_order ord;
    CU_ASSERT_EQUAL(mp_ledger_get_order(l, o, &ord), MP_OK);
    CU_ASSERT_EQUAL(ord.issued, 3);
    done(l);
}

static void test_reserve_disjoint_and_capped(void)
{
    int64_t o;
    mp_ledger *l = setup(10, 6, &o);
    mp_device a[10], b[10];
    size_t na = 0, nb = 0;
    time_t until = time(NULL) + 60;
    CU_ASSERT_EQUAL(mp_ledger_reserve(l, o, "s1", "leaseA", until, 4, a, &na), MP_OK);
    CU_ASSERT_EQUAL(na, 4);
    /* the quota (6) less A's live reservations (4) leaves 2 for B */
    CU_ASSERT_EQUAL(mp_ledger_reserve(l, o, "s2", "leaseB", until, 4, b, &nb), MP_OK);
    CU_ASSERT_EQUAL(nb, 2);
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++) CU_ASSERT(strcmp(a[i].udid, b[j].udid) != 0);
    /* A gives back what it did not use */
    CU_ASSERT_EQUAL(issue(l, o, a[0].udid, "leaseA", "s1", 1), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_release(l, "leaseA"), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_reserve(l, o, "s2", "leaseC", until, 10, b, &nb), MP_OK);
    CU_ASSERT_EQUAL(nb, 3); /* 6 - 1 issued - 2 held by B */
    /* a device reserved under another lease cannot be issued by this one */
    CU_ASSERT_EQUAL(issue(l, o, b[0].udid, "leaseA", "s1", 2), MP_ERR_LEASE_LOST);
    done(l);
}

static void test_lost_lease_records_nothing(void)
{
    int64_t o;
    mp_ledger *l = setup(4, 4, &o);
    mp_device a[4], b[4];
    size_t na = 0, nb = 0;
    /* A's lease has expired while it was signing */
    CU_ASSERT_EQUAL(mp_ledger_reserve(l, o, "s1", "leaseA", time(NULL) - 1, 2, a, &na), MP_OK);
    CU_ASSERT_EQUAL_FATAL(na, 2);
    CU_ASSERT_EQUAL(issue(l, o, a[0].udid, "leaseA", "s1", 1), MP_ERR_LEASE_LOST);
    mp_order ord;
    CU_ASSERT_EQUAL(mp_ledger_get_order(l, o, &ord), MP_OK);
    CU_ASSERT_EQUAL(ord.issued, 0);
    char sha[65];
    int found = 1;
    CU_ASSERT_EQUAL(mp_ledger_cert_for_udid(l, a[0].udid, sha, &found), MP_OK);
    CU_ASSERT_EQUAL(found, 0);
    /* the expired devices return to the pool for the next run */
    CU_ASSERT_EQUAL(mp_ledger_reserve(l, o, "s2", "leaseB", time(NULL) + 60, 4, b, &nb), MP_OK);
    CU_ASSERT_EQUAL(nb, 4);
    CU_ASSERT_EQUAL(issue(l, o, a[0].udid, "leaseB", "s2", 1), MP_OK);
    CU_ASSERT_EQUAL(issue(l, o, a[0].udid, "leaseB", "s2", 2), MP_ERR_LEASE_LOST); /* once */
    done(l);
}

static void test_station_subquota_and_disable(void)
{
    int64_t o;
    mp_ledger *l = setup(10, 10, &o);
    mp_device a[10];
    size_t na = 0;
    time_t until = time(NULL) + 60;
    CU_ASSERT_EQUAL(mp_ledger_station_check(l, "free", o), MP_OK); /* no assignments: any station */
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_order_assign(l, o, "s1", 2), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_commit(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_station_check(l, "s1", o), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_station_check(l, "s2", o), MP_ERR_UNAUTHORIZED); /* not assigned */
    CU_ASSERT_EQUAL(mp_ledger_reserve(l, o, "s1", "L1", until, 10, a, &na), MP_OK);
    CU_ASSERT_EQUAL(na, 2); /* capped by the sub-quota */
    CU_ASSERT_EQUAL(issue(l, o, a[0].udid, "L1", "s1", 1), MP_OK);
    CU_ASSERT_EQUAL(issue(l, o, a[1].udid, "L1", "s1", 2), MP_OK);
    /* the database refuses a third even for a device the station holds */
    CU_ASSERT_EQUAL(mp_ledger_reserve_udid(l, o, "L1", until, "U09", &a[2], &(int){0}), MP_OK);
    CU_ASSERT_EQUAL(issue(l, o, "U09", "L1", "s1", 3), MP_ERR_QUOTA);
    CU_ASSERT_EQUAL(issue(l, o, "U09", "L1", "s2", 3), MP_ERR_UNAUTHORIZED); /* s2 not assigned */
    CU_ASSERT_EQUAL(mp_ledger_station_disable(l, "s1"), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_station_check(l, "s1", o), MP_ERR_UNAUTHORIZED);
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_order_assign(l, o, "s1", 5), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_order_assign(l, o, "s1", 1), MP_ERR_QUOTA); /* below what it issued */
    mp_ledger_rollback(l);
    CU_ASSERT_EQUAL(issue(l, o, "U09", "L1", "s1", 3), MP_ERR_UNAUTHORIZED); /* disabled */
    CU_ASSERT_EQUAL(mp_ledger_station_disable(l, "nosuch"), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_station_name_ok("line-1.a_b"), 1);
    CU_ASSERT_EQUAL(mp_station_name_ok("bad name"), 0);
    CU_ASSERT_EQUAL(mp_station_name_ok(""), 0);
    done(l);
}

/* take_quota_stations (serve's group): each station counted and checked as
 * take_quota_station does, the order's quota once for the total; a refusal
 * names the station and takes nothing (the caller rolls back). */
static int take_many(mp_ledger *l, int64_t o, const char *a, uint64_t na, const char *b, uint64_t nb, size_t *failed)
{
    const char *names[2] = {a, b};
    uint64_t n[2] = {na, nb};
    int rc = mp_ledger_begin(l);
    if (rc == MP_OK) rc = mp_ledger_take_quota_stations(l, o, names, n, 2, failed);
    if (rc == MP_OK) rc = mp_ledger_commit(l);
    mp_ledger_rollback(l);
    return rc;
}

static void test_take_quota_stations(void)
{
    int64_t o;
    size_t failed = 9;
    mp_order cur;
    mp_ledger *l = setup(1, 10, &o);
    CU_ASSERT_EQUAL(take_many(l, o, "a", 2, "b", 3, &failed), MP_OK); /* no assignments: any station */
    CU_ASSERT_EQUAL(failed, 2);
    CU_ASSERT_EQUAL(mp_ledger_get_order(l, o, &cur), MP_OK);
    CU_ASSERT_EQUAL(cur.issued, 5);
    CU_ASSERT_EQUAL(take_many(l, o, "a", 3, "b", 3, &failed), MP_ERR_QUOTA); /* 5 + 6 > 10 */
    CU_ASSERT_EQUAL(failed, 2);
    CU_ASSERT_EQUAL(mp_ledger_station_disable(l, "b"), MP_OK);
    CU_ASSERT_EQUAL(take_many(l, o, "a", 1, "b", 1, &failed), MP_ERR_UNAUTHORIZED);
    CU_ASSERT_EQUAL(failed, 1);
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_order_assign(l, o, "a", 3), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_commit(l), MP_OK);
    CU_ASSERT_EQUAL(take_many(l, o, "a", 1, "c", 1, &failed), MP_ERR_UNAUTHORIZED); /* c not assigned */
    CU_ASSERT_EQUAL(failed, 1);
    CU_ASSERT_EQUAL(take_many(l, o, "c", 0, "a", 4, &failed), MP_ERR_UNAUTHORIZED); /* c first: not assigned */
    CU_ASSERT_EQUAL(failed, 0);
    CU_ASSERT_EQUAL(mp_ledger_get_order(l, o, &cur), MP_OK);
    CU_ASSERT_EQUAL(cur.issued, 5); /* nothing taken by the refusals */
    done(l);
}

static void test_audit_chain(void)
{
    int64_t o, bad = -1;
    uint64_t rows = 0;
    char why[256];
    mp_ledger *l = setup(1, 1, &o);
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK);
    for (int i = 0; i < 5; i++) CU_ASSERT_EQUAL(mp_ledger_audit(l, "s", "test", "x", "{\"i\":1}"), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_commit(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_audit_verify(l, &bad, why, sizeof(why), &rows), MP_OK);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(rows, 6); /* order.create and the five */
    mp_ledger_close(l);
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    CU_ASSERT_NOT_EQUAL(sqlite3_exec(db, "UPDATE audit SET detail='{}' WHERE seq=3", NULL, NULL, NULL), SQLITE_OK); /* trigger */
    CU_ASSERT_EQUAL(sqlite3_exec(db, "DROP TRIGGER audit_no_update; UPDATE audit SET detail='{}' WHERE seq=3", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    CU_ASSERT_EQUAL_FATAL(mp_ledger_open(path, &l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_audit_verify(l, &bad, why, sizeof(why), &rows), MP_OK);
    CU_ASSERT_EQUAL(bad, 3);
    done(l);
}

/* SQLite reserves spans of UDIDs (schema v10): a run's chunks grow one span;
 * another run takes the gaps around live spans; a device in another run's
 * live span can be neither reserved by --udid nor issued without a lease;
 * released or expired spans give their unissued devices back. */
static void test_spans(void)
{
    int64_t o;
    mp_ledger *l = setup(12, 12, &o);
    mp_device a[12], b[12], d;
    size_t na = 0, nb = 0;
    int got = -1;
    time_t until = time(NULL) + 60;
    CU_ASSERT_EQUAL(mp_ledger_reserve(l, o, "s1", "A", until, 3, a, &na), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_reserve(l, o, "s1", "A", until, 3, a + 3, &nb), MP_OK);
    CU_ASSERT_EQUAL(na + nb, 6);
    CU_ASSERT_STRING_EQUAL(a[0].udid, "U00");
    CU_ASSERT_STRING_EQUAL(a[5].udid, "U05");
    CU_ASSERT_EQUAL(a[4].state, MP_DEV_RESERVED);
    CU_ASSERT_STRING_EQUAL(one_at("SELECT count(*)||lo||hi FROM leases WHERE lease='A'"), "1U00U05"); /* grown, not a second row */
    /* B takes what follows A's span; a --udid of B inside A's span is refused,
     * and so is issuing it without a lease (EST, CSR mode) */
    CU_ASSERT_EQUAL(mp_ledger_reserve(l, o, "s2", "B", until, 2, b, &nb), MP_OK);
    CU_ASSERT(nb == 2 && strcmp(b[0].udid, "U06") == 0 && strcmp(b[1].udid, "U07") == 0);
    CU_ASSERT_EQUAL(mp_ledger_reserve_udid(l, o, "B", until, "U02", &d, &got), MP_OK);
    CU_ASSERT_EQUAL(got, 0);
    CU_ASSERT_EQUAL(issue(l, o, "U02", NULL, "s3", 9), MP_ERR_UNAUTHORIZED);
    CU_ASSERT_EQUAL(issue(l, o, "U02", "B", "s2", 9), MP_ERR_LEASE_LOST);
    /* --udid: a free device becomes a one-device span; again under the same lease it is already held */
    CU_ASSERT_EQUAL(mp_ledger_reserve_udid(l, o, "C", until, "U10", &d, &got), MP_OK);
    CU_ASSERT(got == 1 && strcmp(d.udid, "U10") == 0);
    CU_ASSERT_EQUAL(mp_ledger_reserve_udid(l, o, "C", until, "U10", &d, &got), MP_OK);
    CU_ASSERT_EQUAL(got, 1);
    CU_ASSERT_STRING_EQUAL(one_at("SELECT count(*) FROM leases WHERE lease='C'"), "1");
    /* A issues two; the order's room counts the devices spans still hold:
     * 12 - 2 issued - 4 (A) - 2 (B) - 1 (C) = 3, taken around C's span */
    CU_ASSERT_EQUAL(issue(l, o, "U00", "A", "s1", 1), MP_OK);
    CU_ASSERT_EQUAL(issue(l, o, "U01", "A", "s1", 2), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_reserve(l, o, "s4", "D", until, 12, b, &nb), MP_OK);
    CU_ASSERT_EQUAL(nb, 3);
    CU_ASSERT(strcmp(b[0].udid, "U08") == 0 && strcmp(b[1].udid, "U09") == 0 && strcmp(b[2].udid, "U11") == 0);
    CU_ASSERT_STRING_EQUAL(one_at("SELECT count(*) FROM leases WHERE lease='D'"), "2"); /* two gaps, two spans */
    /* A gives back: its four unissued devices are free again, its issued ones stay issued */
    CU_ASSERT_EQUAL(mp_ledger_release(l, "A"), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_reserve(l, o, "s4", "E", until, 12, b, &nb), MP_OK);
    CU_ASSERT(nb == 4 && strcmp(b[0].udid, "U02") == 0 && strcmp(b[3].udid, "U05") == 0);
    /* E's lease expires (renew does not revive it): its devices go back to the next run */
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(db, "UPDATE leases SET until=1 WHERE lease='E'", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    CU_ASSERT_EQUAL(mp_ledger_renew(l, "E", until), MP_OK);
    CU_ASSERT_EQUAL(issue(l, o, "U02", "E", "s4", 3), MP_ERR_LEASE_LOST);
    CU_ASSERT_EQUAL(mp_ledger_reserve(l, o, "s5", "F", until, 1, b, &nb), MP_OK);
    CU_ASSERT(nb == 1 && strcmp(b[0].udid, "U02") == 0);
    CU_ASSERT_STRING_EQUAL(one_at("SELECT count(*) FROM leases WHERE lease='E'"), "0"); /* swept */
    CU_ASSERT_EQUAL(issue(l, o, "U02", "F", "s5", 3), MP_OK);
    done(l);
}

/* Schema 9 -> 10: devices a run held (state 3 and its lease) become
 * one-device spans of the same lease; they are still that run's. */
static void test_migrate_v9_reservations(void)
{
    int64_t o;
    mp_ledger *l = setup(4, 4, &o);
    mp_ledger_close(l);
    sqlite3 *db = NULL;
    char sql[400];
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    snprintf(sql, sizeof(sql), "DROP TABLE leases; UPDATE meta SET value='9' WHERE key='schema_version';"
             "UPDATE devices SET state=3, lease='OLD', lease_until=%lld, lease_order=%lld WHERE udid IN ('U01','U02');",
             (long long)time(NULL) + 60, (long long)o);
    CU_ASSERT_EQUAL(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    CU_ASSERT_EQUAL_FATAL(mp_ledger_open(path, &l), MP_OK);
    CU_ASSERT_STRING_EQUAL(one_at("SELECT value FROM meta WHERE key='schema_version'"), "10");
    CU_ASSERT_STRING_EQUAL(one_at("SELECT group_concat(lo||'-'||hi) FROM (SELECT lo, hi FROM leases WHERE lease='OLD' ORDER BY lo)"),
                           "U01-U01,U02-U02");
    CU_ASSERT_STRING_EQUAL(one_at("SELECT count(*) FROM devices WHERE state=3 OR lease IS NOT NULL"), "0");
    mp_device b[4];
    size_t nb = 0;
    CU_ASSERT_EQUAL(mp_ledger_reserve(l, o, "s", "NEW", time(NULL) + 60, 4, b, &nb), MP_OK);
    CU_ASSERT(nb == 2 && strcmp(b[0].udid, "U00") == 0 && strcmp(b[1].udid, "U03") == 0);
    CU_ASSERT_EQUAL(issue(l, o, "U01", "OLD", "s", 1), MP_OK);
    done(l);
}

static void test_locations(void)
{
    CU_ASSERT_EQUAL(mp_ledger_is_pg_location("postgresql://h/db"), 1);
    CU_ASSERT_EQUAL(mp_ledger_is_pg_location("postgres://h/db"), 1);
    CU_ASSERT_EQUAL(mp_ledger_is_pg_location("host=/tmp/s dbname=x"), 1);
    CU_ASSERT_EQUAL(mp_ledger_is_pg_location("dbname=x"), 1);
    CU_ASSERT_EQUAL(mp_ledger_is_pg_location("state/ledger.sqlite"), 0);
    CU_ASSERT_EQUAL(mp_ledger_is_pg_location("/tmp/a=b/host=x.sqlite"), 0);
    CU_ASSERT_EQUAL(mp_ledger_location_has_password("postgresql://u:pw@h/db"), 1);
    CU_ASSERT_EQUAL(mp_ledger_location_has_password("postgresql://u@h/db"), 0);
    CU_ASSERT_EQUAL(mp_ledger_location_has_password("postgresql://u@h/db?password=x"), 1);
    CU_ASSERT_EQUAL(mp_ledger_location_has_password("host=h password=x"), 1);
    CU_ASSERT_EQUAL(mp_ledger_location_has_password("host=h user=password"), 0);
    CU_ASSERT_EQUAL(mp_ledger_location_has_password("state/password=.sqlite"), 0);
}

void register_stations(void)
{
    CU_pSuite s = CU_add_suite("stations", NULL, NULL);
    TU_ADD(s, test_reserve_disjoint_and_capped);
    TU_ADD(s, test_lost_lease_records_nothing);
    TU_ADD(s, test_chunk_lost_one_keeps_others);
    TU_ADD(s, test_station_subquota_and_disable);
    TU_ADD(s, test_take_quota_stations);
    TU_ADD(s, test_audit_chain);
    TU_ADD(s, test_spans);
    TU_ADD(s, test_migrate_v9_reservations);
    TU_ADD(s, test_locations);
}
