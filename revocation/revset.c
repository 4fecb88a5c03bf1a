/* revset.c - the revocation set (matter-attestation.md 7.3) exactly as the
 * SDK's credentials/generate_revocation_set.py writes it, from the CRLs the
 * ledger recorded and from CRL files, and the `revocation-set` command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "b64.h"
#include "crl.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"
#include "verify/verify.h"
#include "x509.h"

static json_t *b64_of(const uint8_t *d, size_t n)
{
    size_t cap = (n + 2) / 3 * 4 + 1;
    char *s = malloc(cap);
    json_t *j = s && mp_b64_encode(d, n, s, cap) ? json_string(s) : NULL;
    free(s);
    return j;
}

static json_t *cert_b64(X509 *x)
{
    uint8_t *der = NULL;
    size_t n = 0;
    json_t *j = mp_cert_der(x, &der, &n) == MP_OK ? b64_of(der, n) : NULL;
    OPENSSL_free(der);
    return j;
}

/* One entry: the authority whose certificates are listed (details), the
 * signer, the delegator (PAI-delegated signer only) and the serials. */
static json_t *entry(X509 *details, X509 *signer, X509 *delegator, json_t *serials)
{
    uint8_t skid[20];
    char hex[41];
    const uint8_t *name;
    size_t nlen;
    json_t *e = json_object();
    if (mp_cert_skid(details, skid) != 0 || X509_NAME_get0_der(X509_get_subject_name(details), &name, &nlen) != 1) {
        json_decref(e);
        json_decref(serials);
        return NULL;
    }
    mp_hex(skid, 20, hex, 1);
    json_object_set_new(e, "type", json_string("revocation_set"));
    json_object_set_new(e, "issuer_subject_key_id", json_string(hex));
    json_object_set_new(e, "issuer_name", b64_of(name, nlen));
    json_object_set_new(e, "revoked_serial_numbers", serials);
    json_object_set_new(e, "crl_signer_cert", cert_b64(signer));
    json_object_set_new(e, "crl_signer_delegator", delegator ? cert_b64(delegator) : json_null());
    return e;
}

static int self_signed(X509 *x)
{
    return X509_check_issued(x, x) == X509_V_OK;
}

/* Step 9 of the script: the PAA for a PAA-delegated signer, the delegator
 * for a PAI-delegated one, else the signer itself. */
static void authority(X509 *issuer, X509 *signer, X509 **details, X509 **delegator)
{
    *delegator = NULL;
    if (X509_cmp(issuer, signer) == 0) {
        *details = signer;
    } else if (self_signed(issuer)) {
        *details = issuer;
    } else {
        *details = issuer;
        *delegator = issuer;
    }
}

typedef struct ledger_walk {
    mp_ledger *l;
    json_t *set;
    int rc;
} ledger_walk;

static int add_serial(void *ctx, const char *serial, time_t when, const char *reason)
{
    (void)when;
    (void)reason;
    char s[42];
    size_t n = strlen(serial);
    snprintf(s, sizeof(s), "%s%s", n % 2 ? "0" : "", serial);
    return json_array_append_new(ctx, json_string(s)) == 0 ? MP_OK : mp_err(MP_ERR_GENERAL, "out of memory");
}

static int from_record(void *ctx, const mp_crl_rec *r)
{
    ledger_walk *w = ctx;
    X509 *issuer = NULL, *signer = NULL, *details, *deleg;
    json_t *serials = json_array(), *e;
    int rc = mp_cert_from_mem(r->issuer_der, r->issuer_len, &issuer);
    if (rc == MP_OK) rc = mp_cert_from_mem(r->signer_der, r->signer_len, &signer);
    if (rc == MP_OK) rc = mp_ledger_each_revoked(w->l, r->issuer_skid, add_serial, serials);
    if (rc == MP_OK) {
        authority(issuer, signer, &details, &deleg);
        e = entry(details, signer, deleg, serials);
        serials = NULL;
        rc = e && json_array_append_new(w->set, e) == 0 ? MP_OK : mp_err(MP_ERR_GENERAL, "cannot build the revocation set entry of %s", r->issuer_skid);
    }
    json_decref(serials);
    X509_free(issuer);
    X509_free(signer);
    return rc;
}

