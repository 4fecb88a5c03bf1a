/* onboarding.c - see onboarding.h. */
#include "onboarding.h"

#include <stdio.h>
#include <string.h>

#include "creds.h"

static const char b38[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-.";

long mp_base38_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        size_t k = n - i < 3 ? n - i : 3;
        size_t chars = k == 3 ? 5 : k == 2 ? 4 : 2;
        uint32_t v = 0;
        for (size_t j = 0; j < k; j++) v |= (uint32_t)in[i + j] << (8 * j);
        if (o + chars + 1 > cap) return -1;
        for (size_t j = 0; j < chars; j++) {
            out[o++] = b38[v % 38];
            v /= 38;
        }
    }
    if (o + 1 > cap) return -1;
    out[o] = 0;
    return (long)o;
}

long mp_base38_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 5) {
        size_t chars = n - i < 5 ? n - i : 5;
        size_t k = chars == 5 ? 3 : chars == 4 ? 2 : chars == 2 ? 1 : 0;
        uint64_t v = 0;
        if (k == 0) {
            mp_err(MP_ERR_INVALID, "Base38: a trailing group of %zu characters is invalid", chars);
            return -1;
        }
        for (size_t j = chars; j-- > 0;) {
            const char *c = in[i + j] ? strchr(b38, in[i + j]) : NULL;
            if (c == NULL) {
                mp_err(MP_ERR_INVALID, "Base38: character %zu is not in the alphabet 0-9 A-Z - .", i + j + 1);
                return -1;
            }
            v = v * 38 + (uint64_t)(c - b38);
        }
        if (v >> (8 * k) != 0) {
            mp_err(MP_ERR_INVALID, "Base38: the group at character %zu does not fit %zu byte%s", i + 1, k, k > 1 ? "s" : "");
            return -1;
        }
        if (o + k > cap) {
            mp_err(MP_ERR_INVALID, "Base38: the payload is too long");
            return -1;
        }
        for (size_t j = 0; j < k; j++) out[o++] = (uint8_t)(v >> (8 * j));
    }
    return (long)o;
}

int mp_payload_check(const mp_payload *p, int for_qr)
{
    if (p->version != 0) return mp_err(MP_ERR_INVALID, "payload: version %u; must be 0", p->version);
    if (p->flow > 2) return mp_err(MP_ERR_INVALID, "payload: commissioning flow %u is reserved (0 standard, 1 user-intent, 2 custom)", p->flow);
    if (p->discriminator > MP_DISC_MAX) return mp_err(MP_ERR_INVALID, "payload: discriminator %u; expected 0..4095", p->discriminator);
    if (p->vendor_id > 0xFFF4) return mp_err(MP_ERR_INVALID, "payload: vendor ID 0x%04X; expected 0 or 0x0001..0xFFF4", p->vendor_id);
    if (p->vendor_id == 0 && p->product_id != 0) return mp_err(MP_ERR_INVALID, "payload: a product ID needs a vendor ID");
    if (p->vendor_id != 0 && p->product_id == 0) {
        return mp_err(MP_ERR_INVALID, "payload: vendor ID 0x%04X with product ID 0; the SDK's payload rules allow product ID 0 only with vendor ID 0", p->vendor_id);
    }
    if (for_qr && p->caps == 0) return mp_err(MP_ERR_INVALID, "payload: a QR code needs at least one discovery capability");
    if (p->caps & ~MP_CAPS_KNOWN) return mp_err(MP_ERR_INVALID, "payload: unknown discovery capability bits 0x%02X (known: 0x3F)", p->caps & ~MP_CAPS_KNOWN);
    return mp_passcode_check("payload", p->passcode);
}

/* The 88-bit packing, little-endian: bits 0..63 in lo, 64..87 in hi. */
static void qr_pack(const mp_payload *p, uint8_t out[11])
{
    uint64_t lo = (uint64_t)p->version | (uint64_t)p->vendor_id << 3 | (uint64_t)p->product_id << 19 |
                  (uint64_t)p->flow << 35 | (uint64_t)p->caps << 37 | (uint64_t)p->discriminator << 45 |
                  (uint64_t)p->passcode << 57;
    uint32_t hi = p->passcode >> 7; /* passcode bits 7..26 -> payload bits 64..83 */
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(lo >> (8 * i));
    for (int i = 0; i < 3; i++) out[8 + i] = (uint8_t)(hi >> (8 * i));
}

