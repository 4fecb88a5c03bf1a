/* cd_input.c - CD fields from product.json and options (see cd_input.h). */
#include "cd_input.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lint.h"
#include "product.h"
#include "util.h"
#include "x509.h"

void mp_cd_input_init(mp_cd_input *in)
{
    memset(in, 0, sizeof(*in));
    in->cd.format_version = 1;
}

int mp_cd_input_paa(mp_cd_input *in, const char *cert_path, const char *where)
{
    X509 *x = NULL;
    mp_lint lint;
    uint8_t skid[20];
    int rc = mp_cert_load(cert_path, &x);
    if (rc != MP_OK) {
        return mp_err_ctx(rc, "%s", where);
    }
    if (mp_lint_cert(x, MP_PAA, &lint) > 0) {
        rc = mp_err(MP_ERR_PROFILE, "%s: %s is not a conforming PAA certificate: %s", where, cert_path, lint.msg[0]);
    } else if (mp_cert_skid(x, skid) != 0) {
        rc = mp_err(MP_ERR_PROFILE, "%s: %s has no 20-byte subject key identifier", where, cert_path);
    } else if (in->cd.n_paas >= MP_CD_MAX_PAAS) {
        rc = mp_err(MP_ERR_INVALID, "%s: authorized_paa_list holds at most %d PAAs", where, MP_CD_MAX_PAAS);
    }
    for (size_t i = 0; rc == MP_OK && i < in->cd.n_paas; i++) {
        if (memcmp(in->cd.authorized_paas[i], skid, 20) == 0) {
            rc = mp_err(MP_ERR_INVALID, "%s: %s is listed twice in authorized_paa_list", where, cert_path);
        }
    }
    if (rc == MP_OK) {
        memcpy(in->cd.authorized_paas[in->cd.n_paas++], skid, 20);
        in->cd.has_paa_list = 1;
        in->set |= CDI_PAAS;
    }
    X509_free(x);
    return rc;
}

static int json_elem_uint(const char *where, json_t *v, size_t i, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t n = 0;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        n = (uint64_t)json_integer_value(v);
    } else if (!json_is_string(v) || mp_parse_uint(json_string_value(v), UINT64_MAX, &n) != MP_OK) {
        return mp_err(MP_ERR_INVALID, "%s[%zu]: must be a non-negative integer (number, or string \"0x...\" for hex)", where, i);
    }
    if (n < min || n > max) {
        return mp_err(MP_ERR_INVALID, "%s[%zu]: %llu is out of range %llu..%llu", where, i,
                      (unsigned long long)n, (unsigned long long)min, (unsigned long long)max);
    }
    *out = n;
    return MP_OK;
}

static int section_pids(mp_cd_input *in, const char *path, json_t *sec)
{
    char where[600];
    json_t *a = json_object_get(sec, "product_ids"), *v;
    size_t i;
    uint64_t n = 0;
    if (a == NULL) {
        return MP_OK;
    }
    snprintf(where, sizeof(where), "%s: cd.product_ids", path);
    if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > MP_CD_MAX_PIDS) {
        return mp_err(MP_ERR_INVALID, "%s: must be an array of 1..%d product IDs", where, MP_CD_MAX_PIDS);
    }
    json_array_foreach(a, i, v) {
        int rc = json_elem_uint(where, v, i, 1, 0xFFFF, &n);
        if (rc != MP_OK) return rc;
        in->cd.product_ids[i] = (uint16_t)n;
    }
    in->cd.n_pids = json_array_size(a);
    in->set |= CDI_PIDS;
    return MP_OK;
}

/* A path in product.json names a file in its folder or below: not absolute,
 * no ".." component (a product file travels between stations; it must not
 * reach outside its own folder). */
static int safe_relative(const char *where, const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || s[0] == '/') {
        return mp_err(MP_ERR_INVALID, "%s: '%s': expected a path relative to the product file's folder", where, s);
    }
    for (const char *p = s; p != NULL; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL) {
        if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == 0)) {
            return mp_err(MP_ERR_INVALID, "%s: '%s': a '..' component leaves the product file's folder", where, s);
        }
    }
    return MP_OK;
}

static int section_paas(mp_cd_input *in, const char *path, json_t *sec)
{
    char where[600], file[4096];
    json_t *a = json_object_get(sec, "authorized_paa_certs"), *v;
    size_t i;
    if (a == NULL) {
        return MP_OK;
    }
    char *copy = strdup(path);
    const char *dir = copy ? dirname(copy) : ".";
    int rc = MP_OK;
    if (!json_is_array(a) || json_array_size(a) < 1) {
        rc = mp_err(MP_ERR_INVALID, "%s: cd.authorized_paa_certs must be an array of 1..%d PAA certificate paths", path, MP_CD_MAX_PAAS);
    }
    json_array_foreach(a, i, v) {
        if (rc != MP_OK) break;
        snprintf(where, sizeof(where), "%s: cd.authorized_paa_certs[%zu]", path, i);
        if (!json_is_string(v)) {
            rc = mp_err(MP_ERR_INVALID, "%s: must be a file path", where);
            break;
        }
        const char *s = json_string_value(v);
        if ((rc = safe_relative(where, s)) != MP_OK) break;
        if (in->check_only) {
            if (i >= MP_CD_MAX_PAAS) rc = mp_err(MP_ERR_INVALID, "%s: authorized_paa_list holds at most %d PAAs", where, MP_CD_MAX_PAAS);
            continue;
        }
        snprintf(file, sizeof(file), "%s/%s", dir, s);
        rc = mp_cd_input_paa(in, file, where);
    }
    free(copy);
    return rc;
}

