/*
 * cmd.h - the command context the dispatcher gives every subcommand.
 *
 * A command's row in src/main.c states once what it needs (NEEDS_* flags).
 * The command parses its options (shared ones through mp_opt_common, so
 * --state-dir, --ledger and the HSM group are read in one place), checks its
 * inputs, then calls mp_cmd_open(): the dispatcher's code opens the ledger
 * and/or the token the row declares, and the dispatcher closes them after the
 * command returns, on every path. A command never opens or closes them
 * itself in the normal way; a command that needs a ledger in a special mode
 * (create, a second ledger) opens that one explicitly and says why.
 */
#ifndef MP_CLI_CMD_H
#define MP_CLI_CMD_H

#include "keystore.h"
#include "ledger.h"
#include "opts.h"

/* NEEDS_STATE: the state directory must exist before the command runs.
 * NEEDS_LEDGER: a ledger, --ledger PATH or the state directory's, checked
 *   before the command runs (like NEEDS_STATE unless the ledger is named) and
 *   opened for writing by mp_cmd_open; NEEDS_LEDGER_RO: the same, opened
 *   read-only (never migrated or written).
 * NEEDS_TOKEN: the key store (token session, logged in) opened by
 *   mp_cmd_open after the ledger.
 * NEEDS_LATE: nothing is checked before the command runs, as one of its
 *   modes needs none of it (paa crl --check); opening reports what is
 *   missing.
 * --help never needs anything. */
enum {
    NEEDS_NOTHING = 0,
    NEEDS_STATE = 1,
    NEEDS_LEDGER = 2,
    NEEDS_TOKEN = 4,
    NEEDS_LEDGER_RO = 8,
    NEEDS_LATE = 16,
};

typedef struct mp_cmd mp_cmd;
typedef int (*mp_cmd_fn)(mp_cmd *mc, int argc, char **argv);

/* One row of the command table. */
typedef struct mp_cmd_def {
    const char *group;
    const char *name; /* NULL for one-word commands */
    mp_cmd_fn fn;
    const char *summary;
    int needs; /* NEEDS_* */
} mp_cmd_def;

/* What a command is given. ledger and ks are NULL until mp_cmd_open. */
struct mp_cmd {
    const mp_cmd_def *def;
    mp_ledger *ledger; /* NEEDS_LEDGER / NEEDS_LEDGER_RO */
    mp_ks *ks;         /* NEEDS_TOKEN (or opened at the end for the audit checkpoint) */
    /* the common settings mp_cmd_open was given, kept for the audit
     * checkpoint the dispatcher signs after the command (audit_end.h) */
    int kept;
    mp_hsm_cfg hsm;
    mp_ceremony_cfg rec;
    int quiet;
    char state_dir[4096];
};

/* The options are parsed and the inputs checked: open everything the row
 * declares (ledger first, then token) with the common settings `c` (state
 * directory, --ledger, HSM group; after mp_common_finish). */
int mp_cmd_open(mp_cmd *x, const mp_common *c) MP_MUST_CHECK;
/* The same for part of what the row declares (`which`, NEEDS_* bits): for a
 * mode of a command that needs less (e.g. `pai crl --check` needs no token)
 * or needs the token before the ledger. Asking for what the row does not
 * declare is a programming error (MP_ERR_GENERAL). Opening what is already
 * open does nothing. */
int mp_cmd_open_needs(mp_cmd *x, const mp_common *c, int which) MP_MUST_CHECK;
/* The audit checkpoint at the end of a command (audit_end.h) for ledger l:
 * the dispatcher calls it for x->ledger after every command (failed: the
 * command failed, no token is opened for it), with the settings mp_cmd_open
 * kept (c NULL); a command calls it for a ledger it opened itself (chips
 * import's, ledger migrate's destination) with its settings c. A token it
 * opens goes to x->ks (closed by the dispatcher). */
int mp_cmd_audit_end(mp_cmd *x, const mp_common *c, mp_ledger *l, int failed) MP_MUST_CHECK;
/* Close what is open (token, then ledger); safe to call twice. */
void mp_cmd_close(mp_cmd *x);

/* The dispatcher: check the row's preconditions (skipped for --help), run
 * the command with a fresh context, close what it opened, on every path.
 * Returns the command's exit code; the message stays recorded (mp_err). */
int mp_cmd_run(const mp_cmd_def *d, int argc, char **argv);

#endif
