/*
 * fd_linux.c - Linux/POSIX factory data: UDID.chip_factory.ini, the file the
 * Matter SDK's Linux platform opens as its chip-factory store
 * (CHIP_DEFAULT_FACTORY_PATH, /tmp/chip_factory.ini by default).
 *
 * Layout, as the SDK's INI storage reads it: one section [DEFAULT], one
 * "key=value" line per value; integers in decimal, strings as they are,
 * binary values as padded standard base64 (its GetBinaryBlobValue decodes
 * every blob so). The SDK keys come first (serial-num, vendor-id,
 * product-id, hardware-ver, mfg-date, discriminator, iteration-count, salt,
 * verifier, pin-code only with --include-passcode, device-cert = DAC DER,
 * device-ca-certs = PAI DER, device-key = the 32-byte P-256 scalar when the
 * key is off-chip); then matter-pki's keys for the fields the SDK takes from
 * its build configuration (vendor-name, product-name, ..., named as in the
 * ESP32 chip-factory namespace), which the SDK ignores and inspect reads.
 *
 * The reader accepts what the SDK's parser does with this content (blank
 * lines, ';' or '#' comments, spaces around '=' and the value) and refuses
 * other sections, unknown or repeated keys, naming the line. Values the
 * parser would change (leading/trailing spaces, line breaks) are refused
 * when packing.
 */
#include "fd_int.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

static const fd_map linux_map[] = {
    {F_SN, "serial-num", 0, E_TEXT, 0},
    {F_VID, "vendor-id", 0, E_INT, 0},
    {F_PID, "product-id", 0, E_INT, 0},
    {F_HWVER, "hardware-ver", 0, E_INT, 0},
    {F_DATE, "mfg-date", 0, E_TEXT, 0},
    {F_DISC, "discriminator", 0, E_INT, 0},
    {F_ITER, "iteration-count", 0, E_INT, 0},
    {F_SALT, "salt", 0, E_B64, 0},
    {F_VERIFIER, "verifier", 0, E_B64, 0},
    {F_PASSCODE, "pin-code", 0, E_INT, 0},
    {F_DAC, "device-cert", 0, E_B64, 0},
    {F_PAI, "device-ca-certs", 0, E_B64, 0},
    {F_DACKEY, "device-key", 0, E_B64, 0},
    {F_VNAME, "vendor-name", 0, E_TEXT, 0},
    {F_PNAME, "product-name", 0, E_TEXT, 0},
    {F_HWVERSTR, "hw-ver-str", 0, E_TEXT, 0},
    {F_PLABEL, "product-label", 0, E_TEXT, 0},
    {F_PURL, "product-url", 0, E_TEXT, 0},
    {F_PARTNO, "part-number", 0, E_TEXT, 0},
    {F_RDUID, "rd-id-uid", 0, E_B64, 0},
    {F_FINISH, "product-finish", 0, E_INT, 0},
    {F_COLOR, "product-color", 0, E_INT, 0},
    {F_CD, "cert-dclrn", 0, E_B64, 0},
};
#define NMAP (sizeof(linux_map) / sizeof(linux_map[0]))

static const char section[] = "[DEFAULT]";

/* A text value the INI parser gives back unchanged. */
static int ini_safe(const fd_map *m, const uint8_t *p, size_t n)
{
    if (n > 0 && (p[0] == ' ' || p[0] == '\t' || p[n - 1] == ' ' || p[n - 1] == '\t')) {
        return mp_err(MP_ERR_INVALID, "format linux: %s (%s) begins or ends with white space, which the SDK's INI parser drops", m->key, fd_field_name(m->field));
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' || p[i] == '\r') {
            return mp_err(MP_ERR_INVALID, "format linux: %s (%s) holds a line break, which an INI value cannot", m->key, fd_field_name(m->field));
        }
    }
    return MP_OK;
}

int fd_linux_check(const mp_fd_device *d)
{
    fd_value v;
    for (size_t i = 0; i < NMAP; i++) {
        int rc;
        if (fd_field_kind(linux_map[i].field) == K_STR && fd_get(d, linux_map[i].field, &v) &&
            (rc = ini_safe(&linux_map[i], v.p, v.len)) != MP_OK) {
            return rc;
        }
    }
    return MP_OK;
}

