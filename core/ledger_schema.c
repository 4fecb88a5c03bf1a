/* ledger_schema.c - the SQLite ledger's schema: each version's SQL and the
 * migrations between them, run by mp_ledger_open under the write lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "ledger_int.h"
#include "util.h"

static const char schema_v1[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE chip_lists(id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, format TEXT NOT NULL,"
    " source TEXT NOT NULL, signed INTEGER NOT NULL, signer TEXT NOT NULL, count INTEGER NOT NULL,"
    " imported_at TEXT NOT NULL);"
    "CREATE TABLE devices(udid TEXT PRIMARY KEY, pubkey BLOB NOT NULL UNIQUE,"
    " list_id INTEGER REFERENCES chip_lists(id), state INTEGER NOT NULL, key_origin INTEGER NOT NULL,"
    " created_at TEXT NOT NULL);"
    "CREATE INDEX devices_state ON devices(state, key_origin, udid);"
    "CREATE TABLE orders(id INTEGER PRIMARY KEY, vid INTEGER NOT NULL, pid INTEGER NOT NULL,"
    " pai_cert TEXT NOT NULL, pai_key TEXT NOT NULL, pai_skid TEXT NOT NULL, quota INTEGER NOT NULL,"
    " issued INTEGER NOT NULL, cn_template TEXT NOT NULL, valid_from INTEGER NOT NULL,"
    " days INTEGER NOT NULL, closed INTEGER NOT NULL, created_at TEXT NOT NULL,"
    " CHECK(issued <= quota));"
    "CREATE TABLE certificates(serial TEXT NOT NULL, pai_skid TEXT NOT NULL,"
    " udid TEXT NOT NULL UNIQUE REFERENCES devices(udid), order_id INTEGER NOT NULL REFERENCES orders(id),"
    " not_before INTEGER NOT NULL, not_after INTEGER NOT NULL, sha256 TEXT NOT NULL, der BLOB NOT NULL,"
    " path TEXT NOT NULL, station TEXT NOT NULL, issued_at TEXT NOT NULL, written INTEGER NOT NULL,"
    " PRIMARY KEY(pai_skid, serial));"
    "CREATE INDEX certificates_written ON certificates(order_id, written);"
    "CREATE TABLE revocations(serial TEXT NOT NULL, pai_skid TEXT NOT NULL, reason TEXT NOT NULL,"
    " revoked_at INTEGER NOT NULL, PRIMARY KEY(pai_skid, serial));"
    "CREATE TABLE crl_numbers(pai_skid TEXT PRIMARY KEY, next INTEGER NOT NULL);"
    "INSERT INTO meta VALUES('schema_version','1');";

static const char schema_v2[] =
    "CREATE TABLE factory_data(udid TEXT PRIMARY KEY REFERENCES devices(udid),"
    " order_id INTEGER NOT NULL REFERENCES orders(id), serial TEXT NOT NULL UNIQUE,"
    " discriminator INTEGER NOT NULL, iterations INTEGER NOT NULL, salt BLOB NOT NULL,"
    " verifier BLOB NOT NULL, rd_uid BLOB NOT NULL, passcode INTEGER, mfg_date TEXT NOT NULL,"
    " written INTEGER NOT NULL, built_at TEXT NOT NULL);"
    "CREATE INDEX factory_data_order ON factory_data(order_id, udid);"
    "UPDATE meta SET value='2' WHERE key='schema_version';";

/* v3: factory-data builds walk an order's certificates in UDID order through
 * an index (v2 sorted the whole order again for every chunk: quadratic), and
 * the unwritten-file index holds only the rows still waiting for their file. */
static const char schema_v3[] =
    "DROP INDEX IF EXISTS certificates_written;"
    "CREATE INDEX IF NOT EXISTS certificates_order ON certificates(order_id, udid);"
    "CREATE INDEX IF NOT EXISTS certificates_unwritten ON certificates(order_id) WHERE written=0;"
    "UPDATE meta SET value='3' WHERE key='schema_version';";

/* v4: devices clustered by UDID (WITHOUT ROWID). Issuance walks devices in
 * UDID order, but a chip list arrives in any order, so with rowids every
 * "issued" update hit a random page of the table: at a million devices a
 * chunk dirtied a page per device. Runs with foreign keys off (mp_ledger_open). */
static const char schema_v4[] =
    "CREATE TABLE devices_v4(udid TEXT PRIMARY KEY, pubkey BLOB NOT NULL UNIQUE,"
    " list_id INTEGER REFERENCES chip_lists(id), state INTEGER NOT NULL, key_origin INTEGER NOT NULL,"
    " created_at TEXT NOT NULL) WITHOUT ROWID;"
    "INSERT INTO devices_v4 SELECT udid, pubkey, list_id, state, key_origin, created_at FROM devices;"
    "DROP TABLE devices;"
    "ALTER TABLE devices_v4 RENAME TO devices;"
    "CREATE INDEX devices_state ON devices(state, key_origin, udid);"
    "UPDATE meta SET value='4' WHERE key='schema_version';";

