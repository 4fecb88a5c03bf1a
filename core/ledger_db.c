/* ledger_db.c - the ledger's thin database driver (see ledger_int.h): one
 * portable SQL text runs on SQLite (a file path) or on PostgreSQL through
 * libpq (a postgresql:// or postgres:// URI, or a libpq key=value string).
 *
 * PostgreSQL: no session state (no named prepared statements, no session
 * variables, transaction-level advisory locks only), so a station works
 * through pgbouncer in transaction mode. Parameters go as text (integers,
 * text) or binary (blobs); results come back binary (integers big-endian,
 * bytea raw, text NUL-terminated by libpq). */
#include "ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "ledger_int.h"
#include "util.h"

#define MAX_Q 96
#define MAX_PARAMS 24

/* PostgreSQL type OIDs (pg_type.h is a server header). */
enum { OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_OID = 26 };

struct mp_q {
    mp_ledger *l;
    const char *key; /* the SQL text's address */
    sqlite3_stmt *st;
    /* PostgreSQL */
    char *pg_sql;
    int nparams;
    const char *val[MAX_PARAMS];
    int len[MAX_PARAMS], fmt[MAX_PARAMS];
    char num[MAX_PARAMS][24];
    uint8_t *arr[MAX_PARAMS]; /* mp_q_array's binary arrays (owned, reused) */
    size_t arr_cap[MAX_PARAMS];
    PGresult *res;
    int row, nrows;
    int64_t changes;
    char tbuf[32];
};

struct mp_ledger {
    sqlite3 *db;
    PGconn *pg;
    mp_q q[MAX_Q];
    int nq;
    char path[4096]; /* the location, password masked */
    /* MATTER_PKI_LEDGER_STATS: time of each committed transaction (bench) */
    double tx_start;
    float *tx_ms;
    size_t tx_n, tx_cap;
    int64_t audit_last; /* the last audit row this handle appended */
    /* statements sent to the server (round trips): all, in committed
     * transactions, and the count when this transaction began */
    uint64_t trips, tx_trips, tx_trip0;
    int begin_pending; /* PostgreSQL: BEGIN not sent yet; it goes with the first statement */
    double wait_ms;           /* time spent waiting for the server */
    /* last error */
    char errmsg[1024];
    char constraint[128];
    char detail[256]; /* PostgreSQL's DETAIL ("Key (udid, profile)=(...) already exists.") */
    int unique;
};

int mp_ledger_is_pg(const mp_ledger *l) { return l->pg != NULL; }
void mp_ledger_audit_note(mp_ledger *l, int64_t seq) { l->audit_last = seq; }
int64_t mp_ledger_audit_last(const mp_ledger *l) { return l->audit_last; }
sqlite3 *mp_ledger_db(mp_ledger *l) { return l->db; }
const char *mp_ledger_path(const mp_ledger *l) { return l->path; }

int mp_ledger_is_pg_location(const char *loc)
{
    if (loc == NULL) return 0;
    if (strncmp(loc, "postgresql://", 13) == 0 || strncmp(loc, "postgres://", 11) == 0) return 1;
    /* a libpq key=value string: "host=... dbname=..." */
    const char *eq = strchr(loc, '=');
    if (eq == NULL || (strchr(loc, '/') != NULL && strchr(loc, '/') < eq)) return 0;
    static const char *const keys[] = {"host=", "hostaddr=", "dbname=", "user=", "port=", "service=", "sslmode="};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *p = strstr(loc, keys[i]);
        if (p != NULL && (p == loc || p[-1] == ' ')) return 1;
    }
    return 0;
}

