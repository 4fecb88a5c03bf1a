/* test_ledger.c - the SQLite ledger: duplicates, quota, once-only issuance,
 * serial uniqueness, revocation, CRL numbers, schema version. */
#include <stdio.h>
#include <stdlib.h>
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
    uint64_t n = 0;
    CU_ASSERT_EQUAL(mp_ledger_count_authorized(l, &n), MP_OK);
    CU_ASSERT_EQUAL(n, 3);
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

/* The v4 fixture: a ledger made by the v4 code (tests/fixtures/ledger-v4.sql:
 * a signed chip list, two orders, batch DACs, off-chip keys, a CSR-mode DAC
 * at its own path, a revocation, factory data, and one DAC committed whose
 * file was never written), loaded into a new file; optionally taken back to
 * the v2 layout first. Returns the open sqlite handle on the file. */
static sqlite3 *load_v4(const char *path, int as_v2)
{
    char fx[512];
    const char *root = getenv("MP_FIXTURES");
    snprintf(fx, sizeof(fx), "%s/ledger-v4.sql", root ? root : "tests/fixtures");
    FILE *f = fopen(fx, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static char sql[1 << 16];
    size_t n = fread(sql, 1, sizeof(sql) - 1, f);
    fclose(f);
    sql[n] = 0;
    CU_ASSERT_FATAL(n > 1000 && n < sizeof(sql) - 1);
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    if (as_v2) {
        CU_ASSERT_EQUAL(sqlite3_exec(db, "DROP INDEX certificates_order; DROP INDEX certificates_unwritten;"
                                         "CREATE INDEX certificates_written ON certificates(order_id, written);"
                                         "CREATE TABLE d2 AS SELECT * FROM devices; DROP TABLE devices;"
                                         "CREATE TABLE devices(udid TEXT PRIMARY KEY, pubkey BLOB NOT NULL UNIQUE,"
                                         " list_id INTEGER, state INTEGER NOT NULL, key_origin INTEGER NOT NULL, created_at TEXT NOT NULL);"
                                         "INSERT INTO devices SELECT * FROM d2; DROP TABLE d2;"
                                         "CREATE INDEX devices_state ON devices(state, key_origin, udid);"
                                         "UPDATE meta SET value='2' WHERE key='schema_version';", NULL, NULL, NULL), SQLITE_OK);
    }
    return db;
}

/* Every certificate as text, in the v4 table's shape (a table in v4, the
 * compatibility view in v5). */
static void cert_dump(sqlite3 *db, char *out, size_t cap)
{
    sqlite3_stmt *s = NULL;
    size_t o = 0;
    out[0] = 0;
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db, "SELECT serial, pai_skid, udid, order_id, not_before, not_after, sha256,"
                                                 " hex(der), path, station, issued_at, written FROM certificates ORDER BY udid",
                                             -1, &s, NULL), SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        for (int i = 0; i < 12; i++) {
            const char *t = (const char *)sqlite3_column_text(s, i);
            int k = snprintf(out + o, cap - o, "%s%s", t ? t : "NULL", i == 11 ? "\n" : "|");
            if (k > 0) o += (size_t)k < cap - o ? (size_t)k : cap - o - 1;
        }
    }
    sqlite3_finalize(s);
}

static const char *text_of(sqlite3 *db, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *s = NULL;
    out[0] = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
        sqlite3_column_text(s, 0) != NULL) {
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    return out;
}

typedef struct unwritten_seen {
    int n;
    int64_t batch;
    char udid[MP_UDID_MAX + 1], path[1100];
    size_t der_len;
} unwritten_seen;

static int seen_unwritten(void *ctx, const mp_cert_rec *c)
{
    unwritten_seen *u = ctx;
    u->n++;
    u->batch = c->batch;
    u->der_len = c->der_len;
    snprintf(u->udid, sizeof(u->udid), "%s", c->udid);
    snprintf(u->path, sizeof(u->path), "%s", c->path ? c->path : "");
    return MP_OK;
}

static int count_cert(void *ctx, const mp_cert_rec *c)
{
    (void)c;
    (*(int *)ctx)++;
    return MP_OK;
}

