/* dcl_schema.c - the Msg tables of dcl.md section 4 (v1.6.0) with the v1.5.2
 * differences of section 5, and the validator (see dcl_schema.h). */
#include "dcl_schema.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcl_json.h"
#include "dcl_text.h"

#define U32 INT64_C(4294967295)
#define NOCAP INT64_C(1000000000)
#define V15 DCL_V15
#define V16 DCL_V16
#define VA DCL_VALL
#define END {NULL, 0, 0, 0, 0, 0, NULL}
#define ADDR(n) {n, DT_STR, VA, R_ADDR, 0, 128, NULL}
#define URL16(n) {n, DT_STR, VA, R_HTTPS, 0, 256, NULL}
#define SHA_TYPES "1|7|8|10|11|12"
/* Runs of field rules that several Msgs share, in the same proto order. */
#define VID {"vid", DT_INT, VA, R_REQ, 1, 65535, NULL}
#define VID_PID VID, {"pid", DT_INT, VA, R_REQ, 1, 65535, NULL}
#define SCHEMA0 {"schemaVersion", DT_INT, VA, 0, 0, 0, NULL}
#define MODEL_URLS URL16("userManualUrl"), URL16("supportUrl"), URL16("productUrl"), URL16("lsfUrl")
#define MODEL_ESF                                                   \
    {"enhancedSetupFlowOptions", DT_INT, VA, 0, 0, 65535, NULL},    \
    URL16("enhancedSetupFlowTCUrl"),                                \
    {"enhancedSetupFlowTCRevision", DT_INT, VA, 0, 0, 65535, NULL}, \
    {"enhancedSetupFlowTCDigest", DT_STR, VA, R_B64, 0, 128, NULL}, \
    {"enhancedSetupFlowTCFileSize", DT_INT, VA, 0, 0, U32, NULL},   \
    URL16("maintenanceUrl")
#define MODEL_ICD_RESET                                                    \
    {"icdUserActiveModeTriggerHint", DT_INT, VA, 0, 0, U32, NULL},         \
    {"icdUserActiveModeTriggerInstruction", DT_STR, VA, 0, 0, 1024, NULL}, \
    {"factoryResetStepsHint", DT_INT, VA, 0, 0, U32, NULL},                \
    {"factoryResetStepsInstruction", DT_STR, VA, 0, 0, 1024, NULL}
#define MV_APPLICABLE                                              \
    {"minApplicableSoftwareVersion", DT_INT, VA, 0, 0, U32, NULL}, \
    {"maxApplicableSoftwareVersion", DT_INT, VA, 0, 0, U32, NULL}, \
    URL16("releaseNotesUrl")
#define RP_LABEL                                \
    {"label", DT_STR, V16, R_REQ, 0, 64, NULL}, \
    {"label", DT_STR, V15, R_REQ, 0, NOCAP, NULL}
#define RP_ISSUER                                                      \
    {"issuerSubjectKeyID", DT_STR, V16, R_REQ | R_HEXID, 0, 64, NULL}, \
    {"issuerSubjectKeyID", DT_STR, V15, R_REQ | R_HEXID, 0, NOCAP, NULL}
#define RP_DELEGATOR                                           \
    {"crlSignerDelegator", DT_STR, V16, R_PEM, 0, 2048, NULL}, \
    {"crlSignerDelegator", DT_STR, V15, R_PEM, 0, 10485760, NULL}
#define CERT_SUBJECT                                       \
    ADDR("signer"),                                        \
    {"subject", DT_STR, VA, R_REQ | R_B64, 0, 1024, NULL}, \
    {"subjectKeyId", DT_STR, VA, R_REQ, 0, 256, NULL}

static int model_extra(const dcl_schema *s, json_t *m, int ver, json_t *src);
static int mv_extra(const dcl_schema *s, json_t *m, int ver, json_t *src);
static int rp_extra(const dcl_schema *s, json_t *m, int ver, json_t *src);
static int compliance_extra(const dcl_schema *s, json_t *m, int ver, json_t *src);

static const dcl_field vendor_fields[] = {
    ADDR("creator"),
    {"vendorID", DT_INT, VA, R_REQ, 1, 65535, NULL},
    {"vendorName", DT_STR, VA, R_REQ, 0, 128, NULL},
    {"companyLegalName", DT_STR, VA, R_REQ, 0, 256, NULL},
    {"companyPreferredName", DT_STR, VA, 0, 0, 256, NULL},
    URL16("vendorLandingPageURL"),
    SCHEMA0,
    END,
};

