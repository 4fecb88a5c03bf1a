/* test_cli.c - the CLI's secrets hygiene and the core pieces under it: the
 * PIN counter flags, stray arguments, core dumps, inputs that are not regular
 * files, temporary files, the state directory and the ledger's identity. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "ledger.h"
#include "keystore.h"
#include "opts.h"
#include "pin.h"
#include "state.h"
#include "testutil.h"
#include "util.h"

static char dir[64];

static void mktemp_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/mp-cli.XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
}

static void rm_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CU_ASSERT(system(cmd) == 0);
}

static void test_pin_policy(void)
{
    int low = -1;
    CU_ASSERT_EQUAL(mp_pin_policy(0, 0, "t", &low), MP_OK);
    CU_ASSERT_EQUAL(low, 0);
    CU_ASSERT_EQUAL(mp_pin_policy(CKF_USER_PIN_COUNT_LOW, 0, "t", &low), MP_OK);
    CU_ASSERT_EQUAL(low, 1);
    /* final try: refused unless forced, and the message says how */
    CU_ASSERT_EQUAL(mp_pin_policy(CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_COUNT_LOW, 0, "t", &low), MP_ERR_AUTH);
    CU_ASSERT(strstr(mp_err_msg(), "--force-pin-try") != NULL);
    CU_ASSERT(strstr(mp_err_msg(), "one PIN try is left") != NULL);
    CU_ASSERT_EQUAL(mp_pin_policy(CKF_USER_PIN_FINAL_TRY, 1, "t", &low), MP_OK);
    /* locked: refused even when forced */
    CU_ASSERT_EQUAL(mp_pin_policy(CKF_USER_PIN_LOCKED, 1, "t", &low), MP_ERR_AUTH);
    CU_ASSERT(strstr(mp_err_msg(), "locked") != NULL);
}

static int cb_calls;
static int pin_cb(void *arg, const char *what, char **pin)
{
    (void)arg;
    cb_calls++;
    CU_ASSERT_STRING_EQUAL(what, "User PIN");
    *pin = strdup("from-callback");
    return MP_OK;
}

static void test_pin_source(void)
{
    char *pin = NULL;
    mp_hsm_cfg cfg = {0};
    /* no source: an error, never a prompt from core */
    CU_ASSERT_EQUAL(mp_pin_get(&cfg, "User PIN", &pin), MP_ERR_AUTH);
    cfg.pin_cb = pin_cb;
    CU_ASSERT_EQUAL(mp_pin_get(&cfg, "User PIN", &pin), MP_OK);
    CU_ASSERT_STRING_EQUAL(pin, "from-callback");
    mp_pin_free(pin);
    /* a file wins over the callback */
    mktemp_dir();
    char path[128];
    snprintf(path, sizeof(path), "%s/pin", dir);
    FILE *f = fopen(path, "w");
    fputs("file-pin\n", f);
    fclose(f);
    cfg.pin_file = path;
    cb_calls = 0;
    CU_ASSERT_EQUAL(mp_pin_get(&cfg, "User PIN", &pin), MP_OK);
    CU_ASSERT_STRING_EQUAL(pin, "file-pin");
    CU_ASSERT_EQUAL(cb_calls, 0);
    mp_pin_free(pin);
    /* the CLI's callback: the start-up stash, else no prompt under --no-prompt */
    mp_cli_set_no_prompt(1);
    mp_cli_stash_set("MATTER_PKI_PIN", "stashed");
    CU_ASSERT_EQUAL(mp_cli_pin(NULL, "User PIN", &pin), MP_OK);
    CU_ASSERT_STRING_EQUAL(pin, "stashed");
    mp_pin_free(pin);
    mp_cli_stash_set("MATTER_PKI_PIN", NULL);
    CU_ASSERT_EQUAL(mp_cli_pin(NULL, "User PIN", &pin), MP_ERR_AUTH);
    CU_ASSERT(strstr(mp_err_msg(), "prompting is off") != NULL);
    rm_dir();
}

static void test_opt_shown(void)
{
    CU_ASSERT(strstr(mp_opt_shown("correct-horse-battery"), "horse") == NULL);
    CU_ASSERT(strstr(mp_opt_shown("correct-horse-battery"), "'co...' (21 characters") != NULL);
    CU_ASSERT(strstr(mp_opt_shown("1234"), "1234") == NULL);
    CU_ASSERT(strstr(mp_opt_shown("1234"), "of 4 characters") != NULL);
    CU_ASSERT(strstr(mp_opt_shown(NULL), "of 0 characters") != NULL);
}

