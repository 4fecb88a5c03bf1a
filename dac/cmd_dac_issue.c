/* cmd_dac_issue.c - `matter-pki dac issue` in its three modes: a batch for
 * authorized chip-list devices, one PKCS#10 request made inside a device, and
 * off-chip key generation for chips without a secure element. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "audit_ckpt.h"
#include "ceremony.h"
#include "dac/extdac.h"
#include "dac/issue.h"
#include "udid.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"

enum { O_ORDER = 1, O_COUNT, O_UDID, O_OUT_DIR, O_JOBS, O_CSR, O_OUT, O_GEN, O_STATION, O_TEST_MODE,
       O_CSR_DIR, O_CSR_BUNDLE, O_EXPORT_LAYOUT, O_LAYOUT, O_NAME_BY, O_BUNDLE, O_JSON, O_LEASE, O_BLOCK };

static const mp_opt opts[] = {
    {"order", O_ORDER, OT_UINT | OT_REQUIRED, "ID", "production order"},
    {"count", O_COUNT, OT_UINT, "N", "a run of N DACs into this folder (re-run the same command to finish it after an interruption)"},
    {"udid", O_UDID, OT_STR, "UDID", "issue to this device (repeatable)"},
    {"out-dir", O_OUT_DIR, OT_DIR, "DIR", "output folder: one UDID.der per device (batch modes)"},
    {"jobs", O_JOBS, OT_UINT, "J", "signing threads, one PKCS#11 session each (default 1)"},
    {"csr", O_CSR, OT_FILE, "FILE", "CSR mode: a PKCS#10 request made inside the device"},
    {"out", O_OUT, OT_OUT, "FILE", "CSR mode: the DAC output (DER)"},
    {"csr-dir", O_CSR_DIR, OT_DIR, "DIR", "CSR batch: a folder of PKCS#10 requests (PEM or DER), DACs to --out-dir"},
    {"csr-bundle", O_CSR_BUNDLE, OT_FILE, "FILE", "CSR batch: one PEM file of many requests, DACs to --out-dir"},
    {"export-layout", O_EXPORT_LAYOUT, OT_ENUM, "infineon", "also write the folder's DACs as <UDID>_E0E0.pem (Infineon station layout)"},
    {"generate-keys", O_GEN, OT_FLAG, NULL, "off-chip keys: make key pairs here (N, or the order's remaining quota), write UDID.key.der (0600) next to each DAC (--bundle: the key in the device's line, the bundle 0600)"},
    {"layout", O_LAYOUT, OT_STR, "flat|per-device", "files in DIR (default flat: DIR/NAME.der) or one folder per device (DIR/NAME/NAME.der)"},
    {"name-by", O_NAME_BY, OT_STR, "udid|serial", "file names from the UDID (default) or the DAC serial (hex)"},
    {"bundle", O_BUNDLE, OT_STR, "FILE", "all DACs of the run in one JSON Lines file instead of one file per device"},
    {"json", O_JSON, OT_FLAG, NULL, "print the summary as one JSON object on stdout"},
    {"station", O_STATION, OT_STR, "NAME", "factory station recorded in the ledger (default $MATTER_PKI_STATION, else the host name)"},
    {"block", O_BLOCK, OT_UINT, "N", "devices reserved and signed at a time (1..2048, default 2048; smaller shares an order more evenly between stations)"},
    {"lease", O_LEASE, OT_STR, "DURATION", "how long this run holds the devices it reserved (default 10m; 30s, 10m, 1h)"},
    {"test-mode", O_TEST_MODE, OT_FLAG, NULL, "allow a PAI under a Matter SDK test PAA"},
    {"quiet", OPT_QUIET, OT_FLAG, NULL, "no progress bar; print only the summary"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "CSR mode: replace an existing output file"},
    {"ledger", OPT_LEDGER, OT_STR, "PATH|URI", "ledger: SQLite file or PostgreSQL URI/key=value (default $MATTER_PKI_LEDGER, else STATE_DIR/ledger.sqlite)"},
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

typedef struct issue_args {
    const char *order, *count, *out_dir, *jobs, *csr, *out, *station, *layout, *name_by, *bundle, *lease, *block;
    const char *csr_dir, *csr_bundle, *export_layout;
    char *udids[4096];
    size_t n_udids;
    int udid_mode; /* --udid given (n_udids may drop to 0: all done) */
    int generate, test_mode, json;
} issue_args;

