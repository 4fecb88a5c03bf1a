/* spake2p.c - see spake2p.h. */
#include "spake2p.h"

#include <pthread.h>

#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "pbkdf2.h"

int mp_spake2p_check(size_t saltlen, uint32_t iterations)
{
    if (saltlen < MP_SALT_MIN || saltlen > MP_SALT_MAX) {
        return mp_err(MP_ERR_INVALID, "salt: %zu bytes; expected %d..%d bytes", saltlen, MP_SALT_MIN, MP_SALT_MAX);
    }
    if (iterations < MP_ITER_MIN || iterations > MP_ITER_MAX) {
        return mp_err(MP_ERR_INVALID, "iterations: %u; expected %d..%d", iterations, MP_ITER_MIN, MP_ITER_MAX);
    }
    return MP_OK;
}

/* w = (40-byte big-endian value) mod n, into a BIGNUM. */
static int reduce(const uint8_t ws[40], const BIGNUM *order, BN_CTX *bn, BIGNUM *w)
{
    BIGNUM *t = BN_bin2bn(ws, 40, NULL);
    int ok = t != NULL && BN_nnmod(w, t, order, bn) == 1;
    BN_clear_free(t);
    return ok;
}

/* point = s*G, uncompressed. */
static int mul_g(const EC_GROUP *g, const BIGNUM *s, BN_CTX *bn, uint8_t point[65])
{
    EC_POINT *p = EC_POINT_new(g);
    int ok = p != NULL && EC_POINT_mul(g, p, s, NULL, NULL, bn) == 1 &&
             EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, point, 65, bn) == 65;
    EC_POINT_clear_free(p);
    return ok;
}

/* One P-256 group for the process: building it costs more than the rest of
 * the verifier after PBKDF2; EC operations only read it, so threads share it. */
static EC_GROUP *p256;
static pthread_once_t p256_once = PTHREAD_ONCE_INIT;

static void p256_init(void)
{
    p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
}

static const EC_GROUP *group(void)
{
    pthread_once(&p256_once, p256_init);
    return p256;
}

int mp_spake2p_verifier(uint32_t passcode, const uint8_t *salt, size_t saltlen,
                        uint32_t iterations, uint8_t verifier[static MP_VERIFIER_LEN])
{
    uint8_t pw[4] = {(uint8_t)passcode, (uint8_t)(passcode >> 8), (uint8_t)(passcode >> 16),
                     (uint8_t)(passcode >> 24)};
    uint8_t ws[80];
    int rc = mp_spake2p_check(saltlen, iterations);
    if (rc != MP_OK) {
        return rc;
    }
    const EC_GROUP *g = group();
    BN_CTX *bn = BN_CTX_secure_new();
    BIGNUM *w0 = BN_secure_new(), *w1 = BN_secure_new();
    rc = mp_err(MP_ERR_GENERAL, "SPAKE2+ verifier: out of memory or OpenSSL failure");
    if (g == NULL || bn == NULL || w0 == NULL || w1 == NULL ||
        mp_pbkdf2_sha256(pw, 4, salt, saltlen, iterations, ws, sizeof(ws)) != 0) {
        goto end;
    }
    const BIGNUM *order = EC_GROUP_get0_order(g);
    if (reduce(ws, order, bn, w0) && reduce(ws + 40, order, bn, w1) &&
        BN_bn2binpad(w0, verifier, 32) == 32 && mul_g(g, w1, bn, verifier + 32)) {
        rc = MP_OK;
    }
end:
    OPENSSL_cleanse(ws, sizeof(ws));
    OPENSSL_cleanse(pw, sizeof(pw));
    BN_clear_free(w0);
    BN_clear_free(w1);
    BN_CTX_free(bn);
    return rc;
}

int mp_spake2p_check_verifier(uint32_t passcode, const uint8_t *salt, size_t saltlen,
                              uint32_t iterations, const uint8_t verifier[static MP_VERIFIER_LEN])
{
    uint8_t v[MP_VERIFIER_LEN];
    int rc = mp_spake2p_verifier(passcode, salt, saltlen, iterations, v);
    if (rc == MP_OK && CRYPTO_memcmp(v, verifier, MP_VERIFIER_LEN) != 0) {
        rc = mp_err(MP_ERR_MISMATCH, "the SPAKE2+ verifier does not match the passcode, salt and iterations");
    }
    OPENSSL_cleanse(v, sizeof(v));
    return rc;
}

int mp_p256_point(const uint8_t scalar[static 32], uint8_t point[static 65])
{
    const EC_GROUP *g = group();
    BN_CTX *bn = BN_CTX_secure_new();
    BIGNUM *s = BN_secure_new();
    int rc = MP_ERR_GENERAL;
    if (g == NULL || bn == NULL || s == NULL || BN_bin2bn(scalar, 32, s) == NULL) {
        rc = mp_err(MP_ERR_GENERAL, "P-256: out of memory");
    } else if (BN_is_zero(s) || BN_cmp(s, EC_GROUP_get0_order(g)) >= 0) {
        rc = mp_err(MP_ERR_INVALID, "DAC private key: not a valid P-256 scalar (0 or >= n)");
    } else if (!mul_g(g, s, bn, point)) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "P-256: point multiplication failed");
    } else {
        rc = MP_OK;
    }
    BN_clear_free(s);
    BN_CTX_free(bn);
    return rc;
}
