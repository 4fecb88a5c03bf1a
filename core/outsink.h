/*
 * outsink.h - where a batch's per-device outputs go: files in a folder laid
 * out flat (DIR/NAME.der) or per device (DIR/NAME/NAME.der), named by UDID or
 * by serial, or one bundle file of JSON Lines for the whole run.
 *
 * Bundle (for manufacturing-execution systems and programming stations that
 * take one file per lot): one JSON object per device and line,
 *   {"udid":"...","serial":"...","dac":"<base64 DER>","sha256":"<hex of the DER>"}
 * (callers may add members), appended a chunk at a time and synced
 * (fdatasync) before the chunk counts as written. A line is whole or it is
 * cut: mp_bundle_open removes a torn last line (a run killed mid-write), and
 * mp_bundle_udids lists the devices a bundle already holds, so recovery
 * appends exactly the missing ones: each device once.
 * Used by `dac issue` (and its --generate-keys: each line then also holds the
 * device's private key, "key": base64 PKCS#8 DER, and the file is 0600) and
 * by `factory-data build` (each line also holds the device's images,
 * "images": {"<format>": {"name", "sha256", "data"}}).
 */
#ifndef MP_OUTSINK_H
#define MP_OUTSINK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

enum mp_layout { MP_LAYOUT_FLAT = 0, MP_LAYOUT_PER_DEVICE = 1 };
enum mp_name_by { MP_NAME_BY_UDID = 0, MP_NAME_BY_SERIAL = 1 };

/* "flat" / "per-device" and "udid" / "serial" to their enums; MP_ERR_USAGE otherwise. */
int mp_layout_parse(const char *s, int *layout) MP_MUST_CHECK;
int mp_name_by_parse(const char *s, int *name_by) MP_MUST_CHECK;

/* A device's file relative to the folder: NAME+suffix (flat) or
 * NAME/NAME+suffix (per-device). */
int mp_out_relpath(int layout, const char *name, const char *suffix, char *out, size_t cap) MP_MUST_CHECK;
/* mp_outdir_write at a relative path that may hold one folder level
 * (per-device), creating that folder (0755) first. */
int mp_out_write(mp_outdir *od, const char *rel, const uint8_t *data, size_t len, int mode) MP_MUST_CHECK;

/* --bundle FILE: the run's folder is FILE's folder ("." for a bare name). */
void mp_bundle_folder(const char *bundle, char *folder, size_t cap);
/* FILE's absolute path from its folder's absolute path. */
void mp_bundle_abs(const char *folder_abs, const char *bundle, char *out, size_t cap);

typedef struct mp_bundle {
    int fd;
    int mode;
    char path[4096];
    char *buf;        /* lines not yet written */
    size_t len, cap;
} mp_bundle;

/* Open for appending: created with mode (O_EXCL|O_NOFOLLOW), or an existing
 * regular file of this user (never through a symbolic link) whose mode is
 * narrowed to mode, never widened (a bundle that holds private keys stays
 * 0600); a torn last line is cut. The caller holds the folder's lock
 * (mp_dir_lock). */
int mp_bundle_open(mp_bundle *b, const char *path, int mode) MP_MUST_CHECK;
/* One line for a device (buffered); sha256 is the DER's digest when the
 * caller holds it already (`dac issue` records it in the ledger), NULL to
 * compute it here; extra is "" or more members starting with ','
 * (e.g. ",\"key\":\"...\""). */
int mp_bundle_add(mp_bundle *b, const char *udid, const char *serial, const uint8_t *der, size_t len,
                  const uint8_t *sha256, const char *extra) MP_MUST_CHECK;
/* The same with an "images" member: each blob as "key": {"name": name,
 * "sha256": hex, "data": base64} (factory-data images, label images). */
typedef struct mp_bundle_blob {
    const char *key, *name;
    const uint8_t *data;
    size_t len;
} mp_bundle_blob;
int mp_bundle_add_blobs(mp_bundle *b, const char *udid, const char *serial, const uint8_t *der, size_t len,
                        const char *extra, const mp_bundle_blob *blobs, size_t nblobs) MP_MUST_CHECK;
/* The bundle is about to hold a private key: 0600 from now on. */
int mp_bundle_private(mp_bundle *b) MP_MUST_CHECK;
/* Append the buffered lines and fdatasync; on failure the file is cut back
 * to where it was (nothing half-written stays). */
int mp_bundle_flush(mp_bundle *b) MP_MUST_CHECK;
void mp_bundle_close(mp_bundle *b);
/* The UDIDs of the bundle's complete lines, sorted (free with
 * mp_bundle_udids_free); a missing file holds none. */
int mp_bundle_udids(const char *path, char ***udids, size_t *n) MP_MUST_CHECK;
int mp_bundle_has(char *const *udids, size_t n, const char *udid);
void mp_bundle_udids_free(char **udids, size_t n);
/* The complete line of udid in the bundle (malloc'd, without its newline;
 * free with mp_free_secret), or *line NULL when the bundle has none. Reads
 * the file up to that line: for one look-up; many use an index. */
int mp_bundle_line(const char *path, const char *udid, char **line) MP_MUST_CHECK;

/* Where each complete line of a bundle starts (sorted by UDID; no line is
 * kept in memory): many look-ups, each one pread. Lines appended after
 * mp_bundle_index_open are not in it. */
typedef struct mp_bundle_ent {
    char *udid;
    off_t off;
    size_t len; /* with the newline */
} mp_bundle_ent;
typedef struct mp_bundle_index {
    int fd;
    mp_bundle_ent *v;
    size_t n;
} mp_bundle_index;
int mp_bundle_index_open(const char *path, mp_bundle_index *ix) MP_MUST_CHECK;
int mp_bundle_index_line(const mp_bundle_index *ix, const char *udid, char **line) MP_MUST_CHECK;
void mp_bundle_index_close(mp_bundle_index *ix);

#endif