static int parse(int argc, char **argv, mp_common *c, issue_args *a)
{
    mp_optparse p;
    const char *val;
    int id;
    mp_opt_init(&p, argc, argv, opts, "dac issue",
                "--order ID [--count N | --udid X ...] (--out-dir DIR | --bundle FILE) [--jobs J]\n"
                "       matter-pki dac issue --order ID --csr FILE --out FILE\n"
                "       matter-pki dac issue --order ID --csr-dir DIR | --csr-bundle FILE --out-dir DIR [--jobs J]\n"
                "       matter-pki dac issue --order ID --generate-keys [--count N] (--out-dir DIR | --bundle FILE)",
                "Issues DACs signed by the order's PAI key in the token, one per authorized\n"
                "device that has none yet, within the order's quota, each recorded in the\n"
                "ledger. Without --count/--udid: every authorized device, up to the quota.\n"
                "A run that is interrupted (Ctrl-C, kill -9, power loss) is finished by\n"
                "running the same command again.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return OPT_HELP;
        case O_ORDER: a->order = val; break;
        case O_COUNT: a->count = val; break;
        case O_OUT_DIR: a->out_dir = val; break;
        case O_JOBS: a->jobs = val; break;
        case O_CSR: a->csr = val; break;
        case O_CSR_DIR: a->csr_dir = val; break;
        case O_CSR_BUNDLE: a->csr_bundle = val; break;
        case O_EXPORT_LAYOUT: a->export_layout = val; break;
        case O_OUT: a->out = val; break;
        case O_GEN: a->generate = 1; break;
        case O_STATION: a->station = val; break;
        case O_LEASE: a->lease = val; break;
        case O_BLOCK: a->block = val; break;
        case O_TEST_MODE: a->test_mode = 1; break;
        case O_LAYOUT: a->layout = val; break;
        case O_NAME_BY: a->name_by = val; break;
        case O_BUNDLE: a->bundle = val; break;
        case O_JSON: a->json = 1; break;
        case O_UDID:
            if (a->n_udids >= sizeof(a->udids) / sizeof(a->udids[0])) {
                return -mp_err(MP_ERR_USAGE, "dac issue: at most 4096 --udid options; use a chip list");
            }
            a->udids[a->n_udids++] = (char *)val;
            a->udid_mode = 1;
            break;
        default:
            if (!mp_opt_common(c, id, val)) return -mp_err(MP_ERR_USAGE, "dac issue: unexpected argument %s", mp_opt_shown(val));
        }
    }
    mp_common_finish(c);
    return id;
}

static int check_mode(const issue_args *a)
{
    if (a->csr != NULL) {
        if (a->out == NULL || a->out_dir || a->count || a->n_udids || a->generate || a->bundle || a->layout || a->name_by ||
            a->export_layout) {
            return mp_err(MP_ERR_USAGE, "dac issue --csr takes --out FILE (and no --out-dir, --bundle, --count, --udid, --generate-keys)");
        }
        return MP_OK;
    }
    if ((a->out_dir == NULL) == (a->bundle == NULL)) {
        return mp_err(MP_ERR_USAGE, "dac issue: one of --out-dir DIR or --bundle FILE is required");
    }
    if (a->bundle != NULL && (a->layout || a->name_by || a->export_layout || a->csr_dir || a->csr_bundle)) {
        return mp_err(MP_ERR_USAGE, "dac issue --bundle takes no --layout, --name-by, --export-layout,"
                      " --csr-dir or --csr-bundle (one file holds every DAC)");
    }
    if ((a->csr_dir || a->csr_bundle) && ((a->csr_dir && a->csr_bundle) || a->count || a->n_udids || a->generate ||
                                         a->layout || a->name_by)) {
        return mp_err(MP_ERR_USAGE, "dac issue: one of --csr-dir or --csr-bundle, and no --count, --udid, --generate-keys,"
                      " --layout, --name-by");
    }
    if (a->count && a->n_udids) {
        return mp_err(MP_ERR_USAGE, "dac issue: --count and --udid exclude each other");
    }
    if (a->generate && a->n_udids) {
        return mp_err(MP_ERR_USAGE, "dac issue --generate-keys takes no --udid (the keys, and so the UDIDs, are made here)");
    }
    for (size_t i = 0; i < a->n_udids; i++) {
        if (mp_udid_check(a->udids[i], strlen(a->udids[i])) != MP_OK) {
            return mp_err_ctx(MP_ERR_INVALID, "--udid");
        }
    }
    uint64_t j = 1;
    if (a->jobs && (mp_parse_uint(a->jobs, 64, &j) != MP_OK || j == 0)) {
        return mp_err(MP_ERR_USAGE, "dac issue --jobs: 1..64");
    }
    return MP_OK;
}

