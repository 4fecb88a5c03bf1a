/* cmd_trust.c - `trust export`: our PAA(s) and development CD signer(s) in
 * the layout each consumer reads, and the one setting that makes it use them.
 *
 * What the consumers read (their sources, mid-2026):
 *   chip-tool --paa-trust-store-path DIR: every *.der file directly in DIR
 *     (FileAttestationTrustStore, not recursive), DER, at most 600 bytes,
 *     passing the PAA format check (others are dropped silently);
 *     --cd-trust-store-path DIR: the same loader, public keys only.
 *   python-matter-server --paa-root-cert-dir DIR (Home Assistant add-on:
 *     /data/credentials): <name>_<skid>.pem and .der pairs; a DIR without a
 *     .version file is treated as an old store and emptied at start-up.
 *   Test harness (certification-tool): DER files in /var/paa-root-certs/ on
 *     the harness host, used when dut_config.chip_tool_use_paa_certs is true.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "lint.h"
#include "opts.h"
#include "src/commands.h"
#include "trust.h"
#include "util.h"
#include "x509.h"

enum { O_FOR = 1, O_OUT, O_PAA, O_CD_SIGNER };
enum { F_CHIP_TOOL, F_MATTER_SERVER, F_TEST_HARNESS, F_DIR };
#define MAX_CERTS 32

static const mp_opt opts[] = {
    {"for", O_FOR, OT_ENUM | OT_REQUIRED, "chip-tool|matter-server|test-harness|dir", "the consumer whose layout to write"},
    {"out", O_OUT, OT_OUT | OT_REQUIRED, "DIR", "output directory, created"},
    {"paa", O_PAA, OT_FILE | OT_REQUIRED | OT_REPEATABLE, "FILE|DIR", "PAA certificate, PEM or DER, or a folder of them (repeatable)"},
    {"cd-signer", O_CD_SIGNER, OT_FILE, "FILE|DIR", "development CD signer certificate (repeatable)"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "write into an existing directory, replacing files"},
    {"help", OPT_HELP, OT_FLAG, NULL, "show this help"},
    {NULL, 0, 0, NULL, NULL},
};

typedef struct certs {
    X509 *x[MAX_CERTS];
    size_t n;
} certs;

static int add_one(certs *c, const char *path)
{
    if (c->n == MAX_CERTS) return mp_err(MP_ERR_USAGE, "trust export: at most %d certificates of a kind", MAX_CERTS);
    int rc = mp_cert_load(path, &c->x[c->n]);
    if (rc == MP_OK) c->n++;
    return rc == MP_OK ? MP_OK : mp_err_ctx(rc, "%s", path);
}

static int add(certs *c, const char *path)
{
    char **files = NULL;
    size_t n = 0;
    int rc = MP_OK;
    if (!mp_is_dir(path)) return add_one(c, path);
    if ((rc = mp_trust_dir_files(path, NULL, &files, &n)) != MP_OK) return rc;
    for (size_t i = 0; i < n && rc == MP_OK; i++) {
        size_t l = strlen(files[i]);
        /* a folder holding both encodings (matter-server) lists each PAA twice */
        if (strcmp(files[i] + l - 4, ".pem") == 0) {
            char der[4096];
            snprintf(der, sizeof(der), "%.*s.der", (int)(l - 4), files[i]);
            if (access(der, F_OK) == 0) continue;
        }
        rc = add_one(c, files[i]);
    }
    mp_trust_files_free(files, n);
    return rc;
}

/* chip-tool drops a PAA that fails the format check or exceeds 600 bytes,
 * and then says only "PAA not found": refuse such a PAA here instead. */
static int check_paas(const certs *p)
{
    for (size_t i = 0; i < p->n; i++) {
        mp_lint l;
        int len = i2d_X509(p->x[i], NULL);
        char name[120];
        mp_trust_cert_name(p->x[i], name);
        if (mp_lint_cert(p->x[i], MP_PAA, &l) > 0) {
            return mp_err(MP_ERR_PROFILE, "PAA %s: %s; chip-tool would drop it from the trust store", name, l.msg[0]);
        }
        if (len > MP_MAX_CERT_DER) {
            return mp_err(MP_ERR_PROFILE, "PAA %s is %d bytes; trust stores drop PAAs over %d", name, len, MP_MAX_CERT_DER);
        }
    }
    return MP_OK;
}

static int write_cert(const char *dir, X509 *x, int der, int pem, const char *prefix)
{
    char name[120], path[4096];
    uint8_t *d = NULL;
    size_t n = 0;
    int rc = mp_mkdir_p(dir, 0755);
    mp_trust_cert_name(x, name);
    if (rc == MP_OK && der) {
        snprintf(path, sizeof(path), "%s/%s%s.der", dir, prefix, name);
        if ((rc = mp_cert_der(x, &d, &n)) == MP_OK) rc = mp_write_file(path, d, n, 0644, 1);
        OPENSSL_free(d);
    }
    if (rc == MP_OK && pem) {
        snprintf(path, sizeof(path), "%s/%s%s.pem", dir, prefix, name);
        rc = mp_cert_write_pem(path, x, 1);
    }
    return rc;
}

static int write_set(const char *dir, const certs *c, int der, int pem, const char *prefix)
{
    int rc = MP_OK;
    for (size_t i = 0; i < c->n && rc == MP_OK; i++) rc = write_cert(dir, c->x[i], der, pem, prefix);
    return rc;
}

