/* build_out.c - onboarding.csv and manifest.jsonl of a factory-data build
 * (see build.h): lines staged in .labels.pending before the ledger commit,
 * appended to the lists after it; recovery keeps only lines that are the
 * committed record of their device. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "factory-data/build.h"
#include "csv.h"
#include "util.h"

const char mp_fd_onboarding_header[] = "udid,serial,vendor_id,product_id,discriminator,passcode,qr,manual_code,manual_code_dashed\n";
#define PENDING ".labels.pending"
#define MARKER ".build-incomplete"

static int fd_onb = -1, fd_man = -1, fd_pend = -1, have_marker;

static void path_of(const mp_fd_build *b, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", b->out_dir, name);
}

static int write_all(int fd, const char *s, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, s + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        done += (size_t)w;
    }
    return 0;
}

/* A file of ours: created O_EXCL|O_NOFOLLOW, or an existing regular file
 * (never through a symbolic link). */
static int open_ours(const char *path, int flags, int *fd)
{
    *fd = open(path, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (*fd < 0 && errno == EEXIST) *fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC);
    if (*fd < 0) {
        return mp_err(MP_ERR_IO, "%s: cannot open%s: %s", path, errno == ELOOP ? " (a symbolic link)" : "", strerror(errno));
    }
    struct stat st;
    if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(*fd);
        *fd = -1;
        return mp_err(MP_ERR_IO, "%s: not a regular file", path);
    }
    return MP_OK;
}

int mp_fd_marker(mp_fd_build *b)
{
    char path[4200];
    int fd;
    if (have_marker) return MP_OK;
    path_of(b, MARKER, path, sizeof(path));
    int rc = open_ours(path, O_WRONLY, &fd);
    if (rc != MP_OK) return rc;
    if (fsync(fd) != 0) rc = mp_err(MP_ERR_IO, "%s: cannot sync: %s", path, strerror(errno));
    close(fd);
    have_marker = rc == MP_OK;
    return rc;
}

