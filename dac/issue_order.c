/* issue_order.c - the DAC batch engine's order side (see issue.h): opening a
 * production order's PAI and DAC template (mp_issue_prepare, set_validity,
 * check_open, release), signing one device's DAC and its ledger record
 * (mp_issue_sign, mp_issue_rec), and the short-run error. The batch run
 * itself (workers, chunk recording, writer thread) is in issue.c. */
#include "dac/issue.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "util.h"

int mp_issue_prepare(mp_issue *is, mp_ledger *l, mp_ks *ks, int64_t order_id, int test_mode)
{
    char skid[41];
    int rc;
    is->ledger = l;
    is->ks = ks;
    if ((rc = mp_ledger_get_order(l, order_id, &is->order)) != MP_OK) {
        return rc;
    }
    if (mp_order_is_external(&is->order)) {
        return mp_err(MP_ERR_USAGE, "order %lld records DACs issued by another PKI (dac import); it issues none", (long long)order_id);
    }
    if ((rc = mp_ca_open(ks, is->order.pai_cert, is->order.pai_key, MP_PAI, test_mode, &is->pai)) != MP_OK) {
        return mp_err_ctx(rc, "order %lld", (long long)order_id);
    }
    mp_hex(is->pai.skid, 20, skid, 1);
    if (strcmp(skid, is->order.pai_skid) != 0) {
        return mp_err(MP_ERR_MISMATCH, "%s is not the PAI order %lld was created with (SKID %s)", is->order.pai_cert,
                      (long long)order_id, is->order.pai_skid);
    }
    return mp_issue_set_validity(is, time(NULL));
}

int mp_issue_set_validity(mp_issue *is, time_t now)
{
    time_t nb = is->order.valid_from ? is->order.valid_from : now;
    time_t na = is->order.days ? nb + (time_t)is->order.days * 86400 - 1 : MP_NO_EXPIRY;
    if (na > MP_NO_EXPIRY) {
        na = MP_NO_EXPIRY; /* beyond 9999 there is no encoding: no expiry */
    }
    time_t pnb, pna;
    if (mp_asn1_time(X509_get0_notBefore(is->pai.cert), &pnb) != 0 ||
        mp_asn1_time(X509_get0_notAfter(is->pai.cert), &pna) != 0 || nb < pnb || nb > pna) {
        return mp_err(MP_ERR_PROFILE, "the DAC notBefore lies outside the PAI's validity window");
    }
    return mp_dac_tmpl_init(&is->tmpl, is->pai.cert, is->order.vid, is->order.pid, nb, na);
}

int mp_issue_sign(const mp_issue *is, const mp_dac_signer *sg, const char *udid, const uint8_t point[static 65],
                  uint8_t serial[static 16], uint8_t *der, size_t *len)
{
    char cn[65];
    int rc;
    if ((rc = mp_dac_cn(is->order.cn_template, udid, is->order.vid, is->order.pid, cn)) != MP_OK ||
        (rc = mp_serial_random(serial)) != MP_OK) {
        return rc;
    }
    return mp_dac_build(&is->tmpl, cn, point, serial, sg, der, len);
}

void mp_issue_rec(const mp_issue *is, const char *udid, const uint8_t serial[static 16], const uint8_t *der, size_t len,
                  mp_cert_rec *r)
{
    uint8_t h[32];
    memset(r, 0, sizeof(*r));
    r->order_id = is->order.id;
    r->not_before = is->tmpl.not_before;
    r->not_after = is->tmpl.not_after;
    r->der = der;
    r->der_len = len;
    snprintf(r->udid, sizeof(r->udid), "%s", udid);
    snprintf(r->pai_skid, sizeof(r->pai_skid), "%s", is->order.pai_skid);
    mp_serial_hex(serial, r->serial);
    SHA256(der, len, h);
    mp_hex(h, 32, r->sha256, 0);
}

int mp_issue_check_open(const mp_issue *is)
{
    return is->order.closed ? mp_err(MP_ERR_QUOTA, "production order %lld is closed", (long long)is->order.id) : MP_OK;
}

void mp_issue_release(mp_issue *is)
{
    mp_ca_close(&is->pai);
}

int mp_issue_short(const mp_issue *is, uint64_t count)
{
    return mp_err(MP_ERR_QUOTA, "issued %llu of the %llu asked: the order's quota, this station's sub-quota or the"
                  " authorized devices ran out (other runs share them)", (unsigned long long)is->issued,
                  (unsigned long long)count);
}
