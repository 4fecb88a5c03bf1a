/*
 * tv_gen.c - build each case (certificates, CD) and write its folder:
 * test_case_vector.json in the --dac_provider exchange format (section 9),
 * DER/PEM files, the DAC key, and case.json with the expected verdict.
 */
#include "tv_gen.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>

#include "tv_cases.h"
#include "util.h"
#include "verify.h"
#include "x509.h"

#define T2020 ((time_t)1577836800)
#define T2031 ((time_t)1924992000)
#define DAYS730 ((time_t)730 * 86400)

/* Expand %V %W %v %3 %P %Q in a subject template. */
static void expand(const char *t, uint16_t vid, uint16_t pid, char *out, size_t cap)
{
    size_t o = 0;
    char tmp[8];
    for (; *t && o + 5 < cap; t++) {
        if (*t != '%' || t[1] == 0) {
            out[o++] = *t;
            continue;
        }
        switch (*++t) {
        case 'V': snprintf(tmp, sizeof(tmp), "%04X", vid); break;
        case 'W': snprintf(tmp, sizeof(tmp), "%04X", (uint16_t)(vid + 1)); break;
        case 'v': snprintf(tmp, sizeof(tmp), "%04x", vid); break;
        case '3': snprintf(tmp, sizeof(tmp), "%03X", vid & 0xFFF); break;
        case 'P': snprintf(tmp, sizeof(tmp), "%04X", pid); break;
        case 'Q': snprintf(tmp, sizeof(tmp), "%04X", (uint16_t)(pid + 1)); break;
        default: snprintf(tmp, sizeof(tmp), "%%%c", *t); break;
        }
        memcpy(out + o, tmp, strlen(tmp));
        o += strlen(tmp);
    }
    out[o] = 0;
}

typedef struct names {
    char cn[96], vid[16], pid[16];
    const char *pcn, *pvid, *ppid;
} names;

/* Subject fields: the case's templates for its target, else defaults. */
static void subject(const tv_env *e, const tv_case *k, int dac, names *n)
{
    int mine = (dac && k->target == TT_DAC) || (!dac && k->target == TT_PAI);
    const char *cn = mine && k->cn ? k->cn : dac ? "Matter Test Vector DAC" : e->pai_cn;
    const char *vid = mine && k->vid ? k->vid : "%V";
    const char *pid = mine && k->pid ? k->pid : (dac || e->pai_has_pid) ? "%P" : "-";
    expand(cn, e->vid, e->pid, n->cn, sizeof(n->cn));
    expand(vid, e->vid, e->pid, n->vid, sizeof(n->vid));
    expand(pid, e->vid, e->pid, n->pid, sizeof(n->pid));
    n->pcn = n->cn;
    n->pvid = strcmp(vid, "-") == 0 ? NULL : n->vid;
    n->ppid = strcmp(pid, "-") == 0 ? NULL : n->pid;
}

typedef struct built {
    X509 *pai, *dac, *rpaa;
    EVP_PKEY *pai_signer;
    tv_key dac_key, pai_key, paa_key;
} built;

static void built_free(built *b, const tv_env *e)
{
    if (b->pai != e->pai) X509_free(b->pai);
    X509_free(b->dac);
    X509_free(b->rpaa);
    tv_key_free(&b->dac_key);
    tv_key_free(&b->pai_key);
    tv_key_free(&b->paa_key);
}

static void validity(int defect, time_t base, time_t *nb, time_t *na)
{
    *nb = defect == TVX_PAST ? T2020 : defect == TVX_FUTURE ? T2031 : defect == TVX_NB_BEFORE_PAI ? base - 1 : base;
    *na = defect == TVX_PAST || defect == TVX_FUTURE ? *nb + DAYS730 : MP_NO_EXPIRY;
}

/* A random PAA in software, not in any trust store (case D). */
static int random_paa(const tv_env *e, built *b)
{
    int rc = tv_key_gen("P-256", &b->paa_key);
    mp_cert_spec s = {.type = MP_PAA, .cn = "Random Untrusted PAA", .vid = e->vid, .not_before = e->base - 86400,
                      .not_after = MP_NO_EXPIRY, .point = b->paa_key.point};
    return rc == MP_OK ? mp_cert_build(&s, b->paa_key.pkey, &b->rpaa) : rc;
}

