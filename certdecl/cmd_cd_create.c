/* cmd_cd_create.c - `cd create` and `cd create-signer`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "src/commands.h"
#include "ca.h"
#include "cd.h"
#include "cd_input.h"
#include "cd_signer.h"
#include "ceremony.h"
#include "keystore.h"
#include "opts.h"
#include "util.h"

enum { O_SIGNER_CERT = 1, O_SIGNER_KEY, O_SIGNER_KEY_FILE, O_VID, O_PID, O_DEVTYPE, O_CERT_ID,
       O_SEC_LEVEL, O_SEC_INFO, O_VERSION, O_TYPE, O_ORIGIN_VID, O_ORIGIN_PID, O_PAA, O_PRODUCT,
       O_OUT, O_KEY_LABEL, O_CN, O_FROM, O_DAYS, O_NO_EXPIRY };

static const mp_opt create_opts[] = {
    {"signer-cert", O_SIGNER_CERT, OT_FILE | OT_REQUIRED, "FILE", "CD signing certificate, PEM or DER"},
    {"signer-key", O_SIGNER_KEY, OT_STR, "LABEL|URI", "CD signing key in the token"},
    {"signer-key-file", O_SIGNER_KEY_FILE, OT_FILE, "FILE", "PEM software key: ONLY for public test keys (e.g. Chip-Test-CD-Signing-Key.pem)"},
    {"product", O_PRODUCT, OT_FILE, "FILE", "product.json: vendor_id, product_id, device_type_id and the \"cd\" section; options override"},
    {"vid", O_VID, OT_HEX, "HEX", "vendor_id, hex 0001..FFF4"},
    {"pid", O_PID, OT_HEX, "HEX", "product ID, hex 0001..FFFF; repeat for up to 100 (replaces the product's list)"},
    {"device-type-id", O_DEVTYPE, OT_UINT, "N", "device_type_id, DECIMAL unless written 0x... (e.g. 257 or 0x0101)"},
    {"certificate-id", O_CERT_ID, OT_STR, "ID", "certificate_id, exactly 19 characters (e.g. CSA00000SWC00000-00)"},
    {"security-level", O_SEC_LEVEL, OT_UINT, "0", "security_level, must be 0 (default 0)"},
    {"security-info", O_SEC_INFO, OT_UINT, "0", "security_information, must be 0 (default 0)"},
    {"version-number", O_VERSION, OT_UINT, "N", "version_number 0..65535, DECIMAL unless written 0x... (9876 is not 0x9876)"},
    {"certification-type", O_TYPE, OT_UINT, "0|1|2", "0 development/test, 1 provisional, 2 official"},
    {"dac-origin-vid", O_ORIGIN_VID, OT_HEX, "HEX", "dac_origin_vendor_id, hex (with --dac-origin-pid)"},
    {"dac-origin-pid", O_ORIGIN_PID, OT_HEX, "HEX", "dac_origin_product_id, hex (with --dac-origin-vid)"},
    {"authorized-paa", O_PAA, OT_FILE, "CERT", "PAA certificate whose SKID goes into authorized_paa_list; repeat for up to 10"},
    {"out", O_OUT, OT_OUT | OT_REQUIRED, "FILE", "signed CD output, DER"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace an existing output file"},
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

/* Options given on the command line, applied over the product file. */
typedef struct create_args {
    const char *signer_cert, *signer_key, *key_file, *product, *out;
    const char *vid, *devtype, *cert_id, *sec_level, *sec_info, *version, *type, *ovid, *opid;
    const char *pids[MP_CD_MAX_PIDS + 1], *paas[MP_CD_MAX_PAAS + 1];
    size_t n_pids, n_paas;
} create_args;

