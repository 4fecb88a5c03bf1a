/*
 * va_certs.c - checks 0-11 of the verifier: trust store, presence, format,
 * sizes, VID/PID rules, PAA lookup (sections 2 steps 1-7 and 3).
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "keystore.h"
#include "util.h"
#include "va_int.h"

static X509 *parse(const mp_va_buf *b)
{
    const uint8_t *p = b->der;
    X509 *x = b->len ? d2i_X509(NULL, &p, (long)b->len) : NULL;
    ERR_clear_error();
    return x;
}

/* The file trust store drops PAAs that fail the PAA format check or are
 * larger than 600 bytes; production mode rejects them (105). */
static int trust_store(va_ctx *c)
{
    const mp_va_input *in = c->in;
    size_t usable = 0;
    char why[160];
    for (size_t i = 0; i < in->n_paa; i++) {
        const mp_va_buf *b = &in->paa[i];
        int bad = mp_va_cert_format(b->der, b->len, VA_CERT_PAA, why, sizeof(why)) != 0;
        if (!bad && b->len > MP_MAX_CERT_DER) {
            bad = 1;
            snprintf(why, sizeof(why), "%zu bytes > %d", b->len, MP_MAX_CERT_DER);
        }
        if (bad && in->production) {
            return va_fail(c, VC_TRUST_STORE, VA_PAA_FORMAT_INVALID, "PAA %s: %s", b->name, why);
        }
        if (bad) {
            va_note(c, "PAA %s left out of the trust store: %s", b->name, why);
        }
        c->paa_usable[i] = !bad;
        usable += !bad;
    }
    va_pass(c, VC_TRUST_STORE, "%zu of %zu PAA certificate(s) usable", usable, in->n_paa);
    return 0;
}

static int formats(va_ctx *c)
{
    const mp_va_input *in = c->in;
    char why[160];
    if (in->dac.len == 0) {
        return va_fail(c, VC_ARGUMENTS, VA_INVALID_ARGUMENT, "no DAC");
    }
    va_pass(c, VC_ARGUMENTS, "DAC present (%zu bytes)", in->dac.len);
    if (in->pai.len == 0) {
        return va_fail(c, VC_PAI_PRESENT, VA_PAI_MISSING, "no PAI supplied");
    }
    va_pass(c, VC_PAI_PRESENT, "PAI present (%zu bytes)", in->pai.len);
    if (mp_va_cert_format(in->pai.der, in->pai.len, VA_CERT_PAI, why, sizeof(why)) != 0) {
        return va_fail(c, VC_PAI_FORMAT, VA_PAI_FORMAT_INVALID, "PAI: %s", why);
    }
    va_pass(c, VC_PAI_FORMAT, "PAI conforms");
    if (mp_va_cert_format(in->dac.der, in->dac.len, VA_CERT_DAC, why, sizeof(why)) != 0) {
        return va_fail(c, VC_DAC_FORMAT, VA_DAC_FORMAT_INVALID, "DAC: %s", why);
    }
    va_pass(c, VC_DAC_FORMAT, "DAC conforms");
    c->dac = parse(&in->dac);
    c->pai = parse(&in->pai);
    if (!in->production) {
        va_skip(c, VC_SIZES, "certification-test check (--production)");
    } else if (in->dac.len > MP_MAX_CERT_DER) {
        return va_fail(c, VC_SIZES, VA_DAC_FORMAT_INVALID, "DAC is %zu bytes > %d", in->dac.len, MP_MAX_CERT_DER);
    } else if (in->pai.len > MP_MAX_CERT_DER) {
        return va_fail(c, VC_SIZES, VA_PAI_FORMAT_INVALID, "PAI is %zu bytes > %d", in->pai.len, MP_MAX_CERT_DER);
    } else {
        va_pass(c, VC_SIZES, "DAC %zu, PAI %zu bytes", in->dac.len, in->pai.len);
    }
    return 0;
}

static int vidpid(va_ctx *c)
{
    const mp_vidpid *d = &c->dac_vp, *p = &c->pai_vp;
    if (mp_dn_vidpid(X509_get_subject_name(c->dac), &c->dac_vp) != MP_OK) {
        return va_fail(c, VC_VIDPID, VA_DAC_FORMAT_INVALID, "DAC subject VID/PID malformed (WRONG_CERT_DN)");
    }
    if (mp_dn_vidpid(X509_get_subject_name(c->pai), &c->pai_vp) != MP_OK) {
        return va_fail(c, VC_VIDPID, VA_PAI_FORMAT_INVALID, "PAI subject VID/PID malformed (WRONG_CERT_DN)");
    }
    if (!p->has_vid || !d->has_vid || p->vid != d->vid) {
        return va_fail(c, VC_VIDPID, VA_DAC_VENDOR_ID_MISMATCH, "PAI VID %s%04X, DAC VID %s%04X",
                       p->has_vid ? "" : "(absent) ", p->vid, d->has_vid ? "" : "(absent) ", d->vid);
    }
    if (!d->has_pid) {
        return va_fail(c, VC_VIDPID, VA_DAC_PRODUCT_ID_MISMATCH, "DAC has no PID");
    }
    if (p->has_pid && p->pid != d->pid) {
        return va_fail(c, VC_VIDPID, VA_DAC_PRODUCT_ID_MISMATCH, "PAI PID %04X, DAC PID %04X", p->pid, d->pid);
    }
    va_pass(c, VC_VIDPID, "VID %04X, DAC PID %04X%s%s", d->vid, d->pid, p->has_pid ? ", PAI PID = DAC PID" : "",
            d->from_cn || p->from_cn ? " (legacy CN encoding)" : "");
    return 0;
}

