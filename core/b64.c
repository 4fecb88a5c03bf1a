/* b64.c - see b64.h. */
#include "b64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t mp_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    if (cap < 4 * ((n + 2) / 3) + 1) {
        if (cap > 0) out[0] = 0;
        return 0;
    }
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? alphabet[v & 63] : '=';
    }
    out[o] = 0;
    return o;
}

static int val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static long decode(const char *in, size_t len, uint8_t *out, size_t cap, int need_padding)
{
    size_t pad = 0, o = 0;
    uint32_t acc = 0;
    int bits = 0;
    while (pad < 2 && len > 0 && in[len - 1] == '=') {
        len--;
        pad++;
    }
    if (len % 4 == 1 || (pad > 0 && (len + pad) % 4 != 0) || (need_padding && (len + pad) % 4 != 0)) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        int v = val((unsigned char)in[i]);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap) {
                return -1;
            }
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
        return -1; /* non-canonical trailing bits */
    }
    return (long)o;
}

long mp_b64_decode(const char *in, size_t inlen, uint8_t *out, size_t cap)
{
    return decode(in, inlen, out, cap, 1);
}

long mp_b64_decode_unpadded(const char *in, size_t inlen, uint8_t *out, size_t cap)
{
    return decode(in, inlen, out, cap, 0);
}
