/* lint.c - Matter certificate profile checks (see lint.h). */
#include "lint.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "keystore.h"
#include "subject.h"
#include "x509.h"

static void add(mp_lint *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(mp_lint *l, const char *fmt, ...)
{
    if (l->count >= MP_LINT_MAX) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->msg[l->count++], sizeof(l->msg[0]), fmt, ap);
    va_end(ap);
}

static const char *tname(int type)
{
    return type == 1 ? "PAA" : type == 2 ? "PAI" : "DAC";
}

/* Find an extension by NID; *count is how many times it occurs. */
static X509_EXTENSION *ext_by_nid(X509 *x, int nid, int *count)
{
    X509_EXTENSION *first = NULL;
    *count = 0;
    for (int i = 0; i < X509_get_ext_count(x); i++) {
        X509_EXTENSION *e = X509_get_ext(x, i);
        if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) == nid) {
            if (first == NULL) first = e;
            (*count)++;
        }
    }
    return first;
}

static void check_time(mp_lint *l, const char *which, const ASN1_TIME *t)
{
    int len = ASN1_STRING_length(t);
    const unsigned char *d = ASN1_STRING_get0_data(t);
    time_t when;
    if (mp_asn1_time(t, &when) != 0 || d[len - 1] != 'Z') {
        add(l, "%s is not a valid UTC time ending in Z", which);
        return;
    }
    struct tm tm;
    gmtime_r(&when, &tm);
    int year = tm.tm_year + 1900;
    if (ASN1_STRING_type(t) == V_ASN1_UTCTIME) {
        if (len != 13) add(l, "%s UTCTime must be YYMMDDHHMMSSZ (seconds present)", which);
        if (year >= 2050) add(l, "%s in %d must be GeneralizedTime", which, year);
    } else {
        if (len != 15) add(l, "%s GeneralizedTime must be YYYYMMDDHHMMSSZ, no fractions", which);
        if (year < 2050) add(l, "%s in %d must be UTCTime (GeneralizedTime only from 2050)", which, year);
    }
}

static void check_bc(mp_lint *l, X509 *x, int type)
{
    int n;
    X509_EXTENSION *e = ext_by_nid(x, NID_basic_constraints, &n);
    if (e == NULL) {
        add(l, "basicConstraints is missing");
        return;
    }
    if (n > 1) add(l, "basicConstraints occurs %d times (exactly once)", n);
    if (!X509_EXTENSION_get_critical(e)) add(l, "basicConstraints must be critical");
    BASIC_CONSTRAINTS *bc = X509V3_EXT_d2i(e);
    if (bc == NULL) {
        add(l, "basicConstraints cannot be decoded");
        return;
    }
    long pathlen = bc->pathlen ? ASN1_INTEGER_get(bc->pathlen) : -1;
    if (type == MP_DAC) {
        if (bc->ca) add(l, "DAC basicConstraints must have cA FALSE");
        if (pathlen >= 0) add(l, "DAC basicConstraints must not carry pathLen");
    } else {
        if (!bc->ca) add(l, "%s basicConstraints must have cA TRUE", tname(type));
        if (type == MP_PAA && pathlen != -1 && pathlen != 1)
            add(l, "PAA pathLen must be absent or 1 (is %ld)", pathlen);
        if (type == MP_PAI && pathlen != 0)
            add(l, "PAI pathLen must be exactly 0 (is %s)", pathlen < 0 ? "absent" : pathlen == 1 ? "1" : ">1");
    }
    BASIC_CONSTRAINTS_free(bc);
}

static void check_ku(mp_lint *l, X509 *x, int type)
{
    int n;
    X509_EXTENSION *e = ext_by_nid(x, NID_key_usage, &n);
    if (e == NULL) {
        add(l, "keyUsage is missing");
        return;
    }
    if (n > 1) add(l, "keyUsage occurs %d times (exactly once)", n);
    if (!X509_EXTENSION_get_critical(e)) add(l, "keyUsage must be critical");
    ASN1_BIT_STRING *ku = X509V3_EXT_d2i(e);
    if (ku == NULL) {
        add(l, "keyUsage cannot be decoded");
        return;
    }
    unsigned v = 0;
    for (int i = 0; i < 9; i++) {
        if (ASN1_BIT_STRING_get_bit(ku, i)) v |= 1u << i;
    }
    ASN1_BIT_STRING_free(ku);
    /* bit 0 digitalSignature, 5 keyCertSign, 6 cRLSign */
    if (type == MP_DAC) {
        if (v != 1u) add(l, "DAC keyUsage must be exactly digitalSignature");
    } else {
        if (!(v & (1u << 5)) || !(v & (1u << 6)))
            add(l, "%s keyUsage must include keyCertSign and cRLSign", tname(type));
        if (v & ~((1u << 0) | (1u << 5) | (1u << 6)))
            add(l, "%s keyUsage allows only keyCertSign, cRLSign and digitalSignature", tname(type));
    }
}

