/*
 * creds.h - commissioning credentials: passcodes (CSPRNG, rejection
 * sampling), discriminators, salts, rotating device ID unique IDs, serial
 * number templates, and the --assign CSV of pre-assigned values.
 * Everything here is thread-safe (RAND_bytes, thread-local errors).
 */
#ifndef MP_CREDS_H
#define MP_CREDS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MP_PASSCODE_MAX 99999998u
#define MP_DISC_MAX 4095u
#define MP_RDUID_MIN 16
#define MP_RDUID_MAX 32
#define MP_SERIAL_MAX 32
#define MP_UDID_MAX 64

/* 1 if passcode is in 1..99,999,998 and not on the spec's invalid list. */
int mp_passcode_valid(uint32_t passcode);
/* Same as an error naming `what`: MP_OK or MP_ERR_INVALID. */
int mp_passcode_check(const char *what, uint64_t passcode) MP_MUST_CHECK;
/* Draw 27 bits from the CSPRNG until the value is a valid passcode. */
int mp_passcode_random(uint32_t *out) MP_MUST_CHECK;
/* Uniform 0..4095. */
int mp_discriminator_random(uint16_t *out) MP_MUST_CHECK;
/* n bytes from the CSPRNG (salts: 32, rd_uid: 16..32). */
int mp_random_bytes(uint8_t *buf, size_t n) MP_MUST_CHECK;

/* Serial number from a template: literal characters (printable ASCII, no
 * '{' or '}') and the fields {seq}, {seq:W} (decimal, zero-padded to W
 * digits), {udid}, {hex:N} (N random uppercase hex digits, 1..32). The result
 * must be 1..32 characters. */
int mp_serial_format(const char *tmpl, uint64_t seq, const char *udid, char out[static MP_SERIAL_MAX + 1]) MP_MUST_CHECK;
/* Serial numbers: 1..32 characters of A-Z a-z 0-9 and these, the first a
 * letter or digit. Nothing a CSV file or a spreadsheet reads as a separator,
 * a quote or a formula (, " = + @ ; and a leading -), no spaces. */
#define MP_SERIAL_PUNCT "-._:/#"
/* Check a serial number against that alphabet. */
int mp_serial_check(const char *what, const char *serial) MP_MUST_CHECK;

/* One row of --assign: values pre-assigned to a device by UDID. */
typedef struct mp_assign_row {
    char udid[MP_UDID_MAX + 1];
    int has_passcode, has_discriminator, has_serial, has_rd_uid;
    uint32_t passcode;
    uint16_t discriminator;
    char serial[MP_SERIAL_MAX + 1];
    uint8_t rd_uid[MP_RDUID_MAX];
    size_t rd_uid_len;
    unsigned line; /* line in the CSV file, for messages */
} mp_assign_row;

typedef struct mp_assign {
    mp_assign_row *rows; /* sorted by udid */
    size_t n;
} mp_assign;

/* Parse an --assign CSV: a header line "udid,<col>,..." whose other columns
 * are any of passcode, discriminator, serial, rd_uid (hex), each at most
 * once; then one row per device. Empty cells mean "not assigned". Every
 * value is validated; a bad value names file, line and column. Duplicate
 * UDIDs, serials or rd_uids -> MP_ERR_DUPLICATE. */
int mp_assign_parse(const char *where, const char *text, size_t len, mp_assign *out) MP_MUST_CHECK;
int mp_assign_load(const char *path, mp_assign *out) MP_MUST_CHECK;
/* The row of udid, or NULL. Read-only: safe from many threads. */
const mp_assign_row *mp_assign_find(const mp_assign *a, const char *udid);
/* Wipes the passcodes. */
void mp_assign_free(mp_assign *a);

#endif