static X509 *pool_find(X509 **pool, size_t n, const X509_NAME *subject, const uint8_t *skid)
{
    uint8_t k[20];
    for (size_t i = 0; i < n; i++) {
        if (X509_NAME_cmp(X509_get_subject_name(pool[i]), subject) == 0 &&
            (skid == NULL || (mp_cert_skid(pool[i], k) == 0 && memcmp(k, skid, 20) == 0))) {
            return pool[i];
        }
    }
    return NULL;
}

/* The serials of a CRL file; entries naming another certificate issuer
 * (indirect CRL) are left out, as the script does. */
static json_t *crl_serials(X509_CRL *crl, X509 *details)
{
    json_t *a = json_array();
    STACK_OF(X509_REVOKED) *rs = X509_CRL_get_REVOKED(crl);
    for (int i = 0; i < sk_X509_REVOKED_num(rs); i++) {
        X509_REVOKED *r = sk_X509_REVOKED_value(rs, i);
        GENERAL_NAMES *g = X509_REVOKED_get_ext_d2i(r, NID_certificate_issuer, NULL, NULL);
        int other = 0;
        if (g != NULL) {
            GENERAL_NAME *n = sk_GENERAL_NAME_num(g) > 0 ? sk_GENERAL_NAME_value(g, 0) : NULL;
            other = n == NULL || n->type != GEN_DIRNAME || X509_NAME_cmp(n->d.dirn, X509_get_subject_name(details)) != 0;
            GENERAL_NAMES_free(g);
        }
        if (other) continue;
        char hex[41];
        mp_va_serial_hex(X509_REVOKED_get0_serialNumber(r), hex);
        json_array_append_new(a, json_string(hex));
    }
    return a;
}

static int from_crl(X509_CRL *crl, const char *name, X509 **pool, size_t n, json_t *set)
{
    AUTHORITY_KEYID *ak = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL, NULL);
    uint8_t akid[20], k[20];
    int has = ak && ak->keyid && ASN1_STRING_length(ak->keyid) == 20;
    if (has) memcpy(akid, ASN1_STRING_get0_data(ak->keyid), 20);
    AUTHORITY_KEYID_free(ak);
    if (!has) return mp_err(MP_ERR_PROFILE, "%s: the CRL has no 20-byte authorityKeyIdentifier (commissioners skip it)", name);
    X509 *signer = pool_find(pool, n, X509_CRL_get_issuer(crl), akid), *issuer, *details, *deleg;
    if (signer == NULL) {
        return mp_err(MP_ERR_INVALID, "%s: no --cert whose subject is the CRL issuer and whose SKID is the CRL's AKID (the CRL signer)", name);
    }
    if (X509_CRL_verify(crl, X509_get0_pubkey(signer)) != 1) {
        ERR_clear_error();
        return mp_err(MP_ERR_VERIFY, "%s: the CRL's signature does not verify with its signer's key", name);
    }
    if (self_signed(signer) || (X509_get_extension_flags(signer) & EXFLAG_CA)) {
        issuer = signer; /* the PAA or PAI signs its own CRL */
    } else if (mp_cert_akid(signer, k) != 0 || (issuer = pool_find(pool, n, X509_get_issuer_name(signer), k)) == NULL) {
        return mp_err(MP_ERR_INVALID, "%s: the delegated CRL signer's issuer (PAA or PAI) is not among the --cert files", name);
    } else if (mp_crl_check_delegated(signer, issuer, "CRL signer") != MP_OK) {
        return mp_err_code();
    }
    authority(issuer, signer, &details, &deleg);
    json_t *e = entry(details, signer, deleg, crl_serials(crl, details));
    return e && json_array_append_new(set, e) == 0 ? MP_OK : mp_err(MP_ERR_GENERAL, "%s: cannot build its entry", name);
}

int mp_revset_build(mp_ledger *l, X509_CRL **crls, const char **crl_names, size_t n_crls, X509 **pool, size_t n_pool,
                    json_t **out)
{
    ledger_walk w = {l, json_array(), MP_OK};
    int rc = w.set ? MP_OK : mp_err(MP_ERR_GENERAL, "out of memory");
    if (rc == MP_OK && l != NULL) rc = mp_ledger_each_crl(l, from_record, &w);
    for (size_t i = 0; rc == MP_OK && i < n_crls; i++) {
        rc = from_crl(crls[i], crl_names[i], pool, n_pool, w.set);
    }
    if (rc != MP_OK) {
        json_decref(w.set);
        return rc;
    }
    *out = w.set;
    return MP_OK;
}