static void test_no_core_dumps(void)
{
    struct rlimit rl;
    mp_cli_secure_process(0);
    CU_ASSERT(getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_cur == 0 && rl.rlim_max == 0);
#if !defined(__SANITIZE_ADDRESS__)
    CU_ASSERT_EQUAL(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
#endif
}

static void test_input_types(void)
{
    char fifo[128];
    uint8_t *b = NULL;
    size_t n = 0;
    mktemp_dir();
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    CU_ASSERT_FATAL(mkfifo(fifo, 0600) == 0);
    /* returns at once (no writer) with the file type named */
    CU_ASSERT_EQUAL(mp_read_file(fifo, 100, &b, &n), MP_ERR_IO);
    CU_ASSERT(strstr(mp_err_msg(), "is a FIFO") != NULL);
    CU_ASSERT(mp_fopen_input(fifo) == NULL);
    CU_ASSERT_EQUAL(mp_read_file(dir, 100, &b, &n), MP_ERR_IO);
    CU_ASSERT(strstr(mp_err_msg(), "is a directory") != NULL);
    CU_ASSERT_EQUAL(mp_read_file("/dev/zero", 100, &b, &n), MP_ERR_IO);
    rm_dir();
}

static int count_entries(const char *d)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 0", d);
    return system(cmd) == 0 ? 0 : 1;
}

static void test_stream_leaves_nothing(void)
{
    mp_stream s;
    char path[128];
    mktemp_dir();
    snprintf(path, sizeof(path), "%s/out.csv", dir);
    CU_ASSERT_FATAL(mp_stream_open(&s, path, 0600) == MP_OK);
    fputs("secret,row\n", s.f);
    /* while it is written, nothing has a name in the folder */
    CU_ASSERT_EQUAL(count_entries(dir), 0);
    CU_ASSERT_EQUAL(mp_stream_close(&s), MP_OK);
    /* still readable for signing, still nameless */
    FILE *r = fopen(s.tmp, "r");
    char line[32] = {0};
    CU_ASSERT(r != NULL && fgets(line, sizeof(line), r) != NULL);
    if (r) fclose(r);
    CU_ASSERT_STRING_EQUAL(line, "secret,row\n");
    CU_ASSERT_EQUAL(count_entries(dir), 0);
    mp_stream_abort(&s);
    CU_ASSERT_EQUAL(count_entries(dir), 0);
    /* commit, and commit with force over it */
    CU_ASSERT_FATAL(mp_stream_open(&s, path, 0600) == MP_OK);
    fputs("one\n", s.f);
    CU_ASSERT_EQUAL(mp_stream_commit(&s, 0), MP_OK);
    struct stat st;
    CU_ASSERT(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 4);
    CU_ASSERT_FATAL(mp_stream_open(&s, path, 0644) == MP_OK);
    fputs("two!!\n", s.f);
    CU_ASSERT_EQUAL(mp_stream_commit(&s, 0), MP_ERR_EXISTS);
    CU_ASSERT_FATAL(mp_stream_open(&s, path, 0644) == MP_OK);
    fputs("two!!\n", s.f);
    CU_ASSERT_EQUAL(mp_stream_commit(&s, 1), MP_OK);
    CU_ASSERT(stat(path, &st) == 0 && st.st_size == 6);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "test $(ls -A %s) = out.csv", dir);
    CU_ASSERT(system(cmd) == 0);
    rm_dir();
}

/* The fall-back writer (no O_TMPFILE) never writes through a file already at
 * its temporary name: it may be a hard link to another file. */
static void test_outdir_fallback_excl(void)
{
    mp_outdir d;
    char victim[128], tmp[160], path[160];
    mktemp_dir();
    snprintf(victim, sizeof(victim), "%s/victim", dir);
    snprintf(tmp, sizeof(tmp), "%s/.DEV1.der.tmp.%d", dir, (int)getpid());
    snprintf(path, sizeof(path), "%s/DEV1.der", dir);
    FILE *f = fopen(victim, "w");
    fputs("operator's file\n", f);
    fclose(f);
    CU_ASSERT_FATAL(link(victim, tmp) == 0);
    CU_ASSERT_FATAL(mp_outdir_open(&d, dir) == MP_OK);
    atomic_store(&d.no_tmpfile, 1);
    CU_ASSERT_EQUAL(mp_outdir_write(&d, "DEV1.der", (const uint8_t *)"DAC", 3, 0600), MP_OK);
    mp_outdir_close(&d);
    uint8_t *b = NULL;
    size_t n = 0;
    CU_ASSERT_FATAL(mp_read_file(victim, 100, &b, &n) == MP_OK);
    CU_ASSERT(n == 16 && memcmp(b, "operator's file\n", 16) == 0);
    free(b);
    CU_ASSERT_FATAL(mp_read_file(path, 100, &b, &n) == MP_OK);
    CU_ASSERT(n == 3 && memcmp(b, "DAC", 3) == 0);
    free(b);
    rm_dir();
}