/* The quota and the authorized devices must cover n more. */
static int covered(mp_issue *is, const issue_args *a, uint64_t n)
{
    uint64_t left = is->order.quota - is->order.issued;
    if (n > left) {
        return mp_err(MP_ERR_QUOTA, "order %lld has %llu DAC(s) left of its quota of %llu; %llu asked",
                      (long long)is->order.id, (unsigned long long)left, (unsigned long long)is->order.quota,
                      (unsigned long long)n);
    }
    if (!a->generate && !a->udid_mode) {
        uint64_t avail;
        int rc = mp_ledger_count_authorized(is->ledger, &avail);
        if (rc != MP_OK) return rc;
        if (n > avail) {
            return mp_err(MP_ERR_UNAUTHORIZED, "only %llu authorized device(s) without a DAC; %llu asked (import a chip list)",
                          (unsigned long long)avail, (unsigned long long)n);
        }
    }
    return MP_OK;
}

/* A run with a target (--count N, or --generate-keys) is remembered in the
 * ledger per order and output folder: the same command re-run after an
 * interruption finishes its remainder (never more than it asked), and a
 * different command in that folder is refused until the run is finished. */
static int run_target(mp_issue *is, const issue_args *a, uint64_t *count, int *resumed)
{
    mp_dac_run run = {.order_id = is->order.id, .dir = is->bundle ? is->bundle : is->out_dir,
                      .generate = a->generate, .station = is->station};
    int found = 0, rc = mp_ledger_run_get(is->ledger, is->order.id, run.dir, &run, &found);
    uint64_t n = 0;
    if (rc != MP_OK) return rc;
    if (a->count != NULL && (mp_parse_uint(a->count, INT64_MAX, &n) != MP_OK || n == 0)) {
        return mp_err(MP_ERR_USAGE, "--count: '%s' must be a number >= 1", a->count);
    }
    if (found) {
        if (run.generate != a->generate || (a->count != NULL && n != run.target) || (a->count == NULL && !a->generate)) {
            return mp_err(MP_ERR_MISMATCH, "%s holds an unfinished run of order %lld (%llu of %llu DACs issued); finish it with"
                          " the same command: --order %lld%s --count %llu, or use another folder",
                          run.dir, (long long)is->order.id, (unsigned long long)run.issued, (unsigned long long)run.target,
                          (long long)is->order.id, run.generate ? " --generate-keys" : "", (unsigned long long)run.target);
        }
        *count = run.target - run.issued;
        *resumed = 1;
        if ((rc = covered(is, a, *count)) != MP_OK) return rc;
        is->run = run;
        if (!is->quiet) {
            fprintf(stderr, "matter-pki dac issue: finishing the interrupted run in %s: %llu of %llu DAC(s) were issued,"
                            " %llu remain\n", run.dir, (unsigned long long)run.issued, (unsigned long long)run.target,
                    (unsigned long long)*count);
        }
        return MP_OK;
    }
    /* --generate-keys without --count: the order's remaining quota */
    run.target = a->count != NULL ? n : is->order.quota - is->order.issued;
    if ((rc = covered(is, a, run.target)) != MP_OK) return rc;
    *count = run.target;
    if (run.target == 0) return MP_OK;
    if ((rc = mp_ledger_begin(is->ledger)) == MP_OK && (rc = mp_ledger_run_start(is->ledger, &run)) == MP_OK) {
        rc = mp_ledger_commit(is->ledger);
    }
    mp_ledger_rollback(is->ledger);
    if (rc == MP_OK) is->run = run;
    return rc;
}

