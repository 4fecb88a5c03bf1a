/* cmd_token.c - `matter-pki token init`: a SoftHSM token for development. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <p11-kit/pkcs11.h>

#include "commands.h"
#include "ceremony.h"
#include "keystore.h"
#include "ledger.h"
#include "opts.h"
#include "pin.h"
#include "state.h"
#include "util.h"

enum { O_LABEL = 1, O_SO_PIN_FILE };

static const mp_opt opts[] = {
    {"label", O_LABEL, OT_STR | OT_REQUIRED, "LABEL", "token label (at most 32 characters)"},
    {"pin-file", OPT_PIN_FILE, OT_FILE, "FILE", "user PIN file (else env MATTER_PKI_PIN, else prompt)"},
    {"so-pin-file", O_SO_PIN_FILE, OT_FILE, "FILE", "security officer PIN file (else env MATTER_PKI_SO_PIN, else prompt)"},
    {"module", OPT_MODULE, OT_STR, "PATH", "PKCS#11 module (default SoftHSMv2)"},
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

static int write_conf(const char *state)
{
    char conf[4096], tokens[4096], body[8300];
    struct stat st;
    snprintf(conf, sizeof(conf), "%s/softhsm2.conf", state);
    snprintf(tokens, sizeof(tokens), "%s/tokens", state);
    int rc = mp_mkdir_p(tokens, 0700);
    if (rc != MP_OK || stat(conf, &st) == 0) {
        return rc;
    }
    char *abs = realpath(tokens, NULL);
    snprintf(body, sizeof(body),
             "# SoftHSMv2 configuration written by matter-pki token init\n"
             "directories.tokendir = %s\nobjectstore.backend = file\n"
             "log.level = ERROR\nslots.removable = false\n", abs ? abs : tokens);
    free(abs);
    return mp_write_file(conf, body, strlen(body), 0600, 0);
}

int token_init_main(mp_cmd *mc, int argc, char **argv)
{
    (void)mc;
    mp_optparse p;
    mp_common c = {0};
    const char *label = NULL, *so_file = NULL, *val;
    char *pin = NULL, *so_pin = NULL;
    int id, rc;
    mp_opt_init(&p, argc, argv, opts, "token init", "--label LABEL [--pin-file F --so-pin-file F]",
                "Creates a SoftHSMv2 token for development and demos under the state directory,\n"
                "with its own softhsm2.conf, so nothing global is touched. Later commands that\n"
                "name the same --state-dir use this token.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id == O_LABEL) label = val;
        else if (id == O_SO_PIN_FILE) so_file = val;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "token init: unexpected argument %s", mp_opt_shown(val));
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    label = mp_opt_given(label);
    if (*label == 0 || strlen(label) > 32) {
        return mp_err(MP_ERR_USAGE, "token init: --label LABEL must be 1..32 characters");
    }
    char pki[MP_PKI_ID_LEN + 1];
    if ((rc = mp_state_create(c.state_dir, pki)) != MP_OK || (rc = write_conf(c.state_dir)) != MP_OK) {
        return rc;
    }
    mp_ks_prepare_env(&c.hsm);
    if ((rc = mp_pin_read(c.hsm.pin_file, "MATTER_PKI_PIN", "New user PIN: ", 1, &pin)) != MP_OK ||
        (rc = mp_pin_read(so_file, "MATTER_PKI_SO_PIN", "New SO PIN: ", 1, &so_pin)) != MP_OK) {
        goto end;
    }
    if (strlen(pin) < 4 || strlen(so_pin) < 4) {
        rc = mp_err(MP_ERR_INVALID, "PINs must be at least 4 characters");
        goto end;
    }
    if ((rc = mp_ks_init_token(&c.hsm, label, so_pin, pin)) != MP_OK) {
        goto end;
    }
    /* the ledger is made with the state, bound to its PKI ID: from now on a
     * missing or empty ledger here is an error, never a fresh start. Opened
     * here, not by the dispatcher: creating it (MP_LEDGER_CREATE) is this
     * command's job. */
    mp_ledger *l = NULL;
    if ((rc = mp_ledger_open_as(c.state_dir, NULL, MP_LEDGER_CREATE, &l)) == MP_OK) {
        mp_ledger_close(l);
        rc = mp_ceremony_log(&c.rec, "token init", label, NULL, NULL, NULL);
    }
    if (rc == MP_OK) {
        printf("token '%s' initialised in %s/softhsm2.conf (PKI %s, ledger %s/ledger.sqlite)\n", label, c.state_dir, pki, c.state_dir);
    }
end:
    mp_pin_free(pin);
    mp_pin_free(so_pin);
    return rc;
}

/* ---- token list ---------------------------------------------------------- */

static const mp_opt list_opts[] = {
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

static const char *cls_name(unsigned long cls)
{
    switch (cls) {
    case CKO_PRIVATE_KEY: return "private-key";
    case CKO_PUBLIC_KEY: return "public-key";
    case CKO_SECRET_KEY: return "secret-key";
    case CKO_CERTIFICATE: return "certificate";
    case CKO_DATA: return "data";
    default: return "other";
    }
}

static const char *yn(int v) { return v < 0 ? "-" : v ? "yes" : "no"; }

static void print_obj(const mp_ks_obj *o)
{
    char id[129];
    mp_hex(o->id, o->id_len, id, 0);
    int key = o->cls == CKO_PRIVATE_KEY || o->cls == CKO_SECRET_KEY;
    printf("%-12s %-24s %-40s %-5s %-5s %-5s %-5s %-5s %s\n", cls_name(o->cls), o->label, o->id_len ? id : "-",
           key ? yn(o->sensitive) : "-", key ? yn(o->extractable) : "-", key ? yn(o->sign) : "-",
           key ? yn(o->derive) : "-", yn(o->modifiable), yn(o->copyable));
}

int token_list_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    mp_ks_obj *objs = NULL;
    size_t n = 0;
    const char *val;
    int id, rc;
    mp_opt_init(&p, argc, argv, list_opts, "token list", "[--token LABEL] [--pin-file F]",
                "Lists every object on the token: class, label, CKA_ID, and for keys whether\n"
                "they are sensitive, extractable, may sign, may derive, and whether the\n"
                "object may be modified or copied. CA keys made by matter-pki show\n"
                "sensitive yes, extractable no, sign yes, derive no, modifiable no, copyable no.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "token list: unexpected argument %s", mp_opt_shown(val));
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    if ((rc = mp_cmd_open(mc, &c)) != MP_OK || (rc = mp_ks_list(mc->ks, &objs, &n)) != MP_OK) {
        goto end;
    }
    printf("token '%s' (%zu objects)\n", mp_ks_token_label(mc->ks), n);
    printf("%-12s %-24s %-40s %-5s %-5s %-5s %-5s %-5s %s\n", "class", "label", "id", "sens", "extr", "sign", "derv", "modif", "copy");
    for (size_t i = 0; i < n; i++) {
        print_obj(&objs[i]);
    }
end:
    free(objs);
    return rc;
}
