/* ceremony.c - see ceremony.h. */
#include "ceremony.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "state.h"
#include "util.h"
#include "x509.h"

/* SHA-256 (hex) of the file's last line without its newline; 64 zeros for
 * an empty file. 0 on success. */
static int last_line_hash(int fd, char out[65])
{
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    memset(out, '0', 64);
    out[64] = 0;
    if (st.st_size == 0) return 0;
    off_t want = st.st_size > 1 << 20 ? 1 << 20 : st.st_size;
    char *buf = malloc((size_t)want);
    if (buf == NULL || pread(fd, buf, (size_t)want, st.st_size - want) != (ssize_t)want) {
        free(buf);
        return -1;
    }
    size_t end = (size_t)want;
    if (end > 0 && buf[end - 1] == '\n') end--;
    size_t start = end;
    while (start > 0 && buf[start - 1] != '\n') start--;
    uint8_t h[32];
    unsigned int hl = 0;
    EVP_Digest(buf + start, end - start, h, &hl, EVP_sha256(), NULL);
    free(buf);
    mp_hex(h, 32, out, 0);
    return 0;
}

/* The entry's members before "prev" (and the signature). */
static json_t *entry(const mp_ceremony_cfg *c, const char *command, const char *token, const mp_ks_key *key, X509 *cert,
                     const char *out_path)
{
    char when[21], skid[41], fp[65];
    mp_time_iso(time(NULL), when);
    json_t *o = json_object();
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "operator", json_string(c->operator_name));
    json_object_set_new(o, "command", json_string(command));
    json_object_set_new(o, "token", json_string(token ? token : ""));
    char pki[MP_PKI_ID_LEN + 1];
    int has_pki = 0;
    if (mp_state_pki_id(c->state_dir, pki, &has_pki) == MP_OK && has_pki) {
        json_object_set_new(o, "pki_id", json_string(pki));
    }
    if (key != NULL) {
        mp_hex(key->skid, 20, skid, 1);
        json_object_set_new(o, "key_label", json_string(key->label));
        json_object_set_new(o, "key_uri", json_string(key->uri));
        json_object_set_new(o, "skid", json_string(skid));
    }
    if (cert != NULL) {
        uint8_t kid[20];
        mp_cert_sha256_hex(cert, fp);
        json_object_set_new(o, "cert_sha256", json_string(fp));
        if (mp_cert_skid(cert, kid) == 0) {
            mp_hex(kid, 20, skid, 1);
            json_object_set_new(o, "cert_skid", json_string(skid));
        }
    }
    if (out_path != NULL) {
        json_object_set_new(o, "output", json_string(out_path));
    }
    return o;
}

#define SIG_DOMAIN "matter-pki ceremony log v1\n"

static void signed_digest(const char *body, size_t n, uint8_t digest[32])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned int len = 0;
    EVP_DigestInit_ex(m, EVP_sha256(), NULL);
    EVP_DigestUpdate(m, SIG_DOMAIN, sizeof(SIG_DOMAIN) - 1);
    EVP_DigestUpdate(m, body, n - 1); /* without its closing brace ... */
    EVP_DigestUpdate(m, "}", 1);      /* ... which the signed line also has */
    EVP_DigestFinal_ex(m, digest, &len);
    EVP_MD_CTX_free(m);
}

int mp_ceremony_signed_digest(const char *line, size_t len, uint8_t digest[32], char *sig_hex, size_t cap)
{
    static const char tag[] = ",\"sig\":\"";
    const size_t tl = sizeof(tag) - 1;
    if (len < tl + 3 || line[len - 1] != '}' || line[len - 2] != '"') return -1;
    size_t end = len - 2, start = end; /* the hex is line[start, end) */
    while (start > 0 && isxdigit((unsigned char)line[start - 1])) start--;
    if (start < tl + 1 || memcmp(line + start - tl, tag, tl) != 0 || end - start + 1 > cap) return -1;
    memcpy(sig_hex, line + start, end - start);
    sig_hex[end - start] = 0;
    signed_digest(line, start - tl + 1, digest); /* the bytes before ,"sig" and a brace */
    return 0;
}

/* The audit keys this log announces (`audit init` entries), newest last. */
typedef struct announced {
    char label[128];
    uint8_t point[65];
} announced;

static size_t announced_keys(int fd, announced *out, size_t cap)
{
    struct stat st;
    size_t n = 0;
    if (fstat(fd, &st) != 0 || st.st_size == 0) return 0;
    char *buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL || pread(fd, buf, (size_t)st.st_size, 0) != (ssize_t)st.st_size) {
        free(buf);
        return 0;
    }
    buf[st.st_size] = 0;
    for (char *p = buf; p != NULL && *p;) {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (memmem(p, len, "\"audit_key\":\"", 13) != NULL) {
            json_t *o = json_loadb(p, len, 0, NULL);
            const char *label = json_string_value(json_object_get(o, "key_label"));
            const char *hex = json_string_value(json_object_get(o, "audit_key"));
            uint8_t pt[65];
            if (label != NULL && hex != NULL && strlen(hex) == 130 && mp_unhex(hex, pt, sizeof(pt)) == 65) {
                if (n == cap) { /* keep the newest */
                    memmove(out, out + 1, (cap - 1) * sizeof(*out));
                    n--;
                }
                snprintf(out[n].label, sizeof(out[n].label), "%s", label);
                memcpy(out[n].point, pt, 65);
                n++;
            }
            json_decref(o);
        }
        p = nl ? nl + 1 : NULL;
    }
    free(buf);
    return n;
}

