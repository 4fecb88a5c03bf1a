/* issue_files.c - output files of a DAC batch and recovery after a crash. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dac/issue.h"
#include "devsecret.h"
#include "util.h"


const uint8_t *mp_serial_octets(const uint8_t serial[static 16], size_t *len)
{
    size_t i = 0;
    while (i < 15 && serial[i] == 0) {
        i++; /* minimal form; serials never start with 0x00 but stay general */
    }
    *len = 16 - i;
    return serial + i;
}

void mp_serial_hex(const uint8_t serial[static 16], char out[41])
{
    size_t n;
    const uint8_t *p = mp_serial_octets(serial, &n);
    mp_hex(p, n, out, 1);
}



int mp_issue_staging_open(const char *dir, mp_outdir *stage)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof(path), "%s/" MP_STAGING, dir);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return mp_err(MP_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    /* ours: a real folder (not a link) of this user, closed to others */
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
        return mp_err(MP_ERR_IO, "%s: not a folder of this user (matter-pki keeps uncommitted files there)", path);
    }
    if ((st.st_mode & 077) != 0 && chmod(path, 0700) != 0) {
        return mp_err(MP_ERR_IO, "%s: cannot restrict: %s", path, strerror(errno));
    }
    return mp_outdir_open(stage, path);
}

#define MAX_DIRS 16

typedef struct recover_ctx {
    mp_issue *is;
    int64_t *batches;   /* batches whose every file was rewritten */
    size_t nb, cap;
    int64_t cur;        /* the batch being walked (rows come batch by batch) */
    int cur_skipped;    /* some file of it was left to another run */
    size_t n;           /* files rewritten */
    /* folders met so far: ours (is->out_dir, already locked), others we
     * locked (fd >= 0), others a live run holds (fd < 0: skipped) */
    struct {
        char path[4096];
        int fd, own;
        mp_outdir od; /* opened at the first file rewritten there */
    } dirs[MAX_DIRS];
    int ndirs;
    uint64_t skipped;
    /* this run's bundle: opened (torn line cut) and its devices read at the
     * first unwritten line of it */
    mp_bundle bundle;
    char **have;
    size_t nhave;
} recover_ctx;

/* May this run rewrite files in dir? Only if no live run holds the folder:
 * that run writes and marks its own rows, and renaming its staged keys
 * under it would break it. */
static int dir_free(recover_ctx *r, const char *dir, int *slot)
{
    for (int i = 0; i < r->ndirs; i++) {
        if (strcmp(r->dirs[i].path, dir) == 0) {
            *slot = i;
            return r->dirs[i].own || r->dirs[i].fd >= 0;
        }
    }
    if (r->ndirs == MAX_DIRS) {
        *slot = -1;
        return 0; /* many folders at once: the rest are finished by runs in them */
    }
    int i = *slot = r->ndirs++;
    snprintf(r->dirs[i].path, sizeof(r->dirs[i].path), "%s", dir);
    r->dirs[i].own = r->is->out_dir != NULL && strcmp(dir, r->is->out_dir) == 0;
    r->dirs[i].fd = -1;
    r->dirs[i].od.fd = -1;
    struct stat st;
    if (!r->dirs[i].own && stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && mp_dir_lock(dir, &r->dirs[i].fd) != MP_OK) {
        r->dirs[i].fd = -1;
        return 0;
    }
    return r->dirs[i].own || r->dirs[i].fd >= 0;
}

/* The batch walked so far is finished: keep it for the written mark unless
 * one of its files was left to another run. */
