/*
 * lint.h - check one certificate against the Matter PAA/PAI/DAC profile
 * (shared/docs/matter-attestation.md section 1) and list every violated rule.
 */
#ifndef MP_LINT_H
#define MP_LINT_H

#include <openssl/x509.h>

#define MP_LINT_MAX 32

typedef struct mp_lint {
    int count;
    char msg[MP_LINT_MAX][160];
} mp_lint;

/* Returns the number of violations (0 = conforms). */
int mp_lint_cert(X509 *x, int type, mp_lint *out);

#endif