/* A ledger made by the v4 code (or taken back to v2) migrates to v5: every
 * certificate reads back the same through the `certificates` view, the
 * unwritten one is found for recovery at its path, the hot queries use their
 * indexes, and a second open changes nothing. */
static void migrate_fixture(int as_v2)
{
    static char before[1 << 15], after[1 << 15];
    char path[128], plan[1024], t[512];
    snprintf(dir, sizeof(dir), "/tmp/mp-ledger-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/l.sqlite", dir);
    sqlite3 *db = load_v4(path, as_v2);
    cert_dump(db, before, sizeof(before));
    CU_ASSERT_STRING_EQUAL(text_of(db, "SELECT count(*) FROM certificates", t, sizeof(t)), "10");
    sqlite3_close(db);
    mp_ledger *l = NULL;
    CU_ASSERT_EQUAL_FATAL(mp_ledger_open(path, &l), MP_OK);
    unwritten_seen u = {0};
    CU_ASSERT_EQUAL(mp_ledger_each_unwritten(l, 1, seen_unwritten, &u), MP_OK);
    CU_ASSERT_EQUAL(u.n, 1);
    CU_ASSERT_STRING_EQUAL(u.udid, "6425180DD1C351957B6C2BC3954D31784846946BF0624CA925F0FF1EFED676DE");
    CU_ASSERT_STRING_EQUAL(u.path, "/tmp/v4fx/dacs/6425180DD1C351957B6C2BC3954D31784846946BF0624CA925F0FF1EFED676DE.der");
    CU_ASSERT(u.der_len > 400 && u.der_len < 700);
    u.n = 0;
    CU_ASSERT_EQUAL(mp_ledger_each_unwritten(l, 2, seen_unwritten, &u), MP_OK);
    CU_ASSERT_EQUAL(u.n, 0);
    int n = 0;
    CU_ASSERT_EQUAL(mp_ledger_each_cert(l, count_cert, &n), MP_OK);
    CU_ASSERT_EQUAL(n, 10);
    char sha[65];
    int found = 0;
    CU_ASSERT_EQUAL(mp_ledger_cert_for_udid(l, "8847F01EE80747D772823373AE5A94BF83A24CF6699B290514F254FD3DEFF731", sha, &found), MP_OK);
    CU_ASSERT(found && strlen(sha) == 64);
    /* the CSR-mode DAC (a serial with a leading 0 nibble) is found by its serial */
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_revoke(l, "0af720b15ca1bc22d7bedb8b2a7312bc", "cessationOfOperation"), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_revoke(l, "5EA2E711946D7B001D991484CD33485C", "keyCompromise"), MP_ERR_DUPLICATE);
    mp_ledger_rollback(l);
    mp_ledger_close(l);
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    CU_ASSERT_STRING_EQUAL(text_of(db, "SELECT value FROM meta WHERE key='schema_version'", t, sizeof(t)), "10"); /* upgraded in place to the current schema */
    CU_ASSERT_STRING_EQUAL(text_of(db, "SELECT type FROM sqlite_master WHERE name='certificates'", t, sizeof(t)), "view");
    CU_ASSERT_PTR_NOT_NULL(strstr(text_of(db, "SELECT sql FROM sqlite_master WHERE name='devices'", t, sizeof(t)),
                                  "WITHOUT ROWID"));
    cert_dump(db, after, sizeof(after));
    CU_ASSERT_STRING_EQUAL(after, before);
    /* the v4 fixture's rows: 3 batches of files in folders (6 chip-list DACs, one
     * of them unwritten, the other 5; 3 off-chip) and the CSR DAC on its own path */
    CU_ASSERT_STRING_EQUAL(text_of(db, "SELECT count(*) FROM dacs WHERE path IS NOT NULL", t, sizeof(t)), "1");
    CU_ASSERT_STRING_EQUAL(text_of(db, "SELECT count(*) FROM dac_batches WHERE written=0", t, sizeof(t)), "1");
    CU_ASSERT_STRING_EQUAL(text_of(db, "SELECT count(*) FROM devices WHERE state=1", t, sizeof(t)), "9");
    CU_ASSERT_STRING_EQUAL(text_of(db, "SELECT count(*) FROM factory_data", t, sizeof(t)), "3");
    plan_of(db, "SELECT c.udid, d.key_origin, hex(c.serial), c.der, coalesce(c.path, b.dir || '/' || c.udid || '.der')"
                " FROM dacs c JOIN devices d ON d.udid = c.udid JOIN dac_batches b ON b.id = c.batch"
                " WHERE c.order_id = 1 AND c.udid > 'A' ORDER BY c.udid LIMIT 10", plan, sizeof(plan));
    CU_ASSERT_PTR_NOT_NULL(strstr(plan, "dacs_order"));
    CU_ASSERT_PTR_NULL(strstr(plan, "TEMP B-TREE"));
    plan_of(db, "SELECT c.udid FROM dac_batches b JOIN dacs c ON c.batch=b.id WHERE b.order_id=1 AND b.written=0"
                " ORDER BY b.id", plan, sizeof(plan));
    CU_ASSERT_PTR_NOT_NULL(strstr(plan, "dac_batches_unwritten"));
    CU_ASSERT_PTR_NOT_NULL(strstr(plan, "dacs_batch"));
    CU_ASSERT_PTR_NULL(strstr(plan, "TEMP B-TREE")); /* recovery streams, it does not sort the DERs */
    plan_of(db, "SELECT udid FROM devices INDEXED BY devices_authorized WHERE state=0 AND key_origin=0 AND udid>'A'"
                " ORDER BY udid LIMIT 5", plan, sizeof(plan));
    CU_ASSERT_PTR_NOT_NULL(strstr(plan, "devices_authorized"));
    CU_ASSERT_PTR_NULL(strstr(plan, "TEMP B-TREE"));
    sqlite3_close(db);
    CU_ASSERT_EQUAL_FATAL(mp_ledger_open(path, &l), MP_OK); /* idempotent */
    n = 0;
    CU_ASSERT_EQUAL(mp_ledger_each_cert(l, count_cert, &n), MP_OK);
    CU_ASSERT_EQUAL(n, 10);
    done(l);
}