static void test_state_find(void)
{
    char out[4096], sub[128], st[128], old[4096];
    mktemp_dir();
    snprintf(sub, sizeof(sub), "%s/a/b", dir);
    snprintf(st, sizeof(st), "%s/.matter-pki", dir);
    CU_ASSERT_FATAL(mp_mkdir_p(sub, 0700) == MP_OK);
    CU_ASSERT_FATAL(getcwd(old, sizeof(old)) != NULL);
    CU_ASSERT_FATAL(chdir(sub) == 0);
    CU_ASSERT_EQUAL(mp_state_find(NULL, NULL, out, sizeof(out)), MP_ERR_NO_STATE);
    CU_ASSERT(strstr(mp_err_msg(), sub) != NULL);
    CU_ASSERT(strstr(mp_err_msg(), "token init") != NULL);
    CU_ASSERT(mkdir(st, 0700) == 0);
    CU_ASSERT_EQUAL(mp_state_find(NULL, NULL, out, sizeof(out)), MP_OK);
    CU_ASSERT_STRING_EQUAL(out, st);
    /* explicit and environment win, and are never walked past */
    CU_ASSERT_EQUAL(mp_state_find("/nonexistent-x", NULL, out, sizeof(out)), MP_ERR_NO_STATE);
    CU_ASSERT(strstr(mp_err_msg(), "(--state-dir)") != NULL);
    CU_ASSERT_EQUAL(mp_state_find(NULL, "/nonexistent-y", out, sizeof(out)), MP_ERR_NO_STATE);
    CU_ASSERT(strstr(mp_err_msg(), "(MATTER_PKI_STATE)") != NULL);
    CU_ASSERT_FATAL(chdir(old) == 0);
    rm_dir();
}

static void test_ledger_identity(void)
{
    char st[128], other[128], path[160], id[MP_PKI_ID_LEN + 1], id2[MP_PKI_ID_LEN + 1], val[64];
    mp_ledger *l = NULL;
    int found = 0;
    mktemp_dir();
    snprintf(st, sizeof(st), "%s/state", dir);
    snprintf(other, sizeof(other), "%s/other", dir);
    snprintf(path, sizeof(path), "%s/ledger.sqlite", st);
    CU_ASSERT_FATAL(mp_state_create(st, id) == MP_OK);
    CU_ASSERT_FATAL(mp_state_create(st, id2) == MP_OK); /* idempotent */
    CU_ASSERT_STRING_EQUAL(id, id2);
    /* not made by a write or read open */
    CU_ASSERT_EQUAL(mp_ledger_open_as(st, NULL, MP_LEDGER_WRITE, &l), MP_ERR_NO_STATE);
    CU_ASSERT_EQUAL(mp_ledger_open_as(st, NULL, MP_LEDGER_READ, &l), MP_ERR_NO_STATE);
    CU_ASSERT(access(path, F_OK) != 0);
    CU_ASSERT_FATAL(mp_ledger_open_as(st, NULL, MP_LEDGER_CREATE, &l) == MP_OK);
    CU_ASSERT(mp_ledger_meta_get(l, "pki_id", val, sizeof(val), &found) == MP_OK && found);
    CU_ASSERT_STRING_EQUAL(val, id);
    mp_ledger_close(l);
    CU_ASSERT_EQUAL(mp_ledger_open_as(st, NULL, MP_LEDGER_READ, &l), MP_OK);
    mp_ledger_close(l);
    /* another PKI's state refuses it */
    CU_ASSERT_FATAL(mp_state_create(other, id2) == MP_OK);
    CU_ASSERT_EQUAL(mp_ledger_open_as(other, path, MP_LEDGER_WRITE, &l), MP_ERR_NO_STATE);
    CU_ASSERT(strstr(mp_err_msg(), "belongs to PKI") != NULL);
    /* an empty file is never taken for a new ledger, even when creating */
    CU_ASSERT(truncate(path, 0) == 0);
    CU_ASSERT_EQUAL(mp_ledger_open_as(st, NULL, MP_LEDGER_CREATE, &l), MP_ERR_NO_STATE);
    CU_ASSERT(strstr(mp_err_msg(), "empty") != NULL);
    rm_dir();
}

