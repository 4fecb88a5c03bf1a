/* ledger_int.h - internals shared by the SQLite ledger's files. */
#ifndef MP_LEDGER_INT_H
#define MP_LEDGER_INT_H

#include <sqlite3.h>

#include "ledger.h"

/* A cached prepared statement for this SQL text (reset, bindings cleared). */
sqlite3_stmt *mp_ledger_stmt(mp_ledger *l, const char *sql);
sqlite3 *mp_ledger_db(mp_ledger *l);
/* ledger_id.c: open the SQLite file for mp_ledger_open_flags: read-only
 * (immutable on read-only media), or read-write, creating it only with
 * MP_LEDGER_F_CREATE; a file without a ledger schema is refused unless
 * creating. The message says when the medium is read-only. */
int mp_ledger_sqlite_open(const char *path, int flags, sqlite3 **db) MP_MUST_CHECK;
/* A read-only open of a ledger of an older schema on writable media becomes
 * a read-write one, so that the one-time upgrade runs: returns flags. */
int mp_ledger_sqlite_ro_flags(const char *path, int flags);
int mp_ledger_db_err(mp_ledger *l, const char *what);

/* ledger_schema.c: the schema version this code writes, the SQL functions its
 * migrations use, and the migration of an older ledger (under the write lock).
 * It works on the bare sqlite3 handle and never calls back into
 * ledger_sqlite.c (which opens the database and then calls these). */
#define MP_LEDGER_SCHEMA 7
/* Hex text (either case; an odd length is a value's hex without its leading
 * 0) to bytes; -1 if it is not hex or longer than cap bytes. */
long mp_ledger_unhex(const char *h, uint8_t *out, size_t cap);
void mp_ledger_sql_functions(sqlite3 *db);
int mp_ledger_migrate(sqlite3 *db, const char *path) MP_MUST_CHECK;

/* A certificate's file: its own path (CSR mode), or UDID.der in its batch's
 * folder (schema 5: c = dacs, b = dac_batches). */
#define CERT_PATH "coalesce(c.path,b.dir||'/'||c.udid||'.der')"

#endif
