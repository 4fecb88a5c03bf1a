/* util.c - see util.h. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>

static int parse_base(const char *s, int base, uint64_t max, uint64_t *out)
{
    if (s == NULL || *s == 0 || !isxdigit((unsigned char)*s)) {
        return MP_ERR_INVALID;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, base);
    if (errno != 0 || *end != 0 || v > max) {
        return MP_ERR_INVALID;
    }
    *out = v;
    return MP_OK;
}

int mp_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    if (s != NULL && (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0)) {
        return parse_base(s + 2, 16, max, out);
    }
    if (s != NULL && !isdigit((unsigned char)*s)) {
        return MP_ERR_INVALID;
    }
    return parse_base(s, 10, max, out);
}

int mp_parse_hex(const char *s, uint64_t max, uint64_t *out)
{
    if (s != NULL && (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0)) {
        s += 2;
    }
    return parse_base(s, 16, max, out);
}

int mp_parse_vid(const char *what, const char *s, uint16_t *out)
{
    uint64_t v;
    if (mp_parse_hex(s, 0xFFFF, &v) != MP_OK || v == 0 || v > 0xFFF4) {
        return mp_err(MP_ERR_INVALID,
                      "%s: '%s' is not a valid vendor ID (hex 0x0001..0xFFF4)",
                      what, s ? s : "");
    }
    *out = (uint16_t)v;
    return MP_OK;
}

int mp_parse_pid(const char *what, const char *s, uint16_t *out)
{
    uint64_t v;
    if (mp_parse_hex(s, 0xFFFF, &v) != MP_OK || v == 0) {
        return mp_err(MP_ERR_INVALID,
                      "%s: '%s' is not a valid product ID (hex 0x0001..0xFFFF)",
                      what, s ? s : "");
    }
    *out = (uint16_t)v;
    return MP_OK;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int mp_parse_time(const char *s, time_t *out)
{
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, se = 0;
    size_t n = s ? strlen(s) : 0;
    if (n < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
        s[7] != '-' || digits(s + 8, 2, &d)) {
        goto bad;
    }
    if (n > 10) {
        if (n != 20 || (s[10] != 'T' && s[10] != ' ') || digits(s + 11, 2, &h) ||
            s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
            digits(s + 17, 2, &se) || s[19] != 'Z') {
            goto bad;
        }
    }
    if (y < 1950 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
        h > 23 || mi > 59 || se > 59) {
        goto bad;
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    struct tm chk;
    gmtime_r(&t, &chk);
    if (chk.tm_mday != d) {
        goto bad; /* e.g. 2025-02-30 */
    }
    *out = t;
    return MP_OK;
bad:
    return mp_err(MP_ERR_INVALID,
                  "'%s' is not a date (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC)",
                  s ? s : "");
}

void mp_hex(const uint8_t *in, size_t n, char *out, int upper)
{
    const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int nib(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long mp_unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s);
    if (n % 2 != 0 || n / 2 > cap) {
        return -1;
    }
    for (size_t i = 0; i < n / 2; i++) {
        int a = nib(s[2 * i]), b = nib(s[2 * i + 1]);
        if (a < 0 || b < 0) {
            return -1;
        }
        out[i] = (uint8_t)(a << 4 | b);
    }
    return (long)(n / 2);
}

int mp_read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
    struct stat st;
    int fd = -1;
    int rc = mp_open_input(path, &fd, &st);
    if (rc != MP_OK) {
        return rc;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return mp_err(MP_ERR_INVALID, "%s: file too large (%lld bytes, at most %zu)",
                      path, (long long)st.st_size, max);
    }
    uint8_t *b = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (b != NULL && got < (size_t)st.st_size) {
        ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) {
                continue;
            }
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (b == NULL || got != (size_t)st.st_size) {
        mp_free_secret(b, got); /* a short read may have brought part of a key */
        return mp_err(MP_ERR_IO, "%s: read failed", path);
    }
    b[got] = 0;
    *buf = b;
    *len = got;
    return MP_OK;
}

