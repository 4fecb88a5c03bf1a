/* dcl_revocation.c - MsgAddPkiRevocationDistributionPoint: the four CRL
 * signer cases the keeper accepts (dcl.md 4.6) and the consumer rules of
 * generate_revocation_set.py (see dcl_records.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcl_build.h"
#include "dcl_cert.h"
#include "lint.h"
#include "x509.h"

typedef struct rp {
    dcl_rec r;
    const dcl_rp_in *in;
    const char *ca_what;
    mp_vidpid ca_vp, sig_vp;
    int delegated;
} rp;

static int ca_profile(rp *p)
{
    mp_lint l;
    if (mp_lint_cert(p->in->ca, p->in->is_paa ? MP_PAA : MP_PAI, &l) > 0) {
        return mp_err(MP_ERR_PROFILE, "revocation-point: %s: %s", p->ca_what, l.msg[0]);
    }
    int self = dcl_cert_self_signed(p->in->ca);
    if (p->in->is_paa != self) {
        return mp_err(MP_ERR_PROFILE, "revocation-point: %s %s", p->ca_what,
                      self ? "is self-signed: a PAI is never a root" : "is not self-signed: a PAA is a root");
    }
    if (mp_dn_vidpid(X509_get_subject_name(p->in->ca), &p->ca_vp) != MP_OK) {
        return mp_err(MP_ERR_PROFILE, "revocation-point: %s: malformed VID/PID", p->ca_what);
    }
    return MP_OK;
}

/* Cases B and D: a CRL signer delegated by the CA. */
static int delegated_signer(rp *p)
{
    X509 *s = p->in->signer;
    int rc = dcl_check_crl_signer(s, "revocation-point: --crl-signer-cert");
    if (rc != MP_OK || (rc = dcl_cert_issued_by(s, "--crl-signer-cert", p->in->ca, p->ca_what)) != MP_OK) return rc;
    if (mp_dn_vidpid(X509_get_subject_name(s), &p->sig_vp) != MP_OK) {
        return mp_err(MP_ERR_PROFILE, "revocation-point: --crl-signer-cert: malformed VID/PID");
    }
    if (p->in->is_paa && p->sig_vp.has_pid) {
        return mp_err(MP_ERR_PROFILE, "revocation-point: a CRL signer delegated by a PAA must not carry a PID (case B)");
    }
    if (!p->in->is_paa && (p->sig_vp.has_vid != p->ca_vp.has_vid || p->sig_vp.vid != p->ca_vp.vid ||
                           p->sig_vp.has_pid != p->ca_vp.has_pid || p->sig_vp.pid != p->ca_vp.pid)) {
        return mp_err(MP_ERR_MISMATCH, "revocation-point: a CRL signer delegated by a PAI must carry the PAI's VID and PID (case D; commissioners compare them with the delegator)");
    }
    return MP_OK;
}

/* vid/pid per the keeper: the signer's subject VID, else the PAA's associated VID. */
static int rp_vidpid(rp *p)
{
    const mp_vidpid *v = p->delegated ? &p->sig_vp : &p->ca_vp;
    uint16_t want = p->r.c->prod->vendor_id;
    if (v->has_vid && v->vid != want) {
        return mp_err(MP_ERR_MISMATCH, "revocation-point: the CRL signer's VID 0x%04X is not the product's vendor_id 0x%04X (the signing account's VID)", v->vid, want);
    }
    if (!p->in->is_paa && !v->has_vid) {
        return mp_err(MP_ERR_PROFILE, "revocation-point: a PAI CRL signer must carry a VID");
    }
    dcl_rec_set_int(&p->r, "vid", want, v->has_vid ? "the CRL signer's subject VID" : dcl_rec_common(&p->r, "vendor_id"));
    dcl_rec_set_int(&p->r, "pid", !p->in->is_paa && v->has_pid ? v->pid : 0,
                    !p->in->is_paa && v->has_pid ? "the CRL signer's subject PID" : NULL);
    return MP_OK;
}