/* How many to issue; refuses what the quota cannot cover. */
static int target(mp_issue *is, const issue_args *a, uint64_t *count, int *resumed)
{
    uint64_t left = is->order.quota - is->order.issued, n;
    if (a->count != NULL || a->generate) {
        return run_target(is, a, count, resumed);
    }
    /* a run with a target is unfinished here: only its own command finishes it */
    mp_dac_run run = {0};
    int found = 0, rc0 = mp_ledger_run_get(is->ledger, is->order.id, is->bundle ? is->bundle : is->out_dir, &run, &found);
    if (rc0 != MP_OK) return rc0;
    if (found) {
        return mp_err(MP_ERR_MISMATCH, "%s holds an unfinished run of order %lld (%llu of %llu DACs issued); finish it with"
                      " the same command: --order %lld%s --count %llu, or use another folder",
                      is->bundle ? is->bundle : is->out_dir, (long long)is->order.id, (unsigned long long)run.issued,
                      (unsigned long long)run.target, (long long)is->order.id, run.generate ? " --generate-keys" : "",
                      (unsigned long long)run.target);
    }
    if (a->udid_mode) {
        n = a->n_udids;
        int rc = covered(is, a, n);
        if (rc == MP_OK) *count = n;
        return rc;
    }
    int rc = mp_ledger_count_authorized(is->ledger, &n);
    if (rc != MP_OK) return rc;
    *count = n < left ? n : left;
    is->all_mode = 1; /* with any other runs on the order, until it is done */
    return MP_OK;
}

/* Is the device's DAC, of this order, already in this run's folder or
 * bundle? (A --udid run re-run after an interruption: that device is done,
 * not refused.) */
static int issued_here(mp_issue *is, const char *udid, int *here)
{
    char path[4400];
    int64_t order = 0;
    int found = 0, rc = mp_ledger_cert_path(is->ledger, udid, path, sizeof(path), &order, &found);
    size_t dl = strlen(is->out_dir);
    *here = 0;
    if (rc == MP_OK && found && order == is->order.id) {
        if (is->bundle != NULL) {
            size_t bl = strlen(is->bundle);
            *here = strncmp(path, is->bundle, bl) == 0 && path[bl] == '#' && strcmp(path + bl + 1, udid) == 0;
        } else {
            *here = strncmp(path, is->out_dir, dl) == 0 && path[dl] == '/';
        }
    }
    return rc;
}

/* Every --udid must be authorized and without a DAC; one whose DAC this
 * folder already holds (an interrupted run of the same command) is dropped
 * from the list as done. */
static int check_udids(mp_issue *is, issue_args *a)
{
    size_t kept = 0, done = 0;
    for (size_t i = 0; i < a->n_udids; i++) {
        mp_device d;
        int found = 0, here = 0, rc = mp_ledger_get_device(is->ledger, a->udids[i], &d, &found);
        if (rc != MP_OK) return rc;
        if (!found) {
            return mp_err(MP_ERR_UNAUTHORIZED, "--udid %s: not on any imported chip list", a->udids[i]);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(a->udids[i], a->udids[j]) == 0) {
                return mp_err(MP_ERR_USAGE, "--udid %s given twice", a->udids[i]);
            }
        }
        if (d.state == MP_DEV_ISSUED && (rc = issued_here(is, a->udids[i], &here)) != MP_OK) return rc;
        if (here) {
            done++;
            continue;
        }
        if (d.state != MP_DEV_AUTHORIZED) {
            return mp_err(MP_ERR_UNAUTHORIZED, "--udid %s: already has a DAC%s", a->udids[i], d.state == MP_DEV_REVOKED ? " (revoked)" : "");
        }
        a->udids[kept++] = a->udids[i];
    }
    if (done > 0 && !is->quiet) {
        fprintf(stderr, "matter-pki dac issue: %zu of the %zu --udid device(s) already have their DAC in %s (an earlier run"
                        " of this command); issuing the other %zu\n", done, a->n_udids, is->bundle ? is->bundle : is->out_dir, kept);
    }
    a->n_udids = kept;
    return MP_OK;
}

static int gen_list(mp_issue *is)
{
    uint8_t r[32];
    char hex[65], src[64];
    mp_chip_list list = {.format = "generated", .source = src, .is_signed = 0, .signer = ""};
    if (RAND_bytes(r, sizeof(r)) != 1) return mp_err_ssl(MP_ERR_GENERAL, "RAND_bytes");
    mp_hex(r, 32, hex, 0);
    snprintf(list.sha256, sizeof(list.sha256), "%s", hex);
    snprintf(src, sizeof(src), "dac issue --generate-keys (order %lld)", (long long)is->order.id);
    int rc = mp_ledger_begin(is->ledger);
    if (rc == MP_OK && (rc = mp_ledger_add_list(is->ledger, &list)) == MP_OK) {
        rc = mp_ledger_commit(is->ledger);
    }
    mp_ledger_rollback(is->ledger);
    is->gen_list_id = list.id;
    return rc;
}


