/* dcl_changes.c - DCL records after launch: update/delete of revocation
 * points, the CRL served at a point's dataURL, and `dcl export changes`,
 * which compares what the product file, certificates and ledger say now
 * with the records stored in the ledger at the last export and writes only
 * the transactions that move the DCL from one to the other, each checked
 * against the DCL's update rules (fields the keeper never changes, fields an
 * update cannot clear, OTA metadata fixed once set, revisions that must
 * increase by one). See dcl_export.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "dcl_build.h"
#include "dcl_cert.h"
#include "dcl_export.h"
#include "dcl_json.h"
#include "ledger.h"
#include "revocation/crl.h"
#include "util.h"
#include "verify/verify.h"
#include "x509.h"

/* ---- revocation points ------------------------------------------------------ */

int dcl_rp_project(const dcl_ctx *c, const dcl_schema *to, json_t *add, json_t **msg)
{
    json_t *m = dcl_msg_new(to, c->ver);
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) {
        json_t *from = json_object_get(add, k);
        if (strcmp(k, "@type") != 0 && from != NULL) json_object_set(m, k, from);
    }
    int rc = dcl_validate(to, m, c->ver, NULL);
    if (rc != MP_OK) {
        json_decref(m);
        return rc;
    }
    *msg = m;
    return MP_OK;
}

static int idp_uri(X509_CRL *crl, char *out, size_t cap)
{
    ISSUING_DIST_POINT *idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, NULL, NULL);
    int n = 0;
    out[0] = 0;
    if (idp && idp->distpoint && idp->distpoint->type == 0) {
        GENERAL_NAMES *g = idp->distpoint->name.fullname;
        n = sk_GENERAL_NAME_num(g);
        GENERAL_NAME *e = n == 1 ? sk_GENERAL_NAME_value(g, 0) : NULL;
        if (e != NULL && e->type == GEN_URI) {
            snprintf(out, cap, "%.*s", ASN1_STRING_length(e->d.uniformResourceIdentifier),
                     (const char *)ASN1_STRING_get0_data(e->d.uniformResourceIdentifier));
        }
    }
    ISSUING_DIST_POINT_free(idp);
    return n;
}

int dcl_rp_crl_check(const char *path, X509 *signer, const char *data_url)
{
    uint8_t *buf = NULL, skid[20];
    size_t len = 0;
    char uri[300];
    int rc = mp_read_file(path, 16 * 1024 * 1024, &buf, &len);
    if (rc != MP_OK) return rc;
    const uint8_t *p = buf;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
    AUTHORITY_KEYID *ak = crl ? X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL, NULL) : NULL;
    if (crl == NULL || p != buf + len) {
        rc = mp_err(MP_ERR_INVALID, "--crl-file %s: not a DER CRL (commissioners download the dataURL as DER)", path);
    } else if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(signer)) != 0) {
        rc = mp_err(MP_ERR_MISMATCH, "--crl-file %s: the CRL's issuer is not the point's CRL signer", path);
    } else if (ak == NULL || ak->keyid == NULL || mp_cert_skid(signer, skid) != 0 || ASN1_STRING_length(ak->keyid) != 20 ||
               memcmp(ASN1_STRING_get0_data(ak->keyid), skid, 20) != 0) {
        rc = mp_err(MP_ERR_MISMATCH, "--crl-file %s: the CRL's authorityKeyIdentifier is not the CRL signer's SKID", path);
    } else if (X509_CRL_verify(crl, X509_get0_pubkey(signer)) != 1) {
        rc = mp_err(MP_ERR_VERIFY, "--crl-file %s: the CRL's signature does not verify with the CRL signer's key", path);
    } else if (idp_uri(crl, uri, sizeof(uri)) > 0 && strcmp(uri, data_url ? data_url : "") != 0) {
        rc = mp_err(MP_ERR_MISMATCH, "--crl-file %s: its IssuingDistributionPoint URI '%s' is not the dataURL '%s'", path, uri,
                    data_url ? data_url : "");
    } else {
        fprintf(stderr, "note: --crl-file %s matches the point (%zu bytes); dataFileSize/dataDigest stay 0/\"\": "
                        "the DCL refuses them for revocationType 1 (ErrDataFieldPresented)\n", path, len);
    }
    ERR_clear_error();
    AUTHORITY_KEYID_free(ak);
    X509_CRL_free(crl);
    free(buf);
    return rc;
}

