/* product.c - see product.h. */
#include "product.h"

#include <string.h>

#include "util.h"

int mp_json_uint(const char *where, json_t *obj, const char *key, uint64_t min, uint64_t max,
                 int required, uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    uint64_t n = 0;
    if (v == NULL || json_is_null(v)) {
        return required ? mp_err(MP_ERR_INVALID, "%s: field '%s' is required", where, key) : MP_OK;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        n = (uint64_t)json_integer_value(v);
    } else if (!json_is_string(v) || mp_parse_uint(json_string_value(v), UINT64_MAX, &n) != MP_OK) {
        return mp_err(MP_ERR_INVALID, "%s: field '%s' must be a non-negative integer (number, or string \"0x...\" for hex)", where, key);
    }
    if (n < min || n > max) {
        return mp_err(MP_ERR_INVALID, "%s: field '%s' is %llu; expected %llu..%llu", where, key,
                      (unsigned long long)n, (unsigned long long)min, (unsigned long long)max);
    }
    *out = n;
    return MP_OK;
}

int mp_json_str(const char *where, json_t *obj, const char *key, size_t minlen, size_t maxlen,
                int required, const char **out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        return required ? mp_err(MP_ERR_INVALID, "%s: field '%s' is required", where, key) : MP_OK;
    }
    if (!json_is_string(v)) {
        return mp_err(MP_ERR_INVALID, "%s: field '%s' must be a string", where, key);
    }
    size_t n = json_string_length(v);
    if (n < minlen || n > maxlen || strlen(json_string_value(v)) != n) {
        return mp_err(MP_ERR_INVALID, "%s: field '%s' must be %zu..%zu characters (is %zu)", where, key, minlen, maxlen, n);
    }
    *out = json_string_value(v);
    return MP_OK;
}

int mp_json_known(const char *where, json_t *obj, const char *const *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        int ok = 0;
        for (const char *const *p = keys; *p != NULL; p++) {
            if (strcmp(*p, k) == 0) ok = 1;
        }
        if (!ok) {
            return mp_err(MP_ERR_INVALID, "%s: unknown field '%s'", where, k);
        }
    }
    return MP_OK;
}

static int word_or_number(const char *where, json_t *o, const char *key, const char *const *words,
                          int max, int *out)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return MP_OK;
    }
    if (json_is_string(v)) {
        for (int i = 0; words[i] != NULL; i++) {
            if (strcmp(words[i], json_string_value(v)) == 0) {
                *out = i;
                return MP_OK;
            }
        }
    }
    uint64_t n;
    if (json_is_string(v) && mp_parse_uint(json_string_value(v), (uint64_t)max, &n) == MP_OK) {
        *out = (int)n;
        return MP_OK;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= max) {
        *out = (int)json_integer_value(v);
        return MP_OK;
    }
    char list[512] = "";
    for (int i = 0; words[i] != NULL; i++) {
        strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
        strncat(list, words[i], sizeof(list) - strlen(list) - 1);
    }
    return mp_err(MP_ERR_INVALID, "%s: field '%s' must be one of %s (or 0..%d)", where, key, list, max);
}

static int discovery(const char *where, json_t *o, uint8_t *out)
{
    static const struct { const char *w; uint8_t bit; } names[] = {
        {"soft-ap", MP_DISC_SOFTAP}, {"ble", MP_DISC_BLE}, {"on-network", MP_DISC_ON_NETWORK},
        {"wifi-paf", MP_DISC_WIFI_PAF}, {"nfc", MP_DISC_NFC},
    };
    json_t *v = json_object_get(o, "discovery_capabilities");
    if (v == NULL) {
        return mp_err(MP_ERR_INVALID, "%s: field 'discovery_capabilities' is required (e.g. [\"ble\"])", where);
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        *out = 0;
        json_array_foreach(v, i, e) {
            size_t j, n = sizeof(names) / sizeof(names[0]);
            for (j = 0; j < n; j++) {
                if (json_is_string(e) && strcmp(json_string_value(e), names[j].w) == 0) break;
            }
            if (j == n) {
                return mp_err(MP_ERR_INVALID, "%s: discovery_capabilities[%zu] must be soft-ap, ble, on-network, wifi-paf or nfc", where, i);
            }
            *out |= names[j].bit;
        }
    } else {
        uint64_t n;
        int rc = mp_json_uint(where, o, "discovery_capabilities", 1, 0x1F, 1, &n);
        if (rc != MP_OK) return rc;
        *out = (uint8_t)n;
    }
    if (*out == 0) {
        return mp_err(MP_ERR_INVALID, "%s: discovery_capabilities must name at least one transport", where);
    }
    return MP_OK;
}

static const char *const known[] = {
    "vendor_id", "vendor_name", "product_id", "product_name", "product_label", "part_number",
    "product_url", "hardware_version", "hardware_version_string", "device_type_id",
    "commissioning_flow", "discovery_capabilities", "product_finish", "product_color",
    "iterations", "cd", "factory_data", "dcl", "comment", NULL,
};

