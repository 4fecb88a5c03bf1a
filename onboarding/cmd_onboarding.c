/* cmd_onboarding.c - `onboarding encode` and `onboarding decode`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "src/commands.h"
#include "factory-data/creds.h"
#include "factory-data/onboarding.h"
#include "opts.h"
#include "b64.h"
#include "factory-data/qr_ext.h"
#include "util.h"

enum { O_VID = 1, O_PID, O_DISC, O_PASSCODE, O_FLOW, O_CAPS, O_JSON, O_SERIAL, O_XITER, O_XSALT, O_XDEV, O_XTIMEOUT, O_XVENDOR };

static const char *const flow_names[] = {"standard", "user-intent", "custom", "reserved"};
static const char *const cap_names[] = {"soft-ap", "ble", "on-network", "wifi-paf", "nfc", "thread"};

static const mp_opt encode_opts[] = {
    {"vid", O_VID, OT_HEX | OT_REQUIRED, "HEX", "vendor ID, hex 0 (unspecified) or 1..FFF4"},
    {"pid", O_PID, OT_HEX | OT_REQUIRED, "HEX", "product ID, hex (0 only with VID 0)"},
    {"discriminator", O_DISC, OT_UINT | OT_REQUIRED, "N", "discriminator 0..4095"},
    {"passcode", O_PASSCODE, OT_UINT | OT_REQUIRED, "N", "setup passcode 1..99999998, not a trivial one"},
    {"flow", O_FLOW, OT_ENUM, "standard|user-intent|custom", "commissioning flow (default standard)"},
    {"caps", O_CAPS, OT_UINT | OT_REQUIRED, "N", "discovery capabilities bits: 1 SoftAP, 2 BLE, 4 on-network, 8 Wi-Fi PAF, 16 NFC, 32 Thread"},
    {"serial-number", O_SERIAL, OT_STR, "S", "TLV extension: serial number (1..32 characters)"},
    {"pbkdf-iterations", O_XITER, OT_UINT, "N", "TLV extension: PBKDF iterations 1000..100000"},
    {"pbkdf-salt", O_XSALT, OT_STR, "BASE64", "TLV extension: PBKDF salt, 16..32 bytes"},
    {"number-of-devices", O_XDEV, OT_UINT, "N", "TLV extension: number of devices 1..255"},
    {"commissioning-timeout", O_XTIMEOUT, OT_UINT, "SECONDS", "TLV extension: commissioning timeout 1..65535"},
    {"vendor-tag", O_XVENDOR, OT_STR, "TAG=VALUE", "TLV extension: vendor tag 0x80..0xFF with a string, or #N for an integer (repeatable)"},
    {"json", O_JSON, OT_FLAG, NULL, "print JSON"},
    {"help", OPT_HELP, OT_FLAG, NULL, "show this help"},
    {NULL, 0, 0, NULL, NULL},
};

static int vendor_tag(mp_qr_ext *x, const char *val)
{
    uint64_t tag, num;
    const char *eq = strchr(val, '=');
    char t[8];
    if (x->n_vendor >= MP_QR_EXT_MAX_VENDOR) {
        return mp_err(MP_ERR_USAGE, "--vendor-tag: at most %d", MP_QR_EXT_MAX_VENDOR);
    }
    if (eq == NULL || (size_t)(eq - val) >= sizeof(t)) {
        return mp_err(MP_ERR_USAGE, "--vendor-tag '%s': expected TAG=VALUE, e.g. 0x80=ABC or 0x81=#42", val);
    }
    snprintf(t, sizeof(t), "%.*s", (int)(eq - val), val);
    if (mp_parse_uint(t, 0xFF, &tag) != MP_OK || tag < 0x80) {
        return mp_err(MP_ERR_INVALID, "--vendor-tag '%s': the tag must be 0x80..0xFF", val);
    }
    x->vendor[x->n_vendor].tag = (uint8_t)tag;
    if (eq[1] == '#') {
        if (mp_parse_uint(eq + 2, 0xFFFFFFFF, &num) != MP_OK) {
            return mp_err(MP_ERR_INVALID, "--vendor-tag '%s': #N must be a 32-bit number", val);
        }
        x->vendor[x->n_vendor].num = (uint32_t)num;
    } else {
        x->vendor[x->n_vendor].str = eq + 1;
    }
    x->n_vendor++;
    return MP_OK;
}

/* Options of the QR TLV extension; returns 1 when handled. */
static int ext_opt(int id, const char *val, mp_qr_ext *x, uint8_t salt[35], int *rc)
{
    long n;
    *rc = MP_OK;
    switch (id) {
    case O_SERIAL: x->serial = val; return 1;
    case O_XITER: x->iterations = (uint32_t)(mp_opt_uint(val) > 0xFFFFFFFF ? 1 : mp_opt_uint(val)); return 1;
    case O_XDEV: x->devices = (uint16_t)(mp_opt_uint(val) > 256 ? 256 : mp_opt_uint(val)); return 1;
    case O_XTIMEOUT: x->timeout = (uint32_t)(mp_opt_uint(val) > 65536 ? 65536 : mp_opt_uint(val)); return 1;
    case O_XVENDOR: *rc = vendor_tag(x, val); return 1;
    case O_XSALT:
        n = mp_b64_decode(val, strlen(val), salt, 35);
        if (n < 0) *rc = mp_err(MP_ERR_INVALID, "--pbkdf-salt: not base64");
        x->salt = salt;
        x->salt_len = n < 0 ? 0 : (size_t)n;
        return 1;
    default: return 0;
    }
}

