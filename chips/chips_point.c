/* chips_point.c - P-256 point decoding and UDID rules for chip lists. */
#include "chips/chips.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>

#include "b64.h"
#include "udid.h"
#include "util.h"

struct mp_chip_dec {
    EC_GROUP *group;
    EC_POINT *pt;
    BN_CTX *bn;
};

int mp_chip_dec_new(mp_chip_dec **out)
{
    mp_chip_dec *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    d->group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    d->pt = d->group != NULL ? EC_POINT_new(d->group) : NULL;
    d->bn = BN_CTX_new();
    if (d->pt == NULL || d->bn == NULL) {
        mp_chip_dec_free(d);
        return mp_err_ssl(MP_ERR_GENERAL, "cannot set up the P-256 group");
    }
    *out = d;
    return MP_OK;
}

void mp_chip_dec_free(mp_chip_dec *d)
{
    if (d == NULL) {
        return;
    }
    EC_POINT_free(d->pt);
    EC_GROUP_free(d->group);
    BN_CTX_free(d->bn);
    free(d);
}

int mp_chip_point_bytes(mp_chip_dec *d, const uint8_t *in, size_t len, uint8_t point[static 65])
{
    if (len == 65 && in[0] != 0x04) {
        return mp_err(MP_ERR_INVALID, "65-byte public key must start with 04 (uncompressed), not %02X", in[0]);
    }
    if (len == 33 && in[0] != 0x02 && in[0] != 0x03) {
        return mp_err(MP_ERR_INVALID, "33-byte public key must start with 02 or 03 (compressed), not %02X", in[0]);
    }
    if (len != 65 && len != 33) {
        return mp_err(MP_ERR_INVALID, "public key is %zu bytes; expected a 65-byte uncompressed or 33-byte compressed P-256 point", len);
    }
    if (EC_POINT_oct2point(d->group, d->pt, in, len, d->bn) != 1 ||
        EC_POINT_is_on_curve(d->group, d->pt, d->bn) != 1) {
        ERR_clear_error();
        return mp_err(MP_ERR_INVALID, "public key is not a point on the P-256 curve");
    }
    if (EC_POINT_is_at_infinity(d->group, d->pt)) {
        return mp_err(MP_ERR_INVALID, "public key is the point at infinity");
    }
    if (EC_POINT_point2oct(d->group, d->pt, POINT_CONVERSION_UNCOMPRESSED, point, 65, d->bn) != 65) {
        return mp_err_ssl(MP_ERR_GENERAL, "cannot encode the public key");
    }
    return MP_OK;
}

static int all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

int mp_chip_point_decode(mp_chip_dec *d, const char *text, size_t len, uint8_t point[static 65])
{
    uint8_t raw[80];
    char hex[131];
    long n = -1;
    int is_hex = all_hex(text, len) && len % 2 == 0;
    if (len == 0) {
        return mp_err(MP_ERR_INVALID, "public key is empty");
    }
    if (is_hex && (len == 130 || len == 66)) {
        memcpy(hex, text, len);
        hex[len] = 0;
        n = mp_unhex(hex, raw, sizeof(raw));
    } else if (len <= 120) {
        n = mp_b64_decode_unpadded(text, len, raw, sizeof(raw));
    }
    if (is_hex && n != 33 && n != 65) {
        return mp_err(MP_ERR_INVALID, "public key is %zu bytes (%zu hex digits); expected a 65-byte uncompressed or 33-byte compressed P-256 point", len / 2, len);
    }
    if (n < 0) {
        return mp_err(MP_ERR_INVALID, "public key is neither hex (66 or 130 digits) nor base64 of a P-256 point");
    }
    return mp_chip_point_bytes(d, raw, (size_t)n, point);
}

int mp_chip_udid_check(const char *udid, size_t len)
{
    return mp_udid_check(udid, len);
}

void mp_chip_udid_of(const uint8_t point[static 65], char udid[static 65])
{
    uint8_t h[32];
    SHA256(point, 65, h);
    mp_hex(h, 32, udid, 1);
}

