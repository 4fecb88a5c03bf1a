/* test_life.c - the credential lifecycle (issue 19): the ledger's CA
 * revocations, CRL records and stored DCL records; the update Msgs' rules;
 * the revocation set's JSON layout (json.dump indent=4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "dcl-export/dcl_schema.h"
#include "ledger.h"
#include "revocation/crl.h"
#include "testutil.h"

static char dir[64];

static mp_ledger *fresh(void)
{
    char path[128];
    mp_ledger *l = NULL;
    snprintf(dir, sizeof(dir), "/tmp/mp-life-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/l.sqlite", dir);
    CU_ASSERT_EQUAL_FATAL(mp_ledger_open(path, &l), MP_OK);
    return l;
}

static void done(mp_ledger *l)
{
    char cmd[128];
    mp_ledger_close(l);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static int count_cb(void *ctx, const char *serial, time_t when, const char *reason)
{
    (void)when;
    (void)reason;
    CU_ASSERT_STRING_EQUAL(serial, "3E6CE6509AD840CD");
    (*(int *)ctx)++;
    return MP_OK;
}

static void test_revoke_ca(void)
{
    mp_ledger *l = fresh();
    int n = 0;
    const char *paa = "6AFD22771F511FECBF1641976710DCDC31A1717E";
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_revoke_ca(l, paa, "3E6CE6509AD840CD", "cACompromise"), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_revoke_ca(l, paa, "3E6CE6509AD840CD", "cACompromise"), MP_ERR_DUPLICATE);
    CU_ASSERT_EQUAL(mp_ledger_commit(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_each_revoked(l, paa, count_cb, &n), MP_OK);
    CU_ASSERT_EQUAL(n, 1);
    done(l);
}

static int crl_cb(void *ctx, const mp_crl_rec *r)
{
    CU_ASSERT_EQUAL(r->number, 7);
    CU_ASSERT_EQUAL(r->signer_len, 3);
    CU_ASSERT_EQUAL(memcmp(r->signer_der, "SIG", 3), 0);
    (*(int *)ctx)++;
    return MP_OK;
}

static void test_crl_record_replaces(void)
{
    mp_ledger *l = fresh();
    int n = 0;
    mp_crl_rec r = {.issuer_skid = "AA", .issuer_der = (const uint8_t *)"ISS", .issuer_len = 3,
                    .signer_der = (const uint8_t *)"OLD", .signer_len = 3, .number = 6};
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_crl_record(l, &r), MP_OK);
    r.signer_der = (const uint8_t *)"SIG";
    r.number = 7;
    CU_ASSERT_EQUAL(mp_ledger_crl_record(l, &r), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_commit(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_each_crl(l, crl_cb, &n), MP_OK);
    CU_ASSERT_EQUAL(n, 1); /* one record per issuer: the last CRL */
    done(l);
}

static int keys_cb(void *ctx, const char *key, const char *json)
{
    (void)json;
    strcat(ctx, key);
    strcat(ctx, ";");
    return MP_OK;
}

