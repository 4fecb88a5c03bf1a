/*
 * inspect_int.h - what inspect.c (one image, the command) and inspect_lot.c
 * (--lot DIR: a whole build) share.
 */
#ifndef MP_FD_INSPECT_INT_H
#define MP_FD_INSPECT_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "cd.h"
#include "fd.h"

/* --cd, read and decoded once (--lot checks it against every image). */
typedef struct inspect_cd {
    uint8_t *der;
    size_t len;
    mp_cd cd;
    int loaded;
} inspect_cd;

typedef struct inspect_in {
    const char *file;
    int format;
    X509 *pai;
    const char *cd_file;
    inspect_cd *cdc;   /* --cd read once, shared by the copies --lot makes (NULL: read each time) */
    const char *manifest;
    uint32_t passcode; /* 0 = unknown */
    mp_fd_opts opts;   /* the AES key of an encrypted image */
    const char *esp_sc; /* the esp_secure_cert partition that goes with an esp32 NVS */
    char sha256[65];   /* of the file, set by inspect */
    const char *expect_sha256; /* --lot: the SHA-256 its manifest line lists */
    const char *udid;          /* --lot: the device of that line */
    long line;                 /* --lot: that line's number */
    int reported;              /* the report was printed (set by inspect) */
    const uint8_t *data;       /* --lot of a bundle build: the image (file is its label) */
    size_t data_len;
    const uint8_t *sc_data;    /* and its esp_secure_cert partition (esp_sc its label) */
    size_t sc_len;
} inspect_in;

/* How a report is printed: one image in full (text or indented JSON), or
 * --lot: a line per failed image (text) or one JSON line per image. */
enum { P_TEXT, P_JSON, P_LOT_TEXT, P_LOT_JSON };

/* One image: read (in->file, or in->data), decoded, checked, its report
 * printed as mode says (in->reported then set); the first failed check's code. */
int mp_fd_inspect_one(inspect_in *in, int mode);
/* --lot DIR: every image DIR/manifest.jsonl lists (in the folder or in the
 * bundle its lines name), each checked as mp_fd_inspect_one does with the
 * line's SHA-256 and onboarding.csv's passcode; failures printed, then a
 * summary; the first failure's code. base: the command's options. */
int mp_fd_inspect_lot(inspect_in *base, const char *dir, int as_json);

#endif
