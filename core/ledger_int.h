/* ledger_int.h - internals shared by the SQLite ledger's files. */
#ifndef MP_LEDGER_INT_H
#define MP_LEDGER_INT_H

#include <sqlite3.h>

#include "ledger.h"

/* A cached prepared statement for this SQL text (reset, bindings cleared). */
sqlite3_stmt *mp_ledger_stmt(mp_ledger *l, const char *sql);
sqlite3 *mp_ledger_db(mp_ledger *l);
int mp_ledger_db_err(mp_ledger *l, const char *what);

#endif