char *mp_revset_dumps(json_t *set)
{
    /* json.dump(..., indent=4): 4-space indent, ", "/": " separators,
     * no trailing newline; jansson's JSON_INDENT(4) writes the same. */
    return json_dumps(set, JSON_INDENT(4) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
}

/* ---- revocation-set ------------------------------------------------------- */

enum { O_OUT = 1, O_CRL, O_CERT, O_NO_LEDGER };

static const mp_opt revset_opts[] = {
    {"out", O_OUT, OT_OUT | OT_REQUIRED, "FILE", "revocation-set JSON output"},
    {"crl", O_CRL, OT_FILE, "FILE", "a CRL file (DER or PEM) to add (repeatable)"},
    {"cert", O_CERT, OT_FILE, "FILE", "certificates that resolve --crl files: CRL signers, delegators, PAAs (repeatable)"},
    {"ledger", OPT_LEDGER, OT_STR, "PATH", "ledger database (default STATE_DIR/ledger.sqlite)"},
    {"no-ledger", O_NO_LEDGER, OT_FLAG, NULL, "only the --crl files, not the ledger's CRLs"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace an existing output file"},
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

#define MAX_IN 64

int revocation_set_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *out = NULL, *crl_names[MAX_IN];
    X509_CRL *crls[MAX_IN];
    X509 *pool[MAX_IN];
    size_t nc = 0, np = 0;
    int id, rc = MP_OK, no_ledger = 0;
    json_t *set = NULL;
    char *text = NULL;
    mp_opt_init(&p, argc, argv, revset_opts, "revocation-set", "--out revset.json [--crl FILE --cert FILE ...] [--no-ledger]",
                "Writes the revocation set that chip-tool reads with --dac-revocation-set-path, in the\n"
                "format of the SDK's generate_revocation_set.py: one entry per CRL the ledger recorded\n"
                "(`pai crl`, `paa crl`) with the ledger's revoked serials, and one per --crl file.");
    while (rc == MP_OK && (id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id == O_OUT) out = val;
        else if (id == O_NO_LEDGER) no_ledger = 1;
        else if ((id == O_CRL && nc == MAX_IN) || (id == O_CERT && np == MAX_IN)) rc = mp_err(MP_ERR_USAGE, "revocation-set: at most %d --crl and --cert", MAX_IN);
        else if (id == O_CRL) { crl_names[nc] = val; if ((rc = mp_crl_load(val, &crls[nc])) == MP_OK) nc++; }
        else if (id == O_CERT) { if ((rc = mp_cert_load(val, &pool[np])) == MP_OK) np++; }
        else if (!mp_opt_common(&c, id, val)) rc = mp_err(MP_ERR_USAGE, "revocation-set: unexpected argument '%s'", val ? val : "");
    }
    if (rc == MP_OK && id < 0) rc = -id;
    mp_common_finish(&c);
    if (rc == MP_OK) rc = mp_check_output(out, c.force);
    /* the row says NEEDS_LATE: with --no-ledger no ledger (or state) is needed */
    if (rc == MP_OK && !no_ledger) rc = mp_cmd_open(mc, &c);
    if (rc == MP_OK) rc = mp_revset_build(mc->ledger, crls, crl_names, nc, pool, np, &set);
    if (rc == MP_OK && (text = mp_revset_dumps(set)) == NULL) rc = mp_err(MP_ERR_GENERAL, "out of memory");
    if (rc == MP_OK) rc = mp_write_file(out, text, strlen(text), 0644, c.force);
    if (rc == MP_OK && !c.quiet) printf("revocation set with %zu entr%s written to %s\n", json_array_size(set),
                                        json_array_size(set) == 1 ? "y" : "ies", out);
    free(text);
    json_decref(set);
    for (size_t i = 0; i < nc; i++) X509_CRL_free(crls[i]);
    for (size_t i = 0; i < np; i++) X509_free(pool[i]);
    return rc;
}
