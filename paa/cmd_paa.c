/* cmd_paa.c - `paa create` and `paa sign-pai`: the PAA key ceremony. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "src/commands.h"
#include "ca.h"
#include "ceremony.h"
#include "keystore.h"
#include "subject.h"
#include "opts.h"
#include "util.h"
#include "x509.h"
#include "pai_req.h"

enum { O_KEY_LABEL = 1, O_CN, O_VID, O_FROM, O_DAYS, O_NO_EXPIRY, O_OUT, O_NO_PATHLEN,
       O_PAA_CERT, O_PAA_KEY, O_CSR, O_TEST_MODE, O_SUBJECT };

static const mp_opt create_opts[] = {
    {"key-label", O_KEY_LABEL, OT_STR | OT_REQUIRED, "LABEL", "label of the new PAA key in the token"},
    {"cn", O_CN, OT_STR, "CN", "subject common name, at most 64 characters (or --subject)"},
    {"subject", O_SUBJECT, OT_STR, "DN", "full subject, e.g. \"/C=NL/O=Acme Inc/CN=Acme PAA\" (C, ST, L, O, OU, serialNumber, CN; in this order)"},
    {"vid", O_VID, OT_HEX, "HEX", "vendor ID, hex 0001..FFF4 (optional for a PAA)"},
    {"valid-from", O_FROM, OT_DATE, "DATE", "notBefore, YYYY-MM-DD[THH:MM:SSZ] UTC (default now)"},
    {"days", O_DAYS, OT_UINT, "N", "validity in days (default: no expiry)"},
    {"no-expiry", O_NO_EXPIRY, OT_FLAG, NULL, "notAfter 99991231235959Z (the default)"},
    {"no-pathlen", O_NO_PATHLEN, OT_FLAG, NULL, "omit pathLen from basicConstraints (default pathLen 1)"},
    {"out", O_OUT, OT_OUT | OT_REQUIRED, "FILE", "PAA certificate output, PEM"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace an existing output file"},
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

int paa_create_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *label = NULL, *cn = NULL, *subj = NULL, *vid = NULL, *from = NULL, *days = NULL, *out = NULL, *val;
    int no_expiry = 0, no_pathlen = 0, id, rc;
    mp_subject subject;
    mp_opt_init(&p, argc, argv, create_opts, "paa create",
                "--key-label L (--cn CN | --subject DN) [--vid HEX] [--valid-from DATE] [--days N | --no-expiry] --out paa.pem",
                "Generates the PAA key pair inside the token (EC P-256, sensitive, never\n"
                "extractable, CKA_ID = SKID) and self-signs the PAA certificate per the Matter\n"
                "profile: no PID, pathLen 1 (or absent), keyCertSign+cRLSign critical, SKID/AKID.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return MP_OK;
        case O_KEY_LABEL: label = val; break;
        case O_CN: cn = val; break;
        case O_SUBJECT: subj = val; break;
        case O_VID: vid = val; break;
        case O_FROM: from = val; break;
        case O_DAYS: days = val; break;
        case O_NO_EXPIRY: no_expiry = 1; break;
        case O_NO_PATHLEN: no_pathlen = 1; break;
        case O_OUT: out = val; break;
        default:
            if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "paa create: unexpected argument %s", mp_opt_shown(val));
        }
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    if ((cn == NULL) == (subj == NULL)) { /* --key-label and --out are OT_REQUIRED; a choice of two is not */
        return mp_err(MP_ERR_USAGE, "paa create: one of --cn or --subject is required (not both)");
    }
    if ((rc = subj != NULL ? mp_subject_parse(subj, &subject) : mp_subject_cn(cn, &subject)) != MP_OK) {
        return rc;
    }
    cn = mp_subject_get0_cn(&subject);
    mp_cert_spec spec = {.type = MP_PAA, .cn = cn, .subject = &subject, .paa_pathlen_absent = no_pathlen};
    if ((vid != NULL && (rc = mp_parse_vid("--vid", vid, &spec.vid)) != MP_OK) ||
        (rc = mp_validity(from, days, no_expiry, 0, &spec.not_before, &spec.not_after)) != MP_OK ||
        (rc = mp_check_output(out, c.force)) != MP_OK) {
        return rc;
    }
    if (strlen(cn) > MP_MAX_CN) {
        return mp_err(MP_ERR_INVALID, "--cn: at most %d characters", MP_MAX_CN);
    }
    if ((rc = mp_cmd_open(mc, &c)) != MP_OK) {
        return rc;
    }
    rc = mp_ca_ceremony(mc->ks, &c.rec, "paa create", label, &spec, NULL, out);
    if (rc == MP_OK && !c.quiet) {
        printf("PAA certificate written to %s (key '%s' on token '%s')\n", out, label, mp_ks_token_label(mc->ks));
    }
    return rc;
}

