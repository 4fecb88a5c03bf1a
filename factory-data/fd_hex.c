/*
 * fd_hex.c - flash-ready Intel HEX forms of the partition images (nrf-hex,
 * nxp-hex: UDID.nrf.hex, UDID.nxp.hex), as Nordic's and NXP's generators
 * write them for their programmers: the raw image placed at the partition's
 * address (--offset), 16 data bytes per record, an extended linear address
 * record (type 04) first and at every 64 KiB boundary, the end-of-file
 * record last, LF line ends. The image must fit the partition
 * (--partition-size, required with --offset).
 *
 * The reader checks every record's checksum and that the data is one
 * contiguous run from a single start address, then reads the image with the
 * base format's reader.
 */
#include "fd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define REC 16

static void record(fd_buf *b, uint8_t type, uint16_t addr, const uint8_t *data, size_t n)
{
    static const char hx[] = "0123456789ABCDEF";
    uint8_t raw[4 + 255];
    char line[1 + 2 * sizeof(raw) + 2 + 1];
    size_t k = 0;
    raw[0] = (uint8_t)n;
    raw[1] = (uint8_t)(addr >> 8);
    raw[2] = (uint8_t)addr;
    raw[3] = type;
    if (n > 0) memcpy(raw + 4, data, n);
    uint8_t sum = 0;
    line[k++] = ':';
    for (size_t i = 0; i < 4 + n; i++) {
        sum = (uint8_t)(sum + raw[i]);
        line[k++] = hx[raw[i] >> 4];
        line[k++] = hx[raw[i] & 15];
    }
    sum = (uint8_t)(0x100 - sum);
    line[k++] = hx[sum >> 4];
    line[k++] = hx[sum & 15];
    line[k++] = '\n';
    fd_put(b, line, k);
    mp_wipe(raw, sizeof(raw));
    mp_wipe(line, sizeof(line));
}