int mp_ledger_location_has_password(const char *loc)
{
    if (!mp_ledger_is_pg_location(loc)) return 0;
    const char *p = strstr(loc, "://");
    if (p != NULL) {
        p += 3;
        const char *end = p + strcspn(p, "/?#");
        const char *at = memchr(p, '@', (size_t)(end - p));
        if (at != NULL && memchr(p, ':', (size_t)(at - p)) != NULL) return 1;
        return strstr(loc, "password=") != NULL;
    }
    const char *k = strstr(loc, "password");
    while (k != NULL) {
        const char *e = k + 8;
        while (*e == ' ') e++;
        if ((k == loc || k[-1] == ' ') && *e == '=') return 1;
        k = strstr(k + 1, "password");
    }
    return 0;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- errors ------------------------------------------------------------- */

static void clear_err(mp_ledger *l)
{
    l->errmsg[0] = 0;
    l->constraint[0] = 0;
    l->detail[0] = 0;
    l->unique = 0;
}

static void sqlite_err(mp_ledger *l)
{
    int ext = sqlite3_extended_errcode(l->db);
    snprintf(l->errmsg, sizeof(l->errmsg), "%s", sqlite3_errmsg(l->db));
    l->unique = ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY;
    snprintf(l->constraint, sizeof(l->constraint), "%s", l->unique ? l->errmsg : "");
}

static void pg_err(mp_ledger *l, const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *cons = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
    const char *msg = r ? PQresultErrorMessage(r) : NULL;
    if (PQstatus(l->pg) == CONNECTION_BAD) {
        snprintf(l->errmsg, sizeof(l->errmsg), "the connection to the database server was lost (%s)",
                 msg && *msg ? msg : PQerrorMessage(l->pg));
    } else {
        snprintf(l->errmsg, sizeof(l->errmsg), "%s", msg && *msg ? msg : PQerrorMessage(l->pg));
    }
    size_t n = strlen(l->errmsg);
    while (n > 0 && (l->errmsg[n - 1] == '\n' || l->errmsg[n - 1] == ' ')) l->errmsg[--n] = 0;
    for (char *p = l->errmsg; *p; p++) {
        if (*p == '\n') *p = ' ';
    }
    l->unique = state != NULL && strcmp(state, "23505") == 0;
    snprintf(l->constraint, sizeof(l->constraint), "%s", cons ? cons : "");
    const char *det = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
    snprintf(l->detail, sizeof(l->detail), "%s", det ? det : "");
}

const char *mp_ledger_last_detail(const mp_ledger *l)
{
    return l->detail[0] ? l->detail : l->errmsg;
}

int mp_ledger_err(mp_ledger *l, const char *what)
{
    if (l->errmsg[0] == 0) {
        if (l->db) sqlite_err(l);
        else if (l->pg) pg_err(l, NULL);
    }
    return mp_err(MP_ERR_DB, "ledger %s: %s: %s", l->path, what, l->errmsg);
}

int mp_ledger_db_err(mp_ledger *l, const char *what)
{
    if (l->db) sqlite_err(l);
    return mp_ledger_err(l, what);
}

int mp_ledger_conflict(mp_ledger *l, const char *table, const char *column)
{
    char want[128];
    if (!l->unique) return 0;
    if (column == NULL) return 1;
    if (l->pg) {
        snprintf(want, sizeof(want), "%s_%s", table, column);
        return strncmp(l->constraint, want, strlen(want)) == 0;
    }
    snprintf(want, sizeof(want), "%s.%s", table, column);
    const char *p = strstr(l->constraint, want);
    return p != NULL && (p[strlen(want)] == 0 || p[strlen(want)] == ',');
}

/* ---- SQL for PostgreSQL ------------------------------------------------- */

/* `?N` -> `$N`, `?` -> the next number (SQLite's rule), `INDEXED BY name`
 * dropped (a SQLite planner hint); quoted text copied as is. */
static char *pg_translate(const char *sql, int *nparams)
{
    size_t n = strlen(sql);
    char *out = malloc(n * 2 + 16), *o = out;
    int next = 0, max = 0;
    if (out == NULL) return NULL;
    for (const char *p = sql; *p;) {
        if (*p == '\'') {
            const char *e = strchr(p + 1, '\'');
            size_t len = e ? (size_t)(e - p + 1) : strlen(p);
            memcpy(o, p, len);
            o += len;
            p += len;
        } else if (*p == '?') {
            int k;
            p++;
            if (*p >= '0' && *p <= '9') {
                k = (int)strtol(p, (char **)&p, 10);
            } else {
                k = max + 1;
            }
            if (k > max) max = k;
            next = k;
            o += sprintf(o, "$%d", k);
        } else if (strncmp(p, "INDEXED BY ", 11) == 0) {
            p += 11;
            while (*p && *p != ' ') p++;
        } else {
            *o++ = *p++;
        }
    }
    (void)next;
    *o = 0;
    *nparams = max;
    return out;
}

/* ---- statements --------------------------------------------------------- */

mp_q *mp_q_get(mp_ledger *l, const char *sql)
{
    mp_q *q = NULL;
    for (int i = 0; i < l->nq; i++) {
        if (l->q[i].key == sql) {
            q = &l->q[i];
            break;
        }
    }
    if (q == NULL) {
        if (l->nq == MAX_Q) {
            mp_err(MP_ERR_DB, "ledger: too many prepared statements");
            return NULL;
        }
        q = &l->q[l->nq];
        memset(q, 0, sizeof(*q));
        q->l = l;
        if (l->db) {
            if (sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q->st, NULL) != SQLITE_OK) {
                sqlite_err(l);
                mp_err(MP_ERR_DB, "ledger %s: prepare: %s", l->path, l->errmsg);
                return NULL;
            }
        } else {
            if ((q->pg_sql = pg_translate(sql, &q->nparams)) == NULL) {
                mp_err(MP_ERR_GENERAL, "out of memory");
                return NULL;
            }
            if (q->nparams > MAX_PARAMS) {
                free(q->pg_sql);
                mp_err(MP_ERR_DB, "ledger: a statement with more than %d parameters", MAX_PARAMS);
                return NULL;
            }
        }
        q->key = sql;
        l->nq++;
    }
    mp_q_reset(q);
    if (q->st) {
        sqlite3_clear_bindings(q->st);
    } else {
        for (int i = 0; i < MAX_PARAMS; i++) {
            q->val[i] = NULL;
            q->len[i] = 0;
            q->fmt[i] = 0;
        }
    }
    return q;
}

