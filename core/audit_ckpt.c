/* audit_ckpt.c - see audit_ckpt.h. */
#include "audit_ckpt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "cd.h"
#include "ceremony.h"
#include "ledger_int.h"
#include "util.h"

static int row_hash(mp_ledger *l, int64_t seq, uint8_t out[32], int *found);

int mp_audit_log_checkpoint(mp_ledger *l, const mp_ceremony_cfg *rec, const char *what, mp_ks *ks, const mp_ks_key *key,
                            int64_t seq)
{
    uint8_t h[32];
    int found = 0;
    int rc = row_hash(l, seq, h, &found);
    if (rc == MP_OK && !found) rc = mp_err(MP_ERR_DB, "audit row %lld, just signed, cannot be read back", (long long)seq);
    return rc == MP_OK ? mp_ceremony_log_checkpoint(rec, what, ks, key, seq, h) : rc;
}

int mp_audit_sign_head(mp_ledger *l, mp_ks *ks, const mp_ks_key *key, int64_t key_id, int64_t *seq)
{
    mp_audit_checkpoint c;
    uint8_t digest[32];
    mp_ks_sess *s = NULL;
    int rc;
    *seq = 0;
    memset(&c, 0, sizeof(c));
    if ((rc = mp_ledger_audit_head(l, &c.seq, c.hash)) != MP_OK || c.seq == 0) return rc;
    mp_q *q = mp_q_get(l, "SELECT count(*) FROM audit_checkpoints WHERE seq=?");
    if (q == NULL) return MP_ERR_DB;
    mp_q_i64(q, 1, c.seq);
    int r = mp_q_step(q);
    int64_t have = r == 1 ? mp_q_int(q, 0) : 0;
    mp_q_reset(q);
    if (r != 1) return mp_ledger_err(l, "read the audit checkpoints");
    if (have > 0) return MP_OK; /* the head is signed already */
    mp_time_iso(time(NULL), c.at);
    c.key_id = key_id;
    mp_audit_checkpoint_digest(&c, digest);
    /* the signature first, then a short transaction (never one held across it) */
    if ((rc = mp_ks_sess_open(ks, key, &s)) == MP_OK) {
        c.sig_len = sizeof(c.sig);
        rc = mp_ks_sess_sign(s, digest, c.sig, &c.sig_len);
        mp_ks_sess_close(s);
    }
    if (rc != MP_OK) return mp_err_ctx(rc, "audit checkpoint");
    if ((rc = mp_ledger_begin(l)) == MP_OK && (rc = mp_ledger_checkpoint_add(l, &c)) == MP_OK) {
        rc = mp_ledger_commit(l);
    }
    mp_ledger_rollback(l);
    if (rc == MP_OK) *seq = c.seq;
    return rc;
}

int mp_audit_checkpoint_if_key(mp_ledger *l, mp_ks *ks, int64_t *seq, mp_ks_key *key)
{
    mp_audit_key ak;
    int found = 0;
    *seq = 0;
    int rc = mp_ledger_audit_key(l, &ak, &found);
    if (rc != MP_OK || !found) return rc;
    if (mp_ks_find(ks, ak.label, key) != MP_OK) {
        mp_err_clear();
        return MP_OK; /* the audit key lives in another token */
    }
    if (memcmp(key->point, ak.point, 65) != 0) {
        return mp_err(MP_ERR_MISMATCH, "key '%s' in token %s is not the ledger's audit key (SKID %s)", ak.label,
                      mp_ks_token_label(ks), ak.skid);
    }
    return mp_audit_sign_head(l, ks, key, ak.id, seq);
}

int mp_audit_command_end(mp_ledger *l, mp_ks *ks, const mp_ceremony_cfg *rec)
{
    int64_t seq = 0;
    mp_ks_key key;
    char what[64];
    if (l == NULL || ks == NULL || mp_ledger_audit_last(l) == 0) return MP_OK;
    int rc = mp_audit_checkpoint_if_key(l, ks, &seq, &key);
    if (rc != MP_OK || seq == 0) return rc;
    snprintf(what, sizeof(what), "audit checkpoint %lld", (long long)seq);
    return mp_audit_log_checkpoint(l, rec, what, ks, &key, seq);
}

