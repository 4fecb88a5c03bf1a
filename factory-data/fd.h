/*
 * fd.h - per-device factory data and its platform images.
 *
 * One mp_fd_device holds every field a device's factory partition can carry;
 * mp_fd_pack() renders it in one platform layout and mp_fd_unpack() reads it
 * back. Both are pure functions of their arguments (no globals, errors are
 * thread-local), so a batch can call them from worker threads.
 *
 * Formats (../shared/docs/factory-data.md sections 3..6):
 *   nrf        nRF Connect CBOR map (text keys, byte-string values)
 *   nrf-json   the JSON the SDK's nRF generator validates ("hex:" bytes)
 *   esp32      ESP-IDF NVS v2 partition image, namespace chip-factory
 *   esp32-csv  the CSV that esp-idf-nvs-partition-gen takes for that image
 *   nxp        NXP KLV image with header and SHA-256 prefix
 *   json       matter-pki's platform-neutral JSON (README "factory data JSON")
 *   linux      chip_factory.ini of the SDK's Linux platform (fd_linux.c)
 *   nrf-hex, nxp-hex  the nrf / nxp image as Intel HEX at the partition address
 *   nxp-aes128 the nxp image with its payload AES-128-ECB encrypted (fd_nxp.c)
 *   esp32-secure-cert  the esp_secure_cert TLV partition: DAC, PAI, key (fd_esp32_sc.c),
 *              optionally the commissionable data and an HMAC-encrypted key
 *   silabs     the inputs of Silicon Labs' provisioning tool, one ustar archive
 *              per device (fd_silabs.c)
 *   esp32-enc  the esp32 NVS image XTS-AES encrypted as nvs_partition_gen's
 *              `encrypt` does, with its keys partition (fd_esp32_enc.c)
 *
 * Everything a format is (name, file extension, whether it stores the DAC
 * key, packer, reader, content test, size limit, side output) is one row of
 * the table in fd_formats.c; the rest of matter-pki iterates over that table,
 * so a new platform is one fd_<platform>.c and one row.
 */
#ifndef MP_FD_H
#define MP_FD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "product.h"

enum mp_fd_format {
    MP_FD_NRF = 1, MP_FD_NRF_JSON, MP_FD_ESP32, MP_FD_ESP32_CSV, MP_FD_NXP, MP_FD_JSON, MP_FD_LINUX, MP_FD_NRF_HEX, MP_FD_NXP_HEX, MP_FD_NXP_AES128, MP_FD_ESP32_SC, MP_FD_ESP32_ENC, MP_FD_SILABS,
};

#define MP_FD_MAX_CERT 600
#define MP_FD_MAX_CD 2048
#define MP_FD_ESP32_DEFAULT_SIZE 0x6000

/* One value of an extra NVS entry (fd_extras.c): the CSV cell as written
 * and what the NVS stores (integer, or bytes of a string or blob). */
typedef struct mp_fd_xval {
    char *text;
    uint8_t *p;
    size_t len;
    uint64_t u;                 /* integers, two's complement for the signed types */
} mp_fd_xval;

typedef struct mp_fd_device {
    uint16_t vendor_id;         /* 1..0xFFF4 */
    uint16_t product_id;        /* 1..0xFFFF */
    char vendor_name[33];       /* 1..32 */
    char product_name[33];      /* 1..32 */
    char product_label[65];     /* optional ("") */
    char product_url[257];      /* optional */
    char part_number[33];       /* optional */
    char serial[33];            /* 1..32 printable ASCII */
    char mfg_date[17];          /* YYYY-MM-DD, optional vendor suffix, <= 16 */
    uint16_t hw_ver;
    char hw_ver_str[65];        /* 1..64 */
    int product_finish;         /* -1 absent, else 0..5 */
    int product_color;          /* -1 absent, else 0..20 */
    uint16_t discriminator;     /* 0..4095 */
    uint32_t iterations;        /* 1000..100000 */
    uint8_t salt[32];
    size_t salt_len;            /* 16..32 */
    uint8_t verifier[97];       /* W0 || L */
    uint32_t passcode;          /* 0 = not in the image (the default, spec 5.1.7) */
    uint8_t rd_uid[32];
    size_t rd_uid_len;          /* 0 absent, else 16..32 */
    uint8_t dac_der[MP_FD_MAX_CERT];
    size_t dac_len;
    uint8_t pai_der[MP_FD_MAX_CERT];
    size_t pai_len;
    uint8_t cd_der[MP_FD_MAX_CD];
    size_t cd_len;              /* 0 absent */
    uint8_t dac_key[32];        /* raw big-endian scalar */
    int has_dac_key;            /* 0 when the key stays on the chip */
    uint8_t key_efuse_block;    /* esp32-secure-cert: the chip's key is in this eFuse key block
                                   (ECDSA peripheral; key id + 4, so 4..9); 0: not said */
    const mp_fd_xval *extra;    /* esp32, esp32-csv, esp32-enc: this device's row of
                                   mp_fd_opts.extras (borrowed; NULL: none) */
} mp_fd_device;

