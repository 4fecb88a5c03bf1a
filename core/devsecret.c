/* devsecret.c - a device's secrets between stages (the contract is in
 * devsecret.h). */
#include "devsecret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "b64.h"
#include "csv.h"
#include "outsink.h"
#include "util.h"

#define DAC_MAX 1024

static const uint8_t sec1_head[7] = {0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20};
static const uint8_t sec1_mid[17] = {0xA0, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D,
                                     0x03, 0x01, 0x07, 0xA1, 0x44, 0x03, 0x42, 0x00};

void mp_devsecret_clear(void *p, size_t n)
{
    if (p != NULL) OPENSSL_cleanse(p, n);
}

size_t mp_sec1_der(const uint8_t scalar[static 32], const uint8_t point[static 65], uint8_t out[static MP_SEC1_LEN])
{
    memcpy(out, sec1_head, sizeof(sec1_head));
    memcpy(out + 7, scalar, 32);
    memcpy(out + 39, sec1_mid, sizeof(sec1_mid));
    memcpy(out + 56, point, 65);
    return MP_SEC1_LEN;
}

int mp_sec1_parse(const uint8_t *der, size_t len, const uint8_t **scalar, const uint8_t **point)
{
    if (len != MP_SEC1_LEN || memcmp(der, sec1_head, sizeof(sec1_head)) != 0 || memcmp(der + 39, sec1_mid, sizeof(sec1_mid)) != 0) {
        return 0;
    }
    *scalar = der + 7;
    *point = der + 56;
    return 1;
}

static const uint8_t pkcs8_head[] = {0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48,
                                     0xCE, 0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01,
                                     0x07, 0x04, 0x6D, 0x30, 0x6B, 0x02, 0x01, 0x01, 0x04, 0x20};
static const uint8_t pkcs8_mid[] = {0xA1, 0x44, 0x03, 0x42, 0x00};

size_t mp_pkcs8_der(const uint8_t scalar[static 32], const uint8_t point[static 65], uint8_t out[static MP_PKCS8_LEN])
{
    memcpy(out, pkcs8_head, sizeof(pkcs8_head));
    memcpy(out + sizeof(pkcs8_head), scalar, 32);
    memcpy(out + sizeof(pkcs8_head) + 32, pkcs8_mid, sizeof(pkcs8_mid));
    memcpy(out + sizeof(pkcs8_head) + 32 + sizeof(pkcs8_mid), point, 65);
    return MP_PKCS8_LEN;
}

int mp_devsecret_bundle_member(const mp_devkey *key, char *out, size_t cap)
{
    uint8_t der[MP_PKCS8_LEN];
    size_t n = mp_pkcs8_der(key->scalar, key->point, der);
    int k = snprintf(out, cap, ",\"key\":\"");
    size_t b = k > 0 && (size_t)k < cap ? mp_b64_encode(der, n, out + k, cap - (size_t)k) : 0;
    mp_devsecret_clear(der, sizeof(der));
    if (b == 0 || (size_t)k + b + 2 > cap) {
        mp_devsecret_clear(out, cap);
        return mp_err(MP_ERR_GENERAL, "the key member does not fit");
    }
    memcpy(out + k + b, "\"", 2);
    return MP_OK;
}

/* The key of a bundle line's member (base64 PKCS#8 DER of matter-pki's form). */
static int key_from_member(const char *b64, size_t len, mp_devkey *key)
{
    uint8_t der[MP_PKCS8_LEN + 8];
    long n = mp_b64_decode(b64, len, der, sizeof(der));
    int ok = n == MP_PKCS8_LEN && memcmp(der, pkcs8_head, sizeof(pkcs8_head)) == 0 &&
             memcmp(der + sizeof(pkcs8_head) + 32, pkcs8_mid, sizeof(pkcs8_mid)) == 0;
    if (ok) {
        memcpy(key->scalar, der + sizeof(pkcs8_head), 32);
        memcpy(key->point, der + sizeof(pkcs8_head) + 32 + sizeof(pkcs8_mid), 65);
    }
    mp_devsecret_clear(der, sizeof(der));
    return ok;
}

/* ---- names --------------------------------------------------------------------- */

int mp_devsecret_staged_name(const char *udid, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s" MP_DEVSECRET_KEY_SUFFIX, udid);
    if (n < 0 || (size_t)n >= cap || strchr(udid, '/') != NULL || udid[0] == 0) {
        if (cap > 0) out[0] = 0;
        return mp_err(MP_ERR_INVALID, "UDID '%.80s' cannot name a key file", udid);
    }
    return MP_OK;
}