/* The run is complete: the next command in this folder starts a new one. */
static int finish_run(mp_issue *is)
{
    if (is->run.id == 0) return MP_OK;
    int rc = mp_ledger_begin(is->ledger);
    if (rc == MP_OK && (rc = mp_ledger_run_finish(is->ledger, is->run.id)) == MP_OK) {
        rc = mp_ledger_commit(is->ledger);
    }
    mp_ledger_rollback(is->ledger);
    return rc;
}

static int print_summary(mp_issue *is, const issue_args *a, uint64_t count, int resumed)
{
    mp_order now = is->order; /* the totals as they are now: other runs may share the order */
    if (mp_ledger_get_order(is->ledger, is->order.id, &now) != MP_OK) {
        now.issued = is->order.issued + is->issued;
    }
    const char *dest = is->bundle ? is->bundle : a->out_dir;
    if (a->json) {
        json_t *o = json_pack("{sI sI ss ss sI sI sb sI sI sI sI}", "order", (json_int_t)is->order.id,
                              "issued", (json_int_t)is->issued, is->bundle ? "bundle" : "out_dir", dest,
                              "layout", is->bundle ? "bundle" : is->layout == MP_LAYOUT_PER_DEVICE ? "per-device" : "flat",
                              "quota", (json_int_t)now.quota, "quota_used", (json_int_t)now.issued, "resumed", resumed,
                              "run_target", (json_int_t)(is->run.id ? is->run.target : count),
                              "recovered_files", (json_int_t)is->recovered_files,
                              "removed_files", (json_int_t)(is->removed_files + is->removed_tmp),
                              "moved_keys", (json_int_t)is->moved_keys);
        return mp_json_print(o);
    }
    printf("order %lld: station %s issued %llu DAC(s) to %s; %llu of quota %llu used%s%s\n", (long long)is->order.id,
           is->station, (unsigned long long)is->issued, dest, (unsigned long long)now.issued, (unsigned long long)now.quota,
           count == 0 && is->issued == 0 ? " (nothing to do)" : "", resumed ? " (finished an interrupted run)" : "");
    return MP_OK;
}

/* The run's folder (--bundle FILE: FILE's folder) made if missing; absolute
 * paths in is (the ledger records them: recovery may run from elsewhere). */
static int prepare_out(mp_issue *is, const issue_args *a)
{
    char folder[4096];
    struct stat st;
    int rc;
    if (a->bundle != NULL) {
        mp_bundle_folder(a->bundle, folder, sizeof(folder));
    } else {
        snprintf(folder, sizeof(folder), "%s", a->out_dir);
    }
    if (stat(folder, &st) != 0 && (rc = mp_mkdir_p(folder, 0755)) != MP_OK) {
        return rc;
    }
    char *abs = realpath(folder, NULL);
    if (abs == NULL) {
        return mp_err(MP_ERR_IO, "%s: %s", folder, strerror(errno));
    }
    snprintf(is->out_abs, sizeof(is->out_abs), "%s", abs);
    free(abs);
    is->out_dir = is->out_abs;
    if (a->bundle != NULL) {
        mp_bundle_abs(is->out_abs, a->bundle, is->bundle_abs, sizeof(is->bundle_abs));
        is->bundle = is->bundle_abs;
    }
    if ((a->layout && (rc = mp_layout_parse(a->layout, &is->layout)) != MP_OK) ||
        (a->name_by && (rc = mp_name_by_parse(a->name_by, &is->name_by)) != MP_OK)) {
        return rc;
    }
    return MP_OK;
}

/* The lease is this folder's (order, station, host, folder): a run killed
 * here left its reservations under it, and the folder's lock says that run
 * is gone, so they go back to the pool at once. */
static void lease_of_folder(mp_issue *is)
{
    char host[256] = "", seed[4600];
    uint8_t h[32];
    gethostname(host, sizeof(host) - 1);
    int n = snprintf(seed, sizeof(seed), "matter-pki lease\n%lld\n%s\n%s\n%s", (long long)is->order.id, is->station, host,
                     is->out_abs);
    SHA256((const uint8_t *)seed, (size_t)n, h);
    mp_hex(h, 16, is->lease, 0);
}

