/* va_int.h - state shared by the verifier's check files (not public). */
#ifndef MP_VA_INT_H
#define MP_VA_INT_H

#include "verify.h"
#include "x509.h"

typedef struct va_ctx {
    const mp_va_input *in;
    mp_va_report *rep;
    X509 *dac, *pai, *paa;   /* parsed inputs; paa = the trust-store match */
    int paa_usable[MP_VA_MAX_PAAS];
    mp_vidpid dac_vp, pai_vp, paa_vp;
    uint8_t pai_akid[20], paa_skid[20];
} va_ctx;

/* Verdicts (va_result.c); the checks call these and never the runner. */
void va_pass(va_ctx *c, int id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void va_skip(va_ctx *c, int id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Record the failure of check id with code; returns -1 (stop). */
int va_fail(va_ctx *c, int id, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void va_note(va_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Check groups, each 0 to go on or -1 once a check failed. */
int va_certs(va_ctx *c);
int va_chain(va_ctx *c);
int va_cd(va_ctx *c);
/* Revocation: 0 / -1 as above, or a positive exit code for bad input. */
int va_revocation(va_ctx *c);

#endif