static int flow_of(const char *s)
{
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, flow_names[i]) == 0) return i;
    }
    return 0;
}

int onboarding_encode_main(mp_cmd *mc, int argc, char **argv)
{
    (void)mc;
    mp_optparse p;
    mp_payload pl = {0};
    const char *val;
    int id, json = 0, rc, has_ext = 0;
    char qr[MP_QR_MAX], manual[MP_MANUAL_MAX];
    mp_qr_ext ext = {0};
    uint8_t salt[35];
    mp_opt_init(&p, argc, argv, encode_opts, "onboarding encode",
                "--vid HEX --pid HEX --discriminator N --passcode N [--flow F] --caps N [--serial-number S ...] [--json]",
                "Prints the QR code text (MT: + Base38, with the optional TLV extension when any\n"
                "of its options is given) and the manual pairing code (11 digits for the\n"
                "standard flow, 21 with VID/PID otherwise).");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        uint64_t n = id == O_VID || id == O_PID ? mp_opt_hex(val) : 0;
        switch (id) {
        case OPT_HELP: return MP_OK;
        case O_VID: if (n > 0xFFFF) return mp_err(MP_ERR_INVALID, "--vid: above FFFF"); pl.vendor_id = (uint16_t)n; break;
        case O_PID: if (n > 0xFFFF) return mp_err(MP_ERR_INVALID, "--pid: above FFFF"); pl.product_id = (uint16_t)n; break;
        case O_DISC: n = mp_opt_uint(val); if (n > MP_DISC_MAX) return mp_err(MP_ERR_INVALID, "--discriminator: %s; expected 0..4095", val); pl.discriminator = (uint16_t)n; break;
        case O_PASSCODE: n = mp_opt_uint(val); if ((rc = mp_passcode_check("--passcode", n)) != MP_OK) return rc; pl.passcode = (uint32_t)n; break;
        case O_FLOW: pl.flow = (uint8_t)flow_of(val); break;
        case O_CAPS: n = mp_opt_uint(val); if (n > 0xFF) return mp_err(MP_ERR_INVALID, "--caps: %s; expected 1..63", val); pl.caps = (uint8_t)n; break;
        case O_JSON: json = 1; break;
        default:
            if (!ext_opt(id, val, &ext, salt, &rc)) return mp_err(MP_ERR_USAGE, "onboarding encode: unexpected argument %s", mp_opt_shown(val));
            if (rc != MP_OK) return rc;
            has_ext = 1;
        }
    }
    if (id < 0) return -id;
    if (has_ext && (rc = mp_qr_ext_encode(&ext, pl.tlv, sizeof(pl.tlv), &pl.tlv_len)) != MP_OK) return rc;
    if ((rc = mp_qr_encode(&pl, qr)) != MP_OK || (rc = mp_manual_encode(&pl, manual)) != MP_OK) return rc;
    if (json) {
        printf("{\"qr\": \"%s\", \"manual\": \"%s\"}\n", qr, manual);
    } else {
        printf("qr: %s\nmanual: %s\n", qr, manual);
    }
    return MP_OK;
}

/* ---- decode ------------------------------------------------------------- */