static int build_pai(const tv_env *e, const tv_case *k, built *b)
{
    int pai_case = k->target == TT_PAI, rc;
    names n;
    b->pai = e->pai;
    b->pai_signer = e->pai_signer;
    if (!pai_case && k->target != TT_PAA) return MP_OK;
    if (k->target == TT_PAA && (rc = random_paa(e, b)) != MP_OK) return rc;
    subject(e, k, 0, &n);
    tv_spec s = {.type = VA_CERT_PAI, .cn = n.pcn, .vid = n.pvid, .pid = n.ppid, .issuer = b->rpaa ? b->rpaa : e->paa,
                 .signer = b->rpaa ? b->paa_key.pkey : e->paa_signer, .point = e->pai_point,
                 .curve_nid = NID_X9_62_prime256v1, .defect = pai_case && k->defect < 100 ? k->defect : TV_NONE};
    validity(pai_case ? k->defect : 0, e->base, &s.nb, &s.na);
    if (pai_case && k->defect == TVX_K1) {
        if ((rc = tv_key_gen("secp256k1", &b->pai_key)) != MP_OK) return rc;
        s.point = b->pai_key.point;
        s.curve_nid = NID_secp256k1;
        b->pai_signer = b->pai_key.pkey;
    }
    b->pai = NULL;
    return tv_cert_build(&s, &b->pai);
}

static int build_dac(const tv_env *e, const tv_case *k, built *b)
{
    int dac_case = k->target == TT_DAC, k1 = dac_case && k->defect == TVX_K1;
    names n;
    int rc = tv_key_gen(k1 ? "secp256k1" : "P-256", &b->dac_key);
    if (rc != MP_OK) return rc;
    subject(e, k, 1, &n);
    tv_spec s = {.type = VA_CERT_DAC, .cn = n.pcn, .vid = n.pvid, .pid = n.ppid, .issuer = b->pai,
                 .signer = b->pai_signer, .point = b->dac_key.point,
                 .curve_nid = k1 ? NID_secp256k1 : NID_X9_62_prime256v1,
                 .defect = dac_case && k->defect < 100 ? k->defect : TV_NONE};
    validity(dac_case ? k->defect : 0, e->base, &s.nb, &s.na);
    return tv_cert_build(&s, &b->dac);
}

static int build_cd(const tv_env *e, const tv_case *k, uint8_t *cms, size_t *cms_len, uint16_t *basic_pid)
{
    tv_cd cd;
    uint8_t tlv[1024], paa_skid[20], kid[20];
    size_t tlv_len;
    if (mp_cert_skid(e->paa, paa_skid) != 0 || mp_cert_skid(e->cd_cert, kid) != 0) {
        return mp_err(MP_ERR_PROFILE, "PAA or CD signer without a SKID");
    }
    tv_cd_apply(k->target == TT_CD ? k->defect : CDM_NONE, e->vid, e->pid, paa_skid, &cd, basic_pid);
    int rc = tv_cd_tlv(&cd, tlv, sizeof(tlv), &tlv_len);
    if (rc != MP_OK) return rc;
    return tv_cd_sign(tlv, tlv_len, kid, e->cd_key.pkey, k->target == TT_CMS ? k->defect : TVC_NONE, cms, 2048, cms_len);
}

/* ---- output --------------------------------------------------------------- */

static int put(const tv_env *e, const char *name, const char *file, const void *data, size_t len, int mode)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s/%s", e->dir, name, file);
    return mp_write_file(path, data, len, mode, 0);
}

static int put_cert(const tv_env *e, const char *name, const char *base, X509 *x, uint8_t **der, size_t *len)
{
    char file[64], path[4096];
    int rc = mp_cert_der(x, der, len);
    if (rc != MP_OK) return rc;
    snprintf(file, sizeof(file), "%s.der", base);
    if ((rc = put(e, name, file, *der, *len, 0644)) != MP_OK) return rc;
    snprintf(path, sizeof(path), "%s/%s/%s.pem", e->dir, name, base);
    return mp_cert_write_pem(path, x, 0);
}

static json_t *hexj(const uint8_t *p, size_t n)
{
    char *h = malloc(2 * n + 1);
    json_t *j = NULL;
    if (h != NULL) {
        mp_hex(p, n, h, 0);
        j = json_string(h);
        free(h);
    }
    return j;
}

static int put_json(const tv_env *e, const char *name, const char *file, json_t *j, int mode)
{
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    int rc = s ? put(e, name, file, s, strlen(s), mode) : mp_err(MP_ERR_GENERAL, "cannot encode %s", file);
    if (s != NULL) mp_wipe(s, strlen(s));
    free(s);
    json_decref(j);
    return rc;
}

static int put_key(const tv_env *e, const char *name, EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    int rc = b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1
                 ? MP_OK : mp_err_ssl(MP_ERR_GENERAL, "cannot encode the DAC key");
    long n = b ? BIO_get_mem_data(b, &data) : 0;
    if (rc == MP_OK) rc = put(e, name, "dac_key.pem", data, (size_t)n, 0600);
    if (n > 0) OPENSSL_cleanse(data, (size_t)n);
    BIO_free(b);
    return rc;
}

