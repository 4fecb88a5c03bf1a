/* test_cmd.c - the dispatcher's command context (src/cli/cmd.h): what a
 * command's row declares is opened for it and closed after it, on every
 * path; required options are a usage error naming them before anything is
 * opened; --help needs nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "err.h"
#include "ledger.h"
#include "opts.h"
#include "pin.h"
#include "state.h"
#include "testutil.h"

static char dir[64], st[96];

enum { T_ORDER = 1 };

static const mp_opt t_opts[] = {
    {"order", T_ORDER, OT_UINT | OT_REQUIRED, "ID", "an order"},
    {"ledger", OPT_LEDGER, OT_STR, "PATH", "ledger"},
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

/* What the test command saw. */
static struct {
    int calls;
    int had_ledger; /* mc->ledger was open after mp_cmd_open */
    int began;      /* it holds a write transaction when it fails */
} seen;

/* A command in the usual shape: parse, mp_cmd_open, use, fail. It never
 * closes the ledger: the dispatcher must. */
static int t_fail_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val;
    int id, rc;
    seen.calls++;
    mp_opt_init(&p, argc, argv, t_opts, "test fail", NULL, NULL);
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id != T_ORDER && !mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "test fail: unexpected argument");
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    if ((rc = mp_cmd_open(mc, &c)) != MP_OK) return rc;
    seen.had_ledger = mc->ledger != NULL;
    seen.began = mp_ledger_begin(mc->ledger) == MP_OK;
    return mp_err(MP_ERR_QUOTA, "test fail: order 7 has no quota left");
}

/* Asks for the token, which its row does not declare. */
static int t_undeclared_main(mp_cmd *mc, int argc, char **argv)
{
    mp_common c = {0};
    (void)argc;
    (void)argv;
    seen.calls++;
    c.state_dir = st;
    return mp_cmd_open_needs(mc, &c, NEEDS_TOKEN);
}

static const mp_cmd_def t_fail = {"test", "fail", t_fail_main, "fails with the ledger open", NEEDS_LEDGER};
static const mp_cmd_def t_undeclared = {"test", "undeclared", t_undeclared_main, "opens what it does not declare", NEEDS_LEDGER};

static void setup(void)
{
    char id[MP_PKI_ID_LEN + 1];
    mp_ledger *l = NULL;
    snprintf(dir, sizeof(dir), "/tmp/mp-cmd.XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    snprintf(st, sizeof(st), "%s/state", dir);
    CU_ASSERT_FATAL(mp_state_create(st, id) == MP_OK);
    CU_ASSERT_FATAL(mp_ledger_open_as(st, NULL, MP_LEDGER_CREATE, &l) == MP_OK);
    mp_ledger_close(l);
    memset(&seen, 0, sizeof(seen));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CU_ASSERT(system(cmd) == 0);
}

/* A NEEDS_LEDGER command gets an open ledger; when it fails holding a write
 * transaction, the dispatcher still closes the ledger (the transaction is
 * gone: another connection can write at once) and its error stays. */
static void test_ledger_closed_after_error(void)
{
    char a0[] = "--order", a1[] = "7", a2[] = "--state-dir", a3[sizeof(st)];
    setup();
    snprintf(a3, sizeof(a3), "%s", st);
    char *argv[] = {a0, a1, a2, a3};
    mp_err_clear();
    CU_ASSERT_EQUAL(mp_cmd_run(&t_fail, 4, argv), MP_ERR_QUOTA);
    CU_ASSERT_EQUAL(seen.calls, 1);
    CU_ASSERT(seen.had_ledger);
    CU_ASSERT(seen.began);
    CU_ASSERT_STRING_EQUAL(mp_err_msg(), "test fail: order 7 has no quota left");
    mp_ledger *l = NULL;
    CU_ASSERT_FATAL(mp_ledger_open_as(st, NULL, MP_LEDGER_WRITE, &l) == MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_begin(l), MP_OK); /* BEGIN IMMEDIATE: busy if the first were still open */
    CU_ASSERT_EQUAL(mp_ledger_commit(l), MP_OK);
    mp_ledger_close(l);
    teardown();
}

/* A missing required option: usage error naming it, nothing opened. */
static void test_required_option(void)
{
    char a0[] = "--state-dir", a1[sizeof(st)];
    setup();
    snprintf(a1, sizeof(a1), "%s", st);
    char *argv[] = {a0, a1};
    mp_err_clear();
    CU_ASSERT_EQUAL(mp_cmd_run(&t_fail, 2, argv), MP_ERR_USAGE);
    CU_ASSERT_STRING_EQUAL(mp_err_msg(), "test fail: --order is required");
    CU_ASSERT_EQUAL(seen.had_ledger, 0);
    teardown();
}

static void quiet_help(const mp_optparse *p)
{
    (void)p;
}

/* --help needs no state; a missing state stops the command at the end of its
 * parse (after a usage error, before it opens or does anything). */
static void test_help_and_missing_state(void)
{
    char a0[] = "--help", a1[] = "--order", a2[] = "1", a3[] = "--state-dir", a4[] = "/nonexistent/mp-state";
    char *help[] = {a0, a3, a4};
    memset(&seen, 0, sizeof(seen));
    mp_opt_help_hook = quiet_help; /* the help text is not what is tested */
    int rc = mp_cmd_run(&t_fail, 3, help);
    mp_opt_help_hook = NULL;
    CU_ASSERT_EQUAL(rc, MP_OK);
    CU_ASSERT_EQUAL(seen.calls, 1);
    CU_ASSERT_EQUAL(seen.had_ledger, 0);
    char *run[] = {a1, a2, a3, a4};
    mp_err_clear();
    CU_ASSERT_EQUAL(mp_cmd_run(&t_fail, 4, run), MP_ERR_NO_STATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "/nonexistent/mp-state"));
    CU_ASSERT_EQUAL(seen.calls, 2);      /* it read its command line */
    CU_ASSERT_EQUAL(seen.had_ledger, 0); /* and stopped there */
    CU_ASSERT_EQUAL(seen.began, 0);
    char *usage[] = {a3, a4};            /* no --order: the usage error comes first */
    CU_ASSERT_EQUAL(mp_cmd_run(&t_fail, 2, usage), MP_ERR_USAGE);
    CU_ASSERT_STRING_EQUAL(mp_err_msg(), "test fail: --order is required");
    CU_ASSERT_EQUAL(seen.had_ledger, 0);
}

