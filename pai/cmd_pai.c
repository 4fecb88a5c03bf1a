/* cmd_pai.c - `pai create` and `pai csr`: the PAI key ceremony. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ceremony.h"
#include "keystore.h"
#include "opts.h"
#include "pai_req.h"
#include "src/commands.h"
#include "util.h"

enum { O_PAA_CERT = 1, O_PAA_KEY, O_KEY_LABEL, O_CN, O_VID, O_PID, O_FROM, O_DAYS,
       O_NO_EXPIRY, O_OUT, O_TEST_MODE, O_SUBJECT };

/* ---- pai create ---------------------------------------------------------- */

static const mp_opt create_opts[] = {
    {"paa-cert", O_PAA_CERT, OT_FILE | OT_REQUIRED, "FILE", "PAA certificate"},
    {"paa-key", O_PAA_KEY, OT_STR | OT_REQUIRED, "LABEL|URI", "PAA key in the token"},
    {"key-label", O_KEY_LABEL, OT_STR | OT_REQUIRED, "LABEL", "label of the new PAI key"},
    {"cn", O_CN, OT_STR, "CN", "subject common name (or --subject)"},
    {"subject", O_SUBJECT, OT_STR, "DN", "full subject, e.g. \"/C=NL/O=Acme Inc/CN=Acme PAI\" (C, ST, L, O, OU, serialNumber, CN; in this order)"},
    {"vid", O_VID, OT_HEX | OT_REQUIRED, "HEX", "vendor ID, hex 0001..FFF4"},
    {"pid", O_PID, OT_HEX, "HEX", "product ID, hex (optional)"},
    {"valid-from", O_FROM, OT_DATE, "DATE", "notBefore (default now)"},
    {"days", O_DAYS, OT_UINT, "N", "validity in days (default: no expiry)"},
    {"no-expiry", O_NO_EXPIRY, OT_FLAG, NULL, "notAfter 99991231235959Z (the default)"},
    {"out", O_OUT, OT_OUT | OT_REQUIRED, "FILE", "PAI certificate output, PEM"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace an existing output file"},
    {"test-mode", O_TEST_MODE, OT_FLAG, NULL, "allow the Matter SDK test PAAs (certification rejects them)"},
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

typedef struct pai_args {
    const char *paa_cert, *paa_key, *label, *cn, *subj, *vid, *pid, *from, *days, *out;
    int no_expiry, test_mode;
    mp_subject subject;
} pai_args;

static int parse(mp_optparse *p, mp_common *c, pai_args *a)
{
    const char *val;
    int id;
    while ((id = mp_opt_next(p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return OPT_HELP;
        case O_PAA_CERT: a->paa_cert = val; break;
        case O_PAA_KEY: a->paa_key = val; break;
        case O_KEY_LABEL: a->label = val; break;
        case O_CN: a->cn = val; break;
        case O_SUBJECT: a->subj = val; break;
        case O_VID: a->vid = val; break;
        case O_PID: a->pid = val; break;
        case O_FROM: a->from = val; break;
        case O_DAYS: a->days = val; break;
        case O_NO_EXPIRY: a->no_expiry = 1; break;
        case O_TEST_MODE: a->test_mode = 1; break;
        case O_OUT: a->out = val; break;
        default:
            if (!mp_opt_common(c, id, val)) return -mp_err(MP_ERR_USAGE, "%s: unexpected argument %s", p->cmd, mp_opt_shown(val));
        }
    }
    mp_common_finish(c);
    if (id == 0) {
        a->out = mp_opt_given(a->out);
    }
    return id;
}

static int subject_args(const char *cmd, pai_args *a, mp_cert_spec *spec)
{
    int rc;
    /* --key-label, --vid and --out are OT_REQUIRED; a choice of two is not */
    if ((a->cn == NULL) == (a->subj == NULL)) {
        return mp_err(MP_ERR_USAGE, "%s: one of --cn or --subject is required (not both)", cmd);
    }
    if (a->cn != NULL && strlen(a->cn) > MP_MAX_CN) {
        return mp_err(MP_ERR_INVALID, "--cn: at most %d characters", MP_MAX_CN);
    }
    if ((rc = a->subj != NULL ? mp_subject_parse(a->subj, &a->subject) : mp_subject_cn(a->cn, &a->subject)) != MP_OK) {
        return rc;
    }
    spec->type = MP_PAI;
    spec->cn = mp_subject_get0_cn(&a->subject);
    spec->subject = &a->subject;
    if ((rc = mp_parse_vid("--vid", a->vid, &spec->vid)) != MP_OK ||
        (a->pid != NULL && (rc = mp_parse_pid("--pid", a->pid, &spec->pid)) != MP_OK)) {
        return rc;
    }
    return MP_OK;
}

int pai_create_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    pai_args a = {0};
    mp_cert_spec spec = {0};
    mp_ca paa = {0};
    int rc;
    mp_opt_init(&p, argc, argv, create_opts, "pai create",
                "--paa-cert paa.pem --paa-key L --key-label L2 (--cn CN | --subject DN) --vid HEX [--pid HEX] --out pai.pem",
                "Generates the PAI key inside the token and signs its certificate with the PAA\n"
                "key in the token: pathLen 0, VID required (equal to the PAA's VID if the PAA\n"
                "has one), PID optional.");
    if ((rc = parse(&p, &c, &a)) != 0) {
        return rc == OPT_HELP ? MP_OK : -rc;
    }
    if ((rc = subject_args("pai create", &a, &spec)) != MP_OK ||
        (rc = mp_validity(a.from, a.days, a.no_expiry, 0, &spec.not_before, &spec.not_after)) != MP_OK ||
        (rc = mp_check_output(a.out, c.force)) != MP_OK) {
        return rc;
    }
    if ((rc = mp_cmd_open(mc, &c)) != MP_OK ||
        (rc = mp_ca_open(mc->ks, a.paa_cert, a.paa_key, MP_PAA, a.test_mode, &paa)) != MP_OK ||
        (rc = mp_pai_check_vid(&paa, spec.vid)) != MP_OK) {
        goto end;
    }
    mp_ks *ks = mc->ks;
    rc = mp_ca_ceremony(ks, &c.rec, "pai create", a.label, &spec, &paa, a.out);
    if (rc == MP_OK && !c.quiet) {
        printf("PAI certificate written to %s (key '%s' on token '%s')\n", a.out, a.label, mp_ks_token_label(ks));
    }
end:
    mp_ca_close(&paa);
    return rc;
}

/* ---- pai csr ------------------------------------------------------------- */

static const mp_opt csr_opts[] = {
    {"key-label", O_KEY_LABEL, OT_STR | OT_REQUIRED, "LABEL", "label of the new PAI key"},
    {"cn", O_CN, OT_STR, "CN", "subject common name (or --subject)"},
    {"subject", O_SUBJECT, OT_STR, "DN", "full subject, e.g. \"/C=NL/O=Acme Inc/CN=Acme PAI\" (C, ST, L, O, OU, serialNumber, CN; in this order)"},
    {"vid", O_VID, OT_HEX | OT_REQUIRED, "HEX", "vendor ID, hex 0001..FFF4"},
    {"pid", O_PID, OT_HEX, "HEX", "product ID, hex (optional)"},
    {"out", O_OUT, OT_OUT | OT_REQUIRED, "FILE", "CSR output, PEM"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace an existing output file"},
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

static EVP_PKEY *point_pkey(const uint8_t point[65])
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, 65),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        pk = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

static int write_csr(mp_ks *ks, const mp_ks_key *key, const mp_cert_spec *spec, const char *out, int force)
{
    X509_REQ *r = X509_REQ_new();
    EVP_PKEY *pub = point_pkey(key->point), *signer = mp_ks_signer(ks, key);
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    int rc = MP_ERR_GENERAL;
    X509_NAME *n = X509_NAME_new();
    char hex[5];
    if (spec->subject != NULL) {
        mp_subject_add(spec->subject, n);
    } else {
        X509_NAME_add_entry_by_NID(n, NID_commonName, V_ASN1_UTF8STRING, (const unsigned char *)spec->cn, -1, -1, 0);
    }
    snprintf(hex, sizeof(hex), "%04X", spec->vid);
    X509_NAME_add_entry_by_txt(n, "1.3.6.1.4.1.37244.2.1", V_ASN1_UTF8STRING, (const unsigned char *)hex, -1, -1, 0);
    if (spec->pid != 0) {
        snprintf(hex, sizeof(hex), "%04X", spec->pid);
        X509_NAME_add_entry_by_txt(n, "1.3.6.1.4.1.37244.2.2", V_ASN1_UTF8STRING, (const unsigned char *)hex, -1, -1, 0);
    }
    if (r == NULL || pub == NULL || signer == NULL || b == NULL || X509_REQ_set_version(r, 0) != 1 ||
        X509_REQ_set_subject_name(r, n) != 1 || X509_REQ_set_pubkey(r, pub) != 1 ||
        X509_REQ_sign(r, signer, EVP_sha256()) <= 0 || PEM_write_bio_X509_REQ(b, r) != 1) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "cannot make the CSR");
    } else {
        long len = BIO_get_mem_data(b, &data);
        rc = mp_write_file(out, data, (size_t)len, 0644, force);
    }
    X509_NAME_free(n);
    BIO_free(b);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(signer);
    X509_REQ_free(r);
    return rc;
}

int pai_csr_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    pai_args a = {0};
    mp_cert_spec spec = {0};
    mp_ks_key key;
    int rc;
    mp_opt_init(&p, argc, argv, csr_opts, "pai csr",
                "--key-label L2 (--cn CN | --subject DN) --vid HEX [--pid HEX] --out pai.csr",
                "Generates the PAI key inside the token and writes a PKCS#10 request, signed\n"
                "with it, for a PAA held by another party (`paa sign-pai` on their side).");
    if ((rc = parse(&p, &c, &a)) != 0) {
        return rc == OPT_HELP ? MP_OK : -rc;
    }
    if ((rc = subject_args("pai csr", &a, &spec)) != MP_OK || (rc = mp_check_output(a.out, c.force)) != MP_OK ||
        (rc = mp_cmd_open(mc, &c)) != MP_OK) {
        return rc;
    }
    mp_ks *ks = mc->ks;
    if ((rc = mp_ks_generate(ks, a.label, &key)) != MP_OK) {
        return rc;
    }
    if ((rc = write_csr(ks, &key, &spec, a.out, c.force)) != MP_OK ||
        (rc = mp_ceremony_log_signed(&c.rec, "pai csr", ks, &key, NULL, a.out)) != MP_OK) {
        if (rc != MP_ERR_EXISTS) {
            unlink(a.out);
        }
        mp_ks_delete(ks, &key);
        return rc;
    }
    if (!c.quiet) {
        printf("PAI CSR written to %s (key '%s' on token '%s')\n", a.out, a.label, mp_ks_token_label(ks));
    }
    return rc;
}
