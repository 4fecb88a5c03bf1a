/*
 * fd_int.h - internals shared by the factory-data formats: a field view of
 * mp_fd_device (so every format goes through one validation layer), per
 * format key maps, and a growable byte buffer.
 */
#ifndef MP_FD_INT_H
#define MP_FD_INT_H

#include "fd.h"

enum fd_field {
    F_SN, F_VID, F_PID, F_VNAME, F_PNAME, F_PLABEL, F_PURL, F_PARTNO, F_DATE, F_HWVER,
    F_HWVERSTR, F_RDUID, F_DAC, F_DACKEY, F_PAI, F_CD, F_PASSCODE, F_ITER, F_SALT,
    F_VERIFIER, F_DISC, F_FINISH, F_COLOR, F_COUNT
};

enum fd_kind { K_UINT, K_STR, K_BYTES };

/* How a format stores a field's value. */
enum fd_enc {
    E_INT,    /* integer (width from the map: 1, 2, 4 bytes, 0 = format default) */
    E_TEXT,   /* string bytes */
    E_RAW,    /* raw bytes */
    E_B64,    /* bytes as base64 text */
    E_HEX,    /* bytes as lowercase hex text */
};

typedef struct fd_value {
    int kind;
    uint64_t u;
    const uint8_t *p;
    size_t len;
} fd_value;

typedef struct fd_map {
    int field;
    const char *key;  /* text key (nrf, esp32, json) */
    int num;          /* numeric key (nxp) */
    int enc;
    int width;
} fd_map;

/* Field metadata: name for messages, kind, limits. */
const char *fd_field_name(int field);
int fd_field_kind(int field);
/* 1 and *v when the field is present in d. */
int fd_get(const mp_fd_device *d, int field, fd_value *v);
/* Check kind and limits only. */
int fd_check(int field, const fd_value *v, const char *where, const char *key) MP_MUST_CHECK;
/* Set a field after checking its kind and limits; where/key name it. */
int fd_assign(mp_fd_device *d, int field, const fd_value *v, const char *where, const char *key) MP_MUST_CHECK;
/* Value as stored by enc (text forms into scratch, cap >= 2*MP_FD_MAX_CD+1). */
int fd_encode(const fd_map *m, const fd_value *in, uint8_t *scratch, size_t cap, fd_value *out) MP_MUST_CHECK;
/* Stored bytes/uint back to a field value (scratch as above), then fd_set. */
int fd_decode_set(mp_fd_device *d, const fd_map *m, const uint8_t *p, size_t n, uint64_t u,
                  const char *where) MP_MUST_CHECK;
const fd_map *fd_map_key(const fd_map *maps, size_t n, const char *key, size_t keylen);

typedef struct fd_buf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} fd_buf;
void fd_put(fd_buf *b, const void *data, size_t n);
void fd_put_u8(fd_buf *b, uint8_t v);
/* Hand the bytes over (NULL on out-of-memory, buffer wiped). */
int fd_take(fd_buf *b, uint8_t **out, size_t *len) MP_MUST_CHECK;
void fd_buf_wipe(fd_buf *b);

#define FD_SCRATCH (2 * MP_FD_MAX_CD + 8)

/* Per-format entry points (the table in fd_formats.c names them). */
int fd_nrf_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len) MP_MUST_CHECK;
int fd_nrf_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d) MP_MUST_CHECK;
int fd_nrf_detect(const uint8_t *buf, size_t len);
int fd_nrf_json_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len) MP_MUST_CHECK;
int fd_nrf_json_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d) MP_MUST_CHECK;
int fd_nrf_json_detect(const uint8_t *buf, size_t len);
int fd_esp32_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len) MP_MUST_CHECK;
int fd_esp32_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d) MP_MUST_CHECK;
int fd_esp32_detect(const uint8_t *buf, size_t len);
int fd_esp32_csv_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len) MP_MUST_CHECK;
int fd_esp32_csv_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d) MP_MUST_CHECK;
int fd_esp32_csv_detect(const uint8_t *buf, size_t len);
int fd_nxp_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len) MP_MUST_CHECK;
int fd_nxp_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d) MP_MUST_CHECK;
int fd_nxp_detect(const uint8_t *buf, size_t len);
int fd_nxp_check(const mp_fd_device *d) MP_MUST_CHECK;
int fd_nxp_aes_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len) MP_MUST_CHECK;
int fd_nxp_aes_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d) MP_MUST_CHECK;
int fd_nxp_aes_detect(const uint8_t *buf, size_t len);
int fd_esp32_sc_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len) MP_MUST_CHECK;
int fd_esp32_sc_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d) MP_MUST_CHECK;
int fd_esp32_sc_detect(const uint8_t *buf, size_t len);
/* esp32/esp32-csv reader: with o->esp_sc_dev, take DAC, PAI and key from it
 * (the NVS must not hold them). */
