/* tv_cases.h - the table of generated test-vector cases (section 10). */
#ifndef MP_TV_CASES_H
#define MP_TV_CASES_H

#include "tv.h"

enum tv_target { TT_VALID = 0, TT_DAC, TT_PAI, TT_CD, TT_CMS, TT_PAA };

/* Certificate pseudo-defects handled by the generator, not the builder. */
enum { TVX_PAST = 100, TVX_FUTURE, TVX_K1, TVX_NB_BEFORE_PAI };

/* CD content changes (section 10 C). */
enum tv_cd_mod {
    CDM_NONE = 0, CDM_NO_FORMAT, CDM_FORMAT_2, CDM_NO_VENDOR, CDM_VENDOR_MISMATCH, CDM_NO_PIDS,
    CDM_PIDS_EMPTY, CDM_PIDS_10, CDM_PIDS_100, CDM_PIDS_MISMATCH, CDM_NO_DEVTYPE, CDM_DEVTYPE_OTHER,
    CDM_NO_CERTID, CDM_CERTID_OTHER, CDM_CERTID_LEN, CDM_NO_SECLEVEL, CDM_SECLEVEL_1, CDM_NO_SECINFO,
    CDM_SECINFO_1, CDM_NO_VERSION, CDM_VERSION_OTHER, CDM_NO_CERTTYPE, CDM_CERTTYPE_3, CDM_CERTTYPE_1,
    CDM_ORIGIN_VID_ONLY, CDM_ORIGIN_PID_ONLY, CDM_ORIGIN_MATCH, CDM_ORIGIN_VID_MISMATCH,
    CDM_ORIGIN_PID_MISMATCH, CDM_ORIGIN_OTHER_PRODUCT, CDM_PAAS_EMPTY, CDM_PAAS_1, CDM_PAAS_2,
    CDM_PAAS_3_MISMATCH, CDM_PAAS_10, CDM_PAAS_10_MISMATCH,
};

typedef struct tv_case {
    const char *name;
    int target;           /* enum tv_target */
    int defect;           /* tv_defect / TVX_* (certs), tv_cd_mod (CD), tv_cms_defect (CMS) */
    int expect;           /* AttestationVerificationResult of the default verifier */
    /* Subject of the target certificate: NULL = the default, "-" = absent.
     * %V VID, %W VID+1, %v lowercase VID, %3 VID's last 3 digits, %P PID, %Q PID+1. */
    const char *cn, *vid, *pid;
    const char *desc;
} tv_case;

extern const tv_case tv_cases[];
extern const size_t tv_n_cases;

/* Baseline CD for vid/pid, then apply mod; *basic_pid is the Basic
 * Information ProductID the device reports. */
void tv_cd_apply(int mod, uint16_t vid, uint16_t pid, const uint8_t paa_skid[20], tv_cd *cd, uint16_t *basic_pid);

#endif
