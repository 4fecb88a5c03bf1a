/* issue_csr.c - CSR mode: one DAC for a PKCS#10 request made inside a device.
 * The request's signature proves possession of the key; the key must belong
 * to an authorized device that has no DAC yet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "dac/issue.h"
#include "util.h"


static int load_csr(const char *path, uint8_t point[65])
{
    X509_REQ *r = NULL;
    int rc = mp_csr_load(path, &r, point);
    X509_REQ_free(r);
    return rc;
}

int mp_issue_csr(mp_issue *is, const char *csr, const char *out, int force)
{
    uint8_t point[65], serial[16], der[MP_DAC_MAX_DER];
    size_t len;
    mp_device d;
    int found = 0;
    int rc;
    /* Finish what an interrupted run of this order left (files only). */
    if ((rc = mp_issue_recover(is, 0)) != MP_OK || (rc = mp_issue_check_open(is)) != MP_OK) {
        return rc;
    }
    if ((rc = mp_check_output(out, force)) != MP_OK || (rc = load_csr(csr, point)) != MP_OK ||
        (rc = mp_ledger_find_device_by_key(is->ledger, point, &d, &found)) != MP_OK) {
        return rc;
    }
    if (!found) {
        return mp_err(MP_ERR_UNAUTHORIZED, "%s: its key belongs to no device on a trusted chip list", csr);
    }
    if (d.state != MP_DEV_AUTHORIZED) {
        return mp_err(MP_ERR_UNAUTHORIZED, "%s: device %s already has a DAC", csr, d.udid);
    }
    if (is->order.issued >= is->order.quota) {
        return mp_err(MP_ERR_QUOTA, "order %lld has no DAC left of its quota of %llu", (long long)is->order.id,
                      (unsigned long long)is->order.quota);
    }
    mp_dac_signer sg = {0};
    if ((rc = mp_ks_sess_open(is->ks, &is->pai.key, &sg.sess)) != MP_OK) return rc;
    rc = mp_issue_sign(is, &sg, d.udid, point, serial, der, &len);
    mp_ks_sess_close(sg.sess);
    if (rc != MP_OK) return rc;
    /* Record the absolute path: recovery writes exactly there. */
    char abs[4096], *dir = realpath(".", NULL);
    snprintf(abs, sizeof(abs), "%s%s%s", out[0] == '/' ? "" : (dir ? dir : "."), out[0] == '/' ? "" : "/", out);
    free(dir);
    mp_cert_rec r;
    mp_issue_rec(is, d.udid, serial, der, len, &r);
    r.path = abs;
    r.station = is->station;
    if ((rc = mp_ledger_begin(is->ledger)) == MP_OK && (rc = mp_ledger_add_cert(is->ledger, &r)) == MP_OK) {
        rc = mp_ledger_commit(is->ledger);
    }
    mp_ledger_rollback(is->ledger);
    if (rc != MP_OK) return rc;
    /* Recorded: now the file. A failure here is repaired by writing it again
     * from the ledger (ledger export / a re-run of the batch for the folder). */
    if ((rc = mp_write_file(out, der, len, 0644, force)) != MP_OK) return rc;
    if ((rc = mp_ledger_begin(is->ledger)) == MP_OK &&
        (rc = mp_ledger_batch_written(is->ledger, r.batch)) == MP_OK) {
        rc = mp_ledger_commit(is->ledger);
    }
    mp_ledger_rollback(is->ledger);
    if (rc == MP_OK) printf("DAC for device %s (serial %s) written to %s\n", d.udid, r.serial, out);
    return rc;
}