/* v5: a chunk of DACs is one row of dac_batches (order, PAI, validity, folder,
 * station, time, written) and each certificate one compact row of dacs (serial
 * and hash as bytes, the file's path only when it is not UDID.der in the
 * batch's folder). In v4 every certificate row repeated the batch's fields
 * and was rewritten a second time when its file was marked written; now the
 * mark is one batch row. Serials are unique across the ledger (random 128-bit
 * serials; v4 enforced per PAI). The view `certificates` keeps v4's shape for
 * reports and auditors' queries. Authorized devices are found through a
 * partial index that issuing a device only deletes from. Runs with foreign
 * keys off; mp_unhex is registered by mp_ledger_open (SQLite 3.40 has no unhex). */
static const char schema_v5[] =
    "CREATE TABLE dac_batches(id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id),"
    " pai_skid TEXT NOT NULL, not_before INTEGER NOT NULL, not_after INTEGER NOT NULL, dir TEXT NOT NULL,"
    " station TEXT NOT NULL, issued_at TEXT NOT NULL, written INTEGER NOT NULL);"
    "CREATE INDEX dac_batches_unwritten ON dac_batches(order_id) WHERE written=0;"
    "CREATE TABLE dacs(id INTEGER PRIMARY KEY, udid TEXT NOT NULL UNIQUE REFERENCES devices(udid),"
    " order_id INTEGER NOT NULL REFERENCES orders(id), batch INTEGER NOT NULL REFERENCES dac_batches(id),"
    " serial BLOB NOT NULL UNIQUE, sha256 BLOB NOT NULL, der BLOB NOT NULL, path TEXT);"
    "CREATE INDEX dacs_order ON dacs(order_id, udid);"
    "CREATE INDEX dacs_batch ON dacs(batch);"
    "CREATE TEMP VIEW v4 AS SELECT rowid AS rid, *, CASE WHEN length(path) > length(udid) + 5 AND"
    " substr(path, length(path) - length(udid) - 4) = '/' || udid || '.der'"
    " THEN substr(path, 1, length(path) - length(udid) - 5) END AS dir FROM main.certificates;"
    "INSERT INTO dac_batches(order_id, pai_skid, not_before, not_after, dir, station, issued_at, written)"
    " SELECT order_id, pai_skid, not_before, not_after, coalesce(dir, ''), station, issued_at, written"
    " FROM v4 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY min(rid);"
    "INSERT INTO dacs(udid, order_id, batch, serial, sha256, der, path)"
    " SELECT v.udid, v.order_id, b.id, mp_unhex(v.serial), mp_unhex(v.sha256), v.der,"
    " CASE WHEN v.dir IS NULL THEN v.path END FROM v4 v JOIN dac_batches b ON b.order_id = v.order_id"
    " AND b.pai_skid = v.pai_skid AND b.not_before = v.not_before AND b.not_after = v.not_after"
    " AND b.dir = coalesce(v.dir, '') AND b.station = v.station AND b.issued_at = v.issued_at"
    " AND b.written = v.written ORDER BY v.rid;"
    "DROP VIEW v4;"
    "DROP TABLE certificates;"
    "CREATE VIEW certificates AS SELECT hex(c.serial) AS serial, b.pai_skid AS pai_skid, c.udid AS udid,"
    " c.order_id AS order_id, b.not_before AS not_before, b.not_after AS not_after,"
    " lower(hex(c.sha256)) AS sha256, c.der AS der, " CERT_PATH " AS path, b.station AS station,"
    " b.issued_at AS issued_at, b.written AS written, c.batch AS batch FROM dacs c JOIN dac_batches b ON b.id = c.batch;"
    "DROP INDEX devices_state;"
    "CREATE INDEX devices_authorized ON devices(udid) WHERE state=0 AND key_origin=0;"
    "UPDATE meta SET value='5' WHERE key='schema_version';";

/* v6: UDIDs that differ only in case name one file on a case-insensitive file
 * system: a trigger refuses a new device whose UDID equals another's ignoring
 * case (a trigger, not a UNIQUE index, so a ledger that already holds such a
 * pair still opens; core/udid.h). And dac_runs: the target of a `dac issue
 * --count N` (or --generate-keys) run, per order and output folder, counted in
 * each chunk's transaction, so the same command re-run after an interruption
 * finishes the remainder and never issues more than the run asked. */
