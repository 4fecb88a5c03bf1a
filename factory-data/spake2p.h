/*
 * spake2p.h - the SPAKE2+ verifier W0 || L (97 bytes) of a passcode, exactly
 * as ../shared/docs/factory-data.md section 2 and the Matter SDK define it,
 * and small P-256 helpers the factory-data packers share.
 */
#ifndef MP_SPAKE2P_H
#define MP_SPAKE2P_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MP_VERIFIER_LEN 97
#define MP_VERIFIER_B64_LEN 132
#define MP_SALT_MIN 16
#define MP_SALT_MAX 32
#define MP_ITER_MIN 1000
#define MP_ITER_MAX 100000

/* Check salt length and iteration count; errors name the field. */
int mp_spake2p_check(size_t saltlen, uint32_t iterations) MP_MUST_CHECK;
/* verifier = w0 || L for passcode (any 32-bit value; range checks are the
 * caller's, see creds.h), salt (raw bytes) and iterations. Thread-safe. */
int mp_spake2p_verifier(uint32_t passcode, const uint8_t *salt, size_t saltlen,
                        uint32_t iterations, uint8_t verifier[static MP_VERIFIER_LEN]) MP_MUST_CHECK;
/* Recompute and compare (constant time): MP_OK or MP_ERR_MISMATCH. */
int mp_spake2p_check_verifier(uint32_t passcode, const uint8_t *salt, size_t saltlen,
                              uint32_t iterations,
                              const uint8_t verifier[static MP_VERIFIER_LEN]) MP_MUST_CHECK;

/* Public point 04||X||Y of a P-256 private scalar (big-endian, 32 bytes);
 * MP_ERR_INVALID when the scalar is 0 or >= n. */
int mp_p256_point(const uint8_t scalar[static 32], uint8_t point[static 65]) MP_MUST_CHECK;

/* Base64 lives in core/b64.h (included here for the existing callers). */
#include "b64.h"

#endif
