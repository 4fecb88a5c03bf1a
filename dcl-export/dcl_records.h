/*
 * dcl_records.h - one builder per DCL record. Each builds its Msg from the
 * product file (mp_product + its "dcl" section), the certificates and the
 * CD, runs the cross-checks, validates the Msg against the DCL rules of the
 * chosen version (dcl_schema.h) and only then returns it.
 */
#ifndef MP_DCL_RECORDS_H
#define MP_DCL_RECORDS_H

#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "dcl_schema.h"
#include "err.h"
#include "product.h"

/* What the exporter needs from a Certification Declaration. */
typedef struct dcl_cd {
    uint16_t vendor_id;
    uint16_t product_ids[100];
    size_t n_pids;
    char certificate_id[20];
    uint16_t version_number;
    uint8_t certification_type; /* 0 development and test, 1 provisional, 2 official */
} dcl_cd;

/* Read a CD file (DER, hex or base64) with core/cd.h. */
int dcl_cd_load(const char *path, dcl_cd *cd) MP_MUST_CHECK;

/* Software-version inputs: the product's dcl.model_version section, with
 * command-line values laid over it (NULL / has_* = 0 = not given). */
typedef struct dcl_sw {
    int has_version;
    uint32_t version;
    const char *version_string;
    const char *ota_url;
    const char *ota_file;   /* image to measure (size, SHA-256) */
    int has_ota_size, has_ota_type;
    uint64_t ota_size;
    const char *ota_checksum;
    uint32_t ota_type;
    int has_min, has_max;
    uint32_t min_applicable, max_applicable;
} dcl_sw;

typedef struct dcl_ctx {
    int ver;              /* DCL_V15 or DCL_V16 */
    const char *from;     /* signer address; NULL leaves creator/signer empty */
    const mp_product *prod;
    int test_mode;        /* accept SDK test PAAs and development CDs */
} dcl_ctx;

/* Vendor-signed transactions' Msgs (*msg is a new reference). */
int dcl_vendor_info(const dcl_ctx *c, json_t **msg) MP_MUST_CHECK;
int dcl_model(const dcl_ctx *c, json_t **msg) MP_MUST_CHECK;
int dcl_model_version(const dcl_ctx *c, const dcl_sw *sw, const dcl_cd *cd, json_t **msg) MP_MUST_CHECK;
int dcl_pai(const dcl_ctx *c, X509 *pai, json_t **msg) MP_MUST_CHECK;

typedef struct dcl_rp_in {
    X509 *ca;           /* the certifying CA: PAA or PAI */
    int is_paa;
    X509 *signer;       /* CRL signer; NULL = the CA itself */
    const char *label;  /* NULL = dcl.revocation_points.<paa|pai>.label */
    const char *data_url;
} dcl_rp_in;
int dcl_revocation_point(const dcl_ctx *c, const dcl_rp_in *in, json_t **msg) MP_MUST_CHECK;

/* Hand-offs. The PAA document: pem, vid, subject, subjectKeyId, serial and
 * the unsigned propose-add-x509-root-cert tx for a Trustee. */
int dcl_paa_handoff(const dcl_ctx *c, X509 *paa, json_t **doc) MP_MUST_CHECK;
/* MsgCertifyModel (official CD) or MsgProvisionModel (provisional CD). */
int dcl_compliance(const dcl_ctx *c, const dcl_sw *sw, const dcl_cd *cd, json_t **msg) MP_MUST_CHECK;

/* The product's dcl section and one of its objects (NULL when absent);
 * rejects unknown keys of the dcl section. */
int dcl_section(const mp_product *p, const char *name, json_t **obj) MP_MUST_CHECK;

#endif
