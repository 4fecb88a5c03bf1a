/* state.c - see state.h. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "util.h"

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

#define STATE_HINT "create one with 'matter-pki token init', or point at an existing one with --state-dir DIR or MATTER_PKI_STATE=DIR"

int mp_state_find(const char *explicit_dir, const char *env_dir, char *out, size_t cap)
{
    char cwd[4096], cand[4200];
    if (explicit_dir != NULL && *explicit_dir) {
        snprintf(out, cap, "%s", explicit_dir);
        return is_dir(out) ? MP_OK
                           : mp_err(MP_ERR_NO_STATE, "state directory %s (--state-dir) does not exist; " STATE_HINT, out);
    }
    if (env_dir != NULL && *env_dir) {
        snprintf(out, cap, "%s", env_dir);
        return is_dir(out) ? MP_OK
                           : mp_err(MP_ERR_NO_STATE, "state directory %s (MATTER_PKI_STATE) does not exist; " STATE_HINT, out);
    }
    snprintf(out, cap, "%s", MP_STATE_NAME);
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        return mp_err(MP_ERR_NO_STATE, "no state directory: the current folder cannot be named (%s); " STATE_HINT, strerror(errno));
    }
    /* /a/b/.matter-pki, /a/.matter-pki, /.matter-pki */
    size_t n = strlen(cwd);
    for (;;) {
        snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, cwd, MP_STATE_NAME);
        if (is_dir(cand)) {
            snprintf(out, cap, "%s", cand);
            return MP_OK;
        }
        if (n == 0) {
            break;
        }
        const char *slash = memrchr(cwd, '/', n);
        n = slash != NULL ? (size_t)(slash - cwd) : 0;
    }
    return mp_err(MP_ERR_NO_STATE, "no state directory: no --state-dir, MATTER_PKI_STATE is not set, and there is no %s in %s or any folder above it; " STATE_HINT,
                  MP_STATE_NAME, cwd);
}

int mp_state_pki_id(const char *dir, char id[static MP_PKI_ID_LEN + 1], int *found)
{
    char path[4200];
    uint8_t *b = NULL;
    size_t n = 0;
    struct stat st;
    *found = 0;
    id[0] = 0;
    snprintf(path, sizeof(path), "%s/pki-id", dir);
    if (lstat(path, &st) != 0) {
        return errno == ENOENT ? MP_OK : mp_err(MP_ERR_IO, "%s: %s", path, strerror(errno));
    }
    if (mp_read_file(path, 256, &b, &n) != MP_OK) {
        return mp_err_ctx(MP_ERR_IO, "PKI ID");
    }
    while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r')) {
        n--;
    }
    int ok = n == MP_PKI_ID_LEN && strspn((char *)b, "0123456789abcdef") >= MP_PKI_ID_LEN;
    if (ok) {
        memcpy(id, b, MP_PKI_ID_LEN);
        id[MP_PKI_ID_LEN] = 0;
        *found = 1;
    }
    free(b);
    return ok ? MP_OK : mp_err(MP_ERR_INVALID, "%s: not a PKI ID (%d lowercase hex digits)", path, MP_PKI_ID_LEN);
}

int mp_state_create(const char *dir, char id[static MP_PKI_ID_LEN + 1])
{
    char path[4200], line[MP_PKI_ID_LEN + 2];
    uint8_t r[MP_PKI_ID_LEN / 2];
    int found = 0;
    int rc = mp_mkdir_p(dir, 0700);
    if (rc != MP_OK || (rc = mp_state_pki_id(dir, id, &found)) != MP_OK || found) {
        return rc;
    }
    if (RAND_bytes(r, sizeof(r)) != 1) {
        return mp_err_ssl(MP_ERR_GENERAL, "cannot make a PKI ID");
    }
    mp_hex(r, sizeof(r), id, 0);
    snprintf(line, sizeof(line), "%s\n", id);
    snprintf(path, sizeof(path), "%s/pki-id", dir);
    return mp_write_file(path, line, strlen(line), 0644, 0);
}
