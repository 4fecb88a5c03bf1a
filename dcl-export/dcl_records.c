/* dcl_records.c - the product-driven records: vendor info, model, model
 * version and the compliance hand-off (see dcl_records.h). */
#include "dcl_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "dcl_build.h"
#include "util.h"

static const char *const vendor_keys[] = {"vendor_name", "company_legal_name", "company_preferred_name",
                                          "landing_page_url", "comment", NULL};
static const char *const mv_keys[] = {"software_version", "software_version_string", "cd_version_number",
    "firmware_information", "software_version_valid", "ota_url", "ota_file_size", "ota_checksum",
    "ota_checksum_type", "min_applicable_software_version", "max_applicable_software_version",
    "release_notes_url", "comment", NULL};

int dcl_vendor_info(const dcl_ctx *c, json_t **msg)
{
    const char *const *keys = vendor_keys;
    dcl_rec r;
    const mp_product *p = c->prod;
    int rc = dcl_rec_init(&r, c, &dcl_msg_vendor_info, "vendor");
    if (rc != MP_OK || (rc = dcl_rec_known(&r, keys)) != MP_OK) goto fail;
    dcl_rec_set_int(&r, "vendorID", p->vendor_id, dcl_rec_common(&r, "vendor_id"));
    dcl_rec_set_str(&r, "vendorName", p->vendor_name, dcl_rec_common(&r, "vendor_name"));
    json_object_set_new(r.src, "companyLegalName", json_string(r.where));
    if ((rc = dcl_rec_str(&r, "vendor_name", "vendorName")) != MP_OK ||
        (rc = dcl_rec_str(&r, "company_legal_name", "companyLegalName")) != MP_OK ||
        (rc = dcl_rec_str(&r, "company_preferred_name", "companyPreferredName")) != MP_OK ||
        (rc = dcl_rec_str(&r, "landing_page_url", "vendorLandingPageURL")) != MP_OK) goto fail;
    return dcl_rec_finish(&r, msg);
fail:
    dcl_rec_free(&r);
    return rc;
}

/* dcl.model keys -> MsgCreateModel fields (strings, then numbers). */
static const char *const model_str[][2] = {
    {"commissioning_custom_flow_url", "commissioningCustomFlowUrl"},
    {"commissioning_mode_initial_steps_instruction", "commissioningModeInitialStepsInstruction"},
    {"commissioning_mode_secondary_steps_instruction", "commissioningModeSecondaryStepsInstruction"},
    {"user_manual_url", "userManualUrl"},
    {"support_url", "supportUrl"},
    {"lsf_url", "lsfUrl"},
    {"enhanced_setup_flow_tc_url", "enhancedSetupFlowTCUrl"},
    {"enhanced_setup_flow_tc_digest", "enhancedSetupFlowTCDigest"},
    {"maintenance_url", "maintenanceUrl"},
    {"commissioning_fallback_url", "commissioningFallbackUrl"},
    {"icd_user_active_mode_trigger_instruction", "icdUserActiveModeTriggerInstruction"},
    {"factory_reset_steps_instruction", "factoryResetStepsInstruction"},
};
static const char *const model_num[][2] = {
    {"commissioning_mode_initial_steps_hint", "commissioningModeInitialStepsHint"},
    {"commissioning_mode_secondary_steps_hint", "commissioningModeSecondaryStepsHint"},
    {"enhanced_setup_flow_options", "enhancedSetupFlowOptions"},
    {"enhanced_setup_flow_tc_revision", "enhancedSetupFlowTCRevision"},
    {"enhanced_setup_flow_tc_file_size", "enhancedSetupFlowTCFileSize"},
    {"icd_user_active_mode_trigger_hint", "icdUserActiveModeTriggerHint"},
    {"factory_reset_steps_hint", "factoryResetStepsHint"},
};
#define NSTR (sizeof(model_str) / sizeof(model_str[0]))
#define NNUM (sizeof(model_num) / sizeof(model_num[0]))

static int model_known(dcl_rec *r)
{
    const char *keys[NSTR + NNUM + 2];
    size_t n = 0;
    for (size_t i = 0; i < NSTR; i++) keys[n++] = model_str[i][0];
    for (size_t i = 0; i < NNUM; i++) keys[n++] = model_num[i][0];
    keys[n++] = "comment";
    keys[n] = NULL;
    return dcl_rec_known(r, keys);
}