static json_t *payload_json(const mp_payload *p, int qr)
{
    json_t *j = json_object(), *caps = json_array();
    json_object_set_new(j, "type", json_string(qr ? "qr" : "manual"));
    json_object_set_new(j, "version", json_integer(p->version));
    if (p->has_vid_pid) {
        json_object_set_new(j, "vendor_id", json_integer(p->vendor_id));
        json_object_set_new(j, "product_id", json_integer(p->product_id));
    }
    json_object_set_new(j, "commissioning_flow", json_string(qr ? flow_names[p->flow & 3] : p->flow ? "user-intent or custom" : "standard"));
    if (qr) {
        for (int b = 0; b < 6; b++) {
            if (p->caps & (1 << b)) json_array_append_new(caps, json_string(cap_names[b]));
        }
        json_object_set_new(j, "discovery_capabilities", caps);
        json_object_set_new(j, "discovery_capabilities_bits", json_integer(p->caps));
        json_object_set_new(j, "discriminator", json_integer(p->discriminator));
    } else {
        json_decref(caps);
        json_object_set_new(j, "short_discriminator", json_integer(p->discriminator >> 8));
        json_object_set_new(j, "discriminator_range", json_integer(p->discriminator));
    }
    json_object_set_new(j, "passcode", json_integer(p->passcode));
    if (p->tlv_len) {
        char hex[2 * sizeof(p->tlv) + 1];
        json_t *ext = NULL;
        mp_hex(p->tlv, p->tlv_len, hex, 0);
        json_object_set_new(j, "tlv_extension_hex", json_string(hex));
        if (mp_qr_ext_decode(p->tlv, p->tlv_len, &ext) == MP_OK) {
            json_object_set_new(j, "tlv_extension", ext);
        } else {
            json_object_set_new(j, "tlv_extension_error", json_string(mp_err_msg()));
        }
    }
    return j;
}

static void print_text(json_t *j)
{
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
        if (json_is_string(v)) printf("%s: %s\n", k, json_string_value(v));
        else if (json_is_integer(v) && (strcmp(k, "vendor_id") == 0 || strcmp(k, "product_id") == 0))
            printf("%s: 0x%04llX\n", k, (unsigned long long)json_integer_value(v));
        else {
            char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            printf("%s: %s\n", k, s ? s : "");
            free(s);
        }
    }
}

static const mp_opt decode_opts[] = {
    {"json", O_JSON, OT_FLAG, NULL, "print JSON"},
    {"help", OPT_HELP, OT_FLAG, NULL, "show this help"},
    {NULL, 0, 0, NULL, NULL},
};

static int decode_all(const char *code, json_t *arr)
{
    mp_payload pl;
    int rc;
    if (strncmp(code, "MT:", 3) != 0 && strpbrk(code, ":ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != NULL) {
        return mp_err(MP_ERR_INVALID, "QR code: must start with 'MT:' (a manual code has only digits)");
    }
    if (strncmp(code, "MT:", 3) != 0) {
        if ((rc = mp_manual_decode(code, &pl)) != MP_OK || (rc = mp_passcode_check("manual code", pl.passcode)) != MP_OK) return rc;
        json_array_append_new(arr, payload_json(&pl, 0));
        return MP_OK;
    }
    const char *next = NULL;
    rc = mp_qr_decode(code, &pl, &next);
    while (rc == MP_OK) {
        json_array_append_new(arr, payload_json(&pl, 1));
        if (next == NULL) break;
        rc = mp_qr_decode_body(next, &pl, &next);
    }
    return rc;
}

int onboarding_decode_main(mp_cmd *mc, int argc, char **argv)
{
    (void)mc;
    mp_optparse p;
    const char *val, *code = NULL;
    int id, json = 0;
    mp_opt_init(&p, argc, argv, decode_opts, "onboarding decode", "CODE [--json]",
                "Decodes a QR code text (MT:..., several payloads joined by '*' allowed) or a\n"
                "manual pairing code (non-digits ignored) and prints every field, the TLV\n"
                "extension decoded (and as raw hex). Invalid payloads exit 10.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id == O_JSON) json = 1;
        else if (id == OPT_POSITIONAL && code == NULL) code = val;
        else return mp_err(MP_ERR_USAGE, "onboarding decode: unexpected argument %s", mp_opt_shown(val));
    }
    if (id < 0) return -id;
    if (code == NULL) return mp_err(MP_ERR_USAGE, "onboarding decode: CODE is required");
    json_t *arr = json_array();
    int rc = decode_all(code, arr);
    if (rc == MP_OK && json) {
        char *s = json_dumps(json_array_size(arr) == 1 ? json_array_get(arr, 0) : arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s ? s : "");
        free(s);
    } else if (rc == MP_OK) {
        for (size_t i = 0; i < json_array_size(arr); i++) {
            if (i) printf("\n");
            print_text(json_array_get(arr, i));
        }
    }
    json_decref(arr);
    return rc;
}