static const char *file_kind(mode_t m)
{
    return S_ISFIFO(m) ? "a FIFO" : S_ISDIR(m) ? "a directory" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

int mp_open_input(const char *path, int *fd, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer */
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (*fd < 0) {
        return mp_err(MP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    int flags = fcntl(*fd, F_GETFL);
    if (fstat(*fd, st) != 0 || !S_ISREG(st->st_mode) || flags < 0 ||
        fcntl(*fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        int rc = mp_err(MP_ERR_IO, "%s: is %s; only a regular file is read", path, file_kind(st->st_mode));
        close(*fd);
        *fd = -1;
        return rc;
    }
    return MP_OK;
}

FILE *mp_fopen_input(const char *path)
{
    struct stat st;
    int fd = -1;
    if (mp_open_input(path, &fd, &st) != MP_OK) {
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (f == NULL) {
        mp_err(MP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

static void dir_of(const char *path, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        snprintf(dir, cap, ".");
    } else if (slash == dir) {
        dir[1] = 0;
    } else {
        *slash = 0;
    }
}

int mp_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    int r = fsync(fd);
    close(fd);
    return r;
}

int mp_check_output(const char *path, int force)
{
    char dir[4096];
    struct stat st;
    if (path == NULL || *path == 0) {
        return mp_err(MP_ERR_USAGE, "no output file given");
    }
    if (lstat(path, &st) == 0) {
        if (!force) {
            return mp_err(MP_ERR_EXISTS, "%s: already exists (use --force to replace it)", path);
        }
        if (!S_ISREG(st.st_mode)) {
            return mp_err(MP_ERR_IO, "%s: exists and is not a regular file", path);
        }
    }
    dir_of(path, dir, sizeof(dir));
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return mp_err(MP_ERR_IO, "%s: directory '%s' does not exist", path, dir);
    }
    if (access(dir, W_OK | X_OK) != 0) {
        return mp_err(MP_ERR_IO, "%s: directory '%s' is not writable", path, dir);
    }
    return MP_OK;
}

#define MP_STREAM_BUF (1 << 16)

static void stream_free_buf(mp_stream *s);

/* An unnamed file in path's folder, or -1 where the file system has none. */
static int stream_open_anon(mp_stream *s, int mode)
{
    char dir[4096];
    dir_of(s->path, dir, sizeof(dir));
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        return -1;
    }
    int dupfd = fchmod(fd, (mode_t)mode) == 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (dupfd < 0 || (s->f = fdopen(dupfd, "wb")) == NULL) {
        if (dupfd >= 0) close(dupfd);
        close(fd);
        return -1;
    }
    s->fd = fd;
    snprintf(s->tmp, sizeof(s->tmp), "/proc/self/fd/%d", fd);
    return 0;
}

int mp_stream_open(mp_stream *s, const char *path, int mode)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    if (snprintf(s->path, sizeof(s->path), "%s", path) >= (int)sizeof(s->path) ||
        snprintf(s->tmp, sizeof(s->tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(s->tmp)) {
        s->tmp[0] = 0;
        return mp_err(MP_ERR_IO, "%s: name too long", path);
    }
    if (stream_open_anon(s, mode) != 0) {
        int fd = mkostemp(s->tmp, O_CLOEXEC);
        if (fd < 0) {
            s->tmp[0] = 0;
            return mp_err(MP_ERR_IO, "%s: cannot create temporary file: %s", path, strerror(errno));
        }
        if (fchmod(fd, (mode_t)mode) != 0 || (s->f = fdopen(fd, "wb")) == NULL) {
            int rc = mp_err(MP_ERR_IO, "%s: cannot create temporary file: %s", path, strerror(errno));
            close(fd);
            mp_stream_abort(s);
            return rc;
        }
    }
    /* glibc ignores the size when given no buffer: give it one, and wipe it
     * when done (the simulator's device keys pass through it) */
    if ((s->buf = malloc(MP_STREAM_BUF)) != NULL) {
        setvbuf(s->f, s->buf, _IOFBF, MP_STREAM_BUF);
    }
    return MP_OK;
}

static void stream_free_buf(mp_stream *s)
{
    if (s->buf != NULL) {
        mp_wipe(s->buf, MP_STREAM_BUF);
        free(s->buf);
        s->buf = NULL;
    }
}

int mp_stream_close(mp_stream *s)
{
    if (s->f == NULL) {
        return MP_OK;
    }
    errno = 0;
    int bad = fflush(s->f) != 0 || ferror(s->f) || fsync(fileno(s->f)) != 0;
    int e = errno;
    bad |= fclose(s->f) != 0;
    s->f = NULL;
    stream_free_buf(s);
    if (!bad) return MP_OK;
    return mp_err(MP_ERR_IO, "%s: write failed: %s", s->path, strerror(e ? e : errno ? errno : EIO));
}

/* Give the unnamed file a name: path itself, or with force a temporary
 * name renamed over path (visible for an instant only). */
static int stream_link_anon(mp_stream *s, int force)
{
    char tmp[4200];
    if (linkat(AT_FDCWD, s->tmp, AT_FDCWD, s->path, AT_SYMLINK_FOLLOW) == 0) {
        return MP_OK;
    }
    if (errno != EEXIST) {
        return mp_err(MP_ERR_IO, "%s: cannot create: %s", s->path, strerror(errno));
    }
    if (!force) {
        return mp_err(MP_ERR_EXISTS, "%s: already exists (use --force to replace it)", s->path);
    }
    for (int i = 0; i < 100; i++) {
        snprintf(tmp, sizeof(tmp), "%s.tmp.%d.%d", s->path, (int)getpid(), i);
        if (linkat(AT_FDCWD, s->tmp, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) != 0) {
            if (errno == EEXIST) continue;
            break;
        }
        if (rename(tmp, s->path) == 0) {
            return MP_OK;
        }
        int e = errno;
        unlink(tmp);
        return mp_err(MP_ERR_IO, "%s: cannot rename into place: %s", s->path, strerror(e));
    }
    return mp_err(MP_ERR_IO, "%s: cannot create: %s", s->path, strerror(errno));
}

int mp_stream_commit(mp_stream *s, int force)
{
    char dir[4096];
    int rc = mp_stream_close(s);
    if (rc == MP_OK && s->fd >= 0) {
        rc = stream_link_anon(s, force);
    } else if (rc == MP_OK && !force && link(s->tmp, s->path) != 0) {
        /* link() refuses to replace: a file made since the check is kept. */
        rc = errno == EEXIST ? mp_err(MP_ERR_EXISTS, "%s: already exists (use --force to replace it)", s->path)
                             : mp_err(MP_ERR_IO, "%s: cannot create: %s", s->path, strerror(errno));
    } else if (rc == MP_OK && force && rename(s->tmp, s->path) != 0) {
        rc = mp_err(MP_ERR_IO, "%s: cannot rename into place: %s", s->path, strerror(errno));
    }
    if (rc == MP_OK && force && s->fd < 0) {
        s->tmp[0] = 0; /* renamed: nothing to remove */
    }
    mp_stream_abort(s);
    if (rc == MP_OK) {
        dir_of(s->path, dir, sizeof(dir));
        mp_fsync_dir(dir);
    }
    return rc;
}

void mp_stream_abort(mp_stream *s)
{
    if (s->f != NULL) {
        fclose(s->f);
        s->f = NULL;
    }
    stream_free_buf(s);
    if (s->fd >= 0) {
        close(s->fd); /* an unnamed file goes with its last descriptor */
        s->fd = -1;
    } else if (s->tmp[0] != 0) {
        unlink(s->tmp);
    }
    s->tmp[0] = 0;
}

int mp_write_file(const char *path, const void *data, size_t len, int mode, int force)
{
    mp_stream s;
    int rc = mp_check_output(path, force);
    if (rc != MP_OK || (rc = mp_stream_open(&s, path, mode)) != MP_OK) {
        return rc;
    }
    /* straight to the file descriptor: the data (often a private key) never
     * passes through stdio's buffer, which is freed without being wiped */
    const uint8_t *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fileno(s.f), p + done, len - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            rc = mp_err(MP_ERR_IO, "%s: write failed: %s", path, w < 0 ? strerror(errno) : "no space");
            mp_stream_abort(&s);
            return rc;
        }
        done += (size_t)w;
    }
    return mp_stream_commit(&s, force);
}

int mp_mkdir_p(const char *path, int mode)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST) {
                return mp_err(MP_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
            }
            *p = '/';
        }
    }
    if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST) {
        return mp_err(MP_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
    }
    return MP_OK;
}

