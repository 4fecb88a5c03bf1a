/* ceremony.c - see ceremony.h. */
#include "ceremony.h"

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

int mp_ceremony_log(const mp_ceremony_cfg *c, const char *command, const char *token,
                    const mp_ks_key *key, X509 *cert, const char *out_path)
{
    char when[21], skid[41], fp[65], path[4096];
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
    struct stat st;
    int rc = MP_OK;
    if (stat(c->state_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        json_decref(o);
        return mp_err(MP_ERR_NO_STATE, "state directory %s does not exist, so the ceremony log cannot be kept; create it with 'matter-pki token init' or point at it with --state-dir DIR or MATTER_PKI_STATE=DIR", c->state_dir);
    }
    snprintf(path, sizeof(path), "%s/ceremony.log", c->state_dir);
    /* chained: "prev" is the SHA-256 of the line before (64 zeros for the
     * first), read and appended under a lock (`audit verify` checks it) */
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    char prev[65];
    if (fd < 0 || flock(fd, LOCK_EX) != 0 || last_line_hash(fd, prev) != 0) {
        rc = mp_err(MP_ERR_IO, "%s: cannot append ceremony record: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        json_decref(o);
        return rc;
    }
    json_object_set_new(o, "prev", json_string(prev));
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (line == NULL) {
        close(fd);
        return mp_err(MP_ERR_GENERAL, "cannot encode ceremony record");
    }
    size_t n = strlen(line);
    line[n] = '\n';
    if (write(fd, line, n + 1) != (ssize_t)(n + 1) || fsync(fd) != 0) {
        rc = mp_err(MP_ERR_IO, "%s: cannot append ceremony record: %s", path, strerror(errno));
    }
    close(fd);
    free(line);
    return rc;
}