static const dcl_field model_fields[] = {
    ADDR("creator"),
    VID_PID,
    {"deviceTypeId", DT_INT, VA, 0, 0, 65535, NULL},
    {"productName", DT_STR, VA, R_REQ, 0, 128, NULL},
    {"productLabel", DT_STR, V16, R_REQ, 0, 256, NULL},
    {"productLabel", DT_STR, V15, 0, 0, 256, NULL},
    {"partNumber", DT_STR, V16, R_REQ, 0, 32, NULL},
    {"partNumber", DT_STR, V15, 0, 0, 32, NULL},
    {"commissioningCustomFlow", DT_INT, VA, 0, 0, 2, NULL},
    URL16("commissioningCustomFlowUrl"),
    {"commissioningModeInitialStepsHint", DT_INT, VA, 0, 0, U32, NULL},
    {"commissioningModeInitialStepsInstruction", DT_STR, VA, 0, 0, 1024, NULL},
    {"commissioningModeSecondaryStepsHint", DT_INT, VA, 0, 0, U32, NULL},
    {"commissioningModeSecondaryStepsInstruction", DT_STR, VA, 0, 0, 1024, NULL},
    MODEL_URLS,
    SCHEMA0,
    MODEL_ESF,
    {"discoveryCapabilitiesBitmask", DT_INT, V16, 0, 0, 30, NULL},
    {"discoveryCapabilitiesBitmask", DT_INT, V15, 0, 0, 14, NULL},
    {"commissioningFallbackUrl", DT_STR, V16, R_HTTPS, 0, 256, NULL},
    {"commissioningFallbackUrl", DT_STR, V15, R_URL | R_NOHTTP, 0, 256, NULL},
    MODEL_ICD_RESET,
    END,
};

static const dcl_field mv_fields[] = {
    ADDR("creator"),
    VID_PID,
    {"softwareVersion", DT_INT, VA, 0, 0, U32, NULL},
    {"softwareVersionString", DT_STR, VA, R_REQ, 0, 64, NULL},
    {"cdVersionNumber", DT_INT, VA, 0, 0, 65535, NULL},
    {"firmwareInformation", DT_STR, VA, 0, 0, 512, NULL},
    {"softwareVersionValid", DT_BOOL, VA, 0, 0, 0, NULL},
    URL16("otaUrl"),
    {"otaFileSize", DT_INT64S, VA, 0, 0, INT64_MAX, NULL},
    {"otaChecksum", DT_STR, V16, R_B64, 44, 88, NULL},
    {"otaChecksum", DT_STR, V15, 0, 0, 64, NULL},
    {"otaChecksumType", DT_INT, V16, 0, 0, 12, SHA_TYPES},
    {"otaChecksumType", DT_INT, V15, 0, 0, 65535, NULL},
    MV_APPLICABLE,
    SCHEMA0,
    {"specificationVersion", DT_INT, VA, 0, 0, U32, NULL},
    END,
};

#define CERT_FIELDS                                                        \
    ADDR("signer"),                                                        \
    {"cert", DT_STR, V16, R_REQ | R_PEM, 0, 20480, NULL},                  \
    {"cert", DT_STR, V15, R_REQ | R_PEM, 0, 10485760, NULL},               \
    {"info", DT_STR, VA, 0, 0, 4096, NULL},                                \
    {"time", DT_INT64S, VA, 0, 0, INT64_MAX, NULL}

static const dcl_field add_cert_fields[] = {
    CERT_FIELDS,
    {"certSchemaVersion", DT_INT, VA, 0, 0, 0, NULL},
    END,
};

static const dcl_field propose_fields[] = {
    CERT_FIELDS,
    VID,
    {"certSchemaVersion", DT_INT, VA, 0, 0, 0, NULL},
    END,
};

