/* fuzz_revset.c - the revocation-set JSON `verify attestation
 * --revocation-set` reads (the SDK generator's format: issuer SKID and name,
 * serials, CRL signer and delegator certificates in base64). */
#include <stdint.h>
#include <string.h>

#include "fuzz_file.h"
#include "verify/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mp_va_input in;
    memset(&in, 0, sizeof(in));
    (void)!mp_va_load_revset(fuzz_file(data, size, ".json"), &in);
    mp_va_input_free(&in);
    return 0;
}