int mp_fd_lists_stage(mp_fd_build *b, const char *pending)
{
    char path[4200];
    int rc;
    path_of(b, PENDING, path, sizeof(path));
    if (fd_pend < 0 && (rc = open_ours(path, O_WRONLY, &fd_pend)) != MP_OK) return rc;
    if (ftruncate(fd_pend, 0) != 0 || lseek(fd_pend, 0, SEEK_SET) != 0 || write_all(fd_pend, pending, strlen(pending)) != 0 ||
        fsync(fd_pend) != 0) {
        return mp_err(MP_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    }
    return MP_OK;
}

/* Open a list for appending; onboarding.csv gets its header when empty. */
static int open_list(mp_fd_build *b, const char *name, const char *header, int *fd)
{
    char path[4200];
    path_of(b, name, path, sizeof(path));
    int rc = open_ours(path, O_WRONLY | O_APPEND, fd);
    if (rc == MP_OK && header != NULL && lseek(*fd, 0, SEEK_END) == 0 && write_all(*fd, header, strlen(header)) != 0) {
        rc = mp_err(MP_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    }
    return rc;
}

int mp_fd_lists_commit(mp_fd_build *b, const char *onboarding, const char *manifest)
{
    int rc;
    if (fd_onb < 0 && (rc = open_list(b, "onboarding.csv", mp_fd_onboarding_header, &fd_onb)) != MP_OK) return rc;
    if (fd_man < 0 && (rc = open_list(b, "manifest.jsonl", NULL, &fd_man)) != MP_OK) return rc;
    if (write_all(fd_onb, onboarding, strlen(onboarding)) != 0 || write_all(fd_man, manifest, strlen(manifest)) != 0 ||
        fsync(fd_onb) != 0 || fsync(fd_man) != 0) {
        return mp_err(MP_ERR_IO, "cannot append to onboarding.csv / manifest.jsonl: %s", strerror(errno));
    }
    if (fd_pend >= 0 && (ftruncate(fd_pend, 0) != 0 || fsync(fd_pend) != 0)) {
        return mp_err(MP_ERR_IO, "%s/" PENDING ": cannot empty: %s", b->out_dir, strerror(errno));
    }
    return MP_OK;
}

void mp_fd_lists_close(void)
{
    if (fd_onb >= 0) close(fd_onb);
    if (fd_man >= 0) close(fd_man);
    if (fd_pend >= 0) close(fd_pend);
    fd_onb = fd_man = fd_pend = -1;
    have_marker = 0;
}

/* ---- recovery ----------------------------------------------------------------- */

typedef struct pend_line {
    char type; /* 'O' or 'M' */
    char udid[MP_UDID_MAX + 1];
    char *line; /* with its newline */
    int committed; /* the ledger recorded this device with this line's salt */
} pend_line;

typedef struct pend_set {
    pend_line *v;
    size_t n;
    char **sorted; /* UDIDs, sorted, for lookups */
    size_t ns;
} pend_set;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int in_pending(const pend_set *p, const char *udid)
{
    return p->ns > 0 && bsearch(&udid, p->sorted, p->ns, sizeof(char *), cmp_str) != NULL;
}

static void pend_free(pend_set *p)
{
    for (size_t i = 0; i < p->n; i++) mp_free_secret(p->v[i].line, strlen(p->v[i].line));
    free(p->v);
    free(p->sorted);
    memset(p, 0, sizeof(*p));
}

/* .labels.pending: "O|M \t UDID \t salt-hex \t line". A line counts as
 * committed when the ledger holds the device with exactly that salt. */
static int pend_load(mp_fd_build *b, pend_set *p)
{
    char path[4200];
    path_of(b, PENDING, path, sizeof(path));
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? MP_OK : mp_err(MP_ERR_IO, "%s: %s", path, strerror(errno));
    char *vbuf = NULL; /* the lines hold passcodes: stdio's buffer and the line's are wiped */
    FILE *f = mp_fdopen_wiped(fd, "r", &vbuf);
    char *line = NULL;
    size_t cap = 0, vcap = 0;
    long n;
    int rc = f ? MP_OK : mp_err(MP_ERR_IO, "%s: %s", path, strerror(errno));
    while (rc == MP_OK && f != NULL && (n = mp_getline_wiped(&line, &cap, f)) > 0) {
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL, *t3 = t2 ? strchr(t2 + 1, '\t') : NULL;
        if (line[n - 1] != '\n' || t3 == NULL || (line[0] != 'O' && line[0] != 'M') || t2 - t1 - 1 > MP_UDID_MAX) continue;
        if (p->n == vcap) {
            vcap = vcap ? 2 * vcap : 256;
            pend_line *nv = realloc(p->v, vcap * sizeof(*nv));
            if (nv == NULL) {
                rc = mp_err(MP_ERR_GENERAL, "out of memory");
                break;
            }
            p->v = nv;
        }
        pend_line *e = &p->v[p->n];
        memset(e, 0, sizeof(*e));
        e->type = line[0];
        snprintf(e->udid, sizeof(e->udid), "%.*s", (int)(t2 - t1 - 1), t1 + 1);
        *t3 = 0;
        uint8_t salt[32];
        long sl = mp_unhex(t2 + 1, salt, sizeof(salt));
        mp_fd_rec r;
        int found = 0;
        if ((rc = mp_ledger_get_fd(b->ledger, e->udid, &r, &found)) != MP_OK) break;
        e->committed = found && sl > 0 && (size_t)sl == r.salt_len && memcmp(salt, r.salt, r.salt_len) == 0;
        mp_wipe(&r, sizeof(r));
        if ((e->line = strdup(t3 + 1)) == NULL) {
            rc = mp_err(MP_ERR_GENERAL, "out of memory");
            break;
        }
        p->n++;
    }
    if (line) mp_free_secret(line, cap);
    if (f) mp_fclose_wiped(f, vbuf);
    else close(fd);
    if (rc == MP_OK && p->n > 0) {
        if ((p->sorted = malloc(p->n * sizeof(char *))) == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
        for (size_t i = 0; i < p->n; i++) p->sorted[p->ns++] = p->v[i].udid;
        qsort(p->sorted, p->ns, sizeof(char *), cmp_str);
    }
    return rc;
}

/* Does this line say what the ledger recorded for its device? */
static int line_matches(mp_fd_build *b, const char *udid, const char *serial, long disc, int *ok)
{
    mp_fd_rec r;
    int found = 0;
    *ok = 0;
    if (strlen(udid) == 0 || strlen(udid) > MP_UDID_MAX) return MP_OK;
    int rc = mp_ledger_get_fd(b->ledger, udid, &r, &found);
    *ok = rc == MP_OK && found && strcmp(r.serial, serial) == 0 && (long)r.discriminator == disc;
    mp_wipe(&r, sizeof(r));
    return rc;
}

/* manifest.jsonl lines that are the committed record of their device. */
static int filter_json(mp_fd_build *b, FILE *in, FILE *out, const pend_set *p, uint64_t *dropped)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = MP_OK;
    while (rc == MP_OK && (n = mp_getline_wiped(&line, &cap, in)) > 0) {
        json_t *o = line[n - 1] == '\n' ? json_loads(line, 0, NULL) : NULL;
        const char *u = o ? json_string_value(json_object_get(o, "udid")) : NULL;
        const char *sn = o ? json_string_value(json_object_get(o, "serial")) : NULL;
        json_t *d = o ? json_object_get(o, "discriminator") : NULL;
        int keep = 0;
        if (u && sn && json_is_integer(d) && !in_pending(p, u)) rc = line_matches(b, u, sn, (long)json_integer_value(d), &keep);
        json_decref(o);
        if (keep) fwrite(line, 1, (size_t)n, out);
        else (*dropped)++;
    }
    free(line);
    return rc;
}

/* One onboarding.csv record written back (quoted as needed); 0 when it is
 * longer than any line of ours (then it is dropped). */
static int csv_record(const mp_csv *c, FILE *out)
{
    char line[1024];
    size_t o = 0;
    int ok = 1;
    for (int i = 0; ok && i < c->n; i++) {
        size_t room = o + 3 < sizeof(line) ? sizeof(line) - o - 3 : 0;
        if (i) line[o++] = ',';
        size_t k = room ? mp_csv_cell(line + o, room, c->fields[i]) : 0;
        ok = k > 0 || c->fields[i][0] == 0;
        o += k;
    }
    if (ok) {
        line[o++] = '\n';
        fwrite(line, 1, o, out);
    }
    mp_wipe(line, sizeof(line));
    return ok;
}

/* onboarding.csv lines that are the committed record of their device; a
 * line cut by a crash (inside a quote too) is dropped. */
static int filter_csv(mp_fd_build *b, FILE *in, const char *path, FILE *out, const pend_set *p, uint64_t *dropped)
{
    mp_csv c;
    int rc = MP_OK, prc = MP_OK;
    mp_csv_init(&c, in, path);
    while (rc == MP_OK && (prc = mp_csv_next(&c)) == MP_OK && c.n > 0) {
        int keep = 0;
        if (c.line == 1) continue; /* the header, checked before */
        if (c.complete && c.n == 9 && !in_pending(p, c.fields[0])) {
            uint64_t disc;
            if (mp_parse_uint(c.fields[4], 4095, &disc) == MP_OK) rc = line_matches(b, c.fields[0], c.fields[1], (long)disc, &keep);
        }
        if (!keep || !csv_record(&c, out)) (*dropped)++;
    }
    if (prc != MP_OK) {
        mp_err_clear();
        (*dropped)++;
    }
    mp_csv_free(&c);
    return rc;
}

/* Rewrite a list keeping the lines that are the committed record of their
 * device (not in .labels.pending), then the committed pending lines.
 * Streaming: flat memory. */
static int filter(mp_fd_build *b, const char *name, int json, const pend_set *p, uint64_t *dropped)
{
    char path[4200], tmp[4300];
    path_of(b, name, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%d", b->out_dir, name, (int)getpid());
    int ifd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (ifd < 0 && errno != ENOENT) return mp_err(MP_ERR_IO, "%s: %s", path, strerror(errno));
    int any_pending = 0;
    for (size_t i = 0; i < p->n; i++) any_pending |= p->v[i].committed && p->v[i].type == (json ? 'M' : 'O');
    if (ifd < 0 && !any_pending) return MP_OK;
    char *ibuf = NULL, *obuf = NULL; /* onboarding.csv holds passcodes: stdio buffers wiped */
    FILE *in = ifd >= 0 ? mp_fdopen_wiped(ifd, "r", &ibuf) : NULL;
    unlink(tmp);
    int ofd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (ofd >= 0) (void)fchmod(ofd, 0600); /* not left to the umask */
    FILE *out = ofd >= 0 ? mp_fdopen_wiped(ofd, "w", &obuf) : NULL;
    int rc = out ? MP_OK : mp_err(MP_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    if (rc == MP_OK && ifd >= 0 && in == NULL) rc = mp_err(MP_ERR_GENERAL, "%s: out of memory", path); /* never a list without its lines */
    if (rc == MP_OK && !json) fputs(mp_fd_onboarding_header, out);
    if (in != NULL && rc == MP_OK) rc = json ? filter_json(b, in, out, p, dropped) : filter_csv(b, in, path, out, p, dropped);
    for (size_t i = 0; rc == MP_OK && out != NULL && i < p->n; i++) {
        if (p->v[i].committed && p->v[i].type == (json ? 'M' : 'O')) fputs(p->v[i].line, out);
    }
    if (in) mp_fclose_wiped(in, ibuf);
    else if (ifd >= 0) close(ifd);
    if (out != NULL && (fflush(out) != 0 || fsync(fileno(out)) != 0)) rc = mp_err(MP_ERR_IO, "%s: write failed", tmp);
    if (out != NULL) mp_fclose_wiped(out, obuf);
    else if (ofd >= 0) close(ofd);
    if (rc == MP_OK && rename(tmp, path) != 0) rc = mp_err(MP_ERR_IO, "%s: cannot replace: %s", path, strerror(errno));
    if (rc != MP_OK) unlink(tmp);
    return rc;
}

/* Temporary files of an interrupted run: never renamed into place, so they
 * hold nothing anyone relies on. */
static uint64_t sweep_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4400];
    uint64_t n = 0;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (mp_is_tmp_name(e->d_name)) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (unlink(path) == 0) n++;
        }
    }
    if (d != NULL) closedir(d);
    return n;
}

