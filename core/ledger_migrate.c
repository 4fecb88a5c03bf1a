/* ledger_migrate.c - copy a ledger into an empty one (SQLite to PostgreSQL:
 * `ledger migrate --to URI`), every row with its IDs, the audit chain as it
 * is, then verify the copy table by table (row count and the sum of the
 * rows' SHA-256 read back from the destination). One transaction on the destination:
 * it holds the whole copy or nothing. */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "ledger.h"
#include "ledger_int.h"

typedef struct table {
    const char *name, *cols, *order;
    int ncols;
    const char *serial; /* its id column on PostgreSQL has a sequence to move on */
} table;

/* In the order foreign keys allow; audit_head is copied by an UPDATE. */
static const table tables[] = {
    {"chip_lists", "id,sha256,format,source,signed,signer,count,imported_at", "id", 8, "id"},
    {"devices", "udid,pubkey,list_id,state,key_origin,created_at,lease,lease_until,lease_order", "udid", 9, NULL},
    {"orders", "id,vid,pid,pai_cert,pai_key,pai_skid,quota,issued,cn_template,valid_from,days,closed,created_at,label", "id", 14, "id"},
    {"dac_batches", "id,order_id,pai_skid,not_before,not_after,dir,station,issued_at,written", "id", 9, "id"},
    {"dacs", "id,udid,profile,order_id,batch,serial,sha256,der,path", "id", 9, "id"},
    {"revocations", "serial,pai_skid,reason,revoked_at", "pai_skid,serial", 4, NULL},
    {"crl_numbers", "pai_skid,next", "pai_skid", 2, NULL},
    {"crl_published", "issuer_skid,issuer_der,signer_der,number,this_update,next_update", "issuer_skid", 6, NULL},
    {"dcl_state", "key,json,exported_at", "key", 3, NULL},
    {"factory_data", "udid,order_id,serial,discriminator,iterations,salt,verifier,rd_uid,passcode,mfg_date,written,built_at", "udid", 12, NULL},
    {"fd_claims", "udid,lease,until,dir", "udid", 4, NULL},
    {"fd_images", "udid,format,sha256", "udid,format", 3, NULL},
    {"serial_counters", "template,next", "template", 2, NULL},
    {"stations", "name,enabled,issued,created_at", "name", 4, NULL},
    {"order_stations", "order_id,station,quota,issued", "order_id,station", 4, NULL},
    {"station_certs", "serial,name,not_after,issued_at,revoked_at", "serial", 5, NULL},
    {"audit", "seq,at,station,operator,event,objects,detail,prev,hash", "seq", 9, NULL},
    {"audit_head", "seq,hash", "id", 2, NULL},
    {"audit_keys", "id,label,skid,pubkey,created_at", "id", 5, "id"},
    {"audit_checkpoints", "seq,hash,at,key_id,sig", "seq", 5, NULL},
};
#define NT (sizeof(tables) / sizeof(tables[0]))

/* The statements, built once (a statement is cached by its text's address). */
static char sel[NT][512], ins[NT][768];

static void build_sql(void)
{
    for (size_t t = 0; t < NT; t++) {
        const table *tb = &tables[t];
        snprintf(sel[t], sizeof(sel[t]), "SELECT %s FROM %s ORDER BY %s", tb->cols, tb->name, tb->order);
        if (strcmp(tb->name, "audit_head") == 0) {
            snprintf(ins[t], sizeof(ins[t]), "UPDATE audit_head SET seq=?,hash=? WHERE id=1");
            continue;
        }
        int o = snprintf(ins[t], sizeof(ins[t]), "INSERT INTO %s(%s) VALUES(", tb->name, tb->cols);
        for (int i = 0; i < tb->ncols; i++) o += snprintf(ins[t] + o, sizeof(ins[t]) - (size_t)o, "%s?", i ? "," : "");
        snprintf(ins[t] + o, sizeof(ins[t]) - (size_t)o, ")");
    }
}

