/* build_out.c - onboarding.csv and manifest.jsonl of a factory-data build:
 * appended and synced per chunk before the ledger commit, filtered on
 * recovery to the devices the ledger knows; QR images. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qrencode.h>

#include "factory-data/build.h"
#include "util.h"

#define ONBOARDING_HEADER "udid,serial,vendor_id,product_id,discriminator,passcode,qr,manual_code\n"

static int fd_onb = -1, fd_man = -1;

static int open_append(const char *dir, const char *name, const char *header, int *fd)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    *fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (*fd < 0) {
        return mp_err(MP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    if (header != NULL && lseek(*fd, 0, SEEK_END) == 0 &&
        write(*fd, header, strlen(header)) != (ssize_t)strlen(header)) {
        return mp_err(MP_ERR_IO, "%s: write failed", path);
    }
    return MP_OK;
}

int mp_fd_lists_open(mp_fd_build *b)
{
    int rc = open_append(b->out_dir, "onboarding.csv", ONBOARDING_HEADER, &fd_onb);
    return rc == MP_OK ? open_append(b->out_dir, "manifest.jsonl", NULL, &fd_man) : rc;
}

static int write_all(int fd, const char *s)
{
    size_t n = strlen(s), done = 0;
    while (done < n) {
        ssize_t w = write(fd, s + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        done += (size_t)w;
    }
    return 0;
}

int mp_fd_lists_append(const char *onboarding, const char *manifest)
{
    if (write_all(fd_onb, onboarding) != 0 || write_all(fd_man, manifest) != 0 ||
        fsync(fd_onb) != 0 || fsync(fd_man) != 0) {
        return mp_err(MP_ERR_IO, "cannot append to onboarding.csv / manifest.jsonl: %s", strerror(errno));
    }
    return MP_OK;
}

void mp_fd_lists_close(void)
{
    if (fd_onb >= 0) close(fd_onb);
    if (fd_man >= 0) close(fd_man);
    fd_onb = fd_man = -1;
}

/* Keep the lines of `name` whose UDID (first CSV field, or "udid" in JSON)
 * has factory data recorded in the ledger. Streaming: flat memory. */
static int filter(mp_fd_build *b, const char *name, int json, uint64_t *dropped)
{
    char path[4200], tmp[4300], udid[MP_UDID_MAX + 1];
    snprintf(path, sizeof(path), "%s/%s", b->out_dir, name);
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%d", b->out_dir, name, (int)getpid());
    FILE *in = fopen(path, "r");
    if (in == NULL) {
        return errno == ENOENT ? MP_OK : mp_err(MP_ERR_IO, "%s: %s", path, strerror(errno));
    }
    int ofd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *out = ofd >= 0 ? fdopen(ofd, "w") : NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = out ? MP_OK : mp_err(MP_ERR_IO, "%s: cannot create", tmp);
    long lineno = 0;
    while (rc == MP_OK && (n = getline(&line, &cap, in)) > 0) {
        const char *u = line;
        size_t ul;
        lineno++;
        if (json) {
            u = strstr(line, "\"udid\":\"");
            u = u ? u + 8 : line;
            ul = strcspn(u, "\"");
        } else {
            ul = strcspn(u, ",\n");
        }
        int keep = !json && lineno == 1; /* the CSV header */
        if (!keep && ul > 0 && ul <= MP_UDID_MAX) {
            mp_fd_rec r;
            int found = 0;
            snprintf(udid, sizeof(udid), "%.*s", (int)ul, u);
            rc = mp_ledger_get_fd(b->ledger, udid, &r, &found);
            mp_wipe(&r, sizeof(r));
            keep = found && line[n - 1] == '\n';
        }
        if (keep) {
            fwrite(line, 1, (size_t)n, out);
        } else {
            (*dropped)++;
        }
    }
    if (line) mp_free_secret(line, cap);
    fclose(in);
    if (out != NULL && (fflush(out) != 0 || fsync(fileno(out)) != 0)) rc = mp_err(MP_ERR_IO, "%s: write failed", tmp);
    if (out != NULL) fclose(out);
    if (rc == MP_OK && rename(tmp, path) != 0) rc = mp_err(MP_ERR_IO, "%s: cannot replace: %s", path, strerror(errno));
    if (rc != MP_OK) unlink(tmp);
    return rc;
}

