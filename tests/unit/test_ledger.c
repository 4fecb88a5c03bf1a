/* test_ledger.c - the SQLite ledger: duplicates, quota, once-only issuance,
 * serial uniqueness, revocation, CRL numbers, schema version. */
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ledger.h"
#include "testutil.h"

static char dir[64];

static mp_ledger *fresh(void)
{
    char path[128];
    mp_ledger *l = NULL;
    snprintf(dir, sizeof(dir), "/tmp/mp-ledger-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/l.sqlite", dir);
    CU_ASSERT_EQUAL_FATAL(mp_ledger_open(path, &l), MP_OK);
    return l;
}

static void done(mp_ledger *l)
{
    char cmd[128];
    mp_ledger_close(l);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static mp_device dev(const char *udid, uint8_t k, int64_t list)
{
    mp_device d = {.list_id = list};
    snprintf(d.udid, sizeof(d.udid), "%s", udid);
    memset(d.point, k, 65);
    d.point[0] = 4;
    return d;
}

static int64_t add_list(mp_ledger *l, const char *sha)
{
    mp_chip_list cl = {.format = "csv", .source = "x", .signer = ""};
    snprintf(cl.sha256, sizeof(cl.sha256), "%s", sha);
    CU_ASSERT_EQUAL(mp_ledger_add_list(l, &cl), MP_OK);
    return cl.id;
}

static void test_duplicates(void)
{
    mp_ledger *l = fresh();
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK);
    int64_t a = add_list(l, "aa");
    mp_device d1 = dev("U1", 1, a), d2 = dev("U1", 2, a), d3 = dev("U3", 1, a);
    CU_ASSERT_EQUAL(mp_ledger_add_device(l, &d1), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_add_device(l, &d2), MP_ERR_DUPLICATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "same list"));
    CU_ASSERT_EQUAL(mp_ledger_add_device(l, &d3), MP_ERR_DUPLICATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "same key"));
    CU_ASSERT_EQUAL(mp_ledger_commit(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK);
    mp_chip_list again = {.format = "csv", .source = "y", .signer = ""};
    snprintf(again.sha256, sizeof(again.sha256), "aa");
    CU_ASSERT_EQUAL(mp_ledger_add_list(l, &again), MP_ERR_DUPLICATE);
    int64_t b = add_list(l, "bb");
    mp_device d4 = dev("U1", 9, b);
    CU_ASSERT_EQUAL(mp_ledger_add_device(l, &d4), MP_ERR_DUPLICATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "already in the ledger"));
    mp_ledger_rollback(l);
    int found = 0;
    mp_device out;
    CU_ASSERT_EQUAL(mp_ledger_get_device(l, "U1", &out, &found), MP_OK);
    CU_ASSERT(found && out.point[1] == 1);
    done(l);
}

static mp_cert_rec rec(const char *serial, const char *udid, int64_t order)
{
    static const uint8_t der[3] = {1, 2, 3};
    mp_cert_rec c = {.order_id = order, .der = der, .der_len = 3, .path = "p", .station = "s"};
    snprintf(c.serial, sizeof(c.serial), "%s", serial);
    snprintf(c.udid, sizeof(c.udid), "%s", udid);
    snprintf(c.pai_skid, sizeof(c.pai_skid), "SKID");
    snprintf(c.sha256, sizeof(c.sha256), "00");
    return c;
}