/* Extra NVS entries (esp-matter-mfg-tool's --csv/--mcsv, fd_extras.c): a
 * config CSV of key,type,encoding lines under namespace lines, and a values
 * CSV whose first column is `udid` and whose other columns are the keys,
 * one row per device. */
typedef struct mp_fd_xkey {
    char ns[16];
    char key[16];
    char enc[8];                /* u8 i8 u16 i16 u32 i32 u64 i64 string hex2bin base64 */
    uint8_t type;               /* NVS entry type: 0x01.. integers, 0x21 string, 0x48 blob */
    int col;                    /* its column in the values CSV */
} mp_fd_xkey;

typedef struct mp_fd_extras {
    mp_fd_xkey *keys;
    size_t nkeys;
    char **udid;                /* nrows */
    mp_fd_xval *vals;           /* nrows * nkeys, row-major */
    size_t nrows;
    size_t *sorted;             /* row numbers in UDID order (for the lookup) */
} mp_fd_extras;

/* Load and check both files (every key a column, every value valid for its
 * encoding, keys <= 15 characters, no key matter-pki writes itself, no UDID
 * twice); errors name file, line and column. MP_ERR_INVALID / MP_ERR_IO. */
int mp_fd_extras_load(const char *config, const char *values, mp_fd_extras *x) MP_MUST_CHECK;
/* The device's row (NULL when the values file has none). */
const mp_fd_xval *mp_fd_extras_row(const mp_fd_extras *x, const char *udid);
/* Wipes the values and frees everything. */
void mp_fd_extras_free(mp_fd_extras *x);
/* Every entry of an esp32 NVS image that is not one of the chip-factory
 * keys matter-pki maps (other namespaces too), as {"ns": {"key": value}}:
 * integers as numbers, strings as strings, blobs as lowercase hex. */
int mp_fd_esp32_other_entries(const uint8_t *buf, size_t len, json_t **out) MP_MUST_CHECK;

typedef struct mp_fd_opts {
    size_t partition_size;      /* esp32: multiple of 4096, >= 0x3000; 0 = 0x6000; flash
                                   images (nrf, nxp, their hex forms): their largest size */
    uint32_t offset;            /* hex forms: the partition's flash address */
    int has_offset;
    uint8_t aes128[16];         /* nxp-aes128: the key (wipe the opts after use) */
    int has_aes128;
    int esp_secure_cert;        /* esp32, esp32-csv: DAC, PAI and key are in the esp_secure_cert
                                   partition, not in the NVS */
    const struct mp_fd_device *esp_sc_dev; /* esp32, esp32-csv reader: that partition, read */
    int esp_sc_cd;              /* esp32-secure-cert: also the discriminator, SPAKE2+ verifier, salt,
                                   iterations and rotating-ID unique ID (type 201, as esp-matter's
                                   ESP32SecureCertDataProvider reads them); esp32, esp32-csv: omit those */
    uint8_t esp_hmac_key[32];   /* esp32-secure-cert: the eFuse HMAC key (purpose HMAC_UP) the DAC
                                   key is encrypted under (wipe the opts after use) */
    int has_esp_hmac_key;
    uint8_t nvs_keys[64];       /* esp32-enc: the XTS key (encryption key || tweak key) of the
                                   NVS keys partition (wipe the opts after use) */
    int has_nvs_keys;
    int has_esp_ecdsa;          /* esp32-secure-cert: the chip's own key is in eFuse key block
                                   esp_ecdsa_key_id (0..5) for the ECDSA peripheral; chip-held keys only */
    int esp_ecdsa_key_id;
    const mp_fd_extras *extras; /* esp32, esp32-csv, esp32-enc: the extra entries' keys (the
                                   values are the device's .extra row) */
} mp_fd_opts;

