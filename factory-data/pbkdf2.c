/*
 * pbkdf2.c - see pbkdf2.h.
 *
 * OpenSSL 3.0 deprecates SHA256_Init/SHA256_Update/SHA256_Transform, but the
 * EVP interface has no way to resume from a saved compression state, and the
 * saved inner/outer HMAC states are the whole point of this file (each
 * iteration then costs exactly two SHA-NI compressions). The low-level calls
 * are confined to this one file; OPENSSL_SUPPRESS_DEPRECATED must come
 * before the OpenSSL includes.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "pbkdf2.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

/* The 8 words of a SHA-256 state as a big-endian digest. */
static void state_out(const SHA256_CTX *c, uint8_t out[32])
{
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

/* States after absorbing key^ipad and key^opad (one block each). */
static void hmac_states(const uint8_t *pw, size_t pwlen, SHA256_CTX *in, SHA256_CTX *out)
{
    uint8_t key[64] = {0}, pad[64];
    if (pwlen > 64) {
        SHA256(pw, pwlen, key);
    } else if (pwlen > 0) {
        memcpy(key, pw, pwlen);
    }
    for (int i = 0; i < 64; i++) pad[i] = key[i] ^ 0x36;
    SHA256_Init(in);
    SHA256_Update(in, pad, 64);
    for (int i = 0; i < 64; i++) pad[i] = key[i] ^ 0x5c;
    SHA256_Init(out);
    SHA256_Update(out, pad, 64);
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(pad, sizeof(pad));
}

/* One PBKDF2 block T_i into t (32 bytes). */
static void pbkdf2_block(const SHA256_CTX *in, const SHA256_CTX *out, const uint8_t *salt,
                         size_t saltlen, uint32_t idx, uint32_t iterations, uint8_t t[32])
{
    SHA256_CTX c;
    uint8_t be[4] = {(uint8_t)(idx >> 24), (uint8_t)(idx >> 16), (uint8_t)(idx >> 8), (uint8_t)idx};
    /* A 64-byte block holding a 32-byte digest, pre-padded for a message of
     * 64 + 32 bytes: 0x80, zeros, bit length 768 big-endian. */
    uint8_t blk[64] = {0};
    blk[32] = 0x80;
    blk[62] = 0x03;
    c = *in;
    SHA256_Update(&c, salt, saltlen);
    SHA256_Update(&c, be, 4);
    SHA256_Final(blk, &c);
    c = *out;
    SHA256_Update(&c, blk, 32);
    SHA256_Final(blk, &c);
    memcpy(t, blk, 32);
    for (uint32_t j = 1; j < iterations; j++) {
        c = *in;
        SHA256_Transform(&c, blk);
        state_out(&c, blk);
        c = *out;
        SHA256_Transform(&c, blk);
        state_out(&c, blk);
        for (int k = 0; k < 32; k++) t[k] ^= blk[k];
    }
    OPENSSL_cleanse(&c, sizeof(c));
    OPENSSL_cleanse(blk, sizeof(blk));
}

int mp_pbkdf2_sha256(const uint8_t *pw, size_t pwlen, const uint8_t *salt, size_t saltlen,
                     uint32_t iterations, uint8_t *out, size_t outlen)
{
    SHA256_CTX in, outer;
    uint8_t t[32];
    if (iterations == 0 || out == NULL || (salt == NULL && saltlen > 0) ||
        (pw == NULL && pwlen > 0) || outlen > 32 * (size_t)0xFFFF) {
        return -1;
    }
    hmac_states(pw, pwlen, &in, &outer);
    for (uint32_t idx = 1; outlen > 0; idx++) {
        size_t n = outlen < 32 ? outlen : 32;
        pbkdf2_block(&in, &outer, salt, saltlen, idx, iterations, t);
        memcpy(out, t, n);
        out += n;
        outlen -= n;
    }
    OPENSSL_cleanse(&in, sizeof(in));
    OPENSSL_cleanse(&outer, sizeof(outer));
    OPENSSL_cleanse(t, sizeof(t));
    return 0;
}