static const dcl_field rp_fields[] = {
    ADDR("signer"),
    VID,
    {"pid", DT_INT, VA, 0, 0, 65535, NULL},
    {"isPAA", DT_BOOL, VA, 0, 0, 0, NULL},
    RP_LABEL,
    {"crlSignerCertificate", DT_STR, V16, R_REQ | R_PEM, 0, 2048, NULL},
    {"crlSignerCertificate", DT_STR, V15, R_REQ | R_PEM, 0, NOCAP, NULL},
    RP_ISSUER,
    {"dataURL", DT_STR, V16, R_REQ | R_HTTPX, 0, 256, NULL},
    {"dataURL", DT_STR, V15, R_REQ | R_URL, 0, NOCAP, NULL},
    {"dataFileSize", DT_INT64S, VA, 0, 0, INT64_MAX, NULL},
    {"dataDigest", DT_STR, V16, 0, 0, 128, NULL},
    {"dataDigest", DT_STR, V15, 0, 0, NOCAP, NULL},
    {"dataDigestType", DT_INT, VA, 0, 0, U32, SHA_TYPES},
    {"revocationType", DT_INT, VA, R_REQ, 0, U32, "1"},
    SCHEMA0,
    RP_DELEGATOR,
    END,
};

/* ---- After launch: updates, deletions, revocations (DCL v1.6.0 tx.proto).
 * Update Msgs leave a field unchanged when it is empty/0, except the ones the
 * keeper always overwrites (softwareVersionValid, enhancedSetupFlowOptions). */

static const dcl_field rp_update_fields[] = {
    ADDR("signer"),
    VID,
    RP_LABEL,
    {"crlSignerCertificate", DT_STR, V16, R_PEM, 0, 2048, NULL},
    {"crlSignerCertificate", DT_STR, V15, R_PEM, 0, NOCAP, NULL},
    RP_ISSUER,
    {"dataURL", DT_STR, V16, R_HTTPX, 0, 256, NULL},
    {"dataURL", DT_STR, V15, R_URL, 0, NOCAP, NULL},
    {"dataFileSize", DT_INT64S, VA, 0, 0, INT64_MAX, NULL},
    {"dataDigest", DT_STR, VA, 0, 0, 128, NULL},
    {"dataDigestType", DT_INT, VA, 0, 0, U32, SHA_TYPES},
    SCHEMA0,
    RP_DELEGATOR,
    END,
};

static const dcl_field rp_delete_fields[] = {
    ADDR("signer"),
    VID,
    {"label", DT_STR, VA, R_REQ, 0, 64, NULL},
    {"issuerSubjectKeyID", DT_STR, VA, R_REQ | R_HEXID, 0, 64, NULL},
    END,
};

static const dcl_field vendor_update_fields[] = {
    ADDR("creator"),
    {"vendorID", DT_INT, VA, R_REQ, 1, 65535, NULL},
    {"vendorName", DT_STR, VA, 0, 0, 128, NULL},
    {"companyLegalName", DT_STR, VA, 0, 0, 256, NULL},
    {"companyPreferredName", DT_STR, VA, 0, 0, 256, NULL},
    URL16("vendorLandingPageURL"),
    SCHEMA0,
    END,
};

static const dcl_field model_update_fields[] = {
    ADDR("creator"),
    VID_PID,
    {"productName", DT_STR, VA, 0, 0, 128, NULL},
    {"productLabel", DT_STR, VA, 0, 0, 256, NULL},
    {"partNumber", DT_STR, VA, 0, 0, 32, NULL},
    URL16("commissioningCustomFlowUrl"),
    {"commissioningModeInitialStepsInstruction", DT_STR, VA, 0, 0, 1024, NULL},
    {"commissioningModeSecondaryStepsInstruction", DT_STR, VA, 0, 0, 1024, NULL},
    MODEL_URLS,
    {"lsfRevision", DT_INT, VA, 0, 0, 65535, NULL},
    SCHEMA0,
    {"commissioningModeInitialStepsHint", DT_INT, VA, 0, 0, U32, NULL},
    MODEL_ESF,
    {"commissioningFallbackUrl", DT_STR, VA, R_HTTPS, 0, 256, NULL},
    {"commissioningModeSecondaryStepsHint", DT_INT, VA, 0, 0, U32, NULL},
    MODEL_ICD_RESET,
    END,
};

static const dcl_field model_delete_fields[] = {
    ADDR("creator"),
    VID_PID,
    END,
};