static void check_kids(mp_lint *l, X509 *x, int type, const uint8_t *point)
{
    int n;
    uint8_t kid[20], calc[20];
    X509_EXTENSION *e = ext_by_nid(x, NID_subject_key_identifier, &n);
    if (e == NULL) {
        add(l, "subjectKeyIdentifier is missing");
    } else {
        if (n > 1) add(l, "subjectKeyIdentifier occurs %d times", n);
        if (X509_EXTENSION_get_critical(e)) add(l, "subjectKeyIdentifier must not be critical");
        if (mp_cert_skid(x, kid) != 0) {
            add(l, "subjectKeyIdentifier must be exactly 20 bytes");
        } else if (point != NULL) {
            mp_skid(point, calc);
            if (memcmp(kid, calc, 20) != 0)
                add(l, "subjectKeyIdentifier is not SHA-1 of the public key (TC-DA-1.2 recomputes it)");
        }
    }
    e = ext_by_nid(x, NID_authority_key_identifier, &n);
    if (e == NULL) {
        if (type != MP_PAA) add(l, "%s authorityKeyIdentifier is missing", tname(type));
        return;
    }
    if (n > 1) add(l, "authorityKeyIdentifier occurs %d times", n);
    if (X509_EXTENSION_get_critical(e)) add(l, "authorityKeyIdentifier must not be critical");
    uint8_t akid[20];
    if (mp_cert_akid(x, akid) != 0) {
        add(l, "authorityKeyIdentifier keyIdentifier must be exactly 20 bytes");
    } else if (type == MP_PAA && mp_cert_skid(x, kid) == 0 && memcmp(akid, kid, 20) != 0) {
        add(l, "PAA authorityKeyIdentifier, when present, must equal its own SKID");
    }
}

/* The standard attributes of a full subject (O, OU, C, ST, L, serialNumber):
 * size and character-set limits; other attribute types are left alone. */
static void check_std_attrs(mp_lint *l, const X509_NAME *subj)
{
    static const int nids[] = {NID_countryName, NID_stateOrProvinceName, NID_localityName,
                               NID_organizationName, NID_organizationalUnitName, NID_serialNumber};
    for (int i = 0; i < X509_NAME_entry_count(subj); i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(subj, i);
        const ASN1_STRING *d = X509_NAME_ENTRY_get_data(e);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
        for (size_t k = 0; k < sizeof(nids) / sizeof(nids[0]); k++) {
            const char *why;
            if (nids[k] == nid && (why = mp_subject_attr_problem(nid, (const char *)ASN1_STRING_get0_data(d),
                                                                 (size_t)ASN1_STRING_length(d))) != NULL) {
                add(l, "subject %s: %s", OBJ_nid2sn(nid), why);
            }
        }
    }
}