#define NSECTIONS 2
static struct {
    const char *name;
    mp_product_section_fn fn;
} sections[NSECTIONS] = {{"cd", NULL}, {"dcl", NULL}};

void mp_product_section_check(const char *name, mp_product_section_fn fn)
{
    for (int i = 0; i < NSECTIONS; i++) {
        if (strcmp(sections[i].name, name) == 0) sections[i].fn = fn;
    }
}

int mp_product_load(const char *path, mp_product *p)
{
    static const char *const flows[] = {"standard", "user-intent", "custom", NULL};
    static const char *const finishes[] = {"other", "matte", "satin", "polished", "rugged", "fabric", NULL};
    static const char *const colors[] = {"black", "navy", "green", "teal", "maroon", "purple", "olive",
        "gray", "blue", "lime", "aqua", "red", "fuchsia", "yellow", "white", "nickel", "chrome",
        "brass", "copper", "silver", "gold", NULL};
    json_error_t jerr;
    uint64_t n;
    int rc;
    memset(p, 0, sizeof(*p));
    p->path = path;
    p->product_finish = p->product_color = -1;
    p->json = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (p->json == NULL) {
        return mp_err(MP_ERR_INVALID, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    }
    json_t *o = p->json;
    if (!json_is_object(o)) {
        rc = mp_err(MP_ERR_INVALID, "%s: the product description must be a JSON object", path);
        goto fail;
    }
    p->iterations = 10000;
    p->product_label = p->part_number = p->product_url = "";
    if ((rc = mp_json_known(path, o, known)) != MP_OK ||
        (rc = mp_json_uint(path, o, "vendor_id", 1, 0xFFF4, 1, &n)) != MP_OK) goto fail;
    p->vendor_id = (uint16_t)n;
    if ((rc = mp_json_uint(path, o, "product_id", 1, 0xFFFF, 1, &n)) != MP_OK) goto fail;
    p->product_id = (uint16_t)n;
    if ((rc = mp_json_str(path, o, "vendor_name", 1, 32, 1, &p->vendor_name)) != MP_OK ||
        (rc = mp_json_str(path, o, "product_name", 1, 32, 1, &p->product_name)) != MP_OK ||
        (rc = mp_json_str(path, o, "product_label", 0, 64, 0, &p->product_label)) != MP_OK ||
        (rc = mp_json_str(path, o, "part_number", 0, 32, 0, &p->part_number)) != MP_OK ||
        (rc = mp_json_str(path, o, "product_url", 0, 256, 0, &p->product_url)) != MP_OK ||
        (rc = mp_json_str(path, o, "hardware_version_string", 1, 64, 1, &p->hardware_version_string)) != MP_OK)
        goto fail;
    if (*p->product_url && strncmp(p->product_url, "https://", 8) != 0) {
        rc = mp_err(MP_ERR_INVALID, "%s: field 'product_url' must start with https://", path);
        goto fail;
    }
    if ((rc = mp_json_uint(path, o, "hardware_version", 0, 0xFFFF, 1, &n)) != MP_OK) goto fail;
    p->hardware_version = (uint16_t)n;
    if ((rc = mp_json_uint(path, o, "device_type_id", 0, 0x7FFFFFFE, 1, &n)) != MP_OK) goto fail;
    p->device_type_id = (uint32_t)n;
    n = p->iterations;
    if ((rc = mp_json_uint(path, o, "iterations", 1000, 100000, 0, &n)) != MP_OK) goto fail;
    p->iterations = (uint32_t)n;
    if ((rc = word_or_number(path, o, "commissioning_flow", flows, 2, &p->commissioning_flow)) != MP_OK ||
        (rc = word_or_number(path, o, "product_finish", finishes, 5, &p->product_finish)) != MP_OK ||
        (rc = word_or_number(path, o, "product_color", colors, 20, &p->product_color)) != MP_OK ||
        (rc = discovery(path, o, &p->discovery_caps)) != MP_OK)
        goto fail;
    if (json_object_get(o, "factory_data") != NULL) {
        rc = mp_err(MP_ERR_INVALID, "%s: section 'factory_data' is not read by any command (the SPAKE2+ iteration count is the "
                    "top-level 'iterations'; everything else is an option of factory-data build): remove it", path);
        goto fail;
    }
    for (int i = 0; i < NSECTIONS; i++) {
        json_t *sec = json_object_get(o, sections[i].name);
        if (sec == NULL) continue;
        if (sections[i].fn == NULL) {
            rc = mp_err(MP_ERR_INVALID, "%s: section '%s' cannot be checked by this program; refusing it", path, sections[i].name);
            goto fail;
        }
        if ((rc = sections[i].fn(path, sec)) != MP_OK) goto fail;
    }
    return MP_OK;
fail:
    mp_product_free(p);
    return rc;
}

void mp_product_free(mp_product *p)
{
    json_decref(p->json);
    p->json = NULL;
}
