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
#include "util.h"


void mp_serial_hex(const uint8_t serial[static 16], char out[41])
{
    size_t i = 0;
    while (i < 15 && serial[i] == 0) {
        i++; /* minimal form; serials never start with 0x00 but stay general */
    }
    mp_hex(serial + i, 16 - i, out, 1);
}



size_t mp_sec1_der(const uint8_t scalar[static 32], const uint8_t point[static 65], uint8_t out[static 121])
{
    static const uint8_t head[] = {0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20};
    static const uint8_t mid[] = {0xA0, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07,
                                  0xA1, 0x44, 0x03, 0x42, 0x00};
    size_t o = 0;
    memcpy(out + o, head, sizeof(head));
    o += sizeof(head);
    memcpy(out + o, scalar, 32);
    o += 32;
    memcpy(out + o, mid, sizeof(mid));
    o += sizeof(mid);
    memcpy(out + o, point, 65);
    return o + 65;
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
} recover_ctx;

/* May this run rewrite files in dir? Only if no live run holds the folder:
 * that run writes and marks its own rows, and renaming its pending keys
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

/* Rewrite one recorded certificate at exactly the path its run recorded
 * (absolute), and rename its pending off-chip key. */
static int rewrite_one(void *ctx, const mp_cert_rec *c)
{
    recover_ctx *r = ctx;
    char dir[4096], pending[4200], final[4200];
    int rc;
    if (c->batch != r->cur) {
        if ((rc = batch_done(r)) != MP_OK) return rc;
        r->cur = c->batch;
        r->cur_skipped = 0;
    }
    /* the ledger gives every certificate its path (schema 5: its own, or
     * UDID.der in its batch's folder) */
    snprintf(dir, sizeof(dir), "%s", c->path ? c->path : "");
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        return mp_err(MP_ERR_IO, "certificate of %s has no recorded absolute path; export it with `ledger export`", c->udid);
    }
    *slash = 0;
    int slot;
    if (!dir_free(r, dir, &slot)) {
        r->skipped++;
        r->cur_skipped = 1;
        return MP_OK;
    }
    mp_outdir *od = &r->dirs[slot].od;
    if ((od->fd < 0 && (rc = mp_outdir_open(od, dir)) != MP_OK) ||
        (rc = mp_outdir_write(od, slash + 1, c->der, c->der_len, 0644)) != MP_OK) {
        return rc;
    }
    size_t pl = strlen(c->path);
    if (pl > 4 && strcmp(c->path + pl - 4, ".der") == 0) {
        snprintf(pending, sizeof(pending), "%.*s.key.der.pending", (int)(pl - 4), c->path);
        snprintf(final, sizeof(final), "%.*s.key.der", (int)(pl - 4), c->path);
        if (access(pending, F_OK) == 0 && rename(pending, final) != 0) {
            return mp_err(MP_ERR_IO, "%s: cannot rename: %s", pending, strerror(errno));
        }
    }
    r->n++;
    r->is->recovered_files++;
    return MP_OK;
}

/* Remove files in out_dir that no committed certificate explains. */
static int sweep(mp_issue *is)
{
    DIR *d = opendir(is->out_dir);
    struct dirent *e;
    int rc = MP_OK;
    if (d == NULL) {
        return mp_err(MP_ERR_IO, "%s: cannot list: %s", is->out_dir, strerror(errno));
    }
    while (rc == MP_OK && (e = readdir(d)) != NULL) {
        char udid[MP_UDID_MAX + 1], sha[65], path[4400];
        const char *n = e->d_name;
        size_t len = strlen(n);
        int leftover = 0, found = 1;
        if (mp_is_tmp_name(n)) {
            leftover = 1;
        } else {
            const char *suffixes[] = {".key.der.pending", ".key.der", ".der"};
            for (size_t i = 0; i < 3 && !leftover; i++) {
                size_t sl = strlen(suffixes[i]);
                if (len > sl && len - sl <= MP_UDID_MAX && strcmp(n + len - sl, suffixes[i]) == 0) {
                    snprintf(udid, sizeof(udid), "%.*s", (int)(len - sl), n);
                    rc = mp_ledger_cert_for_udid(is->ledger, udid, sha, &found);
                    leftover = rc == MP_OK && !found;
                    break;
                }
            }
        }
        if (leftover) {
            snprintf(path, sizeof(path), "%s/%s", is->out_dir, n);
            if (unlink(path) == 0) {
                is->removed_files++;
                fprintf(stderr, "matter-pki dac issue: removed %s (left by an interrupted run; not in the ledger)\n", path);
            }
        }
    }
    closedir(d);
    return rc;
}

int mp_issue_recover(mp_issue *is, int sweep_out_dir)
{
    recover_ctx r = {.is = is};
    int rc = mp_ledger_each_unwritten(is->ledger, is->order.id, rewrite_one, &r);
    if (rc == MP_OK) {
        rc = batch_done(&r);
    }
    for (int i = 0; rc == MP_OK && i < r.ndirs; i++) {
        if (r.dirs[i].od.fd >= 0) rc = mp_outdir_sync(&r.dirs[i].od);
    }
    if (rc == MP_OK && r.nb > 0 && (rc = mp_ledger_begin(is->ledger)) == MP_OK) {
        for (size_t i = 0; rc == MP_OK && i < r.nb; i++) {
            rc = mp_ledger_batch_written(is->ledger, r.batches[i]);
        }
        if (rc == MP_OK) {
            rc = mp_ledger_commit(is->ledger);
        }
        mp_ledger_rollback(is->ledger);
        if (rc == MP_OK) {
            fprintf(stderr, "matter-pki dac issue: rewrote %zu certificate file(s) recorded by an interrupted run\n", r.n);
        }
    }
    if (r.skipped > 0) {
        fprintf(stderr, "matter-pki dac issue: %llu certificate file(s) of order %lld await their run in another folder"
                        " (in use or missing); a run there finishes them\n", (unsigned long long)r.skipped,
                (long long)is->order.id);
    }
    for (int i = 0; i < r.ndirs; i++) {
        mp_outdir_close(&r.dirs[i].od);
        if (r.dirs[i].fd >= 0) close(r.dirs[i].fd);
    }
    free(r.batches);
    return rc == MP_OK && sweep_out_dir ? sweep(is) : rc;
}