/* Temporary files of an interrupted run: never renamed into place, so they
 * hold nothing anyone relies on. */
static void sweep_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4400];
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (mp_is_tmp_name(e->d_name)) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (unlink(path) == 0) {
                fprintf(stderr, "matter-pki factory-data build: removed %s (left by an interrupted run)\n", path);
            }
        }
    }
    if (d != NULL) closedir(d);
}

int mp_fd_lists_recover(mp_fd_build *b)
{
    char marker[4200];
    uint64_t dropped = 0;
    int rc = MP_OK;
    snprintf(marker, sizeof(marker), "%s/.build-incomplete", b->out_dir);
    if (access(marker, F_OK) == 0) {
        sweep_tmp(b->out_dir);
        if ((rc = filter(b, "onboarding.csv", 0, &dropped)) == MP_OK) {
            rc = filter(b, "manifest.jsonl", 1, &dropped);
        }
        if (rc == MP_OK && dropped > 0) {
            fprintf(stderr, "matter-pki factory-data build: dropped %llu line(s) of an interrupted run that never reached the ledger\n",
                    (unsigned long long)dropped);
        }
    }
    int fd = rc == MP_OK ? open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) : -1;
    if (rc == MP_OK && (fd < 0 || fsync(fd) != 0)) rc = mp_err(MP_ERR_IO, "%s: cannot create", marker);
    if (fd >= 0) close(fd);
    return rc;
}

int mp_fd_lists_passcode(const mp_fd_build *b, const char *udid, uint32_t *passcode)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/onboarding.csv", b->out_dir);
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, ul = strlen(udid);
    int rc = mp_err(MP_ERR_INVALID, "device %s: its passcode is neither recorded (--record-passcodes) nor in %s", udid, path);
    while (f != NULL && getline(&line, &cap, f) > 0) {
        if (strncmp(line, udid, ul) == 0 && line[ul] == ',') {
            const char *p = line;
            for (int field = 0; field < 5 && p != NULL; field++) {
                p = strchr(p, ',');
                p = p ? p + 1 : NULL;
            }
            *passcode = p ? (uint32_t)strtoul(p, NULL, 10) : 0;
            rc = *passcode ? MP_OK : rc;
            break;
        }
    }
    if (line) mp_free_secret(line, cap);
    if (f) fclose(f);
    return rc;
}

int mp_fd_qr_svg(mp_outdir *od, const char *udid, const char *qr)
{
    char name[MP_UDID_MAX + 16];
    QRcode *c = QRcode_encodeString(qr, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (c == NULL) {
        return mp_err(MP_ERR_GENERAL, "%s: cannot encode the QR code", udid);
    }
    int q = 4, size = c->width + 2 * q;
    size_t cap = (size_t)c->width * (size_t)c->width * 48 + 512, o = 0;
    char *svg = malloc(cap);
    if (svg == NULL) {
        QRcode_free(c);
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    o += (size_t)snprintf(svg + o, cap - o,
                          "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">"
                          "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"", size, size, size, size);
    for (int y = 0; y < c->width; y++) {
        for (int x = 0; x < c->width; x++) {
            if (c->data[y * c->width + x] & 1) {
                o += (size_t)snprintf(svg + o, cap - o, "M%d %dh1v1h-1z", x + q, y + q);
            }
        }
    }
    o += (size_t)snprintf(svg + o, cap - o, "\"/></svg>\n");
    QRcode_free(c);
    snprintf(name, sizeof(name), "%s.qr.svg", udid);
    int rc = mp_outdir_write(od, name, (const uint8_t *)svg, o, 0600);
    mp_free_secret(svg, cap);
    return rc;
}
