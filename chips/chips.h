/*
 * chips.h - chip lists: the chip maker's list of authorized chips (UDID and
 * the public key born in each chip's secure element), their parsing, point
 * validation and list signatures, the import into the ledger, and the chip
 * maker simulator used by demos and tests.
 *
 * Parsers stream: they call back once per entry as they go, so a list of a
 * million entries needs no memory beyond its file bytes. Every error message
 * names the file and the line (CSV), entry (JSON) or certificate.
 */
#ifndef MP_CHIPS_H
#define MP_CHIPS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"
#include "ledger.h"

/* ---- points and UDIDs (chips_point.c) ----------------------------------- */

/* A reusable P-256 point decoder (EC_GROUP + scratch), not thread-safe. */
typedef struct mp_chip_dec mp_chip_dec;
int mp_chip_dec_new(mp_chip_dec **out) MP_MUST_CHECK;
void mp_chip_dec_free(mp_chip_dec *d);

/* Decode a public key written as hex or base64 of a 65-byte uncompressed
 * (04||X||Y) or 33-byte compressed (02|03||X) P-256 point; checks it lies
 * on the curve and is not the point at infinity; writes the 65-byte
 * uncompressed form. MP_ERR_INVALID with a message saying what is wrong
 * (the caller prefixes the location). */
int mp_chip_point_decode(mp_chip_dec *d, const char *text, size_t len,
                         uint8_t point[static 65]) MP_MUST_CHECK;
/* The same check on raw bytes (65 or 33). */
int mp_chip_point_bytes(mp_chip_dec *d, const uint8_t *in, size_t len,
                        uint8_t point[static 65]) MP_MUST_CHECK;

/* The UDID rule of core/udid.h (mp_udid_check). */
int mp_chip_udid_check(const char *udid, size_t len) MP_MUST_CHECK;
/* The default UDID: uppercase hex SHA-256 of the uncompressed point. */
void mp_chip_udid_of(const uint8_t point[static 65], char udid[static 65]);



/* ---- parsing (chips_parse.c, chips_birth.c) ------------------------------ */

enum mp_chips_format { MP_CHIPS_CSV = 0, MP_CHIPS_JSON = 1, MP_CHIPS_BIRTH = 2, MP_CHIPS_MANIFEST = 3 };
enum mp_udid_from { MP_UDID_FROM_CN = 0, MP_UDID_FROM_SERIAL = 1, MP_UDID_FROM_FILENAME = 2, MP_UDID_FROM_CSV = 3 };

typedef struct mp_chip_entry {
    char udid[MP_UDID_MAX + 1];
    uint8_t point[65];
    size_t index;    /* 1-based entry number */
    char where[300]; /* "file:LINE" / "file: entry N (line L)" / "file: certificate N" */
} mp_chip_entry;

/* Called once per valid entry; a non-zero return stops the parse with that
 * code (the callback records the message; the parser prefixes e->where). */
typedef int (*mp_chip_cb)(void *ctx, const mp_chip_entry *e);

typedef struct mp_chips_src {
    const char *name;      /* file name for messages */
    int check_udid_hash;   /* given UDIDs must equal the SHA-256 rule */
    /* birth certificates only */
    X509 *root;            /* trust anchor (the chip maker's root) */
    int udid_from;         /* mp_udid_from */
    time_t verify_time;    /* 0 = now */
    /* Microchip manifests only (chips_manifest.c) */
    X509 *manifest_signer; /* --signer: every entry's JWS must be its (x5t#S256) */
    const char *slot;      /* --kid: the JWK "kid" (key slot) to take; NULL = "0" */
    /* birth certificates: UDIDs from file names or a CSV map (chips_vendor.c) */
    const char *udid_pattern; /* --udid-from filename[:PATTERN]; NULL = not used */
    const char *udid_csv;     /* --udid-from csv:FILE; NULL = not used */
} mp_chips_src;

/* Set e->udid from the given text (validated) or, when len is 0, by the
 * SHA-256 rule from e->point; enforces src->check_udid_hash (MP_ERR_MISMATCH). */
int mp_chip_entry_udid(const mp_chips_src *src, const char *udid, size_t len,
                       mp_chip_entry *e) MP_MUST_CHECK;

/* CSV: header `udid,public_key`; one entry a line; LF or CRLF; an empty
 * udid field means the SHA-256 rule; blank lines are ignored. */
int mp_chips_parse_csv(const mp_chips_src *src, const uint8_t *buf, size_t len,
                       mp_chip_cb cb, void *ctx, size_t *count) MP_MUST_CHECK;
/* JSON: an array of {"udid": "...", "public_key": "..."} ("udid" optional),
 * parsed one element at a time. */
int mp_chips_parse_json(const mp_chips_src *src, const uint8_t *buf, size_t len,
                        mp_chip_cb cb, void *ctx, size_t *count) MP_MUST_CHECK;
/* Birth certificates in a PEM bundle (or one DER certificate): each device
 * certificate (not a CA) is verified to src->root, with the bundle's CA
 * certificates as untrusted intermediates, before its key is accepted. */
int mp_chips_parse_birth(const mp_chips_src *src, const uint8_t *buf, size_t len,
                         mp_chip_cb cb, void *ctx, size_t *count) MP_MUST_CHECK;
/* The same in steps, for a folder of files: first every file's CA
 * certificates (pass 1), then every file's device certificates (pass 2). */
typedef struct mp_birth mp_birth;
int mp_birth_new(const mp_chips_src *src, mp_birth **out) MP_MUST_CHECK;
int mp_birth_add_cas(mp_birth *b, const char *name, const uint8_t *buf, size_t len) MP_MUST_CHECK;
int mp_birth_parse(mp_birth *b, const char *name, const uint8_t *buf, size_t len,
                   mp_chip_cb cb, void *ctx, size_t *count) MP_MUST_CHECK;
