/* test_dcl.c - DCL export: string rules, the JSON writer and envelope, the
 * Msg tables (every rule with a failing value), certificate identifiers. */
#include <stdlib.h>
#include <string.h>

#include "dcl-export/dcl_cert.h"
#include "dcl-export/dcl_json.h"
#include "dcl-export/dcl_schema.h"
#include "dcl-export/dcl_text.h"
#include "testutil.h"
#include "x509.h"

#define ADDR "cosmos1qqgjyv6y24n80zye42aueh0wluqpzg3nm75jna"

static void test_text(void)
{
    CU_ASSERT_EQUAL(dcl_utf8_len("abc", 3), 3);
    CU_ASSERT_EQUAL(dcl_utf8_len("\xC3\xA9t\xC3\xA9", 5), 3);
    CU_ASSERT_EQUAL(dcl_utf8_len("\xF0\x9F\x98\x80", 4), 1);
    CU_ASSERT_EQUAL(dcl_utf8_len("\xC3", 1), -1);
    CU_ASSERT_EQUAL(dcl_utf8_len("\xC0\xAF", 2), -1);      /* overlong */
    CU_ASSERT_EQUAL(dcl_utf8_len("\xED\xA0\x80", 3), -1);  /* surrogate */
    CU_ASSERT_TRUE(dcl_is_url("https://www.example.com", DCL_URL_HTTPS));
    CU_ASSERT_TRUE(dcl_is_url("HTTPS://example.com:8443/a?b#c", DCL_URL_HTTPS));
    CU_ASSERT_TRUE(dcl_is_url("https://user@example.com/x", DCL_URL_HTTPS));
    CU_ASSERT_FALSE(dcl_is_url("http://example.com", DCL_URL_HTTPS));
    CU_ASSERT_FALSE(dcl_is_url("https://", DCL_URL_HTTPS));
    CU_ASSERT_FALSE(dcl_is_url("https:///path", DCL_URL_HTTPS));
    CU_ASSERT_FALSE(dcl_is_url("https://:443/", DCL_URL_HTTPS));
    CU_ASSERT_FALSE(dcl_is_url("https://exa mple.com", DCL_URL_HTTPS));
    CU_ASSERT_FALSE(dcl_is_url("www.example.com", DCL_URL_HTTPS));
    CU_ASSERT_FALSE(dcl_is_url("https:example.com", DCL_URL_HTTPS));
    CU_ASSERT_TRUE(dcl_is_url("http://pki.example.com/a.crl", DCL_URL_HTTP_OR_HTTPS));
    CU_ASSERT_FALSE(dcl_is_url("ftp://pki.example.com/a.crl", DCL_URL_HTTP_OR_HTTPS));
    CU_ASSERT_TRUE(dcl_is_url("ftp://pki.example.com/a.crl", DCL_URL_ANY));
    CU_ASSERT_FALSE(dcl_is_url("http://x.com", DCL_URL_NOT_HTTP));
    CU_ASSERT_TRUE(dcl_is_base64("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
    CU_ASSERT_TRUE(dcl_is_base64("YQ=="));
    CU_ASSERT_FALSE(dcl_is_base64("YQ="));
    CU_ASSERT_FALSE(dcl_is_base64("Y=Q="));
    CU_ASSERT_FALSE(dcl_is_base64("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="));
    CU_ASSERT_TRUE(dcl_is_hexid("E2908D369C3CA3C113BB09E24DC1CCC5A66691D4"));
    CU_ASSERT_FALSE(dcl_is_hexid("e2908d"));
    CU_ASSERT_FALSE(dcl_is_hexid("E2:90"));
    CU_ASSERT_FALSE(dcl_is_hexid("E29"));
    CU_ASSERT_TRUE(dcl_is_alnum("Family01"));
    CU_ASSERT_FALSE(dcl_is_alnum("family-1"));
}

static void test_address_and_lists(void)
{
    char bad[64];
    CU_ASSERT_TRUE(dcl_is_address(ADDR));
    strcpy(bad, ADDR);
    bad[20] = bad[20] == 'q' ? 'p' : 'q';
    CU_ASSERT_FALSE(dcl_is_address(bad));               /* checksum */
    CU_ASSERT_FALSE(dcl_is_address("osmo1qqgjyv6y24n80zye42aueh0wluqpzg3nm75jna"));
    CU_ASSERT_FALSE(dcl_is_address("COSMOS1QQGJYV6Y24N80ZYE42AUEH0WLUQPZG3NM75JNA"));
    CU_ASSERT_FALSE(dcl_is_address("cosmos1"));
    CU_ASSERT_TRUE(dcl_is_rfc3339("2025-01-15T00:00:00Z"));
    CU_ASSERT_TRUE(dcl_is_rfc3339("2025-01-15T00:00:00.5+02:00"));
    CU_ASSERT_FALSE(dcl_is_rfc3339("2025-01-15"));
    CU_ASSERT_FALSE(dcl_is_rfc3339("2025-01-15 00:00:00Z"));
    CU_ASSERT_TRUE(dcl_is_cluster_list("0x0003,0x4,0xFFFF"));
    CU_ASSERT_FALSE(dcl_is_cluster_list("0x000a,0x000A"));
    CU_ASSERT_FALSE(dcl_is_cluster_list("0x00003"));
    CU_ASSERT_FALSE(dcl_is_cluster_list("3"));
    CU_ASSERT_FALSE(dcl_is_cluster_list("0x0003,"));
    CU_ASSERT_TRUE(dcl_is_word_list("thread,wi-fi", "thread|wi-fi|ethernet"));
    CU_ASSERT_FALSE(dcl_is_word_list("thread,thread", "thread|wi-fi"));
    CU_ASSERT_FALSE(dcl_is_word_list("wifi", "thread|wi-fi"));
    CU_ASSERT_FALSE(dcl_is_word_list("thread,", "thread|wi-fi"));
}

static void test_writer(void)
{
    json_t *v = json_pack("{s:s,s:i,s:b,s:n,s:[]}", "s", "<a>&\"\\\n\t\x01\xE2\x80\xA8x/", "n", -5, "b", 1, "z", "e");
    char *out = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(dcl_json_dump(v, &out, &n), MP_OK);
    CU_ASSERT_STRING_EQUAL(out, "{\"s\":\"\\u003ca\\u003e\\u0026\\\"\\\\\\n\\t\\u0001\\u2028x/\",\"n\":-5,\"b\":true,\"z\":null,\"e\":[]}\n");
    CU_ASSERT_EQUAL(n, strlen(out));
    free(out);
    json_decref(v);
    json_t *inner = json_pack("{s:s}", "@type", "/x.Msg"), *tx = dcl_tx_new(inner);
    json_decref(inner);
    CU_ASSERT_EQUAL_FATAL(dcl_json_dump(tx, &out, &n), MP_OK);
    CU_ASSERT_STRING_EQUAL(out, "{\"body\":{\"messages\":[{\"@type\":\"/x.Msg\"}],\"memo\":\"\",\"timeout_height\":\"0\","
                                "\"extension_options\":[],\"non_critical_extension_options\":[]},\"auth_info\":"
                                "{\"signer_infos\":[],\"fee\":{\"amount\":[],\"gas_limit\":\"200000\",\"payer\":\"\","
                                "\"granter\":\"\"},\"tip\":null},\"signatures\":[]}\n");
    CU_ASSERT_PTR_NOT_NULL(dcl_tx_msg(tx));
    free(out);
    json_decref(tx);
}

static void upd(json_t *m, json_t *patch)
{
    json_object_update(m, patch);
    json_decref(patch);
}

/* A valid Msg of each kind, then one field changed per row. */
static json_t *valid_msg(const dcl_schema *s, int ver)
{
    json_t *m = dcl_msg_new(s, ver);
    const char *who = s->fields[0].name;
    json_object_set_new(m, who, json_string(ADDR));
    if (s == &dcl_msg_vendor_info) {
        upd(m, json_pack("{s:i,s:s,s:s}", "vendorID", 65521, "vendorName", "V", "companyLegalName", "V Ltd"));
    } else if (s == &dcl_msg_model) {
        upd(m, json_pack("{s:i,s:i,s:s,s:s,s:s}", "vid", 65521, "pid", 32768, "productName", "P",
                                        "productLabel", "L", "partNumber", "N"));
    } else if (s == &dcl_msg_model_version) {
        upd(m, json_pack("{s:i,s:i,s:i,s:s}", "vid", 1, "pid", 1, "softwareVersion", 1, "softwareVersionString", "1"));
    } else if (s == &dcl_msg_revocation_point) {
        upd(m, json_pack("{s:i,s:b,s:s,s:s,s:s,s:s,s:i}", "vid", 65521, "isPAA", 1, "label", "l",
                                        "crlSignerCertificate", "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n",
                                        "issuerSubjectKeyID", "AB01", "dataURL", "https://x.com/c.crl", "revocationType", 1));
    } else if (s == &dcl_msg_certify) {
        upd(m, json_pack("{s:i,s:i,s:s,s:s,s:s,s:s}", "vid", 1, "pid", 1, "softwareVersionString", "1",
                                        "certificationDate", "2025-01-15T00:00:00Z", "certificationType", "matter",
                                        "cDCertificateId", "ZIG20142ZB330003-24"));
        if (ver == DCL_V16) json_object_set_new(m, "specificationVersion", json_integer(0x01040200));
    }
    return m;
}

typedef struct bad_case {
    const dcl_schema *s;
    int ver;
    const char *json; /* fields to overwrite */
    const char *expect; /* substring of the message */
} bad_case;

static const bad_case bad[] = {
    {&dcl_msg_vendor_info, DCL_V16, "{\"creator\":\"cosmos1xyz\"}", "creator: 'cosmos1xyz' must be a bech32"},
    {&dcl_msg_vendor_info, DCL_V16, "{\"vendorID\":0}", "vendorID: is 0"},
    {&dcl_msg_vendor_info, DCL_V16, "{\"vendorID\":65536}", "vendorID: is 65536"},
    {&dcl_msg_vendor_info, DCL_V16, "{\"vendorName\":\"\"}", "vendorName: is required"},
    {&dcl_msg_vendor_info, DCL_V16, "{\"companyLegalName\":\"\"}", "companyLegalName: is required"},
    {&dcl_msg_vendor_info, DCL_V16, "{\"vendorLandingPageURL\":\"http://x.com\"}", "vendorLandingPageURL: 'http://x.com' must be an absolute https"},
    {&dcl_msg_vendor_info, DCL_V16, "{\"schemaVersion\":1}", "schemaVersion: is 1"},
    {&dcl_msg_vendor_info, DCL_V16, "{\"vendorID\":\"65521\"}", "vendorID: must be a JSON number"},
    {&dcl_msg_vendor_info, DCL_V16, "{\"extra\":1}", "'extra' is not part of the Msg"},
    {&dcl_msg_model, DCL_V16, "{\"productLabel\":\"\"}", "productLabel: is required"},
    {&dcl_msg_model, DCL_V16, "{\"partNumber\":\"\"}", "partNumber: is required"},
    {&dcl_msg_model, DCL_V16, "{\"partNumber\":\"123456789012345678901234567890123\"}", "partNumber: must be 1..32 characters (is 33)"},
    {&dcl_msg_model, DCL_V16, "{\"deviceTypeId\":65536}", "deviceTypeId: is 65536"},
    {&dcl_msg_model, DCL_V16, "{\"commissioningCustomFlow\":3}", "commissioningCustomFlow: is 3"},
    {&dcl_msg_model, DCL_V16, "{\"commissioningCustomFlow\":2}", "commissioningCustomFlowUrl: is required when commissioningCustomFlow is 2"},
    {&dcl_msg_model, DCL_V16, "{\"supportUrl\":\"ftp://x.com\"}", "supportUrl:"},
    {&dcl_msg_model, DCL_V16, "{\"enhancedSetupFlowOptions\":1}", "enhancedSetupFlowTCUrl: is required when bit 0"},
    {&dcl_msg_model, DCL_V16, "{\"maintenanceUrl\":\"https://x.com\"}", "maintenanceUrl: must be empty unless bit 0"},
    {&dcl_msg_model, DCL_V16, "{\"enhancedSetupFlowOptions\":1,\"enhancedSetupFlowTCUrl\":\"https://x.com\",\"enhancedSetupFlowTCRevision\":1,\"enhancedSetupFlowTCDigest\":\"YQ==\",\"maintenanceUrl\":\"https://x.com\"}", "enhancedSetupFlowTCFileSize: is required with enhancedSetupFlowTCUrl"},
    {&dcl_msg_model, DCL_V16, "{\"enhancedSetupFlowOptions\":65536}", "enhancedSetupFlowOptions: is 65536"},
    {&dcl_msg_model, DCL_V16, "{\"enhancedSetupFlowTCDigest\":\"not base64!\"}", "enhancedSetupFlowTCDigest: 'not base64!' must be standard base64"},
    {&dcl_msg_model, DCL_V16, "{\"discoveryCapabilitiesBitmask\":31}", "discoveryCapabilitiesBitmask: is 31"},
    {&dcl_msg_model, DCL_V15, "{\"discoveryCapabilitiesBitmask\":18}", "discoveryCapabilitiesBitmask: is 18; the DCL accepts 0..14 (DCL 1.5)"},
    {&dcl_msg_model, DCL_V16, "{\"commissioningFallbackUrl\":\"ftp://x.com\"}", "commissioningFallbackUrl:"},
    {&dcl_msg_model, DCL_V15, "{\"commissioningFallbackUrl\":\"http://x.com\"}", "startsnotwith=http:"},
    {&dcl_msg_model, DCL_V16, "{\"productName\":\"\"}", "productName: is required"},
    {&dcl_msg_model_version, DCL_V16, "{\"softwareVersionString\":\"\"}", "softwareVersionString: is required"},
    {&dcl_msg_model_version, DCL_V16, "{\"cdVersionNumber\":65536}", "cdVersionNumber: is 65536"},
    {&dcl_msg_model_version, DCL_V16, "{\"otaUrl\":\"https://x.com/f\"}", "otaFileSize: is required with otaUrl"},
    {&dcl_msg_model_version, DCL_V16, "{\"otaFileSize\":\"12\"}", "otaFileSize: must be zero/empty when otaUrl is empty"},
    {&dcl_msg_model_version, DCL_V16, "{\"otaFileSize\":12}", "otaFileSize: 64-bit integers are JSON strings"},
    {&dcl_msg_model_version, DCL_V16, "{\"otaFileSize\":\"012\"}", "otaFileSize: must be a decimal string"},
    {&dcl_msg_model_version, DCL_V16, "{\"otaUrl\":\"https://x.com/f\",\"otaFileSize\":\"1\",\"otaChecksum\":\"YQ==\",\"otaChecksumType\":1}", "otaChecksum: must be 44..88 characters (is 4)"},
    {&dcl_msg_model_version, DCL_V16, "{\"otaUrl\":\"https://x.com/f\",\"otaFileSize\":\"1\",\"otaChecksum\":\"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\",\"otaChecksumType\":2}", "otaChecksumType: is 2; must be one of 1|7|8|10|11|12"},
    {&dcl_msg_model_version, DCL_V16, "{\"otaUrl\":\"https://x.com/f\",\"otaFileSize\":\"1\",\"otaChecksum\":\"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\",\"otaChecksumType\":8}", "otaChecksum: does not have the digest length"},
    {&dcl_msg_model_version, DCL_V16, "{\"minApplicableSoftwareVersion\":2,\"maxApplicableSoftwareVersion\":1}", "maxApplicableSoftwareVersion: must be >= minApplicableSoftwareVersion"},
    {&dcl_msg_model_version, DCL_V16, "{\"softwareVersionValid\":1}", "softwareVersionValid: must be true or false"},
    {&dcl_msg_model_version, DCL_V16, "{\"firmwareInformation\":null}", "firmwareInformation: must be a JSON string"},
    {&dcl_msg_revocation_point, DCL_V16, "{\"label\":\"\"}", "label: is required"},
    {&dcl_msg_revocation_point, DCL_V16, "{\"label\":\"12345678901234567890123456789012345678901234567890123456789012345\"}", "label: must be 1..64 characters (is 65)"},
    {&dcl_msg_revocation_point, DCL_V16, "{\"issuerSubjectKeyID\":\"ab:01\"}", "issuerSubjectKeyID: 'ab:01' must be uppercase hex"},
    {&dcl_msg_revocation_point, DCL_V16, "{\"dataURL\":\"ftp://x.com/c.crl\"}", "dataURL: 'ftp://x.com/c.crl' must be an absolute http:// or https://"},
    {&dcl_msg_revocation_point, DCL_V16, "{\"revocationType\":2}", "revocationType: is 2; must be one of 1"},
    {&dcl_msg_revocation_point, DCL_V16, "{\"revocationType\":0}", "revocationType: is required"},
    {&dcl_msg_revocation_point, DCL_V16, "{\"pid\":32768}", "pid: must be 0 when isPAA is true"},
    {&dcl_msg_revocation_point, DCL_V16, "{\"dataDigestType\":1}", "must be 0/empty for a CRL"},
    {&dcl_msg_revocation_point, DCL_V16, "{\"crlSignerCertificate\":\"MIIB\"}", "crlSignerCertificate: 'MIIB' must be a PEM certificate"},
    {&dcl_msg_revocation_point, DCL_V16, "{\"crlSignerDelegator\":\"-----BEGIN CERTIFICATE-----\\nA\\n-----END CERTIFICATE-----\\n\"}", "crlSignerDelegator: only a PAI-delegated"},
    {&dcl_msg_certify, DCL_V16, "{\"cDCertificateId\":\"ZIG20142ZB330003-2\"}", "cDCertificateId: must be exactly 19 characters (is 18)"},
    {&dcl_msg_certify, DCL_V16, "{\"certificationType\":\"thread\"}", "certificationType: 'thread' is not one of the allowed values"},
    {&dcl_msg_certify, DCL_V16, "{\"certificationDate\":\"2025-01-15\"}", "certificationDate: '2025-01-15' must be an RFC 3339"},
    {&dcl_msg_certify, DCL_V16, "{\"familyId\":\"a-b\"}", "familyId: 'a-b' must match"},
    {&dcl_msg_certify, DCL_V16, "{\"supportedClusters\":\"0x000a,0x000A\"}", "supportedClusters:"},
    {&dcl_msg_certify, DCL_V16, "{\"transport\":\"thread,zigbee\"}", "transport:"},
    {&dcl_msg_certify, DCL_V16, "{\"certificationRoute\":\"express\"}", "certificationRoute: 'express' is not one"},
    {&dcl_msg_certify, DCL_V16, "{\"programType\":\"device\"}", "programType: 'device' is not one"},
    {&dcl_msg_certify, DCL_V16, "{\"parentChild\":\"both\"}", "parentChild: 'both' is not one"},
    {&dcl_msg_certify, DCL_V16, "{\"programTypeVersion\":\"1.0\"}", "programTypeVersion: is only allowed together with programType"},
    {&dcl_msg_certify, DCL_V16, "{\"schemaVersion\":0}", "schemaVersion: is 0; the DCL accepts 1..1"},
    {&dcl_msg_certify, DCL_V16, "{\"specificationVersion\":0}", "specificationVersion: is required"},
    {&dcl_msg_certify, DCL_V15, "{\"schemaVersion\":1}", "schemaVersion: is 1; the DCL accepts 0..0 (DCL 1.5)"},
    {&dcl_msg_certify, DCL_V15, "{\"specificationVersion\":1}", "'specificationVersion' is not part of the Msg in DCL 1.5"},
    {&dcl_msg_certify, DCL_V15, "{\"supportedClusters\":\"0x0001,0x0002,0x0003,0x0004,0x0005,0x0006,0x0007,0x0008,0x0009,0x000A,0x000B,0x000C,0x000D\"}", "supportedClusters: must be 1..64 characters"},
};

static void test_schema_rules(void)
{
    const dcl_schema *all[] = {&dcl_msg_vendor_info, &dcl_msg_model, &dcl_msg_model_version,
                               &dcl_msg_revocation_point, &dcl_msg_certify};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        for (int ver = DCL_V15; ver <= DCL_V16; ver++) {
            json_t *m = valid_msg(all[i], ver);
            if (dcl_validate(all[i], m, ver, NULL) != MP_OK) {
                printf("\n  valid %s v%d rejected: %s\n", all[i]->name, ver, mp_err_msg());
                CU_FAIL("valid Msg rejected");
            }
            json_decref(m);
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *m = valid_msg(bad[i].s, bad[i].ver);
        json_t *patch = json_loads(bad[i].json, 0, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(patch);
        json_object_update(m, patch);
        int rc = dcl_validate(bad[i].s, m, bad[i].ver, NULL);
        if (rc != MP_ERR_INVALID || strstr(mp_err_msg(), bad[i].expect) == NULL) {
            printf("\n  case %zu %s: rc %d, message '%s', wanted '%s'\n", i, bad[i].json, rc, mp_err_msg(), bad[i].expect);
            CU_FAIL("rule not enforced");
        }
        json_decref(patch);
        json_decref(m);
    }
}

static void test_schema_shape(void)
{
    json_t *m = valid_msg(&dcl_msg_vendor_info, DCL_V16), *src = json_pack("{s:s}", "vendorName", "product.json: vendor_name");
    /* field order is proto order: moving a field is an error */
    json_t *name = json_incref(json_object_get(m, "vendorName"));
    json_object_del(m, "vendorName");
    json_object_set_new(m, "vendorName", name);
    CU_ASSERT_EQUAL(dcl_validate(&dcl_msg_vendor_info, m, DCL_V16, NULL), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "out of proto order"));
    json_decref(m);
    m = valid_msg(&dcl_msg_vendor_info, DCL_V16);
    json_object_set_new(m, "vendorName", json_string(""));
    CU_ASSERT_EQUAL(dcl_validate(&dcl_msg_vendor_info, m, DCL_V16, src), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "from product.json: vendor_name"));
    /* code points, not bytes: 128 x U+00E9 (256 bytes) fits vendorName max=128 */
    char s[400] = "";
    for (int i = 0; i < 128; i++) strcat(s, "\xC3\xA9");
    json_object_set_new(m, "vendorName", json_string(s));
    CU_ASSERT_EQUAL(dcl_validate(&dcl_msg_vendor_info, m, DCL_V16, NULL), MP_OK);
    strcat(s, "\xC3\xA9");
    json_object_set_new(m, "vendorName", json_string(s));
    CU_ASSERT_EQUAL(dcl_validate(&dcl_msg_vendor_info, m, DCL_V16, NULL), MP_ERR_INVALID);
    /* an empty creator is left for the signer */
    json_object_set_new(m, "vendorName", json_string("V"));
    json_object_set_new(m, "creator", json_string(""));
    CU_ASSERT_EQUAL(dcl_validate(&dcl_msg_vendor_info, m, DCL_V16, NULL), MP_OK);
    json_object_set_new(m, "@type", json_string("/x.Msg"));
    CU_ASSERT_EQUAL(dcl_validate(&dcl_msg_vendor_info, m, DCL_V16, NULL), MP_ERR_INVALID);
    json_decref(m);
    json_decref(src);
}

static void test_cert_ids(void)
{
    X509 *paa = NULL;
    uint8_t skid[20];
    char colon[60], plain[41], *subject = NULL, *serial = NULL, *pem = NULL;
    CU_ASSERT_EQUAL_FATAL(mp_cert_load(tu_vector("Chip-Test-PAA-FFF1-Cert.pem"), &paa), MP_OK);
    CU_ASSERT_EQUAL_FATAL(dcl_cert_skid(paa, "paa", skid), MP_OK);
    dcl_kid_colon(skid, colon);
    dcl_kid_plain(skid, plain);
    CU_ASSERT_STRING_EQUAL(colon, "6A:FD:22:77:1F:51:1F:EC:BF:16:41:97:67:10:DC:DC:31:A1:71:7E");
    CU_ASSERT_STRING_EQUAL(plain, "6AFD22771F511FECBF1641976710DCDC31A1717E");
    CU_ASSERT_EQUAL(dcl_cert_subject_b64(paa, &subject), MP_OK);
    /* same DER layout as the dcl.md example (CN "Matter Test PAA", VID 125D), here VID FFF1 */
    CU_ASSERT_STRING_EQUAL(subject, "MDAxGDAWBgNVBAMMD01hdHRlciBUZXN0IFBBQTEUMBIGCisGAQQBgqJ8AgEMBEZGRjE=");
    CU_ASSERT_EQUAL(dcl_cert_serial_dec(paa, &serial), MP_OK);
    CU_ASSERT_STRING_EQUAL(serial, "5668035430391749660"); /* 0x4EA8E83182D41C1C */
    CU_ASSERT_EQUAL(dcl_cert_pem(paa, &pem), MP_OK);
    CU_ASSERT_EQUAL(strncmp(pem, "-----BEGIN CERTIFICATE-----\n", 28), 0);
    CU_ASSERT_EQUAL(pem[strlen(pem) - 1], '\n');
    CU_ASSERT_TRUE(dcl_cert_self_signed(paa));
    CU_ASSERT_EQUAL(dcl_check_crl_signer(paa, "paa"), MP_ERR_PROFILE); /* a CA is no delegated CRL signer */
    free(subject);
    free(serial);
    free(pem);
    X509_free(paa);
}

void register_dcl(void)
{
    CU_pSuite s = CU_add_suite("dcl", NULL, NULL);
    TU_ADD(s, test_text);
    TU_ADD(s, test_address_and_lists);
    TU_ADD(s, test_writer);
    TU_ADD(s, test_schema_rules);
    TU_ADD(s, test_schema_shape);
    TU_ADD(s, test_cert_ids);
}