/* A v4 ledger whose serial repeats under two PAIs cannot take schema 5's
 * ledger-wide uniqueness: the upgrade is refused naming the serial, and the
 * ledger is left at schema 4. */
static void test_migrate_v4_serial_twice(void)
{
    char path[128], t[256];
    snprintf(dir, sizeof(dir), "/tmp/mp-ledger-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/l.sqlite", dir);
    sqlite3 *db = load_v4(path, 0);
    CU_ASSERT_EQUAL(sqlite3_exec(db, "UPDATE certificates SET serial='5EA2E711946D7B001D991484CD33485C', pai_skid='OTHER'"
                                     " WHERE serial='73EE7CF43AEF1F97AFA7BBBB248140A0'", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    mp_ledger *l = NULL;
    CU_ASSERT_EQUAL(mp_ledger_open(path, &l), MP_ERR_DB);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "serial 5EA2E711946D7B001D991484CD33485C is used by 2 certificates"));
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    CU_ASSERT_STRING_EQUAL(text_of(db, "SELECT value FROM meta WHERE key='schema_version'", t, sizeof(t)), "4");
    CU_ASSERT_STRING_EQUAL(text_of(db, "SELECT count(*) FROM certificates", t, sizeof(t)), "10");
    sqlite3_close(db);
    done(NULL);
}

/* A schema-8 ledger as the schema-8 code left it: the lifecycle tables
 * absent, or made on first use (with rows), and no rd_uid index. */
static sqlite3 *as_v8(const char *path, int life_tables)
{
    mp_ledger *l = NULL;
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(mp_ledger_open(path, &l), MP_OK);
    mp_ledger_close(l);
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(db, "DROP TABLE crl_published; DROP TABLE dcl_state; DROP INDEX factory_data_rd_uid;"
                                     "DROP TABLE leases; UPDATE meta SET value='8' WHERE key='schema_version';", NULL, NULL, NULL), SQLITE_OK);
    if (life_tables) {
        CU_ASSERT_EQUAL(sqlite3_exec(db, "CREATE TABLE crl_published(issuer_skid TEXT PRIMARY KEY, issuer_der BLOB NOT NULL,"
                                         " signer_der BLOB NOT NULL, number INTEGER NOT NULL, this_update INTEGER NOT NULL,"
                                         " next_update INTEGER NOT NULL);"
                                         "CREATE TABLE dcl_state(key TEXT PRIMARY KEY, json TEXT NOT NULL, exported_at INTEGER NOT NULL);"
                                         "INSERT INTO crl_published VALUES('AB', x'01', x'02', 7, 1, 2);"
                                         "INSERT INTO dcl_state VALUES('model/FFF2/8001', '{\"a\":1}', 3);",
                                     NULL, NULL, NULL), SQLITE_OK);
    }
    return db;
}

