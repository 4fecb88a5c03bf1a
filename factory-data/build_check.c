/* build_check.c - what `factory-data build` checks before it writes anything
 * (see build.h): the CD and one whole device through the attestation
 * verifier, the --udid and --assign devices, and the serial numbers. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cd.h"
#include "factory-data/build.h"
#include "factory-data/build_check.h"
#include "util.h"
#include "verify/verify.h"

static int add_cert(mp_va_buf *v, size_t *n, size_t max, const char *path)
{
    if (*n >= max) return mp_err(MP_ERR_USAGE, "%s: at most %zu certificates", path, max);
    int rc = mp_va_load_cert(path, &v[*n]);
    if (rc == MP_OK) (*n)++;
    return rc;
}

/* Every certificate of the trust folder, as PAA and as CD signer candidates
 * (the verifier picks by SKID / key id). The verifier keeps the file names
 * for its messages: they live in names (freed by the caller). */
static int load_trust_dir(const char *dir, mp_va_input *in, char **names, size_t *nnames, size_t max)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = d ? MP_OK : mp_err(MP_ERR_IO, "--trust-dir %s: cannot open", dir);
    while (rc == MP_OK && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || n < 5 || (strcmp(e->d_name + n - 4, ".pem") != 0 && strcmp(e->d_name + n - 4, ".der") != 0)) continue;
        if (*nnames >= max) {
            rc = mp_err(MP_ERR_USAGE, "--trust-dir %s: more than %zu certificates", dir, max);
            break;
        }
        size_t len = strlen(dir) + n + 2;
        char *path = malloc(len);
        if (path == NULL) {
            rc = mp_err(MP_ERR_GENERAL, "out of memory");
            break;
        }
        snprintf(path, len, "%s/%s", dir, e->d_name);
        names[(*nnames)++] = path;
        if ((rc = add_cert(in->paa, &in->n_paa, MP_VA_MAX_PAAS, path)) == MP_OK) {
            rc = add_cert(in->cd_signer, &in->n_cd_signer, MP_VA_MAX_SIGNERS, path);
        }
    }
    if (d) closedir(d);
    return rc;
}

/* The first device this run will build (not revoked, of the order, wanted). */
static int first_device(mp_fd_build *b, mp_issued *dev, int *found)
{
    char after[MP_UDID_MAX + 1] = "";
    mp_issued *page = calloc(64, sizeof(*page));
    size_t n = 0;
    int rc = page ? MP_OK : mp_err(MP_ERR_GENERAL, "out of memory");
    *found = 0;
    while (rc == MP_OK && !*found && (rc = mp_ledger_next_issued(b->ledger, b->order.id, after, 64, page, &n)) == MP_OK && n > 0) {
        for (size_t i = 0; i < n && !*found; i++) {
            int st = 0, in_order = 0, known = 0, want = b->n_udids == 0;
            for (size_t k = 0; k < b->n_udids && !want; k++) want = strcmp(b->udids[k], page[i].udid) == 0;
            if (!want) continue;
            if ((rc = mp_ledger_device_in_order(b->ledger, page[i].udid, b->order.id, &st, &in_order, &known)) != MP_OK) break;
            if (st != MP_DEV_REVOKED) {
                *dev = page[i];
                *found = 1;
            }
        }
        snprintf(after, sizeof(after), "%s", page[n - 1].udid);
    }
    free(page);
    return rc;
}

