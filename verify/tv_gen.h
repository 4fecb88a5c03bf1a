/* tv_gen.h - write the test-vector cases of tv_cases.c into a directory. */
#ifndef MP_TV_GEN_H
#define MP_TV_GEN_H

#include <jansson.h>

#include "tv.h"

typedef struct tv_env {
    const char *dir;          /* output directory (a temporary one until done) */
    uint16_t vid, pid;        /* DAC VID/PID */
    X509 *paa, *pai;          /* baseline PAA and PAI certificates */
    EVP_PKEY *paa_signer, *pai_signer; /* token keys */
    uint8_t pai_point[65];
    char pai_cn[72];
    int pai_has_pid;
    time_t base;              /* DAC notBefore: the PAI's notBefore */
    tv_key cd_key;            /* software CD signer */
    X509 *cd_cert;
    json_t *index;
    size_t n_written, n_skipped;
} tv_env;

/* Generate every case into env->dir. */
int tv_generate(tv_env *env) MP_MUST_CHECK;

#endif
