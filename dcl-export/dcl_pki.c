/* dcl_pki.c - the certificate records: PAI (MsgAddX509Cert), the PAA
 * hand-off for Trustees (MsgProposeAddX509RootCert) and revocation
 * distribution points, with the keeper's VID/PID and CRL-signer rules
 * (dcl.md 4.4-4.6; see dcl_records.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcl_build.h"
#include "dcl_cert.h"
#include "dcl_json.h"
#include "lint.h"
#include "x509.h"

static int profile(X509 *x, int type, const char *what)
{
    mp_lint l;
    if (mp_lint_cert(x, type, &l) > 0) {
        return mp_err(MP_ERR_PROFILE, "%s: %s (%d Matter profile rule%s violated; see 'matter-pki cert lint')",
                      what, l.msg[0], l.count, l.count == 1 ? "" : "s");
    }
    return MP_OK;
}

static int vidpid(X509 *x, const char *what, mp_vidpid *vp)
{
    if (mp_dn_vidpid(X509_get_subject_name(x), vp) != MP_OK) {
        return mp_err(MP_ERR_PROFILE, "%s: malformed VID/PID in the subject", what);
    }
    return MP_OK;
}

static int set_pem(dcl_rec *r, const char *field, X509 *x, const char *src)
{
    char *pem = NULL;
    int rc = dcl_cert_pem(x, &pem);
    if (rc == MP_OK) dcl_rec_set_str(r, field, pem, src);
    free(pem);
    return rc;
}

int dcl_pai(const dcl_ctx *c, X509 *pai, json_t **msg)
{
    dcl_rec r;
    mp_vidpid vp;
    const mp_product *p = c->prod;
    int rc = dcl_rec_init(&r, c, &dcl_msg_add_cert, NULL);
    if (rc != MP_OK || (rc = profile(pai, MP_PAI, "pai: --cert")) != MP_OK || (rc = vidpid(pai, "pai: --cert", &vp)) != MP_OK) goto fail;
    if (dcl_cert_self_signed(pai)) {
        rc = mp_err(MP_ERR_PROFILE, "pai: --cert is self-signed; the DCL adds only non-root certificates with add-x509-cert");
    } else if (vp.vid != p->vendor_id) {
        rc = mp_err(MP_ERR_MISMATCH, "pai: the PAI's VID 0x%04X is not the product's vendor_id 0x%04X (%s)", vp.vid, p->vendor_id, p->path);
    } else if (vp.has_pid && vp.pid != p->product_id) {
        rc = mp_err(MP_ERR_MISMATCH, "pai: the PAI's PID 0x%04X is not the product's product_id 0x%04X (%s)", vp.pid, p->product_id, p->path);
    } else if ((rc = set_pem(&r, "cert", pai, "--cert")) == MP_OK) {
        return dcl_rec_finish(&r, msg);
    }
fail:
    dcl_rec_free(&r);
    return rc;
}

/* The PAA checks of the root proposal keeper; *vid is the record's VID. */
static int paa_check(const dcl_ctx *c, X509 *paa, const char *what, uint16_t *vid)
{
    mp_vidpid vp;
    uint8_t skid[20];
    int rc;
    if ((rc = profile(paa, MP_PAA, what)) != MP_OK || (rc = vidpid(paa, what, &vp)) != MP_OK ||
        (rc = dcl_cert_skid(paa, what, skid)) != MP_OK) return rc;
    if (!dcl_cert_self_signed(paa)) {
        return mp_err(MP_ERR_PROFILE, "%s: a PAA must be self-signed", what);
    }
    if (mp_is_test_paa(skid) && !c->test_mode) {
        return mp_err(MP_ERR_PROFILE, "%s: this is a Matter SDK test PAA; production commissioners reject it (--test-mode to export anyway)", what);
    }
    if (vp.has_vid && vp.vid != c->prod->vendor_id) {
        return mp_err(MP_ERR_MISMATCH, "%s: the PAA's VID 0x%04X is not the product's vendor_id 0x%04X (%s)", what, vp.vid,
                      c->prod->vendor_id, c->prod->path);
    }
    *vid = c->prod->vendor_id;
    return MP_OK;
}

static int propose_msg(const dcl_ctx *c, X509 *paa, uint16_t vid, json_t **msg)
{
    dcl_rec r;
    char info[200];
    int rc = dcl_rec_init(&r, c, &dcl_msg_propose_root, NULL);
    if (rc == MP_OK && (rc = set_pem(&r, "cert", paa, "--cert")) == MP_OK) {
        snprintf(info, sizeof(info), "PAA of %s (VID 0x%04X)", c->prod->vendor_name, vid);
        dcl_rec_set_str(&r, "info", info, dcl_rec_common(&r, "vendor_name"));
        dcl_rec_set_int(&r, "vid", vid, dcl_rec_common(&r, "vendor_id"));
        return dcl_rec_finish(&r, msg);
    }
    dcl_rec_free(&r);
    return rc;
}

int dcl_paa_handoff(const dcl_ctx *c, X509 *paa, json_t **doc)
{
    uint16_t vid = 0;
    uint8_t skid[20];
    char kid[60], *subject = NULL, *serial = NULL;
    json_t *msg = NULL;
    int rc = paa_check(c, paa, "paa: --cert", &vid);
    if (rc != MP_OK || (rc = dcl_cert_skid(paa, "paa: --cert", skid)) != MP_OK ||
        (rc = propose_msg(c, paa, vid, &msg)) != MP_OK || (rc = dcl_cert_subject_b64(paa, &subject)) != MP_OK ||
        (rc = dcl_cert_serial_dec(paa, &serial)) != MP_OK) goto end;
    dcl_kid_colon(skid, kid);
    *doc = json_pack("{s:s,s:s,s:i,s:O,s:s,s:s,s:s,s:O,s:o}", "record", "paa-handoff",
                     "dclVersion", dcl_version_name(c->ver), "vid", vid, "cert", json_object_get(msg, "cert"),
                     "subject", subject, "subjectKeyId", kid, "serialNumber", serial,
                     "info", json_object_get(msg, "info"), "proposeTx", dcl_tx_new(msg));
    if (*doc == NULL) rc = mp_err(MP_ERR_GENERAL, "out of memory");
end:
    json_decref(msg);
    free(subject);
    free(serial);
    return rc;
}