/* An existing onboarding.csv must be ours: refuse to append to anything else. */
static int check_header(mp_fd_build *b)
{
    char path[4200], buf[256];
    path_of(b, "onboarding.csv", path, sizeof(path));
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? MP_OK : mp_err(MP_ERR_IO, "%s: cannot open%s: %s", path, errno == ELOOP ? " (a symbolic link)" : "", strerror(errno));
    }
    size_t hl = strlen(mp_fd_onboarding_header);
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n == 0) return MP_OK;
    if (n < (ssize_t)hl || memcmp(buf, mp_fd_onboarding_header, hl) != 0) {
        return mp_err(MP_ERR_INVALID, "%s: its first line is not matter-pki's onboarding header (%.*s); refusing to add to a file "
                      "this tool did not write (an older matter-pki wrote 8 columns): move it away or use another --out-dir",
                      path, (int)hl - 1, mp_fd_onboarding_header);
    }
    return MP_OK;
}

int mp_fd_lists_recover(mp_fd_build *b)
{
    char marker[4200], pending[4200];
    uint64_t dropped = 0, tmp = 0;
    pend_set p = {0};
    struct stat st;
    int rc = check_header(b);
    if (rc != MP_OK) return rc;
    path_of(b, MARKER, marker, sizeof(marker));
    path_of(b, PENDING, pending, sizeof(pending));
    if (lstat(marker, &st) != 0) {
        return errno == ENOENT ? MP_OK : mp_err(MP_ERR_IO, "%s: %s", marker, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return mp_err(MP_ERR_IO, "%s: not a regular file (a symbolic link?); remove it", marker);
    }
    tmp = sweep_tmp(b->out_dir);
    if ((rc = pend_load(b, &p)) == MP_OK && (rc = filter(b, "onboarding.csv", 0, &p, &dropped)) == MP_OK &&
        (rc = filter(b, "manifest.jsonl", 1, &p, &dropped)) == MP_OK) {
        uint64_t kept = 0;
        for (size_t i = 0; i < p.n; i++) {
            kept += p.v[i].committed && p.v[i].type == 'O';
            dropped += !p.v[i].committed;
        }
        if (unlink(pending) != 0 && errno != ENOENT) rc = mp_err(MP_ERR_IO, "%s: %s", pending, strerror(errno));
        if (rc == MP_OK && (dropped > 0 || tmp > 0 || kept > 0)) {
            fprintf(stderr, "matter-pki factory-data build: finishing an interrupted run: %llu temporary file(s) removed, "
                    "%llu label line(s) of committed devices restored, %llu line(s) that are not the ledger's record dropped\n",
                    (unsigned long long)tmp, (unsigned long long)kept, (unsigned long long)dropped);
        }
    }
    pend_free(&p);
    return rc;
}
