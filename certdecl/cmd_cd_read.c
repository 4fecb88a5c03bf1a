/* cmd_cd_read.c - `cd print` and `cd verify`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "src/commands.h"
#include "cd.h"
#include "cd_signer.h"
#include "keystore.h"
#include "trust.h"
#include "opts.h"
#include "util.h"

enum { O_JSON = 1, O_SIGNER_CERT, O_VID, O_PID, O_TRUST };

/* ---- cd print ------------------------------------------------------------- */

static const mp_opt print_opts[] = {
    {"json", O_JSON, OT_FLAG, NULL, "print one JSON object instead of text"},
    {"help", OPT_HELP, OT_FLAG, NULL, "show this help"},
    {NULL, 0, 0, NULL, NULL},
};

static json_t *cd_json(const mp_cd_env *env, const mp_cd *cd)
{
    char hex[65];
    json_t *o = json_object(), *pids = json_array();
    mp_hex(env->skid, env->skid_len, hex, 1);
    json_object_set_new(o, "signer_key_id", json_string(hex));
    json_object_set_new(o, "format_version", json_integer(cd->format_version));
    json_object_set_new(o, "vendor_id", json_integer(cd->vendor_id));
    for (size_t i = 0; i < cd->n_pids; i++) {
        json_array_append_new(pids, json_integer(cd->product_ids[i]));
    }
    json_object_set_new(o, "product_ids", pids);
    json_object_set_new(o, "device_type_id", json_integer(cd->device_type_id));
    json_t *id = json_string(cd->certificate_id); /* NULL when not UTF-8 */
    json_object_set_new(o, "certificate_id", id ? id : json_null());
    json_object_set_new(o, "security_level", json_integer(cd->security_level));
    json_object_set_new(o, "security_information", json_integer(cd->security_information));
    json_object_set_new(o, "version_number", json_integer(cd->version_number));
    json_object_set_new(o, "certification_type", json_integer(cd->certification_type));
    if (cd->has_dac_origin) {
        json_object_set_new(o, "dac_origin_vendor_id", json_integer(cd->dac_origin_vid));
        json_object_set_new(o, "dac_origin_product_id", json_integer(cd->dac_origin_pid));
    }
    if (cd->has_paa_list) {
        json_t *paas = json_array();
        for (size_t i = 0; i < cd->n_paas; i++) {
            mp_hex(cd->authorized_paas[i], 20, hex, 1);
            json_array_append_new(paas, json_string(hex));
        }
        json_object_set_new(o, "authorized_paa_list", paas);
    }
    return o;
}

/* certificate_id may hold any bytes in a foreign CD: print it escaped. */
static void print_id(const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch < 0x7F && ch != '\\') putchar(ch);
        else printf("\\x%02X", ch);
    }
}

static void cd_text(const mp_cd_env *env, const mp_cd *cd)
{
    char hex[65];
    mp_hex(env->skid, env->skid_len, hex, 1);
    printf("signer_key_id:        %s\n", hex);
    printf("format_version:       %u\n", cd->format_version);
    printf("vendor_id:            0x%04X\n", cd->vendor_id);
    printf("product_id_array:     %zu:", cd->n_pids);
    for (size_t i = 0; i < cd->n_pids; i++) {
        printf("%s0x%04X", i % 8 == 0 && i > 0 ? "\n                      " : " ", cd->product_ids[i]);
    }
    printf("\ndevice_type_id:       0x%04X (%u)\n", cd->device_type_id, cd->device_type_id);
    printf("certificate_id:       ");
    print_id(cd->certificate_id);
    printf("\nsecurity_level:       %u\n", cd->security_level);
    printf("security_information: %u\n", cd->security_information);
    printf("version_number:       %u (0x%04X)\n", cd->version_number, cd->version_number);
    printf("certification_type:   %u (%s)\n", cd->certification_type, mp_cd_type_name(cd->certification_type));
    if (cd->has_dac_origin) {
        printf("dac_origin_vendor_id: 0x%04X\ndac_origin_product_id: 0x%04X\n", cd->dac_origin_vid, cd->dac_origin_pid);
    }
    if (cd->has_paa_list) {
        printf("authorized_paa_list:  %zu\n", cd->n_paas);
        for (size_t i = 0; i < cd->n_paas; i++) {
            mp_hex(cd->authorized_paas[i], 20, hex, 1);
            printf("  %s\n", hex);
        }
    }
}

int cd_print_main(mp_cmd *mc, int argc, char **argv)
{
    (void)mc;
    mp_optparse p;
    const char *file = NULL, *val;
    int json = 0, id, rc;
    uint8_t *der = NULL;
    size_t der_len = 0;
    mp_cd_env env;
    mp_cd cd;
    mp_opt_init(&p, argc, argv, print_opts, "cd print", "[--json] FILE",
                "Prints the signer key ID and every field of a CD (DER, hex or base64). The\n"
                "envelope is checked strictly and the TLV decoded; the signature is not checked\n"
                "(use 'cd verify').");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id == O_JSON) json = 1;
        else if (id == OPT_POSITIONAL && file == NULL) file = val;
        else return mp_err(MP_ERR_USAGE, "cd print: unexpected argument %s", mp_opt_shown(val));
    }
    if (id < 0) return -id;
    if (file == NULL) {
        return mp_err(MP_ERR_USAGE, "cd print: FILE is required");
    }
    if ((rc = mp_cd_read_file(file, &der, &der_len, &env, &cd)) != MP_OK) {
        return rc;
    }
    if (json) {
        json_t *o = cd_json(&env, &cd);
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
        putchar('\n');
        json_decref(o);
    } else {
        cd_text(&env, &cd);
    }
    free(der);
    return MP_OK;
}