static const dcl_field mv_update_fields[] = {
    ADDR("creator"),
    VID_PID,
    {"softwareVersion", DT_INT, VA, 0, 0, U32, NULL},
    {"softwareVersionValid", DT_BOOL, VA, 0, 0, 0, NULL},
    URL16("otaUrl"),
    MV_APPLICABLE,
    {"otaFileSize", DT_INT64S, VA, 0, 0, INT64_MAX, NULL},
    {"otaChecksum", DT_STR, VA, R_B64, 0, 88, NULL},
    SCHEMA0,
    {"otaChecksumType", DT_INT, V16, 0, 0, 12, SHA_TYPES},
    END,
};

static const dcl_field mv_delete_fields[] = {
    ADDR("creator"),
    VID_PID,
    {"softwareVersion", DT_INT, VA, 0, 0, U32, NULL},
    END,
};

#define REVOKE_FIELDS                                          \
    CERT_SUBJECT,                                              \
    {"info", DT_STR, VA, 0, 0, 4096, NULL},                    \
    {"time", DT_INT64S, VA, 0, 0, INT64_MAX, NULL},            \
    {"serialNumber", DT_STR, VA, 0, 0, NOCAP, NULL},           \
    {"revokeChild", DT_BOOL, VA, 0, 0, 0, NULL},               \
    END

static const dcl_field revoke_cert_fields[] = {REVOKE_FIELDS};
static const dcl_field propose_revoke_root_fields[] = {REVOKE_FIELDS};

static const dcl_field remove_cert_fields[] = {
    CERT_SUBJECT,
    {"serialNumber", DT_STR, VA, 0, 0, NOCAP, NULL},
    END,
};

static int mv_update_extra(const dcl_schema *s, json_t *m, int ver, json_t *src);

#define COMPLIANCE_FIELDS(date)                                                              \
    ADDR("signer"),                                                                          \
    VID_PID,                                                                                 \
    {"softwareVersion", DT_INT, VA, 0, 0, U32, NULL},                                        \
    {"softwareVersionString", DT_STR, VA, R_REQ, 0, 64, NULL},                               \
    {"cDVersionNumber", DT_INT, VA, 0, 0, 65535, NULL},                                      \
    {date, DT_STR, VA, R_REQ | R_RFC3339, 0, NOCAP, NULL},                                   \
    {"certificationType", DT_STR, V16, R_REQ, 0, 20, "zigbee|matter|aliro"},                \
    {"certificationType", DT_STR, V15, R_REQ, 0, 100, NULL},                                 \
    {"reason", DT_STR, V16, 0, 0, 20480, NULL},                                              \
    {"reason", DT_STR, V15, 0, 0, 102400, NULL},                                             \
    {"programTypeVersion", DT_STR, VA, 0, 0, 64, NULL},                                      \
    {"cDCertificateId", DT_STR, V16, R_REQ, 19, 19, NULL},                                   \
    {"cDCertificateId", DT_STR, V15, R_REQ, 0, 64, NULL},                                    \
    {"familyId", DT_STR, VA, R_ALNUM, 0, 64, NULL},                                          \
    {"supportedClusters", DT_STR, V16, R_CLUSTERS, 0, 256, NULL},                            \
    {"supportedClusters", DT_STR, V15, 0, 0, 64, NULL},                                      \
    {"compliantPlatformUsed", DT_STR, VA, 0, 0, 64, NULL},                                   \
    {"compliantPlatformVersion", DT_STR, VA, 0, 0, 64, NULL},                                \
    {"OSVersion", DT_STR, VA, 0, 0, 64, NULL},                                               \
    {"certificationRoute", DT_STR, VA, 0, 0, 64,                                             \
     "fullTested|similarity|rapid-recert|fastTrack|ctp|family|portfolio"},                   \
    {"programType", DT_STR, VA, 0, 0, 64, "endProduct|softwareComponent|compliantPlatform"}, \
    {"transport", DT_STR, VA, R_WORDS, 0, 64, "thread|wi-fi|ethernet|bluetooth|nfc"},        \
    {"parentChild", DT_STR, VA, 0, 0, 64, "parent|child"},                                   \
    {"certificationIdOfSoftwareComponent", DT_STR, VA, 0, 0, 64, NULL},                      \
    {"schemaVersion", DT_INT, V16, 0, 1, 1, NULL},                                           \
    {"schemaVersion", DT_INT, V15, 0, 0, 0, NULL},                                           \
    {"specificationVersion", DT_INT, V16, R_REQ, 0, U32, NULL},                              \
    END