static int batch_done(recover_ctx *r)
{
    if (r->cur == 0 || r->cur_skipped) {
        return MP_OK;
    }
    if (r->nb == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        void *p = realloc(r->batches, cap * sizeof(*r->batches));
        if (p == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
        r->batches = p;
        r->cap = cap;
    }
    r->batches[r->nb++] = r->cur;
    return MP_OK;
}

/* A committed device's staged off-chip key (or a run's before schema 5) to
 * its place beside its DAC: devsecret.h. */
static int place_key(mp_issue *is, const char *dir, const char *udid, const char *cert_path)
{
    int moved = 0;
    int rc = mp_devsecret_recover_key(dir, udid, cert_path, &moved);
    is->moved_keys += (uint64_t)moved;
    return rc;
}

/* A line of this run's bundle that the ledger recorded but did not see
 * written: appended unless the bundle holds the device already. */
static int rewrite_line(recover_ctx *r, const mp_cert_rec *c, size_t bundle_len)
{
    mp_issue *is = r->is;
    if (is->bundle == NULL || strlen(is->bundle) != bundle_len || strncmp(is->bundle, c->path, bundle_len) != 0) {
        r->skipped++; /* another bundle: its own run finishes it */
        r->cur_skipped = 1;
        return MP_OK;
    }
    int rc;
    if (r->bundle.fd < 0 && ((rc = mp_bundle_open(&r->bundle, is->bundle, is->generate_keys ? 0600 : 0644)) != MP_OK ||
                             (rc = mp_bundle_udids(is->bundle, &r->have, &r->nhave)) != MP_OK)) {
        return rc;
    }
    if (mp_bundle_has(r->have, r->nhave, c->udid)) {
        return MP_OK;
    }
    /* an off-chip device: its key waits in the staging folder (synced
     * before its DAC committed) and goes into the line; the sweep after the
     * flush removes the staged file */
    mp_devkey k;
    char key[MP_DEVSECRET_MEMBER_MAX] = "";
    int found = 0;
    rc = mp_devsecret_get_staged(is->out_dir, c->udid, c->der, c->der_len, &k, &found);
    if (rc == MP_OK && found && (rc = mp_bundle_private(&r->bundle)) == MP_OK) {
        rc = mp_devsecret_bundle_member(&k, key, sizeof(key));
    }
    MP_DEVSECRET_CLEAR(&k);
    if (rc == MP_OK) rc = mp_bundle_add(&r->bundle, c->udid, c->serial, c->der, c->der_len, NULL, key);
    mp_wipe(key, sizeof(key));
    if (rc != MP_OK) return rc;
    r->n++;
    is->recovered_files++;
    return MP_OK;
}

/* Rewrite one recorded certificate at exactly the path its run recorded
 * (absolute), and put its staged off-chip key in place. */
static int rewrite_one(void *ctx, const mp_cert_rec *c)
{
    recover_ctx *r = ctx;
    char dir[4096];
    int rc;
    if (c->batch != r->cur) {
        if ((rc = batch_done(r)) != MP_OK) return rc;
        r->cur = c->batch;
        r->cur_skipped = 0;
    }
    /* the ledger gives every certificate its path (schema 5: its own, or
     * UDID.der in its batch's folder) and its batch's folder */
    const char *path = c->path ? c->path : "";
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        return mp_err(MP_ERR_IO, "certificate of %s has no recorded absolute path; export it with `ledger export`", c->udid);
    }
    if (c->dir != NULL && c->dir[0] == '/') {
        snprintf(dir, sizeof(dir), "%s", c->dir);
    } else {
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    }
    int slot;
    if (!dir_free(r, dir, &slot)) {
        r->skipped++;
        r->cur_skipped = 1;
        return MP_OK;
    }
    size_t pl = strlen(path), ul = strlen(c->udid), dl = strlen(dir);
    if (pl > ul + 1 && path[pl - ul - 1] == '#' && strcmp(path + pl - ul, c->udid) == 0) {
        return rewrite_line(r, c, pl - ul - 1);
    }
    const char *rel = strncmp(path, dir, dl) == 0 && path[dl] == '/' ? path + dl + 1 : slash + 1;
    mp_outdir *od = &r->dirs[slot].od;
    if ((od->fd < 0 && (rc = mp_outdir_open(od, dir)) != MP_OK) ||
        (rc = mp_out_write(od, rel, c->der, c->der_len, 0644)) != MP_OK ||
        (rc = place_key(r->is, dir, c->udid, path)) != MP_OK) {
        return rc;
    }
    r->n++;
    r->is->recovered_files++;
    return MP_OK;
}

/* Is cert (BUNDLE#UDID) this run's bundle, and does the bundle hold the
 * device's line? (The list is read once, at the first question.) */
static int in_bundle(mp_issue *is, const char *cert, const char *udid, char ***have, size_t *nhave, int *found)
{
    size_t bl = is->bundle ? strlen(is->bundle) : 0;
    *found = 0;
    if (bl == 0 || strncmp(cert, is->bundle, bl) != 0 || cert[bl] != '#') {
        return MP_OK; /* another bundle: its own run finishes it */
    }
    int rc = *have == NULL ? mp_bundle_udids(is->bundle, have, nhave) : MP_OK;
    *found = rc == MP_OK && mp_bundle_has(*have, *nhave, udid);
    return rc;
}

/* This run's staging folder after the rows are finished: a key whose device
 * has a committed DAC goes to its place (a kill between the commit and the
 * move), every other entry (keys of chunks that never committed, temporary
 * names) is removed. Nothing outside the staging folder is ever removed. */