/* ---- cd verify ------------------------------------------------------------ */

static const mp_opt verify_opts[] = {
    {"signer-cert", O_SIGNER_CERT, OT_FILE, "FILE", "certificate of the CD signer, PEM or DER (required without --trust)"},
    {"trust", O_TRUST, OT_FILE, "DIR", "trust folder (CSA CD root or a test root): the signer must chain to it"},
    {"vid", O_VID, OT_HEX, "HEX", "require this vendor_id (hex)"},
    {"pid", O_PID, OT_HEX, "HEX", "require this product ID in product_id_array (hex)"},
    {"help", OPT_HELP, OT_FLAG, NULL, "show this help"},
    {NULL, 0, 0, NULL, NULL},
};

static int check_membership(const mp_cd *cd, const char *vid, const char *pid)
{
    uint16_t v;
    int rc;
    if (vid != NULL) {
        if ((rc = mp_parse_vid("--vid", vid, &v)) != MP_OK) return rc;
        if (v != cd->vendor_id) {
            return mp_err(MP_ERR_MISMATCH, "vendor_id is 0x%04X, not 0x%04X", cd->vendor_id, v);
        }
    }
    if (pid != NULL) {
        if ((rc = mp_parse_pid("--pid", pid, &v)) != MP_OK) return rc;
        for (size_t i = 0; i < cd->n_pids; i++) {
            if (cd->product_ids[i] == v) return MP_OK;
        }
        return mp_err(MP_ERR_MISMATCH, "product ID 0x%04X is not in product_id_array", v);
    }
    return MP_OK;
}

static int verify_one(const char *file, const char *signer, const char *trust, const char *vid, const char *pid)
{
    uint8_t *der = NULL, point[65], skid[20];
    size_t der_len = 0;
    mp_cd_env env;
    mp_cd cd;
    char want[41], got[65], how[160] = "";
    int rc;
    if ((signer != NULL && (rc = mp_cd_signer_load(signer, point, skid)) != MP_OK) ||
        (rc = mp_cd_read_file(file, &der, &der_len, &env, &cd)) != MP_OK) {
        return rc;
    }
    if (trust != NULL) {
        if ((rc = mp_cd_trust_signer(trust, signer, env.skid, env.skid_len, point, how, sizeof(how))) != MP_OK) {
            free(der);
            return mp_err_ctx(rc, "%s", file);
        }
        mp_skid(point, skid);
        printf("%s: CD signer %s\n", file, how);
    }
    if (env.skid_len != 20 || memcmp(env.skid, skid, 20) != 0) {
        mp_hex(env.skid, env.skid_len, got, 1);
        mp_hex(skid, 20, want, 1);
        rc = mp_err(MP_ERR_MISMATCH, "%s: signer key ID %s is not the key of %s (%s)", file, got, signer, want);
    } else if ((rc = mp_cd_env_verify(&env, point)) != MP_OK ||
               (rc = mp_cd_validate(&cd)) != MP_OK || (rc = check_membership(&cd, vid, pid)) != MP_OK) {
        mp_err_ctx(rc, "%s", file);
    }
    free(der);
    return rc;
}

int cd_verify_main(mp_cmd *mc, int argc, char **argv)
{
    (void)mc;
    mp_optparse p;
    const char *file = NULL, *signer = NULL, *trust = NULL, *vid = NULL, *pid = NULL, *val;
    int id, rc;
    mp_opt_init(&p, argc, argv, verify_opts, "cd verify", "FILE (--signer-cert C | --trust DIR [--signer-cert C]) [--vid HEX] [--pid HEX]",
                "Checks a CD strictly: the CMS envelope rule by rule (SignedData v3, one SHA-256\n"
                "digest, attached pkcs7-data, no certificates/CRLs, one SignerInfo v3 by key ID,\n"
                "no signed attributes, ecdsa-with-SHA256), that the key ID is SHA-1 of the\n"
                "signer's key, the signature, the TLV schema and field rules, and optionally\n"
                "that --vid is the vendor_id and --pid is in product_id_array.\n"
                "Exit 10 malformed, 12 wrong signer or VID/PID, 13 bad signature.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return MP_OK;
        case O_SIGNER_CERT: signer = val; break;
        case O_TRUST: trust = val; break;
        case O_VID: vid = val; break;
        case O_PID: pid = val; break;
        case OPT_POSITIONAL:
            if (file == NULL) { file = val; break; }
            /* fall through */
        default: return mp_err(MP_ERR_USAGE, "cd verify: unexpected argument %s", mp_opt_shown(val));
        }
    }
    if (id < 0) return -id;
    if (file == NULL || (signer == NULL && trust == NULL)) {
        return mp_err(MP_ERR_USAGE, "cd verify: FILE and --signer-cert or --trust are required");
    }
    if (trust != NULL && !mp_is_dir(trust)) {
        return mp_err(MP_ERR_USAGE, "cd verify: --trust %s is not a directory", trust);
    }
    if ((rc = verify_one(file, signer, trust, vid, pid)) == MP_OK) {
        printf("%s: OK: CD envelope, signature and fields verified\n", file);
    }
    return rc;
}
