/*
 * cd_input.h - the fields of a CD to create, gathered from a product
 * description ("cd" section plus vendor_id, product_id, device_type_id)
 * and then from command-line options, which override.
 */
#ifndef MP_CD_INPUT_H
#define MP_CD_INPUT_H

#include "cd.h"

/* Bits of mp_cd_input.set: which fields have been given. */
enum {
    CDI_VID = 1 << 0, CDI_PIDS = 1 << 1, CDI_DEVTYPE = 1 << 2, CDI_CERT_ID = 1 << 3,
    CDI_VERSION = 1 << 4, CDI_TYPE = 1 << 5, CDI_ORIGIN_VID = 1 << 6, CDI_ORIGIN_PID = 1 << 7,
    CDI_PAAS = 1 << 8,
};

typedef struct mp_cd_input {
    mp_cd cd;
    unsigned set;
    int check_only; /* validate the section, load no PAA file */
} mp_cd_input;

void mp_cd_input_init(mp_cd_input *in);
/* Read product.json: common fields and the "cd" section. */
int mp_cd_input_product(mp_cd_input *in, const char *path) MP_MUST_CHECK;
/* Append the SKID of a PAA certificate to the authorized PAA list (where
 * names the option or field for messages). */
int mp_cd_input_paa(mp_cd_input *in, const char *cert_path, const char *where) MP_MUST_CHECK;
/* Check that every required field was given, then the field rules. */
int mp_cd_input_finish(mp_cd_input *in) MP_MUST_CHECK;

#endif