static const dcl_field certify_fields[] = {COMPLIANCE_FIELDS("certificationDate")};
static const dcl_field provision_fields[] = {COMPLIANCE_FIELDS("provisionalDate")};

#define T(mod, msg) DCL_TYPE_PREFIX mod "." msg, msg
const dcl_schema dcl_msg_vendor_info = {T("vendorinfo", "MsgCreateVendorInfo"), vendor_fields, NULL};
const dcl_schema dcl_msg_model = {T("model", "MsgCreateModel"), model_fields, model_extra};
const dcl_schema dcl_msg_model_version = {T("model", "MsgCreateModelVersion"), mv_fields, mv_extra};
const dcl_schema dcl_msg_add_cert = {T("pki", "MsgAddX509Cert"), add_cert_fields, NULL};
const dcl_schema dcl_msg_propose_root = {T("pki", "MsgProposeAddX509RootCert"), propose_fields, NULL};
const dcl_schema dcl_msg_revocation_point = {T("pki", "MsgAddPkiRevocationDistributionPoint"), rp_fields, rp_extra};
const dcl_schema dcl_msg_certify = {T("compliance", "MsgCertifyModel"), certify_fields, compliance_extra};
const dcl_schema dcl_msg_provision = {T("compliance", "MsgProvisionModel"), provision_fields, compliance_extra};
const dcl_schema dcl_msg_rp_update = {T("pki", "MsgUpdatePkiRevocationDistributionPoint"), rp_update_fields, rp_extra};
const dcl_schema dcl_msg_rp_delete = {T("pki", "MsgDeletePkiRevocationDistributionPoint"), rp_delete_fields, NULL};
const dcl_schema dcl_msg_vendor_update = {T("vendorinfo", "MsgUpdateVendorInfo"), vendor_update_fields, NULL};
const dcl_schema dcl_msg_model_update = {T("model", "MsgUpdateModel"), model_update_fields, model_extra};
const dcl_schema dcl_msg_model_delete = {T("model", "MsgDeleteModel"), model_delete_fields, NULL};
const dcl_schema dcl_msg_mv_update = {T("model", "MsgUpdateModelVersion"), mv_update_fields, mv_update_extra};
const dcl_schema dcl_msg_mv_delete = {T("model", "MsgDeleteModelVersion"), mv_delete_fields, NULL};
const dcl_schema dcl_msg_revoke_cert = {T("pki", "MsgRevokeX509Cert"), revoke_cert_fields, NULL};
const dcl_schema dcl_msg_remove_cert = {T("pki", "MsgRemoveX509Cert"), remove_cert_fields, NULL};
const dcl_schema dcl_msg_propose_revoke_root = {T("pki", "MsgProposeRevokeX509RootCert"), propose_revoke_root_fields, NULL};

const char *dcl_version_name(int ver)
{
    return ver == DCL_V15 ? "1.5" : "1.6";
}

json_t *dcl_msg_new(const dcl_schema *s, int ver)
{
    json_t *m = json_object();
    json_object_set_new(m, "@type", json_string(s->type));
    for (const dcl_field *f = s->fields; f->name != NULL; f++) {
        if (!(f->vers & ver)) continue;
        json_t *v = f->type == DT_STR ? json_string("") : f->type == DT_INT ? json_integer((f->rules & R_REQ) ? 0 : f->min)
                  : f->type == DT_INT64S ? json_string("0") : json_false();
        json_object_set_new(m, f->name, v);
    }
    return m;
}

/* Record a failure naming the Msg field, the rule and the value's source. */
static int fail(const dcl_schema *s, json_t *src, const char *field, int ver, const char *what)
{
    const char *from = json_string_value(json_object_get(src, field));
    return mp_err(MP_ERR_INVALID, "%s.%s: %s (DCL %s)%s%s", s->name, field, what,
                  dcl_version_name(ver), from ? "; from " : "", from ? from : "");
}