int mp_devsecret_staged_udid(const char *name, char udid[MP_UDID_MAX + 1])
{
    size_t len = strlen(name), sl = strlen(MP_DEVSECRET_KEY_SUFFIX);
    if (len <= sl || len - sl > MP_UDID_MAX || strcmp(name + len - sl, MP_DEVSECRET_KEY_SUFFIX) != 0) return 0;
    memcpy(udid, name, len - sl);
    udid[len - sl] = 0;
    return 1;
}

int mp_devsecret_key_path(const char *dac_path, char *out, size_t cap)
{
    size_t n = strlen(dac_path);
    if (cap > 0) out[0] = 0;
    if (n <= 4 || strcmp(dac_path + n - 4, ".der") != 0) {
        return mp_err(MP_ERR_INVALID, "%s: not a DAC file (.der): no key file beside it", dac_path);
    }
    int k = snprintf(out, cap, "%.*s" MP_DEVSECRET_KEY_SUFFIX, (int)(n - 4), dac_path);
    if (k < 0 || (size_t)k >= cap) {
        if (cap > 0) out[0] = 0;
        return mp_err(MP_ERR_IO, "%s: name too long", dac_path);
    }
    return MP_OK;
}

/* A DAC recorded as a line of a bundle: BUNDLE#UDID. */
static int in_bundle(const mp_issued *dev)
{
    size_t pl = strlen(dev->path), ul = strlen(dev->udid);
    return pl > ul + 1 && dev->path[pl - ul - 1] == '#' && strcmp(dev->path + pl - ul, dev->udid) == 0;
}

/* The folder whose staging folder held the device's key: its batch's
 * (absolute) folder, else the DAC file's folder. */
static void batch_dir(const mp_issued *dev, char *out, size_t cap)
{
    const char *slash = strrchr(dev->path, '/');
    if (dev->dir[0] == '/') {
        snprintf(out, cap, "%s", dev->dir);
    } else if (slash != NULL) {
        snprintf(out, cap, "%.*s", (int)(slash - dev->path), dev->path);
    } else {
        snprintf(out, cap, ".");
    }
}

/* ---- dac issue ------------------------------------------------------------------ */

int mp_devsecret_put_key(int stage_fd, const char *udid, const mp_devkey *key)
{
    uint8_t der[MP_SEC1_LEN];
    char name[MP_UDID_MAX + 16];
    int rc = mp_devsecret_staged_name(udid, name, sizeof(name));
    if (rc != MP_OK) return rc;
    int fd = openat(stage_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return errno == EEXIST ? mp_err(MP_ERR_EXISTS, "%s: a file of that name exists in the staging folder (not replaced)", name)
                               : mp_err(MP_ERR_IO, "%s: cannot create the key file: %s", name, strerror(errno));
    }
    size_t n = mp_sec1_der(key->scalar, key->point, der), o = 0;
    int ok = fchmod(fd, 0600) == 0; /* not left to the umask */
    while (ok && o < n) {
        ssize_t w = write(fd, der + o, n - o);
        if (w < 0 && errno == EINTR) continue;
        ok = w > 0;
        if (ok) o += (size_t)w;
    }
    int e = errno;
    mp_devsecret_clear(der, sizeof(der));
    if (close(fd) != 0) ok = 0;
    if (!ok) {
        unlinkat(stage_fd, name, 0); /* never half a key */
        return mp_err(MP_ERR_IO, "%s: cannot write the key file: %s", name, strerror(e ? e : EIO));
    }
    return MP_OK;
}

int mp_devsecret_place_key(int stage_fd, int out_fd, const char *out_name, const char *udid, const char *rel)
{
    char from[MP_UDID_MAX + 16], dir[4096];
    int rc = mp_devsecret_staged_name(udid, from, sizeof(from));
    if (rc != MP_OK) return rc;
    const char *slash = strrchr(rel, '/');
    if (slash != NULL && slash != rel) {
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - rel), rel);
        if (mkdirat(out_fd, dir, 0755) != 0 && errno != EEXIST) {
            return mp_err(MP_ERR_IO, "%s/%s: cannot create the device folder: %s", out_name, dir, strerror(errno));
        }
    }
    if (renameat2(stage_fd, from, out_fd, rel, RENAME_NOREPLACE) != 0) {
        return mp_err(MP_ERR_IO, "%s/%s: cannot put the key in place: %s", out_name, rel,
                      errno == EEXIST ? "a file of that name exists (not replaced)" : strerror(errno));
    }
    return MP_OK;
}

