/* cmd_cert.c - `matter-pki cert lint`: one certificate against its profile. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "lint.h"
#include "opts.h"
#include "x509.h"

enum { O_TYPE = 1 };

static const mp_opt opts[] = {
    {"type", O_TYPE, OT_ENUM | OT_REQUIRED, "paa|pai|dac", "the profile to check against"},
    {"help", OPT_HELP, OT_FLAG, NULL, "show this help"},
    {NULL, 0, 0, NULL, NULL},
};

int cert_lint_main(mp_cmd *mc, int argc, char **argv)
{
    (void)mc;
    mp_optparse p;
    const char *type = NULL, *file = NULL, *val;
    int id, rc;
    X509 *x = NULL;
    mp_lint lint;
    mp_opt_init(&p, argc, argv, opts, "cert lint", "--type paa|pai|dac FILE",
                "Checks one certificate (PEM or DER) against the Matter attestation profile and\n"
                "prints every violated rule. Exit 0 when it conforms, 11 otherwise.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id == O_TYPE) type = val;
        else if (id == OPT_POSITIONAL && file == NULL) file = val;
        else return mp_err(MP_ERR_USAGE, "cert lint: unexpected argument %s", mp_opt_shown(val));
    }
    if (id < 0) return -id;
    type = mp_opt_given(type);
    if (file == NULL) { /* an operand: the option table cannot declare it */
        return mp_err(MP_ERR_USAGE, "cert lint: FILE is required");
    }
    if ((rc = mp_cert_load(file, &x)) != MP_OK) {
        return rc;
    }
    int t = strcmp(type, "paa") == 0 ? MP_PAA : strcmp(type, "pai") == 0 ? MP_PAI : MP_DAC;
    int n = mp_lint_cert(x, t, &lint);
    X509_free(x);
    for (int i = 0; i < lint.count; i++) {
        printf("%s: FAIL: %s\n", file, lint.msg[i]);
    }
    if (n > 0) {
        return mp_err(MP_ERR_PROFILE, "%s: %d %s rule%s violated", file, n, type, n == 1 ? "" : "s");
    }
    printf("%s: OK: conforms to the Matter %s profile\n", file, type);
    return MP_OK;
}