static int newest_checkpoint(mp_ledger *l, int64_t *seq)
{
    mp_q *q = mp_q_get(l, "SELECT coalesce(max(seq), 0) FROM audit_checkpoints");
    if (q == NULL) return MP_ERR_DB;
    int r = mp_q_step(q);
    *seq = r == 1 ? mp_q_int(q, 0) : 0;
    mp_q_reset(q);
    return r == 1 ? MP_OK : mp_ledger_err(l, "read the newest audit checkpoint");
}

int mp_audit_every_init(mp_audit_every *e, mp_ledger *l, mp_ks *ks)
{
    mp_audit_key ak;
    int found = 0;
    memset(e, 0, sizeof(*e));
    const char *env = getenv("MATTER_PKI_AUDIT_EVERY");
    uint64_t every = 1000;
    if (env != NULL && *env && (mp_parse_uint(env, 1000000, &every) != MP_OK || every == 0)) {
        return mp_err(MP_ERR_USAGE, "MATTER_PKI_AUDIT_EVERY='%s': expected rows between checkpoints, 1..1000000", env);
    }
    e->every = (int64_t)every;
    int rc = mp_ledger_audit_key(l, &ak, &found);
    if (rc != MP_OK || !found) return rc;
    if (mp_ks_find(ks, ak.label, &e->key) != MP_OK) {
        mp_err_clear();
        return MP_OK; /* the audit key lives in another token */
    }
    if (memcmp(e->key.point, ak.point, 65) != 0) return MP_OK; /* the end-of-run checkpoint says so */
    if ((rc = newest_checkpoint(l, &e->signed_seq)) != MP_OK) return rc;
    e->key_id = ak.id;
    return MP_OK;
}

int mp_audit_every_tick(mp_audit_every *e, mp_ledger *l, mp_ks *ks, int64_t *seq)
{
    int64_t last = mp_ledger_audit_last(l);
    int rc;
    *seq = 0;
    if (e->key_id == 0 || last - e->signed_seq < e->every) return MP_OK;
    /* another station may have signed one meanwhile */
    if ((rc = newest_checkpoint(l, &e->signed_seq)) != MP_OK || last - e->signed_seq < e->every) return rc;
    if ((rc = mp_audit_sign_head(l, ks, &e->key, e->key_id, seq)) != MP_OK) return rc;
    if (*seq > e->signed_seq) e->signed_seq = *seq;
    return MP_OK;
}

typedef struct ck_ctx {
    mp_ledger *l;
    const uint8_t *pinned;
    int64_t last; /* the trail's last row */
    int64_t good; /* the last checkpoint that verified */
    mp_audit_result *r;
    int64_t key_id;
    EVP_PKEY *key;
    int rc;
} ck_ctx;

static int row_hash(mp_ledger *l, int64_t seq, uint8_t out[32], int *found)
{
    mp_q *q = mp_q_get(l, "SELECT hash FROM audit WHERE seq=?");
    if (q == NULL) return MP_ERR_DB;
    mp_q_i64(q, 1, seq);
    int r = mp_q_step(q);
    *found = 0;
    if (r == 1) {
        size_t n = 0;
        const uint8_t *p = mp_q_bytes(q, 0, &n);
        if (p != NULL && n == 32) {
            memcpy(out, p, 32);
            *found = 1;
        }
    }
    mp_q_reset(q);
    return r >= 0 ? MP_OK : mp_ledger_err(l, "read an audit row");
}

