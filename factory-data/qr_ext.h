/*
 * qr_ext.h - the optional TLV extension of the QR payload (Matter spec
 * 5.1.5): one anonymous structure with context tags; tags below 0x80 are
 * common (0 serial number, 1 PBKDF iterations, 2 PBKDF salt, 3 number of
 * devices, 4 commissioning timeout), 0x80..0xFF vendor tags (string or
 * unsigned integer). Built with core/tlv.
 */
#ifndef MP_QR_EXT_H
#define MP_QR_EXT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

#define MP_QR_EXT_MAX_VENDOR 8

typedef struct mp_qr_ext {
    const char *serial;           /* NULL = absent */
    uint32_t iterations;          /* 0 = absent, else 1000..100000 */
    const uint8_t *salt;          /* 16..32 bytes */
    size_t salt_len;
    uint16_t devices;             /* 0 = absent, else 1..255 */
    uint32_t timeout;             /* 0 = absent, else 1..65535 seconds */
    struct {
        uint8_t tag;              /* 0x80..0xFF */
        const char *str;          /* a string, or NULL for num */
        uint32_t num;
    } vendor[MP_QR_EXT_MAX_VENDOR];
    size_t n_vendor;
} mp_qr_ext;

/* Encode; MP_ERR_INVALID naming the field when a value is out of range. */
int mp_qr_ext_encode(const mp_qr_ext *e, uint8_t *out, size_t cap, size_t *len) MP_MUST_CHECK;
/* Decode strictly into a JSON object (serial_number, pbkdf_iterations,
 * pbkdf_salt (base64), number_of_devices, commissioning_timeout,
 * vendor_tags {"0x80": ...}); unknown common tags are kept by number. */
int mp_qr_ext_decode(const uint8_t *tlv, size_t len, json_t **out) MP_MUST_CHECK;

#endif