/* The run, then (with other runs on the order) again while the order has
 * room: a chunk that met the quota they had just taken was dropped, devices
 * that lost their lease went back to the pool (a --count run short of N then
 * says so). The run is not yet recorded as finished (see run_batch). */
static int issue_until_done(mp_issue *is, const issue_args *a, uint64_t count)
{
    int rc = count > 0 ? mp_issue_run(is, count, a->n_udids ? (char **)a->udids : NULL, a->n_udids) : MP_OK;
    for (int tries = 0; rc == MP_OK && is->quota_race; tries++) {
        mp_order o;
        if (tries == 100 || mp_interrupted() ||
            (rc = mp_ledger_get_order(is->ledger, is->order.id, &o)) != MP_OK || o.issued >= o.quota || o.closed) {
            if (rc == MP_OK && !is->all_mode) {
                rc = mp_interrupted() ? mp_err(MP_ERR_INTERRUPTED, "interrupted after %llu DACs; run the same command"
                                               " again to finish", (unsigned long long)is->issued)
                                      : mp_issue_short(is, count);
            }
            break;
        }
        is->quota_race = 0;
        rc = mp_issue_run(is, count, NULL, 0);
    }
    if (rc != MP_OK && is->issued > 0) {
        /* no summary line: the error says what this run did */
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s", mp_err_msg());
        rc = mp_err(rc, "%s (this run recorded %llu DAC(s) for %s before it stopped)", msg,
                    (unsigned long long)is->issued, is->bundle ? is->bundle : a->out_dir);
    }
    return rc;
}

static int run_batch(mp_issue *is, issue_args *a, int force)
{
    uint64_t count = 0;
    int rc, resumed = 0;
    if (a->csr != NULL) {
        return mp_issue_csr(is, a->csr, a->out, force);
    }
    if ((rc = prepare_out(is, a)) != MP_OK) {
        return rc;
    }
    int lock = -1; /* held until exit */
    if ((rc = mp_ledger_station_check(is->ledger, is->station, is->order.id)) != MP_OK) {
        return rc;
    }
    lease_of_folder(is);
    /* What an interrupted run left in this folder is finished or removed first,
     * also when this run itself is then refused (closed order, quota). */
    if ((rc = mp_dir_lock(is->out_dir, &lock)) != MP_OK || (rc = mp_ledger_release(is->ledger, is->lease)) != MP_OK ||
        (rc = mp_issue_recover(is, 1)) != MP_OK ||
        (rc = mp_issue_check_open(is)) != MP_OK || (rc = check_udids(is, a)) != MP_OK ||
        (rc = target(is, a, &count, &resumed)) != MP_OK) {
        return rc;
    }
    if (a->csr_dir != NULL || a->csr_bundle != NULL) {
        size_t refused = 0, done = 0;
        rc = mp_issue_csr_batch(is, a->csr_dir, a->csr_bundle, stdout, &count, &refused, &done);
        printf("order %lld: issued %llu DAC(s) to %s for requests; %zu refused, %zu done earlier\n", (long long)is->order.id,
               (unsigned long long)is->issued, a->out_dir, refused, done);
        return rc;
    }
    if (is->generate_keys && count > 0 && (rc = gen_list(is)) != MP_OK) {
        return rc;
    }
    if ((rc = issue_until_done(is, a, count)) != MP_OK || (rc = print_summary(is, a, count, resumed)) != MP_OK) {
        return rc;
    }
    /* Finished only once the summary is out: a run killed between the two
     * is resumed by the same command, which then issues nothing more and
     * says so. The other order would leave a window where the operator saw
     * no summary, ran the same command again and got a new run of N. */
    fflush(stdout);
    mp_fault_point("dac-issue-summary");
    return finish_run(is);
}

/* --export-layout infineon: the folder's DACs (this run's and earlier ones')
 * also as <UDID>_E0E0.pem; identical files are left, so a re-run after a
 * crash only adds what is missing. A CSR batch's refusal status is kept. */
static int export_layout(mp_issue *is, int rc)
{
    char msg[1024];
    uint64_t n = 0;
    snprintf(msg, sizeof(msg), "%s", rc != MP_OK ? mp_err_msg() : "");
    int erc = mp_dac_export_infineon(is->ledger, is->order.id, is->out_dir, is->out_dir, 0, &n);
    if (erc != MP_OK) return erc;
    printf("%llu DAC(s) of %s also written as <UDID>_E0E0.pem\n", (unsigned long long)n, is->out_dir);
    return rc != MP_OK ? mp_err(rc, "%s", msg) : MP_OK;
}