/* Flags of a format descriptor. */
enum {
    MP_FDF_KEY = 1,       /* stores the DAC private key (so requires it) */
    MP_FDF_CD = 2,        /* requires the certification declaration */
    MP_FDF_ISO_DATE = 4,  /* manufacturing date exactly YYYY-MM-DD */
    MP_FDF_BUILD = 8,     /* a --format of `factory-data build` (the others are side outputs) */
    MP_FDF_SUFFIX = 16,   /* a file with this format's suffix is read by it when the content
                             gives only a fallback guess (a broken UDID.nrf.json, UDID.nxp.hex) */
    MP_FDF_FLASH = 32,    /* a flash partition image: --partition-size bounds it */
    MP_FDF_HEX = 64,      /* an Intel HEX form: needs the partition's offset and size */
    MP_FDF_AES = 128,     /* encrypted: pack and unpack need the AES-128 key */
    MP_FDF_ATTEST = 256,  /* holds only the attestation material (DAC, PAI, key) */
    MP_FDF_XTS = 512      /* encrypted: pack and unpack need the NVS keys partition's XTS key */
};

/* One factory-data format. */
typedef struct mp_fd_format_desc {
    int id;                 /* MP_FD_* */
    const char *name;       /* --format value */
    const char *ext;        /* file name suffix: UDID.<ext> */
    unsigned flags;         /* MP_FDF_* */
    size_t max_size;        /* largest image the platform reads (0: bounded by the fields) */
    int side;               /* the format `build` writes along with this one (0: none) */
    int hex;                /* its Intel HEX form, written by `build --hex` (0: none) */
    int enc;                /* its encrypted form, which `build` writes instead when the key is given */
    int (*pack)(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len);
    int (*unpack)(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d);
    /* 2: the content is surely this format, 1: a fallback guess, 0: not it. */
    int (*detect)(const uint8_t *buf, size_t len);
    /* Format-only rules beyond the flags (NULL: none); error names the format. */
    int (*check)(const mp_fd_device *d);
} mp_fd_format_desc;

/* The AES-128 key of nxp-aes128 from a file: 16 raw bytes or 32 hex digits
 * (one line end allowed); the file's bytes are wiped. */
int mp_fd_aes128_load(const char *path, mp_fd_opts *o) MP_MUST_CHECK;

/* The eFuse HMAC key of esp32-secure-cert from a file: 32 raw bytes or 64
 * hex digits (one line end allowed); the file's bytes are wiped. */
int mp_fd_esp_hmac_load(const char *path, mp_fd_opts *o) MP_MUST_CHECK;

/* --esp-ds (issue 20): always refused, without reading its file: the ESP32
 * digital-signature peripheral signs with RSA keys only, so its encrypted key
 * block cannot hold a Matter DAC key (ECDSA P-256). The message names the two
 * forms that protect one: --esp32-ecdsa-efuse-key-id, --esp32-hmac-key.
 * Returns MP_ERR_USAGE; cmd is the command shown ("factory-data build"). */
int mp_fd_esp_ds_refuse(const char *cmd);

/* ESP-IDF NVS keys partition (fd_esp32_enc.c): 4096 bytes, the 64-byte XTS
 * key, its CRC32 (NVS variant, little-endian), 0xFF. Load checks the CRC;
 * new draws a key (CSPRNG, halves distinct) and renders the partition. */
