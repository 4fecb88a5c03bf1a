/* build_check.h - the CD check of `factory-data build` (build_check.c). */
#ifndef MP_FD_BUILD_CHECK_H
#define MP_FD_BUILD_CHECK_H

#include "cd.h"
#include "factory-data/build.h"

typedef struct mp_fd_trust {
    const char *paa[8];
    size_t n_paa;
    const char *signer[8];
    size_t n_signer;
    const char *trust_dir;
    int production;
} mp_fd_trust;

/* The CD (signature against the given signers, VID/PID, authorized PAAs,
 * dac_origin) and the first device's chain, by the attestation verifier, as
 * a commissioner would; certification_type 0/1 refused with production,
 * warned about otherwise. MP_ERR_ATTESTATION naming the failed check. */
int mp_fd_build_verify_cd(mp_fd_build *b, const mp_fd_trust *t, const mp_cd *cd) MP_MUST_CHECK;

#endif
