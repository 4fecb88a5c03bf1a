/* pai_req.c - a PAI CSR's checks and the PAA/PAI vendor-ID rule, shared by
 * `pai create/csr` and `paa sign-pai`. */
#include "pai_req.h"

#include <string.h>

#include <openssl/x509.h>

int mp_pai_check_vid(const mp_ca *paa, uint16_t vid)
{
    if (paa->vp.has_vid && paa->vp.vid != vid) {
        return mp_err(MP_ERR_MISMATCH, "PAI vendor ID 0x%04X differs from the PAA's 0x%04X", vid, paa->vp.vid);
    }
    return MP_OK;
}

static int req_subject(X509_REQ *r, const char *path, mp_pai_req *req)
{
    const X509_NAME *n = X509_REQ_get_subject_name(r);
    mp_vidpid vp;
    int idx = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
    if (idx < 0 || X509_NAME_get_index_by_NID(n, NID_commonName, idx) >= 0) {
        return mp_err(MP_ERR_PROFILE, "%s: the subject must have exactly one CN", path);
    }
    const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, idx));
    int len = ASN1_STRING_length(cn);
    if (len < 1 || len > MP_MAX_CN || memchr(ASN1_STRING_get0_data(cn), 0, (size_t)len) != NULL) {
        return mp_err(MP_ERR_PROFILE, "%s: subject CN must be 1..%d characters", path, MP_MAX_CN);
    }
    memcpy(req->cn, ASN1_STRING_get0_data(cn), (size_t)len);
    req->cn[len] = 0;
    if (mp_dn_vidpid(n, &vp) != MP_OK || vp.from_cn) {
        return mp_err(MP_ERR_PROFILE, "%s: subject VID/PID must be matter-vid/matter-pid attributes of 4 uppercase hex digits", path);
    }
    if (!vp.has_vid || vp.vid == 0 || vp.vid > 0xFFF4) {
        return mp_err(MP_ERR_PROFILE, "%s: subject needs a matter-vid in 0001..FFF4", path);
    }
    if (vp.has_pid && vp.pid == 0) {
        return mp_err(MP_ERR_PROFILE, "%s: matter-pid 0000 is not a product ID", path);
    }
    int rc = mp_subject_from_name(n, &req->subj);
    if (rc != MP_OK) {
        return mp_err_ctx(rc, "%s", path);
    }
    req->vid = vp.vid;
    req->pid = vp.has_pid ? vp.pid : 0;
    return MP_OK;
}

int mp_pai_req_load(const char *path, mp_pai_req *req)
{
    X509_REQ *r = NULL;
    int rc = mp_csr_load(path, &r, req->point);
    if (rc == MP_OK) {
        rc = req_subject(r, path, req);
    }
    X509_REQ_free(r);
    return rc;
}
