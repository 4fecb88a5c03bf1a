/* cmd.c - see cmd.h. */
#include "cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_end.h"
#include "err.h"
#include "state.h"

/* What the end-of-command audit checkpoint needs, copied: c lives in the
 * command's frame, gone when the dispatcher signs. */
static void keep_common(mp_cmd *x, const mp_common *c)
{
    snprintf(x->state_dir, sizeof(x->state_dir), "%s", c->state_dir ? c->state_dir : "");
    x->hsm = c->hsm;
    x->hsm.state_dir = x->state_dir;
    x->rec = c->rec;
    x->rec.state_dir = x->state_dir;
    x->quiet = c->quiet;
    x->kept = 1;
}

int mp_cmd_audit_end(mp_cmd *x, const mp_common *c, mp_ledger *l, int failed)
{
    if (c != NULL) keep_common(x, c);
    if (!x->kept) return MP_OK;
    return mp_cli_audit_end(l, &x->ks, &x->hsm, &x->rec, x->quiet, failed);
}

int mp_cmd_open_needs(mp_cmd *x, const mp_common *c, int which)
{
    const int ledger_bits = NEEDS_LEDGER | NEEDS_LEDGER_RO;
    int rc = MP_OK;
    if ((which & ~x->def->needs & (ledger_bits | NEEDS_TOKEN)) != 0) {
        return mp_err(MP_ERR_GENERAL, "internal: '%s%s%s' opens what its row in the command table does not declare",
                      x->def->group, x->def->name ? " " : "", x->def->name ? x->def->name : "");
    }
    keep_common(x, c);
    if ((which & ledger_bits) && x->ledger == NULL) {
        int mode = (x->def->needs & NEEDS_LEDGER) ? MP_LEDGER_WRITE : MP_LEDGER_READ;
        rc = mp_ledger_open_as(c->state_dir, c->ledger, mode, &x->ledger);
    }
    if (rc == MP_OK && (which & NEEDS_TOKEN) && x->ks == NULL) {
        rc = mp_ks_open(&c->hsm, &x->ks);
    }
    return rc;
}

int mp_cmd_open(mp_cmd *x, const mp_common *c)
{
    return mp_cmd_open_needs(x, c, x->def->needs);
}

void mp_cmd_close(mp_cmd *x)
{
    mp_err_hold(); /* closing never replaces the command's error */
    mp_ks_close(x->ks);
    x->ks = NULL;
    mp_ledger_close(x->ledger);
    x->ledger = NULL;
    mp_err_release();
}

/* The value of --NAME V or --NAME=V among the command's arguments. */
static const char *arg_value(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0 || strncmp(argv[i] + 2, name, n) != 0) {
            continue;
        }
        if (argv[i][2 + n] == '=') {
            return argv[i] + 3 + n;
        }
        if (argv[i][2 + n] == 0 && i + 1 < argc) {
            return argv[i + 1];
        }
    }
    return NULL;
}

/* NEEDS_STATE / NEEDS_LEDGER checked before the command runs, so that a
 * command in the wrong folder fails the same way everywhere. */
static int check_needs(const mp_cmd_def *d, int argc, char **argv)
{
    char dir[4096];
    int need = d->needs & (NEEDS_STATE | NEEDS_LEDGER | NEEDS_LEDGER_RO);
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return MP_OK;
        }
    }
    if (need == 0 || (d->needs & NEEDS_LATE)) {
        return MP_OK;
    }
    const char *env_ledger = getenv("MATTER_PKI_LEDGER");
    if (!(need & NEEDS_STATE) &&
        (arg_value(argc, argv, "ledger") != NULL || (env_ledger != NULL && *env_ledger))) {
        return MP_OK; /* the ledger is named (or MATTER_PKI_LEDGER); no state directory needed */
    }
    return mp_state_find(arg_value(argc, argv, "state-dir"), getenv("MATTER_PKI_STATE"), dir, sizeof(dir));
}

int mp_cmd_run(const mp_cmd_def *d, int argc, char **argv)
{
    mp_cmd x = {.def = d};
    int rc = check_needs(d, argc, argv);
    if (rc == MP_OK) {
        rc = d->fn(&x, argc, argv);
    } else {
        /* the state is missing: the command still reads its command line, so
         * that a usage error (exit 2) is reported before the missing state
         * (exit 21); its parser returns the state's error at the end of a
         * valid line, before the command does anything */
        mp_opt_defer(rc);
        rc = mp_opt_deferred_end(d->fn(&x, argc, argv));
    }
    /* every command that wrote audit rows: a checkpoint at its end (issue 16) */
    if (x.ledger != NULL && rc == MP_OK) {
        rc = mp_cmd_audit_end(&x, NULL, x.ledger, 0);
    } else if (x.ledger != NULL) {
        mp_err_hold(); /* the command's error stays the error */
        (void)!mp_cmd_audit_end(&x, NULL, x.ledger, 1);
        mp_err_release();
    }
    mp_cmd_close(&x);
    return rc;
}