static int check_number(const dcl_schema *s, const dcl_field *f, json_t *v, int ver, json_t *src)
{
    char what[160];
    json_int_t n = json_integer_value(v);
    if (!json_is_integer(v)) return fail(s, src, f->name, ver, "must be a JSON number");
    if (n < f->min || n > f->max) {
        snprintf(what, sizeof(what), "is %" JSON_INTEGER_FORMAT "; the DCL accepts %" PRId64 "..%" PRId64,
                 n, f->min, f->max);
        return fail(s, src, f->name, ver, what);
    }
    if ((f->rules & R_REQ) && n == 0) return fail(s, src, f->name, ver, "is required (non-zero)");
    snprintf(what, sizeof(what), "%" JSON_INTEGER_FORMAT, n);
    if (f->set != NULL && n != 0 && !dcl_in_set(what, f->set)) {
        snprintf(what, sizeof(what), "is %" JSON_INTEGER_FORMAT "; must be one of %s", n, f->set);
        return fail(s, src, f->name, ver, what);
    }
    return MP_OK;
}

static int check_int64s(const dcl_schema *s, const dcl_field *f, json_t *v, int ver, json_t *src)
{
    const char *t = json_string_value(v);
    char *end = NULL;
    if (t == NULL) return fail(s, src, f->name, ver, "64-bit integers are JSON strings of decimal digits");
    unsigned long long n = strtoull(t, &end, 10);
    if (*t < '0' || *t > '9' || *end != 0 || (t[0] == '0' && t[1] != 0) || n > (unsigned long long)f->max) {
        return fail(s, src, f->name, ver, "must be a decimal string without sign or leading zeros, in range");
    }
    if ((f->rules & R_REQ) && n == 0) return fail(s, src, f->name, ver, "is required (non-zero)");
    return MP_OK;
}

static int check_format(const dcl_schema *s, const dcl_field *f, const char *t, int ver, json_t *src)
{
    unsigned r = f->rules;
    const char *bad = NULL;
    if ((r & R_HTTPS) && !dcl_is_url(t, DCL_URL_HTTPS)) bad = "must be an absolute https:// URL with a host (https_url)";
    else if ((r & R_HTTPX) && !dcl_is_url(t, DCL_URL_HTTP_OR_HTTPS)) bad = "must be an absolute http:// or https:// URL with a host (http_or_https_url)";
    else if ((r & R_URL) && !dcl_is_url(t, DCL_URL_ANY)) bad = "must be an absolute URL (url)";
    else if ((r & R_NOHTTP) && !dcl_is_url(t, DCL_URL_NOT_HTTP)) bad = "must not start with http: (startsnotwith=http:)";
    else if ((r & R_B64) && !dcl_is_base64(t)) bad = "must be standard base64 with padding";
    else if ((r & R_HEXID) && !dcl_is_hexid(t)) bad = "must be uppercase hex pairs without colons (^(?:[0-9A-F]{2})+$)";
    else if ((r & R_ALNUM) && !dcl_is_alnum(t)) bad = "must match ^[a-zA-Z0-9]*$";
    else if ((r & R_CLUSTERS) && !dcl_is_cluster_list(t)) bad = "must be a comma list of 0x + 1..4 hex digits without duplicates";
    else if ((r & R_WORDS) && !dcl_is_word_list(t, f->set)) bad = "must be a comma list without duplicates of the allowed words";
    else if ((r & R_RFC3339) && !dcl_is_rfc3339(t)) bad = "must be an RFC 3339 date-time, e.g. 2025-01-15T00:00:00Z";
    else if ((r & R_ADDR) && !dcl_is_address(t)) bad = "must be a bech32 cosmos1... account address with a valid checksum";
    else if ((r & R_PEM) && (strncmp(t, "-----BEGIN CERTIFICATE-----\n", 28) != 0 || t[strlen(t) - 1] != '\n')) bad = "must be a PEM certificate ending with a newline";
    else if (f->set != NULL && !(r & R_WORDS) && !dcl_in_set(t, f->set)) bad = "is not one of the allowed values";
    if (bad == NULL) return MP_OK;
    char what[512];
    snprintf(what, sizeof(what), "'%.80s' %s%s%s", t, bad, f->set ? ": " : "", f->set ? f->set : "");
    return fail(s, src, f->name, ver, what);
}

