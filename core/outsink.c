/* outsink.c - batch output layouts and the JSON Lines bundle (see outsink.h). */
#include "outsink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "b64.h"

int mp_layout_parse(const char *s, int *layout)
{
    if (strcmp(s, "flat") == 0) *layout = MP_LAYOUT_FLAT;
    else if (strcmp(s, "per-device") == 0) *layout = MP_LAYOUT_PER_DEVICE;
    else return mp_err(MP_ERR_USAGE, "--layout: '%s' is not one of flat, per-device", s);
    return MP_OK;
}

int mp_name_by_parse(const char *s, int *name_by)
{
    if (strcmp(s, "udid") == 0) *name_by = MP_NAME_BY_UDID;
    else if (strcmp(s, "serial") == 0) *name_by = MP_NAME_BY_SERIAL;
    else return mp_err(MP_ERR_USAGE, "--name-by: '%s' is not one of udid, serial", s);
    return MP_OK;
}

int mp_out_relpath(int layout, const char *name, const char *suffix, char *out, size_t cap)
{
    int n = layout == MP_LAYOUT_PER_DEVICE ? snprintf(out, cap, "%s/%s%s", name, name, suffix)
                                           : snprintf(out, cap, "%s%s", name, suffix);
    return n > 0 && (size_t)n < cap ? MP_OK : mp_err(MP_ERR_IO, "%s%s: name too long", name, suffix);
}

int mp_out_write(mp_outdir *od, const char *rel, const uint8_t *data, size_t len, int mode)
{
    const char *slash = strchr(rel, '/');
    if (slash != NULL) {
        char dir[512];
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - rel), rel);
        if (mkdirat(od->fd, dir, 0755) != 0 && errno != EEXIST) {
            return mp_err(MP_ERR_IO, "%s/%s: cannot create the device folder: %s", od->path, dir, strerror(errno));
        }
    }
    return mp_outdir_write(od, rel, data, len, mode);
}

/* ---- bundle ------------------------------------------------------------------ */

void mp_bundle_folder(const char *bundle, char *folder, size_t cap)
{
    const char *sl = strrchr(bundle, '/');
    snprintf(folder, cap, "%.*s", sl ? (int)(sl - bundle) : 1, sl ? bundle : ".");
    if (folder[0] == 0) snprintf(folder, cap, "/");
}

void mp_bundle_abs(const char *folder_abs, const char *bundle, char *out, size_t cap)
{
    const char *sl = strrchr(bundle, '/');
    snprintf(out, cap, "%s/%s", strcmp(folder_abs, "/") ? folder_abs : "", sl ? sl + 1 : bundle);
}

