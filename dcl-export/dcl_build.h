/*
 * dcl_build.h - internal helpers shared by the record builders: a Msg being
 * built, with the product section it reads from and, per field, where the
 * value came from (named in validation errors).
 */
#ifndef MP_DCL_BUILD_H
#define MP_DCL_BUILD_H

#include <jansson.h>

#include "dcl_records.h"

typedef struct dcl_rec {
    const dcl_ctx *c;
    const dcl_schema *s;
    json_t *msg;     /* the Msg, every field present in proto order */
    json_t *src;     /* field -> "product.json: dcl.model.support_url" */
    json_t *sec;     /* the product's dcl.<section> (borrowed; may be NULL) */
    char where[512]; /* "product.json: dcl.model" */
} dcl_rec;

int dcl_rec_init(dcl_rec *r, const dcl_ctx *c, const dcl_schema *s, const char *section) MP_MUST_CHECK;
/* The known keys of dcl.compliance (r->where, r->sec) and dcl.revocation_points. */
int dcl_compliance_known(dcl_rec *r) MP_MUST_CHECK;
int dcl_rp_known(const char *where, json_t *sec) MP_MUST_CHECK;
void dcl_rec_free(dcl_rec *r);
/* Set a field (steals v) and record its source (may be NULL). */
void dcl_rec_set(dcl_rec *r, const char *field, json_t *v, const char *src);
void dcl_rec_set_str(dcl_rec *r, const char *field, const char *v, const char *src);
void dcl_rec_set_int(dcl_rec *r, const char *field, long long v, const char *src);
/* A product field of the top level (common field) as the source. */
const char *dcl_rec_common(dcl_rec *r, const char *key);
/* Copy section key -> field when present (string / unsigned / boolean). */
int dcl_rec_str(dcl_rec *r, const char *key, const char *field) MP_MUST_CHECK;
int dcl_rec_uint(dcl_rec *r, const char *key, const char *field) MP_MUST_CHECK;
int dcl_rec_bool(dcl_rec *r, const char *key, const char *field) MP_MUST_CHECK;
int dcl_rec_known(dcl_rec *r, const char *const *keys) MP_MUST_CHECK;
/* Cross-checks of a CD with the product: vendor_id, product_id in its list. */
int dcl_cd_check(const dcl_ctx *c, const dcl_cd *cd, const char *what) MP_MUST_CHECK;
/* Set the software version fields from the command line over dcl.model_version. */
int dcl_sw_apply(dcl_rec *r, const dcl_sw *sw, const char *vfield, const char *sfield) MP_MUST_CHECK;
/* Fill creator/signer from --from, validate, hand the Msg over. */
int dcl_rec_finish(dcl_rec *r, json_t **msg) MP_MUST_CHECK;

#endif
