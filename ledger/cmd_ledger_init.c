/* cmd_ledger_init.c - `matter-pki ledger init`: a new, empty ledger on purpose. */
#include <stdio.h>
#include <string.h>

#include "src/commands.h"
#include "ledger.h"
#include "opts.h"
#include "state.h"
#include "util.h"

static const mp_opt opts[] = {
    {"ledger", OPT_LEDGER, OT_OUT, "PATH", "the new ledger file (default STATE_DIR/ledger.sqlite)"},
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

int ledger_init_main(mp_cmd *mc, int argc, char **argv)
{
    (void)mc; /* its row needs only the state directory: see below */
    mp_optparse p;
    mp_common c = {0};
    mp_ledger *l = NULL;
    const char *val;
    char def[4200];
    int id, rc;
    mp_opt_init(&p, argc, argv, opts, "ledger init", "[--ledger PATH]",
                "Starts a new, empty ledger bound to the PKI of the state directory. It never\n"
                "replaces a file that exists (even an empty one): a lost ledger is restored\n"
                "from a backup, not started again by accident. token init makes the first one.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "ledger init: unexpected argument %s", mp_opt_shown(val));
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    const char *path = c.ledger;
    snprintf(def, sizeof(def), "%s/ledger.sqlite", c.state_dir);
    if ((rc = mp_check_output(path ? path : def, 0)) != MP_OK) {
        return rc;
    }
    /* Opened here, not by the dispatcher: this command creates the ledger
     * (MP_LEDGER_CREATE), which no other command may do. */
    if ((rc = mp_ledger_open_as(c.state_dir, path, MP_LEDGER_CREATE, &l)) != MP_OK) {
        return rc;
    }
    printf("new ledger %s\n", mp_ledger_path(l));
    mp_ledger_close(l);
    return MP_OK;
}
