/*
 * build.h - `factory-data build`: the partitions of every issued device of an
 * order, in one or more platform formats, in parallel, crash-safe.
 *
 * Per chunk of devices: workers draw the credentials (or take --assign),
 * compute the SPAKE2+ verifier and pack every format in memory; then the
 * main thread writes the chunk's onboarding.csv and manifest.jsonl lines to
 * .labels.pending (synced, each tagged with the device's salt), records the
 * credentials and the images' SHA-256 in the ledger (one transaction; the
 * passcode only with --record-passcodes), appends the lines to the two lists
 * (synced), writes the images (temporary name + rename, one syncfs), marks
 * them written, and removes the loose off-chip key files the images now hold
 * (unless --keep-keys). Keys and passcodes are found, and key files
 * removed, only through core/devsecret.h (its contract says where they are). A label line therefore only ever reaches the lists
 * for a committed device. A run that dies is finished by running it again:
 * pending lines whose salt is the one the ledger recorded are appended, the
 * others dropped; list lines that disagree with the ledger are dropped;
 * images not confirmed written are rebuilt from the recorded values, and
 * devices already built are skipped.
 *
 * Outputs (core/outsink.h, the writer `dac issue` uses): files laid out flat
 * (DIR/NAME.<ext>) or per device (DIR/NAME/NAME.<ext>, label images too),
 * NAME the UDID or the serial number (--name-by serial); or, with --bundle,
 * one JSON Lines file in DIR holding per device its DAC and every image
 * (base64, SHA-256), appended and fdatasync'ed per chunk where the files
 * would be written and synced: a line whose device the ledger recorded but
 * did not mark written is appended by the re-run unless the bundle already
 * holds that device, so each device has exactly one line. onboarding.csv,
 * manifest.jsonl and the markers stay files in DIR.
 */
#ifndef MP_FD_BUILD_H
#define MP_FD_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "creds.h"
#include "fd.h"
#include "ledger.h"
#include "product.h"
#include "util.h"

#define MP_FD_MAX_FORMATS 16

typedef struct mp_fd_build {
    mp_ledger *ledger;
    mp_order order;
    const mp_product *product;
    const uint8_t *cd;
    size_t cd_len;
    uint8_t pai[MP_FD_MAX_CERT];
    size_t pai_len;
    int formats[MP_FD_MAX_FORMATS];
    int nformats;
    int needs_key;
    uint32_t iterations;
    const char *out_dir;
    int layout, name_by;  /* outsink.h: flat | per-device, by UDID | serial number */
    const char *bundle;   /* --bundle: the JSON Lines file (out_dir is its folder) */
    const char *serial_tmpl;
    char mfg_date[17];
    const mp_assign *assign;
    const char *assign_path;
    mp_fd_opts opts;
    char **udids;
    size_t n_udids;
    int jobs, quiet, include_passcode, record_passcodes, keep_keys;
    int qr_images;    /* MP_QR_NONE, MP_QR_SVG, MP_QR_PNG */
    int qr_module_px; /* PNG: pixels per QR module */
    int seq_tmpl;     /* the serial template has {seq}: a ledger counter */
    uint64_t seq_start;
    int pack_on_main; /* set by mp_fd_build_run: images packed by the main thread, not the workers */
    /* several runs on one order: this run's claims (see mp_ledger_fd_claim) */
    char lease[33];
    long lease_secs;      /* 0: 600 */
    char out_abs[4096];   /* the folder recorded with the claims ("" : out_dir) */
    uint64_t total;   /* devices of the order (or --udid), for the progress bar */
    char **have;      /* --bundle: the devices it held when the run started (sorted) */
    size_t nhave;
    struct fd_bundles *bundles; /* indexes of the bundles keys and images are read from (build.c) */
    /* results */
    uint64_t built, rebuilt, skipped, keys_removed, revoked, chip_skipped;
} mp_fd_build;

enum { MP_QR_NONE = 0, MP_QR_SVG = 1, MP_QR_PNG = 2 };

/* The checks before anything is written: --udid values are devices of the
 * order and not revoked; --assign rows are devices of the order and their
 * serial and rd_uid belong to no other device in the ledger; the serial
 * numbers {seq} will give are free. Errors name the value or the line. */
int mp_fd_build_precheck(mp_fd_build *b) MP_MUST_CHECK;

int mp_fd_build_run(mp_fd_build *b) MP_MUST_CHECK;

/* build_out.c: the two lists and their recovery. */
int mp_fd_lists_recover(mp_fd_build *b) MP_MUST_CHECK;
/* .build-incomplete (created once, O_NOFOLLOW). */
int mp_fd_marker(mp_fd_build *b) MP_MUST_CHECK;
/* The chunk's lines, before the ledger commit: .labels.pending. */
int mp_fd_lists_stage(mp_fd_build *b, const char *pending) MP_MUST_CHECK;
/* After the commit: append to onboarding.csv / manifest.jsonl (created with
 * the header on first use), sync, empty .labels.pending. */
int mp_fd_lists_commit(mp_fd_build *b, const char *onboarding, const char *manifest) MP_MUST_CHECK;
void mp_fd_lists_close(void);
/* The header of onboarding.csv. */
extern const char mp_fd_onboarding_header[];
/* qr_image.c: the QR code with the dashed manual code printed under it, as
 * an SVG or PNG (kind MP_QR_SVG / MP_QR_PNG) in memory (*out malloc'd, free
 * with mp_free_secret: it encodes the passcode); udid names errors. */
int mp_fd_qr_image(int kind, const char *udid, const char *qr, const char *manual_dashed, int module_px, uint8_t **out,
                   size_t *len) MP_MUST_CHECK;
/* The manual code in its dashed form: 4-3-4 (11 digits) or 4-3-4-5-5 (21 digits). */
void mp_manual_dashed(const char *manual, char out[32]);

#endif
