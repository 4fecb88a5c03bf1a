/* check.c - see check.h. */
#include "check.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "spake2p.h"
#include "x509.h"

static int load(const uint8_t *der, size_t len, const char *what, X509 **x)
{
    int rc = mp_cert_from_mem(der, len, x);
    return rc == MP_OK ? MP_OK : mp_err_ctx(MP_ERR_INVALID, "%s in the image", what);
}

int mp_fd_check_dac_key(const mp_fd_device *d)
{
    X509 *dac = NULL;
    uint8_t want[65], got[65];
    int rc;
    if (!d->has_dac_key) return MP_OK;
    if ((rc = load(d->dac_der, d->dac_len, "DAC certificate", &dac)) != MP_OK) return rc;
    if ((rc = mp_cert_point(dac, want)) == MP_OK && (rc = mp_p256_point(d->dac_key, got)) == MP_OK &&
        memcmp(want, got, 65) != 0) {
        rc = mp_err(MP_ERR_MISMATCH, "the DAC private key is not the key of the DAC certificate");
    }
    OPENSSL_cleanse(got, sizeof(got));
    X509_free(dac);
    return rc;
}

int mp_fd_check_dac_vidpid(const mp_fd_device *d)
{
    X509 *dac = NULL;
    mp_vidpid vp;
    int rc = load(d->dac_der, d->dac_len, "DAC certificate", &dac);
    if (rc == MP_OK && (rc = mp_dn_vidpid(X509_get_subject_name(dac), &vp)) == MP_OK) {
        if (!vp.has_vid || !vp.has_pid || vp.vid != d->vendor_id || vp.pid != d->product_id) {
            rc = mp_err(MP_ERR_MISMATCH, "the DAC subject's VID/PID (%04X/%04X) differ from the image's vendor/product ID (%04X/%04X)",
                        vp.vid, vp.pid, d->vendor_id, d->product_id);
        }
    }
    X509_free(dac);
    return rc;
}

int mp_fd_check_chain(const mp_fd_device *d, X509 *given)
{
    X509 *dac = NULL, *pai = NULL;
    uint8_t skid[20], akid[20];
    int rc = load(d->dac_der, d->dac_len, "DAC certificate", &dac);
    if (rc == MP_OK) rc = load(d->pai_der, d->pai_len, "PAI certificate", &pai);
    if (rc != MP_OK) goto end;
    if (given != NULL && X509_cmp(given, pai) != 0) {
        rc = mp_err(MP_ERR_MISMATCH, "the PAI certificate in the image is not the given PAI");
    } else if (X509_NAME_cmp(X509_get_issuer_name(dac), X509_get_subject_name(pai)) != 0) {
        rc = mp_err(MP_ERR_MISMATCH, "the DAC's issuer is not the PAI's subject");
    } else if (mp_cert_skid(pai, skid) != 0 || mp_cert_akid(dac, akid) != 0 || memcmp(skid, akid, 20) != 0) {
        rc = mp_err(MP_ERR_MISMATCH, "the DAC's authority key ID is not the PAI's subject key ID");
    } else {
        EVP_PKEY *k = X509_get0_pubkey(pai);
        if (k == NULL || X509_verify(dac, k) != 1) {
            rc = mp_err_ssl(MP_ERR_VERIFY, "the DAC's signature does not verify with the PAI's key");
        }
    }
end:
    X509_free(dac);
    X509_free(pai);
    return rc;
}

int mp_fd_check_verifier(const mp_fd_device *d, uint32_t passcode)
{
    return mp_spake2p_check_verifier(passcode, d->salt, d->salt_len, d->iterations, d->verifier);
}

int mp_fd_check_cd_covers(const mp_fd_device *d, const mp_cd *cd)
{
    if (cd->vendor_id != d->vendor_id) {
        return mp_err(MP_ERR_MISMATCH, "the CD's vendor_id 0x%04X is not the device's 0x%04X", cd->vendor_id, d->vendor_id);
    }
    for (size_t i = 0; i < cd->n_pids; i++) {
        if (cd->product_ids[i] == d->product_id) return MP_OK;
    }
    return mp_err(MP_ERR_MISMATCH, "the CD does not list the device's product ID 0x%04X", d->product_id);
}

int mp_fd_check_image_cd(const mp_fd_device *d)
{
    mp_cd_env env;
    mp_cd *cd = malloc(sizeof(*cd));
    int rc = cd ? mp_cd_env_parse(d->cd_der, d->cd_len, &env) : mp_err(MP_ERR_GENERAL, "out of memory");
    if (rc == MP_OK) rc = mp_cd_decode(env.content, env.content_len, cd);
    if (rc != MP_OK) mp_err_ctx(rc, "certification declaration in the image");
    else rc = mp_fd_check_cd_covers(d, cd);
    free(cd);
    return rc;
}
