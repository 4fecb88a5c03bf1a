/* fuzz_est.c - EST request bodies as `serve` reads them: a simpleenroll body
 * (base64 as RFC 8951 receivers read it) decoded, then the CSR checks. The
 * decoder-free reader of the usual CSR shape must judge every input it takes
 * as OpenSSL's reader does (status, key and CN): a difference aborts. The
 * raw bytes also go to both readers as DER, and to the certs-only CMS reader
 * `est cacerts`/`est enroll` use on the server's answers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "est.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void both(const uint8_t *der, size_t n)
{
    mp_est_csr a, b;
    char why[256];
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    int f = mp_est_check_csr_fast(der, n, &a, why, sizeof(why));
    int o = mp_est_check_csr_openssl(der, n, &b, why, sizeof(why));
    if (f >= 0 && (f != o || (f == 0 && memcmp(&a, &b, sizeof(a)) != 0))) abort();
    (void)mp_est_check_csr(der, n, &a, why, sizeof(why));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t der[MP_EST_MAX_BODY];
    if (size <= MP_EST_MAX_BODY) {
        long n = mp_est_b64_decode((const char *)data, size, der, sizeof(der));
        if (n >= 0) both(der, (size_t)n);
    }
    both(data, size);
    STACK_OF(X509) *certs = NULL;
    if (mp_est_parse_certs_only(data, size, &certs) == MP_OK) sk_X509_pop_free(certs, X509_free);
    return 0;
}