static int key_point(mp_ledger *l, int64_t id, uint8_t point[65], int *found)
{
    mp_q *q = mp_q_get(l, "SELECT pubkey FROM audit_keys WHERE id=?");
    if (q == NULL) return MP_ERR_DB;
    mp_q_i64(q, 1, id);
    int r = mp_q_step(q);
    *found = 0;
    if (r == 1) {
        size_t n = 0;
        const uint8_t *p = mp_q_bytes(q, 0, &n);
        if (p != NULL && n == 65) {
            memcpy(point, p, 65);
            *found = 1;
        }
    }
    mp_q_reset(q);
    return r >= 0 ? MP_OK : mp_ledger_err(l, "read an audit key");
}

static int bad(ck_ctx *x, int64_t seq, const char *what, long long a)
{
    x->r->bad = seq;
    snprintf(x->r->why, sizeof(x->r->why), "the checkpoint of row %lld: %s", a, what);
    return 1; /* stop */
}

static int check_one(void *arg, const mp_audit_checkpoint *c)
{
    ck_ctx *x = arg;
    uint8_t h[32], point[65], digest[32];
    int found = 0;
    x->r->checkpoints++;
    if (c->seq > x->last) {
        return bad(x, x->last + 1, "the trail no longer has that row: rows were deleted", c->seq);
    }
    if ((x->rc = row_hash(x->l, c->seq, h, &found)) != MP_OK) return x->rc;
    if (!found || memcmp(h, c->hash, 32) != 0) {
        /* the chain held, so it was recomputed after a change somewhere after the last good checkpoint */
        char what[160];
        snprintf(what, sizeof(what), "the row is not the one it signed: a row from %lld to %lld was changed and the "
                 "chain recomputed", (long long)x->good + 1, (long long)c->seq);
        return bad(x, c->seq, what, c->seq);
    }
    if (x->key == NULL || x->key_id != c->key_id) {
        EVP_PKEY_free(x->key);
        x->key = NULL;
        if ((x->rc = key_point(x->l, c->key_id, point, &found)) != MP_OK) return x->rc;
        if (!found) return bad(x, c->seq, "it names an audit key the ledger does not have", c->seq);
        if (x->pinned != NULL && memcmp(point, x->pinned, 65) != 0) {
            return bad(x, c->seq, "signed by another key than --audit-key", c->seq);
        }
        if ((x->key = mp_cd_point_key(point)) == NULL) return bad(x, c->seq, "its audit key is not a P-256 point", c->seq);
        x->key_id = c->key_id;
    }
    mp_audit_checkpoint_digest(c, digest);
    EVP_PKEY_CTX *v = EVP_PKEY_CTX_new(x->key, NULL);
    int ok = v != NULL && EVP_PKEY_verify_init(v) == 1 && EVP_PKEY_verify(v, c->sig, c->sig_len, digest, 32) == 1;
    EVP_PKEY_CTX_free(v);
    if (!ok) return bad(x, c->seq, "the signature does not verify", c->seq);
    x->good = c->seq;
    return MP_OK;
}

/* The audit keys a ceremony-log signature may be by: --audit-key when
 * given, else every audit key of the ledger. */
typedef struct trusted {
    uint8_t point[65];
    char skid[41];
} trusted;

static int trusted_keys(mp_ledger *l, const uint8_t *pinned, trusted *t, size_t cap, size_t *n)
{
    *n = 0;
    if (pinned != NULL) {
        uint8_t kid[20];
        memcpy(t[0].point, pinned, 65);
        mp_skid(pinned, kid);
        mp_hex(kid, 20, t[0].skid, 1);
        *n = 1;
        return MP_OK;
    }
    mp_q *q = mp_q_get(l, "SELECT pubkey FROM audit_keys ORDER BY id");
    int r;
    if (q == NULL) return MP_ERR_DB;
    while ((r = mp_q_step(q)) == 1) {
        size_t len = 0;
        const uint8_t *p = mp_q_bytes(q, 0, &len);
        if (p == NULL || len != 65 || *n == cap) continue;
        uint8_t kid[20];
        memcpy(t[*n].point, p, 65);
        mp_skid(p, kid);
        mp_hex(kid, 20, t[*n].skid, 1);
        (*n)++;
    }
    return r < 0 ? mp_ledger_err(l, "read the audit keys") : MP_OK;
}

