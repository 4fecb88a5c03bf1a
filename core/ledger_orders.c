/* ledger_orders.c - the ledger's production orders (see ledger.h): create,
 * get by ID, find by ID or label, close, and list them, with their row reader.
 * Split out of ledger_sqlite.c by responsibility; the same portable SQL runs on
 * SQLite and on PostgreSQL (ledger_db.c). Taking an order's quota stays with
 * issuing in ledger_sqlite.c. */
#include "ledger.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ledger_int.h"
#include "util.h"

enum { S_ADD_ORDER, S_GET_ORDER, S_CLOSE_ORDER, S_EACH_ORDER, S_ORDER_LABEL, S_NSTMT };

static const char *const sql[S_NSTMT] = {
    /* parenthesized: one text split over two lines (clang -Wstring-concatenation) */
    [S_ADD_ORDER] = ("INSERT INTO orders(vid,pid,pai_cert,pai_key,pai_skid,quota,issued,cn_template,valid_from,days,closed,created_at,label)"
                    " VALUES(?,?,?,?,?,?,0,?,?,?,0,?,?) RETURNING id"),
    [S_GET_ORDER] = "SELECT id,vid,pid,pai_cert,pai_key,pai_skid,quota,issued,cn_template,valid_from,days,closed,coalesce(label,'') FROM orders WHERE id=?",
    [S_CLOSE_ORDER] = "UPDATE orders SET closed=1 WHERE id=?",
    [S_EACH_ORDER] = "SELECT id,vid,pid,pai_cert,pai_key,pai_skid,quota,issued,cn_template,valid_from,days,closed,coalesce(label,'') FROM orders ORDER BY id",
    [S_ORDER_LABEL] = "SELECT id,vid,pid,pai_cert,pai_key,pai_skid,quota,issued,cn_template,valid_from,days,closed,coalesce(label,'') FROM orders WHERE label=?",
};

static mp_q *stmt(mp_ledger *l, int i)
{
    return mp_q_get(l, sql[i]);
}

int mp_ledger_add_order(mp_ledger *l, mp_order *o)
{
    char now[21];
    mp_q *s = stmt(l, S_ADD_ORDER);
    if (s == NULL) return MP_ERR_DB;
    mp_ledger_now_iso(now);
    mp_q_i64(s, 1, o->vid);
    mp_q_i64(s, 2, o->pid);
    mp_q_txt(s, 3, o->pai_cert);
    mp_q_txt(s, 4, o->pai_key);
    mp_q_txt(s, 5, o->pai_skid);
    mp_q_i64(s, 6, (int64_t)o->quota);
    mp_q_txt(s, 7, o->cn_template);
    mp_q_i64(s, 8, (int64_t)o->valid_from);
    mp_q_i64(s, 9, o->days);
    mp_q_txt(s, 10, now);
    mp_q_txt(s, 11, o->label[0] ? o->label : NULL);
    int rc = mp_ledger_step_id(l, s, "add order", &o->id);
    if (rc != MP_OK && mp_ledger_conflict(l, "orders", "label")) {
        return mp_err(MP_ERR_DUPLICATE, "an order labelled '%s' exists", o->label);
    }
    if (rc == MP_OK) {
        char obj[48], detail[160];
        snprintf(obj, sizeof(obj), "order=%lld", (long long)o->id);
        snprintf(detail, sizeof(detail), "{\"vid\":%u,\"pid\":%u,\"quota\":%llu,\"pai_skid\":\"%s\"}", o->vid, o->pid,
                 (unsigned long long)o->quota, o->pai_skid);
        rc = mp_ledger_audit(l, mp_ledger_station_default(), "order.create", obj, detail);
    }
    return rc;
}

static void row_order(mp_q *s, mp_order *o)
{
    memset(o, 0, sizeof(*o));
    o->id = mp_q_int(s, 0);
    o->vid = (uint16_t)mp_q_int(s, 1);
    o->pid = (uint16_t)mp_q_int(s, 2);
    mp_ledger_copy_text(o->pai_cert, sizeof(o->pai_cert), mp_q_text(s, 3));
    mp_ledger_copy_text(o->pai_key, sizeof(o->pai_key), mp_q_text(s, 4));
    mp_ledger_copy_text(o->pai_skid, sizeof(o->pai_skid), mp_q_text(s, 5));
    o->quota = (uint64_t)mp_q_int(s, 6);
    o->issued = (uint64_t)mp_q_int(s, 7);
    mp_ledger_copy_text(o->cn_template, sizeof(o->cn_template), mp_q_text(s, 8));
    o->valid_from = (time_t)mp_q_int(s, 9);
    o->days = (long)mp_q_int(s, 10);
    o->closed = (int)mp_q_int(s, 11);
    mp_ledger_copy_text(o->label, sizeof(o->label), mp_q_text(s, 12));
}

int mp_ledger_get_order(mp_ledger *l, int64_t id, mp_order *o)
{
    mp_q *s = stmt(l, S_GET_ORDER);
    if (s == NULL) return MP_ERR_DB;
    mp_q_i64(s, 1, id);
    int r = mp_q_step(s);
    if (r == 1) {
        row_order(s, o);
    }
    mp_q_reset(s);
    return r == 1 ? MP_OK
           : r == 0 ? mp_err(MP_ERR_INVALID, "no production order %lld in %s", (long long)id, mp_ledger_path(l))
                    : mp_ledger_err(l, "get order");
}

int mp_ledger_find_order(mp_ledger *l, const char *ref, mp_order *o)
{
    uint64_t id;
    if (ref[0] >= '0' && ref[0] <= '9' && mp_parse_uint(ref, INT64_MAX, &id) == MP_OK) {
        return mp_ledger_get_order(l, (int64_t)id, o);
    }
    mp_q *s = stmt(l, S_ORDER_LABEL);
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, ref);
    int r = mp_q_step(s);
    if (r == 1) {
        row_order(s, o);
    }
    mp_q_reset(s);
    return r == 1 ? MP_OK
           : r == 0 ? mp_err(MP_ERR_INVALID, "no production order with ID or label '%s'", ref)
                    : mp_ledger_err(l, "find order");
}

int mp_ledger_close_order(mp_ledger *l, int64_t id)
{
    char obj[48];
    snprintf(obj, sizeof(obj), "order=%lld", (long long)id);
    /* the audit head before the order row: issuing transactions lock in that order */
    int arc = mp_ledger_audit(l, mp_ledger_station_default(), "order.close", obj, "{}");
    if (arc != MP_OK) return arc;
    mp_q *s = stmt(l, S_CLOSE_ORDER);
    if (s == NULL) return MP_ERR_DB;
    mp_q_i64(s, 1, id);
    int rc = mp_ledger_step_done(l, s, "close order");
    if (rc == MP_OK && mp_q_changes(s) == 0) {
        return mp_err(MP_ERR_INVALID, "no production order %lld", (long long)id);
    }
    return rc;
}

static int order_row(mp_q *s, mp_q_cb cb, void *ctx)
{
    mp_order o;
    row_order(s, &o);
    return ((int (*)(void *, const mp_order *))cb)(ctx, &o);
}

int mp_ledger_each_order(mp_ledger *l, int (*cb)(void *, const mp_order *), void *ctx)
{
    return mp_q_each(l, stmt(l, S_EACH_ORDER), order_row, (mp_q_cb)cb, ctx, "list orders");
}