static void model_common(dcl_rec *r, const mp_product *p)
{
    dcl_rec_set_int(r, "vid", p->vendor_id, dcl_rec_common(r, "vendor_id"));
    dcl_rec_set_int(r, "pid", p->product_id, dcl_rec_common(r, "product_id"));
    dcl_rec_set_int(r, "deviceTypeId", p->device_type_id, dcl_rec_common(r, "device_type_id"));
    dcl_rec_set_str(r, "productName", p->product_name, dcl_rec_common(r, "product_name"));
    dcl_rec_set_str(r, "productLabel", p->product_label, dcl_rec_common(r, "product_label"));
    dcl_rec_set_str(r, "partNumber", p->part_number, dcl_rec_common(r, "part_number"));
    dcl_rec_set_int(r, "commissioningCustomFlow", p->commissioning_flow, dcl_rec_common(r, "commissioning_flow"));
    dcl_rec_set_str(r, "productUrl", p->product_url, dcl_rec_common(r, "product_url"));
    dcl_rec_set_int(r, "discoveryCapabilitiesBitmask", p->discovery_caps, dcl_rec_common(r, "discovery_capabilities"));
    /* dcld's defaults; the keeper turns 0 into these anyway */
    dcl_rec_set_int(r, "commissioningModeInitialStepsHint", 1, NULL);
    dcl_rec_set_int(r, "commissioningModeSecondaryStepsHint", 4, NULL);
}

int dcl_model(const dcl_ctx *c, json_t **msg)
{
    dcl_rec r;
    int rc = dcl_rec_init(&r, c, &dcl_msg_model, "model");
    if (rc != MP_OK || (rc = model_known(&r)) != MP_OK) goto fail;
    model_common(&r, c->prod);
    for (size_t i = 0; i < NSTR; i++) {
        if ((rc = dcl_rec_str(&r, model_str[i][0], model_str[i][1])) != MP_OK) goto fail;
    }
    for (size_t i = 0; i < NNUM; i++) {
        if ((rc = dcl_rec_uint(&r, model_num[i][0], model_num[i][1])) != MP_OK) goto fail;
    }
    return dcl_rec_finish(&r, msg);
fail:
    dcl_rec_free(&r);
    return rc;
}

/* ---- model version ------------------------------------------------------- */

int dcl_cd_check(const dcl_ctx *c, const dcl_cd *cd, const char *what)
{
    const mp_product *p = c->prod;
    size_t i;
    if (cd->vendor_id != p->vendor_id) {
        return mp_err(MP_ERR_MISMATCH, "%s: the CD's vendor_id 0x%04X is not the product's vendor_id 0x%04X (%s)",
                      what, cd->vendor_id, p->vendor_id, p->path);
    }
    for (i = 0; i < cd->n_pids && cd->product_ids[i] != p->product_id; i++) {
    }
    if (i == cd->n_pids) {
        return mp_err(MP_ERR_MISMATCH, "%s: the product's product_id 0x%04X (%s) is not in the CD's product_id_array",
                      what, p->product_id, p->path);
    }
    return MP_OK;
}

/* software_version / software_version_string: command line over dcl.model_version. */
int dcl_sw_apply(dcl_rec *r, const dcl_sw *sw, const char *vfield, const char *sfield)
{
    json_t *sec = NULL;
    char where[512];
    uint64_t v = UINT64_MAX;
    const char *s = NULL;
    int rc = dcl_section(r->c->prod, "model_version", &sec);
    snprintf(where, sizeof(where), "%s: dcl.model_version", r->c->prod->path);
    if (rc != MP_OK || (rc = mp_json_uint(where, sec, "software_version", 0, 0xFFFFFFFFu, 0, &v)) != MP_OK ||
        (rc = mp_json_str(where, sec, "software_version_string", 0, 1 << 20, 0, &s)) != MP_OK) {
        return rc;
    }
    char vsrc[600], ssrc[600];
    snprintf(vsrc, sizeof(vsrc), "%s.software_version", where);
    snprintf(ssrc, sizeof(ssrc), "%s.software_version_string", where);
    if (sw->has_version) {
        v = sw->version;
        snprintf(vsrc, sizeof(vsrc), "--software-version");
    }
    if (sw->version_string != NULL) {
        s = sw->version_string;
        snprintf(ssrc, sizeof(ssrc), "--software-version-string");
    }
    if (v == UINT64_MAX || s == NULL) {
        return mp_err(MP_ERR_USAGE, "the software version is needed: give --software-version N and --software-version-string S, or %s.software_version and .software_version_string", where);
    }
    dcl_rec_set_int(r, vfield, (long long)v, vsrc);
    dcl_rec_set_str(r, sfield, s, ssrc);
    return MP_OK;
}

