/* cmd_pai_crl.c - `pai crl` and `paa crl` (one implementation for the two CA
 * levels; paa_crl_main lives here too): sign a CRL in the token with the CA
 * key or a delegated CRL signer's key, or check a published CRL (--check).
 * The CRL logic is revocation/crl_build.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "ceremony.h"
#include "revocation/crl.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"
#include "x509.h"

enum { O_CA_CERT = 1, O_CA_KEY, O_SIGNER_CERT, O_SIGNER_KEY, O_OUT, O_DAYS, O_DATA_URL, O_CHECK, O_WARN_DAYS,
       O_JSON };

#define CRL_OPTS(kind, lower)                                                                                    \
    {lower "-cert", O_CA_CERT, OT_FILE, "FILE", kind " certificate whose revoked certificates the CRL lists (required)"}, \
    {lower "-key", O_CA_KEY, OT_STR, "LABEL|URI", kind " key in the token (signs the CRL unless --signer-key)"},          \
    {"signer-cert", O_SIGNER_CERT, OT_FILE, "FILE", "delegated CRL signer certificate (`crl-signer create`)"},            \
    {"signer-key", O_SIGNER_KEY, OT_STR, "LABEL|URI", "the delegated CRL signer's key in the token"},                     \
    {"out", O_OUT, OT_OUT, "FILE", "CRL output, DER"},                                                                     \
    {"next-update-days", O_DAYS, OT_UINT, "N", "nextUpdate = thisUpdate + N days (default 30)"},                          \
    {"days", O_DAYS, OT_UINT, "N", "same as --next-update-days"},                                                          \
    {"data-url", O_DATA_URL, OT_STR, "URL", "IssuingDistributionPoint URI = the DCL dataURL (needed when several "        \
                                            "revocation points share the VID and issuer)"},                              \
    {"check", O_CHECK, OT_FILE, "CRL", "check a published CRL instead: exit 24 when nextUpdate is near or past"},          \
    {"warn-days", O_WARN_DAYS, OT_UINT, "N", "with --check: warn when nextUpdate is less than N days away (default 7)"},  \
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace an existing output file"},                                                \
    {"ledger", OPT_LEDGER, OT_STR, "PATH|URI", "ledger: SQLite file or PostgreSQL URI/key=value (default $MATTER_PKI_LEDGER, else STATE_DIR/ledger.sqlite)"},                            \
    {"json", O_JSON, OT_FLAG, NULL, "print the result as one JSON object on stdout"},                                     \
    MP_OPTS_HSM, MP_OPTS_COMMON, {NULL, 0, 0, NULL, NULL}

static const mp_opt pai_opts[] = {CRL_OPTS("PAI", "pai")};
static const mp_opt paa_opts[] = {CRL_OPTS("PAA", "paa")};

typedef struct crl_args {
    int type; /* MP_PAI or MP_PAA */
    const char *cmd, *ca_cert, *ca_key, *signer_cert, *signer_key, *out, *days, *data_url, *check, *warn;
    int json;
} crl_args;