int mp_dir_lock(const char *dir, int *fd)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/.matter-pki.lock", dir);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (*fd < 0) {
        return mp_err(MP_ERR_IO, "%s: cannot create the lock file: %s", path, strerror(errno));
    }
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        close(*fd);
        *fd = -1;
        return mp_err(MP_ERR_IO, "%s is in use by another matter-pki run; wait for it or use another folder", dir);
    }
    return MP_OK;
}

void mp_wipe(void *p, size_t n)
{
    if (p != NULL) {
        OPENSSL_cleanse(p, n);
    }
}

void mp_free_secret(void *p, size_t n)
{
    mp_wipe(p, n);
    free(p);
}

void mp_time_iso(time_t t, char out[21])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- batch output helpers ------------------------------------------------ */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

void mp_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int mp_interrupted(void) { return interrupted; }

int mp_is_tmp_name(const char *name)
{
    return name[0] == '.' && strstr(name, ".tmp.") != NULL;
}

/* ---- mp_outdir (see util.h) ------------------------------------------------- */

int mp_outdir_open(mp_outdir *d, const char *path)
{
    snprintf(d->path, sizeof(d->path), "%s", path);
    atomic_init(&d->no_tmpfile, 0);
    d->umask = -1; /* unknown: every file gets an fchmod */
    d->tmp_fd = -1;
    FILE *st = fopen("/proc/self/status", "re");
    if (st != NULL) {
        char line[128];
        unsigned m;
        while (fgets(line, sizeof(line), st) != NULL) {
            if (sscanf(line, "Umask: %o", &m) == 1) d->umask = (int)m;
        }
        fclose(st);
    }
    d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->fd < 0) {
        return mp_err(MP_ERR_IO, "%s: cannot open the output folder: %s", path, strerror(errno));
    }
    return MP_OK;
}

