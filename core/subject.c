/* subject.c - full PAA/PAI subjects (see subject.h). */
#include "subject.h"

#include <stdio.h>
#include <string.h>

#include <openssl/objects.h>

#define OID_VID "1.3.6.1.4.1.37244.2.1"
#define OID_PID "1.3.6.1.4.1.37244.2.2"

typedef struct attr_rule {
    const char *key, *alt;
    int nid;
    size_t max;
    int printable;
} attr_rule;

/* X.520 upper bounds (RFC 5280 appendix A). */
static const attr_rule rules[] = {
    {"C", "countryName", NID_countryName, 2, 1},
    {"ST", "stateOrProvinceName", NID_stateOrProvinceName, 128, 0},
    {"L", "localityName", NID_localityName, 128, 0},
    {"O", "organizationName", NID_organizationName, 64, 0},
    {"OU", "organizationalUnitName", NID_organizationalUnitName, 64, 0},
    {"CN", "commonName", NID_commonName, 64, 0},
    {"serialNumber", "SERIALNUMBER", NID_serialNumber, 64, 1},
};

static const attr_rule *rule_by_nid(int nid)
{
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        if (rules[i].nid == nid) return &rules[i];
    }
    return NULL;
}

static const attr_rule *rule_by_key(const char *k, size_t len)
{
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        if ((strlen(rules[i].key) == len && memcmp(rules[i].key, k, len) == 0) ||
            (strlen(rules[i].alt) == len && memcmp(rules[i].alt, k, len) == 0)) {
            return &rules[i];
        }
    }
    return NULL;
}

static int printable_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           strchr(" '()+,-./:=?", c) != NULL;
}

const char *mp_subject_attr_problem(int nid, const char *v, size_t len)
{
    const attr_rule *r = rule_by_nid(nid);
    if (r == NULL) {
        return "attribute not allowed (only C, ST, L, O, OU, CN, serialNumber, matter-vid, matter-pid)";
    }
    if (len == 0) {
        return "empty value";
    }
    if (memchr(v, 0, len) != NULL) {
        return "value holds a NUL character";
    }
    if (nid == NID_countryName) {
        if (len != 2 || v[0] < 'A' || v[0] > 'Z' || v[1] < 'A' || v[1] > 'Z') {
            return "must be a two-letter uppercase ISO 3166 code";
        }
        return NULL;
    }
    if (len > r->max) {
        return r->max == 64 ? "longer than 64 characters" : "longer than 128 characters";
    }
    for (size_t i = 0; r->printable && i < len; i++) {
        if (!printable_char((unsigned char)v[i])) {
            return "holds a character PrintableString cannot carry";
        }
    }
    return NULL;
}

static int add_attr(mp_subject *s, const attr_rule *r, const char *v, size_t len)
{
    const char *why;
    if (s->count >= MP_SUBJ_MAX) {
        return mp_err(MP_ERR_INVALID, "--subject: more than %d attributes", MP_SUBJ_MAX);
    }
    if ((why = mp_subject_attr_problem(r->nid, v, len)) != NULL) {
        return mp_err(MP_ERR_INVALID, "--subject: %s: %s", r->key, why);
    }
    if (r->nid == NID_commonName) {
        if (s->cn_index >= 0) {
            return mp_err(MP_ERR_INVALID, "--subject: more than one CN (Matter allows exactly one)");
        }
        s->cn_index = s->count;
    }
    s->nid[s->count] = r->nid;
    memcpy(s->value[s->count], v, len);
    s->value[s->count][len] = 0;
    s->count++;
    return MP_OK;
}

int mp_subject_cn(const char *cn, mp_subject *out)
{
    memset(out, 0, sizeof(*out));
    out->cn_index = -1;
    return add_attr(out, rule_by_nid(NID_commonName), cn, strlen(cn));
}