static int parse(int argc, char **argv, crl_args *a, mp_common *c)
{
    mp_optparse p;
    const char *val;
    int id;
    int pai = a->type == MP_PAI;
    mp_opt_init(&p, argc, argv, pai ? pai_opts : paa_opts, a->cmd,
                pai ? "--pai-cert pai.pem (--pai-key LABEL | --signer-cert S --signer-key L) --out pai.crl [--next-update-days N]\n"
                      "       --check pai.crl [--pai-cert pai.pem | --signer-cert S] [--warn-days N]"
                    : "--paa-cert paa.pem (--paa-key LABEL | --signer-cert S --signer-key L) --out paa.crl [--next-update-days N]\n"
                      "       --check paa.crl [--paa-cert paa.pem | --signer-cert S] [--warn-days N]",
                pai ? "Signs, in the token, a v2 CRL (DER) of the DACs revoked under this PAI (`dac revoke`):\n"
                      "ecdsa-with-SHA256, AKID = signer SKID, a CRL number committed before signing,\n"
                      "reason codes, thisUpdate/nextUpdate. With --signer-cert/--signer-key a delegated\n"
                      "CRL signer signs an indirect CRL. --check reports on a published CRL (exit 24)."
                    : "Signs, in the token, a v2 CRL (DER) of the PAIs revoked under this PAA (`pai revoke`):\n"
                      "ecdsa-with-SHA256, AKID = signer SKID, a CRL number committed before signing,\n"
                      "reason codes, thisUpdate/nextUpdate. With --signer-cert/--signer-key a delegated\n"
                      "CRL signer signs an indirect CRL. --check reports on a published CRL (exit 24).");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return -1;
        case O_CA_CERT: a->ca_cert = val; break;
        case O_CA_KEY: a->ca_key = val; break;
        case O_SIGNER_CERT: a->signer_cert = val; break;
        case O_SIGNER_KEY: a->signer_key = val; break;
        case O_OUT: a->out = val; break;
        case O_DAYS: a->days = val; break;
        case O_DATA_URL: a->data_url = val; break;
        case O_CHECK: a->check = val; break;
        case O_WARN_DAYS: a->warn = val; break;
        case O_JSON: a->json = 1; break;
        default:
            if (!mp_opt_common(c, id, val)) return mp_err(MP_ERR_USAGE, "%s: unexpected argument '%s'", a->cmd, val ? val : "");
        }
    }
    if (id < 0) return -id;
    mp_common_finish(c);
    return MP_OK;
}

static int check_main(const crl_args *a)
{
    X509 *who = NULL;
    uint64_t w = a->warn ? mp_opt_uint(a->warn) : 7;
    int rc = MP_OK;
    if (a->out || a->ca_key || a->signer_key) {
        return mp_err(MP_ERR_USAGE, "%s --check: takes the CRL file and optionally the signer's certificate, no key or --out", a->cmd);
    }
    if (w > 3650) return mp_err(MP_ERR_USAGE, "%s: --warn-days 0..3650", a->cmd);
    const char *cert = a->signer_cert ? a->signer_cert : a->ca_cert;
    if (cert != NULL && (rc = mp_cert_load(cert, &who)) != MP_OK) return rc;
    rc = mp_crl_check(a->check, who, time(NULL), (long)w, stdout);
    if (rc == MP_OK) printf("%s: current (nextUpdate more than %llu day(s) away)\n", a->check, (unsigned long long)w);
    X509_free(who);
    return rc;
}

/* A delegated signer: its certificate, checked against the CA, and its key. */
static int open_delegated(mp_ks *ks, const crl_args *a, X509 *ca, X509 **cert, EVP_PKEY **pkey, mp_ks_key *key)
{
    uint8_t point[65];
    int rc = mp_cert_load(a->signer_cert, cert);
    if (rc != MP_OK || (rc = mp_crl_check_delegated(*cert, ca, a->signer_cert)) != MP_OK ||
        (rc = mp_ks_find(ks, a->signer_key, key)) != MP_OK) {
        return rc;
    }
    if (mp_cert_point(*cert, point) != MP_OK || memcmp(point, key->point, 65) != 0) {
        return mp_err(MP_ERR_MISMATCH, "key '%s' is not the key of %s", a->signer_key, a->signer_cert);
    }
    if ((*pkey = mp_ks_signer(ks, key)) == NULL) return mp_err_code() ? mp_err_code() : MP_ERR_GENERAL;
    return MP_OK;
}

/* The CA certificate without its key (a delegated signer signs). */
static int open_ca_cert(const crl_args *a, mp_ca *ca)
{
    int rc = mp_cert_load(a->ca_cert, &ca->cert);
    if (rc == MP_OK && mp_cert_skid(ca->cert, ca->skid) != 0) {
        rc = mp_err(MP_ERR_PROFILE, "%s: no 20-byte subjectKeyIdentifier", a->ca_cert);
    }
    return rc;
}