static int paa_lookup(va_ctx *c)
{
    const mp_va_input *in = c->in;
    char hex[41];
    if (mp_cert_akid(c->pai, c->pai_akid) != 0) {
        return va_fail(c, VC_PAA_LOOKUP, VA_PAI_FORMAT_INVALID, "PAI AKID not extractable");
    }
    mp_hex(c->pai_akid, 20, hex, 1);
    for (size_t i = 0; i < in->n_paa && c->paa == NULL; i++) {
        X509 *x = c->paa_usable[i] ? parse(&in->paa[i]) : NULL;
        uint8_t skid[20];
        if (x != NULL && mp_cert_skid(x, skid) == 0 && memcmp(skid, c->pai_akid, 20) == 0) {
            c->paa = x;
            va_pass(c, VC_PAA_LOOKUP, "PAA %s (SKID %s)", in->paa[i].name, hex);
        } else {
            X509_free(x);
        }
    }
    if (c->paa == NULL) {
        return va_fail(c, VC_PAA_LOOKUP, VA_PAA_NOT_FOUND, "no PAA with SKID %s (the PAI's AKID) in the trust store", hex);
    }
    if (mp_dn_vidpid(X509_get_subject_name(c->paa), &c->paa_vp) != MP_OK) {
        return va_fail(c, VC_PAA_VIDPID, VA_PAA_FORMAT_INVALID, "PAA subject VID/PID malformed (WRONG_CERT_DN)");
    }
    if (c->paa_vp.has_vid && c->paa_vp.vid != c->pai_vp.vid) {
        return va_fail(c, VC_PAA_VIDPID, VA_PAI_VENDOR_ID_MISMATCH, "PAA VID %04X, PAI VID %04X", c->paa_vp.vid, c->pai_vp.vid);
    }
    if (c->paa_vp.has_pid) {
        return va_fail(c, VC_PAA_VIDPID, VA_PAA_FORMAT_INVALID, "PAA carries a PID");
    }
    va_pass(c, VC_PAA_VIDPID, c->paa_vp.has_vid ? "PAA VID = PAI VID" : "PAA without VID");
    return 0;
}

/* Number of AKID extensions. */
static int akid_count(X509 *x)
{
    int n = 0;
    for (int i = -1; (i = X509_get_ext_by_NID(x, NID_authority_key_identifier, i)) >= 0;) n++;
    return n;
}

static int name_eq(const X509_NAME *a, const X509_NAME *b)
{
    const uint8_t *da, *db;
    size_t la, lb;
    return X509_NAME_get0_der(a, &da, &la) == 1 && X509_NAME_get0_der(b, &db, &lb) == 1 && la == lb &&
           memcmp(da, db, la) == 0;
}

/* TC-DA-1.7: no SDK test PAA; issuer DER = issuer's subject DER. */
static int certification(va_ctx *c)
{
    if (!c->in->production) {
        va_skip(c, VC_TEST_PAA, "certification-test check (--production)");
        va_skip(c, VC_ISSUERS, "certification-test check (--production)");
        return 0;
    }
    if (mp_is_test_paa(c->pai_akid)) {
        return va_fail(c, VC_TEST_PAA, VA_PAA_UNTRUSTED, "PAI AKID is an SDK test PAA (refused by TC-DA-1.7)");
    }
    va_pass(c, VC_TEST_PAA, "not an SDK test PAA");
    if (akid_count(c->pai) != 1) {
        return va_fail(c, VC_ISSUERS, VA_PAI_FORMAT_INVALID, "PAI must have exactly one AKID");
    }
    if (!name_eq(X509_get_issuer_name(c->dac), X509_get_subject_name(c->pai))) {
        return va_fail(c, VC_ISSUERS, VA_DAC_AUTHORITY_NOT_FOUND, "DAC issuer DER differs from the PAI subject DER");
    }
    if (!name_eq(X509_get_issuer_name(c->pai), X509_get_subject_name(c->paa))) {
        return va_fail(c, VC_ISSUERS, VA_PAI_AUTHORITY_NOT_FOUND, "PAI issuer DER differs from the PAA subject DER");
    }
    va_pass(c, VC_ISSUERS, "issuer names match byte for byte");
    return 0;
}

int va_certs(va_ctx *c)
{
    if (trust_store(c) != 0 || formats(c) != 0 || vidpid(c) != 0) {
        return -1;
    }
    va_skip(c, VC_ATT_SIGNATURE, "no attestation response (file check)");
    if (paa_lookup(c) != 0 || certification(c) != 0) {
        return -1;
    }
    return 0;
}