int mp_fd_build_verify_cd(mp_fd_build *b, const mp_fd_trust *t, const mp_cd *cd)
{
    mp_va_input in;
    mp_va_report rep;
    mp_issued *dev = calloc(1, sizeof(*dev));
    char *names[MP_VA_MAX_SIGNERS];
    size_t nnames = 0;
    int rc = MP_OK, found = 0;
    memset(&in, 0, sizeof(in));
    if (dev == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    for (size_t i = 0; rc == MP_OK && i < t->n_paa; i++) rc = add_cert(in.paa, &in.n_paa, MP_VA_MAX_PAAS, t->paa[i]);
    for (size_t i = 0; rc == MP_OK && i < t->n_signer; i++) rc = add_cert(in.cd_signer, &in.n_cd_signer, MP_VA_MAX_SIGNERS, t->signer[i]);
    if (rc == MP_OK && t->trust_dir) rc = load_trust_dir(t->trust_dir, &in, names, &nnames, MP_VA_MAX_SIGNERS);
    if (rc == MP_OK && (in.n_paa == 0 || in.n_cd_signer == 0)) {
        rc = mp_err(MP_ERR_USAGE, "factory-data build checks the CD and one device as a commissioner does before writing anything: "
                    "give the PAA (--paa paa.pem) and the CD signer (--cd-signer cd-signer.pem), or --trust-dir DIR holding both");
    }
    if (rc == MP_OK && cd->certification_type != 2) {
        if (t->production) {
            rc = mp_err(MP_ERR_ATTESTATION, "the CD's certification_type is %u (%s): --production needs an official CD (2)",
                        cd->certification_type, mp_cd_type_name(cd->certification_type));
        } else if (!b->quiet) {
            fprintf(stderr, "matter-pki factory-data build: warning: the CD's certification_type is %u (%s): these devices will not "
                    "pass a production commissioner; use an official CD (and --production) for a production lot\n",
                    cd->certification_type, mp_cd_type_name(cd->certification_type));
        }
    }
    if (rc == MP_OK) rc = first_device(b, dev, &found);
    if (rc == MP_OK && found) {
        in.pai.name = b->order.pai_cert;
        in.pai.der = b->pai;
        in.pai.len = b->pai_len;
        in.dac.name = dev->udid;
        in.dac.der = dev->der;
        in.dac.len = dev->der_len;
        in.cd.name = "--cd";
        in.cd.der = (uint8_t *)b->cd;
        in.cd.len = b->cd_len;
        in.has_vid = in.has_pid = 1;
        in.vid = b->order.vid;
        in.pid = b->order.pid;
        in.at = time(NULL);
        in.production = t->production;
        rc = mp_va_verify(&in, &rep);
        if (rc == MP_OK && rep.code != VA_SUCCESS) {
            const mp_va_check *ck = &rep.checks[rep.failed];
            rc = mp_err(MP_ERR_ATTESTATION, "device %s would be rejected by a commissioner: %s: %s (%d %s); nothing written",
                        dev->udid, mp_va_check_name(rep.failed), ck->detail, rep.code,
                        mp_va_code_name(rep.code) ? mp_va_code_name(rep.code) : "");
        }
    }
    /* the buffers of b and dev are not ours to free */
    in.pai.der = in.dac.der = in.cd.der = NULL;
    in.pai.len = in.dac.len = in.cd.len = 0;
    mp_va_input_free(&in);
    for (size_t i = 0; i < nnames; i++) free(names[i]);
    free(dev);
    return rc;
}

/* ---- devices and serial numbers ---------------------------------------------- */

static int check_udids(mp_fd_build *b)
{
    for (size_t i = 0; i < b->n_udids; i++) {
        int st = 0, in_order = 0, found = 0;
        int rc = mp_ledger_device_in_order(b->ledger, b->udids[i], b->order.id, &st, &in_order, &found);
        if (rc != MP_OK) return rc;
        if (!found) return mp_err(MP_ERR_INVALID, "--udid %s: no such device in the ledger", b->udids[i]);
        if (!in_order) return mp_err(MP_ERR_INVALID, "--udid %s: not a device of order %lld (no DAC of that order)", b->udids[i], (long long)b->order.id);
        if (st == MP_DEV_REVOKED) {
            return mp_err(MP_ERR_INVALID, "--udid %s: the device's DAC is revoked; a revoked device gets no factory data", b->udids[i]);
        }
    }
    return MP_OK;
}

static int check_assign(mp_fd_build *b, const char *where)
{
    char owner[MP_UDID_MAX + 1];
    for (size_t i = 0; b->assign != NULL && i < b->assign->n; i++) {
        const mp_assign_row *r = &b->assign->rows[i];
        int st = 0, in_order = 0, found = 0, rc;
        if ((rc = mp_ledger_device_in_order(b->ledger, r->udid, b->order.id, &st, &in_order, &found)) != MP_OK) return rc;
        if (!found || !in_order) {
            return mp_err(MP_ERR_INVALID, "%s:%u: udid '%s' is %s", where, r->line, r->udid,
                          found ? "not a device of this order" : "not in the ledger");
        }
        if (r->has_serial) {
            if ((rc = mp_ledger_fd_serial_owner(b->ledger, r->serial, owner)) != MP_OK) return rc;
            if (owner[0] && strcmp(owner, r->udid) != 0) {
                return mp_err(MP_ERR_DUPLICATE, "%s:%u: serial '%s' is already the serial of device %s in the ledger", where, r->line, r->serial, owner);
            }
        }
        if (r->has_rd_uid) {
            if ((rc = mp_ledger_fd_rd_uid_owner(b->ledger, r->rd_uid, r->rd_uid_len, owner)) != MP_OK) return rc;
            if (owner[0] && strcmp(owner, r->udid) != 0) {
                return mp_err(MP_ERR_DUPLICATE, "%s:%u: rd_uid is already the rotating device ID unique ID of device %s in the ledger", where, r->line, owner);
            }
        }
    }
    return MP_OK;
}

/* The serial numbers the template will give the new devices, against the
 * ledger (templates without {hex}: those are random). */
static int check_serials(mp_fd_build *b)
{
    char after[MP_UDID_MAX + 1] = "", sn[MP_SERIAL_MAX + 1], owner[MP_UDID_MAX + 1];
    uint64_t seq = b->seq_start;
    size_t n = 0;
    int rc = MP_OK;
    if (strstr(b->serial_tmpl, "{hex:") != NULL) return MP_OK;
    mp_issued *page = calloc(256, sizeof(*page));
    if (page == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    while (rc == MP_OK && (rc = mp_ledger_next_issued(b->ledger, b->order.id, after, 256, page, &n)) == MP_OK && n > 0) {
        for (size_t i = 0; i < n && rc == MP_OK; i++) {
            int st = 0, in_order = 0, found = 0, want = b->n_udids == 0;
            mp_fd_rec r;
            for (size_t k = 0; k < b->n_udids && !want; k++) want = strcmp(b->udids[k], page[i].udid) == 0;
            if (!want) continue;
            if ((rc = mp_ledger_device_in_order(b->ledger, page[i].udid, b->order.id, &st, &in_order, &found)) != MP_OK) break;
            if (st == MP_DEV_REVOKED) continue;
            int chip_only = 1;
            for (int f = 0; f < b->nformats; f++) chip_only &= page[i].key_origin != MP_KEY_OFFCHIP && mp_fd_needs_dac_key_with(b->formats[f], &b->opts);
            if (chip_only) continue;
            if ((rc = mp_ledger_get_fd(b->ledger, page[i].udid, &r, &found)) != MP_OK) break;
            mp_wipe(&r, sizeof(r));
            if (found) continue;
            uint64_t my = seq++;
            const mp_assign_row *a = b->assign ? mp_assign_find(b->assign, page[i].udid) : NULL;
            if (a && a->has_serial) continue; /* checked with the assign file */
            if ((rc = mp_serial_format(b->serial_tmpl, my, page[i].udid, sn)) != MP_OK) break;
            if ((rc = mp_ledger_fd_serial_owner(b->ledger, sn, owner)) != MP_OK) break;
            if (owner[0]) {
                rc = mp_err(MP_ERR_DUPLICATE, "serial number %s (--serial-template %s, {seq} %llu) is already the serial of device %s; "
                            "start the sequence past it with --serial-start N; nothing written",
                            sn, b->serial_tmpl, (unsigned long long)my, owner);
            }
        }
        snprintf(after, sizeof(after), "%s", page[n - 1].udid);
    }
    free(page);
    return rc;
}

/* --esp32-extra-values: a row for every device that gets an esp32 image
 * (off-chip keys, or any with --esp32-ecdsa-efuse-key-id), revoked ones
 * aside; --esp32-ecdsa-efuse-key-id: no device with a key held off the chip. */
static int check_esp(mp_fd_build *b)
{
    char after[MP_UDID_MAX + 1] = "";
    size_t n = 0;
    int rc = MP_OK;
    if (b->opts.extras == NULL && !b->opts.has_esp_ecdsa) return MP_OK;
    mp_issued *page = calloc(256, sizeof(*page));
    if (page == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    while (rc == MP_OK && (rc = mp_ledger_next_issued(b->ledger, b->order.id, after, 256, page, &n)) == MP_OK && n > 0) {
        for (size_t i = 0; i < n && rc == MP_OK; i++) {
            int st = 0, in_order = 0, found = 0, want = b->n_udids == 0;
            for (size_t k = 0; k < b->n_udids && !want; k++) want = strcmp(b->udids[k], page[i].udid) == 0;
            int offchip = page[i].key_origin == MP_KEY_OFFCHIP;
            if (!want || (!offchip && !b->opts.has_esp_ecdsa)) continue;
            if ((rc = mp_ledger_device_in_order(b->ledger, page[i].udid, b->order.id, &st, &in_order, &found)) != MP_OK) break;
            if (st == MP_DEV_REVOKED) continue;
            if (b->opts.has_esp_ecdsa && offchip) {
                rc = mp_err(MP_ERR_INVALID, "--esp32-ecdsa-efuse-key-id: device %s's DAC key is held off the chip; burning it into eFuse would need it in a file in clear; nothing written", page[i].udid);
            } else if (b->opts.extras != NULL && mp_fd_extras_row(b->opts.extras, page[i].udid) == NULL) {
                rc = mp_err(MP_ERR_INVALID, "--esp32-extra-values: no row for device %s; nothing written", page[i].udid);
            }
        }
        snprintf(after, sizeof(after), "%s", page[n - 1].udid);
    }
    free(page);
    return rc;
}

int mp_fd_build_precheck(mp_fd_build *b)
{
    int rc = check_udids(b);
    if (rc == MP_OK) rc = check_assign(b, b->assign_path ? b->assign_path : "--assign");
    if (rc == MP_OK) rc = check_serials(b);
    if (rc == MP_OK) rc = check_esp(b);
    return rc;
}