static int parse_all(int argc, char **argv)
{
    static const mp_opt t[] = {
        {"key-label", 1, OT_STR | OT_REQUIRED, "L", "label"},
        {"cn", 2, OT_STR | OT_REQUIRED, "CN", "name"},
        {"out", 3, OT_OUT | OT_REQUIRED, "F", "output"},
        {"days", 4, OT_UINT, "N", "days"},
        {NULL, 0, 0, NULL, NULL},
    };
    mp_optparse p;
    const char *val;
    int id;
    mp_opt_init(&p, argc, argv, t, "paa create", NULL, NULL);
    while ((id = mp_opt_next(&p, &val)) > 0) {
    }
    return id;
}

static void test_opt_required(void)
{
    char a0[] = "--days", a1[] = "3", a2[] = "--cn", a3[] = "X", a4[] = "--key-label=k", a5[] = "--out",
         a6[] = "x.pem", a7[] = "--key-label", a8[] = "k";
    char *none[] = {a0, a1};
    CU_ASSERT_EQUAL(parse_all(2, none), -MP_ERR_USAGE);
    CU_ASSERT_STRING_EQUAL(mp_err_msg(), "paa create: --key-label, --cn and --out are required");
    char *two[] = {a2, a3, a4};
    CU_ASSERT_EQUAL(parse_all(3, two), -MP_ERR_USAGE);
    CU_ASSERT_STRING_EQUAL(mp_err_msg(), "paa create: --out is required");
    char *one[] = {a5, a6};
    CU_ASSERT_EQUAL(parse_all(2, one), -MP_ERR_USAGE);
    CU_ASSERT_STRING_EQUAL(mp_err_msg(), "paa create: --key-label and --cn are required");
    char *all[] = {a2, a3, a7, a8, a5, a6};
    CU_ASSERT_EQUAL(parse_all(6, all), 0);
}

/* mp_opt_given passes a given value through unchanged; NULL (an option
 * table without OT_REQUIRED) stops the process before anything is done. */
static void test_opt_given(void)
{
    const char *v = "x.pem";
    CU_ASSERT_PTR_EQUAL(mp_opt_given(v), v);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        const char *missing = NULL;
        _exit(mp_opt_given(missing) != NULL ? 0 : 1);
    }
    int st = 0;
    CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
    CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

/* A required repeatable option is reported as "at least one --NAME"; given
 * twice it is seen every time. */
static void test_opt_required_repeatable(void)
{
    static const mp_opt t[] = {
        {"out", 1, OT_OUT | OT_REQUIRED, "F", "output"},
        {"format", 2, OT_STR | OT_REQUIRED | OT_REPEATABLE, "F", "format"},
        {NULL, 0, 0, NULL, NULL},
    };
    char a0[] = "--format", a1[] = "json", a2[] = "--format=esp32", a3[] = "--out", a4[] = "d";
    char *none[] = {a3, a4};
    char *many[] = {a0, a1, a2, a3, a4};
    mp_optparse p;
    const char *val;
    int id, n = 0;
    mp_opt_init(&p, 0, none, t, "factory-data build", NULL, NULL);
    CU_ASSERT_EQUAL(mp_opt_next(&p, &val), -MP_ERR_USAGE);
    CU_ASSERT_STRING_EQUAL(mp_err_msg(), "factory-data build: --out and at least one --format are required");
    mp_opt_init(&p, 2, none, t, "factory-data build", NULL, NULL);
    while ((id = mp_opt_next(&p, &val)) > 0) {
    }
    CU_ASSERT_EQUAL(id, -MP_ERR_USAGE);
    CU_ASSERT_STRING_EQUAL(mp_err_msg(), "factory-data build: at least one --format is required");
    mp_opt_init(&p, 5, many, t, "factory-data build", NULL, NULL);
    while ((id = mp_opt_next(&p, &val)) > 0) {
        n += id == 2;
    }
    CU_ASSERT_EQUAL(id, 0);
    CU_ASSERT_EQUAL(n, 2);
}

static int failing_cleanup(void)
{
    return mp_err(MP_ERR_IO, "cleanup could not remove a file");
}

/* The dispatcher's missing state waits for the command's parser: a usage
 * error first, the state's error at the end of a valid line or at a value
 * refused for another reason, and the state's error when nothing parsed. */
static int parse_line(int argc, char **argv, const mp_opt *t)
{
    mp_optparse p;
    const char *val;
    int id;
    mp_opt_init(&p, argc, argv, t, "order create", NULL, NULL);
    while ((id = mp_opt_next(&p, &val)) > 0) {
    }
    return id < 0 ? -id : MP_OK;
}