static const char schema_v6[] =
    "CREATE INDEX devices_udid_nocase ON devices(udid COLLATE NOCASE);"
    "CREATE TRIGGER devices_udid_case BEFORE INSERT ON devices"
    " WHEN EXISTS(SELECT 1 FROM devices WHERE udid = NEW.udid COLLATE NOCASE AND udid <> NEW.udid)"
    " BEGIN SELECT RAISE(ABORT, 'UDID differs only in case from another device'); END;"
    "CREATE TABLE dac_runs(id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id),"
    " dir TEXT NOT NULL, generate INTEGER NOT NULL, target INTEGER NOT NULL, issued INTEGER NOT NULL,"
    " station TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, CHECK(issued <= target));"
    "CREATE UNIQUE INDEX dac_runs_open ON dac_runs(order_id, dir) WHERE finished_at IS NULL;"
    "UPDATE meta SET value='6' WHERE key='schema_version';";


/* v7: many stations, one ledger. A chain profile on each certificate row,
 * unique per device and profile (Matter 1.7 stores several chains sharing the
 * P-256 DAC key); device reservations (state 3 under a run's lease, which
 * expires); stations with their enabled flag and per-order sub-quotas; the
 * append-only, hash-chained audit trail. Runs with foreign keys off (dacs is
 * rebuilt for its new unique constraint). The same tables as the PostgreSQL
 * schema (pg_schema below). */
#define V7_COMMON \
    "CREATE INDEX devices_reserved ON devices(lease_until) WHERE state=3;" \
    "CREATE TABLE stations(name TEXT PRIMARY KEY, enabled INTEGER NOT NULL, issued INTEGER NOT NULL," \
    " created_at TEXT NOT NULL);" \
    "CREATE TABLE order_stations(order_id INTEGER NOT NULL REFERENCES orders(id)," \
    " station TEXT NOT NULL REFERENCES stations(name), quota INTEGER NOT NULL, issued INTEGER NOT NULL," \
    " PRIMARY KEY(order_id, station), CHECK(issued <= quota));" \
    "CREATE TABLE audit(seq INTEGER PRIMARY KEY, at TEXT NOT NULL, station TEXT NOT NULL, operator TEXT NOT NULL," \
    " event TEXT NOT NULL, objects TEXT NOT NULL, detail TEXT NOT NULL, prev BLOB NOT NULL, hash BLOB NOT NULL);" \
    "CREATE TABLE audit_head(id INTEGER PRIMARY KEY CHECK(id = 1), seq INTEGER NOT NULL, hash BLOB NOT NULL);" \
    "CREATE TABLE fd_claims(udid TEXT PRIMARY KEY, lease TEXT NOT NULL, until INTEGER NOT NULL, dir TEXT NOT NULL);" \
    "CREATE TABLE audit_keys(id INTEGER PRIMARY KEY, label TEXT NOT NULL, skid TEXT NOT NULL, pubkey BLOB NOT NULL," \
    " created_at TEXT NOT NULL);" \
    "CREATE TABLE audit_checkpoints(seq INTEGER PRIMARY KEY, hash BLOB NOT NULL, at TEXT NOT NULL," \
    " key_id INTEGER NOT NULL REFERENCES audit_keys(id), sig BLOB NOT NULL);"

static const char schema_v7[] =
    "DROP VIEW certificates;"
    "CREATE TABLE dacs_v6(id INTEGER PRIMARY KEY, udid TEXT NOT NULL REFERENCES devices(udid),"
    " profile TEXT NOT NULL DEFAULT '" MP_PROFILE_DEFAULT "', order_id INTEGER NOT NULL REFERENCES orders(id),"
    " batch INTEGER NOT NULL REFERENCES dac_batches(id), serial BLOB NOT NULL UNIQUE, sha256 BLOB NOT NULL,"
    " der BLOB NOT NULL, path TEXT, UNIQUE(udid, profile));"
    "INSERT INTO dacs_v6(id, udid, profile, order_id, batch, serial, sha256, der, path)"
    " SELECT id, udid, '" MP_PROFILE_DEFAULT "', order_id, batch, serial, sha256, der, path FROM dacs ORDER BY id;"
    "DROP TABLE dacs;"
    "ALTER TABLE dacs_v6 RENAME TO dacs;"
    "CREATE INDEX dacs_order ON dacs(order_id, udid);"
    "CREATE INDEX dacs_batch ON dacs(batch);"
    "CREATE VIEW certificates AS SELECT hex(c.serial) AS serial, b.pai_skid AS pai_skid, c.udid AS udid,"
    " c.order_id AS order_id, b.not_before AS not_before, b.not_after AS not_after,"
    " lower(hex(c.sha256)) AS sha256, c.der AS der, " CERT_PATH " AS path, b.station AS station,"
    " b.issued_at AS issued_at, b.written AS written, c.batch AS batch, c.profile AS profile"
    " FROM dacs c JOIN dac_batches b ON b.id = c.batch;"
    "ALTER TABLE devices ADD COLUMN lease TEXT;"
    "ALTER TABLE devices ADD COLUMN lease_until INTEGER;"
    "ALTER TABLE devices ADD COLUMN lease_order INTEGER;"
    V7_COMMON
    "INSERT INTO stations(name, enabled, issued, created_at) SELECT b.station, 1, count(c.id), min(b.issued_at)"
    " FROM dac_batches b LEFT JOIN dacs c ON c.batch = b.id GROUP BY b.station;"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;"
    "INSERT INTO audit_head(id, seq, hash) VALUES(1, 0, zeroblob(32));"
    "CREATE TABLE IF NOT EXISTS fd_images(udid TEXT NOT NULL REFERENCES devices(udid), format TEXT NOT NULL,"
    " sha256 TEXT NOT NULL, PRIMARY KEY(udid, format)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS serial_counters(template TEXT PRIMARY KEY, next INTEGER NOT NULL);"
    "UPDATE meta SET value='7' WHERE key='schema_version';";

