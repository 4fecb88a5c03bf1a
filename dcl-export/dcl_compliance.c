/* dcl_compliance.c - the compliance hand-off for the CSA certification
 * center: MsgCertifyModel (or MsgProvisionModel for a provisional CD) with
 * the CD's certificate ID and version (see dcl_records.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dcl_build.h"
#include "util.h"

static const char *const cstr[][2] = {
    {"certification_type", "certificationType"},
    {"reason", "reason"},
    {"program_type_version", "programTypeVersion"},
    {"family_id", "familyId"},
    {"supported_clusters", "supportedClusters"},
    {"compliant_platform_used", "compliantPlatformUsed"},
    {"compliant_platform_version", "compliantPlatformVersion"},
    {"os_version", "OSVersion"},
    {"certification_route", "certificationRoute"},
    {"program_type", "programType"},
    {"transport", "transport"},
    {"parent_child", "parentChild"},
    {"certification_id_of_software_component", "certificationIdOfSoftwareComponent"},
};
#define NCSTR (sizeof(cstr) / sizeof(cstr[0]))

int dcl_compliance_known(dcl_rec *r)
{
    const char *keys[NCSTR + 5];
    size_t n = 0;
    for (size_t i = 0; i < NCSTR; i++) keys[n++] = cstr[i][0];
    keys[n++] = "certification_date";
    keys[n++] = "specification_version";
    keys[n++] = "cd_certificate_id";
    keys[n++] = "comment";
    keys[n] = NULL;
    return dcl_rec_known(r, keys);
}

/* certification_date: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ -> RFC 3339 UTC. */
static int cert_date(dcl_rec *r, const char *field)
{
    const char *s = NULL;
    time_t t;
    char iso[21], src[600];
    int rc = mp_json_str(r->where, r->sec, "certification_date", 1, 64, 1, &s);
    if (rc != MP_OK) return rc;
    if (mp_parse_time(s, &t) != MP_OK) {
        return mp_err(MP_ERR_INVALID, "%s: field 'certification_date' must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (is '%s')", r->where, s);
    }
    mp_time_iso(t, iso);
    snprintf(src, sizeof(src), "%s.certification_date", r->where);
    dcl_rec_set_str(r, field, iso, src);
    return MP_OK;
}

/* specification_version: "1.4.2" or a number; packed as 0xMMmmpp00. */
static int spec_version(dcl_rec *r)
{
    json_t *v = json_object_get(r->sec, "specification_version");
    unsigned a, b, c = 0;
    char tail, src[600];
    uint64_t n;
    snprintf(src, sizeof(src), "%s.specification_version", r->where);
    if (v == NULL || r->c->ver == DCL_V15) {
        return MP_OK; /* 1.5 has no such field; required in 1.6: the validator names it */
    }
    if (json_is_string(v) && sscanf(json_string_value(v), "%u.%u%c", &a, &b, &tail) >= 2 &&
        (sscanf(json_string_value(v), "%u.%u.%u%c", &a, &b, &c, &tail) == 3 ||
         sscanf(json_string_value(v), "%u.%u%c", &a, &b, &tail) == 2) && a < 256 && b < 256 && c < 256) {
        dcl_rec_set_int(r, "specificationVersion", (long long)(a << 24 | b << 16 | c << 8), src);
        return MP_OK;
    }
    int rc = mp_json_uint(r->where, r->sec, "specification_version", 1, 0xFFFFFFFFu, 1, &n);
    if (rc != MP_OK) {
        return mp_err(MP_ERR_INVALID, "%s: must be a Matter version \"1.4.2\" or its packed number 0x01040200", src);
    }
    dcl_rec_set_int(r, "specificationVersion", (long long)n, src);
    return MP_OK;
}

static int cd_fields(dcl_rec *r, const dcl_cd *cd)
{
    const char *want = NULL;
    int rc = mp_json_str(r->where, r->sec, "cd_certificate_id", 0, 64, 0, &want);
    if (rc != MP_OK) return rc;
    if (want != NULL && strcmp(want, cd->certificate_id) != 0) {
        return mp_err(MP_ERR_MISMATCH, "%s.cd_certificate_id is '%s' but the CD's certificate_id is '%s'", r->where, want, cd->certificate_id);
    }
    if (cd->certification_type == 0 && !r->c->test_mode) {
        return mp_err(MP_ERR_INVALID, "compliance: the CD's certification_type is 0 (development and test); the certification center certifies only with a provisional or official CD (--test-mode to export anyway)");
    }
    dcl_rec_set_int(r, "cDVersionNumber", cd->version_number, "the CD's version_number");
    dcl_rec_set_str(r, "cDCertificateId", cd->certificate_id, "the CD's certificate_id");
    return MP_OK;
}

int dcl_compliance(const dcl_ctx *c, const dcl_sw *sw, const dcl_cd *cd, json_t **msg)
{
    dcl_rec r;
    int prov = cd->certification_type == 1;
    int rc = dcl_rec_init(&r, c, prov ? &dcl_msg_provision : &dcl_msg_certify, "compliance");
    if (rc != MP_OK || (rc = dcl_compliance_known(&r)) != MP_OK || (rc = dcl_cd_check(c, cd, "compliance")) != MP_OK) goto fail;
    dcl_rec_set_int(&r, "vid", c->prod->vendor_id, dcl_rec_common(&r, "vendor_id"));
    dcl_rec_set_int(&r, "pid", c->prod->product_id, dcl_rec_common(&r, "product_id"));
    dcl_rec_set_str(&r, "certificationType", "matter", NULL);
    for (size_t i = 0; i < NCSTR; i++) {
        if ((rc = dcl_rec_str(&r, cstr[i][0], cstr[i][1])) != MP_OK) goto fail;
    }
    if ((rc = dcl_sw_apply(&r, sw, "softwareVersion", "softwareVersionString")) != MP_OK ||
        (rc = cd_fields(&r, cd)) != MP_OK || (rc = spec_version(&r)) != MP_OK ||
        (rc = cert_date(&r, prov ? "provisionalDate" : "certificationDate")) != MP_OK) goto fail;
    return dcl_rec_finish(&r, msg);
fail:
    dcl_rec_free(&r);
    return rc;
}