/* 30s, 10m, 1h or plain seconds: 1 s .. 7 days. */
static int mp_parse_duration(const char *s, long *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10), mul = 1;
    if (end == s || v <= 0) goto bad;
    if (*end == 's') mul = 1, end++;
    else if (*end == 'm') mul = 60, end++;
    else if (*end == 'h') mul = 3600, end++;
    if (*end != 0 || v > 7 * 86400 / mul) goto bad;
    *out = v * mul;
    return MP_OK;
bad:
    return mp_err(MP_ERR_USAGE, "--lease '%s': expected a duration such as 30s, 10m or 1h (at most 7 days)", s);
}

/* Long runs: an audit checkpoint every 1,000 audit rows (audit_ckpt.h),
 * recorded in the ceremony log like the one at the end. */
typedef struct every_ctx {
    mp_audit_every e;
    mp_ledger *l;
    mp_ks *ks;
    const mp_ceremony_cfg *rec;
} every_ctx;

static int checkpoint_due(void *arg)
{
    every_ctx *x = arg;
    int64_t seq = 0;
    char what[96];
    int rc = mp_audit_every_tick(&x->e, x->l, x->ks, &seq);
    if (rc != MP_OK || seq == 0) return rc;
    snprintf(what, sizeof(what), "audit checkpoint %lld (every %lld rows)", (long long)seq, (long long)x->e.every);
    return mp_audit_log_checkpoint(x->l, x->rec, what, x->ks, &x->e.key, seq);
}

int dac_issue_main(mp_cmd *mc, int argc, char **argv)
{
    mp_common c = {0};
    issue_args a;
    mp_issue is;
    every_ctx every;
    uint64_t order;
    char host[64] = "";
    memset(&a, 0, sizeof(a));
    memset(&is, 0, sizeof(is));
    memset(&every, 0, sizeof(every));
    int rc = parse(argc, argv, &c, &a);
    if (rc != 0) return rc == OPT_HELP ? MP_OK : -rc;
    if ((rc = check_mode(&a)) != MP_OK) return rc;
    if (mp_parse_uint(a.order, INT64_MAX, &order) != MP_OK) return mp_err(MP_ERR_USAGE, "--order: not a number");
    gethostname(host, sizeof(host) - 1);
    is.out_dir = a.out_dir;
    const char *env_station = getenv("MATTER_PKI_STATION");
    is.station = a.station ? a.station : env_station != NULL && *env_station ? env_station : host;
    is.lease_secs = 600;
    if (a.lease != NULL && (rc = mp_parse_duration(a.lease, &is.lease_secs)) != MP_OK) return rc;
    if (a.block != NULL && ((is.block = (size_t)mp_opt_uint(a.block)) < 1 || is.block > 2048)) {
        return mp_err(MP_ERR_USAGE, "--block: 1..2048");
    }
    {
        uint8_t r[16];
        if (RAND_bytes(r, sizeof(r)) != 1) return mp_err_ssl(MP_ERR_GENERAL, "RAND_bytes");
        mp_hex(r, sizeof(r), is.lease, 0);
    }
    is.jobs = a.jobs ? (int)mp_opt_uint(a.jobs) : 1;
    is.quiet = c.quiet;
    is.generate_keys = a.generate;
    mp_signals_install();
    if ((rc = mp_cmd_open(mc, &c)) != MP_OK ||
        (rc = mp_issue_prepare(&is, mc->ledger, mc->ks, (int64_t)order, a.test_mode)) != MP_OK ||
        (rc = mp_audit_every_init(&every.e, mc->ledger, mc->ks)) != MP_OK) {
        goto end;
    }
    every.l = mc->ledger;
    every.ks = mc->ks;
    every.rec = &c.rec;
    if (every.e.key_id != 0) {
        is.on_commit = checkpoint_due;
        is.on_commit_ctx = &every;
    }
    rc = run_batch(&is, &a, c.force);
    /* the checkpoint of the audit rows this run wrote: the dispatcher's (src/cli/audit_end.h) */
    if (a.export_layout != NULL && is.out_abs[0] != 0 && (rc == MP_OK || a.csr_dir != NULL || a.csr_bundle != NULL)) {
        rc = export_layout(&is, rc);
    }
end:
    mp_issue_release(&is);
    return rc;
}