int mp_ihex_encode(const uint8_t *img, size_t n, uint32_t addr, uint8_t **out, size_t *len)
{
    fd_buf b = {0};
    uint32_t ela = 0xFFFFFFFFu;
    if ((uint64_t)addr + n > 0x100000000ull) {
        return mp_err(MP_ERR_INVALID, "intel hex: %zu bytes at 0x%08X pass the 4 GiB address space", n, addr);
    }
    for (size_t i = 0; i < n;) {
        uint32_t a = addr + (uint32_t)i;
        if (a >> 16 != ela) {
            ela = a >> 16;
            uint8_t hi[2] = {(uint8_t)(ela >> 8), (uint8_t)ela};
            record(&b, 0x04, 0, hi, 2);
        }
        size_t k = n - i < REC ? n - i : REC;
        size_t to_boundary = 0x10000u - (a & 0xFFFFu);
        if (k > to_boundary) k = to_boundary;
        record(&b, 0x00, (uint16_t)a, img + i, k);
        i += k;
    }
    record(&b, 0x01, 0, NULL, 0);
    return fd_take(&b, out, len);
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int bad(size_t line, const char *what)
{
    return mp_err(MP_ERR_INVALID, "intel hex: line %zu: %s", line, what);
}

/* One record's text [s, e) into raw (count, address, type, data, checksum). */
static int parse_record(const uint8_t *s, const uint8_t *e, size_t line, uint8_t raw[4 + 255 + 1])
{
    size_t hexlen = (size_t)(e - s) - 1;
    uint8_t sum = 0;
    raw[0] = 0;
    if (*s != ':' || hexlen < 10 || hexlen % 2 != 0 || hexlen / 2 > 4 + 255 + 1) return bad(line, "expected ':' and an even number of hex digits (a record)");
    for (size_t i = 0; i < hexlen / 2; i++) {
        int h = hexval(s[1 + 2 * i]), l = hexval(s[2 + 2 * i]);
        if (h < 0 || l < 0) return bad(line, "not a hex digit");
        raw[i] = (uint8_t)(h << 4 | l);
        sum = (uint8_t)(sum + raw[i]);
    }
    if ((size_t)raw[0] + 5 != hexlen / 2) return bad(line, "the record length does not match its data");
    if (sum != 0) return bad(line, "checksum mismatch (corrupted)");
    return MP_OK;
}

int mp_ihex_decode(const uint8_t *buf, size_t len, uint32_t *addr, uint8_t **out, size_t *outlen)
{
    fd_buf b = {0};
    uint8_t raw[4 + 255 + 1];
    uint32_t ela = 0, next = 0;
    size_t line = 0;
    int rc = MP_OK, started = 0, eof = 0;
    const uint8_t *p = buf, *end = buf + len;
    *out = NULL;
    *outlen = 0;
    *addr = 0;
    while (rc == MP_OK && p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;
        const uint8_t *s = p;
        line++;
        p = nl ? nl + 1 : end;
        if (e > s && e[-1] == '\r') e--;
        if (e == s) continue;
        if (eof) { rc = bad(line, "data after the end-of-file record"); break; }
        if ((rc = parse_record(s, e, line, raw)) != MP_OK) break;
        size_t n = raw[0];
        uint32_t a = ela + ((uint32_t)raw[1] << 8 | raw[2]);
        switch (raw[3]) {
        case 0x00:
            if (started && a != next) { rc = bad(line, "data not contiguous with the previous record (one partition image expected)"); break; }
            if (!started) *addr = a;
            started = 1;
            fd_put(&b, raw + 4, n);
            next = a + (uint32_t)n;
            break;
        case 0x01: eof = 1; break;
        case 0x04:
            if (n != 2) { rc = bad(line, "an extended linear address record has 2 data bytes"); break; }
            ela = ((uint32_t)raw[4] << 8 | raw[5]) << 16;
            break;
        default: rc = bad(line, "record type other than data (00), end of file (01), extended linear address (04)"); break;
        }
    }
    mp_wipe(raw, sizeof(raw));
    if (rc == MP_OK && !eof) rc = mp_err(MP_ERR_INVALID, "intel hex: no end-of-file record (truncated)");
    if (rc == MP_OK && !started) rc = mp_err(MP_ERR_INVALID, "intel hex: no data records");
    if (rc != MP_OK) {
        fd_buf_wipe(&b);
        return rc;
    }
    return fd_take(&b, out, outlen);
}

/* The base format's image, bounded by the partition, as Intel HEX. */
static int hex_pack(int base, const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len)
{
    uint8_t *img = NULL;
    size_t n = 0;
    if (o == NULL || !o->has_offset || o->partition_size == 0) {
        return mp_err(MP_ERR_USAGE, "format %s-hex: the partition's --offset and --partition-size are required", mp_fd_format_name(base));
    }
    int rc = mp_fd_pack(base, d, o, &img, &n);
    if (rc == MP_OK) rc = mp_ihex_encode(img, n, o->offset, out, len);
    mp_free_secret(img, n);
    return rc;
}

static int hex_unpack(int base, const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d)
{
    uint8_t *img = NULL;
    size_t n = 0;
    uint32_t addr;
    int rc = mp_ihex_decode(buf, len, &addr, &img, &n);
    if (rc == MP_OK) rc = mp_fd_format(base)->unpack(img, n, o, d);
    mp_free_secret(img, n);
    return rc;
}

/* Intel HEX whose data is an image of the base format. */
static int hex_detect(int base, const uint8_t *buf, size_t len)
{
    uint8_t *img = NULL;
    size_t n = 0;
    uint32_t addr;
    if (len < 11 || buf[0] != ':') return 0;
    int s = 1; /* Intel HEX, but broken: the reader says what is wrong */
    if (mp_ihex_decode(buf, len, &addr, &img, &n) == MP_OK) s = mp_fd_format(base)->detect(img, n);
    mp_free_secret(img, n);
    return s;
}

int fd_nrf_hex_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len) { return hex_pack(MP_FD_NRF, d, o, out, len); }
int fd_nrf_hex_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d) { return hex_unpack(MP_FD_NRF, buf, len, o, d); }
int fd_nrf_hex_detect(const uint8_t *buf, size_t len) { return hex_detect(MP_FD_NRF, buf, len); }
int fd_nxp_hex_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len) { return hex_pack(MP_FD_NXP, d, o, out, len); }
int fd_nxp_hex_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d) { return hex_unpack(MP_FD_NXP, buf, len, o, d); }
int fd_nxp_hex_detect(const uint8_t *buf, size_t len) { return hex_detect(MP_FD_NXP, buf, len); }