int dcl_rp_known(const char *where, json_t *sec)
{
    static const char *const kinds[] = {"paa", "pai", "comment", NULL};
    static const char *const keys[] = {"label", "data_url", "comment", NULL};
    char w[600];
    int rc = mp_json_known(where, sec, kinds);
    for (int i = 0; rc == MP_OK && i < 2; i++) {
        json_t *k = json_object_get(sec, kinds[i]);
        snprintf(w, sizeof(w), "%s.%s", where, kinds[i]);
        if (k != NULL && !json_is_object(k)) rc = mp_err(MP_ERR_INVALID, "%s: must be an object", w);
        else if (k != NULL) rc = mp_json_known(w, k, keys);
    }
    return rc;
}

static int rp_section(rp *p)
{
    static const char *const kinds[] = {"paa", "pai", "comment", NULL};
    static const char *const keys[] = {"label", "data_url", "comment", NULL};
    const char *kind = p->in->is_paa ? "paa" : "pai";
    char where[600];
    int rc = MP_OK;
    json_t *sec = p->r.sec;
    if (sec != NULL && (rc = mp_json_known(p->r.where, sec, kinds)) != MP_OK) return rc;
    sec = json_object_get(sec, kind);
    snprintf(where, sizeof(where), "%s.%s", p->r.where, kind);
    if (sec != NULL && (!json_is_object(sec) || (rc = mp_json_known(where, sec, keys)) != MP_OK)) {
        return rc != MP_OK ? rc : mp_err(MP_ERR_INVALID, "%s: must be an object", where);
    }
    snprintf(p->r.where, sizeof(p->r.where), "%s", where);
    p->r.sec = sec;
    json_object_set_new(p->r.src, "label", json_sprintf("--label or %s.label", where));
    json_object_set_new(p->r.src, "dataURL", json_sprintf("--data-url or %s.data_url", where));
    if ((rc = dcl_rec_str(&p->r, "label", "label")) != MP_OK || (rc = dcl_rec_str(&p->r, "data_url", "dataURL")) != MP_OK) return rc;
    if (p->in->label) dcl_rec_set_str(&p->r, "label", p->in->label, "--label");
    if (p->in->data_url) dcl_rec_set_str(&p->r, "dataURL", p->in->data_url, "--data-url");
    return MP_OK;
}

static int rp_fill(rp *p)
{
    uint8_t skid[20];
    char kid[41], *pem = NULL;
    int rc = dcl_cert_skid(p->in->ca, p->ca_what, skid);
    if (rc != MP_OK || (rc = dcl_cert_pem(p->delegated ? p->in->signer : p->in->ca, &pem)) != MP_OK) return rc;
    dcl_kid_plain(skid, kid);
    dcl_rec_set(&p->r, "isPAA", json_boolean(p->in->is_paa), NULL);
    dcl_rec_set_str(&p->r, "crlSignerCertificate", pem, p->delegated ? "--crl-signer-cert" : p->ca_what);
    dcl_rec_set_str(&p->r, "issuerSubjectKeyID", kid, p->ca_what);
    dcl_rec_set_int(&p->r, "revocationType", 1, NULL);
    free(pem);
    if (p->delegated && !p->in->is_paa) {
        if ((rc = dcl_cert_pem(p->in->ca, &pem)) != MP_OK) return rc;
        dcl_rec_set_str(&p->r, "crlSignerDelegator", pem, p->ca_what);
        free(pem);
    }
    return MP_OK;
}

int dcl_revocation_point(const dcl_ctx *c, const dcl_rp_in *in, json_t **msg)
{
    rp p = {.in = in, .ca_what = in->is_paa ? "--paa-cert" : "--pai-cert"};
    int rc = dcl_rec_init(&p.r, c, &dcl_msg_revocation_point, "revocation_points");
    p.delegated = in->signer != NULL && X509_cmp(in->signer, in->ca) != 0;
    if (rc != MP_OK || (rc = ca_profile(&p)) != MP_OK || (p.delegated && (rc = delegated_signer(&p)) != MP_OK) ||
        (rc = rp_vidpid(&p)) != MP_OK || (rc = rp_section(&p)) != MP_OK || (rc = rp_fill(&p)) != MP_OK) {
        dcl_rec_free(&p.r);
        return rc;
    }
    return dcl_rec_finish(&p.r, msg);
}