static void digest_value(EVP_MD_CTX *m, mp_q *q, int c)
{
    char buf[32];
    size_t n = 0;
    const void *p = NULL;
    int t = mp_q_type(q, c);
    if (t == 'i') {
        n = (size_t)snprintf(buf, sizeof(buf), "%lld", (long long)mp_q_int(q, c));
        p = buf;
    } else if (t == 't') {
        p = mp_q_text(q, c);
        n = strlen(p);
    } else if (t == 'b') {
        p = mp_q_bytes(q, c, &n);
    }
    uint8_t head[9] = {(uint8_t)t};
    for (int i = 0; i < 8; i++) head[1 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    EVP_DigestUpdate(m, head, sizeof(head));
    if (n) EVP_DigestUpdate(m, p, n);
}

/* Rows and a digest of a table as this ledger reads it: the sum (mod 2^256)
 * of each row's SHA-256, so the row order does not matter (a PostgreSQL
 * database's collation may sort text keys otherwise than SQLite does). */
static int table_digest(mp_ledger *l, size_t t, uint64_t *rows, uint8_t out[32])
{
    int r;
    mp_q *q = mp_q_get(l, sel[t]);
    if (q == NULL) return MP_ERR_DB;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (m == NULL) {
        mp_q_reset(q);
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    memset(out, 0, 32);
    *rows = 0;
    while ((r = mp_q_step(q)) == 1) {
        uint8_t h[32];
        unsigned int len = 0, carry = 0;
        EVP_DigestInit_ex(m, EVP_sha256(), NULL);
        for (int c = 0; c < tables[t].ncols; c++) digest_value(m, q, c);
        EVP_DigestFinal_ex(m, h, &len);
        for (int i = 31; i >= 0; i--) {
            carry += (unsigned int)out[i] + h[i];
            out[i] = (uint8_t)carry;
            carry >>= 8;
        }
        (*rows)++;
    }
    EVP_MD_CTX_free(m);
    return r < 0 ? mp_ledger_err(l, tables[t].name) : MP_OK;
}

static int copy_table(mp_ledger *src, mp_ledger *dst, size_t t, uint64_t *rows)
{
    mp_q *q = mp_q_get(src, sel[t]);
    int r;
    if (q == NULL) return MP_ERR_DB;
    *rows = 0;
    while ((r = mp_q_step(q)) == 1) {
        mp_q *w = mp_q_get(dst, ins[t]);
        if (w == NULL) {
            mp_q_reset(q);
            return MP_ERR_DB;
        }
        for (int c = 0; c < tables[t].ncols; c++) {
            size_t n = 0;
            const uint8_t *p;
            switch (mp_q_type(q, c)) {
            case 'i': mp_q_i64(w, c + 1, mp_q_int(q, c)); break;
            case 't': mp_q_txt(w, c + 1, mp_q_text(q, c)); break;
            case 'b':
                p = mp_q_bytes(q, c, &n);
                mp_q_blob(w, c + 1, p, n);
                break;
            case 'n': mp_q_null(w, c + 1); break;
            default:
                mp_q_reset(q);
                return mp_err(MP_ERR_DB, "ledger %s: table %s: a value of an unexpected type", mp_ledger_path(src), tables[t].name);
            }
        }
        if (mp_q_step(w) < 0) {
            mp_q_reset(q);
            char what[96];
            snprintf(what, sizeof(what), "copy table %s (row %llu)", tables[t].name, (unsigned long long)*rows + 1);
            return mp_ledger_err(dst, what);
        }
        (*rows)++;
    }
    return r < 0 ? mp_ledger_err(src, tables[t].name) : MP_OK;
}

int mp_ledger_copy(mp_ledger *src, mp_ledger *dst, uint64_t *total)
{
    int rc;
    *total = 0;
    build_sql();
    mp_q *q = mp_q_get(dst, "SELECT (SELECT count(*) FROM chip_lists)+(SELECT count(*) FROM devices)+(SELECT count(*) FROM orders)"
                            "+(SELECT count(*) FROM stations)+(SELECT count(*) FROM audit)");
    if (q == NULL) return MP_ERR_DB;
    if (mp_q_step(q) != 1) return mp_ledger_err(dst, "check that the destination is empty");
    int64_t have = mp_q_int(q, 0);
    mp_q_reset(q);
    if (have != 0) {
        return mp_err(MP_ERR_EXISTS, "ledger %s is not empty (%lld rows in its main tables): migrate into an empty database",
                      mp_ledger_path(dst), (long long)have);
    }
    /* one snapshot of the source for the copy and its verification */
    if (mp_ledger_exec(src, mp_ledger_is_pg(src) ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN") != MP_OK) {
        return mp_ledger_err(src, "begin a read transaction");
    }
    if ((rc = mp_ledger_begin(dst)) != MP_OK) {
        mp_ledger_rollback(src);
        return rc;
    }
    for (size_t t = 0; rc == MP_OK && t < NT; t++) {
        uint64_t n = 0;
        rc = copy_table(src, dst, t, &n);
        *total += n;
    }
    /* the copied IDs: PostgreSQL's sequences go on after them */
    for (size_t t = 0; rc == MP_OK && mp_ledger_is_pg(dst) && t < NT; t++) {
        static char setval[NT][256];
        if (tables[t].serial == NULL) continue;
        snprintf(setval[t], sizeof(setval[t]), "SELECT setval(pg_get_serial_sequence('%s','%s'), coalesce(max(%s),0)+1, false) FROM %s",
                 tables[t].name, tables[t].serial, tables[t].serial, tables[t].name);
        if ((q = mp_q_get(dst, setval[t])) == NULL || mp_q_step(q) != 1) {
            rc = q ? mp_ledger_err(dst, "move a sequence on") : MP_ERR_DB;
        }
        if (q) mp_q_reset(q);
    }
    /* verify: every table read back from the destination, inside the transaction */
    for (size_t t = 0; rc == MP_OK && t < NT; t++) {
        uint64_t a = 0, b = 0;
        uint8_t ha[32], hb[32];
        if ((rc = table_digest(src, t, &a, ha)) != MP_OK || (rc = table_digest(dst, t, &b, hb)) != MP_OK) break;
        if (a != b || memcmp(ha, hb, 32) != 0) {
            rc = mp_err(MP_ERR_DB, "ledger migrate: table %s differs after the copy (%llu rows in %s, %llu in %s): nothing was kept",
                        tables[t].name, (unsigned long long)a, mp_ledger_path(src), (unsigned long long)b, mp_ledger_path(dst));
        }
    }
    if (rc == MP_OK) {
        char detail[4300];
        snprintf(detail, sizeof(detail), "{\"rows\":%llu,\"from\":\"%s\"}", (unsigned long long)*total, mp_ledger_path(src));
        for (char *p = detail + 9; *p; p++) {
            if (*p == '\\') *p = '/';
        }
        rc = mp_ledger_audit(dst, mp_ledger_station_default(), "ledger.migrate", "", detail);
    }
    if (rc == MP_OK) rc = mp_ledger_commit(dst);
    mp_ledger_rollback(dst);
    mp_ledger_rollback(src);
    return rc;
}
