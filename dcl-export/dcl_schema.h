/*
 * dcl_schema.h - the DCL Msgs as data: each field's JSON name, type and
 * validate-tag rules per DCL version (dcl.md sections 4 and 5), and one
 * validator that checks a Msg against its table before anything is written.
 *
 * A Msg is made with dcl_msg_new() (every field present with its zero value,
 * in proto order, as dcld emits it); builders then set the values.
 */
#ifndef MP_DCL_SCHEMA_H
#define MP_DCL_SCHEMA_H

#include <stdint.h>

#include <jansson.h>

#include "err.h"

enum dcl_version { DCL_V15 = 1, DCL_V16 = 2 };
#define DCL_VALL (DCL_V15 | DCL_V16)

enum dcl_type {
    DT_STR = 1, /* JSON string */
    DT_INT,     /* int32/uint32: JSON number */
    DT_INT64S,  /* int64/uint64: JSON string of decimal digits */
    DT_BOOL,
};

/* Rule flags (validate tags). */
enum {
    R_REQ = 1 << 0,      /* required: non-zero / non-empty */
    R_HTTPS = 1 << 1,    /* https_url (empty passes) */
    R_HTTPX = 1 << 2,    /* http_or_https_url */
    R_URL = 1 << 3,      /* v1.5 `url`: any absolute URL */
    R_NOHTTP = 1 << 4,   /* v1.5 `url,startsnotwith=http:` */
    R_B64 = 1 << 5,      /* standard base64 (when non-empty) */
    R_HEXID = 1 << 6,    /* ^(?:[0-9A-F]{2})+$ */
    R_ALNUM = 1 << 7,    /* ^[a-zA-Z0-9]*$ */
    R_CLUSTERS = 1 << 8, /* supportedClusters format */
    R_WORDS = 1 << 9,    /* comma list of `set` words, no duplicates */
    R_RFC3339 = 1 << 10,
    R_ADDR = 1 << 11,    /* creator/signer: empty (left for the signer) or a bech32 cosmos address */
    R_PEM = 1 << 12,     /* a PEM certificate block */
};

typedef struct dcl_field {
    const char *name;
    int type;
    int vers;        /* DCL_V15, DCL_V16 or both */
    unsigned rules;
    int64_t min, max; /* numbers: value range; strings: code points */
    const char *set;  /* allowed values "a|b" (strings or numbers); empty passes unless R_REQ */
} dcl_field;

typedef struct dcl_schema {
    const char *type; /* full @type */
    const char *name; /* e.g. "MsgCreateModel" */
    const dcl_field *fields;
    int (*extra)(const struct dcl_schema *s, json_t *msg, int ver, json_t *src);
} dcl_schema;

extern const dcl_schema dcl_msg_vendor_info, dcl_msg_model, dcl_msg_model_version,
    dcl_msg_add_cert, dcl_msg_propose_root, dcl_msg_revocation_point, dcl_msg_certify,
    dcl_msg_provision, dcl_msg_rp_update, dcl_msg_rp_delete, dcl_msg_vendor_update, dcl_msg_model_update,
    dcl_msg_model_delete, dcl_msg_mv_update, dcl_msg_mv_delete, dcl_msg_revoke_cert, dcl_msg_remove_cert,
    dcl_msg_propose_revoke_root;

/* A new Msg: "@type" then every field of `ver` with its zero value. */
json_t *dcl_msg_new(const dcl_schema *s, int ver);

/* Check msg against s for ver: exactly the fields of the table in order,
 * each with its JSON type, range, length and format, plus the conditional
 * rules. src (may be NULL) maps a field name to where its value came from,
 * which the message names. MP_ERR_INVALID naming the field and the rule. */
int dcl_validate(const dcl_schema *s, json_t *msg, int ver, json_t *src) MP_MUST_CHECK;

/* "1.5" / "1.6" */
const char *dcl_version_name(int ver);

#endif
