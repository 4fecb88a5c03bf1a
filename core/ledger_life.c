/* ledger_life.c - ledger operations of the credential lifecycle (CA
 * revocations, published CRLs, the DCL records last exported; issue 19) and
 * the meta key-value pairs, written once through the driver (ledger_int.h):
 * the same SQL on SQLite and PostgreSQL, on tables of the schema (v9). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger.h"
#include "ledger_int.h"
#include "util.h"

int mp_ledger_meta_get(mp_ledger *l, const char *key, char *val, size_t cap, int *found)
{
    mp_q *s = mp_q_get(l, "SELECT value FROM meta WHERE key=?");
    *found = 0;
    if (s == NULL) {
        return MP_ERR_DB;
    }
    mp_q_txt(s, 1, key);
    int r = mp_q_step(s);
    if (r == 1) {
        mp_ledger_copy_text(val, cap, mp_q_text(s, 0));
        *found = 1;
    }
    mp_q_reset(s);
    return r >= 0 ? MP_OK : mp_ledger_err(l, "read meta");
}

int mp_ledger_meta_set(mp_ledger *l, const char *key, const char *val)
{
    mp_q *s = mp_q_get(l, "INSERT INTO meta(key,value) VALUES(?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value");
    if (s == NULL) {
        return MP_ERR_DB;
    }
    mp_q_txt(s, 1, key);
    mp_q_txt(s, 2, val);
    return mp_ledger_step_done(l, s, "write meta");
}

/* ---- Credential lifecycle (issue 19) ---------------------------------- */

int mp_ledger_revoke_ca(mp_ledger *l, const char *issuer_skid, const char *serial, const char *reason)
{
    static const char q[] = "INSERT INTO revocations(serial,pai_skid,reason,revoked_at) VALUES(?,?,?,?)";
    mp_q *s = mp_q_get(l, q);
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, serial);
    mp_q_txt(s, 2, issuer_skid);
    mp_q_txt(s, 3, reason);
    mp_q_i64(s, 4, (int64_t)time(NULL));
    if (mp_q_step(s) < 0) {
        return mp_ledger_conflict(l, NULL, NULL) ? mp_err(MP_ERR_DUPLICATE, "serial %s is already revoked", serial)
                                                 : mp_ledger_err(l, "revoke");
    }
    char obj[160], detail[96];
    snprintf(obj, sizeof(obj), "serial=%s issuer_skid=%s", serial, issuer_skid);
    snprintf(detail, sizeof(detail), "{\"reason\":\"%.60s\"}", reason);
    for (char *p = detail + 11; *p && p[1]; p++) {
        if (*p == '"' || *p == '\\') *p = '_'; /* a reason is a word; keep the JSON valid whatever it is */
    }
    return mp_ledger_audit(l, mp_ledger_station_default(), "ca.revoke", obj, detail);
}

int mp_ledger_crl_record(mp_ledger *l, const mp_crl_rec *r)
{
    static const char q[] = "INSERT INTO crl_published(issuer_skid,issuer_der,signer_der,number,this_update,next_update)"
                            " VALUES(?,?,?,?,?,?) ON CONFLICT(issuer_skid) DO UPDATE SET issuer_der=excluded.issuer_der,"
                            " signer_der=excluded.signer_der, number=excluded.number, this_update=excluded.this_update,"
                            " next_update=excluded.next_update";
    mp_q *s = mp_q_get(l, q);
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, r->issuer_skid);
    mp_q_blob(s, 2, r->issuer_der, r->issuer_len);
    mp_q_blob(s, 3, r->signer_der, r->signer_len);
    mp_q_i64(s, 4, (int64_t)r->number);
    mp_q_i64(s, 5, (int64_t)r->this_update);
    mp_q_i64(s, 6, (int64_t)r->next_update);
    return mp_ledger_step_done(l, s, "record CRL");
}

int mp_ledger_each_crl(mp_ledger *l, int (*cb)(void *, const mp_crl_rec *), void *ctx)
{
    static const char q[] = "SELECT issuer_skid,issuer_der,signer_der,number,this_update,next_update"
                            " FROM crl_published ORDER BY issuer_skid";
    mp_q *s = mp_q_get(l, q);
    int rc = MP_OK, r = 0;
    if (s == NULL) return MP_ERR_DB;
    while (rc == MP_OK && (r = mp_q_step(s)) == 1) {
        mp_crl_rec c = {0};
        mp_ledger_copy_text(c.issuer_skid, sizeof(c.issuer_skid), mp_q_text(s, 0));
        c.issuer_der = mp_q_bytes(s, 1, &c.issuer_len);
        c.signer_der = mp_q_bytes(s, 2, &c.signer_len);
        c.number = (uint64_t)mp_q_int(s, 3);
        c.this_update = (time_t)mp_q_int(s, 4);
        c.next_update = (time_t)mp_q_int(s, 5);
        rc = cb(ctx, &c);
    }
    if (rc == MP_OK && r < 0) rc = mp_ledger_err(l, "list CRLs");
    mp_q_reset(s);
    return rc;
}

int mp_ledger_dcl_get(mp_ledger *l, const char *key, char **json, int *found)
{
    mp_q *s = mp_q_get(l, "SELECT json FROM dcl_state WHERE key=?");
    *json = NULL;
    *found = 0;
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, key);
    int r = mp_q_step(s);
    if (r == 1) {
        const char *t = mp_q_text(s, 0);
        *json = strdup(t ? t : "");
        *found = 1;
    }
    mp_q_reset(s);
    if (r == 1 && *json == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    return r >= 0 ? MP_OK : mp_ledger_err(l, "read DCL state");
}

int mp_ledger_dcl_put(mp_ledger *l, const char *key, const char *json)
{
    static const char q[] = "INSERT INTO dcl_state(key,json,exported_at) VALUES(?,?,?)"
                            " ON CONFLICT(key) DO UPDATE SET json=excluded.json, exported_at=excluded.exported_at";
    mp_q *s = mp_q_get(l, q);
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, key);
    mp_q_txt(s, 2, json);
    mp_q_i64(s, 3, (int64_t)time(NULL));
    return mp_ledger_step_done(l, s, "write DCL state");
}

int mp_ledger_dcl_delete(mp_ledger *l, const char *key)
{
    mp_q *s = mp_q_get(l, "DELETE FROM dcl_state WHERE key=?");
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, key);
    return mp_ledger_step_done(l, s, "delete DCL state");
}

int mp_ledger_dcl_each(mp_ledger *l, const char *prefix, int (*cb)(void *, const char *, const char *), void *ctx)
{
    /* substr(), not LIKE: a prefix may hold % or _ */
    static const char q[] = "SELECT key,json FROM dcl_state WHERE substr(key,1,length(?1))=?1 ORDER BY key";
    mp_q *s = mp_q_get(l, q);
    int rc = MP_OK, r = 0;
    if (s == NULL) return MP_ERR_DB;
    mp_q_txt(s, 1, prefix);
    while (rc == MP_OK && (r = mp_q_step(s)) == 1) {
        rc = cb(ctx, mp_q_text(s, 0), mp_q_text(s, 1));
    }
    if (rc == MP_OK && r < 0) rc = mp_ledger_err(l, "list DCL state");
    mp_q_reset(s);
    return rc;
}