/* A signed line's signature: 1 it verifies by a trusted key, 0 it names no
 * trusted key (another ledger's), -1 it names a trusted key and does not
 * verify, -2 its "sig" is malformed. */
static int line_sig(const char *line, size_t len, json_t *o, const trusted *t, size_t nt)
{
    uint8_t digest[32], sig[80];
    char hex[2 * sizeof(sig) + 1];
    if (mp_ceremony_signed_digest(line, len, digest, hex, sizeof(hex)) != 0) return -2;
    const char *skid = json_string_value(json_object_get(o, "audit_skid"));
    const trusted *k = NULL;
    for (size_t i = 0; skid != NULL && i < nt && k == NULL; i++) {
        if (strcmp(t[i].skid, skid) == 0) k = &t[i];
    }
    if (k == NULL) return 0;
    long n = strlen(hex) % 2 == 0 ? mp_unhex(hex, sig, sizeof(sig)) : -1;
    EVP_PKEY *pk = n > 0 ? mp_cd_point_key(k->point) : NULL;
    EVP_PKEY_CTX *v = pk ? EVP_PKEY_CTX_new(pk, NULL) : NULL;
    int ok = v != NULL && EVP_PKEY_verify_init(v) == 1 && EVP_PKEY_verify(v, sig, (size_t)n, digest, 32) == 1;
    EVP_PKEY_CTX_free(v);
    EVP_PKEY_free(pk);
    return ok ? 1 : -1;
}

static int is_trusted_point(json_t *o, const trusted *t, size_t nt)
{
    const char *hex = json_string_value(json_object_get(o, "audit_key"));
    uint8_t pt[65];
    if (hex == NULL || strlen(hex) != 130 || mp_unhex(hex, pt, sizeof(pt)) != 65) return 0;
    for (size_t i = 0; i < nt; i++) {
        if (memcmp(t[i].point, pt, 65) == 0) return 1;
    }
    return 0;
}

static void bad_line(mp_audit_result *r, long no, const char *path, const char *what)
{
    r->bad_line = no;
    snprintf(r->why, sizeof(r->why), "%s line %ld %s", path, no, what);
}

/* The ceremony log: from its first line that carries "prev", each line's
 * prev is the SHA-256 (hex) of the line before it; every signature by a
 * trusted audit key verifies; and from the line that announced that key
 * (`audit init`) on, every line is covered by a signed line at or after it
 * (the signed bytes hold "prev": a signature covers all lines before). */
/* A signed checkpoint entry (audit_seq, audit_hash) held to the trail: 0
 * when it matches or is no such entry, 1 when r->bad was set. */
static int held_to_trail(mp_ledger *l, json_t *o, const char *path, long no, mp_audit_result *r, int *rc)
{
    json_t *js = json_object_get(o, "audit_seq");
    const char *jh = json_string_value(json_object_get(o, "audit_hash"));
    uint8_t want[32], have[32];
    int found = 0;
    if (!json_is_integer(js) || jh == NULL) return 0;
    long long seq = (long long)json_integer_value(js);
    if (strlen(jh) != 64 || mp_unhex(jh, want, sizeof(want)) != 32) {
        bad_line(r, no, path, "has a malformed audit_hash");
        return 1;
    }
    if ((*rc = row_hash(l, seq, have, &found)) != MP_OK) return 1;
    if (!found) {
        r->bad = seq > 0 ? seq : 1;
        snprintf(r->why, sizeof(r->why), "%s line %ld records the signed checkpoint of row %lld, which the trail no longer "
                 "has: rows were cut off its end (or the line is about a ledger copied from this one by `ledger migrate`)",
                 path, no, seq);
        return 1;
    }
    if (memcmp(want, have, 32) != 0) {
        r->bad = seq;
        snprintf(r->why, sizeof(r->why), "%s line %ld records the signed checkpoint of row %lld with another hash: a row up "
                 "to %lld was changed, the chain recomputed and the checkpoint taken out of the ledger", path, no, seq, seq);
        return 1;
    }
    return 0;
}

