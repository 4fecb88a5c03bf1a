/*
 * build.h - `factory-data build`: the partitions of every issued device of an
 * order, in one or more platform formats, in parallel, crash-safe.
 *
 * Per chunk of devices: workers draw the credentials (or take --assign),
 * compute the SPAKE2+ verifier and pack every format in memory; then the
 * main thread appends the chunk's onboarding.csv and manifest.jsonl lines
 * (synced), records the credentials in the ledger (one transaction; the
 * passcode only with --record-passcodes), writes the images (temporary name +
 * rename, one syncfs), marks them written, and removes the loose off-chip key
 * files the images now hold (unless --keep-keys). A run that dies is finished
 * by running it again: lines of devices the ledger does not know are dropped
 * from the two lists, images not confirmed written are rebuilt from the
 * recorded values, and devices already built are skipped.
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

#define MP_FD_MAX_FORMATS 8

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
    const char *serial_tmpl;
    char mfg_date[17];
    const mp_assign *assign;
    mp_fd_opts opts;
    char **udids;
    size_t n_udids;
    int jobs, quiet, include_passcode, record_passcodes, keep_keys, qr_images;
    int pack_on_main; /* set by mp_fd_build_run: images packed by the main thread, not the workers */
    /* several runs on one order: this run's claims (see mp_ledger_fd_claim) */
    char lease[33];
    long lease_secs;      /* 0: 600 */
    char out_abs[4096];   /* the folder recorded with the claims ("" : out_dir) */
    /* results */
    uint64_t built, rebuilt, skipped, keys_removed;
} mp_fd_build;

int mp_fd_build_run(mp_fd_build *b) MP_MUST_CHECK;

/* build_out.c: the two lists and their recovery. */
int mp_fd_lists_recover(mp_fd_build *b) MP_MUST_CHECK;
int mp_fd_lists_open(mp_fd_build *b) MP_MUST_CHECK;
int mp_fd_lists_append(const char *onboarding, const char *manifest) MP_MUST_CHECK;
void mp_fd_lists_close(void);
/* The passcode of udid from onboarding.csv (for rebuilding an image that
 * must carry it); MP_ERR_INVALID when absent. */
int mp_fd_lists_passcode(const mp_fd_build *b, const char *udid, uint32_t *passcode) MP_MUST_CHECK;
int mp_fd_qr_svg(mp_outdir *od, const char *udid, const char *qr) MP_MUST_CHECK;

#endif
