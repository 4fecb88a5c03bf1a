/* creds.c - see creds.h. */
#include "creds.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "util.h"

static const uint32_t invalid_passcodes[] = {
    0, 11111111, 22222222, 33333333, 44444444, 55555555, 66666666, 77777777,
    88888888, 99999999, 12345678, 87654321,
};

int mp_passcode_valid(uint32_t passcode)
{
    if (passcode < 1 || passcode > MP_PASSCODE_MAX) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(invalid_passcodes) / sizeof(invalid_passcodes[0]); i++) {
        if (passcode == invalid_passcodes[i]) return 0;
    }
    return 1;
}

int mp_passcode_check(const char *what, uint64_t passcode)
{
    if (passcode > MP_PASSCODE_MAX || !mp_passcode_valid((uint32_t)passcode)) {
        return mp_err(MP_ERR_INVALID, "%s: passcode %llu is not allowed (1..99999998, and not 11111111, 22222222, ..., 99999999, 12345678, 87654321)",
                      what, (unsigned long long)passcode);
    }
    return MP_OK;
}

int mp_random_bytes(uint8_t *buf, size_t n)
{
    if (n > 0 && RAND_bytes(buf, (int)n) != 1) {
        return mp_err_ssl(MP_ERR_GENERAL, "the random number generator failed");
    }
    return MP_OK;
}

int mp_passcode_random(uint32_t *out)
{
    uint8_t b[4];
    uint32_t v;
    do { /* 27 bits cover 1..99,999,998 with ~25% rejections */
        if (mp_random_bytes(b, sizeof(b)) != MP_OK) return MP_ERR_GENERAL;
        v = ((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24) & 0x7FFFFFF;
    } while (!mp_passcode_valid(v));
    *out = v;
    OPENSSL_cleanse(b, sizeof(b));
    return MP_OK;
}

int mp_discriminator_random(uint16_t *out)
{
    uint8_t b[2];
    if (mp_random_bytes(b, sizeof(b)) != MP_OK) return MP_ERR_GENERAL;
    *out = (uint16_t)((b[0] | b[1] << 8) & 0xFFF);
    return MP_OK;
}

static int serial_char(char c, int first)
{
    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) return 1;
    return !first && strchr(MP_SERIAL_PUNCT, c) != NULL && c != 0;
}

int mp_serial_check(const char *what, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > MP_SERIAL_MAX) {
        return mp_err(MP_ERR_INVALID, "%s: serial number must be 1..%d characters (is %zu)", what, MP_SERIAL_MAX, n);
    }
    for (size_t i = 0; i < n; i++) {
        if (!serial_char(s[i], i == 0)) {
            return mp_err(MP_ERR_INVALID, "%s: serial number '%.*s': character %zu is not allowed (a serial number is A-Z a-z 0-9 and %s, "
                          "starting with a letter or digit)", what, MP_SERIAL_MAX + 1, s, i + 1, MP_SERIAL_PUNCT);
        }
    }
    return MP_OK;
}

/* Expand one {field} of a serial template into out at *o. */
static int serial_field(const char *f, size_t fl, uint64_t seq, const char *udid, char *out, size_t *o)
{
    char tmp[80] = "";
    uint64_t w = 0;
    if (fl == 3 && strncmp(f, "seq", 3) == 0) {
        snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)seq);
    } else if (fl > 4 && fl < 7 && strncmp(f, "seq:", 4) == 0) {
        char num[3] = {f[4], fl > 5 ? f[5] : 0, 0};
        if (mp_parse_uint(num, 32, &w) != MP_OK) goto bad;
        snprintf(tmp, sizeof(tmp), "%0*llu", (int)w, (unsigned long long)seq);
    } else if (fl == 4 && strncmp(f, "udid", 4) == 0) {
        snprintf(tmp, sizeof(tmp), "%s", udid ? udid : "");
    } else if (fl > 4 && fl < 7 && strncmp(f, "hex:", 4) == 0) {
        char num[3] = {f[4], fl > 5 ? f[5] : 0, 0};
        uint8_t r[16];
        if (mp_parse_uint(num, 32, &w) != MP_OK || w == 0 || mp_random_bytes(r, sizeof(r)) != MP_OK) goto bad;
        mp_hex(r, 16, tmp, 1);
        tmp[w] = 0;
    } else {
        goto bad;
    }
    size_t n = strlen(tmp);
    if (*o + n > MP_SERIAL_MAX) {
        return mp_err(MP_ERR_INVALID, "serial template: the serial number would exceed %d characters", MP_SERIAL_MAX);
    }
    memcpy(out + *o, tmp, n);
    *o += n;
    return MP_OK;
bad:
    return mp_err(MP_ERR_INVALID, "serial template: unknown field '{%.*s}' (expected {seq}, {seq:W}, {udid} or {hex:N})", (int)fl, f);
}

int mp_serial_format(const char *tmpl, uint64_t seq, const char *udid, char out[static MP_SERIAL_MAX + 1])
{
    size_t o = 0;
    int rc;
    for (const char *p = tmpl; *p; p++) {
        if (*p == '{') {
            const char *e = strchr(p, '}');
            if (e == NULL) return mp_err(MP_ERR_INVALID, "serial template: '{' without '}'");
            if ((rc = serial_field(p + 1, (size_t)(e - p - 1), seq, udid, out, &o)) != MP_OK) return rc;
            p = e;
        } else if (*p == '}' || *p < 0x20 || *p > 0x7E) {
            return mp_err(MP_ERR_INVALID, "serial template: unexpected character at position %zu", (size_t)(p - tmpl) + 1);
        } else if (o >= MP_SERIAL_MAX) {
            return mp_err(MP_ERR_INVALID, "serial template: the serial number would exceed %d characters", MP_SERIAL_MAX);
        } else {
            out[o++] = *p;
        }
    }
    out[o] = 0;
    return mp_serial_check("serial template", out);
}