void mp_outdir_close(mp_outdir *d)
{
    if (d->fd >= 0) {
        close(d->fd);
    }
    d->fd = -1;
}

/* The temporary name for `name` (which may hold a folder: a/b.der): in the
 * caller's private folder (tmp_fd) when set, else beside the file. */
static int tmp_name(const mp_outdir *d, const char *name, char *out, size_t cap, int *tfd)
{
    const char *slash = strrchr(name, '/');
    *tfd = d->tmp_fd >= 0 ? d->tmp_fd : d->fd;
    int n = slash == NULL || d->tmp_fd >= 0
                ? snprintf(out, cap, ".%s.tmp.%d", slash ? slash + 1 : name, (int)getpid())
                : snprintf(out, cap, "%.*s/.%s.tmp.%d", (int)(slash - name), name, slash + 1, (int)getpid());
    return n > 0 && (size_t)n < cap ? MP_OK : mp_err(MP_ERR_IO, "%s/%s: name too long", d->path, name);
}

/* Through a dot-named temporary file and a rename (replaces an existing file). */
static int outdir_write_rename(mp_outdir *d, const char *name, const uint8_t *data, size_t len, int mode)
{
    char tmp[600];
    int tfd;
    if (tmp_name(d, name, tmp, sizeof(tmp), &tfd) != MP_OK) {
        return MP_ERR_IO;
    }
    /* the name is this process's: a file there is a stale one of a killed
     * run with the same pid; unlink it, never write through it (it may be a
     * hard link to someone else's file) */
    unlinkat(tfd, tmp, 0);
    int fd = openat(tfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        return mp_err(MP_ERR_IO, "%s/%s: cannot create: %s", d->path, tmp, strerror(errno));
    }
    ssize_t w = write(fd, data, len);
    int ok = w == (ssize_t)len && fchmod(fd, (mode_t)mode) == 0;
    if (close(fd) != 0 || !ok || renameat(tfd, tmp, d->fd, name) != 0) {
        int rc = mp_err(MP_ERR_IO, "%s/%s: write failed: %s", d->path, name, strerror(errno));
        unlinkat(tfd, tmp, 0);
        return rc;
    }
    return MP_OK;
}