int mp_devsecret_drop_staged(int stage_fd, const char *udid)
{
    char name[MP_UDID_MAX + 16];
    if (mp_devsecret_staged_name(udid, name, sizeof(name)) != MP_OK) {
        mp_err_clear();
        return 0;
    }
    return unlinkat(stage_fd, name, 0) == 0;
}

int mp_devsecret_recover_key(const char *dir, const char *udid, const char *dac_path, int *moved)
{
    char staged[4400], pending[4400], final[4400];
    *moved = 0;
    if (mp_devsecret_key_path(dac_path, final, sizeof(final)) != MP_OK) {
        mp_err_clear();
        return MP_OK; /* a bundle line: its key is not a file */
    }
    snprintf(staged, sizeof(staged), "%s/" MP_DEVSECRET_STAGING "/%s" MP_DEVSECRET_KEY_SUFFIX, dir, udid);
    snprintf(pending, sizeof(pending), "%s.pending", final); /* runs before schema 5 */
    const char *from = access(staged, F_OK) == 0 ? staged : access(pending, F_OK) == 0 ? pending : NULL;
    if (from == NULL) return MP_OK;
    char *slash = strrchr(final, '/');
    if (slash != NULL && slash != final && from == staged) {
        *slash = 0;
        if (mkdir(final, 0755) != 0 && errno != EEXIST) return mp_err(MP_ERR_IO, "%s: cannot create: %s", final, strerror(errno));
        *slash = '/';
    }
    if (renameat2(AT_FDCWD, from, AT_FDCWD, final, RENAME_NOREPLACE) != 0) {
        return mp_err(MP_ERR_IO, "%s: cannot put the key in place: %s", final,
                      errno == EEXIST ? "a file of that name exists (not replaced)" : strerror(errno));
    }
    *moved = 1;
    return MP_OK;
}

/* ---- reading keys back ---------------------------------------------------------- */

/* The 65-byte point of a DAC's P-256 SubjectPublicKeyInfo. */
static int dac_point(const uint8_t *der, size_t len, uint8_t point[65])
{
    static const uint8_t spki[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06,
                                   0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};
    const uint8_t *p = memmem(der, len, spki, sizeof(spki));
    if (p == NULL || (size_t)(p - der) + sizeof(spki) - 1 + 65 > len) return 0;
    memcpy(point, p + sizeof(spki) - 1, 65);
    return 1;
}

/* 1: the key file at path, checked; 0: there is none; <0: an error. */
static int read_key_file(const char *path, const uint8_t dac_pt[65], mp_devkey *key)
{
    uint8_t buf[MP_SEC1_LEN + 1];
    const uint8_t *sc = NULL, *pt = NULL;
    struct stat st;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return 0;
        mp_err(MP_ERR_IO, "%s: cannot open the key file%s: %s", path, errno == ELOOP ? " (a symbolic link: refused)" : "",
               strerror(errno));
        return -1;
    }
    size_t got = 0;
    int bad = fstat(fd, &st) != 0 || !S_ISREG(st.st_mode);
    while (!bad && got < sizeof(buf)) {
        ssize_t r = read(fd, buf + got, sizeof(buf) - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            bad = r < 0;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    int rc = 1;
    if (bad) {
        rc = -1;
        mp_err(MP_ERR_IO, "%s: cannot read the key file (not a regular file?)", path);
    } else if (!mp_sec1_parse(buf, got, &sc, &pt)) {
        rc = -1;
        mp_err(MP_ERR_INVALID, "%s: not a P-256 SEC1 private key (%zu bytes)", path, got);
    } else if (dac_pt != NULL && memcmp(pt, dac_pt, 65) != 0) {
        rc = -1;
        mp_err(MP_ERR_MISMATCH, "%s: the key's public point is not the DAC's (a key file of another device?)", path);
    } else {
        memcpy(key->scalar, sc, 32);
        memcpy(key->point, pt, 65);
    }
    mp_devsecret_clear(buf, sizeof(buf)); /* every path, a short read too */
    return rc;
}

typedef struct img_list {
    char format[8][32];
    char sha[8][65];
    int n;
} img_list;

static int add_image(void *ctx, const char *format, const char *sha256)
{
    img_list *l = ctx;
    if (l->n < 8) {
        snprintf(l->format[l->n], sizeof(l->format[0]), "%s", format);
        snprintf(l->sha[l->n], sizeof(l->sha[0]), "%s", sha256);
        l->n++;
    }
    return MP_OK;
}

/* A key format of the caller's? */
static int key_format(const mp_devsecret_images *im, const char *format)
{
    for (size_t i = 0; im->formats != NULL && im->formats[i] != NULL; i++) {
        if (strcmp(im->formats[i], format) == 0) return 1;
    }
    return 0;
}

int mp_devsecret_read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
    struct stat st;
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return MP_OK;
        return mp_err(MP_ERR_IO, "%s: cannot open%s: %s", path, errno == ELOOP ? " (a symbolic link: refused)" : "",
                      strerror(errno));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        close(fd);
        return mp_err(MP_ERR_IO, "%s: not a regular file of at most %zu bytes", path, max);
    }
    size_t cap = (size_t)st.st_size + 1, got = 0;
    uint8_t *b = malloc(cap);
    int ok = b != NULL;
    while (ok && got < (size_t)st.st_size) {
        ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        ok = r > 0;
        if (ok) got += (size_t)r;
    }
    close(fd);
    if (!ok) {
        mp_free_secret(b, cap); /* whatever a short read brought */
        return mp_err(MP_ERR_IO, "%s: read failed", path);
    }
    b[got] = 0;
    *buf = b;
    *len = got;
    return MP_OK;
}

