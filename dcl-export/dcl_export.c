/* dcl_export.c - the KINDs, the inputs of a run and one record of a KIND
 * (see dcl_export.h); the driver that writes them is in dcl_all.c. */
#include "dcl_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcl_json.h"
#include "util.h"
#include "x509.h"

static const char *const kinds[DK_COUNT] = {"vendor-info", "model", "model-version", "pai",
                                            "revocation-point", "paa", "compliance", "all",
                                            "update-revocation-point", "delete-revocation-point", "changes"};

int dcl_kind_parse(const char *s)
{
    for (int i = 0; i < DK_COUNT; i++) {
        if (strcmp(s, kinds[i]) == 0) return i;
    }
    return -1;
}

const char *dcl_kind_name(int kind)
{
    return kind >= 0 && kind < DK_COUNT ? kinds[kind] : "?";
}

static int load_cert(const char *path, const char *opt, X509 **x)
{
    int rc = path ? mp_cert_load(path, x) : MP_OK;
    return rc == MP_OK ? MP_OK : mp_err_ctx(rc, "%s", opt);
}

int dcl_inputs_load(const dcl_args *a, dcl_inputs *in)
{
    int rc;
    memset(in, 0, sizeof(*in));
    if ((rc = mp_product_load(a->product, &in->prod)) != MP_OK) return rc;
    in->has_prod = 1;
    if ((rc = load_cert(a->cert, "--cert", &in->cert)) != MP_OK ||
        (rc = load_cert(a->paa_cert, "--paa-cert", &in->paa)) != MP_OK ||
        (rc = load_cert(a->pai_cert, "--pai-cert", &in->pai)) != MP_OK ||
        (rc = load_cert(a->signer_cert, "--crl-signer-cert", &in->signer)) != MP_OK) return rc;
    if (a->cd != NULL) {
        if ((rc = dcl_cd_load(a->cd, &in->cd)) != MP_OK) return rc;
        in->has_cd = 1;
    }
    return MP_OK;
}

void dcl_inputs_free(dcl_inputs *in)
{
    if (in->has_prod) mp_product_free(&in->prod);
    X509_free(in->cert);
    X509_free(in->paa);
    X509_free(in->pai);
    X509_free(in->signer);
    memset(in, 0, sizeof(*in));
}

static int need(const void *p, const char *kind, const char *what)
{
    return p != NULL ? MP_OK : mp_err(MP_ERR_USAGE, "dcl export %s: %s is required", kind, what);
}

static int revocation(const dcl_ctx *c, const dcl_args *a, const dcl_inputs *in, int rp_paa, json_t **msg)
{
    dcl_rp_in rp = {.is_paa = rp_paa, .ca = rp_paa ? in->paa : in->pai, .signer = in->signer,
                    .label = a->label, .data_url = a->data_url};
    json_t *add = NULL;
    if (a->kind != DK_ALL && a->kind != DK_CHANGES && (in->paa != NULL) == (in->pai != NULL)) {
        return mp_err(MP_ERR_USAGE, "dcl export %s: give exactly one of --paa-cert (isPAA true) and --pai-cert", dcl_kind_name(a->kind));
    }
    int rc = dcl_revocation_point(c, &rp, &add);
    if (rc == MP_OK && a->crl_file != NULL) {
        rc = dcl_rp_crl_check(a->crl_file, in->signer ? in->signer : rp.ca,
                              json_string_value(json_object_get(add, "dataURL")));
    }
    if (rc == MP_OK && (a->kind == DK_RP_UPDATE || a->kind == DK_RP_DELETE)) {
        rc = dcl_rp_project(c, a->kind == DK_RP_UPDATE ? &dcl_msg_rp_update : &dcl_msg_rp_delete, add, msg);
        json_decref(add);
        return rc;
    }
    *msg = add;
    return rc;
}

int dcl_record(const dcl_ctx *c, const dcl_args *a, const dcl_inputs *in, int kind, int rp_paa, json_t **doc)
{
    json_t *msg = NULL;
    const char *k = dcl_kind_name(kind);
    X509 *pai = in->cert ? in->cert : in->pai, *paa = in->cert ? in->cert : in->paa;
    int rc;
    *doc = NULL;
    switch (kind) {
    case DK_VENDOR: rc = dcl_vendor_info(c, &msg); break;
    case DK_MODEL: rc = dcl_model(c, &msg); break;
    case DK_MV: rc = need(in->has_cd ? "" : NULL, k, "--cd");
        if (rc == MP_OK) rc = dcl_model_version(c, &a->sw, &in->cd, &msg);
        break;
    case DK_COMPLIANCE: rc = need(in->has_cd ? "" : NULL, k, "--cd");
        if (rc == MP_OK) rc = dcl_compliance(c, &a->sw, &in->cd, &msg);
        break;
    case DK_PAI: rc = need(pai, k, "--cert (the PAI)");
        if (rc == MP_OK) rc = dcl_pai(c, pai, &msg);
        break;
    case DK_PAA: rc = need(paa, k, "--cert (the PAA)");
        return rc == MP_OK ? dcl_paa_handoff(c, paa, doc) : rc;
    default: rc = revocation(c, a, in, rp_paa, &msg); break;
    }
    if (rc == MP_OK) {
        *doc = dcl_tx_new(msg);
        rc = *doc ? MP_OK : mp_err(MP_ERR_GENERAL, "out of memory");
    }
    json_decref(msg);
    return rc;
}