/* ---- paa sign-pai -------------------------------------------------------- */

static const mp_opt sign_opts[] = {
    {"paa-cert", O_PAA_CERT, OT_FILE | OT_REQUIRED, "FILE", "PAA certificate"},
    {"paa-key", O_PAA_KEY, OT_STR | OT_REQUIRED, "LABEL|URI", "PAA key in the token"},
    {"csr", O_CSR, OT_FILE | OT_REQUIRED, "FILE", "PKCS#10 request made by `pai csr`"},
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

int paa_sign_pai_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *paa_cert = NULL, *paa_key = NULL, *csr = NULL, *from = NULL, *days = NULL, *out = NULL, *val;
    int no_expiry = 0, test_mode = 0, id, rc;
    mp_ca paa = {0};
    mp_pai_req req = {0};
    X509 *cert = NULL;
    mp_opt_init(&p, argc, argv, sign_opts, "paa sign-pai",
                "--paa-cert paa.pem --paa-key L --csr pai.csr [--days N | --no-expiry] --out pai.pem",
                "Signs a PAI certificate for a PAI key held by another party. The CSR's\n"
                "signature is checked (proof of possession) and its subject re-validated:\n"
                "exactly one CN, O/OU/C/ST/L/serialNumber within their limits (kept in the\n"
                "CSR's order), matter-vid (required, equal to the PAA's if it has one),\n"
                "matter-pid optional.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return MP_OK;
        case O_PAA_CERT: paa_cert = val; break;
        case O_PAA_KEY: paa_key = val; break;
        case O_CSR: csr = val; break;
        case O_FROM: from = val; break;
        case O_DAYS: days = val; break;
        case O_NO_EXPIRY: no_expiry = 1; break;
        case O_TEST_MODE: test_mode = 1; break;
        case O_OUT: out = val; break;
        default:
            if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "paa sign-pai: unexpected argument %s", mp_opt_shown(val));
        }
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    paa_cert = mp_opt_given(paa_cert);
    paa_key = mp_opt_given(paa_key);
    csr = mp_opt_given(csr);
    out = mp_opt_given(out);
    mp_cert_spec spec = {.type = MP_PAI};
    if ((rc = mp_validity(from, days, no_expiry, 0, &spec.not_before, &spec.not_after)) != MP_OK ||
        (rc = mp_check_output(out, c.force)) != MP_OK || (rc = mp_pai_req_load(csr, &req)) != MP_OK) {
        return rc;
    }
    spec.cn = req.cn;
    spec.subject = &req.subj;
    spec.vid = req.vid;
    spec.pid = req.pid;
    spec.point = req.point;
    if ((rc = mp_cmd_open(mc, &c)) != MP_OK ||
        (rc = mp_ca_open(mc->ks, paa_cert, paa_key, MP_PAA, test_mode, &paa)) != MP_OK ||
        (rc = mp_pai_check_vid(&paa, spec.vid)) != MP_OK) {
        goto end;
    }
    spec.issuer = paa.cert;
    if ((rc = mp_cert_build(&spec, paa.signer, &cert)) != MP_OK ||
        (rc = mp_cert_write_pem(out, cert, c.force)) != MP_OK) {
        goto end;
    }
    if ((rc = mp_ceremony_log_signed(&c.rec, "paa sign-pai", mc->ks, &paa.key, cert, out)) != MP_OK) {
        unlink(out);
        goto end;
    }
    if (!c.quiet) {
        printf("PAI certificate for '%s' written to %s\n", req.cn, out);
    }
end:
    X509_free(cert);
    mp_ca_close(&paa);
    return rc;
}