typedef struct outputs {
    uint8_t *dac, *pai;
    size_t dac_len, pai_len;
} outputs;

/* test_case_vector.json: every key written, sizes checked (section 9). */
static int vector_json(const tv_env *e, const tv_case *k, const built *b, const outputs *o, const uint8_t *cd,
                       size_t cd_len, uint16_t basic_pid)
{
    if (o->dac_len > MP_MAX_CERT_DER || o->pai_len > MP_MAX_CERT_DER) {
        return mp_err(MP_ERR_PROFILE, "case %s: certificate larger than %d bytes (the --dac_provider reader would drop it)", k->name, MP_MAX_CERT_DER);
    }
    json_t *j = json_object();
    json_object_set_new(j, "description", json_string(k->desc));
    json_object_set_new(j, "is_success_case", json_string(k->expect == VA_SUCCESS ? "true" : "false"));
    json_object_set_new(j, "basic_info_pid", json_integer(basic_pid));
    json_object_set_new(j, "dac_cert", hexj(o->dac, o->dac_len));
    json_object_set_new(j, "pai_cert", hexj(o->pai, o->pai_len));
    json_object_set_new(j, "certification_declaration", hexj(cd, cd_len));
    json_object_set_new(j, "dac_private_key", hexj(b->dac_key.priv, 32));
    json_object_set_new(j, "dac_public_key", hexj(b->dac_key.point, 65));
    return put_json(e, k->name, "test_case_vector.json", j, 0600);
}

static int case_json(tv_env *e, const tv_case *k, uint16_t basic_pid)
{
    char vid[5], pid[5];
    snprintf(vid, sizeof(vid), "%04X", e->vid);
    snprintf(pid, sizeof(pid), "%04X", basic_pid);
    json_t *j = json_pack("{s:s, s:s, s:b, s:i, s:s, s:s, s:s}", "name", k->name, "description", k->desc,
                          "is_success_case", k->expect == VA_SUCCESS, "expected_code", k->expect,
                          "expected_name", mp_va_code_name(k->expect), "basic_info_vid", vid, "basic_info_pid", pid);
    json_array_append_new(e->index, json_pack("{s:s, s:i, s:s}", "name", k->name, "expected_code", k->expect,
                                              "expected_name", mp_va_code_name(k->expect)));
    return put_json(e, k->name, "case.json", j, 0644);
}

static int write_case(tv_env *e, const tv_case *k, built *b)
{
    uint8_t cd[2048];
    size_t cd_len = 0;
    uint16_t basic_pid = e->pid;
    outputs o = {0};
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/%s", e->dir, k->name);
    int rc = mkdir(dir, 0755) == 0 ? MP_OK : mp_err(MP_ERR_IO, "%s: cannot create the directory", dir);
    if (rc == MP_OK) rc = build_cd(e, k, cd, &cd_len, &basic_pid);
    if (rc == MP_OK) rc = put_cert(e, k->name, "dac", b->dac, &o.dac, &o.dac_len);
    if (rc == MP_OK) rc = put_cert(e, k->name, "pai", b->pai, &o.pai, &o.pai_len);
    if (rc == MP_OK) rc = put(e, k->name, "cd.der", cd, cd_len, 0644);
    if (rc == MP_OK) rc = put_key(e, k->name, b->dac_key.pkey);
    if (rc == MP_OK) rc = vector_json(e, k, b, &o, cd, cd_len, basic_pid);
    if (rc == MP_OK) rc = case_json(e, k, basic_pid);
    OPENSSL_free(o.dac);
    OPENSSL_free(o.pai);
    return rc;
}

/* A lowercase-VID case means nothing when the VID has no hex letter. */
static int applicable(const tv_env *e, const tv_case *k)
{
    char up[8], low[8];
    snprintf(up, sizeof(up), "%04X", e->vid);
    snprintf(low, sizeof(low), "%04x", e->vid);
    return k->cn == NULL || strstr(k->cn, "%v") == NULL || strcmp(up, low) != 0;
}

int tv_generate(tv_env *e)
{
    int rc = MP_OK;
    for (size_t i = 0; i < tv_n_cases && rc == MP_OK; i++) {
        const tv_case *k = &tv_cases[i];
        built b = {0};
        if (!applicable(e, k)) {
            e->n_skipped++;
            continue;
        }
        rc = build_pai(e, k, &b);
        if (rc == MP_OK) rc = build_dac(e, k, &b);
        if (rc == MP_OK) rc = write_case(e, k, &b);
        if (rc != MP_OK) mp_err_ctx(rc, "case %s", k->name);
        else e->n_written++;
        built_free(&b, e);
    }
    return rc;
}