void mp_birth_free(mp_birth *b);

/* ---- vendor birth-certificate bundles (chips_vendor.c) --------------------- */

/* Offset of the DER after an OPTIGA Trust M data-object tag header (0xC0,
 * 2-byte length, 3-byte list length, 3-byte certificate length), or 0 when
 * the bytes do not start with one. */
size_t mp_birth_tag_skip(const uint8_t *buf, size_t len);
/* The UDID from a file name by a pattern holding <UDID> once, the rest a
 * glob (default "<UDID>_*": the name up to its first '_'). */
int mp_udid_from_filename(const char *pattern, const char *path,
                          char udid[static MP_UDID_MAX + 1]) MP_MUST_CHECK;
/* A udid,certificate-file map (header line optional; file names compared
 * without their folder). */
typedef struct mp_udid_map mp_udid_map;
int mp_udid_map_load(const char *path, mp_udid_map **out) MP_MUST_CHECK;
int mp_udid_map_get(mp_udid_map *m, const char *path, char udid[static MP_UDID_MAX + 1]) MP_MUST_CHECK;
/* MP_ERR_INVALID naming the first row whose file was never read. */
int mp_udid_map_all_used(const mp_udid_map *m) MP_MUST_CHECK;
void mp_udid_map_free(mp_udid_map *m);
/* UDIDs met so far and where: a second one is refused naming both places
 * (MP_ERR_DUPLICATE). */
typedef struct mp_udid_seen mp_udid_seen;
int mp_udid_seen_new(mp_udid_seen **out) MP_MUST_CHECK;
int mp_udid_seen_add(mp_udid_seen *t, const char *udid, const char *where) MP_MUST_CHECK;
void mp_udid_seen_free(mp_udid_seen *t);
/* After the last file: every row of a csv: map was used. */
int mp_birth_finish(mp_birth *b) MP_MUST_CHECK;

/* ---- Microchip Trust Platform manifests (chips_manifest.c) ----------------- */

/* A JSON array of flattened JWS entries {"payload", "protected", "header":
 * {"uniqueId"}, "signature"}, read from the file in a stream (memory does
 * not grow with the file). Every entry's ES256 signature (raw r||s over
 * protected "." payload) is verified with src->manifest_signer, which the
 * protected header must name by x5t#S256; the key of slot src->slot is
 * taken; UDID = the payload's uniqueId in uppercase hex (the unsigned
 * header's uniqueId must agree). With src->root, the slot's x5c device
 * certificate must verify to it (x5c[1..] as intermediates) and carry the
 * same key. Errors name the entry: "FILE: entry N (uniqueId U): ...". */
int mp_chips_parse_manifest(const mp_chips_src *src, const char *path,
                            mp_chip_cb cb, void *ctx, size_t *count) MP_MUST_CHECK;
/* SHA-256 (lowercase hex) of a file, read in a stream. */
int mp_chips_hash_file(const char *path, char sha256[static 65]) MP_MUST_CHECK;

/* ---- list signatures (chips_sig.c) ---------------------------------------- */

/* Verify sig (CMS detached, DER or PEM; or a raw ECDSA-P256/SHA-256 DER
 * signature) over exactly data[0..len) with the signer certificate.
 * MP_ERR_VERIFY when it does not verify or another key signed it. desc
 * receives "subject; sha256=HEX" of the signer. kind receives "cms" or
 * "ecdsa". */
int mp_chips_verify_sig(const uint8_t *data, size_t len, const uint8_t *sig, size_t sig_len,
                        X509 *signer, char desc[static 512], const char **kind) MP_MUST_CHECK;
/* "subject; sha256=HEX" of a certificate. */
void mp_chips_signer_desc(X509 *x, char desc[static 512]);

/* ---- import (chips_import.c) -------------------------------------------- */

typedef struct mp_chips_import {
    const char *path;       /* file, or a directory of birth certificates */
    int format;             /* mp_chips_format */
    const char *sig_path;   /* NULL = unsigned */
    const char *signer_path;
    int allow_unsigned;
    mp_chips_src src;
    /* results */
    int64_t list_id;
    size_t count;
    int is_signed;
    char signer[512];
    char sha256[65];
} mp_chips_import;

/* Verify, parse and add every entry in one ledger transaction (all or
 * nothing). */
int mp_chips_import_run(mp_ledger *l, mp_chips_import *im) MP_MUST_CHECK;

/* ---- simulator (chips_sim.c, chips_simkeys.c) ----------------------------- */

typedef struct mp_chips_sim {
    const char *out_dir;
    uint64_t count;
    int birth_certs;
    int force;
} mp_chips_sim;

/* Play the chip maker: DIR/chipmaker.key (0600) + chipmaker.pem,
 * device-keys.csv (0600: udid,scalar), chips.csv + chips.csv.sig (raw ECDSA),
 * chips.json + chips.json.p7s (CMS detached, DER), optionally
 * birth-certs.pem. Streams; memory does not grow with count. */
int mp_chips_simulate(const mp_chips_sim *s) MP_MUST_CHECK;

/* The simulated secure element of one chip: its key pair, looked up by UDID
 * in DIR/device-keys.csv (a linear scan). MP_ERR_UNAUTHORIZED when absent. */
int mp_sim_device_key(const char *dir, const char *udid, EVP_PKEY **out) MP_MUST_CHECK;
/* A P-256 EVP_PKEY from a 32-byte private scalar (public point derived). */
int mp_sim_key_from_scalar(const uint8_t scalar[static 32], EVP_PKEY **out) MP_MUST_CHECK;

#endif
