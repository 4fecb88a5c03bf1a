/*
 * product.h - the product description (product.json): the single source of
 * truth for the CD, factory-data and DCL stages.
 *
 * Common fields are validated here into mp_product. Stage-specific sections
 * ("cd", "factory_data", "dcl") stay in p->json and are read by their stage
 * with the mp_json_* getters, whose errors name the file and the field.
 *
 * Numbers may be JSON numbers or strings: "0x..." is hex, anything else
 * decimal. VID/PID are conventionally written "0xFFF1".
 */
#ifndef MP_PRODUCT_H
#define MP_PRODUCT_H

#include <stdint.h>

#include <jansson.h>

#include "err.h"

enum mp_flow { MP_FLOW_STANDARD = 0, MP_FLOW_USER_INTENT = 1, MP_FLOW_CUSTOM = 2 };

/* Discovery capability bits (QR payload): */
#define MP_DISC_SOFTAP 0x01
#define MP_DISC_BLE 0x02
#define MP_DISC_ON_NETWORK 0x04
#define MP_DISC_WIFI_PAF 0x08
#define MP_DISC_NFC 0x10

typedef struct mp_product {
    json_t *json;              /* whole document (owned) */
    const char *path;          /* for messages */
    uint16_t vendor_id;        /* 1..0xFFF4 */
    const char *vendor_name;   /* 1..32 */
    uint16_t product_id;       /* 1..0xFFFF */
    const char *product_name;  /* 1..32 */
    const char *product_label; /* 0..64, may be "" */
    const char *part_number;   /* 0..32 */
    const char *product_url;   /* 0..256, https:// when set */
    uint16_t hardware_version;
    const char *hardware_version_string; /* 1..64 */
    uint32_t device_type_id;   /* < 2^31-1 */
    int commissioning_flow;    /* enum mp_flow */
    uint8_t discovery_caps;    /* MP_DISC_* bits, non-zero */
    int product_finish;        /* -1 = unset, else 0..5 */
    int product_color;         /* -1 = unset, else 0..20 */
    uint32_t iterations;       /* SPAKE2+ default, 1000..100000 (default 10000) */
} mp_product;

/* Loads and validates the WHOLE file, whichever command reads it: the
 * common fields here, each stage section by the check its stage registered
 * (mp_product_section_check); unknown fields are refused everywhere, a
 * section nobody registered is refused. */
int mp_product_load(const char *path, mp_product *p) MP_MUST_CHECK;
/* Register the check of a top-level section ("cd", "dcl"), done once at
 * start-up by the program (src/main.c) for every stage, so that core does
 * not call into the stages. */
typedef int (*mp_product_section_fn)(const char *path, json_t *sec);
void mp_product_section_check(const char *name, mp_product_section_fn fn);
/* The stages' section checks (certdecl/, dcl-export/). */
int mp_cd_section_check(const char *path, json_t *sec) MP_MUST_CHECK;
int mp_dcl_section_check(const char *path, json_t *dcl) MP_MUST_CHECK;
void mp_product_free(mp_product *p);

/* Getters for stage sections. `where` names the object for messages, e.g.
 * "product.json: cd". required=0 returns MP_OK and leaves *out untouched
 * when the key is absent. */
int mp_json_uint(const char *where, json_t *obj, const char *key, uint64_t min, uint64_t max,
                 int required, uint64_t *out) MP_MUST_CHECK;
int mp_json_str(const char *where, json_t *obj, const char *key, size_t minlen, size_t maxlen,
                int required, const char **out) MP_MUST_CHECK;
/* Reject keys of obj that are not in the NULL-terminated list (typos). */
int mp_json_known(const char *where, json_t *obj, const char *const *keys) MP_MUST_CHECK;

#endif
