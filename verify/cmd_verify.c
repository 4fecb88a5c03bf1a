/* cmd_verify.c - `matter-pki verify attestation`. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "opts.h"
#include "trust.h"
#include "src/commands.h"
#include "util.h"
#include "verify.h"

enum { O_PAA = 1, O_PAI, O_DAC, O_CD, O_CD_SIGNER, O_VID, O_PID, O_AT, O_REVSET, O_CRL, O_CRL_SIGNER,
       O_PRODUCTION, O_JSON };

static const mp_opt opts[] = {
    {"paa", O_PAA, OT_FILE | OT_REQUIRED | OT_REPEATABLE, "FILE|DIR", "trusted PAA certificate, PEM or DER, or a trust folder of *.der files (repeatable)"},
    {"pai", O_PAI, OT_FILE, "FILE", "PAI certificate (without it the verdict is 207 kPaiMissing)"},
    {"dac", O_DAC, OT_FILE | OT_REQUIRED, "FILE", "DAC certificate"},
    {"cd", O_CD, OT_FILE, "FILE", "CMS-signed Certification Declaration, DER (optional)"},
    {"cd-signer", O_CD_SIGNER, OT_FILE, "FILE|DIR", "trusted CD signing certificate, or a folder of *.der files (repeatable)"},
    {"vid", O_VID, OT_HEX, "HEX", "Basic Information VendorID (default: the DAC's VID)"},
    {"pid", O_PID, OT_HEX, "HEX", "Basic Information ProductID (default: the DAC's PID)"},
    {"at", O_AT, OT_DATE, "TIME", "verification time, RFC 3339 (2025-06-01T00:00:00Z) or YYYY-MM-DD (default now)"},
    {"revocation-set", O_REVSET, OT_FILE, "FILE", "revocation-set JSON (chip-tool --dac-revocation-set-path format)"},
    {"crl", O_CRL, OT_FILE, "FILE", "CRL of the PAI or PAA, DER or PEM (repeatable)"},
    {"crl-signer", O_CRL_SIGNER, OT_FILE, "FILE", "delegated CRL signer certificate (repeatable)"},
    {"production", O_PRODUCTION, OT_FLAG, NULL, "add the certification-test checks (TC-DA-1.2, TC-DA-1.7)"},
    {"json", O_JSON, OT_FLAG, NULL, "print a JSON report instead of one line per check"},
    {"help", OPT_HELP, OT_FLAG, NULL, "show this help"},
    {NULL, 0, 0, NULL, NULL},
};

typedef struct args {
    int json;
    int revset_given;
    const char *revset;
} args;

static int add_file(mp_va_buf *arr, size_t *n, size_t max, const char *what, const char *path, int crl)
{
    if (*n >= max) {
        return mp_err(MP_ERR_USAGE, "verify attestation: at most %zu %s", max, what);
    }
    int rc = crl ? mp_va_load_crl(path, &arr[*n]) : mp_va_load_cert(path, &arr[*n]);
    if (rc == MP_OK) (*n)++;
    return rc;
}

/* A trust folder (as chip-tool's --paa-trust-store-path): every *.der file
 * directly in it. */
/* A trust folder's file names: the inputs borrow them (mp_va_buf.name) until
 * the verdict is printed, so they are freed with the inputs, not here. */
static struct {
    char **files[16];
    size_t n_files[16];
    size_t n;
} held;

static void held_free(void)
{
    for (size_t i = 0; i < held.n; i++) mp_trust_files_free(held.files[i], held.n_files[i]);
    held.n = 0;
}

static int add_buf(mp_va_buf *arr, size_t *n, size_t max, const char *what, const char *path, int crl)
{
    char **files = NULL;
    size_t nf = 0;
    int rc;
    if (crl || !mp_is_dir(path)) return add_file(arr, n, max, what, path, crl);
    if ((rc = mp_trust_dir_files(path, ".der", &files, &nf)) != MP_OK) return rc;
    if (nf == 0) rc = mp_err(MP_ERR_INVALID, "%s %s: the folder holds no *.der certificate", what, path);
    if (rc == MP_OK && held.n >= sizeof(held.files) / sizeof(held.files[0])) {
        rc = mp_err(MP_ERR_USAGE, "%s %s: at most 16 trust folders", what, path);
    }
    if (rc != MP_OK) {
        mp_trust_files_free(files, nf);
        return rc;
    }
    held.files[held.n] = files;
    held.n_files[held.n++] = nf;
    for (size_t i = 0; i < nf && rc == MP_OK; i++) rc = add_file(arr, n, max, what, files[i], 0);
    return rc;
}

static int one(mp_va_buf *b, const char *path)
{
    if (b->der != NULL) {
        return mp_err(MP_ERR_USAGE, "verify attestation: %s given twice", path);
    }
    return mp_va_load_cert(path, b);
}