/* Size and SHA-256 of the OTA image; must agree with values given otherwise. */
static int ota_measure(dcl_rec *r, const char *path)
{
    FILE *f = mp_fopen_input(path);
    unsigned char buf[65536], md[32], b64[45];
    unsigned long long size = 0;
    size_t n;
    if (f == NULL) return mp_err(MP_ERR_IO, "--ota-file %s: cannot open", path);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    while (ok && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        ok = EVP_DigestUpdate(ctx, buf, n) == 1;
        size += n;
    }
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, NULL) == 1;
    EVP_MD_CTX_free(ctx);
    fclose(f);
    if (!ok) return mp_err_ssl(MP_ERR_IO, "--ota-file %s: cannot read or hash", path);
    EVP_EncodeBlock(b64, md, 32);
    char sz[24];
    snprintf(sz, sizeof(sz), "%llu", size);
    const char *gs = json_string_value(json_object_get(r->msg, "otaFileSize"));
    const char *gc = json_string_value(json_object_get(r->msg, "otaChecksum"));
    json_int_t gt = json_integer_value(json_object_get(r->msg, "otaChecksumType"));
    if ((strcmp(gs, "0") != 0 && strcmp(gs, sz) != 0) || (*gc && strcmp(gc, (char *)b64) != 0) || (gt != 0 && gt != 1)) {
        return mp_err(MP_ERR_MISMATCH, "--ota-file %s: size %s / SHA-256 %s differ from the otaFileSize / otaChecksum / otaChecksumType given", path, sz, b64);
    }
    dcl_rec_set_str(r, "otaFileSize", sz, "--ota-file");
    dcl_rec_set_str(r, "otaChecksum", (char *)b64, "--ota-file");
    dcl_rec_set_int(r, "otaChecksumType", 1, "--ota-file");
    return MP_OK;
}

static void mv_cli(dcl_rec *r, const dcl_sw *sw)
{
    char sz[24];
    if (sw->ota_url) dcl_rec_set_str(r, "otaUrl", sw->ota_url, "--ota-url");
    if (sw->has_ota_size) {
        snprintf(sz, sizeof(sz), "%llu", (unsigned long long)sw->ota_size);
        dcl_rec_set_str(r, "otaFileSize", sz, "--ota-file-size");
    }
    if (sw->ota_checksum) dcl_rec_set_str(r, "otaChecksum", sw->ota_checksum, "--ota-checksum");
    if (sw->has_ota_type) dcl_rec_set_int(r, "otaChecksumType", sw->ota_type, "--ota-checksum-type");
    if (sw->has_min) dcl_rec_set_int(r, "minApplicableSoftwareVersion", sw->min_applicable, "--min-applicable");
    if (sw->has_max) dcl_rec_set_int(r, "maxApplicableSoftwareVersion", sw->max_applicable, "--max-applicable");
}

static int mv_section(dcl_rec *r)
{
    const char *const *keys = mv_keys;
    uint64_t size = UINT64_MAX;
    char sz[24];
    int rc;
    dcl_rec_set(r, "softwareVersionValid", json_true(), NULL);
    if ((rc = dcl_rec_known(r, keys)) != MP_OK || (rc = dcl_rec_str(r, "firmware_information", "firmwareInformation")) != MP_OK ||
        (rc = dcl_rec_bool(r, "software_version_valid", "softwareVersionValid")) != MP_OK ||
        (rc = dcl_rec_str(r, "ota_url", "otaUrl")) != MP_OK || (rc = dcl_rec_str(r, "ota_checksum", "otaChecksum")) != MP_OK ||
        (rc = dcl_rec_uint(r, "ota_checksum_type", "otaChecksumType")) != MP_OK ||
        (rc = dcl_rec_uint(r, "min_applicable_software_version", "minApplicableSoftwareVersion")) != MP_OK ||
        (rc = dcl_rec_uint(r, "max_applicable_software_version", "maxApplicableSoftwareVersion")) != MP_OK ||
        (rc = dcl_rec_str(r, "release_notes_url", "releaseNotesUrl")) != MP_OK ||
        (rc = mp_json_uint(r->where, r->sec, "ota_file_size", 0, INT64_MAX, 0, &size)) != MP_OK) {
        return rc;
    }
    if (size != UINT64_MAX) {
        snprintf(sz, sizeof(sz), "%llu", (unsigned long long)size);
        dcl_rec_set_str(r, "otaFileSize", sz, "dcl.model_version.ota_file_size");
    }
    return MP_OK;
}