int mp_outdir_write(mp_outdir *d, const char *name, const uint8_t *data, size_t len, int mode)
{
    if (!atomic_load_explicit(&d->no_tmpfile, memory_order_relaxed)) {
        int fd = openat(d->fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, (mode_t)mode);
        if (fd < 0) {
            if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
                return mp_err(MP_ERR_IO, "%s: cannot create a file for %s: %s", d->path, name, strerror(errno));
            }
            atomic_store_explicit(&d->no_tmpfile, 1, memory_order_relaxed); /* file system without O_TMPFILE */
        } else {
            ssize_t w = write(fd, data, len);
            int e = 0;
            if (w != (ssize_t)len || ((d->umask < 0 || (mode & d->umask) != 0) && fchmod(fd, (mode_t)mode) != 0)) {
                e = w < 0 || w == (ssize_t)len ? errno : ENOSPC;
                close(fd);
                return mp_err(MP_ERR_IO, "%s/%s: write failed: %s", d->path, name, strerror(e));
            }
            if (linkat(fd, "", d->fd, name, AT_EMPTY_PATH) == 0) {
                close(fd);
                return MP_OK;
            }
            e = errno;
            if (e == EEXIST) { /* a re-run replacing a file: link the written inode under a
                                 temporary name and rename it over the old one */
                char tmp[600];
                int tfd;
                if (tmp_name(d, name, tmp, sizeof(tmp), &tfd) != MP_OK) {
                    close(fd);
                    return MP_ERR_IO;
                }
                unlinkat(tfd, tmp, 0); /* a stale one from a killed run of this pid */
                if (linkat(fd, "", tfd, tmp, AT_EMPTY_PATH) == 0) {
                    close(fd);
                    if (renameat(tfd, tmp, d->fd, name) == 0) return MP_OK;
                    e = errno;
                    unlinkat(tfd, tmp, 0);
                    return mp_err(MP_ERR_IO, "%s/%s: cannot replace: %s", d->path, name, strerror(e));
                }
                e = errno;
            }
            close(fd); /* the unnamed inode goes with it */
            if (e == EPERM || e == ENOENT || e == EOPNOTSUPP) {
                /* kernels before 6.10 link an unnamed file only with CAP_DAC_READ_SEARCH */
                atomic_store_explicit(&d->no_tmpfile, 1, memory_order_relaxed);
            } else if (e != EEXIST) {
                return mp_err(MP_ERR_IO, "%s/%s: cannot link the written file: %s", d->path, name, strerror(e));
            }
        }
    }
    return outdir_write_rename(d, name, data, len, mode);
}

int mp_outdir_sync(mp_outdir *d)
{
    return syncfs(d->fd) == 0 ? MP_OK : mp_err(MP_ERR_IO, "%s: sync failed: %s", d->path, strerror(errno));
}

/* ---- stdio for secrets --------------------------------------------------- */

#define MP_WIPED_BUF 4096

FILE *mp_fdopen_wiped(int fd, const char *mode, char **vbuf)
{
    *vbuf = malloc(MP_WIPED_BUF);
    FILE *f = *vbuf != NULL ? fdopen(fd, mode) : NULL;
    if (f == NULL) {
        free(*vbuf);
        *vbuf = NULL;
        return NULL;
    }
    setvbuf(f, *vbuf, _IOFBF, MP_WIPED_BUF);
    return f;
}

int mp_fclose_wiped(FILE *f, char *vbuf)
{
    int r = f != NULL ? fclose(f) : 0;
    mp_free_secret(vbuf, MP_WIPED_BUF);
    return r;
}

long mp_getline_wiped(char **line, size_t *cap, FILE *f)
{
    size_t n = 0;
    int ch;
    while ((ch = getc_unlocked(f)) != EOF) {
        if (n + 2 > *cap) {
            size_t ncap = *cap < 256 ? 256 : 2 * *cap;
            char *nb = malloc(ncap);
            if (nb == NULL) {
                errno = ENOMEM;
                return -1;
            }
            if (*line != NULL) memcpy(nb, *line, n);
            mp_free_secret(*line, *cap);
            *line = nb;
            *cap = ncap;
        }
        (*line)[n++] = (char)ch;
        if (ch == '\n') break;
    }
    if (n == 0) return -1;
    (*line)[n] = 0;
    return (long)n;
}

/* jansson frees the parser's token buffers and the tree's strings without
 * wiping them; a factory-data JSON image holds the DAC key and the
 * passcode there. From the first call on, every block jansson frees is
 * wiped first (malloc_usable_size: the whole block). */
static void wiping_free(void *p)
{
    if (p != NULL) {
        OPENSSL_cleanse(p, malloc_usable_size(p));
        free(p);
    }
}

static void json_wipe_init(void)
{
    json_set_alloc_funcs(malloc, wiping_free);
}

void mp_json_wipe_frees(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, json_wipe_init);
}

void mp_fault_point(const char *name)
{
    static int stopped;
    const char *f = getenv("MATTER_PKI_FAULT");
    size_t n = strlen(name);
    if (f == NULL || strncmp(f, name, n) != 0) {
        return;
    }
    if (f[n] == 0) {
        raise(SIGKILL);
    } else if (strcmp(f + n, ":stop") == 0 && !stopped) {
        stopped = 1;
        raise(SIGSTOP);
    }
}

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void mp_sha256(const void *data, size_t len, uint8_t out[32])
{
    pthread_once(&sha256_once, sha256_fetch);
    if (sha256_md == NULL || EVP_Digest(data, len, out, NULL, sha256_md, NULL) != 1) {
        SHA256(data, len, out); /* the one-shot path, should the fetch have failed */
    }
}