int mp_qr_encode(const mp_payload *p, char out[static MP_QR_MAX])
{
    uint8_t b[11 + sizeof(p->tlv)];
    int rc = mp_payload_check(p, 1);
    if (rc != MP_OK) return rc;
    if (p->tlv_len > sizeof(p->tlv)) return mp_err(MP_ERR_INVALID, "QR: TLV extension too long");
    qr_pack(p, b);
    memcpy(b + 11, p->tlv, p->tlv_len); /* the optional TLV extension, as-is */
    memcpy(out, "MT:", 3);
    if (mp_base38_encode(b, 11 + p->tlv_len, out + 3, MP_QR_MAX - 3) < 0) {
        return mp_err(MP_ERR_GENERAL, "QR: buffer too small");
    }
    return MP_OK;
}

static void qr_unpack(const uint8_t b[11], mp_payload *p)
{
    uint64_t lo = 0;
    uint32_t hi = 0;
    for (int i = 0; i < 8; i++) lo |= (uint64_t)b[i] << (8 * i);
    for (int i = 0; i < 3; i++) hi |= (uint32_t)b[8 + i] << (8 * i);
    p->version = lo & 7;
    p->vendor_id = (uint16_t)(lo >> 3);
    p->product_id = (uint16_t)(lo >> 19);
    p->flow = (lo >> 35) & 3;
    p->caps = (uint8_t)(lo >> 37);
    p->discriminator = (lo >> 45) & 0xFFF;
    p->passcode = (uint32_t)(lo >> 57) | (hi & 0xFFFFF) << 7;
}

int mp_qr_decode_body(const char *text, mp_payload *p, const char **next)
{
    uint8_t b[11 + sizeof(p->tlv)];
    memset(p, 0, sizeof(*p));
    size_t n = strcspn(text, "*%");
    if (next) *next = text[n] == '*' ? text + n + 1 : NULL;
    long len = mp_base38_decode(text, n, b, sizeof(b));
    if (len < 0) return mp_err_ctx(MP_ERR_INVALID, "QR code");
    if (len < 11) return mp_err(MP_ERR_INVALID, "QR code: %ld bytes; the payload needs at least 11", len);
    qr_unpack(b, p);
    p->has_vid_pid = 1;
    p->tlv_len = (size_t)len - 11;
    memcpy(p->tlv, b + 11, p->tlv_len);
    if (b[10] >> 4) return mp_err(MP_ERR_INVALID, "QR code: padding bits are not zero");
    uint8_t caps = p->caps;
    p->caps &= MP_CAPS_KNOWN; /* a parser tolerates unknown bits */
    int rc = mp_payload_check(p, 1);
    p->caps = caps;
    return rc;
}

int mp_qr_decode(const char *text, mp_payload *p, const char **next)
{
    if (strncmp(text, "MT:", 3) != 0) {
        memset(p, 0, sizeof(*p));
        return mp_err(MP_ERR_INVALID, "QR code: must start with 'MT:'");
    }
    return mp_qr_decode_body(text + 3, p, next);
}

/* Verhoeff tables: D5 multiplication and the permutation pi (its powers are
 * taken by repeated application). */