static int crl_seen(void *ctx, const mp_crl_rec *r)
{
    *(uint64_t *)ctx = r->number * 1000 + r->issuer_len * 10 + r->signer_len;
    return MP_OK;
}

/* Schema 8 -> 9: the tables made on first use become schema tables; a
 * schema-8 ledger upgrades in place, keeping the rows they already hold; a
 * ledger whose devices share an rd_uid is refused (it cannot take the unique
 * index) naming them, left at 8; a newer schema is refused naming both. */
static void test_migrate_v8_to_v9(void)
{
    char path[128], t[256];
    snprintf(dir, sizeof(dir), "/tmp/mp-ledger-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/l.sqlite", dir);
    for (int life = 0; life <= 1; life++) {
        unlink(path);
        sqlite3 *db = as_v8(path, life);
        sqlite3_close(db);
        mp_ledger *l = NULL;
        CU_ASSERT_EQUAL_FATAL(mp_ledger_open_flags(path, MP_LEDGER_F_RO, &l), MP_OK); /* a reader upgrades it too */
        uint64_t seen = 0;
        CU_ASSERT_EQUAL(mp_ledger_each_crl(l, crl_seen, &seen), MP_OK);
        CU_ASSERT_EQUAL(seen, life ? 7011u : 0u);
        char *json = NULL;
        int found = 0;
        CU_ASSERT_EQUAL(mp_ledger_dcl_get(l, "model/FFF2/8001", &json, &found), MP_OK);
        CU_ASSERT_EQUAL(found, life);
        free(json);
        mp_ledger_close(l);
        CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
        CU_ASSERT_STRING_EQUAL(text_of(db, "SELECT value FROM meta WHERE key='schema_version'", t, sizeof(t)), "10");
        CU_ASSERT_STRING_EQUAL(text_of(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('crl_published','dcl_state',"
                                           "'fd_images','serial_counters','factory_data_rd_uid')", t, sizeof(t)), "5");
        sqlite3_close(db);
    }
    /* two devices sharing an rd_uid: refused, named, left at 8 */
    unlink(path);
    sqlite3 *db = as_v8(path, 0);
    CU_ASSERT_EQUAL(sqlite3_exec(db, "INSERT INTO factory_data VALUES('UA', 1, 'S1', 1, 1000, x'00', x'00', x'0102', NULL, '', 0, '');"
                                     "INSERT INTO factory_data VALUES('UB', 1, 'S2', 1, 1000, x'00', x'00', x'0102', NULL, '', 0, '');",
                                 NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    mp_ledger *l = NULL;
    CU_ASSERT_EQUAL(mp_ledger_open(path, &l), MP_ERR_DUPLICATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "devices UA UB share the rd_uid 0102"));
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    CU_ASSERT_STRING_EQUAL(text_of(db, "SELECT value FROM meta WHERE key='schema_version'", t, sizeof(t)), "8");
    CU_ASSERT_EQUAL(sqlite3_exec(db, "DELETE FROM factory_data WHERE udid='UB'; UPDATE meta SET value='11' WHERE key='schema_version'",
                                 NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    CU_ASSERT_EQUAL(mp_ledger_open(path, &l), MP_ERR_DB);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "schema version 11 is newer than this matter-pki's (10)"));
    done(NULL);
}

static void test_migrate_v4_to_v5(void) { migrate_fixture(0); }
static void test_migrate_v2_to_v5(void) { migrate_fixture(1); }

/* v6: orders found by label, a device's DAC read back (EST retries), station
 * certificates revoked by name. */
static int count_station(void *ctx, const mp_station_cert *c)
{
    (void)c;
    (*(int *)ctx)++;
    return MP_OK;
}

/* station.cert.issue counts 1, station.cert.revoke 10, other events nothing */
static int audit_events(void *ctx, const mp_audit_row *r)
{
    int64_t *n = ctx;
    if (strcmp(r->event, "station.cert.issue") == 0 && strcmp(r->station, "st1") == 0) *n += 1;
    if (strcmp(r->event, "station.cert.revoke") == 0 && strcmp(r->objects, "station=st1") == 0) *n += 10;
    return MP_OK;
}

static void test_labels_dacs_stations(void)
{
    mp_ledger *l = fresh();
    mp_order o = {.vid = 0xFFF2, .pid = 0x8001, .quota = 2}, o2 = o, back;
    snprintf(o.pai_skid, sizeof(o.pai_skid), "SKID");
    snprintf(o.label, sizeof(o.label), "line-7");
    o2 = o;
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_add_order(l, &o), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_add_order(l, &o2), MP_ERR_DUPLICATE); /* label unique */
    o2.label[0] = 0;
    CU_ASSERT_EQUAL(mp_ledger_add_order(l, &o2), MP_OK);
    int64_t a = add_list(l, "aa");
    mp_device d = dev("A", 1, a);
    CU_ASSERT_EQUAL(mp_ledger_add_device(l, &d), MP_OK);
    mp_cert_rec c = rec("01", "A", o.id);
    CU_ASSERT_EQUAL(mp_ledger_add_cert(l, &c), MP_OK);
    mp_station_cert sc = {.serial = "0A", .name = "st1", .not_after = 100};
    CU_ASSERT_EQUAL(mp_ledger_add_station_cert(l, &sc), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_commit(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_find_order(l, "line-7", &back), MP_OK);
    CU_ASSERT(back.id == o.id && strcmp(back.label, "line-7") == 0);
    CU_ASSERT_EQUAL(mp_ledger_find_order(l, "2", &back), MP_OK);
    CU_ASSERT(back.id == o2.id && back.label[0] == 0);
    CU_ASSERT_EQUAL(mp_ledger_find_order(l, "line-8", &back), MP_ERR_INVALID);
    mp_dac_row r;
    int found = 0;
    CU_ASSERT_EQUAL(mp_ledger_get_dac(l, "A", &r, &found), MP_OK);
    CU_ASSERT(found && r.order_id == o.id && r.der_len == 3 && r.der[2] == 3 && strcmp(r.station, "s") == 0);
    CU_ASSERT_EQUAL(mp_ledger_get_dac(l, "B", &r, &found), MP_OK);
    CU_ASSERT(!found);
    CU_ASSERT_EQUAL(mp_ledger_get_station_cert(l, "0A", &sc, &found), MP_OK);
    CU_ASSERT(found && !sc.revoked && strcmp(sc.name, "st1") == 0);
    uint64_t n = 0;
    int revoked = 0;
    CU_ASSERT_EQUAL(mp_ledger_revoke_station(l, "st1", &n), MP_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(mp_ledger_revoke_station(l, "st1", &n), MP_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(mp_ledger_get_station_cert(l, "0A", &sc, &found), MP_OK);
    CU_ASSERT(found && sc.revoked);
    CU_ASSERT_EQUAL(mp_ledger_each_station_revoked(l, count_station, &revoked), MP_OK);
    CU_ASSERT_EQUAL(revoked, 1);
    /* each change of a station certificate is an audit row (the second revoke changed nothing) */
    int64_t ev = 0;
    CU_ASSERT_EQUAL(mp_ledger_each_audit(l, audit_events, &ev), MP_OK);
    CU_ASSERT_EQUAL(ev, 11); /* station.cert.issue = 1, station.cert.revoke = 10 */
    done(l);
}

void register_ledger(void)
{
    CU_pSuite s = CU_add_suite("ledger", NULL, NULL);
    TU_ADD(s, test_duplicates);
    TU_ADD(s, test_quota_and_once);
    TU_ADD(s, test_revoke_and_crl_numbers);
    TU_ADD(s, test_not_a_database);
    TU_ADD(s, test_migrate_v4_to_v5);
    TU_ADD(s, test_migrate_v2_to_v5);
    TU_ADD(s, test_migrate_v4_serial_twice);
    TU_ADD(s, test_migrate_v8_to_v9);
    TU_ADD(s, test_labels_dacs_stations);
}
