/* cmd_crl_signer.c - `crl-signer create`: a delegated CRL signer, its key in
 * the token, certified by a PAA or PAI. */
#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "ca.h"
#include "crl.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"
#include "x509.h"

enum { O_ISSUER_CERT = 1, O_ISSUER_KEY, O_KEY_LABEL, O_CN, O_VID, O_FROM, O_DAYS, O_OUT };

static const mp_opt signer_opts[] = {
    {"issuer-cert", O_ISSUER_CERT, OT_FILE | OT_REQUIRED, "FILE", "the PAA or PAI that delegates CRL signing"},
    {"issuer-key", O_ISSUER_KEY, OT_STR | OT_REQUIRED, "LABEL|URI", "its key in the token"},
    {"key-label", O_KEY_LABEL, OT_STR | OT_REQUIRED, "LABEL", "label of the new CRL signer key in the token"},
    {"cn", O_CN, OT_STR, "CN", "subject common name (default: the issuer's CN + \" CRL Signer\")"},
    {"vid", O_VID, OT_HEX, "HEX", "vendor ID, only for a PAA without one (default: the issuer's VID)"},
    {"valid-from", O_FROM, OT_DATE, "DATE", "notBefore (default now)"},
    {"days", O_DAYS, OT_UINT, "N", "validity in days (default: until the issuer's notAfter)"},
    {"out", O_OUT, OT_OUT | OT_REQUIRED, "FILE", "CRL signer certificate output, PEM"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace an existing output file"},
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

typedef struct signer_args {
    const char *issuer_cert, *issuer_key, *label, *cn, *vid, *from, *days, *out;
} signer_args;

static int parse_signer(int argc, char **argv, signer_args *a, mp_common *c)
{
    mp_optparse p;
    const char *val;
    int id;
    mp_opt_init(&p, argc, argv, signer_opts, "crl-signer create",
                "--issuer-cert pai.pem|paa.pem --issuer-key LABEL --key-label L [--cn CN] [--days N] --out signer.pem",
                "Generates a CRL signing key in the token (EC P-256, non-extractable) and a certificate\n"
                "for it signed by the PAA or PAI: cA FALSE, keyUsage cRLSign only (critical), SKID,\n"
                "AKID = issuer SKID, the issuer's VID and, for a PAI-issued signer, the PAI's PID (the\n"
                "DCL compares them). `pai crl`/`paa crl --signer-cert --signer-key` then sign with it.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return -1;
        case O_ISSUER_CERT: a->issuer_cert = val; break;
        case O_ISSUER_KEY: a->issuer_key = val; break;
        case O_KEY_LABEL: a->label = val; break;
        case O_CN: a->cn = val; break;
        case O_VID: a->vid = val; break;
        case O_FROM: a->from = val; break;
        case O_DAYS: a->days = val; break;
        case O_OUT: a->out = val; break;
        default:
            if (!mp_opt_common(c, id, val)) return mp_err(MP_ERR_USAGE, "crl-signer create: unexpected argument '%s'", val ? val : "");
        }
    }
    if (id < 0) return -id;
    mp_common_finish(c);
    return MP_OK;
}

/* The subject: CN, the issuer's VID (or --vid for a PAA without one) and a PAI's PID. */
static int signer_spec(const signer_args *a, const mp_ca *ca, int type, mp_cert_spec *s, char *cn, size_t cnlen)
{
    const X509_NAME *in = X509_get_subject_name(ca->cert);
    int i = X509_NAME_get_index_by_NID(in, NID_commonName, -1);
    const ASN1_STRING *v = i >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(in, i)) : NULL;
    time_t ina = 0;
    if (a->cn != NULL) {
        snprintf(cn, cnlen, "%s", a->cn);
    } else if (v != NULL && ASN1_STRING_length(v) + 11 <= MP_MAX_CN) {
        snprintf(cn, cnlen, "%.*s CRL Signer", ASN1_STRING_length(v), (const char *)ASN1_STRING_get0_data(v));
    } else {
        snprintf(cn, cnlen, "CRL Signer");
    }
    s->type = MP_CRL_SIGNER;
    s->cn = cn;
    if (ca->vp.has_vid && a->vid != NULL) {
        return mp_err(MP_ERR_USAGE, "--vid: the issuer carries VID 0x%04X; the CRL signer takes it", ca->vp.vid);
    }
    s->vid = ca->vp.has_vid ? ca->vp.vid : a->vid ? (uint16_t)mp_opt_hex(a->vid) : 0;
    if (s->vid == 0) {
        return mp_err(MP_ERR_USAGE, "crl-signer create: the PAA has no VID; give the vendor ID with --vid (the DCL's revocation point VID)");
    }
    s->pid = type == MP_PAI && ca->vp.has_pid ? ca->vp.pid : 0;
    if (mp_asn1_time(X509_get0_notAfter(ca->cert), &ina) != 0) {
        return mp_err(MP_ERR_PROFILE, "%s: unreadable notAfter", a->issuer_cert);
    }
    int rc = mp_validity(a->from, a->days, a->days == NULL, 0, &s->not_before, &s->not_after);
    if (rc != MP_OK) return rc;
    if (s->not_after > ina) s->not_after = ina; /* never outlive the issuer */
    return MP_OK;
}

int crl_signer_create_main(mp_cmd *mc, int argc, char **argv)
{
    signer_args a = {0};
    mp_common c = {0};
    mp_ca ca = {0};
    mp_cert_spec spec = {0};
    X509 *probe = NULL;
    char cn[MP_MAX_CN + 16];
    int rc = parse_signer(argc, argv, &a, &c);
    if (rc != MP_OK) return rc < 0 ? MP_OK : rc;
    if ((rc = mp_check_output(a.out, c.force)) != MP_OK || (rc = mp_cert_load(a.issuer_cert, &probe)) != MP_OK) {
        return rc;
    }
    int type = X509_check_issued(probe, probe) == X509_V_OK ? MP_PAA : MP_PAI;
    X509_free(probe);
    if ((rc = mp_cmd_open(mc, &c)) != MP_OK || (rc = mp_ca_open(mc->ks, a.issuer_cert, a.issuer_key, type, 1, &ca)) != MP_OK ||
        (rc = signer_spec(&a, &ca, type, &spec, cn, sizeof(cn))) != MP_OK) {
        goto end;
    }
    mp_ks *ks = mc->ks;
    rc = mp_ca_ceremony(ks, &c.rec, "crl-signer create", a.label, &spec, &ca, a.out);
    if (rc == MP_OK && !c.quiet) {
        printf("CRL signer certificate for the %s written to %s (key '%s' on token '%s'): VID 0x%04X%s\n",
               type == MP_PAA ? "PAA" : "PAI", a.out, a.label, mp_ks_token_label(ks), spec.vid,
               spec.pid ? ", PID of the PAI" : "");
    }
end:
    mp_ca_close(&ca);
    return rc;
}