int dcl_model_version(const dcl_ctx *c, const dcl_sw *sw, const dcl_cd *cd, json_t **msg)
{
    dcl_rec r;
    uint64_t cdv = UINT64_MAX;
    int rc = dcl_rec_init(&r, c, &dcl_msg_model_version, "model_version");
    if (rc != MP_OK || (rc = dcl_cd_check(c, cd, "model-version")) != MP_OK || (rc = mv_section(&r)) != MP_OK ||
        (rc = mp_json_uint(r.where, r.sec, "cd_version_number", 0, 0xFFFF, 0, &cdv)) != MP_OK) goto fail;
    if (cdv != UINT64_MAX && cdv != cd->version_number) {
        rc = mp_err(MP_ERR_MISMATCH, "%s.cd_version_number is %llu but the CD's version_number is %u", r.where,
                    (unsigned long long)cdv, cd->version_number);
        goto fail;
    }
    dcl_rec_set_int(&r, "vid", c->prod->vendor_id, dcl_rec_common(&r, "vendor_id"));
    dcl_rec_set_int(&r, "pid", c->prod->product_id, dcl_rec_common(&r, "product_id"));
    dcl_rec_set_int(&r, "cdVersionNumber", cd->version_number, "the CD's version_number");
    mv_cli(&r, sw);
    if ((rc = dcl_sw_apply(&r, sw, "softwareVersion", "softwareVersionString")) != MP_OK ||
        (sw->ota_file && (rc = ota_measure(&r, sw->ota_file)) != MP_OK)) goto fail;
    if ((!sw->has_min && json_object_get(r.sec, "min_applicable_software_version") == NULL) ||
        (!sw->has_max && json_object_get(r.sec, "max_applicable_software_version") == NULL)) {
        rc = mp_err(MP_ERR_USAGE, "model-version: give --min-applicable/--max-applicable or %s.min_applicable_software_version and .max_applicable_software_version (dcld requires both)", r.where);
        goto fail;
    }
    return dcl_rec_finish(&r, msg);
fail:
    dcl_rec_free(&r);
    return rc;
}

/* Every dcl section's fields, whichever command loads product.json (see
 * product.h): unknown sections and fields are refused. */
int mp_dcl_section_check(const char *path, json_t *dcl)
{
    static const char *const sections[] = {"vendor", "model", "model_version", "compliance", "revocation_points", "comment", NULL};
    dcl_rec r;
    int rc;
    memset(&r, 0, sizeof(r));
    snprintf(r.where, sizeof(r.where), "%s: dcl", path);
    if (!json_is_object(dcl)) return mp_err(MP_ERR_INVALID, "%s: must be an object", r.where);
    if ((rc = mp_json_known(r.where, dcl, sections)) != MP_OK) return rc;
    for (int i = 0; sections[i + 1] != NULL; i++) {
        r.sec = json_object_get(dcl, sections[i]);
        snprintf(r.where, sizeof(r.where), "%s: dcl.%s", path, sections[i]);
        if (r.sec == NULL) continue;
        if (!json_is_object(r.sec)) return mp_err(MP_ERR_INVALID, "%s: must be an object", r.where);
        switch (i) {
        case 0: rc = dcl_rec_known(&r, vendor_keys); break;
        case 1: rc = model_known(&r); break;
        case 2: rc = dcl_rec_known(&r, mv_keys); break;
        case 3: rc = dcl_compliance_known(&r); break;
        default: rc = dcl_rp_known(r.where, r.sec); break;
        }
        if (rc != MP_OK) return rc;
    }
    return MP_OK;
}