static const uint8_t vd[10][10] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5}, {2, 3, 4, 0, 1, 7, 8, 9, 5, 6},
    {3, 4, 0, 1, 2, 8, 9, 5, 6, 7}, {4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
    {6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3}, {8, 7, 6, 5, 9, 3, 2, 1, 0, 4},
    {9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
};
static const uint8_t vpi[10] = {1, 5, 7, 6, 2, 8, 3, 0, 9, 4};

static int pi_pow(int digit, size_t i)
{
    for (size_t k = 0; k < i % 8; k++) digit = vpi[digit];
    return digit;
}

/* Walk digits from the right; position of the rightmost is `first`. */
static int verhoeff_walk(const char *d, size_t n, size_t first)
{
    int c = 0;
    for (size_t k = 0; k < n; k++) {
        c = vd[c][pi_pow(d[n - 1 - k] - '0', first + k)];
    }
    return c;
}

char mp_verhoeff_digit(const char *digits, size_t n)
{
    int c = verhoeff_walk(digits, n, 1);
    return (char)('0' + (c >= 1 && c <= 4 ? 5 - c : c));
}

int mp_verhoeff_valid(const char *digits, size_t n)
{
    return n > 0 && verhoeff_walk(digits, n, 0) == 0;
}

int mp_manual_encode(const mp_payload *p, char out[static MP_MANUAL_MAX])
{
    int rc = mp_payload_check(p, 0);
    return rc != MP_OK ? rc : mp_manual_pack(p, out);
}

int mp_manual_pack(const mp_payload *p, char out[static MP_MANUAL_MAX])
{
    if (p->discriminator > MP_DISC_MAX || p->passcode > 0x7FFFFFF) {
        return mp_err(MP_ERR_INVALID, "manual code: discriminator above 4095 or passcode above 27 bits");
    }
    unsigned sd = p->discriminator >> 8;
    unsigned vp = p->flow != 0;
    unsigned c1 = vp << 2 | sd >> 2;
    unsigned c2 = (sd & 3) << 14 | (p->passcode & 0x3FFF);
    unsigned c3 = p->passcode >> 14;
    int n = vp ? snprintf(out, MP_MANUAL_MAX, "%u%05u%04u%05u%05u", c1, c2, c3, p->vendor_id, p->product_id)
               : snprintf(out, MP_MANUAL_MAX, "%u%05u%04u", c1, c2, c3);
    out[n] = mp_verhoeff_digit(out, (size_t)n);
    out[n + 1] = 0;
    return MP_OK;
}

static unsigned num(const char *d, int n)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) v = v * 10 + (unsigned)(d[i] - '0');
    return v;
}

int mp_manual_decode(const char *text, mp_payload *p)
{
    char d[MP_MANUAL_MAX];
    size_t n = 0;
    memset(p, 0, sizeof(*p));
    for (const char *s = text; *s; s++) {
        if (*s < '0' || *s > '9') continue;
        if (n == 21) return mp_err(MP_ERR_INVALID, "manual code: more than 21 digits");
        d[n++] = *s;
    }
    if (n != 11 && n != 21) return mp_err(MP_ERR_INVALID, "manual code: %zu digits; expected 11 or 21", n);
    if (!mp_verhoeff_valid(d, n)) return mp_err(MP_ERR_INVALID, "manual code: wrong check digit (integrity check failed)");
    unsigned c1 = num(d, 1), c2 = num(d + 1, 5), c3 = num(d + 6, 4);
    if (c1 > 7) return mp_err(MP_ERR_INVALID, "manual code: version bit set in the first digit");
    if ((c1 >> 2) != (n == 21)) return mp_err(MP_ERR_INVALID, "manual code: the first digit says %s code but it has %zu digits", c1 >> 2 ? "a long" : "a short", n);
    if (c2 > 0xFFFF || c3 > 0x1FFF) return mp_err(MP_ERR_INVALID, "manual code: a digit group is out of range");
    p->short_disc = 1;
    p->discriminator = (uint16_t)(((c1 & 3) << 2 | c2 >> 14) << 8);
    p->passcode = (c2 & 0x3FFF) | c3 << 14;
    if (n == 21) {
        unsigned vid = num(d + 10, 5), pid = num(d + 15, 5);
        if (vid > 0xFFFF || pid > 0xFFFF) return mp_err(MP_ERR_INVALID, "manual code: vendor or product ID above 65535");
        p->has_vid_pid = 1;
        p->vendor_id = (uint16_t)vid;
        p->product_id = (uint16_t)pid;
        p->flow = 2; /* not standard; the code does not say which other flow */
    }
    if (p->passcode == 0) return mp_err(MP_ERR_INVALID, "manual code: passcode 0");
    return MP_OK;
}