static int section_uint(const char *where, json_t *sec, const char *key, uint64_t max, unsigned bit,
                        unsigned *set, uint64_t *out)
{
    json_t *v = json_object_get(sec, key);
    int rc = mp_json_uint(where, sec, key, 0, max, 0, out);
    if (rc == MP_OK && v != NULL && !json_is_null(v)) {
        *set |= bit;
    }
    return rc;
}

static int read_section(mp_cd_input *in, const char *path, json_t *sec)
{
    static const char *const keys[] = {"certificate_id", "version_number", "certification_type",
        "security_level", "security_information", "product_ids", "dac_origin_vid", "dac_origin_pid",
        "authorized_paa_certs", "comment", NULL};
    char where[600];
    const char *cid = NULL;
    uint64_t v[7] = {0};
    unsigned dummy = 0;
    mp_cd *cd = &in->cd;
    int rc;
    snprintf(where, sizeof(where), "%s: cd", path);
    if (!json_is_object(sec)) {
        return mp_err(MP_ERR_INVALID, "%s: must be an object", where);
    }
    if ((rc = mp_json_known(where, sec, keys)) != MP_OK ||
        (rc = mp_json_str(where, sec, "certificate_id", MP_CD_CERT_ID_LEN, MP_CD_CERT_ID_LEN, 0, &cid)) != MP_OK ||
        (rc = section_uint(where, sec, "version_number", 0xFFFF, CDI_VERSION, &in->set, &v[0])) != MP_OK ||
        (rc = section_uint(where, sec, "certification_type", 2, CDI_TYPE, &in->set, &v[1])) != MP_OK ||
        (rc = section_uint(where, sec, "security_level", 0, 0, &dummy, &v[2])) != MP_OK ||
        (rc = section_uint(where, sec, "security_information", 0, 0, &dummy, &v[3])) != MP_OK ||
        (rc = section_uint(where, sec, "dac_origin_vid", 0xFFF4, CDI_ORIGIN_VID, &in->set, &v[4])) != MP_OK ||
        (rc = section_uint(where, sec, "dac_origin_pid", 0xFFFF, CDI_ORIGIN_PID, &in->set, &v[5])) != MP_OK ||
        (rc = section_pids(in, path, sec)) != MP_OK || (rc = section_paas(in, path, sec)) != MP_OK) {
        return rc;
    }
    if (cid != NULL) {
        memcpy(cd->certificate_id, cid, MP_CD_CERT_ID_LEN + 1);
        in->set |= CDI_CERT_ID;
    }
    cd->version_number = (uint16_t)v[0];
    cd->certification_type = (uint8_t)v[1];
    cd->dac_origin_vid = (uint16_t)v[4];
    cd->dac_origin_pid = (uint16_t)v[5];
    return MP_OK;
}

int mp_cd_section_check(const char *path, json_t *sec)
{
    mp_cd_input in;
    mp_cd_input_init(&in);
    in.check_only = 1;
    return read_section(&in, path, sec);
}

int mp_cd_input_product(mp_cd_input *in, const char *path)
{
    mp_product p;
    int rc = mp_product_load(path, &p);
    if (rc != MP_OK) {
        return rc;
    }
    in->cd.vendor_id = p.vendor_id;
    in->cd.device_type_id = p.device_type_id;
    in->cd.product_ids[0] = p.product_id;
    in->cd.n_pids = 1;
    in->set |= CDI_VID | CDI_DEVTYPE | CDI_PIDS;
    json_t *sec = json_object_get(p.json, "cd");
    if (sec != NULL) {
        rc = read_section(in, path, sec);
    }
    mp_product_free(&p);
    return rc;
}

int mp_cd_input_finish(mp_cd_input *in)
{
    static const struct { unsigned bit; const char *what; } req[] = {
        {CDI_VID, "vendor_id (--vid)"}, {CDI_PIDS, "product IDs (--pid)"},
        {CDI_DEVTYPE, "device_type_id (--device-type-id)"}, {CDI_CERT_ID, "certificate_id (--certificate-id)"},
        {CDI_VERSION, "version_number (--version-number)"}, {CDI_TYPE, "certification_type (--certification-type)"},
    };
    for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
        if (!(in->set & req[i].bit)) {
            return mp_err(MP_ERR_USAGE, "cd create: %s is required (option or --product)", req[i].what);
        }
    }
    int o = !!(in->set & CDI_ORIGIN_VID) + !!(in->set & CDI_ORIGIN_PID);
    if (o == 1) {
        return mp_err(MP_ERR_INVALID, "dac_origin_vendor_id and dac_origin_product_id: give both or neither");
    }
    in->cd.has_dac_origin = o == 2;
    return mp_cd_validate(&in->cd);
}