/* 1: the key from this image; 0: not this one. The image must be the one
 * the ledger recorded (sha NULL: a ledger from before fd_images, any image
 * that holds the ledger's DAC). */
static int key_from_image(const mp_devsecret *ds, void *item, const char *format, const char *sha, const mp_issued *dev,
                          mp_devkey *key)
{
    const mp_devsecret_images *im = &ds->img;
    uint8_t *buf = NULL, md[32], dac[DAC_MAX];
    size_t len = 0, dac_len = 0;
    char hex[65];
    int ok = im->load(im->arg, item, format, dev, &buf, &len) == MP_OK && buf != NULL;
    if (ok && sha != NULL) {
        SHA256(buf, len, md);
        mp_hex(md, 32, hex, 0);
        ok = strcmp(hex, sha) == 0;
    }
    ok = ok && im->key(im->arg, format, buf, len, key->scalar, dac, sizeof(dac), &dac_len) == MP_OK &&
         dac_len == dev->der_len && memcmp(dac, dev->der, dac_len) == 0 && dac_point(dac, dac_len, key->point);
    if (!ok) {
        mp_err_clear();
        mp_devsecret_clear(key, sizeof(*key));
    }
    mp_free_secret(buf, len);
    return ok;
}

int mp_devsecret_get_staged(const char *dir, const char *udid, const uint8_t *dac, size_t dac_len, mp_devkey *key,
                            int *found)
{
    char path[4400];
    uint8_t pt[65];
    *found = 0;
    mp_devsecret_clear(key, sizeof(*key));
    if (dac != NULL && !dac_point(dac, dac_len, pt)) {
        return mp_err(MP_ERR_INVALID, "device %s: its DAC has no P-256 public key", udid);
    }
    snprintf(path, sizeof(path), "%s/" MP_DEVSECRET_STAGING "/%s" MP_DEVSECRET_KEY_SUFFIX, dir, udid);
    int r = read_key_file(path, dac != NULL ? pt : NULL, key);
    if (r > 0) *found = 1;
    return r < 0 ? mp_err_code() : MP_OK;
}

/* 1: the key from the device's line of its bundle (BUNDLE#UDID), checked
 * against the DAC; 0: no complete line; <0: an error (a line without a key
 * is one: a bundle of --generate-keys holds every key). */