static int write_layout(int kind, const char *out, const certs *paa, const certs *cd)
{
    char a[4096], b[4096];
    int rc;
    switch (kind) {
    case F_CHIP_TOOL:
        snprintf(a, sizeof(a), "%s/paa", out);
        snprintf(b, sizeof(b), "%s/cd", out);
        rc = write_set(a, paa, 1, 0, "");
        if (rc == MP_OK && cd->n) rc = write_set(b, cd, 1, 0, "");
        return rc;
    case F_MATTER_SERVER:
        rc = write_set(out, paa, 1, 1, "matter_pki_");
        snprintf(a, sizeof(a), "%s/.version", out);
        return rc == MP_OK ? mp_write_file(a, "1", 1, 0644, 1) : rc;
    case F_TEST_HARNESS:
        return write_set(out, paa, 1, 0, "");
    default:
        snprintf(a, sizeof(a), "%s/paa", out);
        snprintf(b, sizeof(b), "%s/cd-signers", out);
        rc = write_set(a, paa, 1, 1, "");
        if (rc == MP_OK && cd->n) rc = write_set(b, cd, 1, 1, "");
        return rc;
    }
}

static void how_to_use(int kind, const char *out, const certs *cd)
{
    switch (kind) {
    case F_CHIP_TOOL:
        printf("use it: chip-tool pairing code <node-id> <setup-code> --paa-trust-store-path %s/paa%s%s%s\n", out,
               cd->n ? " --cd-trust-store-path " : "", cd->n ? out : "", cd->n ? "/cd" : "");
        break;
    case F_MATTER_SERVER:
        printf("use it: matter-server --storage-path /data --paa-root-cert-dir %s\n"
               "        (Home Assistant add-on: copy the files, .version included, into /data/credentials)\n", out);
        if (cd->n) printf("note: matter-server has no CD trust store setting; --cd-signer was not written\n");
        break;
    case F_TEST_HARNESS:
        printf("use it: sudo cp %s/*.der /var/paa-root-certs/ on the harness, and set \"chip_tool_use_paa_certs\": true in the project's dut_config\n", out);
        if (cd->n) printf("note: the harness reads PAAs only; --cd-signer was not written\n");
        break;
    default:
        printf("use it: matter-pki verify attestation --paa %s/paa%s%s%s ...\n", out, cd->n ? " --cd-signer " : "",
               cd->n ? out : "", cd->n ? "/cd-signers" : "");
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    (void)remove(path); /* best effort */
    return 0;
}

int trust_export_main(mp_cmd *mc, int argc, char **argv)
{
    (void)mc;
    mp_optparse p;
    const char *val, *out = NULL, *what = NULL;
    certs paa = {0}, cd = {0};
    int id, rc = MP_OK, force = 0, kind = 0;
    mp_opt_init(&p, argc, argv, opts, "trust export",
                "--for chip-tool|matter-server|test-harness|dir --out DIR --paa paa.pem [--cd-signer cd-signer.pem]",
                "Writes PAA(s) and development CD signer(s) in the folder layout a controller or test tool\n"
                "reads (file names and encodings as its trust-store loader expects) and prints the one\n"
                "command or setting that makes it use them. PAAs are checked as chip-tool checks them.");
    while (rc == MP_OK && (id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return MP_OK;
        case O_FOR: what = val; break;
        case O_OUT: out = val; break;
        case O_PAA: rc = add(&paa, val); break;
        case O_CD_SIGNER: rc = add(&cd, val); break;
        case OPT_FORCE: force = 1; break;
        default: rc = mp_err(MP_ERR_USAGE, "trust export: unexpected argument %s", mp_opt_shown(val));
        }
    }
    if (rc == MP_OK && id < 0) rc = -id;
    if (rc == MP_OK && paa.n == 0) { /* --for, --out and --paa are OT_REQUIRED; a --paa folder may hold none */
        rc = mp_err(MP_ERR_USAGE, "trust export: --paa gave no PAA certificate");
    }
    if (rc == MP_OK) {
        what = mp_opt_given(what);
        out = mp_opt_given(out);
        kind = strcmp(what, "chip-tool") == 0 ? F_CHIP_TOOL : strcmp(what, "matter-server") == 0 ? F_MATTER_SERVER
             : strcmp(what, "test-harness") == 0 ? F_TEST_HARNESS : F_DIR;
        rc = check_paas(&paa);
    }
    if (rc == MP_OK && access(out, F_OK) == 0 && !force) {
        rc = mp_err(MP_ERR_EXISTS, "%s exists (use --force to write into it)", out);
    }
    if (rc == MP_OK) {
        /* a new folder appears complete or not at all */
        char tmp[4096];
        int fresh = access(out, F_OK) != 0;
        snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", out, (long)getpid());
        rc = write_layout(kind, fresh ? tmp : out, &paa, &cd);
        if (rc == MP_OK && fresh && rename(tmp, out) != 0) rc = mp_err(MP_ERR_IO, "%s: cannot rename into place", out);
        if (rc != MP_OK && fresh) nftw(tmp, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    }
    if (rc == MP_OK) {
        printf("%zu PAA(s)%s written to %s for %s\n", paa.n, cd.n && (kind == F_CHIP_TOOL || kind == F_DIR) ? " and CD signer(s)" : "", out, what);
        how_to_use(kind, out, &cd);
    }
    for (size_t i = 0; i < paa.n; i++) X509_free(paa.x[i]);
    for (size_t i = 0; i < cd.n; i++) X509_free(cd.x[i]);
    return rc;
}