int fd_linux_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len)
{
    (void)o;
    uint8_t scratch[FD_SCRATCH];
    fd_buf b = {0};
    fd_value v, s;
    int rc = MP_OK;
    fd_put(&b, section, strlen(section));
    fd_put_u8(&b, '\n');
    for (size_t i = 0; i < NMAP && rc == MP_OK; i++) {
        const fd_map *m = &linux_map[i];
        if (!fd_get(d, m->field, &v) || (rc = fd_encode(m, &v, scratch, sizeof(scratch), &s)) != MP_OK) continue;
        fd_put(&b, m->key, strlen(m->key));
        fd_put_u8(&b, '=');
        if (s.kind == K_UINT) {
            char num[24];
            int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)s.u);
            fd_put(&b, num, (size_t)n);
        } else {
            fd_put(&b, s.p, s.len);
        }
        fd_put_u8(&b, '\n');
    }
    mp_wipe(scratch, sizeof(scratch));
    if (rc != MP_OK) {
        fd_buf_wipe(&b);
        return rc;
    }
    return fd_take(&b, out, len);
}

static int bad(size_t line, const char *what)
{
    return mp_err(MP_ERR_INVALID, "linux: line %zu: %s", line, what);
}

static int is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\r'; }

/* [p, e) without the white space around it. */
static void trim(const uint8_t **p, const uint8_t **e)
{
    while (*p < *e && is_space(**p)) (*p)++;
    while (*e > *p && is_space((*e)[-1])) (*e)--;
}

static int parse_uint(const uint8_t *p, size_t n, uint64_t *u)
{
    *u = 0;
    if (n == 0 || n > 10) return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        *u = *u * 10 + (uint64_t)(p[i] - '0');
    }
    return *u > UINT32_MAX ? -1 : 0;
}

/* One "key=value" line. */
static int pair(const uint8_t *p, const uint8_t *e, size_t line, uint32_t *seen, mp_fd_device *d)
{
    char where[40], msg[160];
    const uint8_t *eq = memchr(p, '=', (size_t)(e - p));
    if (eq == NULL) return bad(line, "expected key=value");
    const uint8_t *k = p, *ke = eq, *v = eq + 1, *ve = e;
    trim(&k, &ke);
    trim(&v, &ve);
    const fd_map *m = fd_map_key(linux_map, NMAP, (const char *)k, (size_t)(ke - k));
    if (m == NULL) {
        snprintf(msg, sizeof(msg), "unknown key '%.*s'", (int)((ke - k) > 40 ? 40 : (ke - k)), (const char *)k);
        return bad(line, msg);
    }
    size_t idx = (size_t)(m - linux_map);
    if (*seen & (1u << idx)) {
        snprintf(msg, sizeof(msg), "key '%s' given twice", m->key);
        return bad(line, msg);
    }
    *seen |= 1u << idx;
    snprintf(where, sizeof(where), "linux: line %zu", line);
    uint64_t u = 0;
    if (m->enc == E_INT && parse_uint(v, (size_t)(ve - v), &u) != 0) {
        snprintf(msg, sizeof(msg), "key '%s': expected a decimal integer", m->key);
        return bad(line, msg);
    }
    return fd_decode_set(d, m, v, (size_t)(ve - v), u, where);
}

int fd_linux_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d)
{
    (void)o;
    const uint8_t *p = buf, *end = buf + len;
    size_t line = 0;
    uint32_t seen = 0;
    int in_section = 0, rc = MP_OK;
    if (len > (1u << 20)) return mp_err(MP_ERR_INVALID, "linux: %zu bytes; a chip_factory.ini is at most 1 MiB", len);
    while (p < end && rc == MP_OK) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end, *s = p, *se = e;
        line++;
        p = nl ? nl + 1 : end;
        trim(&s, &se);
        if (s == se || *s == ';' || *s == '#') continue;
        if (*s == '[') {
            if ((size_t)(se - s) != strlen(section) || memcmp(s, section, strlen(section)) != 0) {
                rc = bad(line, "expected the section [DEFAULT] (the only one the SDK reads)");
            } else if (in_section) {
                rc = bad(line, "section [DEFAULT] given twice");
            }
            in_section = 1;
            continue;
        }
        rc = in_section ? pair(s, se, line, &seen, d) : bad(line, "a value before the section [DEFAULT]");
    }
    if (rc == MP_OK && !in_section) rc = mp_err(MP_ERR_INVALID, "linux: no section [DEFAULT]");
    return rc;
}

/* "[DEFAULT]" on the first line that is not blank or a comment. */
int fd_linux_detect(const uint8_t *b, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (is_space(b[i]) || b[i] == '\n')) i++;
        if (i < n && (b[i] == ';' || b[i] == '#')) {
            while (i < n && b[i] != '\n') i++;
            continue;
        }
        break;
    }
    return n - i >= strlen(section) && memcmp(b + i, section, strlen(section)) == 0 ? 2 : 0;
}
