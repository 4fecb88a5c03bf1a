/* ledger_int.h - internals shared by the ledger's files: the thin driver
 * (ledger_db.c) that runs one portable SQL text on SQLite or on PostgreSQL,
 * and the schema (ledger_schema.c).
 *
 * Ledger logic is written once, in SQL both databases accept: `?` or `?N`
 * parameters (turned into `$N` for PostgreSQL), RETURNING, ON CONFLICT,
 * partial indexes, hex(BLOB) (a PostgreSQL function of the schema), integers
 * for booleans and times. A query is a cached statement named by its SQL
 * text's address (a string literal):
 *
 *     mp_q *q = mp_q_get(l, "UPDATE orders SET issued=issued+?2 WHERE id=?1 AND issued+?2<=quota");
 *     if (q == NULL) return MP_ERR_DB;
 *     mp_q_i64(q, 1, id); mp_q_i64(q, 2, n);
 *     if (mp_q_step(q) < 0) return mp_ledger_err(l, "take quota");
 *     if (mp_q_changes(q) != 1) ...
 *
 * Bound text and blobs are borrowed until the statement is stepped the
 * first time. A statement left on a row keeps SQLite's read transaction:
 * mp_q_reset it (mp_q_step resets at the end of the rows).
 */
#ifndef MP_LEDGER_INT_H
#define MP_LEDGER_INT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

typedef struct mp_q mp_q;

mp_q *mp_q_get(mp_ledger *l, const char *sql);
void mp_q_i64(mp_q *q, int i, int64_t v);
void mp_q_txt(mp_q *q, int i, const char *s); /* NULL binds NULL */
void mp_q_blob(mp_q *q, int i, const void *p, size_t n);
void mp_q_null(mp_q *q, int i);
/* PostgreSQL only (MP_ERR_DB on SQLite): bind n values as one array
 * parameter, element type elem_oid (MP_OID_TEXT or MP_OID_BYTEA): v[k] with
 * len[k] bytes (len NULL: NUL-terminated texts; v[k] NULL: a NULL element).
 * The SQL casts it ($1::text[]) and reads it with unnest(); the values are
 * copied. */
enum { MP_OID_BYTEA = 17, MP_OID_TEXT = 25 };
int mp_q_array(mp_q *q, int i, unsigned elem_oid, const void *const *v, const size_t *len, size_t n);
/* 1 = a row, 0 = done, -1 = error (mp_ledger_err names it). */
int mp_q_step(mp_q *q);
void mp_q_reset(mp_q *q);
/* A caller's row callback kept as a generic function pointer; the row reader
 * that knows its row type casts it back. */
typedef void (*mp_q_cb)(void);
/* The loop behind the mp_ledger_each_* readers: for each row of q, `row`
 * reads it and hands it to `cb` with `ctx`; stops at the first result other
 * than MP_OK and returns it; resets q. q NULL (mp_q_get failed): MP_ERR_DB; a
 * database error: MP_ERR_DB naming `what`. */
int mp_q_each(mp_ledger *l, mp_q *q, int (*row)(mp_q *q, mp_q_cb cb, void *ctx), mp_q_cb cb, void *ctx, const char *what);
int64_t mp_q_changes(mp_q *q);
int mp_q_isnull(mp_q *q, int c);
int64_t mp_q_int(mp_q *q, int c);
const char *mp_q_text(mp_q *q, int c);                /* NULL for NULL */
const uint8_t *mp_q_bytes(mp_q *q, int c, size_t *n); /* blob / bytea */
/* A column's value type in this row: 'i' integer, 't' text, 'b' blob, 'n' NULL
 * ('r' a float, which the ledger does not use). */
int mp_q_type(mp_q *q, int c);
int mp_q_columns(mp_q *q);

/* Run SQL without parameters (several statements; on PostgreSQL in one
 * round trip). */
int mp_ledger_exec(mp_ledger *l, const char *sql) MP_MUST_CHECK;
/* The last error as MP_ERR_DB "ledger LOC: what: message". */
int mp_ledger_err(mp_ledger *l, const char *what);
/* Shared by the ledger's operation files: step a statement that returns no
 * row; the time now as ISO 8601 UTC; a possibly NULL text into a buffer. */
int mp_ledger_step_done(mp_ledger *l, mp_q *s, const char *what);
void mp_ledger_now_iso(char out[21]);
void mp_ledger_copy_text(char *dst, size_t cap, const char *src);
/* One row's first column as an integer (a RETURNING id, a count); resets s. */
int mp_ledger_step_id(mp_ledger *l, mp_q *s, const char *what, int64_t *id);
int mp_ledger_db_err(mp_ledger *l, const char *what); /* the same (older name) */
/* Was the last error a unique (or primary key) violation of table.column?
 * column NULL: any unique violation. */
int mp_ledger_conflict(mp_ledger *l, const char *table, const char *column);
int mp_ledger_is_pg(const mp_ledger *l);
/* The sequence number of the last audit row this handle appended (0: none;
 * set by mp_ledger_audit, also when its transaction is then rolled back): a
 * long run's hint that a checkpoint is due (audit_ckpt.h). */
void mp_ledger_audit_note(mp_ledger *l, int64_t seq);
int64_t mp_ledger_audit_last(const mp_ledger *l);
/* The last error's detail on PostgreSQL (which key was duplicated), else its
 * message. */
const char *mp_ledger_last_detail(const mp_ledger *l);
int mp_ledger_in_tx(mp_ledger *l);

/* SQLite only (NULL on PostgreSQL): the raw connection and a cached
 * prepared statement, for code not yet written against mp_q. */
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


/* ledger_station.c: SQLite's reservations are spans of UDIDs (rows of
 * `leases`, see there). The live spans in UDID order: every one (own marks
 * those of this lease and order), or with own_only those of this lease and
 * order alone. The caller frees *out. */
typedef struct mp_span {
    int64_t id;
    int own;
    char lo[MP_UDID_MAX + 1], hi[MP_UDID_MAX + 1];
} mp_span;
/* A device row read as (udid, pubkey, list_id, state, key_origin). */
void mp_ledger_row_device(mp_q *s, mp_device *d);
int mp_ledger_spans(mp_ledger *l, int64_t order_id, const char *lease, int own_only, mp_span **out, size_t *n) MP_MUST_CHECK;

/* ledger_schema.c: the schema version this code writes, the SQL functions its
 * migrations use, and the migration of an older ledger (under the write lock).
 * The SQLite migration works on the bare sqlite3 handle and never calls back
 * into the driver (which opens the database and then calls it). */
#define MP_LEDGER_SCHEMA 10
/* Hex text (either case; an odd length is a value's hex without its leading
 * 0) to bytes; -1 if it is not hex or longer than cap bytes. */
long mp_ledger_unhex(const char *h, uint8_t *out, size_t cap);
void mp_ledger_sql_functions(sqlite3 *db);
int mp_ledger_migrate(sqlite3 *db, const char *path) MP_MUST_CHECK;
/* may_create: an empty database gets the schema (else MP_ERR_NO_STATE). */
int mp_ledger_migrate_pg(mp_ledger *l, int may_create) MP_MUST_CHECK;

/* A certificate's file: its own path (CSR mode), or UDID.der in its batch's
 * folder (schema 5: c = dacs, b = dac_batches). */
#define CERT_PATH "coalesce(c.path,b.dir||'/'||c.udid||'.der')"

#endif