static void test_opt_deferred(void)
{
    static const mp_opt t[] = {
        {"quota", 1, OT_UINT | OT_REQUIRED, "N", "quota"},
        {"pai-cert", 2, OT_FILE, "FILE", "the PAI"},
        {NULL, 0, 0, NULL, NULL},
    };
    char q[] = "--quota", n[] = "5", bogus[] = "--bogus", pai[] = "--pai-cert", missing[] = "/nonexistent/pai.pem";
    char *ok[] = {q, n}, *unknown[] = {q, n, bogus}, *nofile[] = {pai, missing, q, n}, *noreq[] = {pai, missing};
    mp_err(MP_ERR_NO_STATE, "no state directory (test)");
    mp_opt_defer(MP_ERR_NO_STATE);
    mp_err_clear();
    CU_ASSERT_EQUAL(mp_opt_deferred_end(parse_line(3, unknown, t)), MP_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "unknown option"));
    mp_err(MP_ERR_NO_STATE, "no state directory (test)");
    mp_opt_defer(MP_ERR_NO_STATE);
    CU_ASSERT_EQUAL(mp_opt_deferred_end(parse_line(2, ok, t)), MP_ERR_NO_STATE);
    CU_ASSERT_STRING_EQUAL(mp_err_msg(), "no state directory (test)");
    mp_opt_defer(MP_ERR_NO_STATE);
    CU_ASSERT_EQUAL(mp_opt_deferred_end(parse_line(4, nofile, t)), MP_ERR_NO_STATE); /* not 9: the state first */
    mp_opt_defer(MP_ERR_NO_STATE);
    CU_ASSERT_EQUAL(mp_opt_deferred_end(parse_line(0, noreq, t)), MP_ERR_USAGE); /* --quota is required */
    mp_opt_defer(MP_ERR_NO_STATE);
    CU_ASSERT_EQUAL(mp_opt_deferred_end(MP_OK), MP_ERR_NO_STATE); /* a command that never parsed */
    CU_ASSERT_EQUAL(parse_line(2, ok, t), MP_OK);                  /* delivered once, then gone */
}

static void test_err_frames(void)
{
    mp_err_clear();
    int rc = mp_err(MP_ERR_QUOTA, "order 3: 2 left, 5 asked");
    mp_err_hold();
    CU_ASSERT_EQUAL(failing_cleanup(), MP_ERR_IO);
    CU_ASSERT_STRING_EQUAL(mp_err_msg(), "cleanup could not remove a file");
    mp_err_release();
    /* the cause is the recorded error again, without copying it by hand */
    CU_ASSERT_EQUAL(rc, MP_ERR_QUOTA);
    CU_ASSERT_EQUAL(mp_err_code(), MP_ERR_QUOTA);
    CU_ASSERT_STRING_EQUAL(mp_err_msg(), "order 3: 2 left, 5 asked");
    /* nesting beyond the frames is safe and balanced */
    for (int i = 0; i < MP_ERR_FRAMES + 2; i++) mp_err_hold();
    (void)failing_cleanup();
    for (int i = 0; i < MP_ERR_FRAMES + 2; i++) mp_err_release();
    CU_ASSERT_STRING_EQUAL(mp_err_msg(), "order 3: 2 left, 5 asked");
    /* context goes on the recorded error */
    (void)mp_err_ctx(MP_ERR_QUOTA, "dac issue");
    CU_ASSERT_STRING_EQUAL(mp_err_msg(), "dac issue: order 3: 2 left, 5 asked");
    mp_err_clear();
    CU_ASSERT_EQUAL(mp_err_code(), 0);
}

void register_cli(void)
{
    CU_pSuite s = CU_add_suite("cli", NULL, NULL);
    TU_ADD(s, test_pin_policy);
    TU_ADD(s, test_pin_source);
    TU_ADD(s, test_opt_shown);
    TU_ADD(s, test_opt_required);
    TU_ADD(s, test_opt_required_repeatable);
    TU_ADD(s, test_opt_given);
    TU_ADD(s, test_opt_deferred);
    TU_ADD(s, test_input_types);
    TU_ADD(s, test_stream_leaves_nothing);
    TU_ADD(s, test_outdir_fallback_excl);
    TU_ADD(s, test_state_find);
    TU_ADD(s, test_ledger_identity);
    TU_ADD(s, test_err_frames);
    TU_ADD(s, test_no_core_dumps);
}