static int parse_create(int argc, char **argv, create_args *a, mp_common *c)
{
    mp_optparse p;
    const char *val;
    int id;
    mp_opt_init(&p, argc, argv, create_opts, "cd create",
                "--signer-cert C (--signer-key L | --signer-key-file F) [--product product.json] [--vid HEX --pid HEX...\n"
                "       --device-type-id N --certificate-id ID --version-number N --certification-type 0|1|2\n"
                "       [--dac-origin-vid HEX --dac-origin-pid HEX] [--authorized-paa CERT]...] --out cd.der",
                "Encodes a Certification Declaration (Matter TLV) and signs it in a CMS SignedData\n"
                "envelope exactly as the Matter SDK does. VID/PID options are hex; every other\n"
                "integer is DECIMAL unless written 0x... (chip-cert gen-cd reads some as hex).");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return -1;
        case O_SIGNER_CERT: a->signer_cert = val; break;
        case O_SIGNER_KEY: a->signer_key = val; break;
        case O_SIGNER_KEY_FILE: a->key_file = val; break;
        case O_PRODUCT: a->product = val; break;
        case O_VID: a->vid = val; break;
        case O_PID:
            if (a->n_pids >= MP_CD_MAX_PIDS) return mp_err(MP_ERR_INVALID, "--pid: at most %d product IDs", MP_CD_MAX_PIDS);
            a->pids[a->n_pids++] = val;
            break;
        case O_DEVTYPE: a->devtype = val; break;
        case O_CERT_ID: a->cert_id = val; break;
        case O_SEC_LEVEL: a->sec_level = val; break;
        case O_SEC_INFO: a->sec_info = val; break;
        case O_VERSION: a->version = val; break;
        case O_TYPE: a->type = val; break;
        case O_ORIGIN_VID: a->ovid = val; break;
        case O_ORIGIN_PID: a->opid = val; break;
        case O_PAA:
            if (a->n_paas >= MP_CD_MAX_PAAS) return mp_err(MP_ERR_INVALID, "--authorized-paa: at most %d PAAs", MP_CD_MAX_PAAS);
            a->paas[a->n_paas++] = val;
            break;
        case O_OUT: a->out = val; break;
        default:
            if (!mp_opt_common(c, id, val)) return mp_err(MP_ERR_USAGE, "cd create: unexpected argument %s", mp_opt_shown(val));
        }
    }
    if (id < 0) return -id;
    mp_common_finish(c);
    if ((a->signer_key == NULL) == (a->key_file == NULL)) { /* --signer-cert and --out are OT_REQUIRED */
        return mp_err(MP_ERR_USAGE, "cd create: one of --signer-key / --signer-key-file is required (not both)");
    }
    return MP_OK;
}

static int opt_num(const char *name, const char *s, uint64_t max, uint64_t *out)
{
    if (mp_parse_uint(s, max, out) != MP_OK) {
        return mp_err(MP_ERR_INVALID, "--%s: '%s' is not a number 0..%llu (decimal, or hex written 0x...)", name, s, (unsigned long long)max);
    }
    return MP_OK;
}

static int apply_ids(const create_args *a, mp_cd_input *in)
{
    uint16_t v;
    int rc;
    if (a->vid != NULL) {
        if ((rc = mp_parse_vid("--vid", a->vid, &in->cd.vendor_id)) != MP_OK) return rc;
        in->set |= CDI_VID;
    }
    if (a->n_pids > 0) {
        for (size_t i = 0; i < a->n_pids; i++) {
            if ((rc = mp_parse_pid("--pid", a->pids[i], &in->cd.product_ids[i])) != MP_OK) return rc;
        }
        in->cd.n_pids = a->n_pids;
        in->set |= CDI_PIDS;
    }
    if (a->ovid != NULL) {
        if ((rc = mp_parse_vid("--dac-origin-vid", a->ovid, &in->cd.dac_origin_vid)) != MP_OK) return rc;
        in->set |= CDI_ORIGIN_VID;
    }
    if (a->opid != NULL) {
        if ((rc = mp_parse_pid("--dac-origin-pid", a->opid, &v)) != MP_OK) return rc;
        in->cd.dac_origin_pid = v;
        in->set |= CDI_ORIGIN_PID;
    }
    if (a->n_paas > 0) {
        in->cd.n_paas = 0;
        for (size_t i = 0; i < a->n_paas; i++) {
            if ((rc = mp_cd_input_paa(in, a->paas[i], "--authorized-paa")) != MP_OK) return rc;
        }
    }
    return MP_OK;
}

static int apply_numbers(const create_args *a, mp_cd_input *in)
{
    uint64_t v;
    int rc;
    if (a->devtype != NULL) {
        if ((rc = opt_num("device-type-id", a->devtype, 0xFFFFFFFF, &v)) != MP_OK) return rc;
        in->cd.device_type_id = (uint32_t)v;
        in->set |= CDI_DEVTYPE;
    }
    if (a->version != NULL) {
        if ((rc = opt_num("version-number", a->version, 0xFFFF, &v)) != MP_OK) return rc;
        in->cd.version_number = (uint16_t)v;
        in->set |= CDI_VERSION;
    }
    if (a->type != NULL) {
        if ((rc = opt_num("certification-type", a->type, 0xFF, &v)) != MP_OK) return rc;
        in->cd.certification_type = (uint8_t)v;
        in->set |= CDI_TYPE;
    }
    if (a->sec_level != NULL) {
        if ((rc = opt_num("security-level", a->sec_level, 0xFF, &v)) != MP_OK) return rc;
        in->cd.security_level = (uint8_t)v;
    }
    if (a->sec_info != NULL) {
        if ((rc = opt_num("security-info", a->sec_info, 0xFFFF, &v)) != MP_OK) return rc;
        in->cd.security_information = (uint16_t)v;
    }
    if (a->cert_id != NULL) {
        if (strlen(a->cert_id) != MP_CD_CERT_ID_LEN) {
            return mp_err(MP_ERR_INVALID, "--certificate-id: certificate_id must be exactly %d characters (is %zu)", MP_CD_CERT_ID_LEN, strlen(a->cert_id));
        }
        memcpy(in->cd.certificate_id, a->cert_id, MP_CD_CERT_ID_LEN + 1);
        in->set |= CDI_CERT_ID;
    }
    return MP_OK;
}