static int check_string(const dcl_schema *s, const dcl_field *f, json_t *v, int ver, json_t *src)
{
    char what[160];
    const char *t = json_string_value(v);
    if (t == NULL) return fail(s, src, f->name, ver, "must be a JSON string");
    long n = dcl_utf8_len(t, json_string_length(v));
    if (n < 0 || strlen(t) != json_string_length(v)) return fail(s, src, f->name, ver, "is not valid UTF-8 text");
    if (n == 0) return (f->rules & R_REQ) ? fail(s, src, f->name, ver, "is required (non-empty)") : MP_OK;
    if (n > f->max || n < f->min) {
        if (f->min == f->max) snprintf(what, sizeof(what), "must be exactly %" PRId64 " characters (is %ld)", f->max, n);
        else snprintf(what, sizeof(what), "must be %" PRId64 "..%" PRId64 " characters (is %ld)", f->min ? f->min : 1, f->max, n);
        return fail(s, src, f->name, ver, what);
    }
    return check_format(s, f, t, ver, src);
}

static int check_field(const dcl_schema *s, const dcl_field *f, json_t *v, int ver, json_t *src)
{
    switch (f->type) {
    case DT_INT: return check_number(s, f, v, ver, src);
    case DT_INT64S: return check_int64s(s, f, v, ver, src);
    case DT_BOOL: return json_is_boolean(v) ? MP_OK : fail(s, src, f->name, ver, "must be true or false");
    default: return check_string(s, f, v, ver, src);
    }
}

int dcl_validate(const dcl_schema *s, json_t *msg, int ver, json_t *src)
{
    void *it = json_object_iter(msg);
    int rc;
    if (it == NULL || strcmp(json_object_iter_key(it), "@type") != 0 ||
        !json_is_string(json_object_iter_value(it)) ||
        strcmp(json_string_value(json_object_iter_value(it)), s->type) != 0) {
        return mp_err(MP_ERR_INVALID, "%s: \"@type\" must come first and be %s", s->name, s->type);
    }
    for (const dcl_field *f = s->fields; f->name != NULL; f++) {
        if (!(f->vers & ver)) continue;
        it = json_object_iter_next(msg, it);
        if (it == NULL || strcmp(json_object_iter_key(it), f->name) != 0) {
            return mp_err(MP_ERR_INVALID, "%s: field '%s' missing or out of proto order (found '%s')", s->name,
                          f->name, it ? json_object_iter_key(it) : "end of object");
        }
        if ((rc = check_field(s, f, json_object_iter_value(it), ver, src)) != MP_OK) return rc;
    }
    if ((it = json_object_iter_next(msg, it)) != NULL) {
        return mp_err(MP_ERR_INVALID, "%s: field '%s' is not part of the Msg in DCL %s (the decoder rejects unknown fields)",
                      s->name, json_object_iter_key(it), dcl_version_name(ver));
    }
    return s->extra ? s->extra(s, msg, ver, src) : MP_OK;
}

/* ---- conditional rules -------------------------------------------------- */

static json_int_t num(json_t *m, const char *k)
{
    return json_integer_value(json_object_get(m, k));
}

static const char *str(json_t *m, const char *k)
{
    const char *s = json_string_value(json_object_get(m, k));
    return s ? s : "";
}

static int model_extra(const dcl_schema *s, json_t *m, int ver, json_t *src)
{
    static const char *const esf[] = {"enhancedSetupFlowTCUrl", "enhancedSetupFlowTCRevision",
                                      "enhancedSetupFlowTCDigest", "maintenanceUrl"};
    if (num(m, "commissioningCustomFlow") == 2 && !*str(m, "commissioningCustomFlowUrl")) {
        return fail(s, src, "commissioningCustomFlowUrl", ver, "is required when commissioningCustomFlow is 2 (required_if)");
    }
    int bit0 = (int)(num(m, "enhancedSetupFlowOptions") & 1);
    for (size_t i = 0; i < sizeof(esf) / sizeof(esf[0]); i++) {
        json_t *v = json_object_get(m, esf[i]);
        int set = json_is_string(v) ? json_string_length(v) > 0 : json_integer_value(v) != 0;
        if (set != bit0) {
            return fail(s, src, esf[i], ver, bit0 ? "is required when bit 0 of enhancedSetupFlowOptions is set (required_if_bit_0_set)"
                                                  : "must be empty unless bit 0 of enhancedSetupFlowOptions is set (required_if_bit_0_set)");
        }
    }
    if (*str(m, "enhancedSetupFlowTCUrl") && num(m, "enhancedSetupFlowTCFileSize") == 0) {
        return fail(s, src, "enhancedSetupFlowTCFileSize", ver, "is required with enhancedSetupFlowTCUrl (required_with)");
    }
    return MP_OK;
}