static int read_bundle_key(const mp_devsecret *ds, const mp_issued *dev, const uint8_t pt[65], mp_devkey *key, char *bundle,
                           size_t cap)
{
    size_t pl = strlen(dev->path) - strlen(dev->udid) - 1;
    char *line = NULL;
    snprintf(bundle, cap, "%.*s", (int)pl, dev->path);
    int rc = ds->img.line != NULL ? ds->img.line(ds->img.arg, bundle, dev->udid, &line) : mp_bundle_line(bundle, dev->udid, &line);
    if (rc != MP_OK || line == NULL) return rc != MP_OK ? -1 : 0;
    mp_json_wipe_frees(); /* the line's tree holds the key */
    json_t *o = json_loads(line, 0, NULL), *k = json_object_get(o, "key"), *u = json_object_get(o, "udid");
    int r = -1;
    if (!json_is_string(u) || strcmp(json_string_value(u), dev->udid) != 0) {
        mp_err(MP_ERR_INVALID, "%s: the line of %s is not a bundle line of it", bundle, dev->udid);
    } else if (!json_is_string(k)) {
        mp_err(MP_ERR_INVALID, "%s: the line of %s holds no key", bundle, dev->udid);
    } else if (!key_from_member(json_string_value(k), json_string_length(k), key)) {
        mp_err(MP_ERR_INVALID, "%s: the key of %s is not a P-256 PKCS#8 key", bundle, dev->udid);
    } else if (memcmp(key->point, pt, 65) != 0) {
        mp_err(MP_ERR_MISMATCH, "%s: the key of %s is not its DAC's", bundle, dev->udid);
    } else {
        r = 1;
    }
    json_decref(o);
    mp_free_secret(line, strlen(line));
    if (r < 0) mp_devsecret_clear(key, sizeof(*key));
    return r;
}

int mp_devsecret_get_key(const mp_devsecret *ds, const mp_issued *dev, void *item, mp_devkey *key, int *from)
{
    char path[4200], staged[4400], bdir[4096];
    uint8_t pt[65];
    int r, dummy = 0;
    if (key == NULL || dev == NULL) return mp_err(MP_ERR_GENERAL, "internal: mp_devsecret_get_key without a device or key buffer");
    from = from ? from : &dummy;
    *from = 0;
    mp_devsecret_clear(key, sizeof(*key)); /* nothing stale comes back on an error path */
    if (!dac_point(dev->der, dev->der_len, pt)) {
        return mp_err(MP_ERR_INVALID, "device %s: its DAC in the ledger has no P-256 public key", dev->udid);
    }
    /* 1. beside the DAC, 2. staged in its batch's folder */
    int bundle = in_bundle(dev);
    path[0] = 0;
    if (!bundle && mp_devsecret_key_path(dev->path, path, sizeof(path)) != MP_OK) return MP_ERR_INVALID;
    if ((r = bundle ? read_bundle_key(ds, dev, pt, key, path, sizeof(path)) : read_key_file(path, pt, key)) != 0) {
        *from = 1;
        return r > 0 ? MP_OK : mp_err_ctx(mp_err_code(), "device %s", dev->udid);
    }
    batch_dir(dev, bdir, sizeof(bdir));
    snprintf(staged, sizeof(staged), "%s/" MP_DEVSECRET_STAGING "/%s" MP_DEVSECRET_KEY_SUFFIX, bdir, dev->udid);
    if ((r = read_key_file(staged, pt, key)) != 0) {
        *from = 2;
        return r > 0 ? MP_OK : mp_err_ctx(mp_err_code(), "device %s", dev->udid);
    }
    /* 3. a committed image the ledger records */
    img_list l = {.n = 0};
    if (ds->img.load != NULL && ds->img.key != NULL) {
        int rc = ds->ledger ? mp_ledger_fd_images(ds->ledger, dev->udid, add_image, &l) : MP_OK;
        if (rc != MP_OK) return rc;
        int recorded = 0;
        for (int i = 0; i < l.n; i++) {
            if (!key_format(&ds->img, l.format[i])) continue;
            recorded = 1;
            if (key_from_image(ds, item, l.format[i], l.sha[i], dev, key)) {
                *from = 3;
                return MP_OK;
            }
        }
        for (size_t i = 0; !recorded && ds->img.formats != NULL && ds->img.formats[i] != NULL; i++) {
            if (key_from_image(ds, item, ds->img.formats[i], NULL, dev, key)) { /* a ledger from before fd_images */
                *from = 3;
                return MP_OK;
            }
        }
    }
    mp_devsecret_clear(key, sizeof(*key));
    return mp_err(MP_ERR_IO, "device %s: its DAC private key is missing: not at %s (%s), not staged at %s, "
                  "and no image in %s that the ledger records holds it; the device cannot get images that need its key "
                  "(revoke its DAC and issue it a new one)", dev->udid, path, bundle ? "its DAC's bundle" : "beside its DAC", staged,
                  ds->img.dir ? ds->img.dir : "the output folder");
}

