/*
 * va_revset.c - load a revocation-set JSON (section 7.3): an array of
 * {type "revocation_set", issuer_subject_key_id (40 hex), issuer_name
 * (base64 DER Name), revoked_serial_numbers [hex], crl_signer_cert (base64
 * DER), crl_signer_delegator (optional)}. Errors name the file, entry and
 * field.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "util.h"
#include "va_int.h"

/* Base64 (no line breaks) -> malloc'd bytes; -1 when not base64. */
static long unbase64(const char *s, uint8_t **out)
{
    size_t n = strlen(s);
    if (n == 0 || n % 4 != 0 || n > (1u << 20)) return -1;
    uint8_t *b = malloc(n / 4 * 3 + 1);
    if (b == NULL) return -1;
    int len = EVP_DecodeBlock(b, (const unsigned char *)s, (int)n);
    if (len < 0) {
        free(b);
        return -1;
    }
    len -= (s[n - 1] == '=') + (s[n - 2] == '=');
    *out = b;
    return len;
}

static int field_str(const char *file, size_t i, json_t *o, const char *key, int optional, const char **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    /* The SDK's generator writes an absent delegator as null. */
    if ((v == NULL || json_is_null(v)) && optional) return MP_OK;
    if (!json_is_string(v)) {
        return mp_err(MP_ERR_INVALID, "%s: entry %zu: field '%s' must be a string", file, i, key);
    }
    *out = json_string_value(v);
    return MP_OK;
}

static int cert_b64(const char *file, size_t i, const char *key, const char *s, X509 **out)
{
    uint8_t *der = NULL;
    long n = s ? unbase64(s, &der) : 0;
    const uint8_t *p = der;
    *out = NULL;
    if (s == NULL) return MP_OK;
    *out = n > 0 ? d2i_X509(NULL, &p, n) : NULL;
    free(der);
    ERR_clear_error();
    return *out ? MP_OK : mp_err(MP_ERR_INVALID, "%s: entry %zu: '%s' is not a base64 DER certificate", file, i, key);
}

static int serials(const char *file, size_t i, json_t *o, mp_va_revset *e)
{
    json_t *a = json_object_get(o, "revoked_serial_numbers");
    size_t k;
    json_t *v;
    if (!json_is_array(a)) {
        return mp_err(MP_ERR_INVALID, "%s: entry %zu: 'revoked_serial_numbers' must be an array of hex strings", file, i);
    }
    e->serials = calloc(json_array_size(a) + 1, sizeof(*e->serials));
    if (e->serials == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    json_array_foreach(a, k, v) {
        const char *s = json_string_value(v);
        size_t n = s ? strlen(s) : 0;
        uint8_t tmp[20];
        if (n == 0 || n > 40 || n % 2 || mp_unhex(s, tmp, sizeof(tmp)) < 0) {
            return mp_err(MP_ERR_INVALID, "%s: entry %zu: revoked_serial_numbers[%zu] must be even-length hex of at most 20 bytes", file, i, k);
        }
        snprintf(e->serials[k], 41, "%s", s);
    }
    e->n_serials = json_array_size(a);
    return MP_OK;
}

static int entry(const char *file, size_t i, json_t *o, mp_va_revset *e)
{
    const char *type, *skid, *name, *signer, *deleg;
    long n;
    int rc;
    if (!json_is_object(o)) return mp_err(MP_ERR_INVALID, "%s: entry %zu must be an object", file, i);
    if ((rc = field_str(file, i, o, "type", 0, &type)) != MP_OK || (rc = field_str(file, i, o, "issuer_subject_key_id", 0, &skid)) != MP_OK ||
        (rc = field_str(file, i, o, "issuer_name", 0, &name)) != MP_OK || (rc = field_str(file, i, o, "crl_signer_cert", 0, &signer)) != MP_OK ||
        (rc = field_str(file, i, o, "crl_signer_delegator", 1, &deleg)) != MP_OK) {
        return rc;
    }
    if (strcmp(type, "revocation_set") != 0) {
        return mp_err(MP_ERR_INVALID, "%s: entry %zu: 'type' must be \"revocation_set\"", file, i);
    }
    if (strlen(skid) != 40 || mp_unhex(skid, e->issuer_skid, 20) != 20) {
        return mp_err(MP_ERR_INVALID, "%s: entry %zu: 'issuer_subject_key_id' must be 40 hex characters", file, i);
    }
    if ((n = unbase64(name, &e->issuer_name)) <= 0) {
        return mp_err(MP_ERR_INVALID, "%s: entry %zu: 'issuer_name' is not base64", file, i);
    }
    e->issuer_name_len = (size_t)n;
    if ((rc = serials(file, i, o, e)) != MP_OK || (rc = cert_b64(file, i, "crl_signer_cert", signer, &e->signer)) != MP_OK ||
        (rc = cert_b64(file, i, "crl_signer_delegator", deleg, &e->delegator)) != MP_OK) {
        return rc;
    }
    return MP_OK;
}

int mp_va_load_revset(const char *path, mp_va_input *in)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    size_t i;
    json_t *o;
    int rc = MP_OK;
    if (root == NULL) {
        return mp_err(MP_ERR_INVALID, "%s: line %d: %s", path, je.line, je.text);
    }
    if (!json_is_array(root)) {
        json_decref(root);
        return mp_err(MP_ERR_INVALID, "%s: a revocation set is a JSON array of entries", path);
    }
    in->revset = calloc(json_array_size(root) + 1, sizeof(*in->revset));
    if (in->revset == NULL) rc = mp_err(MP_ERR_GENERAL, "out of memory");
    json_array_foreach(root, i, o) {
        if (rc != MP_OK) break;
        in->n_revset = i + 1;
        rc = entry(path, i, o, &in->revset[i]);
    }
    in->has_revocation = 1;
    json_decref(root);
    return rc;
}

void mp_va_input_free(mp_va_input *in)
{
    free(in->pai.der);
    free(in->dac.der);
    free(in->cd.der);
    for (size_t i = 0; i < in->n_paa; i++) free(in->paa[i].der);
    for (size_t i = 0; i < in->n_cd_signer; i++) free(in->cd_signer[i].der);
    for (size_t i = 0; i < in->n_crl; i++) free(in->crl[i].der);
    for (size_t i = 0; i < in->n_crl_signer; i++) free(in->crl_signer[i].der);
    for (size_t i = 0; i < in->n_revset; i++) {
        free(in->revset[i].issuer_name);
        free(in->revset[i].serials);
        X509_free(in->revset[i].signer);
        X509_free(in->revset[i].delegator);
    }
    free(in->revset);
    memset(in, 0, sizeof(*in));
}
