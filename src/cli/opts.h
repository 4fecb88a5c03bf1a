/*
 * opts.h - typed option tables for subcommands.
 *
 * A command declares its options as data; mp_opt_next() returns them one by
 * one after checking the value's type, so a command's switch only ever sees
 * well-formed values. --help is generated from the table.
 */
#ifndef MP_OPTS_H
#define MP_OPTS_H

#include <stdint.h>
#include <stdlib.h>

#include "ceremony.h"
#include "keystore.h"

enum mp_opt_type {
    OT_FLAG,    /* no value */
    OT_STR,     /* any string */
    OT_FILE,    /* an input file that must exist */
    OT_OUT,     /* an output path */
    OT_DIR,     /* a directory */
    OT_UINT,    /* decimal, or hex when written 0x... */
    OT_HEX,     /* hex, 0x optional (VID, PID, serial) */
    OT_DATE,    /* YYYY-MM-DD[THH:MM:SSZ] UTC */
    OT_ENUM,    /* one of the |-separated words in .arg */
};
/* Or'ed into an option's type: the command cannot run without it. The parser
 * checks it once the arguments are read (usage error naming every missing
 * one) and --help marks it, so a command does not check it by hand. */
#define OT_REQUIRED 0x100
/* Or'ed into an option's type: the option may be given more than once (the
 * command collects every value). A missing required one is reported as
 * "at least one --NAME". */
#define OT_REPEATABLE 0x200
#define OT_TYPE(t) ((t) & 0xff)

typedef struct mp_opt {
    const char *name; /* long name without "--"; NULL ends the table */
    int id;           /* returned by mp_opt_next */
    int type;
    const char *arg;  /* value placeholder, or the choices for OT_ENUM */
    const char *help;
} mp_opt;

/* Set .arg of the option with this id (choices computed at run time, e.g.
 * the factory-data format table). */
void mp_opt_set_arg(mp_opt *opts, int id, const char *arg);

/* Shared option ids: the HSM group and common flags. */
enum {
    OPT_HELP = 1000,
    OPT_MODULE, OPT_TOKEN, OPT_PIN_FILE, OPT_STATE_DIR, OPT_OPERATOR,
    OPT_FORCE, OPT_QUIET, OPT_POSITIONAL, OPT_NO_PROMPT, OPT_FORCE_PIN_TRY,
    OPT_LEDGER, /* --ledger PATH|URI: the ledger mp_cmd_open opens (cmd.h) */
};

#define MP_OPTS_HSM                                                                     \
    {"module", OPT_MODULE, OT_STR, "PATH", "PKCS#11 module (default SoftHSMv2; env MATTER_PKI_MODULE)"}, \
    {"token", OPT_TOKEN, OT_STR, "LABEL", "token label"},                             \
    {"pin-file", OPT_PIN_FILE, OT_FILE, "FILE", "user PIN file (else env MATTER_PKI_PIN, else prompt)"}, \
    {"force-pin-try", OPT_FORCE_PIN_TRY, OT_FLAG, NULL, "try the PIN even when the token says one try is left"}

#define MP_OPTS_COMMON                                                                  \
    {"state-dir", OPT_STATE_DIR, OT_STR, "DIR", "state directory (else env MATTER_PKI_STATE, else the nearest .matter-pki above the current folder)"}, \
    {"no-prompt", OPT_NO_PROMPT, OT_FLAG, NULL, "never ask for a PIN on the terminal (env MATTER_PKI_NO_PROMPT=1)"}, \
    {"operator", OPT_OPERATOR, OT_STR, "NAME", "operator recorded in logs (default $USER)"}, \
    {"help", OPT_HELP, OT_FLAG, NULL, "show this help"}

/* Settings every command shares. */
typedef struct mp_common {
    mp_hsm_cfg hsm;
    const char *state_dir;
    const char *ledger;  /* --ledger, else NULL ($MATTER_PKI_LEDGER or the state directory's) */
    const char *operator_name;
    int force;
    int quiet;
    mp_ceremony_cfg rec; /* what core's ceremony steps need; set by mp_common_finish */
    int state_found;     /* state_dir exists (else it is where token init would make it) */
    char state_buf[4096];
} mp_common;

typedef struct mp_optparse {
    int argc;
    char **argv;
    int i;
    const mp_opt *opts;
    const char *cmd;      /* "paa create" */
    const char *synopsis; /* one line of usage after the command */
    const char *about;    /* paragraph for --help */
    uint64_t seen;        /* bit k: opts[k] was given (the first 64 options) */
} mp_optparse;

void mp_opt_init(mp_optparse *p, int argc, char **argv, const mp_opt *opts,
                 const char *cmd, const char *synopsis, const char *about);
/* Next option: returns its id and sets *val; 0 at the end; OPT_POSITIONAL for
 * an operand; OPT_HELP after printing help (the command returns 0); a
 * negative exit code on a usage error (already recorded with mp_err). */
int mp_opt_next(mp_optparse *p, const char **val);
/* A failure found before the command ran (its state is missing) that must not
 * hide a usage error: the next parser returns it, as -rc with its message,
 * only once it has read a command line without a usage error (mp_opt_next's
 * end), so "unknown option" and "--x is required" come first (exit 2); an
 * option value refused for another reason (an input file that is missing)
 * gets the deferred error instead.
 * mp_opt_deferred_end(r), after the command returned r: r if the parser
 * returned the deferred error or refused the command line; the deferred error
 * itself if the command never finished a parse. */
void mp_opt_defer(int rc);
int mp_opt_deferred_end(int r);
/* Handle a shared option; returns 1 if handled. */
int mp_opt_common(mp_common *c, int id, const char *val);
/* Defaults for state dir etc. after parsing. */
void mp_common_finish(mp_common *c);
void mp_opt_help(const mp_optparse *p);
/* When set, mp_opt_help calls this instead of printing help (used by the
 * hidden `help --dump-options` that generates man pages and completion). */
extern void (*mp_opt_help_hook)(const mp_optparse *p);

/* An unexpected argument as it may be shown in a message: never in full, as
 * it may be a PIN typed in the wrong place ("'ab...' (9 characters)"). */
const char *mp_opt_shown(const char *val);

/* The value of an option known to be given: an OT_REQUIRED one once
 * mp_opt_next has returned 0 (the parser refused the command line without
 * it), or one the command has already checked (one of two required). val is
 * never NULL here; taking it through this states that where it is used, for
 * readers and for clang's analyzer (`make scan`), which cannot follow the
 * parser's bookkeeping (p->seen) to the command's own variables. NULL would
 * be a programming error (the table lacks OT_REQUIRED, or the switch the
 * case): abort before anything is done rather than pass NULL on. */
static inline const char *mp_opt_given(const char *val)
{
    if (val == NULL) {
        abort();
    }
    return val;
}

/* Helpers that turn an already type-checked value into a number. */
uint64_t mp_opt_uint(const char *val);
uint64_t mp_opt_hex(const char *val);

/* --json: print one compact JSON object (a jansson json_t *, consumed; NULL
 * when it could not be built) as one line on stdout. */
int mp_json_print(void *obj) MP_MUST_CHECK;

#endif
