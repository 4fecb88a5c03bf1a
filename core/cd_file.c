/* cd_file.c - reading CD files in DER, hex or base64. */
#include "cd.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "util.h"

const char *mp_cd_type_name(unsigned type)
{
    return type == 0 ? "development/test" : type == 1 ? "provisional" : type == 2 ? "official" : "invalid";
}

/* Copy the text without whitespace and without PEM armour lines. */
static size_t squeeze(const uint8_t *buf, size_t len, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '-' && (i == 0 || buf[i - 1] == '\n')) {
            while (i < len && buf[i] != '\n') i++;
            continue;
        }
        if (!isspace(buf[i])) {
            out[n++] = (char)buf[i];
        }
    }
    out[n] = 0;
    return n;
}

static int all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)s[i])) return 0;
    }
    return n > 0 && n % 2 == 0;
}

static int base64(const char *s, size_t n, uint8_t *out, size_t *out_len)
{
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    int a = 0, b = 0, ok = 0;
    if (ctx != NULL && n <= INT32_MAX) {
        EVP_DecodeInit(ctx);
        ok = EVP_DecodeUpdate(ctx, out, &a, (const unsigned char *)s, (int)n) >= 0 &&
             EVP_DecodeFinal(ctx, out + a, &b) == 1;
    }
    EVP_ENCODE_CTX_free(ctx);
    *out_len = (size_t)a + (size_t)b;
    return ok && *out_len > 0;
}

int mp_cd_unarmor(const uint8_t *buf, size_t len, uint8_t **der, size_t *der_len)
{
    char *txt = NULL;
    uint8_t *out = malloc(len + 1);
    int rc = MP_OK;
    if (out == NULL || (txt = malloc(len + 1)) == NULL) {
        rc = mp_err(MP_ERR_GENERAL, "out of memory");
        goto end;
    }
    if (len > 0 && buf[0] == 0x30) {
        memcpy(out, buf, len);
        *der_len = len;
        goto end;
    }
    size_t n = squeeze(buf, len, txt);
    if (n > 2 && (strncmp(txt, "0x", 2) == 0 || strncmp(txt, "0X", 2) == 0) && all_hex(txt + 2, n - 2)) {
        *der_len = (size_t)mp_unhex(txt + 2, out, len);
    } else if (all_hex(txt, n)) {
        *der_len = (size_t)mp_unhex(txt, out, len);
    } else if (!base64(txt, n, out, der_len)) {
        rc = mp_err(MP_ERR_INVALID, "not a CD in DER, hex or base64");
    }
end:
    free(txt);
    if (rc != MP_OK) {
        free(out);
        out = NULL;
    }
    *der = out;
    return rc;
}

int mp_cd_read_file(const char *path, uint8_t **der, size_t *der_len, mp_cd_env *env, mp_cd *cd)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = mp_read_file(path, 64 * 1024, &buf, &len);
    *der = NULL;
    if (rc != MP_OK) {
        return rc;
    }
    rc = mp_cd_unarmor(buf, len, der, der_len);
    free(buf);
    if (rc == MP_OK && (rc = mp_cd_env_parse(*der, *der_len, env)) == MP_OK) {
        rc = mp_cd_decode(env->content, env->content_len, cd);
    }
    if (rc != MP_OK) {
        free(*der);
        *der = NULL;
        return mp_err_ctx(rc, "%s", path);
    }
    return MP_OK;
}
