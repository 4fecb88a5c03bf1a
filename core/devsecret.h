/*
 * devsecret.h - a device's secrets between stages, by contract.
 *
 * Two kinds of per-device secret pass from one stage to the next: the
 * off-chip DAC private key (`dac issue --generate-keys` makes it,
 * `factory-data build` packs it into the images whose format holds a key)
 * and the onboarding credentials (`factory-data build` draws them: passcode,
 * salt, iterations, discriminator; the SPAKE2+ verifier follows from them).
 * This module is the only code that knows where they live: no other code
 * builds a key file's name, reads a key file, reads a key back from an image
 * or a passcode back from onboarding.csv.
 *
 * WHERE THEY LIVE
 *  - A key before its DAC is committed: DIR/.matter-pki.staging/UDID.key.der
 *    (DIR: the run's output folder; the staging folder is 0700, this user's,
 *    not a link), SEC1 DER (121 bytes), created with
 *    O_CREAT|O_EXCL|O_NOFOLLOW and set to 0600 with fchmod (whatever the
 *    umask), synced by the batch before the ledger commit. The ledger never
 *    holds a private key.
 *  - A key after its DAC is committed: beside the DAC. The ledger's record of
 *    the DAC (dacs.path, or UDID.der in its batch's folder) is the record of
 *    where the key went: the key file is that path with ".der" replaced by
 *    ".key.der" (mp_devsecret_key_path says so, and nothing else), moved
 *    there from staging with RENAME_NOREPLACE (never over a file). A DAC
 *    recorded as BUNDLE#UDID (--bundle) has its key in its line of that
 *    bundle (0600), member "key": base64 PKCS#8 DER; the staged file goes
 *    once the line is synced.
 *  - A key after `factory-data build`: in the images of the formats that
 *    hold a key (0600), in the folder that built the device. The ledger
 *    records the folder (fd_claims.dir) and each image's SHA-256
 *    (fd_images); nothing else records a key.
 *  - Credentials: the ledger's factory_data row holds discriminator,
 *    iterations, salt and verifier; the passcode only with
 *    --record-passcodes. Otherwise the passcode is only in onboarding.csv of
 *    the folder that built the device (0600; the one list that carries it)
 *    and, with --include-passcode, in its images.
 *
 * WHO READS AND WRITES THEM
 *  - `dac issue --generate-keys`: mp_devsecret_put_key (staging),
 *    mp_devsecret_place_key (beside the DAC, after the commit) or
 *    mp_devsecret_bundle_member (into its bundle line),
 *    mp_devsecret_staged_udid, mp_devsecret_get_staged and
 *    mp_devsecret_recover_key (recovery of the staging folder).
 *  - `factory-data build`: mp_devsecret_get_key, mp_devsecret_get_passcode,
 *    mp_devsecret_forget. No other stage reads them (`factory-data inspect`
 *    reads only the image file an operator names, and with --lot DIR the
 *    passcodes of DIR/onboarding.csv: mp_devsecret_each_passcode).
 *
 * WHEN THEY ARE DELETED
 *  - A staged key whose DAC never committed: by the recovery of the next
 *    `dac issue` in the folder (staging entries only, never anything else).
 *  - The key file beside the DAC: by `factory-data build`
 *    (mp_devsecret_forget) once every image of the device that holds the
 *    key is written, synced and marked written in the ledger; never with
 *    --keep-keys. The images are then the key's only copy.
 *  - A staged key of a --bundle run: by dac issue once its line (with the
 *    key) is synced, or by the next run's recovery, which finds the line.
 *  - A key in a bundle line stays: the bundle is the lot's file, the
 *    operator's to remove once the devices are programmed.
 *  - Nothing else deletes a key or a passcode.
 *
 * HOW A REBUILD FINDS THEM (by UDID, through the ledger; never by guessing
 * names)
 *  Key, first found wins:
 *   1. the key file at the DAC's recorded path (".der" -> ".key.der"), or
 *      the "key" member of the DAC's bundle line;
 *   2. the staged key in the DAC's batch folder (a run killed between the
 *      commit and the move);
 *   3. an image of the device in the folder that built it, of a format the
 *      ledger's fd_images records for it, whose SHA-256 is the recorded
 *      one (ledgers from before fd_images: any key format whose DAC is the
 *      ledger's), read back by the caller's format reader.
 *  A key file or member must be a P-256 key whose public point is the DAC's,
 *  else MP_ERR_MISMATCH; an image must hold the ledger's DAC. None found:
 *  MP_ERR_IO naming every place looked at (the device cannot get new images
 *  that need its key: revoke its DAC and issue the device a new one).
 *  Passcode: the ledger (recorded), else onboarding.csv of the folder that
 *  built the device; neither: MP_ERR_INVALID naming both.
 *
 * IN MEMORY
 *  Secrets come back in caller-owned mp_devkey / mp_devcreds; the caller
 *  wipes them with mp_devsecret_clear (the one free function, also on every
 *  error path). Every buffer of this module that held a key or a passcode
 *  (file contents, the CSV reader's record, stdio buffers) is wiped before
 *  it is freed, whatever the path.
 *
 * The functions that take the ledger run on the thread that owns it.
 */