int mp_devsecret_forget(const mp_devsecret *ds, const mp_issued *dev)
{
    char path[4200], staged[4400], bdir[4096];
    int n = 0;
    (void)ds;
    if (!in_bundle(dev) && mp_devsecret_key_path(dev->path, path, sizeof(path)) == MP_OK) {
        n += unlink(path) == 0;
    }
    mp_err_clear();
    batch_dir(dev, bdir, sizeof(bdir));
    snprintf(staged, sizeof(staged), "%s/" MP_DEVSECRET_STAGING "/%s" MP_DEVSECRET_KEY_SUFFIX, bdir, dev->udid);
    n += unlink(staged) == 0;
    return n > 0;
}

/* ---- credentials -------------------------------------------------------------- */

int mp_devsecret_each_passcode(const char *dir, int (*cb)(void *ctx, const char *udid, uint32_t passcode), void *ctx,
                               int *found)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/onboarding.csv", dir ? dir : ".");
    *found = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    char *vbuf = NULL;
    FILE *f = fd >= 0 ? mp_fdopen_wiped(fd, "r", &vbuf) : NULL;
    if (f == NULL) {
        if (fd >= 0) close(fd);
        return fd >= 0 ? mp_err(MP_ERR_GENERAL, "out of memory") : MP_OK;
    }
    *found = 1;
    mp_csv c;
    mp_csv_init(&c, f, path);
    int col = -1, rc, stop = 0;
    while (!stop && (rc = mp_csv_next(&c)) == MP_OK && c.n > 0) {
        if (c.line == 1) {
            for (int i = 0; i < c.n; i++) {
                if (strcmp(c.fields[i], "passcode") == 0) col = i;
            }
            if (col < 0) rc = mp_err(MP_ERR_INVALID, "%s line 1: no passcode column", path);
            if (col < 0) break;
            continue;
        }
        uint64_t v = 0;
        if (col < c.n && c.complete && mp_parse_uint(c.fields[col], MP_DEVSECRET_PASSCODE_MAX, &v) == MP_OK && v != 0) {
            stop = cb(ctx, c.fields[0], (uint32_t)v);
        }
        mp_devsecret_clear(&v, sizeof(v));
    }
    mp_csv_free(&c);
    mp_fclose_wiped(f, vbuf);
    return rc;
}

typedef struct one_passcode {
    const char *udid;
    uint32_t passcode;
} one_passcode;

static int match_passcode(void *ctx, const char *udid, uint32_t passcode)
{
    one_passcode *o = ctx;
    if (strcmp(udid, o->udid) != 0) return 0;
    o->passcode = passcode;
    return 1;
}

int mp_devsecret_get_passcode(const mp_devsecret *ds, const mp_fd_rec *rec, uint32_t *passcode)
{
    if (rec->has_passcode && rec->passcode != 0) {
        *passcode = rec->passcode;
        return MP_OK;
    }
    one_passcode o = {.udid = rec->udid};
    int found, r = mp_devsecret_each_passcode(ds->img.dir, match_passcode, &o, &found);
    (void)r; /* a malformed file is reported as "not found" below */
    *passcode = o.passcode;
    mp_devsecret_clear(&o, sizeof(o));
    if (*passcode != 0) {
        mp_err_clear();
        return MP_OK;
    }
    return mp_err(MP_ERR_INVALID, "device %s: its passcode is neither recorded (--record-passcodes) nor in %s/onboarding.csv",
                  rec->udid, ds->img.dir ? ds->img.dir : ".");
}

int mp_devsecret_get_credentials(const mp_devsecret *ds, const char *udid, int need_passcode, mp_devcreds *c)
{
    mp_fd_rec r;
    int found = 0;
    memset(c, 0, sizeof(*c));
    int rc = mp_ledger_get_fd(ds->ledger, udid, &r, &found);
    if (rc == MP_OK && !found) rc = mp_err(MP_ERR_INVALID, "device %s has no factory data in the ledger", udid);
    if (rc == MP_OK) {
        c->discriminator = r.discriminator;
        c->iterations = r.iterations;
        c->salt_len = r.salt_len <= sizeof(c->salt) ? r.salt_len : sizeof(c->salt);
        memcpy(c->salt, r.salt, c->salt_len);
        memcpy(c->verifier, r.verifier, sizeof(c->verifier));
        if (r.has_passcode || need_passcode) {
            rc = mp_devsecret_get_passcode(ds, &r, &c->passcode);
            c->has_passcode = rc == MP_OK;
        }
    }
    mp_devsecret_clear(&r, sizeof(r));
    if (rc != MP_OK) mp_devsecret_clear(c, sizeof(*c));
    return rc;
}