/* One "K=V" element ending at an unescaped '/' or the end. */
static int parse_one(mp_subject *s, const char **pp)
{
    const char *p = *pp, *eq = strchr(p, '=');
    char v[256];
    size_t n = 0;
    if (eq == NULL || eq == p) {
        return mp_err(MP_ERR_INVALID, "--subject: expected KEY=VALUE at '%.40s'", p);
    }
    const attr_rule *r = rule_by_key(p, (size_t)(eq - p));
    if (r == NULL) {
        return mp_err(MP_ERR_INVALID, "--subject: attribute '%.*s' not allowed (C, ST, L, O, OU, CN, serialNumber; VID/PID come from --vid/--pid)",
                      (int)(eq - p > 40 ? 40 : eq - p), p);
    }
    for (p = eq + 1; *p != 0 && *p != '/'; p++) {
        if (*p == '\\' && p[1] != 0) p++;
        if (n + 1 >= sizeof(v)) {
            return mp_err(MP_ERR_INVALID, "--subject: %s: value too long", r->key);
        }
        v[n++] = *p;
    }
    *pp = p;
    return add_attr(s, r, v, n);
}

int mp_subject_parse(const char *text, mp_subject *out)
{
    memset(out, 0, sizeof(*out));
    out->cn_index = -1;
    if (text == NULL || text[0] != '/') {
        return mp_err(MP_ERR_INVALID, "--subject: must start with '/' (OpenSSL syntax, e.g. \"/C=NL/O=Acme Inc/CN=Acme PAA\")");
    }
    const char *p = text;
    while (*p == '/') {
        p++;
        if (*p == 0) break; /* a trailing slash */
        int rc = parse_one(out, &p);
        if (rc != MP_OK) return rc;
    }
    if (out->cn_index < 0) {
        return mp_err(MP_ERR_INVALID, "--subject: a CN is required (Matter: exactly one)");
    }
    return MP_OK;
}

const char *mp_subject_get0_cn(const mp_subject *s)
{
    return s->cn_index >= 0 ? s->value[s->cn_index] : "";
}

static int is_vidpid(const ASN1_OBJECT *o)
{
    char oid[64];
    OBJ_obj2txt(oid, sizeof(oid), o, 1);
    return strcmp(oid, OID_VID) == 0 || strcmp(oid, OID_PID) == 0;
}

int mp_subject_from_name(const X509_NAME *n, mp_subject *out)
{
    mp_subject tmp;
    mp_subject *s = out != NULL ? out : &tmp;
    memset(s, 0, sizeof(*s));
    s->cn_index = -1;
    for (int i = 0; i < X509_NAME_entry_count(n); i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(n, i);
        const ASN1_OBJECT *o = X509_NAME_ENTRY_get_object(e);
        const ASN1_STRING *d = X509_NAME_ENTRY_get_data(e);
        if (is_vidpid(o)) continue;
        int nid = OBJ_obj2nid(o);
        const attr_rule *r = rule_by_nid(nid);
        char oid[64];
        OBJ_obj2txt(oid, sizeof(oid), o, 0);
        const char *why = mp_subject_attr_problem(nid, (const char *)ASN1_STRING_get0_data(d),
                                                  (size_t)ASN1_STRING_length(d));
        if (why != NULL) {
            return mp_err(MP_ERR_PROFILE, "subject attribute %s: %s", r ? r->key : oid, why);
        }
        if (nid == NID_commonName && s->cn_index >= 0) {
            return mp_err(MP_ERR_PROFILE, "the subject must have exactly one CN");
        }
        if (s->count >= MP_SUBJ_MAX) {
            return mp_err(MP_ERR_PROFILE, "the subject has more than %d attributes", MP_SUBJ_MAX);
        }
        if (nid == NID_commonName) s->cn_index = s->count;
        s->nid[s->count] = nid;
        memcpy(s->value[s->count], ASN1_STRING_get0_data(d), (size_t)ASN1_STRING_length(d));
        s->value[s->count][ASN1_STRING_length(d)] = 0;
        s->count++;
    }
    if (s->cn_index < 0) {
        return mp_err(MP_ERR_PROFILE, "the subject must have exactly one CN");
    }
    return MP_OK;
}

int mp_subject_add(const mp_subject *s, X509_NAME *n)
{
    for (int i = 0; i < s->count; i++) {
        const attr_rule *r = rule_by_nid(s->nid[i]);
        int type = r != NULL && r->printable ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING;
        if (X509_NAME_add_entry_by_NID(n, s->nid[i], type, (const unsigned char *)s->value[i], -1, -1, 0) != 1) {
            return 0;
        }
    }
    return 1;
}
