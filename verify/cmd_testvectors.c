/* cmd_testvectors.c - `matter-pki testvectors generate`: the PAA and PAI keys
 * stay in the token; every other key is a software key made per case. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "ca.h"
#include "opts.h"
#include "src/commands.h"
#include "tv_gen.h"
#include "util.h"

enum { O_PAA_CERT = 1, O_PAA_KEY, O_PAI_CERT, O_PAI_KEY, O_PAI_CN, O_VID, O_PID, O_OUT };

static const mp_opt opts[] = {
    {"paa-cert", O_PAA_CERT, OT_FILE | OT_REQUIRED, "FILE", "PAA certificate"},
    {"paa-key", O_PAA_KEY, OT_STR | OT_REQUIRED, "LABEL|URI", "PAA key in the token"},
    {"pai-cert", O_PAI_CERT, OT_FILE, "FILE", "an existing PAI whose key is --pai-key (else a new PAI is made)"},
    {"pai-key", O_PAI_KEY, OT_STR | OT_REQUIRED, "LABEL|URI", "PAI key in the token; without --pai-cert a NEW key with this label"},
    {"pai-cn", O_PAI_CN, OT_STR, "CN", "CN of a new PAI (default \"Matter Test Vector PAI\")"},
    {"vid", O_VID, OT_HEX, "HEX", "vendor ID (default: the PAI's, else the PAA's)"},
    {"pid", O_PID, OT_HEX, "HEX", "product ID of the DACs (default: the PAI's, else 8000)"},
    {"out", O_OUT, OT_OUT | OT_REQUIRED, "DIR", "output directory, must not exist"},
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

typedef struct tv_args {
    const char *paa_cert, *paa_key, *pai_cert, *pai_key, *pai_cn, *vid, *pid, *out;
} tv_args;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* VID/PID of the vectors from the options and the PAI/PAA. */
static int ids(const tv_args *a, const mp_ca *paa, const mp_ca *pai, uint16_t *vid, uint16_t *pid)
{
    int rc;
    if (a->vid != NULL && (rc = mp_parse_vid("--vid", a->vid, vid)) != MP_OK) return rc;
    if (a->pid != NULL && (rc = mp_parse_pid("--pid", a->pid, pid)) != MP_OK) return rc;
    if (pai != NULL) {
        if (a->vid != NULL && *vid != pai->vp.vid) return mp_err(MP_ERR_MISMATCH, "--vid %04X differs from the PAI's VID %04X", *vid, pai->vp.vid);
        if (a->pid != NULL && pai->vp.has_pid && *pid != pai->vp.pid) return mp_err(MP_ERR_MISMATCH, "--pid %04X differs from the PAI's PID %04X", *pid, pai->vp.pid);
        *vid = pai->vp.vid;
        if (a->pid == NULL) *pid = pai->vp.has_pid ? pai->vp.pid : 0x8000;
        return MP_OK;
    }
    if (a->vid == NULL && !paa->vp.has_vid) return mp_err(MP_ERR_USAGE, "testvectors generate: --vid is required (the PAA has no VID)");
    if (a->vid == NULL) *vid = paa->vp.vid;
    if (a->pid == NULL) *pid = 0x8000;
    return paa->vp.has_vid && paa->vp.vid != *vid ? mp_err(MP_ERR_MISMATCH, "--vid %04X differs from the PAA's VID %04X", *vid, paa->vp.vid) : MP_OK;
}

/* The PAI: an existing one, or a new key and certificate (a logged ceremony). */
static int open_pai(mp_ks *ks, const mp_common *c, const tv_args *a, mp_ca *paa, const char *tmp, mp_ca *pai, int *created)
{
    char path[4096];
    uint16_t vid = 0, pid = 0;
    int rc;
    if (a->pai_cert != NULL) {
        return mp_ca_open(ks, a->pai_cert, a->pai_key, MP_PAI, 1, pai);
    }
    if ((rc = ids(a, paa, NULL, &vid, &pid)) != MP_OK) return rc;
    snprintf(path, sizeof(path), "%s/pai.pem", tmp);
    mp_cert_spec spec = {.type = MP_PAI, .cn = a->pai_cn ? a->pai_cn : "Matter Test Vector PAI", .vid = vid, .pid = pid,
                         .not_before = time(NULL), .not_after = MP_NO_EXPIRY};
    if ((rc = mp_ca_ceremony(ks, &c->rec, "testvectors generate", a->pai_key, &spec, paa, path)) != MP_OK) return rc;
    *created = 1;
    return mp_ca_open(ks, path, a->pai_key, MP_PAI, 1, pai);
}

/* A software CD signer per run, self-signed like the SDK test CD signer. */
static int cd_signer(tv_env *e, const char *tmp)
{
    char path[4096];
    int rc = tv_key_gen("P-256", &e->cd_key);
    mp_cert_spec s = {.type = MP_PAA, .cn = "matter-pki Test CD Signing Authority", .not_before = e->base,
                      .not_after = MP_NO_EXPIRY, .point = e->cd_key.point};
    if (rc != MP_OK || (rc = mp_cert_build(&s, e->cd_key.pkey, &e->cd_cert)) != MP_OK) return rc;
    snprintf(path, sizeof(path), "%s/cd-signer.pem", tmp);
    if ((rc = mp_cert_write_pem(path, e->cd_cert, 0)) != MP_OK) return rc;
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n = 0;
    if (b == NULL || PEM_write_bio_PrivateKey(b, e->cd_key.pkey, NULL, NULL, 0, NULL, NULL) != 1) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "cannot encode the CD signing key");
    } else {
        n = BIO_get_mem_data(b, &data);
        snprintf(path, sizeof(path), "%s/cd-signer-key.pem", tmp);
        rc = mp_write_file(path, data, (size_t)n, 0600, 0);
        OPENSSL_cleanse(data, (size_t)n);
    }
    BIO_free(b);
    return rc;
}