#define MP_NVS_KEYS_SIZE 4096
int mp_fd_nvs_keys_load(const char *path, mp_fd_opts *o) MP_MUST_CHECK;
int mp_fd_nvs_keys_new(mp_fd_opts *o, uint8_t part[static MP_NVS_KEYS_SIZE]) MP_MUST_CHECK;
int mp_fd_nvs_keys_parse(const uint8_t *buf, size_t len, const char *where, mp_fd_opts *o) MP_MUST_CHECK;

/* Intel HEX (fd_hex.c): the image at addr, 16-byte data records, extended
 * linear address records; decode checks checksums and wants one contiguous
 * run (*addr its start). */
int mp_ihex_encode(const uint8_t *img, size_t n, uint32_t addr, uint8_t **out, size_t *len) MP_MUST_CHECK;
int mp_ihex_decode(const uint8_t *buf, size_t len, uint32_t *addr, uint8_t **out, size_t *outlen) MP_MUST_CHECK;

/* The table (in detection order); NULL-terminated by a row with id 0. */
extern const mp_fd_format_desc mp_fd_formats[];
/* The descriptor of a format, NULL if unknown. */
const mp_fd_format_desc *mp_fd_format(int format);
/* "a|b|c": every format name (build_only: those with MP_FDF_BUILD), for
 * option tables and help. */
const char *mp_fd_format_choices(int build_only);

/* All fields empty, finish/colour absent. */
void mp_fd_device_init(mp_fd_device *d);
/* Wipe (DAC key, passcode, verifier inputs) - call before freeing. */
void mp_fd_device_wipe(mp_fd_device *d);
/* Product fields (names, IDs, hardware version, finish, colour). */
void mp_fd_from_product(const mp_product *p, mp_fd_device *d);

/* "nrf", "esp32", ... -> format, 0 if unknown; name and file extension. */
int mp_fd_format_parse(const char *name);
const char *mp_fd_format_name(int format);
const char *mp_fd_format_ext(int format);
/* Guess the format of an image from its content: MP_FD_NXP/ESP32/NRF,
 * MP_FD_ESP32_CSV (the generator's header line), MP_FD_NRF_JSON (a JSON
 * object without "format" that has an nRF-only key) or MP_FD_JSON, or 0. */
int mp_fd_detect(const uint8_t *buf, size_t len);
/* The format of a file: its content (mp_fd_detect); the name's suffix
 * (mp_fd_format_ext) when the content is not recognised, or is JSON that
 * tells neither JSON format (so a broken UDID.nrf.json is reported by the
 * nrf-json reader). 0 if neither says. */
int mp_fd_detect_file(const char *name, const uint8_t *buf, size_t len);
/* 1 if the format stores the DAC private key (and so requires it). */
int mp_fd_needs_dac_key(int format);
/* The same under these options: with o->has_esp_ecdsa the ESP32 formats
 * (the esp_secure_cert partition and the NVS beside it) take a chip-held key. */
int mp_fd_needs_dac_key_with(int format, const mp_fd_opts *o);

/* Every field checked against its limit, and the format's required fields.
 * The error names the field. */
int mp_fd_validate(int format, const mp_fd_device *d) MP_MUST_CHECK;
/* Render the image (malloc'd; wipe with mp_free_secret: it may hold the key). */
int mp_fd_pack(int format, const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out,
               size_t *len) MP_MUST_CHECK;
/* Parse an image of any format (the text side-outputs nrf-json and
 * esp32-csv too); checks CRCs/hashes and validates every field. d is
 * initialised first. */
int mp_fd_unpack(int format, const uint8_t *buf, size_t len, mp_fd_device *d) MP_MUST_CHECK;
/* The same with options (the AES key of an encrypted format). */
int mp_fd_unpack_with(int format, const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d) MP_MUST_CHECK;

/* The platform-neutral JSON object. with_key=0 writes "dac_key": true/false
 * instead of the scalar (for inspect output). */
json_t *mp_fd_to_json(const mp_fd_device *d, int with_key);
int mp_fd_from_json(const char *where, json_t *j, mp_fd_device *d) MP_MUST_CHECK;

#endif
