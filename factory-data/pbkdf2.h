/*
 * pbkdf2.h - PBKDF2-HMAC-SHA256 that computes the HMAC inner and outer
 * SHA-256 states once per password and then runs two compressions per
 * iteration (about twice the speed of OpenSSL 3.0's PKCS5_PBKDF2_HMAC; see
 * ../shared/docs/performance.md section 3). Thread-safe, no global state.
 */
#ifndef MP_PBKDF2_H
#define MP_PBKDF2_H

#include <stddef.h>
#include <stdint.h>

/* out = PBKDF2-HMAC-SHA256(pw, salt, iterations, outlen). iterations >= 1.
 * Returns 0, or -1 on bad arguments. Every intermediate is wiped. */
int mp_pbkdf2_sha256(const uint8_t *pw, size_t pwlen, const uint8_t *salt, size_t saltlen,
                     uint32_t iterations, uint8_t *out, size_t outlen);

#endif