static int run(mp_ks *ks, const mp_common *c, const tv_args *a, const char *tmp, int *created)
{
    mp_ca paa = {0}, pai = {0};
    tv_env e = {.dir = tmp, .index = json_array()};
    char path[4096];
    int rc = mp_ca_open(ks, a->paa_cert, a->paa_key, MP_PAA, 1, &paa);
    if (rc == MP_OK) rc = open_pai(ks, c, a, &paa, tmp, &pai, created);
    if (rc == MP_OK) rc = ids(a, &paa, &pai, &e.vid, &e.pid);
    if (rc == MP_OK) {
        int i = X509_NAME_get_index_by_NID(X509_get_subject_name(pai.cert), NID_commonName, -1);
        X509_NAME_get_text_by_NID(X509_get_subject_name(pai.cert), NID_commonName, e.pai_cn, sizeof(e.pai_cn));
        if (i < 0) snprintf(e.pai_cn, sizeof(e.pai_cn), "Matter Test Vector PAI");
        e.paa = paa.cert, e.pai = pai.cert, e.paa_signer = paa.signer, e.pai_signer = pai.signer;
        memcpy(e.pai_point, pai.key.point, 65);
        e.pai_has_pid = pai.vp.has_pid;
        rc = mp_asn1_time(X509_get0_notBefore(pai.cert), &e.base) == 0 ? MP_OK : mp_err(MP_ERR_PROFILE, "PAI notBefore unreadable");
    }
    snprintf(path, sizeof(path), "%s/paa.pem", tmp);
    if (rc == MP_OK) rc = mp_cert_write_pem(path, paa.cert, 0);
    snprintf(path, sizeof(path), "%s/pai.pem", tmp);
    if (rc == MP_OK && a->pai_cert != NULL) rc = mp_cert_write_pem(path, pai.cert, 0);
    if (rc == MP_OK) rc = cd_signer(&e, tmp);
    if (rc == MP_OK) rc = tv_generate(&e);
    char *idx = rc == MP_OK ? json_dumps(e.index, JSON_INDENT(2)) : NULL;
    snprintf(path, sizeof(path), "%s/index.json", tmp);
    if (rc == MP_OK) rc = idx ? mp_write_file(path, idx, strlen(idx), 0644, 0) : mp_err(MP_ERR_GENERAL, "out of memory");
    if (rc == MP_OK && !c->quiet) printf("%zu test-vector cases written to %s (%zu not applicable to VID %04X)\n", e.n_written, a->out, e.n_skipped, e.vid);
    free(idx);
    json_decref(e.index);
    tv_key_free(&e.cd_key);
    X509_free(e.cd_cert);
    mp_ca_close(&pai);
    mp_ca_close(&paa);
    return rc;
}

static int parse(int argc, char **argv, tv_args *a, mp_common *c)
{
    mp_optparse p;
    const char *val;
    int id;
    mp_opt_init(&p, argc, argv, opts, "testvectors generate",
                "--paa-cert paa.pem --paa-key L --pai-key L [--pai-cert pai.pem] [--vid HEX --pid HEX] --out DIR",
                "Writes one folder per commissioner test case (the valid baseline and each defect\n"
                "category of the SDK's gen_com_dut_test_vectors.py): test_case_vector.json for\n"
                "--dac_provider, DER/PEM files, the DAC key, case.json with the expected verdict.\n"
                "PAA and PAI sign in the token; DAC and CD signer keys are software keys.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return -1;
        case O_PAA_CERT: a->paa_cert = val; break;
        case O_PAA_KEY: a->paa_key = val; break;
        case O_PAI_CERT: a->pai_cert = val; break;
        case O_PAI_KEY: a->pai_key = val; break;
        case O_PAI_CN: a->pai_cn = val; break;
        case O_VID: a->vid = val; break;
        case O_PID: a->pid = val; break;
        case O_OUT: a->out = val; break;
        default:
            if (!mp_opt_common(c, id, val)) return mp_err(MP_ERR_USAGE, "testvectors generate: unexpected argument %s", mp_opt_shown(val));
        }
    }
    if (id < 0) return -id;
    mp_common_finish(c);
    return MP_OK;
}

int testvectors_generate_main(mp_cmd *mc, int argc, char **argv)
{
    mp_common c = {0};
    tv_args a = {0};
    struct stat st;
    char tmp[4096];
    int created = 0, rc = parse(argc, argv, &a, &c);
    if (rc != MP_OK) return rc < 0 ? MP_OK : rc;
    /* here, not in parse: the analyzer takes its `return -id` (id < 0) for a possible MP_OK */
    a.out = mp_opt_given(a.out);
    if (stat(a.out, &st) == 0) return mp_err(MP_ERR_EXISTS, "%s already exists", a.out);
    snprintf(tmp, sizeof(tmp), "%s.partial-XXXXXX", a.out);
    if (mkdtemp(tmp) == NULL) return mp_err(MP_ERR_IO, "%s: cannot create the output directory next to it", a.out);
    chmod(tmp, 0755);
    mp_ks *ks = NULL;
    if ((rc = mp_cmd_open(mc, &c)) == MP_OK) {
        rc = run(ks = mc->ks, &c, &a, tmp, &created);
    }
    if (rc == MP_OK && rename(tmp, a.out) != 0) rc = mp_err(MP_ERR_IO, "%s: cannot move the finished vectors into place", a.out);
    if (rc != MP_OK) {
        rm_tree(tmp);
        mp_ks_key key;
        if (created && mp_ks_find(ks, a.pai_key, &key) == MP_OK) mp_ks_delete(ks, &key);
    }
    return rc;
}