/* The signing key: in the token, or a public test key file. */
typedef struct signer {
    mp_ks *ks;
    mp_ks_key key;
    EVP_PKEY *pkey;
} signer;

/* The token is opened (by the dispatcher's mp_cmd_open) only for --signer-key. */
static int open_signer(mp_cmd *mc, const create_args *a, const mp_common *c, const uint8_t point[65], signer *s)
{
    int rc;
    if (a->key_file != NULL) {
        fprintf(stderr, "matter-pki cd create: warning: --signer-key-file %s is a software key; use it only for public test keys, never for a real CD signer\n", a->key_file);
        FILE *f = mp_fopen_input(a->key_file);
        s->pkey = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
        if (f) fclose(f);
        if (s->pkey == NULL) {
            return mp_err_ssl(MP_ERR_INVALID, "%s: not a PEM private key", a->key_file);
        }
        EVP_PKEY *pub = mp_cd_point_key(point);
        int same = pub != NULL && EVP_PKEY_eq(s->pkey, pub) == 1;
        EVP_PKEY_free(pub);
        return same ? MP_OK : mp_err(MP_ERR_MISMATCH, "%s is not the key of %s", a->key_file, a->signer_cert);
    }
    if ((rc = mp_cmd_open(mc, c)) != MP_OK) {
        return rc;
    }
    s->ks = mc->ks;
    if ((rc = mp_ks_find(s->ks, a->signer_key, &s->key)) != MP_OK) {
        return rc;
    }
    if (memcmp(s->key.point, point, 65) != 0) {
        return mp_err(MP_ERR_MISMATCH, "key '%s' is not the key of %s", a->signer_key, a->signer_cert);
    }
    s->pkey = mp_ks_signer(s->ks, &s->key);
    return s->pkey != NULL ? MP_OK : mp_err_code();
}

/* Sign, check our own output, write it. */
static int sign_and_write(const create_args *a, const mp_common *c, const mp_cd *cd, signer *s,
                          const uint8_t point[65], const uint8_t skid[20])
{
    uint8_t tlv[MP_CD_MAX_TLV], *der = NULL;
    size_t tlv_len = 0, der_len = 0;
    mp_cd_env env;
    int rc;
    if ((rc = mp_cd_encode(cd, tlv, sizeof(tlv), &tlv_len)) != MP_OK ||
        (rc = mp_cd_sign(tlv, tlv_len, skid, s->pkey, &der, &der_len)) != MP_OK) {
        return rc;
    }
    if ((rc = mp_cd_env_parse(der, der_len, &env)) != MP_OK || (rc = mp_cd_env_verify(&env, point)) != MP_OK) {
        mp_err_ctx(MP_ERR_GENERAL, "self-check of the signed CD failed");
        rc = MP_ERR_GENERAL;
    } else if ((rc = mp_write_file(a->out, der, der_len, 0644, c->force)) == MP_OK && s->ks != NULL &&
               (rc = mp_ceremony_log_signed(&c->rec, "cd create", s->ks, &s->key, NULL, a->out)) != MP_OK) {
        unlink(a->out);
    }
    free(der);
    return rc;
}