sqlite3_stmt *mp_ledger_stmt(mp_ledger *l, const char *sql)
{
    if (l->db == NULL) {
        mp_err(MP_ERR_DB, "ledger %s: this operation is not available on PostgreSQL yet", l->path);
        return NULL;
    }
    mp_q *q = mp_q_get(l, sql);
    return q ? q->st : NULL;
}

void mp_q_i64(mp_q *q, int i, int64_t v)
{
    if (q->st) {
        sqlite3_bind_int64(q->st, i, v);
    } else if (i >= 1 && i <= MAX_PARAMS) {
        snprintf(q->num[i - 1], sizeof(q->num[i - 1]), "%lld", (long long)v);
        q->val[i - 1] = q->num[i - 1];
        q->fmt[i - 1] = 0;
    }
}

void mp_q_txt(mp_q *q, int i, const char *s)
{
    if (q->st) {
        if (s) sqlite3_bind_text(q->st, i, s, -1, SQLITE_STATIC);
        else sqlite3_bind_null(q->st, i);
    } else if (i >= 1 && i <= MAX_PARAMS) {
        q->val[i - 1] = s;
        q->fmt[i - 1] = 0;
    }
}

void mp_q_blob(mp_q *q, int i, const void *p, size_t n)
{
    if (q->st) {
        sqlite3_bind_blob(q->st, i, p, (int)n, SQLITE_STATIC);
    } else if (i >= 1 && i <= MAX_PARAMS) {
        q->val[i - 1] = p ? p : "";
        q->len[i - 1] = (int)n;
        q->fmt[i - 1] = 1;
    }
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

/* PostgreSQL's binary array format (array_recv): ndim, has-nulls flag,
 * element type, then per dimension its size and lower bound, then each
 * element as a 32-bit length (-1 for NULL) and its bytes. */
int mp_q_array(mp_q *q, int i, unsigned elem_oid, const void *const *v, const size_t *len, size_t n)
{
    if (q->st != NULL || i < 1 || i > MAX_PARAMS || n > INT32_MAX) {
        return mp_err(MP_ERR_DB, "ledger %s: array parameters are for PostgreSQL only", q->l->path);
    }
    size_t need = 20, k;
    int nulls = 0;
    for (k = 0; k < n; k++) {
        size_t m = v[k] == NULL ? 0 : len ? len[k] : strlen(v[k]);
        if (m > INT32_MAX || need + 4 + m > INT32_MAX) return mp_err(MP_ERR_DB, "ledger: an array parameter is too large");
        need += 4 + m;
        nulls |= v[k] == NULL;
    }
    if (need > q->arr_cap[i - 1]) {
        uint8_t *b = realloc(q->arr[i - 1], need);
        if (b == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
        q->arr[i - 1] = b;
        q->arr_cap[i - 1] = need;
    }
    uint8_t *p = q->arr[i - 1];
    p = put32(p, 1);
    p = put32(p, (uint32_t)nulls);
    p = put32(p, elem_oid);
    p = put32(p, (uint32_t)n);
    p = put32(p, 1);
    for (k = 0; k < n; k++) {
        if (v[k] == NULL) {
            p = put32(p, UINT32_MAX);
            continue;
        }
        size_t m = len ? len[k] : strlen(v[k]);
        p = put32(p, (uint32_t)m);
        memcpy(p, v[k], m);
        p += m;
    }
    q->val[i - 1] = (const char *)q->arr[i - 1];
    q->len[i - 1] = (int)need;
    q->fmt[i - 1] = 1;
    return MP_OK;
}

void mp_q_null(mp_q *q, int i)
{
    if (q->st) {
        sqlite3_bind_null(q->st, i);
    } else if (i >= 1 && i <= MAX_PARAMS) {
        q->val[i - 1] = NULL;
    }
}

void mp_q_reset(mp_q *q)
{
    if (q->st) {
        sqlite3_reset(q->st);
    }
    PQclear(q->res);
    q->res = NULL;
    q->row = -1;
    q->nrows = 0;
}

int mp_q_each(mp_ledger *l, mp_q *q, int (*row)(mp_q *q, mp_q_cb cb, void *ctx), mp_q_cb cb, void *ctx, const char *what)
{
    int r = 0, rc = MP_OK;
    if (q == NULL) return MP_ERR_DB;
    while (rc == MP_OK && (r = mp_q_step(q)) == 1) {
        rc = row(q, cb, ctx);
    }
    mp_q_reset(q);
    return rc == MP_OK && r < 0 ? mp_ledger_err(l, what) : rc;
}

#define PG_BEGIN "BEGIN ISOLATION LEVEL READ COMMITTED"

/* A transaction's BEGIN and its first statement in one round trip (libpq
 * pipeline mode, PostgreSQL 14+ client library): BEGIN, the statement, one
 * Sync. Only the extended protocol's unnamed statements, as PQexecParams
 * uses: no session state, so it works through pgbouncer in transaction mode.
 * Returns the statement's result (a failed BEGIN's error in its place). */
static PGresult *pg_exec_after_begin(mp_ledger *l, mp_q *q)
{
    PGresult *res = NULL, *r;
    if (!PQenterPipelineMode(l->pg)) {
        /* not idle (cannot happen between statements): the plain way */
        PGresult *b = PQexec(l->pg, PG_BEGIN);
        int ok = b != NULL && PQresultStatus(b) == PGRES_COMMAND_OK;
        if (!ok) return b;
        PQclear(b);
        return PQexecParams(l->pg, q->pg_sql, q->nparams, NULL, q->val, q->len, q->fmt, 1);
    }
    int sent = PQsendQueryParams(l->pg, PG_BEGIN, 0, NULL, NULL, NULL, NULL, 0) &&
               PQsendQueryParams(l->pg, q->pg_sql, q->nparams, NULL, q->val, q->len, q->fmt, 1) && PQpipelineSync(l->pg);
    /* results in order: BEGIN's, the statement's (each followed by NULL),
     * then the Sync's; an error makes the rest PGRES_PIPELINE_ABORTED */
    for (int step = 0; sent && step < 2; step++) {
        while ((r = PQgetResult(l->pg)) != NULL) {
            ExecStatusType st = PQresultStatus(r);
            if (res == NULL && (step == 1 || (st != PGRES_COMMAND_OK && st != PGRES_PIPELINE_ABORTED))) {
                res = r; /* the statement's result, or BEGIN's error */
            } else {
                PQclear(r);
            }
        }
        if (PQstatus(l->pg) == CONNECTION_BAD) break;
    }
    /* the Sync */
    while (sent && PQstatus(l->pg) != CONNECTION_BAD && (r = PQgetResult(l->pg)) != NULL) {
        int sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        PQclear(r);
        if (sync) break;
    }
    PQexitPipelineMode(l->pg);
    return res;
}

int mp_q_step(mp_q *q)
{
    mp_ledger *l = q->l;
    if (q->st) {
        int r = sqlite3_step(q->st);
        if (r == SQLITE_ROW) return 1;
        if (r == SQLITE_DONE) {
            q->changes = sqlite3_changes(l->db);
            sqlite3_reset(q->st);
            return 0;
        }
        sqlite_err(l);
        sqlite3_reset(q->st);
        return -1;
    }
    if (q->res == NULL) {
        clear_err(l);
        double t0 = mono_ms();
        if (l->begin_pending) {
            l->begin_pending = 0;
            q->res = pg_exec_after_begin(l, q);
        } else {
            q->res = PQexecParams(l->pg, q->pg_sql, q->nparams, NULL, q->val, q->len, q->fmt, 1);
        }
        l->wait_ms += mono_ms() - t0;
        l->trips++;
        ExecStatusType s = q->res ? PQresultStatus(q->res) : PGRES_FATAL_ERROR;
        if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
            pg_err(l, q->res);
            PQclear(q->res);
            q->res = NULL;
            return -1;
        }
        const char *ct = PQcmdTuples(q->res);
        q->changes = ct && *ct ? atoll(ct) : 0;
        q->nrows = PQntuples(q->res);
        q->row = -1;
    }
    if (q->row + 1 < q->nrows) {
        q->row++;
        return 1;
    }
    PQclear(q->res);
    q->res = NULL;
    q->nrows = 0;
    return 0;
}

int64_t mp_q_changes(mp_q *q) { return q->changes; }

int mp_q_isnull(mp_q *q, int c)
{
    if (q->st) return sqlite3_column_type(q->st, c) == SQLITE_NULL;
    return q->res == NULL || PQgetisnull(q->res, q->row, c);
}

int64_t mp_q_int(mp_q *q, int c)
{
    if (q->st) return sqlite3_column_int64(q->st, c);
    if (mp_q_isnull(q, c)) return 0;
    const unsigned char *v = (const unsigned char *)PQgetvalue(q->res, q->row, c);
    int n = PQgetlength(q->res, q->row, c);
    Oid t = PQftype(q->res, c);
    if (t == OID_INT8 || t == OID_INT4 || t == OID_INT2 || t == OID_BOOL || t == OID_OID) {
        uint64_t u = 0;
        for (int i = 0; i < n; i++) u = u << 8 | v[i];
        if (n == 8) return (int64_t)u;
        if (n == 4) return t == OID_OID ? (int64_t)u : (int64_t)(int32_t)(uint32_t)u;
        if (n == 2) return (int64_t)(int16_t)(uint16_t)u;
        return (int64_t)u;
    }
    /* binary numeric (sum() of bigints) is not decoded: CAST such columns
     * AS BIGINT in the SQL; text is read as a number */
    return t == 1700 ? 0 : strtoll((const char *)v, NULL, 10);
}

const char *mp_q_text(mp_q *q, int c)
{
    if (q->st) return (const char *)sqlite3_column_text(q->st, c);
    if (mp_q_isnull(q, c)) return NULL;
    Oid t = PQftype(q->res, c);
    if (t == OID_INT8 || t == OID_INT4 || t == OID_INT2 || t == OID_BOOL) {
        snprintf(q->tbuf, sizeof(q->tbuf), "%lld", (long long)mp_q_int(q, c));
        return q->tbuf;
    }
    return PQgetvalue(q->res, q->row, c);
}

const uint8_t *mp_q_bytes(mp_q *q, int c, size_t *n)
{
    if (q->st) {
        *n = (size_t)sqlite3_column_bytes(q->st, c);
        return sqlite3_column_blob(q->st, c);
    }
    if (mp_q_isnull(q, c)) {
        *n = 0;
        return NULL;
    }
    *n = (size_t)PQgetlength(q->res, q->row, c);
    return (const uint8_t *)PQgetvalue(q->res, q->row, c);
}

int mp_q_type(mp_q *q, int c)
{
    if (q->st) {
        switch (sqlite3_column_type(q->st, c)) {
        case SQLITE_INTEGER: return 'i';
        case SQLITE_TEXT: return 't';
        case SQLITE_BLOB: return 'b';
        case SQLITE_NULL: return 'n';
        default: return 'r';
        }
    }
    if (mp_q_isnull(q, c)) return 'n';
    Oid t = PQftype(q->res, c);
    if (t == OID_INT8 || t == OID_INT4 || t == OID_INT2 || t == OID_BOOL) return 'i';
    if (t == OID_BYTEA) return 'b';
    return t == 700 || t == 701 || t == 1700 ? 'r' : 't';
}

int mp_q_columns(mp_q *q)
{
    if (q->st) return sqlite3_column_count(q->st);
    return q->res ? PQnfields(q->res) : 0;
}

int mp_ledger_exec(mp_ledger *l, const char *sql)
{
    clear_err(l);
    if (l->db) {
        char *msg = NULL;
        if (sqlite3_exec(l->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
            sqlite_err(l);
            if (msg) snprintf(l->errmsg, sizeof(l->errmsg), "%s", msg);
            sqlite3_free(msg);
            return MP_ERR_DB;
        }
        return MP_OK;
    }
    if (l->begin_pending) {
        /* a transaction that sent nothing: nothing to commit or roll back */
        if (strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0) {
            l->begin_pending = 0;
            return MP_OK;
        }
        l->begin_pending = 0;
        PGresult *b = PQexec(l->pg, PG_BEGIN);
        int ok = b != NULL && PQresultStatus(b) == PGRES_COMMAND_OK;
        if (!ok) pg_err(l, b);
        PQclear(b);
        l->trips++;
        if (!ok) return MP_ERR_DB;
    }
    double t0 = mono_ms();
    PGresult *r = PQexec(l->pg, sql);
    l->wait_ms += mono_ms() - t0;
    l->trips++;
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
    /* COMMIT of a failed transaction "succeeds" as ROLLBACK */
    if (ok && strcmp(sql, "COMMIT") == 0 && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        snprintf(l->errmsg, sizeof(l->errmsg), "the transaction was rolled back");
        ok = 0;
    } else if (!ok) {
        pg_err(l, r);
    }
    PQclear(r);
    return ok ? MP_OK : MP_ERR_DB;
}

/* ---- open / close ------------------------------------------------------- */

static void no_notices(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* The location without its password, for messages. */
static void mask_location(const char *loc, char *out, size_t cap)
{
    snprintf(out, cap, "%s", loc);
    char *p = strstr(out, "://");
    if (p != NULL) {
        p += 3;
        char *at = strchr(p, '@');
        char *colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
        if (colon != NULL) memmove(colon, at, strlen(at) + 1);
    }
    char *pw = strstr(out, "password=");
    if (pw != NULL) {
        char *e = pw + 9;
        while (*e && *e != ' ' && *e != '&') e++;
        memmove(pw + 9, e, strlen(e) + 1);
    }
}

static int open_pg(mp_ledger *l, const char *loc, int flags)
{
    l->pg = PQconnectdb(loc);
    if (l->pg == NULL) {
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    if (PQstatus(l->pg) != CONNECTION_OK) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(l->pg));
        size_t n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = 0;
        for (char *p = msg; *p; p++) {
            if (*p == '\n') *p = ' ';
        }
        int auth = strstr(msg, "password") != NULL || strstr(msg, "authentication") != NULL;
        return mp_err(auth ? MP_ERR_AUTH : MP_ERR_DB, "ledger %s: cannot connect to the database server %s%s%s: %s", l->path,
                      PQhost(l->pg) ? PQhost(l->pg) : "", PQport(l->pg) && *PQport(l->pg) ? " port " : "",
                      PQport(l->pg) ? PQport(l->pg) : "", msg);
    }
    PQsetNoticeProcessor(l->pg, no_notices, NULL);
    return mp_ledger_migrate_pg(l, !(flags & MP_LEDGER_F_RO));
}

static int open_sqlite(mp_ledger *l, const char *path, int flags)
{
    int rc;
    flags = mp_ledger_sqlite_ro_flags(path, flags);
    if ((rc = mp_ledger_sqlite_open(path, flags, &l->db)) != MP_OK) {
        return rc;
    }
    sqlite3_busy_timeout(l->db, 10000);
    mp_ledger_sql_functions(l->db);
    if (flags & MP_LEDGER_F_RO) {
        return MP_OK;
    }
    /* Switching a rollback-journal file (a restored backup, say) to WAL needs
     * the file to itself, and SQLite does not wait for that: retry while
     * another program holds it, up to the busy timeout. */
    int r;
    for (int waited = 0; (r = sqlite3_exec(l->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL)) == SQLITE_BUSY && waited < 10000;
         waited += 10) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    /* Checkpoints every 4 MiB of WAL (1,024 pages): they run on the committing
     * thread while the signing threads work, and the one at close, on nobody's
     * time but the command's, stays small (16,384 pages left up to 64 MiB for
     * the close: 145 ms of a 100,000-DAC run's 4.5 s; 8-10 ms now). */
    if (r != SQLITE_OK ||
        sqlite3_exec(l->db, "PRAGMA synchronous=FULL; PRAGMA cache_size=-16384; PRAGMA wal_autocheckpoint=1024;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        return mp_ledger_db_err(l, "cannot configure (is it an SQLite database?)");
    }
    if ((rc = mp_ledger_migrate(l->db, l->path)) != MP_OK) {
        return rc;
    }
    /* after the migrations: v4 replaces a table others refer to */
    if (sqlite3_exec(l->db, "PRAGMA foreign_keys=ON;", NULL, NULL, NULL) != SQLITE_OK) {
        return mp_ledger_db_err(l, "cannot enable foreign keys");
    }
    return MP_OK;
}

int mp_ledger_open(const char *path, mp_ledger **out)
{
    return mp_ledger_open_flags(path, MP_LEDGER_F_CREATE, out);
}

int mp_ledger_open_flags(const char *path, int flags, mp_ledger **out)
{
    mp_ledger *l = calloc(1, sizeof(*l));
    int rc;
    *out = NULL;
    if (l == NULL) {
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    mask_location(path, l->path, sizeof(l->path));
    rc = mp_ledger_is_pg_location(path) ? open_pg(l, path, flags) : open_sqlite(l, path, flags);
    if (rc != MP_OK) {
        mp_ledger_close(l);
        return rc;
    }
    *out = l;
    return MP_OK;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* One JSON line per ledger handle: committed transactions, p50/p99/max ms. */
static void write_stats(mp_ledger *l)
{
    const char *path = getenv("MATTER_PKI_LEDGER_STATS");
    if (path == NULL || *path == 0 || l->tx_n == 0) return;
    double sum = 0;
    for (size_t i = 0; i < l->tx_n; i++) sum += (double)l->tx_ms[i];
    qsort(l->tx_ms, l->tx_n, sizeof(float), cmp_float);
    FILE *f = fopen(path, "a");
    if (f == NULL) return;
    fprintf(f, "{\"pid\":%ld,\"backend\":\"%s\",\"transactions\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
            "\"sum_ms\":%.1f,\"round_trips\":%llu,\"tx_round_trips\":%llu,\"wait_ms\":%.1f}\n",
            (long)getpid(), l->pg ? "postgresql" : "sqlite", l->tx_n, (double)l->tx_ms[l->tx_n / 2],
            (double)l->tx_ms[(l->tx_n * 99) / 100], (double)l->tx_ms[l->tx_n - 1], sum, (unsigned long long)l->trips,
            (unsigned long long)l->tx_trips, l->wait_ms);
    fclose(f);
}

void mp_ledger_close(mp_ledger *l)
{
    if (l == NULL) {
        return;
    }
    write_stats(l);
    free(l->tx_ms);
    for (int i = 0; i < l->nq; i++) {
        sqlite3_finalize(l->q[i].st);
        PQclear(l->q[i].res);
        free(l->q[i].pg_sql);
        for (int k = 0; k < MAX_PARAMS; k++) free(l->q[i].arr[k]);
    }
    sqlite3_close(l->db);
    PQfinish(l->pg);
    free(l);
}

int mp_ledger_begin(mp_ledger *l)
{
    l->tx_start = mono_ms();
    l->tx_trip0 = l->trips;
    if (l->pg != NULL) {
        /* sent with the transaction's first statement (one round trip less) */
        clear_err(l);
        if (!mp_ledger_in_tx(l)) {
            l->begin_pending = 1;
            return MP_OK;
        }
    }
    if (mp_ledger_exec(l, l->db ? "BEGIN IMMEDIATE" : PG_BEGIN) != MP_OK) {
        return mp_ledger_err(l, "begin");
    }
    return MP_OK;
}

int mp_ledger_commit(mp_ledger *l)
{
    if (mp_ledger_exec(l, "COMMIT") != MP_OK) return mp_ledger_err(l, "commit");
    if (l->tx_cap > 0 || getenv("MATTER_PKI_LEDGER_STATS") != NULL) {
        if (l->tx_n == l->tx_cap) {
            size_t cap = l->tx_cap ? l->tx_cap * 2 : 1024;
            float *p = realloc(l->tx_ms, cap * sizeof(float));
            if (p == NULL) return MP_OK;
            l->tx_ms = p;
            l->tx_cap = cap;
        }
        l->tx_ms[l->tx_n++] = (float)(mono_ms() - l->tx_start);
        l->tx_trips += l->trips - l->tx_trip0;
    }
    return MP_OK;
}

int mp_ledger_in_tx(mp_ledger *l)
{
    if (l->db) return !sqlite3_get_autocommit(l->db);
    if (l->begin_pending) return 1;
    return PQtransactionStatus(l->pg) != PQTRANS_IDLE && PQtransactionStatus(l->pg) != PQTRANS_UNKNOWN;
}

void mp_ledger_rollback(mp_ledger *l)
{
    if (mp_ledger_in_tx(l)) {
        char keep[1024];
        snprintf(keep, sizeof(keep), "%s", l->errmsg);
        if (mp_ledger_exec(l, "ROLLBACK") != MP_OK && l->pg != NULL && PQstatus(l->pg) == CONNECTION_BAD) {
            /* nothing to roll back on a lost connection: the server did */
        }
        snprintf(l->errmsg, sizeof(l->errmsg), "%s", keep);
    }
}
