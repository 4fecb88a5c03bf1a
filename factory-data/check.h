/*
 * check.h - consistency checks of one device's factory data (used by
 * `factory-data inspect`, and by a batch as a self-check before writing).
 */
#ifndef MP_FD_CHECK_H
#define MP_FD_CHECK_H

#include <openssl/x509.h>

#include "cd.h"
#include "fd.h"

/* The DAC certificate's public key is the point of the DAC private key.
 * MP_OK, MP_ERR_MISMATCH, or MP_ERR_INVALID (unparsable DAC). */
int mp_fd_check_dac_key(const mp_fd_device *d) MP_MUST_CHECK;
/* The DAC's subject VID/PID equal the device's vendor and product IDs. */
int mp_fd_check_dac_vidpid(const mp_fd_device *d) MP_MUST_CHECK;
/* The DAC is signed by the PAI in the image, its issuer is the PAI's subject
 * and its AKID the PAI's SKID; when pai is given, the image's PAI is that
 * certificate. MP_ERR_VERIFY / MP_ERR_MISMATCH on failure. */
int mp_fd_check_chain(const mp_fd_device *d, X509 *pai) MP_MUST_CHECK;
/* The verifier is that of passcode with the device's salt and iterations. */
int mp_fd_check_verifier(const mp_fd_device *d, uint32_t passcode) MP_MUST_CHECK;

/* The CD lists the device's VID and PID (MP_ERR_MISMATCH otherwise). */
int mp_fd_check_cd_covers(const mp_fd_device *d, const mp_cd *cd) MP_MUST_CHECK;
/* Decode the CD carried in the image (envelope + TLV, no signature check)
 * and check that it covers the device. */
int mp_fd_check_image_cd(const mp_fd_device *d) MP_MUST_CHECK;

#endif
