/* fuzz_csr.c - PKCS#10 requests (PEM or DER) as `dac issue --csr` and
 * `paa sign-pai` read them: the loader with its proof-of-possession check,
 * then the PAI request's subject rules. */
#include <stdint.h>

#include <openssl/x509.h>

#include "fuzz_file.h"
#include "pai_req.h"
#include "x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".csr");
    X509_REQ *r = NULL;
    uint8_t point[65];
    mp_pai_req req;
    if (mp_csr_load(path, &r, point) == MP_OK) {
        X509_REQ_free(r);
        (void)!mp_pai_req_load(path, &req);
    }
    return 0;
}
