/* tv_cases.c - the generated cases: one defect each, with the default
 * verifier's expected verdict (section 10; expectations follow section 2). */
#include "tv_cases.h"

#include <string.h>

#include "verify.h"

#define OK VA_SUCCESS

const tv_case tv_cases[] = {
    {"valid", TT_VALID, 0, OK, NULL, NULL, NULL, "baseline: a conforming DAC, PAI and CD"},
    /* A. certificate structure, DAC */
    {"dac_version_v2", TT_DAC, TV_V2, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC is an X.509 v2 certificate"},
    {"dac_sig_ecdsa_sha1", TT_DAC, TV_SHA1, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC signed with ecdsa-with-SHA1"},
    {"dac_vid_mismatch", TT_DAC, 0, VA_DAC_VENDOR_ID_MISMATCH, NULL, "%W", NULL, "DAC VID is the PAI VID + 1"},
    {"dac_pid_mismatch", TT_DAC, 0, VA_DAC_PRODUCT_ID_MISMATCH, NULL, NULL, "%Q", "DAC PID is the PAI PID + 1"},
    {"dac_curve_secp256k1", TT_DAC, TVX_K1, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC key on secp256k1"},
    {"dac_valid_in_past", TT_DAC, TVX_PAST, VA_DAC_EXPIRED, NULL, NULL, NULL, "DAC valid 2020-01-01 + 730 days (expired)"},
    {"dac_valid_in_future", TT_DAC, TVX_FUTURE, VA_DAC_EXPIRED, NULL, NULL, NULL, "DAC valid from 2031-01-01 (not yet valid)"},
    {"dac_nb_before_pai", TT_DAC, TVX_NB_BEFORE_PAI, VA_DAC_SIGNATURE_INVALID, NULL, NULL, NULL, "DAC notBefore one second before the PAI's"},
    {"dac_bc_missing", TT_DAC, TV_BC_MISSING, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC without basicConstraints"},
    {"dac_bc_not_critical", TT_DAC, TV_BC_NONCRIT, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC basicConstraints not critical"},
    {"dac_bc_ca_true", TT_DAC, TV_BC_CA_FLIP, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC basicConstraints cA TRUE"},
    {"dac_bc_pathlen_0", TT_DAC, TV_PATHLEN_0, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC basicConstraints with pathLen 0"},
    {"dac_bc_pathlen_1", TT_DAC, TV_PATHLEN_1, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC basicConstraints with pathLen 1"},
    {"dac_bc_pathlen_2", TT_DAC, TV_PATHLEN_2, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC basicConstraints with pathLen 2"},
    {"dac_ku_missing", TT_DAC, TV_KU_MISSING, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC without keyUsage"},
    {"dac_ku_not_critical", TT_DAC, TV_KU_NONCRIT, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC keyUsage not critical"},
    {"dac_ku_no_digital_signature", TT_DAC, TV_KU_DS_FLIP, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC keyUsage keyAgreement instead of digitalSignature"},
    {"dac_ku_key_cert_sign", TT_DAC, TV_KU_CERTSIGN_FLIP, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC keyUsage adds keyCertSign"},
    {"dac_ku_crl_sign", TT_DAC, TV_KU_CRLSIGN_FLIP, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC keyUsage adds cRLSign"},
    {"dac_akid_missing", TT_DAC, TV_AKID_MISSING, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC without authorityKeyIdentifier"},
    {"dac_skid_missing", TT_DAC, TV_SKID_MISSING, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC without subjectKeyIdentifier"},
    {"dac_skid_19_bytes", TT_DAC, TV_SKID_LEN19, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC SKID of 19 bytes"},
    {"dac_akid_19_bytes", TT_DAC, TV_AKID_LEN19, VA_DAC_FORMAT_INVALID, NULL, NULL, NULL, "DAC AKID of 19 bytes"},
    {"dac_ext_eku_critical", TT_DAC, TV_EXT_EKU, OK, NULL, NULL, NULL, "DAC with a critical EKU (clientAuth, serverAuth): tolerated"},
    {"dac_ext_aia_ocsp", TT_DAC, TV_EXT_AIA, OK, NULL, NULL, NULL, "DAC with an AIA OCSP URI: tolerated"},
    {"dac_ext_san_dns", TT_DAC, TV_EXT_SAN, OK, NULL, NULL, NULL, "DAC with a SAN DNS name: tolerated"},
    /* A. certificate structure, PAI */
    {"pai_version_v2", TT_PAI, TV_V2, VA_PAI_FORMAT_INVALID, NULL, NULL, NULL, "PAI is an X.509 v2 certificate"},
    {"pai_sig_ecdsa_sha1", TT_PAI, TV_SHA1, VA_PAI_FORMAT_INVALID, NULL, NULL, NULL, "PAI signed with ecdsa-with-SHA1"},
    {"pai_vid_mismatch", TT_PAI, 0, VA_DAC_VENDOR_ID_MISMATCH, NULL, "%W", NULL, "PAI VID is the DAC VID + 1"},
    {"pai_pid_mismatch", TT_PAI, 0, VA_DAC_PRODUCT_ID_MISMATCH, NULL, NULL, "%Q", "PAI PID is the DAC PID + 1"},
    {"pai_curve_secp256k1", TT_PAI, TVX_K1, VA_PAI_FORMAT_INVALID, NULL, NULL, NULL, "PAI key on secp256k1 (software key)"},
    {"pai_valid_in_past", TT_PAI, TVX_PAST, VA_DAC_SIGNATURE_INVALID, NULL, NULL, NULL, "PAI valid 2020-01-01 + 730 days"},
    {"pai_valid_in_future", TT_PAI, TVX_FUTURE, VA_DAC_SIGNATURE_INVALID, NULL, NULL, NULL, "PAI valid from 2031-01-01"},
    {"pai_bc_missing", TT_PAI, TV_BC_MISSING, VA_PAI_FORMAT_INVALID, NULL, NULL, NULL, "PAI without basicConstraints"},
    {"pai_bc_not_critical", TT_PAI, TV_BC_NONCRIT, VA_PAI_FORMAT_INVALID, NULL, NULL, NULL, "PAI basicConstraints not critical"},
    {"pai_bc_ca_missing", TT_PAI, TV_BC_CA_FLIP, VA_PAI_FORMAT_INVALID, NULL, NULL, NULL, "PAI basicConstraints without cA"},
    {"pai_bc_pathlen_absent", TT_PAI, TV_BC_PATHLEN_ABSENT, VA_PAI_FORMAT_INVALID, NULL, NULL, NULL, "PAI basicConstraints without pathLen"},
    {"pai_bc_pathlen_0", TT_PAI, TV_PATHLEN_0, OK, NULL, NULL, NULL, "PAI pathLen 0 (the required value)"},
    {"pai_bc_pathlen_1", TT_PAI, TV_PATHLEN_1, VA_PAI_FORMAT_INVALID, NULL, NULL, NULL, "PAI pathLen 1"},
    {"pai_bc_pathlen_2", TT_PAI, TV_PATHLEN_2, VA_PAI_FORMAT_INVALID, NULL, NULL, NULL, "PAI pathLen 2"},
    {"pai_ku_missing", TT_PAI, TV_KU_MISSING, VA_PAI_FORMAT_INVALID, NULL, NULL, NULL, "PAI without keyUsage"},
    {"pai_ku_not_critical", TT_PAI, TV_KU_NONCRIT, VA_PAI_FORMAT_INVALID, NULL, NULL, NULL, "PAI keyUsage not critical"},
    {"pai_ku_digital_signature", TT_PAI, TV_KU_DS_FLIP, OK, NULL, NULL, NULL, "PAI keyUsage adds digitalSignature: allowed"},
    {"pai_ku_no_key_cert_sign", TT_PAI, TV_KU_CERTSIGN_FLIP, VA_PAI_FORMAT_INVALID, NULL, NULL, NULL, "PAI keyUsage without keyCertSign"},
    {"pai_ku_no_crl_sign", TT_PAI, TV_KU_CRLSIGN_FLIP, VA_PAI_FORMAT_INVALID, NULL, NULL, NULL, "PAI keyUsage without cRLSign"},
    {"pai_akid_missing", TT_PAI, TV_AKID_MISSING, VA_PAI_FORMAT_INVALID, NULL, NULL, NULL, "PAI without authorityKeyIdentifier"},
    {"pai_skid_missing", TT_PAI, TV_SKID_MISSING, VA_PAI_FORMAT_INVALID, NULL, NULL, NULL, "PAI without SKID (so the DAC has no AKID)"},
    {"pai_skid_19_bytes", TT_PAI, TV_SKID_LEN19, VA_PAI_FORMAT_INVALID, NULL, NULL, NULL, "PAI SKID of 19 bytes"},
    {"pai_akid_19_bytes", TT_PAI, TV_AKID_LEN19, VA_PAI_FORMAT_INVALID, NULL, NULL, NULL, "PAI AKID of 19 bytes"},
    {"pai_ext_eku_critical", TT_PAI, TV_EXT_EKU, OK, NULL, NULL, NULL, "PAI with a critical EKU: tolerated"},
    {"pai_ext_aia_ocsp", TT_PAI, TV_EXT_AIA, OK, NULL, NULL, NULL, "PAI with an AIA OCSP URI: tolerated"},
    {"pai_ext_san_dns", TT_PAI, TV_EXT_SAN, OK, NULL, NULL, NULL, "PAI with a SAN DNS name: tolerated"},
    /* B. VID/PID common-name encoding */
    {"dac_cn_vidpid_01", TT_DAC, 0, OK, "ACME Matter Devel DAC 5CDA9899 Mvid:%V Mpid:%P", "-", "-", "legacy CN: Mvid then Mpid, no OID attributes"},
    {"dac_cn_vidpid_02", TT_DAC, 0, OK, "Mpid:%P,ACME Matter Devel DAC 5CDA9899,Mvid:%V", "-", "-", "legacy CN: Mpid first"},
    {"dac_cn_vidpid_03", TT_DAC, 0, OK, "ACME Matter Devel DAC 5CDA9899 Mvid:%VMpid:%P", "-", "-", "legacy CN: run-in prefixes"},
    {"dac_cn_vidpid_04", TT_DAC, 0, OK, "Mvid:%VACME Matter Devel DAC 5CDAMpid:%P9899", "-", "-", "legacy CN: values inside text"},
    {"dac_cn_vidpid_05", TT_DAC, 0, OK, "Mpid:Mvid:%V Mpid:%P Matter Test", "-", "-", "legacy CN: a prefix without value, then valid ones"},
    {"dac_cn_vidpid_06", TT_DAC, 0, VA_DAC_FORMAT_INVALID, "ACME DAC Mvid:%3 Mpid:%P", "-", "-", "legacy CN: 3-digit VID"},
    {"dac_cn_vidpid_07", TT_DAC, 0, VA_DAC_FORMAT_INVALID, "ACME DAC Mvid:%v Mpid:%P", "-", "-", "legacy CN: lowercase VID"},
    {"dac_cn_vidpid_08", TT_DAC, 0, VA_DAC_FORMAT_INVALID, "ACME DAC Mvid:%3G Mpid:%P", "-", "-", "legacy CN: non-hex VID"},
    {"dac_cn_vidpid_09", TT_DAC, 0, VA_DAC_VENDOR_ID_MISMATCH, "ACME DAC MVID:%V MPID:%P", "-", "-", "legacy CN: uppercase MVID:/MPID: prefixes are not recognised"},
    {"dac_cn_vidpid_10", TT_DAC, 0, VA_DAC_VENDOR_ID_MISMATCH, "ACME DAC Mvid_%V Mpid_%P", "-", "-", "legacy CN: Mvid_ prefix is not recognised"},
    {"dac_cn_vidpid_11", TT_DAC, 0, OK, "ACME DAC Mvid:%W Mpid:%Q", NULL, NULL, "OID attributes override a wrong CN"},
    {"dac_cn_vidpid_12", TT_DAC, 0, VA_DAC_VENDOR_ID_MISMATCH, "ACME DAC Mvid:%V Mpid:%P", "%W", NULL, "wrong OID VID with a right CN"},
    {"dac_cn_vidpid_13", TT_DAC, 0, VA_DAC_VENDOR_ID_MISMATCH, "ACME DAC Mvid:%V", "-", NULL, "PID as OID, VID only in the CN: no VID"},
    {"pai_cn_vidpid_01", TT_PAI, 0, OK, "ACME PAI Mvid:%V Mpid:%P", "-", "-", "PAI legacy CN with VID and PID"},
    {"pai_cn_vidpid_02", TT_PAI, 0, OK, "ACME PAI Mvid:%V", "-", "-", "PAI legacy CN with VID only"},
    {"pai_cn_vidpid_03", TT_PAI, 0, VA_PAI_FORMAT_INVALID, "ACME PAI Mvid:%v", "-", "-", "PAI legacy CN: lowercase VID"},
    {"pai_cn_vidpid_04", TT_PAI, 0, VA_DAC_VENDOR_ID_MISMATCH, "ACME PAI MVID:%V", "-", "-", "PAI legacy CN: MVID: prefix, so no VID"},
    {"pai_cn_vidpid_05", TT_PAI, 0, OK, "ACME PAI Mvid:%W", NULL, NULL, "PAI OID attributes override a wrong CN"},
    {"pai_cn_vidpid_06", TT_PAI, 0, VA_DAC_VENDOR_ID_MISMATCH, "ACME PAI Mvid:%V", "-", NULL, "PAI PID as OID, VID only in the CN: no VID"},
    /* C. CD content */
    {"cd_format_version_missing", TT_CD, CDM_NO_FORMAT, VA_CD_INVALID_FORMAT, NULL, NULL, NULL, "CD without format_version"},
    {"cd_format_version_2", TT_CD, CDM_FORMAT_2, VA_ATT_ELEMENTS_MALFORMED, NULL, NULL, NULL, "CD format_version 2"},
    {"cd_vendor_id_missing", TT_CD, CDM_NO_VENDOR, VA_CD_INVALID_FORMAT, NULL, NULL, NULL, "CD without vendor_id"},
    {"cd_vendor_id_mismatch", TT_CD, CDM_VENDOR_MISMATCH, VA_CD_INVALID_VENDOR_ID, NULL, NULL, NULL, "CD vendor_id differs from the device's"},
    {"cd_pids_missing", TT_CD, CDM_NO_PIDS, VA_CD_INVALID_FORMAT, NULL, NULL, NULL, "CD without product_id_array"},
    {"cd_pids_empty", TT_CD, CDM_PIDS_EMPTY, VA_CD_INVALID_PRODUCT_ID, NULL, NULL, NULL, "CD with an empty product_id_array"},
    {"cd_pids_10", TT_CD, CDM_PIDS_10, OK, NULL, NULL, NULL, "CD with 10 PIDs including the device's"},
    {"cd_pids_100", TT_CD, CDM_PIDS_100, OK, NULL, NULL, NULL, "CD with 100 PIDs including the device's"},
    {"cd_pids_mismatch", TT_CD, CDM_PIDS_MISMATCH, VA_CD_INVALID_PRODUCT_ID, NULL, NULL, NULL, "CD with 10 PIDs, none the device's"},
    {"cd_device_type_missing", TT_CD, CDM_NO_DEVTYPE, VA_CD_INVALID_FORMAT, NULL, NULL, NULL, "CD without device_type_id"},
    {"cd_device_type_mismatch", TT_CD, CDM_DEVTYPE_OTHER, OK, NULL, NULL, NULL, "CD device_type_id differs: ignored by commissioners"},
    {"cd_cert_id_missing", TT_CD, CDM_NO_CERTID, VA_CD_INVALID_FORMAT, NULL, NULL, NULL, "CD without certificate_id"},
    {"cd_cert_id_mismatch", TT_CD, CDM_CERTID_OTHER, OK, NULL, NULL, NULL, "CD certificate_id differs: needs DCL, ignored"},
    {"cd_cert_id_wrong_length", TT_CD, CDM_CERTID_LEN, VA_CD_INVALID_FORMAT, NULL, NULL, NULL, "CD certificate_id of 18 characters"},
    {"cd_security_level_missing", TT_CD, CDM_NO_SECLEVEL, VA_CD_INVALID_FORMAT, NULL, NULL, NULL, "CD without security_level"},
    {"cd_security_level_nonzero", TT_CD, CDM_SECLEVEL_1, OK, NULL, NULL, NULL, "CD security_level 1: ignored by commissioners"},
    {"cd_security_info_missing", TT_CD, CDM_NO_SECINFO, VA_CD_INVALID_FORMAT, NULL, NULL, NULL, "CD without security_information"},
    {"cd_security_info_nonzero", TT_CD, CDM_SECINFO_1, OK, NULL, NULL, NULL, "CD security_information 1: ignored"},
    {"cd_version_missing", TT_CD, CDM_NO_VERSION, VA_CD_INVALID_FORMAT, NULL, NULL, NULL, "CD without version_number"},
    {"cd_version_wrong", TT_CD, CDM_VERSION_OTHER, OK, NULL, NULL, NULL, "CD version_number differs: needs DCL, ignored"},
    {"cd_cert_type_missing", TT_CD, CDM_NO_CERTTYPE, VA_CD_INVALID_FORMAT, NULL, NULL, NULL, "CD without certification_type"},
    {"cd_cert_type_3", TT_CD, CDM_CERTTYPE_3, VA_ATT_ELEMENTS_MALFORMED, NULL, NULL, NULL, "CD certification_type 3 (reserved)"},
    {"cd_cert_type_provisional", TT_CD, CDM_CERTTYPE_1, OK, NULL, NULL, NULL, "CD certification_type 1 (provisional)"},
    {"cd_origin_vid_only", TT_CD, CDM_ORIGIN_VID_ONLY, VA_CD_INVALID_FORMAT, NULL, NULL, NULL, "CD dac_origin_vendor_id without the PID"},
    {"cd_origin_pid_only", TT_CD, CDM_ORIGIN_PID_ONLY, VA_CD_INVALID_FORMAT, NULL, NULL, NULL, "CD dac_origin_product_id without the VID"},
    {"cd_origin_match", TT_CD, CDM_ORIGIN_MATCH, OK, NULL, NULL, NULL, "CD dac_origin matching the DAC"},
    {"cd_origin_vid_mismatch", TT_CD, CDM_ORIGIN_VID_MISMATCH, VA_CD_INVALID_VENDOR_ID, NULL, NULL, NULL, "CD dac_origin_vendor_id differs from the DAC's"},
    {"cd_origin_pid_mismatch", TT_CD, CDM_ORIGIN_PID_MISMATCH, VA_CD_INVALID_PRODUCT_ID, NULL, NULL, NULL, "CD dac_origin_product_id differs from the DAC's"},
    {"cd_origin_other_product", TT_CD, CDM_ORIGIN_OTHER_PRODUCT, OK, NULL, NULL, NULL, "CD for another product, DAC from the dac_origin product"},
    {"cd_paa_list_empty", TT_CD, CDM_PAAS_EMPTY, VA_CD_INVALID_PAA, NULL, NULL, NULL, "CD with an empty authorized_paa_list"},
    {"cd_paa_list_1", TT_CD, CDM_PAAS_1, OK, NULL, NULL, NULL, "CD authorizing the PAA"},
    {"cd_paa_list_2", TT_CD, CDM_PAAS_2, OK, NULL, NULL, NULL, "CD authorizing another PAA and ours"},
    {"cd_paa_list_3_mismatch", TT_CD, CDM_PAAS_3_MISMATCH, VA_CD_INVALID_PAA, NULL, NULL, NULL, "CD authorizing 3 other PAAs"},
    {"cd_paa_list_10", TT_CD, CDM_PAAS_10, OK, NULL, NULL, NULL, "CD authorizing 10 PAAs including ours"},
    {"cd_paa_list_10_mismatch", TT_CD, CDM_PAAS_10_MISMATCH, VA_CD_INVALID_PAA, NULL, NULL, NULL, "CD authorizing 10 other PAAs"},
    /* C. CMS envelope */
    {"cms_signer_info_v2", TT_CMS, TVC_SIGNER_V2, VA_CD_NO_KEY_ID, NULL, NULL, NULL, "SignerInfo version 2"},
    {"cms_signer_info_digest_sha1", TT_CMS, TVC_SIGNER_DIGEST_SHA1, VA_CD_NO_KEY_ID, NULL, NULL, NULL, "SignerInfo digestAlgorithm SHA-1"},
    {"cms_sig_alg_sha1", TT_CMS, TVC_SIG_ALG_SHA1, VA_CD_NO_KEY_ID, NULL, NULL, NULL, "SignerInfo signatureAlgorithm ecdsa-with-SHA1"},
    {"cms_signer_kid_unknown", TT_CMS, TVC_UNKNOWN_KID, VA_CD_NO_CERT_FOUND, NULL, NULL, NULL, "signer key id of no trusted CD signer"},
    {"cms_signed_data_v2", TT_CMS, TVC_SIGNED_DATA_V2, VA_CD_INVALID_SIGNATURE, NULL, NULL, NULL, "SignedData version 2"},
    {"cms_digest_sha1", TT_CMS, TVC_DIGEST_SHA1, VA_CD_INVALID_SIGNATURE, NULL, NULL, NULL, "SignedData digestAlgorithms SHA-1"},
    {"cms_econtent_type_other", TT_CMS, TVC_ECONTENT_OTHER, VA_CD_INVALID_SIGNATURE, NULL, NULL, NULL, "eContentType 1.3.6.1.4.1.311.2.1.4"},
    {"cms_signature_corrupt", TT_CMS, TVC_CORRUPT_SIG, VA_CD_INVALID_SIGNATURE, NULL, NULL, NULL, "CD signature with one bit flipped"},
    /* D. */
    {"invalid_paa", TT_PAA, 0, VA_PAA_NOT_FOUND, NULL, NULL, NULL, "chain under a random PAA that no trust store holds"},
};

const size_t tv_n_cases = sizeof(tv_cases) / sizeof(tv_cases[0]);

static void pids(tv_cd *cd, uint16_t first, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t p = (uint16_t)(first + i);
        cd->pids[i] = p ? p : 1;
    }
    cd->n_pids = n;
}

static void paas(tv_cd *cd, size_t n, const uint8_t *ours)
{
    for (size_t i = 0; i < n; i++) {
        memset(cd->paas[i], (int)(0xA0 + i), 20);
    }
    if (ours != NULL && n > 0) memcpy(cd->paas[n - 1], ours, 20);
    cd->n_paas = n;
    cd->fields |= TVF_PAAS;
}

static void origin(tv_cd *cd, int vid, int pid, uint16_t v, uint16_t p)
{
    if (vid) cd->fields |= TVF_ORIGIN_VID;
    if (pid) cd->fields |= TVF_ORIGIN_PID;
    cd->origin_vid = v;
    cd->origin_pid = p;
}

void tv_cd_apply(int mod, uint16_t vid, uint16_t pid, const uint8_t paa_skid[20], tv_cd *cd, uint16_t *basic_pid)
{
    memset(cd, 0, sizeof(*cd));
    *cd = (tv_cd){.fields = TVF_ALL, .format_version = 1, .vendor_id = vid, .device_type = 0x0016,
                  .cert_id = "ZIG20142ZB330003-24", .version = 1, .cert_type = 0};
    pids(cd, pid, 1);
    *basic_pid = pid;
    switch (mod) {
    case CDM_NO_FORMAT: cd->fields &= ~TVF_FORMAT; break;
    case CDM_FORMAT_2: cd->format_version = 2; break;
    case CDM_NO_VENDOR: cd->fields &= ~TVF_VENDOR; break;
    case CDM_VENDOR_MISMATCH: cd->vendor_id = (uint16_t)(vid + 1); break;
    case CDM_NO_PIDS: cd->fields &= ~TVF_PIDS; break;
    case CDM_PIDS_EMPTY: cd->n_pids = 0; break;
    case CDM_PIDS_10: pids(cd, (uint16_t)(pid - 5), 10); break;
    case CDM_PIDS_100: pids(cd, (uint16_t)(pid - 50), 100); break;
    case CDM_PIDS_MISMATCH: pids(cd, (uint16_t)(pid + 1), 10); break;
    case CDM_NO_DEVTYPE: cd->fields &= ~TVF_DEVTYPE; break;
    case CDM_DEVTYPE_OTHER: cd->device_type = 0x1234; break;
    case CDM_NO_CERTID: cd->fields &= ~TVF_CERTID; break;
    case CDM_CERTID_OTHER: cd->cert_id = "ZIG20141ZB330001-24"; break;
    case CDM_CERTID_LEN: cd->cert_id = "ZIG20141ZB330001-2"; break;
    case CDM_NO_SECLEVEL: cd->fields &= ~TVF_SECLEVEL; break;
    case CDM_SECLEVEL_1: cd->sec_level = 1; break;
    case CDM_NO_SECINFO: cd->fields &= ~TVF_SECINFO; break;
    case CDM_SECINFO_1: cd->sec_info = 1; break;
    case CDM_NO_VERSION: cd->fields &= ~TVF_VERSION; break;
    case CDM_VERSION_OTHER: cd->version = 0x2694; break;
    case CDM_NO_CERTTYPE: cd->fields &= ~TVF_CERTTYPE; break;
    case CDM_CERTTYPE_3: cd->cert_type = 3; break;
    case CDM_CERTTYPE_1: cd->cert_type = 1; break;
    case CDM_ORIGIN_VID_ONLY: origin(cd, 1, 0, vid, pid); break;
    case CDM_ORIGIN_PID_ONLY: origin(cd, 0, 1, vid, pid); break;
    case CDM_ORIGIN_MATCH: origin(cd, 1, 1, vid, pid); break;
    case CDM_ORIGIN_VID_MISMATCH: origin(cd, 1, 1, (uint16_t)(vid + 1), pid); break;
    case CDM_ORIGIN_PID_MISMATCH: origin(cd, 1, 1, vid, (uint16_t)(pid + 1)); break;
    case CDM_ORIGIN_OTHER_PRODUCT:
        origin(cd, 1, 1, vid, pid);
        pids(cd, (uint16_t)(pid + 0x100), 1);
        *basic_pid = cd->pids[0];
        break;
    case CDM_PAAS_EMPTY: paas(cd, 0, NULL); break;
    case CDM_PAAS_1: paas(cd, 1, paa_skid); break;
    case CDM_PAAS_2: paas(cd, 2, paa_skid); break;
    case CDM_PAAS_3_MISMATCH: paas(cd, 3, NULL); break;
    case CDM_PAAS_10: paas(cd, 10, paa_skid); break;
    case CDM_PAAS_10_MISMATCH: paas(cd, 10, NULL); break;
    default: break;
    }
}