static void test_dcl_state(void)
{
    mp_ledger *l = fresh();
    char *j = NULL, keys[256] = "";
    int found = 1;
    CU_ASSERT_EQUAL(mp_ledger_dcl_get(l, "model/FFF2/8001", &j, &found), MP_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_PTR_NULL(j);
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_dcl_put(l, "model/FFF2/8001", "{\"a\":1}"), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_dcl_put(l, "model-version/FFF2/8001/0000000002", "{}"), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_dcl_put(l, "model-version/FFF2/8001/0000000001", "{}"), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_dcl_put(l, "model/FFF2/8001", "{\"a\":2}"), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_commit(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_dcl_get(l, "model/FFF2/8001", &j, &found), MP_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_STRING_EQUAL(j, "{\"a\":2}");
    free(j);
    CU_ASSERT_EQUAL(mp_ledger_dcl_each(l, "model-version/FFF2/8001/", keys_cb, keys), MP_OK);
    CU_ASSERT_STRING_EQUAL(keys, "model-version/FFF2/8001/0000000001;model-version/FFF2/8001/0000000002;");
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_dcl_delete(l, "model/FFF2/8001"), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_commit(l), MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_dcl_get(l, "model/FFF2/8001", &j, &found), MP_OK);
    CU_ASSERT_EQUAL(found, 0);
    done(l);
}

/* MsgUpdateModelVersion: OTA metadata only with otaUrl; max >= min when set. */
static void test_update_version_rules(void)
{
    json_t *m = dcl_msg_new(&dcl_msg_mv_update, DCL_V16);
    json_object_set_new(m, "vid", json_integer(0xFFF2));
    json_object_set_new(m, "pid", json_integer(0x8001));
    json_object_set_new(m, "softwareVersion", json_integer(2));
    CU_ASSERT_EQUAL(dcl_validate(&dcl_msg_mv_update, m, DCL_V16, NULL), MP_OK); /* pull: only the flag */
    json_object_set_new(m, "otaFileSize", json_string("10"));
    CU_ASSERT_EQUAL(dcl_validate(&dcl_msg_mv_update, m, DCL_V16, NULL), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "otaFileSize"));
    json_object_set_new(m, "otaUrl", json_string("https://fw.example.com/a.ota"));
    json_object_set_new(m, "otaChecksum", json_string("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
    json_object_set_new(m, "otaChecksumType", json_integer(1));
    CU_ASSERT_EQUAL(dcl_validate(&dcl_msg_mv_update, m, DCL_V16, NULL), MP_OK);
    json_object_set_new(m, "minApplicableSoftwareVersion", json_integer(3));
    json_object_set_new(m, "maxApplicableSoftwareVersion", json_integer(2));
    CU_ASSERT_EQUAL(dcl_validate(&dcl_msg_mv_update, m, DCL_V16, NULL), MP_ERR_INVALID);
    json_object_set_new(m, "maxApplicableSoftwareVersion", json_integer(0)); /* 0 = unchanged */
    CU_ASSERT_EQUAL(dcl_validate(&dcl_msg_mv_update, m, DCL_V16, NULL), MP_OK);
    json_decref(m);
    /* a revocation point update keeps the CRL rule: no data fields */
    m = dcl_msg_new(&dcl_msg_rp_update, DCL_V16);
    json_object_set_new(m, "vid", json_integer(0xFFF2));
    json_object_set_new(m, "label", json_string("l"));
    json_object_set_new(m, "issuerSubjectKeyID", json_string("AB"));
    CU_ASSERT_EQUAL(dcl_validate(&dcl_msg_rp_update, m, DCL_V16, NULL), MP_OK);
    json_object_set_new(m, "dataFileSize", json_string("100"));
    CU_ASSERT_EQUAL(dcl_validate(&dcl_msg_rp_update, m, DCL_V16, NULL), MP_ERR_INVALID);
    json_decref(m);
}

static void test_revset_layout(void)
{
    json_t *set = json_array();
    char *s = mp_revset_dumps(set);
    CU_ASSERT_STRING_EQUAL(s, "[]"); /* json.dump([], indent=4) */
    free(s);
    json_array_append_new(set, json_pack("{s:s,s:[s],s:n}", "type", "revocation_set", "revoked_serial_numbers", "0A",
                                         "crl_signer_delegator"));
    json_array_append_new(json_object_get(json_array_get(set, 0), "revoked_serial_numbers"), json_string("0B"));
    json_object_set_new(json_array_get(set, 0), "empty", json_array());
    s = mp_revset_dumps(set);
    CU_ASSERT_STRING_EQUAL(s, "[\n    {\n        \"type\": \"revocation_set\",\n        \"revoked_serial_numbers\": [\n"
                              "            \"0A\",\n            \"0B\"\n        ],\n        \"crl_signer_delegator\": null,\n"
                              "        \"empty\": []\n    }\n]");
    free(s);
    json_decref(set);
}

void register_life(void)
{
    CU_pSuite s = CU_add_suite("lifecycle", NULL, NULL);
    TU_ADD(s, test_revoke_ca);
    TU_ADD(s, test_crl_record_replaces);
    TU_ADD(s, test_dcl_state);
    TU_ADD(s, test_update_version_rules);
    TU_ADD(s, test_revset_layout);
}