static size_t digest_len(json_int_t type)
{
    switch (type) {
    case 1: case 10: return 32;
    case 7: case 11: return 48;
    case 8: case 12: return 64;
    default: return 0;
    }
}

static int mv_extra(const dcl_schema *s, json_t *m, int ver, json_t *src)
{
    int has_url = *str(m, "otaUrl") != 0;
    int size = strcmp(str(m, "otaFileSize"), "0") != 0, sum = *str(m, "otaChecksum") != 0,
        type = num(m, "otaChecksumType") != 0;
    if (has_url && (!size || !sum || !type)) {
        return fail(s, src, !size ? "otaFileSize" : !sum ? "otaChecksum" : "otaChecksumType", ver,
                    "is required with otaUrl (required_with)");
    }
    if (!has_url && (size || sum || type)) {
        return fail(s, src, size ? "otaFileSize" : sum ? "otaChecksum" : "otaChecksumType", ver,
                    "must be zero/empty when otaUrl is empty");
    }
    if (num(m, "maxApplicableSoftwareVersion") < num(m, "minApplicableSoftwareVersion")) {
        return fail(s, src, "maxApplicableSoftwareVersion", ver, "must be >= minApplicableSoftwareVersion (gtecsfield)");
    }
    size_t want = digest_len(num(m, "otaChecksumType")), n = strlen(str(m, "otaChecksum"));
    size_t got = n / 4 * 3 - (n && str(m, "otaChecksum")[n - 1] == '=') - (n > 1 && str(m, "otaChecksum")[n - 2] == '=');
    if (ver == DCL_V16 && has_url && want != 0 && got != want) {
        return fail(s, src, "otaChecksum", ver, "does not have the digest length of otaChecksumType");
    }
    return MP_OK;
}

static int rp_extra(const dcl_schema *s, json_t *m, int ver, json_t *src)
{
    int paa = json_is_true(json_object_get(m, "isPAA"));
    if (paa && num(m, "pid") != 0) return fail(s, src, "pid", ver, "must be 0 when isPAA is true");
    if (paa && *str(m, "crlSignerDelegator")) {
        return fail(s, src, "crlSignerDelegator", ver, "only a PAI-delegated CRL signer has a delegator (isPAA is true)");
    }
    if (strcmp(str(m, "dataFileSize"), "0") != 0 || *str(m, "dataDigest") || num(m, "dataDigestType") != 0) {
        return fail(s, src, "dataFileSize", ver, "dataFileSize, dataDigest and dataDigestType must be 0/empty for a CRL (revocationType 1)");
    }
    return MP_OK;
}

static int compliance_extra(const dcl_schema *s, json_t *m, int ver, json_t *src)
{
    if (*str(m, "programTypeVersion") && !*str(m, "programType")) {
        return fail(s, src, "programTypeVersion", ver, "is only allowed together with programType");
    }
    return MP_OK;
}

/* MsgUpdateModelVersion: max >= min when both are given (omitempty,gtecsfield);
 * OTA size, checksum and type come together with otaUrl (the keeper refuses
 * a first otaUrl without them, and OTA metadata once an URL is set). */
static int mv_update_extra(const dcl_schema *s, json_t *m, int ver, json_t *src)
{
    int has_url = *str(m, "otaUrl") != 0;
    int size = strcmp(str(m, "otaFileSize"), "0") != 0, sum = *str(m, "otaChecksum") != 0,
        type = ver == DCL_V16 && num(m, "otaChecksumType") != 0;
    long long mx = num(m, "maxApplicableSoftwareVersion"), mn = num(m, "minApplicableSoftwareVersion");
    if (mx != 0 && mx < mn) {
        return fail(s, src, "maxApplicableSoftwareVersion", ver, "must be >= minApplicableSoftwareVersion (gtecsfield)");
    }
    if (!has_url && (size || sum || type)) {
        return fail(s, src, size ? "otaFileSize" : sum ? "otaChecksum" : "otaChecksumType", ver,
                    "may only be sent together with otaUrl");
    }
    if (sum && strlen(str(m, "otaChecksum")) < 44) {
        return fail(s, src, "otaChecksum", ver, "must be at least 44 base64 characters");
    }
    return MP_OK;
}
