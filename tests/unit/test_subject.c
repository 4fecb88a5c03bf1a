/* test_subject.c - full PAA/PAI subjects: the OpenSSL "/K=V" syntax, the
 * Matter limits, and a DN read back from a name. */
#include <string.h>

#include <openssl/objects.h>

#include "subject.h"
#include "testutil.h"

static void test_subject_parse(void)
{
    mp_subject s;
    CU_ASSERT_EQUAL_FATAL(mp_subject_parse("/C=NL/O=Acme Inc/OU=A\\/B/serialNumber=X-1/CN=Acme PAA", &s), MP_OK);
    CU_ASSERT_EQUAL(s.count, 5);
    CU_ASSERT_EQUAL(s.nid[0], NID_countryName);
    CU_ASSERT_STRING_EQUAL(s.value[2], "A/B");
    CU_ASSERT_EQUAL(s.nid[3], NID_serialNumber);
    CU_ASSERT_STRING_EQUAL(mp_subject_get0_cn(&s), "Acme PAA");
    CU_ASSERT_EQUAL(mp_subject_parse("/SERIALNUMBER=1/CN=x/", &s), MP_OK);
    CU_ASSERT_EQUAL(mp_subject_parse("CN=x", &s), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_subject_parse("/O=x", &s), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_subject_parse("/CN=x/CN=y", &s), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_subject_parse("/C=nl/CN=x", &s), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_subject_parse("/DC=x/CN=x", &s), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_subject_parse("/serialNumber=a_b/CN=x", &s), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_subject_parse("/CN=", &s), MP_ERR_INVALID);
    char big[200] = "/CN=";
    memset(big + 4, 'a', 65);
    CU_ASSERT_EQUAL(mp_subject_parse(big, &s), MP_ERR_INVALID);
    big[4 + 64] = 0;
    CU_ASSERT_EQUAL(mp_subject_parse(big, &s), MP_OK);
}

static void test_subject_name_roundtrip(void)
{
    mp_subject s, back;
    X509_NAME *n = X509_NAME_new();
    CU_ASSERT_EQUAL_FATAL(mp_subject_parse("/O=Acme/L=Delft/C=NL/CN=PAI", &s), MP_OK);
    CU_ASSERT_EQUAL(mp_subject_add(&s, n), 1);
    X509_NAME_add_entry_by_txt(n, "1.3.6.1.4.1.37244.2.1", V_ASN1_UTF8STRING, (const unsigned char *)"FFF2", -1, -1, 0);
    CU_ASSERT_EQUAL(mp_subject_from_name(n, &back), MP_OK);
    CU_ASSERT_EQUAL(back.count, 4);
    CU_ASSERT_EQUAL(back.cn_index, 3);
    CU_ASSERT_STRING_EQUAL(back.value[1], "Delft");
    X509_NAME_add_entry_by_NID(n, NID_commonName, V_ASN1_UTF8STRING, (const unsigned char *)"two", -1, -1, 0);
    CU_ASSERT_EQUAL(mp_subject_from_name(n, &back), MP_ERR_PROFILE);
    X509_NAME_free(n);
    n = X509_NAME_new();
    X509_NAME_add_entry_by_NID(n, NID_pkcs9_emailAddress, V_ASN1_IA5STRING, (const unsigned char *)"a@b", -1, -1, 0);
    X509_NAME_add_entry_by_NID(n, NID_commonName, V_ASN1_UTF8STRING, (const unsigned char *)"x", -1, -1, 0);
    CU_ASSERT_EQUAL(mp_subject_from_name(n, NULL), MP_ERR_PROFILE);
    X509_NAME_free(n);
}

void register_subject(void)
{
    CU_pSuite s = CU_add_suite("subject", NULL, NULL);
    TU_ADD(s, test_subject_parse);
    TU_ADD(s, test_subject_name_roundtrip);
}