static void test_quota_and_once(void)
{
    mp_ledger *l = fresh();
    mp_order o = {.vid = 0xFFF2, .pid = 0x8001, .quota = 2};
    snprintf(o.pai_skid, sizeof(o.pai_skid), "SKID");
    snprintf(o.cn_template, sizeof(o.cn_template), "{udid}");
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_add_order(l, &o), MP_OK);
    int64_t a = add_list(l, "aa");
    const char *u[] = {"A", "B", "C"};
    for (int i = 0; i < 3; i++) {
        mp_device d = dev(u[i], (uint8_t)(i + 1), a);
        CU_ASSERT_EQUAL(mp_ledger_add_device(l, &d), MP_OK);
    }
    CU_ASSERT_EQUAL(mp_ledger_commit(l), MP_OK);
    mp_device next[4];
    size_t n = 0;
    CU_ASSERT_EQUAL(mp_ledger_next_devices(l, "", 4, next, &n), MP_OK);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_EQUAL(mp_ledger_next_devices(l, "A", 4, next, &n), MP_OK);
    CU_ASSERT(n == 2 && strcmp(next[0].udid, "B") == 0);
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK);
    mp_cert_rec c = rec("01", "A", o.id);
    CU_ASSERT_EQUAL(mp_ledger_add_cert(l, &c), MP_OK);
    c = rec("02", "A", o.id);
    CU_ASSERT_EQUAL(mp_ledger_add_cert(l, &c), MP_ERR_UNAUTHORIZED); /* once */
    mp_ledger_rollback(l);
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK);
    c = rec("01", "A", o.id);
    CU_ASSERT_EQUAL(mp_ledger_add_cert(l, &c), MP_OK);
    c = rec("01", "B", o.id);
    CU_ASSERT_EQUAL(mp_ledger_add_cert(l, &c), MP_ERR_DUPLICATE); /* serial reused */
    mp_ledger_rollback(l);
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK);
    c = rec("01", "A", o.id);
    CU_ASSERT_EQUAL(mp_ledger_add_cert(l, &c), MP_OK);
    c = rec("02", "B", o.id);
    CU_ASSERT_EQUAL(mp_ledger_add_cert(l, &c), MP_OK);
    c = rec("03", "C", o.id);
    CU_ASSERT_EQUAL(mp_ledger_add_cert(l, &c), MP_ERR_QUOTA);
    mp_ledger_rollback(l);
    mp_order back;
    CU_ASSERT_EQUAL(mp_ledger_get_order(l, o.id, &back), MP_OK);
    CU_ASSERT_EQUAL(back.issued, 0); /* rolled back: all or nothing */
    done(l);
}

static int count_cb(void *ctx, const char *serial, time_t when, const char *reason)
{
    (void)serial; (void)when; (void)reason;
    (*(int *)ctx)++;
    return MP_OK;
}

static void test_revoke_and_crl_numbers(void)
{
    mp_ledger *l = fresh();
    mp_order o = {.vid = 1, .pid = 1, .quota = 5};
    snprintf(o.pai_skid, sizeof(o.pai_skid), "SKID");
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_add_order(l, &o), MP_OK);
    mp_device d = dev("A", 1, add_list(l, "aa"));
    CU_ASSERT_EQUAL(mp_ledger_add_device(l, &d), MP_OK);
    mp_cert_rec c = rec("0A", "A", o.id);
    CU_ASSERT_EQUAL(mp_ledger_add_cert(l, &c), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_revoke(l, "0A", "keyCompromise"), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_revoke(l, "0A", "keyCompromise"), MP_ERR_DUPLICATE);
    CU_ASSERT_EQUAL(mp_ledger_revoke(l, "0B", "keyCompromise"), MP_ERR_INVALID);
    int n = 0;
    CU_ASSERT_EQUAL(mp_ledger_each_revoked(l, "SKID", count_cb, &n), MP_OK);
    CU_ASSERT_EQUAL(n, 1);
    uint64_t a, b;
    CU_ASSERT_EQUAL(mp_ledger_next_crl_number(l, "SKID", &a), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_next_crl_number(l, "SKID", &b), MP_OK);
    CU_ASSERT(a == 1 && b == 2);
    CU_ASSERT_EQUAL(mp_ledger_commit(l), MP_OK);
    done(l);
}

static void test_not_a_database(void)
{
    char path[] = "/tmp/mp-notdb-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_EQUAL(write(fd, "this is not sqlite at all, just text....................................................................", 100), 100);
    close(fd);
    mp_ledger *l = NULL;
    CU_ASSERT_EQUAL(mp_ledger_open(path, &l), MP_ERR_DB);
    CU_ASSERT_PTR_NULL(l);
    unlink(path);
}

