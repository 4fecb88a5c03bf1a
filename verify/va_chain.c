/*
 * va_chain.c - checks 12-15: DAC validity at the verification time, the
 * OpenSSL chain validation at the DAC's notBefore with X509_V_FLAG_X509_STRICT
 * (section 2 steps 8-10), PAA SKID.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "util.h"
#include "va_int.h"

static int dac_validity(va_ctx *c)
{
    time_t at = c->in->at;
    char when[21];
    mp_time_iso(at, when);
    /* IsCertificateValidAtCurrentTime: notBefore <= now < notAfter. */
    if (X509_cmp_time(X509_get0_notBefore(c->dac), &at) != -1) {
        return va_fail(c, VC_DAC_VALIDITY, VA_DAC_EXPIRED, "DAC not yet valid at %s", when);
    }
    if (X509_cmp_time(X509_get0_notAfter(c->dac), &at) != 1) {
        return va_fail(c, VC_DAC_VALIDITY, VA_DAC_EXPIRED, "DAC expired at %s", when);
    }
    va_pass(c, VC_DAC_VALIDITY, "valid at %s", when);
    return 0;
}

static int chain(va_ctx *c)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    time_t nb;
    int rc = -1;
    if (store == NULL || ctx == NULL || untrusted == NULL) {
        rc = va_fail(c, VC_CHAIN, VA_NO_MEMORY, "out of memory");
        goto end;
    }
    if (mp_asn1_time(X509_get0_notBefore(c->dac), &nb) != 0) {
        rc = va_fail(c, VC_CHAIN, VA_DAC_FORMAT_INVALID, "DAC notBefore unreadable");
        goto end;
    }
    if (X509_STORE_add_cert(store, c->paa) != 1 || sk_X509_push(untrusted, c->pai) <= 0 ||
        X509_STORE_CTX_init(ctx, store, c->dac, untrusted) != 1) {
        rc = va_fail(c, VC_CHAIN, VA_INTERNAL_ERROR, "OpenSSL store setup failed");
        goto end;
    }
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, nb);
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
    if (X509_verify_cert(ctx) != 1) {
        int e = X509_STORE_CTX_get_error(ctx);
        rc = va_fail(c, VC_CHAIN, VA_DAC_SIGNATURE_INVALID, "chain invalid at the DAC's notBefore: %s (depth %d)",
                     X509_verify_cert_error_string(e), X509_STORE_CTX_get_error_depth(ctx));
        goto end;
    }
    char when[21];
    mp_time_iso(nb, when);
    va_pass(c, VC_CHAIN, "PAA -> PAI -> DAC valid at %s (X509_STRICT)", when);
    rc = 0;
end:
    ERR_clear_error();
    sk_X509_free(untrusted);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return rc;
}

int va_chain(va_ctx *c)
{
    if (dac_validity(c) != 0 || chain(c) != 0) {
        return -1;
    }
    if (mp_cert_skid(c->paa, c->paa_skid) != 0) {
        return va_fail(c, VC_PAA_SKID, VA_PAA_FORMAT_INVALID, "PAA SKID missing or not 20 bytes");
    }
    char hex[41];
    mp_hex(c->paa_skid, 20, hex, 1);
    va_pass(c, VC_PAA_SKID, "%s", hex);
    va_skip(c, VC_ATT_ELEMENTS, "no attestation response (file check)");
    return 0;
}