static int sweep_staging(mp_issue *is)
{
    char **have = NULL;
    size_t nhave = 0;
    char path[4200];
    snprintf(path, sizeof(path), "%s/" MP_STAGING, is->out_dir);
    DIR *d = opendir(path);
    struct dirent *e;
    int rc = MP_OK;
    if (d == NULL) {
        return errno == ENOENT ? MP_OK : mp_err(MP_ERR_IO, "%s: cannot list: %s", path, strerror(errno));
    }
    while (rc == MP_OK && (e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        char udid[MP_UDID_MAX + 1], cert[4096], file[4400];
        int found = 0;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0) continue;
        int key = mp_devsecret_staged_udid(n, udid);
        if (key) {
            if ((rc = mp_ledger_cert_path(is->ledger, udid, cert, sizeof(cert), NULL, &found)) != MP_OK) break;
            if (found && strchr(cert, '#') != NULL) {
                /* a line of a bundle: its key is in the line once the line is there */
                if ((rc = in_bundle(is, cert, udid, &have, &nhave, &found)) != MP_OK) break;
                if (!found) continue; /* its run (this bundle's or another's) appends the line first */
            } else if (found) {
                rc = place_key(is, is->out_dir, udid, cert);
                continue;
            }
        }
        snprintf(file, sizeof(file), "%s/%s", path, n);
        if (unlink(file) == 0) {
            if (found) is->bundled_keys++;
            else if (key) is->removed_files++;
            else is->removed_tmp++;
        }
    }
    closedir(d);
    mp_bundle_udids_free(have, nhave);
    return rc;
}

static void summary(const mp_issue *is)
{
    char parts[512] = "";
    size_t o = 0;
    if (is->recovered_files > 0) {
        o += (size_t)snprintf(parts + o, sizeof(parts) - o, "; rewrote %llu %s the ledger recorded", (unsigned long long)is->recovered_files,
                              is->bundle ? "bundle line(s) / file(s)" : "certificate file(s)");
    }
    if (is->moved_keys > 0 && o < sizeof(parts)) {
        o += (size_t)snprintf(parts + o, sizeof(parts) - o, "; put %llu staged key file(s) in place", (unsigned long long)is->moved_keys);
    }
    if (is->removed_files + is->removed_tmp > 0 && o < sizeof(parts)) {
        o += (size_t)snprintf(parts + o, sizeof(parts) - o, "; removed %llu key file(s) of devices whose DAC never committed and %llu temporary"
                 " file(s), all from %s/" MP_STAGING " (nothing else in the folder is touched)",
                 (unsigned long long)is->removed_files, (unsigned long long)is->removed_tmp, is->out_dir);
    }
    if (is->bundled_keys > 0 && o < sizeof(parts)) {
        snprintf(parts + o, sizeof(parts) - o, "; removed %llu staged key file(s) whose key is in the bundle's line",
                 (unsigned long long)is->bundled_keys);
    }
    if (parts[0]) {
        fprintf(stderr, "matter-pki dac issue: finished what an interrupted run left%s\n", parts);
    }
}

int mp_issue_recover(mp_issue *is, int sweep_out_dir)
{
    recover_ctx r = {.is = is, .bundle = {.fd = -1}};
    int rc = mp_ledger_each_unwritten(is->ledger, is->order.id, rewrite_one, &r);
    if (rc == MP_OK) {
        rc = batch_done(&r);
    }
    for (int i = 0; rc == MP_OK && i < r.ndirs; i++) {
        if (r.dirs[i].od.fd >= 0) rc = mp_outdir_sync(&r.dirs[i].od);
    }
    if (rc == MP_OK && r.bundle.fd >= 0) {
        rc = mp_bundle_flush(&r.bundle);
    }
    if (rc == MP_OK && r.n > 0) {
        mp_fault_point("dac-issue-recovered"); /* rewritten and synced, not yet marked written */
    }
    if (rc == MP_OK && r.nb > 0 && (rc = mp_ledger_begin(is->ledger)) == MP_OK) {
        for (size_t i = 0; rc == MP_OK && i < r.nb; i++) {
            rc = mp_ledger_batch_written(is->ledger, r.batches[i]);
        }
        if (rc == MP_OK) {
            rc = mp_ledger_commit(is->ledger);
        }
        mp_ledger_rollback(is->ledger);
    }
    for (int i = 0; i < r.ndirs; i++) {
        mp_outdir_close(&r.dirs[i].od);
        if (r.dirs[i].fd >= 0) close(r.dirs[i].fd);
    }
    mp_bundle_close(&r.bundle);
    mp_bundle_udids_free(r.have, r.nhave);
    free(r.batches);
    if (rc == MP_OK && sweep_out_dir) {
        rc = sweep_staging(is);
    }
    if (rc == MP_OK) {
        summary(is);
    }
    if (r.skipped > 0) {
        fprintf(stderr, "matter-pki dac issue: %llu certificate file(s) of order %lld await their run in another folder"
                        " (in use or missing); a run there finishes them\n", (unsigned long long)r.skipped,
                (long long)is->order.id);
    }
    return rc;
}
