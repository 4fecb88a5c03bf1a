/*
 * dcl_export.h - `dcl export`: the KINDs, the inputs of one run, and the
 * driver that loads them, builds the records (dcl_records.h) and writes
 * them (one file, standard output, or a directory with an index).
 */
#ifndef MP_DCL_EXPORT_H
#define MP_DCL_EXPORT_H

#include <openssl/x509.h>

#include "dcl_records.h"
#include "ledger.h"

enum dcl_kind { DK_VENDOR, DK_MODEL, DK_MV, DK_PAI, DK_RP, DK_PAA, DK_COMPLIANCE, DK_ALL,
                DK_RP_UPDATE, DK_RP_DELETE, DK_CHANGES, DK_COUNT };
#define DCL_MAX_DELETE 16

typedef struct dcl_args {
    int kind;
    const char *product, *cert, *paa_cert, *pai_cert, *signer_cert, *label, *data_url, *cd;
    const char *from, *out, *out_dir;
    dcl_sw sw;
    int ver, test_mode, force;
    /* after launch (dcl_changes.c) */
    const char *crl_file;       /* revocation-point: the CRL published at dataURL, checked */
    const char *ledger, *state_dir;
    /* changes: the ledger, opened by the caller (the CLI's dispatcher, which
     * also closes it) when the run gets to it; state_dir is the folder
     * whose ledger it is (--state-dir, else $MATTER_PKI_STATE, else
     * .matter-pki) */
    int (*open_ledger)(void *ctx, const char *state_dir, const char *ledger, mp_ledger **l);
    void *open_ctx;
    uint32_t delete_mv[DCL_MAX_DELETE];
    size_t n_delete_mv;
    int delete_model, remove_pai, revoke_paa;
    const char *reason;         /* info of revoke/remove records */
} dcl_args;

/* "vendor-info" ... "all" -> DK_*, or -1. */
int dcl_kind_parse(const char *s);
const char *dcl_kind_name(int kind);

/* Everything a run reads, loaded and checked once. */
typedef struct dcl_inputs {
    mp_product prod;
    int has_prod;
    X509 *cert, *paa, *pai, *signer;
    int has_cd;
    dcl_cd cd;
} dcl_inputs;

int dcl_inputs_load(const dcl_args *a, dcl_inputs *in) MP_MUST_CHECK;
void dcl_inputs_free(dcl_inputs *in);

/* The document of one KIND (a tx, or the PAA hand-off). rp_paa selects the
 * PAA (1) or PAI (0) revocation point when both certificates are loaded. */
int dcl_record(const dcl_ctx *c, const dcl_args *a, const dcl_inputs *in, int kind, int rp_paa,
               json_t **doc) MP_MUST_CHECK;

/* `all`: every record that applies, one file each plus index.json in
 * --out-dir; everything is built and validated before the first write, and
 * the files written are removed again if a later write fails. */
int dcl_export_all(const dcl_args *a, const dcl_ctx *c, const dcl_inputs *in) MP_MUST_CHECK;

/* After launch (dcl_changes.c). Project an add-revocation-point Msg onto
 * MsgUpdate/DeletePkiRevocationDistributionPoint and validate it. */
int dcl_rp_project(const dcl_ctx *c, const dcl_schema *to, json_t *add, json_t **msg) MP_MUST_CHECK;
/* --crl-file: the CRL at dataURL must be DER, issued and signed by the
 * point's CRL signer (AKID = its SKID) and, when it has an
 * IssuingDistributionPoint URI, name dataURL. */
int dcl_rp_crl_check(const char *path, X509 *signer, const char *data_url) MP_MUST_CHECK;
/* `dcl export changes` / `--changes`: only what changed since the records
 * stored in the ledger at the last export; then store the new state. */
int dcl_export_changes(const dcl_args *a, const dcl_ctx *c, const dcl_inputs *in) MP_MUST_CHECK;

/* Run one export: load, build, validate, write. */
int dcl_export(const dcl_args *a) MP_MUST_CHECK;

#endif