static int sign_main(mp_cmd *mc, const crl_args *a, mp_common *c)
{
    uint64_t d = a->days ? mp_opt_uint(a->days) : 30, number = 0;
    mp_ledger *l = NULL;
    mp_ks *ks = NULL;
    mp_ca ca = {0};
    mp_ks_key skey;
    X509 *scert = NULL;
    EVP_PKEY *spkey = NULL;
    X509_CRL *crl = NULL;
    uint8_t *der = NULL;
    int delegated = a->signer_cert != NULL || a->signer_key != NULL, rc;
    if (a->ca_cert == NULL || a->out == NULL || d == 0 || d > 3650) {
        return mp_err(MP_ERR_USAGE, "%s: --%s-cert and --out are required; --next-update-days 1..3650", a->cmd,
                      a->type == MP_PAI ? "pai" : "paa");
    }
    if (delegated ? (a->signer_cert == NULL || a->signer_key == NULL || a->ca_key != NULL) : a->ca_key == NULL) {
        return mp_err(MP_ERR_USAGE, "%s: sign with --%s-key, or with --signer-cert and --signer-key (not both)", a->cmd,
                      a->type == MP_PAI ? "pai" : "paa");
    }
    if (a->data_url != NULL && (strncmp(a->data_url, "http://", 7) != 0 && strncmp(a->data_url, "https://", 8) != 0)) {
        return mp_err(MP_ERR_INVALID, "--data-url: '%s' is not an http:// or https:// URL", a->data_url);
    }
    if ((rc = mp_check_output(a->out, c->force)) != MP_OK || (rc = mp_cmd_open(mc, c)) != MP_OK) {
        goto end;
    }
    l = mc->ledger;
    ks = mc->ks;
    if (delegated) {
        rc = open_ca_cert(a, &ca);
        if (rc == MP_OK) rc = open_delegated(ks, a, ca.cert, &scert, &spkey, &skey);
    } else {
        rc = mp_ca_open(ks, a->ca_cert, a->ca_key, a->type, 1, &ca);
    }
    if (rc != MP_OK) goto end;
    mp_crl_spec s = {.issuer = ca.cert, .signer_cert = delegated ? scert : ca.cert,
                     .signer = delegated ? spkey : ca.signer, .days = (long)d, .idp_url = a->data_url};
    if ((rc = mp_crl_sign(l, &s, &crl, &number)) != MP_OK) goto end;
    int n = i2d_X509_CRL(crl, &der);
    if (n <= 0) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "cannot encode the CRL");
        goto end;
    }
    if ((rc = mp_write_file(a->out, der, (size_t)n, 0644, c->force)) == MP_OK) {
        rc = mp_ceremony_log_signed(&c->rec, a->cmd, ks, delegated ? &skey : &ca.key, NULL, a->out);
    }
    if (rc == MP_OK && a->json) {
        rc = mp_json_print(json_pack("{sI ss sI sI sb}", "revoked", (json_int_t)sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)),
                                     "out", a->out, "crl_number", (json_int_t)number, "days", (json_int_t)d, "delegated", delegated));
    } else if (rc == MP_OK && !c->quiet) {
        printf("CRL number %llu with %d revoked %s(s)%s written to %s\n", (unsigned long long)number,
               sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), a->type == MP_PAI ? "DAC" : "PAI",
               delegated ? ", signed by the delegated CRL signer (indirect CRL)," : "", a->out);
    }
end:
    OPENSSL_free(der);
    X509_CRL_free(crl);
    EVP_PKEY_free(spkey);
    X509_free(scert);
    mp_ca_close(&ca);
    return rc;
}

/* --check opens nothing; signing needs the ledger (CRL numbers) and the token. */
static int crl_main(mp_cmd *mc, int type, const char *cmd, int argc, char **argv)
{
    crl_args a = {.type = type, .cmd = cmd};
    mp_common c = {0};
    int rc = parse(argc, argv, &a, &c);
    if (rc != MP_OK) return rc < 0 ? MP_OK : rc;
    return a.check ? check_main(&a) : sign_main(mc, &a, &c);
}

int pai_crl_main(mp_cmd *mc, int argc, char **argv)
{
    return crl_main(mc, MP_PAI, "pai crl", argc, argv);
}

int paa_crl_main(mp_cmd *mc, int argc, char **argv)
{
    return crl_main(mc, MP_PAA, "paa crl", argc, argv);
}