#ifndef MP_DEVSECRET_H
#define MP_DEVSECRET_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ledger.h"

#define MP_DEVSECRET_STAGING ".matter-pki.staging"
#define MP_DEVSECRET_KEY_SUFFIX ".key.der"
#define MP_SEC1_LEN 121
#define MP_DEVSECRET_PASSCODE_MAX 99999998u

/* An off-chip DAC key: the scalar and its public point. */
typedef struct mp_devkey {
    uint8_t scalar[32];
    uint8_t point[65];
} mp_devkey;

/* A device's onboarding credentials (the ledger's row plus the passcode). */
typedef struct mp_devcreds {
    uint32_t passcode;
    int has_passcode;
    uint16_t discriminator;
    uint32_t iterations;
    uint8_t salt[32];
    size_t salt_len;
    uint8_t verifier[97];
} mp_devcreds;

/* The one free function of this module's secrets: wipes n bytes at p
 * (mp_devkey, mp_devcreds, or any buffer the module filled). NULL is fine. */
void mp_devsecret_clear(void *p, size_t n);
#define MP_DEVSECRET_CLEAR(p) mp_devsecret_clear((p), sizeof(*(p)))

/* ---- dac issue ------------------------------------------------------------- */

/* SEC1 ECPrivateKey DER of a P-256 key (key files, and the images of the
 * formats that carry such a file). */
size_t mp_sec1_der(const uint8_t scalar[static 32], const uint8_t point[static 65], uint8_t out[static MP_SEC1_LEN]);
/* The scalar and point of a P-256 SEC1 DER key of that form (1), or 0 when
 * der is not one (nothing is checked beyond the form). */
int mp_sec1_parse(const uint8_t *der, size_t len, const uint8_t **scalar, const uint8_t **point);

/* PKCS#8 PrivateKeyInfo DER of a P-256 key, as OpenSSL writes it (the
 * curve in the algorithm, not repeated in the key). */
#define MP_PKCS8_LEN 138
size_t mp_pkcs8_der(const uint8_t scalar[static 32], const uint8_t point[static 65], uint8_t out[static MP_PKCS8_LEN]);
/* The key as the member a bundle line carries (`dac issue --generate-keys
 * --bundle`): ,"key":"<base64 PKCS#8 DER>" into out (wiped when it does not
 * fit: MP_ERR_GENERAL). */
#define MP_DEVSECRET_MEMBER_MAX 200
int mp_devsecret_bundle_member(const mp_devkey *key, char *out, size_t cap) MP_MUST_CHECK;
/* The staged key of a device in the run folder dir (for a bundle line made
 * after a kill); *found 0 when there is none. With dac (its DER), a key that
 * is not the DAC's is MP_ERR_MISMATCH. */
int mp_devsecret_get_staged(const char *dir, const char *udid, const uint8_t *dac, size_t dac_len, mp_devkey *key,
                            int *found) MP_MUST_CHECK;

/* The key's name in the staging folder: UDID.key.der. */
int mp_devsecret_staged_name(const char *udid, char *out, size_t cap) MP_MUST_CHECK;
/* The UDID of a staging entry that is a key file (1), or 0 for any other name. */
int mp_devsecret_staged_udid(const char *name, char udid[MP_UDID_MAX + 1]);

/* Stage a new key in the staging folder (an open directory fd): O_EXCL
 * (an existing name or a link is refused: MP_ERR_EXISTS / MP_ERR_IO), mode
 * 0600 whatever the umask, removed again if it cannot be written whole. Not
 * synced (the batch syncs the folder before its commit). */
int mp_devsecret_put_key(int stage_fd, const char *udid, const mp_devkey *key) MP_MUST_CHECK;

/* After the commit: the staged key to its place beside the DAC, at rel (the
 * DAC's relative path with ".key.der" for ".der": mp_devsecret_key_path) in
 * the folder out_fd (one folder level is created). Never over a file. */
int mp_devsecret_place_key(int stage_fd, int out_fd, const char *out_name, const char *udid,
                           const char *rel) MP_MUST_CHECK;