/* The newest announced audit key that this token holds (*found = 0: none). */
static void find_signer(mp_ks *ks, int fd, mp_ks_key *key, int *found)
{
    announced a[16];
    size_t n = announced_keys(fd, a, 16);
    *found = 0;
    while (n-- > 0 && !*found) {
        if (mp_ks_find(ks, a[n].label, key) != MP_OK) {
            mp_err_clear(); /* not in this token */
            continue;
        }
        *found = memcmp(key->point, a[n].point, 65) == 0;
    }
}

/* The line's signature by the audit key: *line (the entry without it) gets
 * ,"sig":"HEX" before its closing brace. */
static int sign_line(mp_ks *ks, const mp_ks_key *key, char **line)
{
    uint8_t digest[32], sig[80];
    size_t n = strlen(*line), sig_len = sizeof(sig);
    mp_ks_sess *s = NULL;
    signed_digest(*line, n, digest);
    int rc = mp_ks_sess_open(ks, key, &s);
    if (rc == MP_OK) {
        rc = mp_ks_sess_sign(s, digest, sig, &sig_len);
        mp_ks_sess_close(s);
    }
    if (rc != MP_OK) return rc;
    char *out = malloc(n + 2 * sig_len + 16);
    if (out == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    memcpy(out, *line, n - 1);
    memcpy(out + n - 1, ",\"sig\":\"", 8);
    mp_hex(sig, sig_len, out + n + 7, 0);
    strcpy(out + n + 7 + 2 * sig_len, "\"}");
    free(*line);
    *line = out;
    return MP_OK;
}

/* Append the entry under the log's lock: "prev", then (when ks holds the
 * log's audit key, or audit_key is given) "audit_skid" and the signature. */
static int append(const mp_ceremony_cfg *c, json_t *o, mp_ks *ks, const mp_ks_key *audit_key)
{
    char path[4096], prev[65];
    struct stat st;
    int rc = MP_OK, found = 0;
    mp_ks_key key;
    if (stat(c->state_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        json_decref(o);
        return mp_err(MP_ERR_NO_STATE, "state directory %s does not exist, so the ceremony log cannot be kept; create it with 'matter-pki token init' or point at it with --state-dir DIR or MATTER_PKI_STATE=DIR", c->state_dir);
    }
    snprintf(path, sizeof(path), "%s/ceremony.log", c->state_dir);
    /* chained: "prev" is the SHA-256 of the line before (64 zeros for the
     * first), read and appended under a lock (`audit verify` checks it) */
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) != 0 || last_line_hash(fd, prev) != 0) {
        rc = mp_err(MP_ERR_IO, "%s: cannot append ceremony record: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        json_decref(o);
        return rc;
    }
    json_object_set_new(o, "prev", json_string(prev));
    if (audit_key != NULL) {
        key = *audit_key;
        found = 1;
    } else if (ks != NULL) {
        find_signer(ks, fd, &key, &found);
    }
    if (found) {
        char skid[41];
        mp_hex(key.skid, 20, skid, 1);
        json_object_set_new(o, "audit_skid", json_string(skid));
    }
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (line == NULL) {
        close(fd);
        return mp_err(MP_ERR_GENERAL, "cannot encode ceremony record");
    }
    /* a signature that fails leaves the entry unsigned (a later signed one
     * covers it) rather than lose it; the command then fails saying so */
    int src = found ? sign_line(ks, &key, &line) : MP_OK;
    size_t n = strlen(line);
    char *nl = realloc(line, n + 2);
    if (nl == NULL) {
        free(line);
        close(fd);
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    line = nl;
    line[n] = '\n';
    if (write(fd, line, n + 1) != (ssize_t)(n + 1) || fsync(fd) != 0) {
        rc = mp_err(MP_ERR_IO, "%s: cannot append ceremony record: %s", path, strerror(errno));
    } else if (src != MP_OK) {
        rc = mp_err_ctx(src, "%s: the entry was written unsigned: the audit key's signature failed", path);
    }
    close(fd);
    free(line);
    return rc;
}

int mp_ceremony_log(const mp_ceremony_cfg *c, const char *command, const char *token,
                    const mp_ks_key *key, X509 *cert, const char *out_path)
{
    return append(c, entry(c, command, token, key, cert, out_path), NULL, NULL);
}

int mp_ceremony_log_signed(const mp_ceremony_cfg *c, const char *command, mp_ks *ks,
                           const mp_ks_key *key, X509 *cert, const char *out_path)
{
    return append(c, entry(c, command, ks ? mp_ks_token_label(ks) : "", key, cert, out_path), ks, NULL);
}

static json_t *key_entry(const mp_ceremony_cfg *c, const char *command, mp_ks *ks, const mp_ks_key *audit_key,
                         const char *out_path)
{
    char hex[131];
    json_t *o = entry(c, command, mp_ks_token_label(ks), audit_key, NULL, out_path);
    mp_hex(audit_key->point, 65, hex, 0);
    json_object_set_new(o, "audit_key", json_string(hex));
    return o;
}

int mp_ceremony_log_audit_key(const mp_ceremony_cfg *c, const char *command, mp_ks *ks,
                              const mp_ks_key *audit_key, const char *out_path)
{
    return append(c, key_entry(c, command, ks, audit_key, out_path), ks, audit_key);
}

int mp_ceremony_log_checkpoint(const mp_ceremony_cfg *c, const char *command, mp_ks *ks, const mp_ks_key *audit_key,
                               int64_t seq, const uint8_t hash[32])
{
    char hex[65];
    json_t *o = key_entry(c, command, ks, audit_key, NULL);
    mp_hex(hash, 32, hex, 0);
    json_object_set_new(o, "audit_seq", json_integer((json_int_t)seq));
    json_object_set_new(o, "audit_hash", json_string(hex));
    return append(c, o, ks, audit_key);
}