int fd_esp_merge_sc(mp_fd_device *d, const mp_fd_opts *o, const char *where) MP_MUST_CHECK;
/* 1 for the fields esp32-secure-cert holds with --esp32-sc-commissionable
 * (discriminator, SPAKE2+ verifier, salt, iterations, rotating-ID UID). */
int fd_esp_sc_cd_field(int field);
int fd_esp32_enc_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len) MP_MUST_CHECK;
int fd_esp32_enc_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d) MP_MUST_CHECK;
int fd_esp32_enc_detect(const uint8_t *buf, size_t len);
/* The NVS image's used entries (bitmap "written") XTS-AES-256 en/decrypted
 * in place, each 32-byte entry under the tweak of its offset (fd_esp32_enc.c). */
int fd_nvs_xts(uint8_t *img, size_t len, const uint8_t key[64], int enc) MP_MUST_CHECK;
/* 1 if page 0's first entry has a valid header CRC (an NVS in clear). */
int fd_esp_entry0_plain(const uint8_t *b, size_t n);
int fd_silabs_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len) MP_MUST_CHECK;
int fd_silabs_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d) MP_MUST_CHECK;
int fd_silabs_detect(const uint8_t *buf, size_t len);
int fd_silabs_check(const mp_fd_device *d) MP_MUST_CHECK;
int fd_json_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len) MP_MUST_CHECK;
int fd_json_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d) MP_MUST_CHECK;
int fd_json_detect(const uint8_t *buf, size_t len);
int fd_linux_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len) MP_MUST_CHECK;
int fd_linux_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d) MP_MUST_CHECK;
int fd_linux_detect(const uint8_t *buf, size_t len);
int fd_linux_check(const mp_fd_device *d) MP_MUST_CHECK;
int fd_nrf_hex_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len) MP_MUST_CHECK;
int fd_nrf_hex_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d) MP_MUST_CHECK;
int fd_nrf_hex_detect(const uint8_t *buf, size_t len);
int fd_nxp_hex_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len) MP_MUST_CHECK;
int fd_nxp_hex_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d) MP_MUST_CHECK;
int fd_nxp_hex_detect(const uint8_t *buf, size_t len);

/* Text starting with '{' (after white space): MP_FD_JSON when it is an
 * object with matter-pki's "format", MP_FD_NRF_JSON when it has none but a
 * key only the nRF layout uses, 0 when it says neither; -1 when it does not
 * start with '{'. */
int fd_json_kind(const uint8_t *buf, size_t len);

/* The chip-factory keys (fd_esp32.c). */
extern const fd_map fd_esp_map[];
extern const size_t fd_esp_nmap;

/* dac-key and dac-pub-key are present together and pub is the point of the
 * key (where: "esp32", "esp32-csv"). MP_ERR_INVALID / MP_ERR_MISMATCH. */
int fd_esp_check_pub(const mp_fd_device *d, const uint8_t pub[65], int has_pub, const char *where) MP_MUST_CHECK;

/* A place in a CSV file, for messages. */
typedef struct mp_fd_csv_pos {
    const char *file;
    unsigned long line;
} mp_fd_csv_pos;

/* NVS CRC32 (zlib crc32(0xFFFFFFFF, ...)). */
uint32_t mp_nvs_crc32(const uint8_t *p, size_t n);

#endif
