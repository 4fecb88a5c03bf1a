/* ks_pin.c - the user PIN: from a file, or from the source the caller gives
 * (see keystore.h); wiped after use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "keystore.h"
#include "util.h"

/* ---- PIN ---------------------------------------------------------------- */

int mp_pin_from_file(const char *file, char **pin)
{
    uint8_t *b = NULL;
    size_t n = 0;
    *pin = NULL;
    if (mp_read_file(file, 4096, &b, &n) != MP_OK) {
        return mp_err_ctx(MP_ERR_AUTH, "PIN file");
    }
    size_t size = n;
    while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r')) {
        b[--n] = 0;
    }
    if (n == 0 || memchr(b, 0, n) != NULL) {
        mp_free_secret(b, size + 1);
        return mp_err(MP_ERR_AUTH, "%s: PIN file is empty or holds a NUL byte", file);
    }
    *pin = (char *)b;
    return MP_OK;
}

int mp_pin_get(const mp_hsm_cfg *cfg, const char *what, char **pin)
{
    *pin = NULL;
    if (cfg->pin_file != NULL) {
        return mp_pin_from_file(cfg->pin_file, pin);
    }
    if (cfg->pin_cb != NULL) {
        return cfg->pin_cb(cfg->pin_arg, what, pin);
    }
    return mp_err(MP_ERR_AUTH, "no %s source: give a PIN file", what);
}

void mp_pin_free(char *pin)
{
    if (pin != NULL) {
        mp_free_secret(pin, strlen(pin));
    }
}

int mp_pin_policy(unsigned long flags, int force, const char *token, int *low)
{
    *low = (flags & CKF_USER_PIN_COUNT_LOW) != 0;
    if (flags & CKF_USER_PIN_LOCKED) {
        return mp_err(MP_ERR_AUTH, "token '%s': the user PIN is locked; the security officer must unlock it", token);
    }
    if ((flags & CKF_USER_PIN_FINAL_TRY) && !force) {
        return mp_err(MP_ERR_AUTH, "token '%s': one PIN try is left and a wrong PIN would lock the token; not trying (check the PIN, then use --force-pin-try)", token);
    }
    return MP_OK;
}
