/*
 * onboarding.h - the onboarding payload: QR code text (MT: + Base38) and the
 * manual pairing code (11 or 21 digits, Verhoeff check digit), encode and
 * decode, per ../shared/docs/factory-data.md section 1 (SDK rules).
 *
 * The optional QR TLV extension is not built (no TLV codec in core/ yet);
 * a decoded payload's extension bytes are kept raw in tlv/tlv_len.
 */
#ifndef MP_ONBOARDING_H
#define MP_ONBOARDING_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MP_QR_MAX 256     /* text of one QR payload incl. MT: and NUL */
#define MP_MANUAL_MAX 22  /* 21 digits + NUL */
#define MP_CAPS_KNOWN 0x3F /* SoftAP, BLE, OnNetwork, Wi-Fi PAF, NFC, Thread */
#define MP_CAP_THREAD 0x20

typedef struct mp_payload {
    uint8_t version;       /* 0 */
    uint16_t vendor_id;
    uint16_t product_id;
    uint8_t flow;          /* 0 standard, 1 user-intent, 2 custom */
    uint8_t caps;          /* discovery capabilities (QR only) */
    uint16_t discriminator;/* 12 bits, or the 4-bit short form when short_disc */
    int short_disc;        /* decoded from a manual code: discriminator >> 8 only */
    int has_vid_pid;       /* manual code: VID/PID present (21 digits) */
    uint32_t passcode;
    uint8_t tlv[96];       /* QR: raw TLV extension bytes (see qr_ext.h) */
    size_t tlv_len;
} mp_payload;

/* Base38 of n bytes into out (NUL-terminated); returns the length, or -1 if
 * cap is too small. Decode returns the byte count, or -1 with an error
 * recorded. */
long mp_base38_encode(const uint8_t *in, size_t n, char *out, size_t cap);
long mp_base38_decode(const char *in, size_t n, uint8_t *out, size_t cap);

/* Producer checks (flow 0..2, known caps bits, caps != 0 for QR, disc <= 4095,
 * valid passcode, VID 0 or 1..0xFFF4, PID 0 only with VID 0). */
int mp_payload_check(const mp_payload *p, int for_qr) MP_MUST_CHECK;
/* "MT:..." with the TLV extension when tlv_len > 0. */
int mp_qr_encode(const mp_payload *p, char out[static MP_QR_MAX]) MP_MUST_CHECK;
/* Parse "MT:<one payload>" (stops at '*' or '%'); checks version, padding,
 * flow != 3 and the passcode; tolerates unknown caps bits. *next points
 * after a '*' when more payloads follow, else NULL. */
int mp_qr_decode(const char *text, mp_payload *p, const char **next) MP_MUST_CHECK;
/* The same for a payload after a '*' (no prefix). */
int mp_qr_decode_body(const char *text, mp_payload *p, const char **next) MP_MUST_CHECK;
/* 11 digits (standard flow) or 21 (other flows), with check digit. */
int mp_manual_encode(const mp_payload *p, char out[static MP_MANUAL_MAX]) MP_MUST_CHECK;
/* The packing alone: only the bit widths are checked (test vectors use
 * out-of-range passcodes). */
int mp_manual_pack(const mp_payload *p, char out[static MP_MANUAL_MAX]) MP_MUST_CHECK;
/* Parse a manual code; every non-digit is ignored. */
int mp_manual_decode(const char *text, mp_payload *p) MP_MUST_CHECK;

/* Verhoeff check digit of a digit string, and validation of a string whose
 * last digit is the check digit (1 = valid). */
char mp_verhoeff_digit(const char *digits, size_t n);
int mp_verhoeff_valid(const char *digits, size_t n);

#endif
