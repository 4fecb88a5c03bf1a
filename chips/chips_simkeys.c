/* chips_simkeys.c - the simulator's device key store: "the key inside the
 * chip" for demos and CSR tests (see chips.h). */
#include "chips/chips.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/param_build.h>

#include "util.h"

static int public_of(const BIGNUM *d, uint8_t point[static 65])
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *p = g != NULL ? EC_POINT_new(g) : NULL;
    int ok = p != NULL && EC_POINT_mul(g, p, d, NULL, NULL, NULL) == 1 &&
             EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, point, 65, NULL) == 65;
    EC_POINT_free(p);
    EC_GROUP_free(g);
    return ok;
}

int mp_sim_key_from_scalar(const uint8_t scalar[static 32], EVP_PKEY **out)
{
    uint8_t point[65];
    BIGNUM *d = BN_secure_new();
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    int ok = d != NULL && b != NULL && ctx != NULL && BN_bin2bn(scalar, 32, d) != NULL && !BN_is_zero(d) &&
             public_of(d, point) &&
             OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
             OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, d) &&
             OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, point, 65) &&
             (params = OSSL_PARAM_BLD_to_param(b)) != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
             EVP_PKEY_fromdata(ctx, out, EVP_PKEY_KEYPAIR, params) == 1;
    OSSL_PARAM_free(params); /* the secure BN went to secure memory, cleared on free */
    OSSL_PARAM_BLD_free(b);
    EVP_PKEY_CTX_free(ctx);
    BN_clear_free(d);
    return ok ? MP_OK : mp_err_ssl(MP_ERR_INVALID, "not a valid P-256 private key");
}

/* Match "UDID,HEX" in one line; 1 when the line is this UDID's. */
static int line_key(const char *line, const char *udid, uint8_t scalar[static 32])
{
    size_t ul = strlen(udid);
    char hex[65];
    if (strncmp(line, udid, ul) != 0 || line[ul] != ',') {
        return 0;
    }
    memcpy(hex, line + ul + 1, 64);
    hex[64] = 0;
    long n = strnlen(line + ul + 1, 66) >= 64 ? mp_unhex(hex, scalar, 32) : -1;
    mp_wipe(hex, sizeof(hex));
    return n == 32 ? 1 : -1;
}

int mp_sim_device_key(const char *dir, const char *udid, EVP_PKEY **out)
{
    char path[4200];
    char *line = NULL;
    size_t cap = 0;
    uint8_t scalar[32];
    int hit = 0, rc;
    snprintf(path, sizeof(path), "%s/device-keys.csv", dir);
    FILE *f = mp_fopen_input(path);
    if (f == NULL) {
        return mp_err(MP_ERR_IO, "%s: cannot open the simulated device key store", path);
    }
    while (hit == 0 && getline(&line, &cap, f) > 0) {
        hit = line_key(line, udid, scalar);
    }
    if (line != NULL) mp_wipe(line, cap);
    free(line);
    fclose(f);
    if (hit <= 0) {
        return hit < 0 ? mp_err(MP_ERR_INVALID, "%s: the key of %s is malformed", path, udid)
                       : mp_err(MP_ERR_UNAUTHORIZED, "%s: no simulated chip with UDID %s", path, udid);
    }
    rc = mp_sim_key_from_scalar(scalar, out);
    mp_wipe(scalar, sizeof(scalar));
    return rc;
}