static int load_cd(mp_va_buf *b, const char *path)
{
    b->name = path;
    return mp_read_file(path, 64 * 1024, &b->der, &b->len);
}

static int option(mp_va_input *in, args *a, int id, const char *val)
{
    time_t t;
    switch (id) {
    case O_PAA: return add_buf(in->paa, &in->n_paa, MP_VA_MAX_PAAS, "--paa", val, 0);
    case O_CD_SIGNER: return add_buf(in->cd_signer, &in->n_cd_signer, MP_VA_MAX_SIGNERS, "--cd-signer", val, 0);
    case O_CRL_SIGNER: return add_buf(in->crl_signer, &in->n_crl_signer, MP_VA_MAX_SIGNERS, "--crl-signer", val, 0);
    case O_CRL: in->has_revocation = 1; return add_buf(in->crl, &in->n_crl, MP_VA_MAX_CRLS, "--crl", val, 1);
    case O_PAI: return one(&in->pai, val);
    case O_DAC: return one(&in->dac, val);
    case O_CD: return in->cd.der ? mp_err(MP_ERR_USAGE, "verify attestation: one --cd") : load_cd(&in->cd, val);
    case O_VID: in->has_vid = 1; in->vid = (uint16_t)mp_opt_hex(val); break;
    case O_PID: in->has_pid = 1; in->pid = (uint16_t)mp_opt_hex(val); break;
    case O_AT: if (mp_parse_time(val, &t) != MP_OK) return MP_ERR_USAGE; in->at = t; break;
    case O_REVSET: a->revset = val; a->revset_given++; break;
    case O_PRODUCTION: in->production = 1; break;
    case O_JSON: a->json = 1; break;
    default: return mp_err(MP_ERR_USAGE, "verify attestation: unexpected argument %s", mp_opt_shown(val));
    }
    return MP_OK;
}

static int check_args(const mp_va_input *in, const args *a, const char *vid, const char *pid)
{
    if (in->n_paa == 0) { /* --paa and --dac are OT_REQUIRED; a --paa folder may hold none */
        return mp_err(MP_ERR_USAGE, "verify attestation: --paa gave no PAA certificate");
    }
    if (a->revset_given > 1 || (a->revset_given && in->n_crl > 0)) {
        return mp_err(MP_ERR_USAGE, "verify attestation: give one --revocation-set or --crl files, not both");
    }
    if (in->cd.der != NULL && in->n_cd_signer == 0) {
        return mp_err(MP_ERR_USAGE, "verify attestation: --cd needs at least one --cd-signer");
    }
    if ((vid && mp_opt_hex(vid) > 0xFFFF) || (pid && mp_opt_hex(pid) > 0xFFFF)) {
        return mp_err(MP_ERR_USAGE, "verify attestation: --vid and --pid are 16-bit hex values");
    }
    return MP_OK;
}

int verify_attestation_main(mp_cmd *mc, int argc, char **argv)
{
    (void)mc;
    mp_optparse p;
    mp_va_input in = {0};
    args a = {0};
    mp_va_report rep;
    const char *val, *vid = NULL, *pid = NULL;
    int id, rc = MP_OK;
    in.at = time(NULL);
    mp_opt_init(&p, argc, argv, opts, "verify attestation",
                "--paa PAA --pai PAI --dac DAC [--cd CD --cd-signer CERT] [--vid HEX --pid HEX] [--at TIME]\n"
                "       [--revocation-set FILE | --crl FILE...] [--production] [--json]",
                "Judges a DAC chain and CD as the Matter SDK's default attestation verifier does:\n"
                "the same checks, in the same order, with its AttestationVerificationResult codes.\n"
                "Exit 0 when accepted; 19 when rejected (code and name in the message).");
    while (rc == MP_OK && (id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) { mp_va_input_free(&in); held_free(); return MP_OK; }
        if (id == O_VID) vid = val;
        if (id == O_PID) pid = val;
        rc = option(&in, &a, id, val);
    }
    if (rc == MP_OK && id < 0) rc = -id;
    if (rc == MP_OK) rc = check_args(&in, &a, vid, pid);
    if (rc == MP_OK && a.revset) rc = mp_va_load_revset(a.revset, &in);
    if (rc == MP_OK) rc = mp_va_verify(&in, &rep);
    if (rc == MP_OK) {
        if (a.json) rc = mp_va_print_json(&rep, stdout);
        else mp_va_print_text(&rep, stdout);
    }
    if (rc == MP_OK && rep.code != VA_SUCCESS) {
        rc = mp_err(MP_ERR_ATTESTATION, "attestation rejected: %d %s (%s: %s)", rep.code, mp_va_code_name(rep.code),
                    mp_va_check_name(rep.failed), rep.checks[rep.failed].detail);
    }
    mp_va_input_free(&in);
    held_free();
    return rc;
}