/* Plan of SQL on the ledger file, every detail line joined. */
static void plan_of(sqlite3 *db, const char *sql, char *out, size_t cap)
{
    char q[512];
    sqlite3_stmt *s = NULL;
    out[0] = 0;
    snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s|", (const char *)sqlite3_column_text(s, 3));
    }
    sqlite3_finalize(s);
}

/* A v2 ledger (as session-1 builds left it) is migrated to v4, and the
 * factory-data walk over an order's certificates then uses the index
 * instead of sorting the whole order for every chunk. */
static void test_migrate_v2_to_v4(void)
{
    char path[128], plan[1024];
    mp_ledger *l = fresh();
    snprintf(path, sizeof(path), "%s/l.sqlite", dir);
    mp_ledger_close(l);
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(db, "DROP INDEX certificates_order; DROP INDEX certificates_unwritten;"
                                     "CREATE INDEX certificates_written ON certificates(order_id, written);"
                                     "DROP TABLE devices; CREATE TABLE devices(udid TEXT PRIMARY KEY, pubkey BLOB NOT NULL UNIQUE,"
                                     " list_id INTEGER, state INTEGER NOT NULL, key_origin INTEGER NOT NULL, created_at TEXT NOT NULL);"
                                     "CREATE INDEX devices_state ON devices(state, key_origin, udid);"
                                     "INSERT INTO devices VALUES('U9', x'0409', NULL, 1, 0, '2026-01-01');"
                                     "UPDATE meta SET value='2' WHERE key='schema_version';", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    CU_ASSERT_EQUAL_FATAL(mp_ledger_open(path, &l), MP_OK);
    mp_ledger_close(l);
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    CU_ASSERT_EQUAL(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1, &s, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_step(s), SQLITE_ROW);
    CU_ASSERT_STRING_EQUAL((const char *)sqlite3_column_text(s, 0), "4");
    sqlite3_finalize(s);
    /* v4: devices clustered by UDID, rows kept */
    CU_ASSERT_EQUAL(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE name='devices'", -1, &s, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_step(s), SQLITE_ROW);
    CU_ASSERT_PTR_NOT_NULL(strstr((const char *)sqlite3_column_text(s, 0), "WITHOUT ROWID"));
    sqlite3_finalize(s);
    CU_ASSERT_EQUAL(sqlite3_prepare_v2(db, "SELECT state FROM devices WHERE udid='U9'", -1, &s, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_step(s), SQLITE_ROW);
    CU_ASSERT_EQUAL(sqlite3_column_int(s, 0), 1);
    sqlite3_finalize(s);
    plan_of(db, "SELECT c.udid, d.key_origin, c.serial, c.der, c.path FROM certificates c JOIN devices d ON d.udid = c.udid"
                " WHERE c.order_id = 1 AND c.udid > 'A' ORDER BY c.udid LIMIT 10", plan, sizeof(plan));
    CU_ASSERT_PTR_NOT_NULL(strstr(plan, "certificates_order"));
    CU_ASSERT_PTR_NULL(strstr(plan, "TEMP B-TREE"));
    plan_of(db, "SELECT udid FROM certificates WHERE order_id=1 AND written=0", plan, sizeof(plan));
    CU_ASSERT_PTR_NOT_NULL(strstr(plan, "certificates_unwritten"));
    sqlite3_close(db);
    CU_ASSERT_EQUAL_FATAL(mp_ledger_open(path, &l), MP_OK); /* idempotent */
    done(l);
}

void register_ledger(void)
{
    CU_pSuite s = CU_add_suite("ledger", NULL, NULL);
    TU_ADD(s, test_duplicates);
    TU_ADD(s, test_quota_and_once);
    TU_ADD(s, test_revoke_and_crl_numbers);
    TU_ADD(s, test_not_a_database);
    TU_ADD(s, test_migrate_v2_to_v4);
}