int cd_create_main(mp_cmd *mc, int argc, char **argv)
{
    create_args a = {0};
    mp_common c = {0};
    mp_cd_input in;
    signer s = {0};
    uint8_t point[65], skid[20];
    int rc = parse_create(argc, argv, &a, &c);
    if (rc != MP_OK) {
        return rc < 0 ? MP_OK : rc;
    }
    /* here, not in parse_create: the analyzer takes its `return -id` (id < 0) for a possible MP_OK */
    a.out = mp_opt_given(a.out);
    mp_cd_input_init(&in);
    if ((a.product != NULL && (rc = mp_cd_input_product(&in, a.product)) != MP_OK) ||
        (rc = apply_ids(&a, &in)) != MP_OK || (rc = apply_numbers(&a, &in)) != MP_OK ||
        (rc = mp_cd_input_finish(&in)) != MP_OK || (rc = mp_check_output(a.out, c.force)) != MP_OK ||
        (rc = mp_cd_signer_load(a.signer_cert, point, skid)) != MP_OK ||
        (rc = open_signer(mc, &a, &c, point, &s)) != MP_OK ||
        (rc = sign_and_write(&a, &c, &in.cd, &s, point, skid)) != MP_OK) {
        goto end;
    }
    if (!c.quiet) {
        printf("CD for vendor 0x%04X (%zu product ID%s, certificate_id %s, version %u, type %u %s) written to %s\n",
               in.cd.vendor_id, in.cd.n_pids, in.cd.n_pids == 1 ? "" : "s", in.cd.certificate_id,
               in.cd.version_number, in.cd.certification_type, mp_cd_type_name(in.cd.certification_type), a.out);
    }
end:
    EVP_PKEY_free(s.pkey);
    return rc;
}

/* ---- cd create-signer ----------------------------------------------------- */

static const mp_opt signer_opts[] = {
    {"key-label", O_KEY_LABEL, OT_STR | OT_REQUIRED, "LABEL", "label of the new CD signing key in the token"},
    {"cn", O_CN, OT_STR | OT_REQUIRED, "CN", "subject common name, at most 64 characters"},
    {"valid-from", O_FROM, OT_DATE, "DATE", "notBefore, YYYY-MM-DD[THH:MM:SSZ] UTC (default now)"},
    {"days", O_DAYS, OT_UINT, "N", "validity in days, decimal (default: no expiry)"},
    {"no-expiry", O_NO_EXPIRY, OT_FLAG, NULL, "notAfter 99991231235959Z (the default)"},
    {"out", O_OUT, OT_OUT | OT_REQUIRED, "FILE", "signer certificate output, PEM"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace an existing output file"},
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

typedef struct signer_build {
    const char *cn;
    time_t nb, na;
} signer_build;

static int build_signer(void *ctx, const mp_ks_key *key, EVP_PKEY *own, X509 **out)
{
    const signer_build *b = ctx;
    return mp_cd_signer_build(b->cn, b->nb, b->na, key->point, own, out);
}

static int signer_ceremony(mp_ks *ks, const mp_common *c, const char *label, const char *cn,
                           time_t nb, time_t na, const char *out)
{
    signer_build b = {cn, nb, na};
    return mp_key_ceremony(ks, &c->rec, "cd create-signer", label, build_signer, &b, out);
}

int cd_create_signer_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *label = NULL, *cn = NULL, *from = NULL, *days = NULL, *out = NULL, *val;
    int no_expiry = 0, id, rc;
    time_t nb, na;
    mp_opt_init(&p, argc, argv, signer_opts, "cd create-signer",
                "--key-label L --cn CN [--valid-from DATE] [--days N | --no-expiry] --out cd-signer.pem",
                "Generates a CD signing key in the token (EC P-256, non-extractable) and a\n"
                "self-signed development certificate for it: CA pathLen 0, keyUsage\n"
                "digitalSignature+keyCertSign+cRLSign, SKID = AKID = SHA-1 of the key.\n"
                "Commissioners trust only CSA-issued CD signers: use it for development/test CDs.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return MP_OK;
        case O_KEY_LABEL: label = val; break;
        case O_CN: cn = val; break;
        case O_FROM: from = val; break;
        case O_DAYS: days = val; break;
        case O_NO_EXPIRY: no_expiry = 1; break;
        case O_OUT: out = val; break;
        default:
            if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "cd create-signer: unexpected argument %s", mp_opt_shown(val));
        }
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    cn = mp_opt_given(cn);
    out = mp_opt_given(out);
    if (strlen(cn) > 64) {
        return mp_err(MP_ERR_INVALID, "--cn: at most 64 characters");
    }
    if ((rc = mp_validity(from, days, no_expiry, 0, &nb, &na)) != MP_OK || (rc = mp_check_output(out, c.force)) != MP_OK ||
        (rc = mp_cmd_open(mc, &c)) != MP_OK) {
        return rc;
    }
    rc = signer_ceremony(mc->ks, &c, label, cn, nb, na, out);
    if (rc == MP_OK && !c.quiet) {
        printf("CD signer certificate written to %s (key '%s' on token '%s')\n", out, label, mp_ks_token_label(mc->ks));
    }
    return rc;
}