/* Cut the file after its last newline (a torn last line of a killed run). */
static int cut_torn(int fd, const char *path)
{
    struct stat st;
    char buf[4096];
    if (fstat(fd, &st) != 0) return mp_err(MP_ERR_IO, "%s: %s", path, strerror(errno));
    off_t end = st.st_size;
    while (end > 0) {
        off_t from = end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
        ssize_t r = pread(fd, buf, (size_t)(end - from), from);
        if (r != end - from) return mp_err(MP_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
        for (ssize_t i = r - 1; i >= 0; i--) {
            if (buf[i] == '\n') {
                off_t keep = from + i + 1;
                if (keep == st.st_size) return MP_OK;
                return ftruncate(fd, keep) == 0 && fdatasync(fd) == 0 ? MP_OK
                       : mp_err(MP_ERR_IO, "%s: cannot cut a torn last line: %s", path, strerror(errno));
            }
        }
        end = from;
    }
    if (st.st_size == 0) return MP_OK;
    return ftruncate(fd, 0) == 0 && fdatasync(fd) == 0 ? MP_OK
           : mp_err(MP_ERR_IO, "%s: cannot cut a torn line: %s", path, strerror(errno));
}

int mp_bundle_open(mp_bundle *b, const char *path, int mode)
{
    memset(b, 0, sizeof(*b));
    b->fd = -1;
    b->mode = mode;
    snprintf(b->path, sizeof(b->path), "%s", path);
    int created = 1;
    b->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    if (b->fd < 0 && errno == EEXIST) {
        created = 0;
        b->fd = open(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    }
    if (b->fd < 0) {
        return mp_err(MP_ERR_IO, "%s: cannot open the bundle%s: %s", path, errno == ELOOP ? " (a symbolic link)" : "",
                      strerror(errno));
    }
    struct stat st;
    if (fstat(b->fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        return mp_err(MP_ERR_IO, "%s: the bundle is not a regular file of this user", path);
    }
    /* created: the umask may have cut the mode; existing: narrowed only */
    mode_t want = created ? (mode_t)mode : (st.st_mode & 07777 & (mode_t)mode);
    if ((st.st_mode & 07777) != want && fchmod(b->fd, want) != 0) {
        return mp_err(MP_ERR_IO, "%s: cannot set its mode: %s", path, strerror(errno));
    }
    b->mode = (int)want;
    return cut_torn(b->fd, path);
}

static int reserve(mp_bundle *b, size_t more)
{
    if (b->len + more <= b->cap) return MP_OK;
    size_t cap = b->cap ? b->cap : 1 << 20;
    while (cap < b->len + more) cap *= 2;
    char *p = malloc(cap);
    if (p == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    if (b->buf != NULL) {
        memcpy(p, b->buf, b->len);
        mp_free_secret(b->buf, b->cap); /* lines may hold private keys */
    }
    b->buf = p;
    b->cap = cap;
    return MP_OK;
}

static size_t b64_len(size_t n)
{
    return (n + 2) / 3 * 4 + 1;
}

/* data's SHA-256 in hex; sha: the caller's digest of it (NULL: computed here) */
static void put_sha(mp_bundle *b, const uint8_t *data, size_t len, const uint8_t *sha)
{
    uint8_t h[32];
    if (sha == NULL) {
        mp_sha256(data, len, h);
        sha = h;
    }
    mp_hex(sha, 32, b->buf + b->len, 0);
    b->len += 64;
}

static int add_line(mp_bundle *b, const char *udid, const char *serial, const uint8_t *der, size_t len,
                    const uint8_t *sha, const char *extra, const mp_bundle_blob *blobs, size_t nblobs)
{
    size_t need = b64_len(len) + strlen(udid) + strlen(serial) + strlen(extra) + 160;
    for (size_t i = 0; i < nblobs; i++) {
        need += b64_len(blobs[i].len) + strlen(blobs[i].key) + strlen(blobs[i].name) + 128;
    }
    int rc = reserve(b, need);
    if (rc != MP_OK) return rc;
    b->len += (size_t)sprintf(b->buf + b->len, "{\"udid\":\"%s\",\"serial\":\"%s\",\"dac\":\"", udid, serial);
    b->len += mp_b64_encode(der, len, b->buf + b->len, b->cap - b->len);
    b->len += (size_t)sprintf(b->buf + b->len, "\",\"sha256\":\"");
    put_sha(b, der, len, sha);
    b->len += (size_t)sprintf(b->buf + b->len, "\"%s", extra);
    if (nblobs > 0) b->len += (size_t)sprintf(b->buf + b->len, ",\"images\":{");
    for (size_t i = 0; i < nblobs; i++) {
        const mp_bundle_blob *o = &blobs[i];
        b->len += (size_t)sprintf(b->buf + b->len, "%s\"%s\":{\"name\":\"%s\",\"sha256\":\"", i ? "," : "", o->key, o->name);
        put_sha(b, o->data, o->len, NULL);
        b->len += (size_t)sprintf(b->buf + b->len, "\",\"data\":\"");
        b->len += mp_b64_encode(o->data, o->len, b->buf + b->len, b->cap - b->len);
        b->len += (size_t)sprintf(b->buf + b->len, "\"}");
    }
    b->len += (size_t)sprintf(b->buf + b->len, "%s}\n", nblobs > 0 ? "}" : "");
    return MP_OK;
}

int mp_bundle_add_blobs(mp_bundle *b, const char *udid, const char *serial, const uint8_t *der, size_t len,
                        const char *extra, const mp_bundle_blob *blobs, size_t nblobs)
{
    return add_line(b, udid, serial, der, len, NULL, extra, blobs, nblobs);
}

int mp_bundle_add(mp_bundle *b, const char *udid, const char *serial, const uint8_t *der, size_t len,
                  const uint8_t *sha256, const char *extra)
{
    return add_line(b, udid, serial, der, len, sha256, extra, NULL, 0);
}

int mp_bundle_private(mp_bundle *b)
{
    if (b->mode == 0600) return MP_OK;
    if (fchmod(b->fd, 0600) != 0) return mp_err(MP_ERR_IO, "%s: cannot make it private (0600): %s", b->path, strerror(errno));
    b->mode = 0600;
    return MP_OK;
}

int mp_bundle_flush(mp_bundle *b)
{
    if (b->len == 0) return MP_OK;
    struct stat st;
    if (fstat(b->fd, &st) != 0) return mp_err(MP_ERR_IO, "%s: %s", b->path, strerror(errno));
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(b->fd, b->buf + off, b->len - off);
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            if (ftruncate(b->fd, st.st_size) != 0) { /* the torn tail is cut by the next open */ }
            return mp_err(MP_ERR_IO, "%s: cannot append: %s", b->path, strerror(e));
        }
        off += (size_t)w;
    }
    if (fdatasync(b->fd) != 0) {
        return mp_err(MP_ERR_IO, "%s: sync failed: %s", b->path, strerror(errno));
    }
    mp_wipe(b->buf, b->len);
    b->len = 0;
    return MP_OK;
}

void mp_bundle_close(mp_bundle *b)
{
    if (b->fd >= 0) close(b->fd);
    b->fd = -1;
    if (b->buf != NULL) mp_free_secret(b->buf, b->cap);
    b->buf = NULL;
    b->len = b->cap = 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int mp_bundle_has(char *const *udids, size_t n, const char *udid)
{
    return n > 0 && bsearch(&udid, udids, n, sizeof(*udids), cmp_str) != NULL;
}

void mp_bundle_udids_free(char **udids, size_t n)
{
    for (size_t i = 0; i < n; i++) free(udids[i]);
    free(udids);
}

int mp_bundle_udids(const char *path, char ***udids, size_t *n)
{
    static const char key[] = "{\"udid\":\"";
    size_t cap = 0;
    char *line = NULL, *vbuf = NULL;
    size_t lcap = 0;
    long ll;
    *udids = NULL;
    *n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    FILE *f = fd >= 0 ? mp_fdopen_wiped(fd, "r", &vbuf) : NULL; /* lines hold keys and passcodes */
    if (f == NULL) {
        int e = fd >= 0 ? ENOMEM : errno;
        if (fd >= 0) close(fd);
        return e == ENOENT ? MP_OK : mp_err(MP_ERR_IO, "%s: cannot read the bundle: %s", path, strerror(e));
    }
    int rc = MP_OK;
    for (size_t lineno = 1; rc == MP_OK && (ll = mp_getline_wiped(&line, &lcap, f)) > 0; lineno++) {
        if (line[ll - 1] != '\n') break; /* a torn last line: not a device */
        char *q = strncmp(line, key, sizeof(key) - 1) == 0 ? strchr(line + sizeof(key) - 1, '"') : NULL;
        if (q == NULL) {
            rc = mp_err(MP_ERR_INVALID, "%s:%zu: not a bundle line (expected {\"udid\":\"...\",...})", path, lineno);
            break;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 4096;
            char **p = realloc(*udids, cap * sizeof(char *));
            if (p == NULL) { rc = mp_err(MP_ERR_GENERAL, "out of memory"); break; }
            *udids = p;
        }
        char *u = strndup(line + sizeof(key) - 1, (size_t)(q - line) - (sizeof(key) - 1));
        if (u == NULL) { rc = mp_err(MP_ERR_GENERAL, "out of memory"); break; }
        (*udids)[(*n)++] = u;
    }
    mp_free_secret(line, lcap);
    mp_fclose_wiped(f, vbuf);
    if (rc != MP_OK) {
        mp_bundle_udids_free(*udids, *n);
        *udids = NULL;
        *n = 0;
        return rc;
    }
    if (*n > 0) qsort(*udids, *n, sizeof(char *), cmp_str);
    return MP_OK;
}

int mp_bundle_line(const char *path, const char *udid, char **out)
{
    static const char key[] = "{\"udid\":\"";
    size_t ul = strlen(udid), cap = 0;
    char *line = NULL, *vbuf = NULL;
    long ll;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    FILE *f = fd >= 0 ? mp_fdopen_wiped(fd, "r", &vbuf) : NULL; /* lines hold keys and passcodes */
    if (f == NULL) {
        int e = fd >= 0 ? ENOMEM : errno;
        if (fd >= 0) close(fd);
        return e == ENOENT ? MP_OK : mp_err(MP_ERR_IO, "%s: cannot read the bundle: %s", path, strerror(e));
    }
    while ((ll = mp_getline_wiped(&line, &cap, f)) > 0) {
        if (line[ll - 1] != '\n') break; /* a torn last line */
        if (strncmp(line, key, sizeof(key) - 1) == 0 && strncmp(line + sizeof(key) - 1, udid, ul) == 0 &&
            line[sizeof(key) - 1 + ul] == '"') {
            line[ll - 1] = 0;
            *out = line;
            line = NULL;
            break;
        }
    }
    if (line != NULL) mp_free_secret(line, cap);
    mp_fclose_wiped(f, vbuf);
    return MP_OK;
}

static int cmp_ent(const void *a, const void *b)
{
    return strcmp(((const mp_bundle_ent *)a)->udid, ((const mp_bundle_ent *)b)->udid);
}

void mp_bundle_index_close(mp_bundle_index *ix)
{
    for (size_t i = 0; i < ix->n; i++) free(ix->v[i].udid);
    free(ix->v);
    if (ix->fd >= 0) close(ix->fd);
    ix->v = NULL;
    ix->n = 0;
    ix->fd = -1;
}

int mp_bundle_index_open(const char *path, mp_bundle_index *ix)
{
    static const char key[] = "{\"udid\":\"";
    size_t cap = 0, vcap = 0;
    char *line = NULL, *vbuf = NULL;
    long ll;
    off_t off = 0;
    int rc = MP_OK;
    memset(ix, 0, sizeof(*ix));
    ix->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int dup_fd = ix->fd >= 0 ? dup(ix->fd) : -1;
    FILE *f = dup_fd >= 0 ? mp_fdopen_wiped(dup_fd, "r", &vbuf) : NULL; /* lines hold keys and passcodes */
    if (f == NULL) {
        int e = dup_fd >= 0 ? ENOMEM : errno;
        if (dup_fd >= 0) close(dup_fd);
        if (ix->fd >= 0) close(ix->fd);
        ix->fd = -1;
        return e == ENOENT ? MP_OK : mp_err(MP_ERR_IO, "%s: cannot read the bundle: %s", path, strerror(e));
    }
    for (size_t lineno = 1; (ll = mp_getline_wiped(&line, &cap, f)) > 0; lineno++, off += ll) {
        if (line[ll - 1] != '\n') break; /* a torn last line */
        char *q = strncmp(line, key, sizeof(key) - 1) == 0 ? strchr(line + sizeof(key) - 1, '"') : NULL;
        if (q == NULL) {
            rc = mp_err(MP_ERR_INVALID, "%s:%zu: not a bundle line (expected {\"udid\":\"...\",...})", path, lineno);
            break;
        }
        if (ix->n == vcap) {
            vcap = vcap ? 2 * vcap : 4096;
            mp_bundle_ent *nv = realloc(ix->v, vcap * sizeof(*nv));
            if (nv == NULL) { rc = mp_err(MP_ERR_GENERAL, "out of memory"); break; }
            ix->v = nv;
        }
        char *u = strndup(line + sizeof(key) - 1, (size_t)(q - line) - (sizeof(key) - 1));
        if (u == NULL) { rc = mp_err(MP_ERR_GENERAL, "out of memory"); break; }
        ix->v[ix->n++] = (mp_bundle_ent){.udid = u, .off = off, .len = (size_t)ll};
    }
    if (line != NULL) mp_free_secret(line, cap);
    mp_fclose_wiped(f, vbuf);
    if (rc != MP_OK) {
        mp_bundle_index_close(ix);
        return rc;
    }
    if (ix->n > 0) qsort(ix->v, ix->n, sizeof(*ix->v), cmp_ent);
    return MP_OK;
}

int mp_bundle_index_line(const mp_bundle_index *ix, const char *udid, char **line)
{
    mp_bundle_ent k = {.udid = (char *)udid};
    const mp_bundle_ent *e = ix->n > 0 ? bsearch(&k, ix->v, ix->n, sizeof(*ix->v), cmp_ent) : NULL;
    *line = NULL;
    if (e == NULL) return MP_OK;
    char *p = malloc(e->len);
    if (p == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    if (pread(ix->fd, p, e->len, e->off) != (ssize_t)e->len || p[e->len - 1] != '\n') {
        mp_free_secret(p, e->len);
        return mp_err(MP_ERR_IO, "a bundle line of %s changed while it was read", udid);
    }
    p[e->len - 1] = 0;
    *line = p;
    return MP_OK;
}