/* A staged key whose DAC did not commit: removed (1) or absent (0). */
int mp_devsecret_drop_staged(int stage_fd, const char *udid);

/* Recovery of a committed device (dir: its batch's folder): its staged key,
 * or the UDID.key.der.pending of a run before schema 5, to its place beside
 * the DAC at dac_path (*moved 1); nothing to do for a bundle line. */
int mp_devsecret_recover_key(const char *dir, const char *udid, const char *dac_path, int *moved) MP_MUST_CHECK;

/* The key file of a DAC file: its path with ".der" replaced by ".key.der"
 * (MP_ERR_INVALID when it does not end in ".der"; MP_ERR_IO when too long). */
int mp_devsecret_key_path(const char *dac_path, char *out, size_t cap) MP_MUST_CHECK;

/* ---- factory-data build ------------------------------------------------------ */

/* How the caller reads its own images back (core knows no formats nor
 * output layouts). */
typedef struct mp_devsecret_images {
    /* The folder this run builds in: where the ledger's claims put the
     * device's images, and its onboarding.csv. */
    const char *dir;
    /* The formats an image may hold the key in, by the ledger's names
     * (fd_images.format), NULL-terminated. */
    const char *const *formats;
    /* The device's image of a format as this run keeps it (a file under
     * dir, a bundle line, ...): malloc'd bytes in *img (the module wipes and
     * frees them) or *img NULL when there is none. item is the caller's
     * argument of mp_devsecret_get_key (per device: e.g. its name). */
    int (*load)(void *arg, void *item, const char *format, const mp_issued *dev, uint8_t **img, size_t *len);
    /* The key an image of that format holds, and the DAC it holds (into
     * dac, at most dac_cap bytes). */
    int (*key)(void *arg, const char *format, const uint8_t *img, size_t len, uint8_t scalar[static 32],
               uint8_t *dac, size_t dac_cap, size_t *dac_len);
    /* The device's line of a bundle (a DAC recorded as BUNDLE#UDID), e.g.
     * through the caller's index of it: malloc'd, NUL-terminated without
     * its newline, *line NULL when the bundle has no complete line of udid
     * (the module wipes and frees it). NULL: mp_bundle_line (one scan). */
    int (*line)(void *arg, const char *bundle, const char *udid, char **line);
    void *arg;
} mp_devsecret_images;

/* A private file read back (for load callbacks): not through a symbolic
 * link, a regular file of at most max bytes; *buf NULL when it does not
 * exist. The buffer is wiped on every error path (a short read too); free
 * it with mp_free_secret(*buf, *len). */
int mp_devsecret_read_file(const char *path, size_t max, uint8_t **buf, size_t *len) MP_MUST_CHECK;

typedef struct mp_devsecret {
    mp_ledger *ledger;
    mp_devsecret_images img;
} mp_devsecret;

/* The device's off-chip key, found as the contract says (above). item goes
 * to the load callback. *from (may be NULL) receives where: 1 key file,
 * 2 staged, 3 image. On an error *key is all zero. */
int mp_devsecret_get_key(const mp_devsecret *ds, const mp_issued *dev, void *item, mp_devkey *key,
                         int *from) MP_MUST_CHECK;

/* The device's credentials: the ledger's row; the passcode from it when
 * recorded, else (need_passcode) from onboarding.csv in ds->img.dir.
 * MP_ERR_INVALID when the device has no factory data, or the passcode is
 * needed and found nowhere. */
int mp_devsecret_get_credentials(const mp_devsecret *ds, const char *udid, int need_passcode,
                                 mp_devcreds *c) MP_MUST_CHECK;
/* Every passcode of DIR/onboarding.csv (a build's folder), in file order:
 * cb(ctx, udid, passcode) returns non-zero to stop. *found: the file exists.
 * No file is MP_OK (nothing called); a file without a passcode column is
 * MP_ERR_INVALID; a line cut by a crash is skipped. The passcodes pass only
 * through wiped buffers; cb must wipe what it keeps. */
int mp_devsecret_each_passcode(const char *dir, int (*cb)(void *ctx, const char *udid, uint32_t passcode), void *ctx,
                               int *found) MP_MUST_CHECK;
/* Only the passcode: the recorded one (rec) or onboarding.csv's. */
int mp_devsecret_get_passcode(const mp_devsecret *ds, const mp_fd_rec *rec, uint32_t *passcode) MP_MUST_CHECK;

/* The loose key file of a device whose images now hold the key (call after
 * they are marked written): removed (1), already gone (0). */
int mp_devsecret_forget(const mp_devsecret *ds, const mp_issued *dev);

#endif
