/* fuzz_onboarding.c - QR text, manual code and Base38 decoders; a decoded
 * valid payload must encode back to the same code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "factory-data/onboarding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    uint8_t b[512];
    mp_payload p;
    const char *next = NULL;
    if (s == NULL) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    (void)mp_base38_decode(s, strlen(s), b, sizeof(b));
    if (mp_qr_decode(s, &p, &next) == MP_OK && p.tlv_len == 0 && p.caps != 0 && (p.caps & ~MP_CAPS_KNOWN) == 0) {
        char qr[MP_QR_MAX];
        if (mp_qr_encode(&p, qr) != MP_OK || strncmp(qr, s, strlen(qr)) != 0) abort();
    }
    while (next != NULL && mp_qr_decode_body(next, &p, &next) == MP_OK) {}
    if (mp_manual_decode(s, &p) == MP_OK) {
        char m[MP_MANUAL_MAX];
        (void)mp_manual_pack(&p, m);
    }
    free(s);
    return 0;
}