static int check_ceremony(mp_ledger *l, const char *path, const trusted *t, size_t nt, mp_audit_result *r)
{
    int hrc = MP_OK;
    FILE *f = fopen(path, "r");
    if (f == NULL) return errno == ENOENT ? MP_OK : mp_err(MP_ERR_IO, "%s: %s", path, strerror(errno));
    char *line = NULL, prev_hex[65] = "";
    size_t cap = 0;
    ssize_t n;
    int chained = 0;
    long no = 0, announced = 0, last_signed = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        no++;
        size_t len = (size_t)n;
        if (line[len - 1] == '\n') len--;
        json_t *o = json_loadb(line, len, 0, NULL);
        const char *p = o ? json_string_value(json_object_get(o, "prev")) : NULL;
        if (o == NULL) {
            bad_line(r, no, path, "is not JSON");
        } else if (p != NULL || chained) {
            if (p == NULL || (no > 1 && strcmp(p, prev_hex) != 0) || (no == 1 && strspn(p, "0") != 64)) {
                bad_line(r, no, path, "does not chain to the line before it (changed, removed or inserted)");
            }
            chained = 1;
        }
        if (r->bad_line == 0 && o != NULL && json_object_get(o, "sig") != NULL) {
            int v = line_sig(line, len, o, t, nt);
            if (v == -2) bad_line(r, no, path, "has a malformed signature (\"sig\" must be the last member, hex)");
            else if (v == -1) bad_line(r, no, path, "is not what the audit key signed: its signature does not verify (changed or forged)");
            else if (v == 1) {
                last_signed = no;
                r->ceremony_signed++;
                if (announced == 0) announced = no;
                (void)held_to_trail(l, o, path, no, r, &hrc);
            }
        }
        if (r->bad_line == 0 && announced == 0 && o != NULL && is_trusted_point(o, t, nt)) announced = no;
        json_decref(o);
        if (r->bad_line || r->bad || hrc != MP_OK) break;
        uint8_t h[32];
        unsigned int hl = 0;
        EVP_Digest(line, len, h, &hl, EVP_sha256(), NULL);
        mp_hex(h, 32, prev_hex, 0);
        r->ceremony_lines++;
    }
    free(line);
    fclose(f);
    if (hrc != MP_OK) return hrc;
    if (r->bad_line == 0 && r->bad == 0 && announced > 0 && last_signed < no) {
        bad_line(r, last_signed + 1 > announced ? last_signed + 1 : announced, path,
                 "and the lines after it are signed by no audit key of this ledger and no later signed line covers them"
                 " (written with a token that lacks the audit key, or added by hand): `audit checkpoint` with the audit"
                 " key's token signs the log's head");
    }
    return MP_OK;
}

int mp_audit_verify_all(mp_ledger *l, const uint8_t *pinned, const char *ceremony_log, mp_audit_result *r)
{
    memset(r, 0, sizeof(*r));
    int rc = mp_ledger_audit_verify(l, &r->bad, r->why, sizeof(r->why), &r->rows);
    if (rc != MP_OK || r->bad) return rc;
    ck_ctx x = {.l = l, .pinned = pinned, .last = (int64_t)r->rows, .r = r};
    rc = mp_ledger_each_checkpoint(l, check_one, &x);
    EVP_PKEY_free(x.key);
    if (rc == 1) rc = MP_OK;
    if (rc != MP_OK) return x.rc != MP_OK ? x.rc : rc;
    if (r->bad) return MP_OK;
    if (pinned != NULL && r->checkpoints == 0 && r->rows > 0) {
        r->bad = 1;
        snprintf(r->why, sizeof(r->why), "--audit-key given but the trail has no signed checkpoint");
        return MP_OK;
    }
    if (ceremony_log == NULL) return MP_OK;
    trusted t[16];
    size_t nt = 0;
    if ((rc = trusted_keys(l, pinned, t, 16, &nt)) != MP_OK) return rc;
    return check_ceremony(l, ceremony_log, t, nt, r);
}