/* ---- the change set --------------------------------------------------------- */

#define MAX_OUT 32

typedef struct change {
    char name[80];   /* file name without .json */
    json_t *doc;     /* tx or hand-off */
} change;

typedef struct run {
    const dcl_args *a;
    const dcl_ctx *c;
    const dcl_inputs *in;
    mp_ledger *l;
    change out[MAX_OUT];
    int n;
    json_t *state;   /* key -> new stored value (null = delete) */
} run;

static const char *s_of(json_t *m, const char *k)
{
    const char *s = json_string_value(json_object_get(m, k));
    return s ? s : "";
}

static json_int_t i_of(json_t *m, const char *k)
{
    return json_integer_value(json_object_get(m, k));
}

static int emit(run *r, const char *what, json_t *msg, int handoff)
{
    if (r->n == MAX_OUT) {
        json_decref(msg);
        return mp_err(MP_ERR_GENERAL, "dcl export changes: more than %d records", MAX_OUT);
    }
    change *ch = &r->out[r->n];
    snprintf(ch->name, sizeof(ch->name), "%02d-%s", r->n + 1, what);
    if (handoff) {
        ch->doc = json_pack("{s:s,s:o}", "handoff", "for CSA Trustees: the Msg to propose (signer: a Trustee)", "msg", msg);
    } else {
        ch->doc = dcl_tx_new(msg);
        json_decref(msg);
    }
    if (ch->doc == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    r->n++;
    return MP_OK;
}

/* A new Msg of `s` with creator/signer from --from. */
static json_t *msg_new(const run *r, const dcl_schema *s)
{
    json_t *m = dcl_msg_new(s, r->c->ver);
    const char *who = json_object_get(m, "creator") ? "creator" : "signer";
    if (r->c->from) json_object_set_new(m, who, json_string(r->c->from));
    return m;
}

static int finish(run *r, const dcl_schema *s, json_t *m, const char *what, int handoff)
{
    int rc = dcl_validate(s, m, r->c->ver, NULL);
    if (rc != MP_OK) {
        json_decref(m);
        return mp_err_ctx(rc, "%s", what);
    }
    return emit(r, what, m, handoff);
}

static int immutable(const char *key, const char *field, const char *why)
{
    return mp_err(MP_ERR_INVALID, "dcl export changes: %s: %s changed, but %s", key, field, why);
}

/* Compare a field; on a change to empty/0 the update could not express it. */
static int str_change(const char *key, json_t *old, json_t *cur, const char *f, json_t *upd, int *changed)
{
    const char *o = s_of(old, f), *n = s_of(cur, f);
    if (strcmp(o, n) == 0) return MP_OK;
    if (*n == 0) return immutable(key, f, "an update cannot clear a field (the DCL keeps a field an update leaves empty)");
    json_object_set_new(upd, f, json_string(n));
    *changed = 1;
    return MP_OK;
}

static int int_change(const char *key, json_t *old, json_t *cur, const char *f, json_t *upd, int *changed)
{
    if (i_of(old, f) == i_of(cur, f)) return MP_OK;
    if (i_of(cur, f) == 0) return immutable(key, f, "an update cannot set it to 0 (the DCL keeps a field an update leaves 0)");
    json_object_set_new(upd, f, json_integer(i_of(cur, f)));
    *changed = 1;
    return MP_OK;
}

static int fixed(const char *key, json_t *old, json_t *cur, const char *const *fields, const char *why)
{
    for (size_t i = 0; fields[i]; i++) {
        json_t *a = json_object_get(old, fields[i]), *b = json_object_get(cur, fields[i]);
        if (!json_equal(a, b)) return immutable(key, fields[i], why);
    }
    return MP_OK;
}

static int upd_vendor(run *r, const char *key, json_t *old, json_t *cur)
{
    static const char *const f[] = {"vendorName", "companyLegalName", "companyPreferredName", "vendorLandingPageURL", NULL};
    json_t *u = msg_new(r, &dcl_msg_vendor_update);
    int changed = 0, rc = MP_OK;
    json_object_set(u, "vendorID", json_object_get(cur, "vendorID"));
    for (size_t i = 0; f[i] && rc == MP_OK; i++) rc = str_change(key, old, cur, f[i], u, &changed);
    if (rc != MP_OK || !changed) {
        json_decref(u);
        return rc;
    }
    return finish(r, &dcl_msg_vendor_update, u, "update-vendor", 0);
}

/* The stored model carries the lsfRevision the DCL holds (1 once lsfUrl is set). */
static int upd_model(run *r, const char *key, json_t *old, json_t *cur, json_int_t *lsf_rev)
{
    static const char *const fixed_f[] = {"deviceTypeId", "commissioningCustomFlow", "discoveryCapabilitiesBitmask", NULL};
    static const char *const sf[] = {"productName", "productLabel", "partNumber", "commissioningCustomFlowUrl",
                                     "commissioningModeInitialStepsInstruction", "commissioningModeSecondaryStepsInstruction",
                                     "userManualUrl", "supportUrl", "productUrl", "lsfUrl", "commissioningFallbackUrl",
                                     "icdUserActiveModeTriggerInstruction", "factoryResetStepsInstruction", NULL};
    static const char *const nf[] = {"commissioningModeInitialStepsHint", "commissioningModeSecondaryStepsHint",
                                     "icdUserActiveModeTriggerHint", "factoryResetStepsHint", NULL};
    static const char *const esf[] = {"enhancedSetupFlowOptions", "enhancedSetupFlowTCUrl", "enhancedSetupFlowTCRevision",
                                      "enhancedSetupFlowTCDigest", "enhancedSetupFlowTCFileSize", "maintenanceUrl", NULL};
    int rc = fixed(key, old, cur, fixed_f, "the DCL never changes it after add-model (delete the model and add it again)");
    int changed = 0;
    json_t *u = msg_new(r, &dcl_msg_model_update);
    json_object_set(u, "vid", json_object_get(cur, "vid"));
    json_object_set(u, "pid", json_object_get(cur, "pid"));
    for (size_t i = 0; sf[i] && rc == MP_OK; i++) rc = str_change(key, old, cur, sf[i], u, &changed);
    for (size_t i = 0; nf[i] && rc == MP_OK; i++) rc = int_change(key, old, cur, nf[i], u, &changed);
    int esf_changed = 0;
    for (size_t i = 0; esf[i]; i++) esf_changed |= !json_equal(json_object_get(old, esf[i]), json_object_get(cur, esf[i]));
    /* The keeper always overwrites enhancedSetupFlowOptions and, with bit 0,
     * the terms-and-conditions fields; their revision must then be +1. */
    json_int_t opts = i_of(cur, "enhancedSetupFlowOptions");
    if (rc == MP_OK && (changed || esf_changed)) {
        for (size_t i = 0; (opts & 1) && esf[i]; i++) json_object_set(u, esf[i], json_object_get(cur, esf[i]));
        json_object_set_new(u, "enhancedSetupFlowOptions", json_integer(opts));
        json_int_t orev = i_of(old, "enhancedSetupFlowTCRevision"), nrev = i_of(cur, "enhancedSetupFlowTCRevision");
        if ((opts & 1) && orev != 0 && nrev != orev + 1) {
            rc = mp_err(MP_ERR_INVALID, "dcl export changes: %s: an update-model with enhanced setup flow bit 0 must carry enhancedSetupFlowTCRevision %" JSON_INTEGER_FORMAT " (the stored %" JSON_INTEGER_FORMAT " + 1; the keeper refuses anything else): raise dcl.model.enhanced_setup_flow_tc_revision",
                        key, orev + 1, orev);
        }
    }
    if (rc == MP_OK && strcmp(s_of(old, "lsfUrl"), s_of(cur, "lsfUrl")) != 0) {
        *lsf_rev = *lsf_rev + 1; /* the keeper wants exactly stored + 1 */
        json_object_set_new(u, "lsfRevision", json_integer(*lsf_rev));
    }
    if (rc != MP_OK || !(changed || esf_changed)) {
        json_decref(u);
        return rc;
    }
    return finish(r, &dcl_msg_model_update, u, "update-model", 0);
}

static int upd_version(run *r, const char *key, json_t *old, json_t *cur)
{
    static const char *const fixed_f[] = {"softwareVersionString", "cdVersionNumber", "firmwareInformation", NULL};
    static const char *const ota[] = {"otaFileSize", "otaChecksum", "otaChecksumType", NULL};
    int rc = fixed(key, old, cur, fixed_f, "update-model-version cannot change it (publish a new software version)");
    int changed = 0;
    json_t *u = msg_new(r, &dcl_msg_mv_update);
    json_object_set(u, "vid", json_object_get(cur, "vid"));
    json_object_set(u, "pid", json_object_get(cur, "pid"));
    json_object_set(u, "softwareVersion", json_object_get(cur, "softwareVersion"));
    /* softwareVersionValid is overwritten by every update: always the current value. */
    json_object_set(u, "softwareVersionValid", json_object_get(cur, "softwareVersionValid"));
    changed |= !json_equal(json_object_get(old, "softwareVersionValid"), json_object_get(cur, "softwareVersionValid"));
    const char *ou = s_of(old, "otaUrl"), *nu = s_of(cur, "otaUrl");
    if (rc == MP_OK && *ou && !*nu) rc = immutable(key, "otaUrl", "an update cannot remove the OTA image (the DCL keeps it)");
    if (rc == MP_OK && *ou && fixed(key, old, cur, ota, "the DCL fixes the OTA image's size and checksum once an otaUrl is set (ErrOtaFieldsCannotBeUpdated): publish a new software version") != MP_OK) rc = mp_err_code();
    if (rc == MP_OK && strcmp(ou, nu) != 0) {
        json_object_set_new(u, "otaUrl", json_string(nu));
        if (!*ou) { /* first OTA image: the keeper requires its metadata with it */
            for (size_t i = 0; ota[i]; i++) json_object_set(u, ota[i], json_object_get(cur, ota[i]));
        }
        changed = 1;
    }
    if (rc == MP_OK) rc = int_change(key, old, cur, "minApplicableSoftwareVersion", u, &changed);
    if (rc == MP_OK) rc = int_change(key, old, cur, "maxApplicableSoftwareVersion", u, &changed);
    if (rc == MP_OK) rc = str_change(key, old, cur, "releaseNotesUrl", u, &changed);
    if (rc != MP_OK || !changed) {
        json_decref(u);
        return rc;
    }
    return finish(r, &dcl_msg_mv_update, u, "update-model-version", 0);
}

static int upd_rp(run *r, const char *key, json_t *old, json_t *cur)
{
    static const char *const fixed_f[] = {"vid", "pid", "isPAA", "label", "issuerSubjectKeyID", NULL};
    static const char *const f[] = {"crlSignerCertificate", "dataURL", "crlSignerDelegator", NULL};
    int rc = fixed(key, old, cur, fixed_f, "a revocation point is keyed by it (delete the point and add a new one)");
    int changed = 0;
    for (size_t i = 0; f[i]; i++) changed |= strcmp(s_of(old, f[i]), s_of(cur, f[i])) != 0;
    if (rc != MP_OK || !changed) return rc;
    if (*s_of(old, "crlSignerDelegator") && !*s_of(cur, "crlSignerDelegator")) {
        return immutable(key, "crlSignerDelegator", "an update cannot clear it (delete the point and add a new one)");
    }
    json_t *u = NULL;
    if ((rc = dcl_rp_project(r->c, &dcl_msg_rp_update, cur, &u)) != MP_OK) return rc;
    for (size_t i = 0; f[i]; i++) {
        if (strcmp(s_of(old, f[i]), s_of(cur, f[i])) == 0) json_object_set_new(u, f[i], json_string(""));
    }
    return finish(r, &dcl_msg_rp_update, u, "update-revocation-point", 0);
}

/* ---- desired records -------------------------------------------------------- */

static void strip_signer(json_t *m)
{
    if (json_object_get(m, "creator")) json_object_set_new(m, "creator", json_string(""));
    if (json_object_get(m, "signer")) json_object_set_new(m, "signer", json_string(""));
}

typedef struct want {
    char key[160];
    int kind;
    json_t *msg; /* the add Msg as `all` would export it */
} want;

static int has_rp(const dcl_inputs *in, const dcl_args *a, const char *kind)
{
    json_t *sec = NULL;
    return a->label != NULL || a->data_url != NULL ||
           (dcl_section(&in->prod, "revocation_points", &sec) == MP_OK && json_object_get(sec, kind) != NULL);
}

static int build_wants(run *r, want *w, int *n)
{
    const dcl_inputs *in = r->in;
    struct { int kind, rp_paa, on; } plan[] = {
        {DK_VENDOR, 0, 1}, {DK_MODEL, 0, 1}, {DK_MV, 0, in->has_cd}, {DK_PAI, 0, in->pai != NULL},
        {DK_RP, 1, in->paa != NULL && has_rp(in, r->a, "paa")}, {DK_RP, 0, in->pai != NULL && has_rp(in, r->a, "pai")},
    };
    uint16_t vid = in->prod.vendor_id, pid = in->prod.product_id;
    *n = 0;
    for (size_t i = 0; i < sizeof(plan) / sizeof(plan[0]); i++) {
        json_t *doc = NULL;
        if (!plan[i].on) continue;
        dcl_inputs one = *in;
        one.cert = plan[i].kind == DK_PAI ? in->pai : NULL;
        int rc = dcl_record(r->c, r->a, &one, plan[i].kind, plan[i].rp_paa, &doc);
        if (rc != MP_OK) return rc;
        want *x = &w[(*n)++];
        x->kind = plan[i].kind;
        x->msg = json_incref(dcl_tx_msg(doc));
        json_decref(doc);
        strip_signer(x->msg);
        switch (x->kind) {
        case DK_VENDOR: snprintf(x->key, sizeof(x->key), "vendor/%04X", vid); break;
        case DK_MODEL: snprintf(x->key, sizeof(x->key), "model/%04X/%04X", vid, pid); break;
        case DK_MV:
            snprintf(x->key, sizeof(x->key), "model-version/%04X/%04X/%010" JSON_INTEGER_FORMAT, vid, pid,
                     i_of(x->msg, "softwareVersion"));
            break;
        case DK_PAI: {
            uint8_t kid[20];
            char hex[41];
            if (mp_cert_skid(in->pai, kid) != 0) return mp_err(MP_ERR_PROFILE, "--pai-cert: no SKID");
            mp_hex(kid, 20, hex, 1);
            snprintf(x->key, sizeof(x->key), "pai/%s", hex);
            break;
        }
        default:
            snprintf(x->key, sizeof(x->key), "revocation-point/%s/%04X/%.64s", s_of(x->msg, "issuerSubjectKeyID"),
                     (unsigned)i_of(x->msg, "vid"), s_of(x->msg, "label"));
        }
    }
    return MP_OK;
}

static const char *add_name(int kind)
{
    switch (kind) {
    case DK_VENDOR: return "vendor-info";
    case DK_MODEL: return "model";
    case DK_MV: return "model-version";
    case DK_PAI: return "pai";
    default: return "revocation-point";
    }
}

static int stored(run *r, const char *key, json_t **val)
{
    char *text = NULL;
    int found = 0, rc = mp_ledger_dcl_get(r->l, key, &text, &found);
    json_error_t e;
    *val = NULL;
    if (rc == MP_OK && found && (*val = json_loads(text, 0, &e)) == NULL) {
        rc = mp_err(MP_ERR_DB, "ledger: the stored DCL record %s is not JSON: %s", key, e.text);
    }
    free(text);
    return rc;
}

static int one_want(run *r, want *w)
{
    json_t *old = NULL;
    int rc = stored(r, w->key, &old);
    if (rc != MP_OK) return rc;
    json_int_t lsf = old ? i_of(old, "lsfRevision") : (*s_of(w->msg, "lsfUrl") ? 1 : 0);
    json_t *prev = old ? json_object_get(old, "msg") : NULL;
    if (prev == NULL) {
        json_t *m = json_deep_copy(w->msg);
        if (r->c->from) json_object_set_new(m, json_object_get(m, "creator") ? "creator" : "signer", json_string(r->c->from));
        rc = emit(r, add_name(w->kind), m, 0);
    } else if (w->kind == DK_VENDOR) {
        rc = upd_vendor(r, w->key, prev, w->msg);
    } else if (w->kind == DK_MODEL) {
        rc = upd_model(r, w->key, prev, w->msg, &lsf);
    } else if (w->kind == DK_MV) {
        rc = upd_version(r, w->key, prev, w->msg);
    } else if (w->kind == DK_PAI) {
        rc = json_equal(prev, w->msg) ? MP_OK : immutable(w->key, "cert", "a certificate on the DCL never changes (remove it and add the new one)");
    } else {
        rc = upd_rp(r, w->key, prev, w->msg);
    }
    if (rc == MP_OK) {
        json_t *nv = json_pack("{s:O,s:I,s:b}", "msg", w->msg, "lsfRevision", (json_int_t)lsf, "revoked",
                               old ? json_is_true(json_object_get(old, "revoked")) : 0);
        json_object_set_new(r->state, w->key, nv);
    }
    json_decref(old);
    return rc;
}

/* ---- certificates: revoke, remove, the PAA hand-off ------------------------- */

typedef struct find_serial {
    const char *serial;
    const char *reason;
    int found;
} find_serial;

static int serial_cb(void *ctx, const char *serial, time_t when, const char *reason)
{
    find_serial *f = ctx;
    (void)when;
    if (strcasecmp(serial, f->serial) == 0) {
        f->found = 1;
        f->reason = strdup(reason);
    }
    return MP_OK;
}

static int cert_ids(X509 *x, json_t *m, const char *what)
{
    char *subj = NULL, *serial = NULL, kid[60];
    uint8_t skid[20];
    int rc = dcl_cert_subject_b64(x, &subj);
    if (rc == MP_OK) rc = dcl_cert_serial_dec(x, &serial);
    if (rc == MP_OK) rc = dcl_cert_skid(x, what, skid);
    if (rc == MP_OK) {
        dcl_kid_colon(skid, kid);
        json_object_set_new(m, "subject", json_string(subj));
        json_object_set_new(m, "subjectKeyId", json_string(kid));
        json_object_set_new(m, "serialNumber", json_string(serial));
    }
    free(subj);
    free(serial);
    return rc;
}

static int revoke_pai(run *r)
{
    X509 *pai = r->in->pai;
    uint8_t akid[20];
    char issuer[41], serial[41], key[60];
    json_t *st = NULL;
    if (pai == NULL) return MP_OK;
    uint8_t skid[20];
    if (mp_cert_skid(pai, skid) != 0 || mp_cert_akid(pai, akid) != 0) return MP_OK;
    mp_hex(skid, 20, serial, 1);
    snprintf(key, sizeof(key), "pai/%s", serial);
    st = json_object_get(r->state, key);
    if (st == NULL || json_is_true(json_object_get(st, "revoked"))) return MP_OK;
    mp_hex(akid, 20, issuer, 1);
    mp_va_serial_hex(X509_get0_serialNumber(pai), serial);
    find_serial f = {serial, NULL, 0};
    int rc = mp_ledger_each_revoked(r->l, issuer, serial_cb, &f);
    if (rc != MP_OK || !f.found) {
        free((void *)f.reason);
        return rc;
    }
    json_t *m = msg_new(r, &dcl_msg_revoke_cert);
    rc = cert_ids(pai, m, "--pai-cert");
    char info[200];
    snprintf(info, sizeof(info), "%s%s%s", f.reason, r->a->reason ? ": " : "", r->a->reason ? r->a->reason : "");
    json_object_set_new(m, "info", json_string(info));
    free((void *)f.reason);
    if (rc != MP_OK) {
        json_decref(m);
        return rc;
    }
    json_object_set_new(st, "revoked", json_true());
    return finish(r, &dcl_msg_revoke_cert, m, "revoke-x509-cert", 0);
}

static int remove_pai(run *r)
{
    uint8_t skid[20];
    char hex[41], key[60];
    if (r->in->pai == NULL) return mp_err(MP_ERR_USAGE, "dcl export changes --remove-pai: --pai-cert is required");
    if (mp_cert_skid(r->in->pai, skid) != 0) return mp_err(MP_ERR_PROFILE, "--pai-cert: no SKID");
    mp_hex(skid, 20, hex, 1);
    snprintf(key, sizeof(key), "pai/%s", hex);
    json_t *m = msg_new(r, &dcl_msg_remove_cert);
    int rc = cert_ids(r->in->pai, m, "--pai-cert");
    if (rc != MP_OK) {
        json_decref(m);
        return rc;
    }
    json_object_set_new(r->state, key, json_null());
    return finish(r, &dcl_msg_remove_cert, m, "remove-x509-cert", 0);
}

static int revoke_paa(run *r)
{
    if (r->in->paa == NULL) return mp_err(MP_ERR_USAGE, "dcl export changes --revoke-paa: --paa-cert is required");
    json_t *m = dcl_msg_new(&dcl_msg_propose_revoke_root, r->c->ver);
    int rc = cert_ids(r->in->paa, m, "--paa-cert");
    json_object_set_new(m, "info", json_string(r->a->reason ? r->a->reason : ""));
    if (rc != MP_OK) {
        json_decref(m);
        return rc;
    }
    return finish(r, &dcl_msg_propose_revoke_root, m, "paa-revoke-handoff", 1);
}

static int collect_versions(void *ctx, const char *key, const char *json)
{
    (void)json;
    json_object_set_new(ctx, key, json_null());
    return MP_OK;
}

static int deletes(run *r)
{
    uint16_t vid = r->in->prod.vendor_id, pid = r->in->prod.product_id;
    char key[160];
    json_t *old = NULL;
    int rc = MP_OK;
    for (size_t i = 0; i < r->a->n_delete_mv && rc == MP_OK; i++) {
        snprintf(key, sizeof(key), "model-version/%04X/%04X/%010" PRIu32, vid, pid, r->a->delete_mv[i]);
        if ((rc = stored(r, key, &old)) != MP_OK) break;
        json_decref(old);
        if (old == NULL) return mp_err(MP_ERR_INVALID, "dcl export changes: --delete-model-version %" PRIu32 ": no such version was exported", r->a->delete_mv[i]);
        json_t *m = msg_new(r, &dcl_msg_mv_delete);
        json_object_set_new(m, "vid", json_integer(vid));
        json_object_set_new(m, "pid", json_integer(pid));
        json_object_set_new(m, "softwareVersion", json_integer(r->a->delete_mv[i]));
        json_object_set_new(r->state, key, json_null());
        rc = finish(r, &dcl_msg_mv_delete, m, "delete-model-version", 0);
    }
    if (rc == MP_OK && r->a->delete_model) {
        snprintf(key, sizeof(key), "model/%04X/%04X", vid, pid);
        if ((rc = stored(r, key, &old)) != MP_OK) return rc;
        json_decref(old);
        if (old == NULL) return mp_err(MP_ERR_INVALID, "dcl export changes --delete-model: the model was never exported");
        json_t *m = msg_new(r, &dcl_msg_model_delete);
        json_object_set_new(m, "vid", json_integer(vid));
        json_object_set_new(m, "pid", json_integer(pid));
        json_object_set_new(r->state, key, json_null());
        snprintf(key, sizeof(key), "model-version/%04X/%04X/", vid, pid);
        /* the keeper deletes every version with the model */
        if ((rc = mp_ledger_dcl_each(r->l, key, collect_versions, r->state)) == MP_OK) {
            rc = finish(r, &dcl_msg_model_delete, m, "delete-model", 0);
        } else {
            json_decref(m);
        }
    }
    return rc;
}

/* ---- writing ---------------------------------------------------------------- */

static int write_out(run *r)
{
    char path[4096];
    json_t *idx = json_array();
    int rc = mp_mkdir_p(r->a->out_dir, 0755), written = 0;
    for (int i = 0; i < r->n; i++) json_array_append_new(idx, json_sprintf("%s.json", r->out[i].name));
    json_t *index = json_pack("{s:s,s:s,s:s,s:o}", "dclVersion", dcl_version_name(r->c->ver), "signer",
                              r->c->from ? r->c->from : "", "signing",
                              "sign the vendor transactions in this order with consecutive sequence numbers; hand-offs go to CSA",
                              "records", idx);
    for (int i = 0; i <= r->n && rc == MP_OK; i++) {
        snprintf(path, sizeof(path), "%s/%s.json", r->a->out_dir, i < r->n ? r->out[i].name : "index");
        rc = mp_check_output(path, r->a->force);
    }
    for (int i = 0; i <= r->n && rc == MP_OK; i++) {
        snprintf(path, sizeof(path), "%s/%s.json", r->a->out_dir, i < r->n ? r->out[i].name : "index");
        rc = dcl_json_write(path, i < r->n ? r->out[i].doc : index, r->a->force);
        written += rc == MP_OK;
    }
    for (int j = 0; rc != MP_OK && j < written; j++) {
        snprintf(path, sizeof(path), "%s/%s.json", r->a->out_dir, j < r->n ? r->out[j].name : "index");
        unlink(path);
    }
    json_decref(index);
    return rc;
}

static int save_state(run *r)
{
    const char *k;
    json_t *v;
    int rc = mp_ledger_begin(r->l);
    json_object_foreach(r->state, k, v) {
        if (rc != MP_OK) break;
        if (json_is_null(v)) {
            rc = mp_ledger_dcl_delete(r->l, k);
        } else {
            char *t = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
            rc = t ? mp_ledger_dcl_put(r->l, k, t) : mp_err(MP_ERR_GENERAL, "out of memory");
            free(t);
        }
    }
    if (rc == MP_OK) rc = mp_ledger_commit(r->l);
    if (rc != MP_OK) mp_ledger_rollback(r->l);
    return rc;
}

int dcl_export_changes(const dcl_args *a, const dcl_ctx *c, const dcl_inputs *in)
{
    run r = {.a = a, .c = c, .in = in, .state = json_object()};
    want w[8];
    int nw = 0, rc;
    if (a->out_dir == NULL) return mp_err(MP_ERR_USAGE, "dcl export changes: --out-dir DIR is required");
    const char *sd = a->state_dir;
    if (sd == NULL) sd = getenv("MATTER_PKI_STATE");
    if (sd == NULL || *sd == 0) sd = ".matter-pki";
    if ((rc = a->open_ledger(a->open_ctx, sd, a->ledger, &r.l)) != MP_OK) goto end;
    if ((rc = deletes(&r)) != MP_OK || (a->delete_model ? 0 : (rc = build_wants(&r, w, &nw))) != MP_OK) goto end;
    for (int i = 0; i < nw && rc == MP_OK; i++) {
        /* a version being deleted is not re-added */
        if (json_is_null(json_object_get(r.state, w[i].key))) continue;
        rc = one_want(&r, &w[i]);
    }
    if (rc == MP_OK) rc = revoke_pai(&r);
    if (rc == MP_OK && a->remove_pai) rc = remove_pai(&r);
    if (rc == MP_OK && a->revoke_paa) rc = revoke_paa(&r);
    if (rc != MP_OK) goto end;
    if (r.n == 0) {
        printf("no changes since the last export (nothing written)\n");
        goto end;
    }
    if ((rc = write_out(&r)) == MP_OK && (rc = save_state(&r)) == MP_OK) {
        for (int i = 0; i < r.n; i++) printf("%s: %s/%s.json\n", r.out[i].name + 3, a->out_dir, r.out[i].name);
        if (a->from == NULL) fprintf(stderr, "note: creator/signer fields are empty; fill them (or re-export with --from ADDRESS) before `dcld tx sign`\n");
    }
end:
    for (int i = 0; i < nw; i++) json_decref(w[i].msg);
    for (int i = 0; i < r.n; i++) json_decref(r.out[i].doc);
    json_decref(r.state);
    return rc; /* r.l belongs to the caller */
}
