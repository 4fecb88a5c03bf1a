/*
 * ledger_id.c - how commands open their ledger: never created by accident,
 * never empty, bound to the PKI of the state directory (state.h), read-only
 * for read commands. The identity check uses only the backend interface
 * (mp_ledger_meta_get/set); the file checks apply to file ledgers.
 */
#include "ledger.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "ledger_int.h"
#include "state.h"
#include "util.h"

static int is_dir(const char *p)
{
    struct stat st;
    return p != NULL && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int read_only_medium(const char *path)
{
    char dir[4096];
    struct statvfs vs;
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof(dir), ".");
    } else if (slash == dir) {
        dir[1] = 0;
    } else {
        *slash = 0;
    }
    return statvfs(dir, &vs) == 0 && (vs.f_flag & ST_RDONLY) != 0;
}

static int has_schema(sqlite3 *db)
{
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'", -1, &s, NULL);
    if (r == SQLITE_OK) {
        r = sqlite3_step(s);
    }
    sqlite3_finalize(s);
    return r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : -r;
}

static int schema_version(sqlite3 *db)
{
    sqlite3_stmt *s = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
        version = sqlite3_column_int(s, 0);
    }
    sqlite3_finalize(s);
    return version;
}

static int open_err(const char *path, sqlite3 *db, int r)
{
    if (r == SQLITE_NOTADB || r == -SQLITE_NOTADB) {
        return mp_err(MP_ERR_DB, "ledger %s: not an SQLite database", path);
    }
    return mp_err(MP_ERR_DB, "ledger %s: cannot open: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
}

/* SQLite's allocation statistics take a process-wide mutex on every
 * allocation; nothing here reads them (no soft heap limit), and a chunk of
 * `dac issue` makes tens of thousands of allocations. Set once, before
 * SQLite's first use (a later call is refused by SQLite and changes nothing). */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;
static void sqlite_setup(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int mp_ledger_sqlite_open(const char *path, int flags, sqlite3 **db)
{
    pthread_once(&sqlite_once, sqlite_setup); /* here and in mp_ledger_sqlite_ro_flags: whichever opens first */
    char uri[4200];
    int ro = (flags & MP_LEDGER_F_RO) != 0, rom = read_only_medium(path);
    int of = SQLITE_OPEN_NOMUTEX | (ro ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
    *db = NULL;
    if (!ro && rom) {
        return mp_err(MP_ERR_IO, "ledger %s is on a read-only medium: this command writes to the ledger (order list, ledger report and ledger export can read it there)", path);
    }
    if (flags & MP_LEDGER_F_CREATE) {
        of |= SQLITE_OPEN_CREATE;
    }
    const char *name = path;
    if (ro && rom) {
        /* nobody can write there: read it as immutable (no -shm, no locks) */
        snprintf(uri, sizeof(uri), "file:%s?immutable=1", path);
        name = uri;
        of |= SQLITE_OPEN_URI;
    }
    int r = sqlite3_open_v2(name, db, of, NULL);
    if (r == SQLITE_OK) {
        sqlite3_busy_timeout(*db, 10000); /* another program may be upgrading it */
    }
    int schema = r == SQLITE_OK ? has_schema(*db) : -r;
    if (schema < 0 || (schema == 0 && !(flags & MP_LEDGER_F_CREATE))) {
        int rc = schema == 0 ? mp_err(MP_ERR_NO_STATE, "ledger %s holds no matter-pki ledger (no meta table); a ledger is never created here by accident: restore it from a backup or point --ledger at the right file", path)
                             : open_err(path, *db, schema < 0 ? -schema : r);
        sqlite3_close(*db);
        *db = NULL;
        return rc;
    }
    int v = schema == 1 && ro ? schema_version(*db) : MP_LEDGER_SCHEMA;
    if (v < MP_LEDGER_SCHEMA) {
        int rc = mp_err(MP_ERR_DB, "ledger %s has schema %d and this program reads schema %d; it is upgraded when a command opens it on writable media", path, v, MP_LEDGER_SCHEMA);
        sqlite3_close(*db);
        *db = NULL;
        return rc;
    }
    return MP_OK;
}

int mp_ledger_sqlite_ro_flags(const char *path, int flags)
{
    sqlite3 *db = NULL;
    pthread_once(&sqlite_once, sqlite_setup);
    if (!(flags & MP_LEDGER_F_RO) || read_only_medium(path) ||
        sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return flags;
    }
    sqlite3_busy_timeout(db, 10000);
    int v = has_schema(db) == 1 ? schema_version(db) : MP_LEDGER_SCHEMA;
    sqlite3_close(db);
    return v >= 0 && v < MP_LEDGER_SCHEMA ? flags & ~MP_LEDGER_F_RO : flags;
}

#define NEW_LEDGER_HINT "restore it from a backup, point --ledger at it, or start a new ledger on purpose with 'matter-pki ledger init'"

/* Before opening: a file ledger must exist (unless creating) and hold data. */
static int check_file(const char *path, int mode, const char *state_dir, int is_default)
{
    struct stat st;
    if (stat(path, &st) != 0) { /* a ledger may be reached through a symlink */
        if (errno != ENOENT) {
            return mp_err(MP_ERR_IO, "ledger %s: %s", path, strerror(errno));
        }
        if (mode == MP_LEDGER_CREATE) {
            return MP_OK;
        }
        return is_default
                   ? mp_err(MP_ERR_NO_STATE, "ledger %s does not exist: the state directory %s was made with one and matter-pki never recreates a ledger; " NEW_LEDGER_HINT, path, state_dir)
                   : mp_err(MP_ERR_NO_STATE, "ledger %s (--ledger) does not exist; check the path, or " NEW_LEDGER_HINT, path);
    }
    if (!S_ISREG(st.st_mode)) {
        return mp_err(MP_ERR_IO, "ledger %s is not a regular file", path);
    }
    if (st.st_size == 0) {
        return mp_err(MP_ERR_NO_STATE, "ledger %s is empty (0 bytes): it was truncated or replaced, and an empty ledger would let a chip get a second DAC; " NEW_LEDGER_HINT, path);
    }
    return MP_OK;
}

/* The ledger carries the PKI ID of its state directory. */
static int bind_identity(mp_ledger *l, const char *state_dir, int mode)
{
    char want[MP_PKI_ID_LEN + 1], have[128];
    int found = 0, has = 0;
    if (!is_dir(state_dir)) {
        return MP_OK;
    }
    int rc = mp_state_pki_id(state_dir, want, &found);
    if (rc != MP_OK || !found) {
        return rc;
    }
    if ((rc = mp_ledger_meta_get(l, "pki_id", have, sizeof(have), &has)) != MP_OK) {
        return rc;
    }
    if (has && strcmp(have, want) != 0) {
        return mp_err(MP_ERR_NO_STATE, "ledger %s belongs to PKI %s, but the state directory %s is PKI %s: point --ledger and --state-dir at the same PKI",
                      mp_ledger_path(l), have, state_dir, want);
    }
    if (!has && mode != MP_LEDGER_READ) {
        return mp_ledger_meta_set(l, "pki_id", want);
    }
    return MP_OK;
}

int mp_ledger_open_as(const char *state_dir, const char *path, int mode, mp_ledger **out)
{
    char def[4200];
    *out = NULL;
    if (path != NULL && mp_ledger_location_has_password(path)) {
        return mp_err(MP_ERR_USAGE, "--ledger: a password on the command line is refused (others can read it);"
                                    " use PGPASSFILE, ~/.pgpass or PGPASSWORD");
    }
    if (path == NULL) {
        path = getenv("MATTER_PKI_LEDGER");
        if (path != NULL && *path == 0) path = NULL;
    }
    int is_default = path == NULL;
    if (is_default) {
        if (!is_dir(state_dir)) {
            return mp_err(MP_ERR_NO_STATE, "state directory %s does not exist, so neither does its ledger; create one with 'matter-pki token init', or point at it with --state-dir DIR or MATTER_PKI_STATE=DIR (or name a ledger with --ledger)",
                          state_dir ? state_dir : MP_STATE_NAME);
        }
        snprintf(def, sizeof(def), "%s/ledger.sqlite", state_dir);
        path = def;
    }
    int rc = MP_OK;
    if (!mp_ledger_is_pg_location(path)) {
        rc = check_file(path, mode, state_dir, is_default);
    }
    int flags = mode == MP_LEDGER_READ ? MP_LEDGER_F_RO : mode == MP_LEDGER_CREATE ? MP_LEDGER_F_CREATE : 0;
    mp_ledger *l = NULL;
    if (rc != MP_OK || (rc = mp_ledger_open_flags(path, flags, &l)) != MP_OK) {
        return rc;
    }
    if ((rc = bind_identity(l, state_dir, mode)) != MP_OK) {
        mp_ledger_close(l);
        return rc;
    }
    *out = l;
    return MP_OK;
}

int mp_ledger_open_state(const char *state_dir, const char *path, mp_ledger **out)
{
    return mp_ledger_open_as(state_dir, path, MP_LEDGER_WRITE, out);
}
