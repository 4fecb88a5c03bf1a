/*
 * extdac.h - DACs issued by another PKI (issue 18): `dac import` records
 * them in the ledger after the attestation verifier accepted each chain;
 * `dac export --layout infineon` writes an order's DACs as <UDID>_E0E0.pem;
 * `dac handoff` writes the revocations of an external PAI's DACs for the
 * PAI's owner (we cannot sign their CRL).
 */
#ifndef MP_EXTDAC_H
#define MP_EXTDAC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ledger.h"

enum mp_ext_udid { MP_EXT_UDID_FILENAME = 0, MP_EXT_UDID_CN, MP_EXT_UDID_SERIAL, MP_EXT_UDID_CSV };

typedef struct mp_dac_import {
    char **paths;          /* files and folders as given */
    size_t n_paths;
    const char *pai_path, *paa_path;
    int udid_from;         /* mp_ext_udid */
    const char *pattern;   /* filename: PATTERN (NULL = "<UDID>_*") */
    const char *csv;       /* csv: FILE */
    int64_t order_id;      /* 0 = a new external order */
    const char *station;
    time_t at;             /* verification time, 0 = now */
    /* results */
    int64_t list_id;
    size_t count;
    uint16_t vid, pid;
} mp_dac_import;

/* Verify every DAC (the verifier's checks, PAA as the only trust anchor) and
 * record them all, or none: a chip list "external-dacs", its devices (or
 * the devices already on a list, when the key matches and they have no
 * DAC), an external order (new, or --order of the same PAI, VID and PID),
 * one batch, the certificates with their files' paths. Errors name the
 * file. */
int mp_dac_import_run(mp_ledger *l, mp_dac_import *im) MP_MUST_CHECK;

/* Write every DAC of the order as DIR/<UDID>_E0E0.pem (PEM, atomically);
 * an identical existing file is left, a different one replaced only with
 * force. only_dir: just the DACs `dac issue` wrote into that folder (NULL =
 * all of the order's). */
int mp_dac_export_infineon(mp_ledger *l, int64_t order_id, const char *dir, const char *only_dir, int force,
                           uint64_t *written) MP_MUST_CHECK;

#endif