static void check_dn(mp_lint *l, X509 *x, int type)
{
    mp_vidpid vp;
    const X509_NAME *subj = X509_get_subject_name(x);
    if (mp_dn_vidpid(subj, &vp) != MP_OK) {
        add(l, "subject VID/PID is malformed (need 4 uppercase hex digits, at most one each)");
        return;
    }
    if (vp.from_cn) add(l, "VID/PID only in the legacy Mvid:/Mpid: CN form (accepted by commissioners, but emit matter-vid/matter-pid attributes)");
    if (type != MP_PAA && !vp.has_vid) add(l, "%s subject must carry a matter-vid attribute", tname(type));
    if (type == MP_DAC && !vp.has_pid) add(l, "DAC subject must carry a matter-pid attribute");
    if (type == MP_PAA && vp.has_pid) add(l, "PAA subject must not carry a matter-pid attribute");
    int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    if (idx >= 0) {
        const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
        if (ASN1_STRING_length(cn) > MP_MAX_CN) add(l, "common name longer than %d characters", MP_MAX_CN);
        if (X509_NAME_get_index_by_NID(subj, NID_commonName, idx) >= 0) add(l, "subject has more than one CN (Matter: exactly one)");
    } else if (type != MP_DAC) {
        add(l, "%s subject has no CN", tname(type));
    }
    check_std_attrs(l, subj);
    for (int i = 0; i < X509_NAME_entry_count(subj); i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(subj, i);
        const ASN1_OBJECT *o = X509_NAME_ENTRY_get_object(e);
        char oid[64];
        OBJ_obj2txt(oid, sizeof(oid), o, 1);
        int t = ASN1_STRING_type(X509_NAME_ENTRY_get_data(e));
        if ((strcmp(oid, "1.3.6.1.4.1.37244.2.1") == 0 || strcmp(oid, "1.3.6.1.4.1.37244.2.2") == 0) &&
            t != V_ASN1_UTF8STRING && t != V_ASN1_PRINTABLESTRING)
            add(l, "VID/PID attribute must be UTF8String or PrintableString (DCL)");
    }
}

int mp_lint_cert(X509 *x, int type, mp_lint *l)
{
    uint8_t point[65];
    int have_point;
    memset(l, 0, sizeof(*l));
    if (X509_get_version(x) != 2) add(l, "version must be v3");
    const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
    if (sn == NULL || ASN1_STRING_length(sn) == 0) {
        add(l, "serial number is missing");
    } else {
        if (ASN1_STRING_type(sn) == V_ASN1_NEG_INTEGER) add(l, "serial number must be positive");
        const unsigned char *d = ASN1_STRING_get0_data(sn);
        int len = ASN1_STRING_length(sn);
        int zero = 1;
        for (int i = 0; i < len; i++) if (d[i]) zero = 0;
        if (zero) add(l, "serial number must not be zero");
        if (len > 20 || (len == 20 && (d[0] & 0x80))) add(l, "serial number longer than 20 octets");
    }
    const X509_ALGOR *sig = NULL;
    X509_get0_signature(NULL, &sig, x);
    const ASN1_OBJECT *so;
    int ptype;
    X509_ALGOR_get0(&so, &ptype, NULL, sig);
    if (OBJ_obj2nid(so) != NID_ecdsa_with_SHA256) add(l, "signature algorithm must be ecdsa-with-SHA256");
    else if (ptype != V_ASN1_UNDEF) add(l, "ecdsa-with-SHA256 parameters must be absent");
    if (X509_ALGOR_cmp(sig, X509_get0_tbs_sigalg(x)) != 0) add(l, "TBS signature algorithm differs from the outer one");
    have_point = mp_cert_point(x, point) == MP_OK;
    if (!have_point) add(l, "public key must be EC P-256 with a 65-byte uncompressed point");
    check_time(l, "notBefore", X509_get0_notBefore(x));
    check_time(l, "notAfter", X509_get0_notAfter(x));
    if (ASN1_TIME_compare(X509_get0_notBefore(x), X509_get0_notAfter(x)) >= 0)
        add(l, "notBefore is not before notAfter");
    check_bc(l, x, type);
    check_ku(l, x, type);
    check_kids(l, x, type, have_point ? point : NULL);
    check_dn(l, x, type);
    for (int i = 0; i < X509_get_ext_count(x); i++) {
        X509_EXTENSION *e = X509_get_ext(x, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
        if (X509_EXTENSION_get_critical(e) && nid != NID_basic_constraints && nid != NID_key_usage &&
            !X509_supported_extension(e))
            add(l, "unknown critical extension (fails chain validation)");
    }
    if (type == MP_PAA) {
        if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) != 0) {
            add(l, "PAA must be self-signed (issuer = subject)");
        } else {
            EVP_PKEY *pk = X509_get0_pubkey(x);
            if (pk == NULL || X509_verify(x, pk) != 1) add(l, "PAA self-signature does not verify");
        }
    }
    int der = i2d_X509(x, NULL);
    if (der > MP_MAX_CERT_DER) add(l, "DER size %d bytes exceeds %d", der, MP_MAX_CERT_DER);
    return l->count;
}
