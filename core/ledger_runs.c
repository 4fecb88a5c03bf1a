/* ledger_runs.c - ledger operations of orders whose DACs another PKI issued
 * (issue 18) and of `dac issue` runs with a remembered target. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "ledger.h"
#include "ledger_int.h"
#include "util.h"

/* ---- DACs issued by another PKI (issue 18) ---------------------------------- */

int mp_order_is_external(const mp_order *o)
{
    return strcmp(o->pai_key, MP_PAI_KEY_EXTERNAL) == 0;
}

int mp_ledger_grow_external_quota(mp_ledger *l, int64_t order_id, uint64_t n)
{
    mp_q *s = mp_q_get(l, "UPDATE orders SET quota = quota + ?2 WHERE id = ?1 AND pai_key = '"
                          MP_PAI_KEY_EXTERNAL "' AND closed = 0");
    if (s == NULL) return MP_ERR_DB;
    mp_q_i64(s, 1, order_id);
    mp_q_i64(s, 2, (int64_t)n);
    int rc = mp_ledger_step_done(l, s, "raise the quota of an external order");
    if (rc == MP_OK && mp_q_changes(s) != 1) {
        rc = mp_err(MP_ERR_INVALID, "order %lld is not an open order of externally issued DACs", (long long)order_id);
    }
    return rc;
}

/* ---- runs of dac issue with a target (schema 6; see ledger.h) ---------------- */

int mp_ledger_run_get(mp_ledger *l, int64_t order_id, const char *dir, mp_dac_run *r, int *found)
{
    static const char q[] = "SELECT id,generate,target,issued FROM dac_runs WHERE order_id=? AND dir=? AND finished_at IS NULL";
    mp_q *s = mp_q_get(l, q);
    if (s == NULL) return MP_ERR_DB;
    mp_q_i64(s, 1, order_id);
    mp_q_txt(s, 2, dir);
    int st = mp_q_step(s);
    *found = st == 1;
    if (*found) {
        r->id = mp_q_int(s, 0);
        r->order_id = order_id;
        r->generate = (int)mp_q_int(s, 1);
        r->target = (uint64_t)mp_q_int(s, 2);
        r->issued = (uint64_t)mp_q_int(s, 3);
    }
    mp_q_reset(s);
    return st >= 0 ? MP_OK : mp_ledger_err(l, "read the run of the output folder");
}

int mp_ledger_run_start(mp_ledger *l, mp_dac_run *r)
{
    static const char q[] = "INSERT INTO dac_runs(order_id,dir,generate,target,issued,station,started_at) VALUES(?,?,?,?,0,?,?) RETURNING id";
    char now[21];
    mp_q *s = mp_q_get(l, q);
    if (s == NULL) return MP_ERR_DB;
    mp_ledger_now_iso(now);
    mp_q_i64(s, 1, r->order_id);
    mp_q_txt(s, 2, r->dir);
    mp_q_i64(s, 3, r->generate);
    mp_q_i64(s, 4, (int64_t)r->target);
    mp_q_txt(s, 5, r->station ? r->station : "");
    mp_q_txt(s, 6, now);
    if (mp_q_step(s) != 1) {
        return mp_ledger_conflict(l, NULL, NULL) ? mp_err(MP_ERR_UNAUTHORIZED, "order %lld already has an unfinished run in %s",
                                                          (long long)r->order_id, r->dir)
                                                 : mp_ledger_err(l, "record the run");
    }
    r->id = mp_q_int(s, 0);
    mp_q_reset(s);
    r->issued = 0;
    return MP_OK;
}

int mp_ledger_run_count(mp_ledger *l, int64_t run_id, uint64_t n)
{
    static const char q[] = "UPDATE dac_runs SET issued=issued+?2 WHERE id=?1 AND issued+?2<=target AND finished_at IS NULL";
    mp_q *s = mp_q_get(l, q);
    if (s == NULL) return MP_ERR_DB;
    mp_q_i64(s, 1, run_id);
    mp_q_i64(s, 2, (int64_t)n);
    if (mp_q_step(s) < 0) return mp_ledger_err(l, "count against the run");
    if (mp_q_changes(s) != 1) {
        return mp_err(MP_ERR_QUOTA, "the run would pass its target (%llu more asked)", (unsigned long long)n);
    }
    return MP_OK;
}

int mp_ledger_run_finish(mp_ledger *l, int64_t run_id)
{
    static const char q[] = "UPDATE dac_runs SET finished_at=? WHERE id=? AND finished_at IS NULL";
    char now[21];
    mp_q *s = mp_q_get(l, q);
    if (s == NULL) return MP_ERR_DB;
    mp_ledger_now_iso(now);
    mp_q_txt(s, 1, now);
    mp_q_i64(s, 2, run_id);
    return mp_ledger_step_done(l, s, "finish the run");
}

int mp_ledger_cert_path(mp_ledger *l, const char *udid, char *path, size_t cap, int64_t *order_id, int *found)
{
    static const char q[] = "SELECT " CERT_PATH ",c.order_id FROM dacs c JOIN dac_batches b ON b.id=c.batch WHERE c.udid=?";
    mp_q *s = mp_q_get(l, q);
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, udid);
    int st = mp_q_step(s);
    *found = st == 1;
    if (*found) {
        mp_ledger_copy_text(path, cap, mp_q_text(s, 0));
        if (order_id != NULL) *order_id = mp_q_int(s, 1);
    }
    mp_q_reset(s);
    return st >= 0 ? MP_OK : mp_ledger_err(l, "read a certificate's path");
}
