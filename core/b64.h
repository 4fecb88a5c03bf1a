/* b64.h - strict base64 (standard alphabet) shared by every stage. */
#ifndef MP_B64_H
#define MP_B64_H

#include <stddef.h>
#include <stdint.h>

/* NUL-terminated, padded; returns the length, 0 if cap is too small. */
size_t mp_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap);
/* Padded input only; rejects whitespace, misplaced or bad padding and
 * non-canonical trailing bits. Returns the byte count or -1. */
long mp_b64_decode(const char *in, size_t inlen, uint8_t *out, size_t cap);
/* Same, also accepting input without its '=' padding (chip lists). */
long mp_b64_decode_unpadded(const char *in, size_t inlen, uint8_t *out, size_t cap);

#endif