/* Opening what the row does not declare is refused (a programming error). */
static void test_undeclared_need(void)
{
    char a0[] = "--state-dir", a1[sizeof(st)];
    setup();
    snprintf(a1, sizeof(a1), "%s", st);
    char *argv[] = {a0, a1};
    mp_err_clear();
    CU_ASSERT_EQUAL(mp_cmd_run(&t_undeclared, 2, argv), MP_ERR_GENERAL);
    CU_ASSERT(strstr(mp_err_msg(), "does not declare") != NULL);
    teardown();
}

/* A command that appends an audit row (committed), then returns t_audit_rc;
 * its PIN source is t_audit_pin (NULL: none). */
static int t_audit_rc;
static const char *t_audit_pin;
static int t_audit_main(mp_cmd *mc, int argc, char **argv)
{
    mp_common c = {0};
    int rc;
    (void)argc;
    (void)argv;
    c.state_dir = st;
    mp_common_finish(&c);
    c.hsm.pin_file = t_audit_pin;
    c.quiet = 1; /* no note on the test's stderr */
    if ((rc = mp_cmd_open(mc, &c)) != MP_OK) return rc;
    if ((rc = mp_ledger_begin(mc->ledger)) != MP_OK || (rc = mp_ledger_audit(mc->ledger, "s", "test.change", "x", "{}")) != MP_OK ||
        (rc = mp_ledger_commit(mc->ledger)) != MP_OK) {
        return rc;
    }
    return t_audit_rc == MP_OK ? MP_OK : mp_err(t_audit_rc, "test audit: failed after its audit row");
}
static const mp_cmd_def t_audit = {"test", "audit", t_audit_main, "writes an audit row", NEEDS_LEDGER};

/* The dispatcher's checkpoint after a command that wrote audit rows
 * (audit_end.h): nothing without an audit key; with one and a PIN source
 * the token is opened (here it cannot be: the failure is named, the change
 * kept); after a failed command the command's error stays and no token is
 * opened; without a PIN source nothing is opened (a note on stderr). */
static void test_audit_checkpoint_at_end(void)
{
    uint8_t point[65] = {4};
    int64_t kid = 0;
    mp_ledger *l = NULL;
    setup();
    char a0[] = "--state-dir", a1[sizeof(st)];
    snprintf(a1, sizeof(a1), "%s", st);
    char *argv[] = {a0, a1};
    mp_cli_stash_set("MATTER_PKI_PIN", NULL);
    t_audit_pin = "/nonexistent/mp-pin";
    t_audit_rc = MP_OK;
    mp_err_clear();
    CU_ASSERT_EQUAL(mp_cmd_run(&t_audit, 2, argv), MP_OK); /* no audit key yet */
    CU_ASSERT_FATAL(mp_ledger_open_as(st, NULL, MP_LEDGER_WRITE, &l) == MP_OK);
    CU_ASSERT(mp_ledger_begin(l) == MP_OK && mp_ledger_audit_key_add(l, "audit", "00", point, &kid) == MP_OK &&
              mp_ledger_commit(l) == MP_OK);
    mp_ledger_close(l);
    mp_err_clear();
    int rc = mp_cmd_run(&t_audit, 2, argv);
    CU_ASSERT_NOT_EQUAL(rc, MP_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "the change is recorded, but its audit checkpoint is not signed"));
    t_audit_rc = MP_ERR_QUOTA;
    mp_err_clear();
    CU_ASSERT_EQUAL(mp_cmd_run(&t_audit, 2, argv), MP_ERR_QUOTA);
    CU_ASSERT_STRING_EQUAL(mp_err_msg(), "test audit: failed after its audit row");
    t_audit_rc = MP_OK;
    t_audit_pin = NULL;
    mp_err_clear();
    CU_ASSERT_EQUAL(mp_cmd_run(&t_audit, 2, argv), MP_OK);
    uint64_t rows = 0;
    int64_t bad = 0;
    char why[256];
    CU_ASSERT_FATAL(mp_ledger_open_as(st, NULL, MP_LEDGER_READ, &l) == MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_audit_verify(l, &bad, why, sizeof(why), &rows), MP_OK);
    CU_ASSERT(bad == 0 && rows == 4); /* every command's change kept */
    mp_ledger_close(l);
    teardown();
}

void register_cmd(void)
{
    CU_pSuite s = CU_add_suite("cmd", NULL, NULL);
    TU_ADD(s, test_ledger_closed_after_error);
    TU_ADD(s, test_required_option);
    TU_ADD(s, test_help_and_missing_state);
    TU_ADD(s, test_undeclared_need);
    TU_ADD(s, test_audit_checkpoint_at_end);
}