/* PostgreSQL: the whole current schema at once (an empty database), the same
 * tables and constraints as SQLite's v6 (constraints named table_column_...
 * so messages can say which field clashed). hex() and datetime('now') as
 * SQLite has them, so the ledger's SQL runs unchanged. */
static const char pg_schema[] =
    "CREATE FUNCTION hex(bytea) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$SELECT upper(encode($1, 'hex'))$$;"
    "CREATE FUNCTION datetime(text) RETURNS text LANGUAGE sql STABLE AS"
    " $$SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')$$;"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE chip_lists(id BIGSERIAL PRIMARY KEY, sha256 TEXT NOT NULL CONSTRAINT chip_lists_sha256_key UNIQUE,"
    " format TEXT NOT NULL, source TEXT NOT NULL, signed BIGINT NOT NULL, signer TEXT NOT NULL, count BIGINT NOT NULL,"
    " imported_at TEXT NOT NULL);"
    "CREATE TABLE devices(udid TEXT CONSTRAINT devices_udid_key PRIMARY KEY,"
    " pubkey BYTEA NOT NULL CONSTRAINT devices_pubkey_key UNIQUE, list_id BIGINT REFERENCES chip_lists(id),"
    " state BIGINT NOT NULL, key_origin BIGINT NOT NULL, created_at TEXT NOT NULL, lease TEXT, lease_until BIGINT,"
    " lease_order BIGINT);"
    "CREATE INDEX devices_authorized ON devices(udid) WHERE state=0 AND key_origin=0;"
    "CREATE UNIQUE INDEX devices_udid_nocase ON devices(lower(udid));"
    "CREATE TABLE orders(id BIGSERIAL PRIMARY KEY, vid BIGINT NOT NULL, pid BIGINT NOT NULL, pai_cert TEXT NOT NULL,"
    " pai_key TEXT NOT NULL, pai_skid TEXT NOT NULL, quota BIGINT NOT NULL, issued BIGINT NOT NULL,"
    " cn_template TEXT NOT NULL, valid_from BIGINT NOT NULL, days BIGINT NOT NULL, closed BIGINT NOT NULL,"
    " created_at TEXT NOT NULL, CHECK(issued <= quota));"
    "CREATE TABLE dac_batches(id BIGSERIAL PRIMARY KEY, order_id BIGINT NOT NULL REFERENCES orders(id),"
    " pai_skid TEXT NOT NULL, not_before BIGINT NOT NULL, not_after BIGINT NOT NULL, dir TEXT NOT NULL,"
    " station TEXT NOT NULL, issued_at TEXT NOT NULL, written BIGINT NOT NULL);"
    "CREATE INDEX dac_batches_unwritten ON dac_batches(order_id) WHERE written=0;"
    "CREATE TABLE dacs(id BIGSERIAL PRIMARY KEY, udid TEXT NOT NULL REFERENCES devices(udid),"
    " profile TEXT NOT NULL DEFAULT '" MP_PROFILE_DEFAULT "', order_id BIGINT NOT NULL REFERENCES orders(id),"
    " batch BIGINT NOT NULL REFERENCES dac_batches(id), serial BYTEA NOT NULL CONSTRAINT dacs_serial_key UNIQUE,"
    " sha256 BYTEA NOT NULL, der BYTEA NOT NULL, path TEXT, CONSTRAINT dacs_udid_profile_key UNIQUE(udid, profile));"
    "CREATE INDEX dacs_order ON dacs(order_id, udid);"
    "CREATE INDEX dacs_batch ON dacs(batch);"
    "CREATE VIEW certificates AS SELECT hex(c.serial) AS serial, b.pai_skid AS pai_skid, c.udid AS udid,"
    " c.order_id AS order_id, b.not_before AS not_before, b.not_after AS not_after,"
    " lower(hex(c.sha256)) AS sha256, c.der AS der, " CERT_PATH " AS path, b.station AS station,"
    " b.issued_at AS issued_at, b.written AS written, c.batch AS batch, c.profile AS profile"
    " FROM dacs c JOIN dac_batches b ON b.id = c.batch;"
    "CREATE TABLE revocations(serial TEXT NOT NULL, pai_skid TEXT NOT NULL, reason TEXT NOT NULL,"
    " revoked_at BIGINT NOT NULL, CONSTRAINT revocations_serial_key PRIMARY KEY(pai_skid, serial));"
    "CREATE TABLE crl_numbers(pai_skid TEXT PRIMARY KEY, next BIGINT NOT NULL);"
    "CREATE TABLE factory_data(udid TEXT CONSTRAINT factory_data_udid_key PRIMARY KEY REFERENCES devices(udid),"
    " order_id BIGINT NOT NULL REFERENCES orders(id), serial TEXT NOT NULL CONSTRAINT factory_data_serial_key UNIQUE,"
    " discriminator BIGINT NOT NULL, iterations BIGINT NOT NULL, salt BYTEA NOT NULL,"
    " verifier BYTEA NOT NULL, rd_uid BYTEA NOT NULL, passcode BIGINT, mfg_date TEXT NOT NULL,"
    " written BIGINT NOT NULL, built_at TEXT NOT NULL);"
    "CREATE INDEX factory_data_order ON factory_data(order_id, udid);"
    "CREATE INDEX devices_reserved ON devices(lease_until) WHERE state=3;"
    "CREATE TABLE stations(name TEXT CONSTRAINT stations_name_key PRIMARY KEY, enabled BIGINT NOT NULL,"
    " issued BIGINT NOT NULL, created_at TEXT NOT NULL);"
    "CREATE TABLE order_stations(order_id BIGINT NOT NULL REFERENCES orders(id),"
    " station TEXT NOT NULL REFERENCES stations(name), quota BIGINT NOT NULL, issued BIGINT NOT NULL,"
    " PRIMARY KEY(order_id, station), CHECK(issued <= quota));"
    "CREATE TABLE audit(seq BIGINT PRIMARY KEY, at TEXT NOT NULL, station TEXT NOT NULL, operator TEXT NOT NULL,"
    " event TEXT NOT NULL, objects TEXT NOT NULL, detail TEXT NOT NULL, prev BYTEA NOT NULL, hash BYTEA NOT NULL);"
    "CREATE TABLE audit_head(id BIGINT PRIMARY KEY CHECK(id = 1), seq BIGINT NOT NULL, hash BYTEA NOT NULL);"
    "CREATE TABLE fd_claims(udid TEXT PRIMARY KEY, lease TEXT NOT NULL, until BIGINT NOT NULL, dir TEXT NOT NULL);"
    "CREATE TABLE fd_images(udid TEXT NOT NULL REFERENCES devices(udid), format TEXT NOT NULL,"
    " sha256 TEXT NOT NULL, PRIMARY KEY(udid, format));"
    "CREATE TABLE serial_counters(template TEXT PRIMARY KEY, next BIGINT NOT NULL);"
    "CREATE UNIQUE INDEX factory_data_rd_uid ON factory_data(rd_uid);"
    "CREATE TABLE audit_keys(id BIGSERIAL PRIMARY KEY, label TEXT NOT NULL, skid TEXT NOT NULL, pubkey BYTEA NOT NULL,"
    " created_at TEXT NOT NULL);"
    "CREATE TABLE audit_checkpoints(seq BIGINT PRIMARY KEY, hash BYTEA NOT NULL, at TEXT NOT NULL,"
    " key_id BIGINT NOT NULL REFERENCES audit_keys(id), sig BYTEA NOT NULL);"
    "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END$$;"
    "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();"
    "INSERT INTO audit_head(id, seq, hash) VALUES(1, 0, '\\x0000000000000000000000000000000000000000000000000000000000000000');"
    "CREATE TABLE dac_runs(id BIGSERIAL PRIMARY KEY, order_id BIGINT NOT NULL REFERENCES orders(id),"
    " dir TEXT NOT NULL, generate BIGINT NOT NULL, target BIGINT NOT NULL, issued BIGINT NOT NULL,"
    " station TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, CHECK(issued <= target));"
    "CREATE UNIQUE INDEX dac_runs_open ON dac_runs(order_id, dir) WHERE finished_at IS NULL;"
    "INSERT INTO meta VALUES('schema_version', '7');";


/* v8: orders may carry a unique label (EST paths name an order by it), and
 * the station CA's certificates are recorded for the station CRL and the
 * EST server's revocation check. The same SQL on SQLite and PostgreSQL
 * (INTEGER is 64-bit on both for these columns' values). */
static const char schema_v8[] =
    "ALTER TABLE orders ADD COLUMN label TEXT;"
    "CREATE UNIQUE INDEX orders_label ON orders(label) WHERE label IS NOT NULL;"
    "CREATE TABLE station_certs(serial TEXT PRIMARY KEY, name TEXT NOT NULL, not_after BIGINT NOT NULL,"
    " issued_at TEXT NOT NULL, revoked_at BIGINT);"
    "CREATE INDEX station_certs_name ON station_certs(name);"
    "UPDATE meta SET value='8' WHERE key='schema_version';";

/* v9: the tables earlier code created on first use, outside the schema
 * versions, are part of the schema: the CRLs last published per issuer
 * (`pai crl`, `paa crl`), the DCL records last exported (`dcl export
 * changes`), the factory-data image hashes and serial counters, and the
 * unique rd_uid index. Nothing creates a table at run time any more (a
 * station role on PostgreSQL may not CREATE). IF NOT EXISTS: an SQLite
 * ledger at schema 8 may hold them already, made on first use with these
 * same definitions; a PostgreSQL ledger at schema 8 already has the
 * factory-data ones (pg_schema). BLOB is the type's name on SQLite, BYTEA on
 * PostgreSQL; the rest of the SQL is the same. */
#define SCHEMA_V9(BLOB, FD_IMAGES_ROWID)                                                                       \
    "CREATE TABLE IF NOT EXISTS crl_published(issuer_skid TEXT PRIMARY KEY, issuer_der " BLOB " NOT NULL,"      \
    " signer_der " BLOB " NOT NULL, number BIGINT NOT NULL, this_update BIGINT NOT NULL,"                     \
    " next_update BIGINT NOT NULL);"                                                                          \
    "CREATE TABLE IF NOT EXISTS dcl_state(key TEXT PRIMARY KEY, json TEXT NOT NULL, exported_at BIGINT NOT NULL);" \
    "CREATE TABLE IF NOT EXISTS fd_images(udid TEXT NOT NULL REFERENCES devices(udid), format TEXT NOT NULL,"  \
    " sha256 TEXT NOT NULL, PRIMARY KEY(udid, format))" FD_IMAGES_ROWID ";"                                  \
    "CREATE TABLE IF NOT EXISTS serial_counters(template TEXT PRIMARY KEY, next BIGINT NOT NULL);"             \
    "CREATE UNIQUE INDEX IF NOT EXISTS factory_data_rd_uid ON factory_data(rd_uid);"                           \
    "UPDATE meta SET value='9' WHERE key='schema_version';"
static const char schema_v9[] = SCHEMA_V9("BLOB", " WITHOUT ROWID");
static const char schema_v9_pg[] = SCHEMA_V9("BYTEA", "");

/* v10: SQLite reserves ranges of devices instead of rows. A run's
 * reservation is a row of `leases` naming the span of UDIDs it took [lo, hi]
 * (the authorized devices without a DAC in that span are its own while
 * `until` holds); rewriting every reserved device twice (reserved, then
 * issued) was a third of the ledger's work per DAC (BENCHMARKS.md, "Range
 * reservations"). Reservations held when the ledger is upgraded become
 * one-device ranges. PostgreSQL keeps reserving rows (FOR UPDATE SKIP LOCKED,
 * devices.state 3: many writers at once): its `leases` table stays empty, and
 * the statements that consult it run unchanged on both. */
#define SCHEMA_V10(ID)                                                                                      \
    "CREATE TABLE leases(id " ID " PRIMARY KEY, lease TEXT NOT NULL, order_id BIGINT NOT NULL REFERENCES orders(id)," \
    " until BIGINT NOT NULL, lo TEXT NOT NULL, hi TEXT NOT NULL, CHECK(lo <= hi));"                        \
    "CREATE INDEX leases_lease ON leases(lease, lo);"                                                     \
    "CREATE INDEX leases_lo ON leases(lo);"
static const char schema_v10[] =
    SCHEMA_V10("INTEGER")
    "INSERT INTO leases(lease, order_id, until, lo, hi) SELECT lease, lease_order, lease_until, udid, udid"
    " FROM devices WHERE state=3 AND lease IS NOT NULL AND lease_order IS NOT NULL AND lease_until IS NOT NULL;"
    "UPDATE devices SET state=0, lease=NULL, lease_until=NULL, lease_order=NULL WHERE state=3;"
    "UPDATE meta SET value='10' WHERE key='schema_version';";
static const char schema_v10_pg[] = SCHEMA_V10("BIGSERIAL") "UPDATE meta SET value='10' WHERE key='schema_version';";

long mp_ledger_unhex(const char *h, uint8_t *out, size_t cap)
{
    char even[2 * 256 + 2];
    size_t n = strlen(h);
    if (n + 1 >= sizeof(even)) return -1;
    snprintf(even, sizeof(even), "%s%s", n % 2 ? "0" : "", h);
    return mp_unhex(even, out, cap);
}

/* mp_unhex(TEXT) as an SQL function, for the v5 migration (SQLite 3.40 has no unhex). */
static void sql_unhex(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    uint8_t b[256];
    const char *h = (const char *)sqlite3_value_text(argv[0]);
    long n = argc == 1 && h != NULL ? mp_ledger_unhex(h, b, sizeof(b)) : -1;
    if (n < 0) {
        sqlite3_result_error(ctx, "mp_unhex: not a hex string of at most 256 bytes", -1);
        return;
    }
    sqlite3_result_blob(ctx, b, (int)n, SQLITE_TRANSIENT);
}

void mp_ledger_sql_functions(sqlite3 *db)
{
    sqlite3_create_function(db, "mp_unhex", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_unhex, NULL, NULL);
}

static int db_err(sqlite3 *db, const char *path, const char *what)
{
    return mp_err(MP_ERR_DB, "ledger %s: %s: %s", path, what, sqlite3_errmsg(db));
}

static int schema_version(sqlite3 *db)
{
    sqlite3_stmt *s = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
        version = atoi((const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    return version;
}

/* Before v5: serials become unique across the ledger (v4: per PAI). A ledger
 * whose serial repeats under two PAIs cannot take that constraint: say which. */
static int check_before_v5(sqlite3 *db, const char *path)
{
    sqlite3_stmt *s = NULL;
    int rc = MP_OK;
    if (sqlite3_prepare_v2(db, "SELECT serial, count(*) FROM certificates GROUP BY upper(serial) HAVING count(*) > 1 LIMIT 1",
                           -1, &s, NULL) != SQLITE_OK) {
        return db_err(db, path, "check serials before the schema 5 migration");
    }
    if (sqlite3_step(s) == SQLITE_ROW) {
        rc = mp_err(MP_ERR_DB, "ledger %s: serial %s is used by %d certificates (under different PAIs); schema 5 needs"
                    " serials unique across the ledger: this ledger cannot be upgraded by this version",
                    path, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1));
    }
    sqlite3_finalize(s);
    return rc;
}

/* Before v9: factory_data.rd_uid becomes unique (an index earlier code made
 * on first use). A ledger where two devices share one cannot take it: say
 * which, and how to find them. */
static int check_before_v9(sqlite3 *db, const char *path)
{
    sqlite3_stmt *s = NULL;
    int rc = MP_OK;
    if (sqlite3_prepare_v2(db, "SELECT hex(rd_uid), group_concat(udid, ' ') FROM factory_data GROUP BY rd_uid"
                           " HAVING count(*) > 1 LIMIT 1", -1, &s, NULL) != SQLITE_OK) {
        return db_err(db, path, "check rd_uid values before the schema 9 migration");
    }
    if (sqlite3_step(s) == SQLITE_ROW) {
        rc = mp_err(MP_ERR_DUPLICATE, "ledger %s: devices %s share the rd_uid %s in factory_data; schema 9 needs rd_uid"
                    " unique: this ledger cannot be upgraded until one of them is rebuilt (find all with: SELECT"
                    " hex(rd_uid), group_concat(udid) FROM factory_data GROUP BY rd_uid HAVING count(*) > 1)",
                    path, (const char *)sqlite3_column_text(s, 1), (const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    return rc;
}

int mp_ledger_migrate(sqlite3 *db, const char *path)
{
    int version = schema_version(db);
    if (version < MP_LEDGER_SCHEMA) {
        /* another program may be migrating a large ledger (a minute at a million
         * certificates): wait for it rather than give up after 10 s */
        sqlite3_busy_timeout(db, 15 * 60 * 1000);
        if (version > 0) {
            fprintf(stderr, "matter-pki: upgrading the ledger %s from schema %d to %d (a large ledger takes a while)\n",
                    path, version, MP_LEDGER_SCHEMA);
        }
    }
    /* Each step runs in its own transaction: v0 -> v1 -> v2 -> ...; the
     * version is read again under the write lock, so two programs opening
     * an old ledger at once do each step once. */
    static const char *const steps[] = {schema_v1, schema_v2, schema_v3, schema_v4, schema_v5, schema_v6, schema_v7,
                                        schema_v8, schema_v9, schema_v10};
    while (version < MP_LEDGER_SCHEMA) {
        char *msg = NULL;
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
            return db_err(db, path, "cannot lock for a schema migration");
        }
        version = schema_version(db);
        if (version >= MP_LEDGER_SCHEMA) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            break;
        }
        int pre = version == 4 ? check_before_v5(db, path) : version == 8 ? check_before_v9(db, path) : MP_OK;
        if (pre != MP_OK) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            sqlite3_busy_timeout(db, 10000);
            return pre;
        }
        if (sqlite3_exec(db, steps[version], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            int rc = mp_err(MP_ERR_DB, "ledger %s: cannot migrate the schema to version %d: %s", path, version + 1,
                            msg ? msg : sqlite3_errmsg(db));
            sqlite3_free(msg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        version++;
    }
    sqlite3_busy_timeout(db, 10000);
    if (version > MP_LEDGER_SCHEMA) {
        return mp_err(MP_ERR_DB, "ledger %s: schema version %d is newer than this matter-pki's (%d): use a newer matter-pki",
                      path, version, MP_LEDGER_SCHEMA);
    }
    return MP_OK;
}

/* PostgreSQL: under a transaction-level advisory lock (no session state), an
 * empty database gets the whole schema; a ledger of an older version (7 or
 * later: PostgreSQL ledgers began at 7) is upgraded in the same transaction
 * as the version check by a command that writes; a newer one is refused
 * naming both versions. */
static const char *const pg_steps[] = {[7] = schema_v8, [8] = schema_v9_pg, [9] = schema_v10_pg};

int mp_ledger_migrate_pg(mp_ledger *l, int may_create)
{
    int rc = mp_ledger_begin(l);
    if (rc != MP_OK) return rc;
    mp_q *q = mp_q_get(l, "SELECT pg_advisory_xact_lock(7235218), to_regclass('meta') IS NOT NULL");
    int r = q ? mp_q_step(q) : -1;
    int exists = r == 1 && mp_q_int(q, 1) != 0;
    if (q) mp_q_reset(q);
    if (r != 1) {
        rc = mp_ledger_err(l, "cannot lock for the schema check");
        mp_ledger_rollback(l);
        return rc;
    }
    int version = 7;
    if (!exists && !may_create) {
        mp_ledger_rollback(l);
        return mp_err(MP_ERR_NO_STATE, "ledger %s holds no matter-pki ledger (no meta table); a read-only command never creates"
                      " one: run a command that writes (chips import, ledger migrate) first", mp_ledger_path(l));
    }
    if (!exists) {
        /* the v7 schema, then the same migrations an existing v7 ledger gets */
        if (mp_ledger_exec(l, pg_schema) != MP_OK) {
            rc = mp_ledger_err(l, "cannot create the ledger schema (does this role have CREATE on the database?)");
            mp_ledger_rollback(l);
            return rc;
        }
    } else {
        q = mp_q_get(l, "SELECT value FROM meta WHERE key='schema_version'");
        r = q ? mp_q_step(q) : -1;
        version = r == 1 ? atoi(mp_q_text(q, 0)) : 0;
        if (q) mp_q_reset(q);
        if (r < 0) {
            rc = mp_ledger_err(l, "read the schema version");
            mp_ledger_rollback(l);
            return rc;
        }
    }
    /* 7 -> 8 (order labels, station certificates) -> 9 (the lifecycle and
     * factory-data tables) -> 10 (the leases table, empty here), under the
     * same lock and in the same transaction */
    while (version >= 7 && version < MP_LEDGER_SCHEMA && (may_create || !exists)) {
        if (mp_ledger_exec(l, pg_steps[version]) != MP_OK) {
            char what[96];
            snprintf(what, sizeof(what), "cannot migrate the schema to version %d", version + 1);
            rc = mp_ledger_err(l, what);
            mp_ledger_rollback(l);
            return rc;
        }
        version++;
    }
    if ((rc = mp_ledger_commit(l)) != MP_OK) {
        mp_ledger_rollback(l);
        return rc;
    }
    if (version > MP_LEDGER_SCHEMA) {
        return mp_err(MP_ERR_DB, "ledger %s: schema version %d is newer than this matter-pki's (%d): use a newer matter-pki",
                      mp_ledger_path(l), version, MP_LEDGER_SCHEMA);
    }
    if (version >= 7 && version < MP_LEDGER_SCHEMA) {
        return mp_err(MP_ERR_DB, "ledger %s: schema version %d is older than this matter-pki's (%d); a command that writes"
                      " upgrades it", mp_ledger_path(l), version, MP_LEDGER_SCHEMA);
    }
    if (version < MP_LEDGER_SCHEMA) {
        return mp_err(MP_ERR_DB, "ledger %s: schema version %d is older than this matter-pki's (%d) and PostgreSQL ledgers"
                      " before version 7 cannot be upgraded", mp_ledger_path(l), version, MP_LEDGER_SCHEMA);
    }
    return MP_OK;
}
