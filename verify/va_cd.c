/*
 * va_cd.c - checks 16-17: the CD signature (section 2 step 12: key id 600,
 * trusted key 601, CMS signature 602, TLV 603, test-key rules) and payload
 * (step 13: 501/604/605/606), plus TC-DA-1.2's envelope and field rules in
 * production mode (section 3).
 */
#include <string.h>

#include <openssl/err.h>

#include "cd.h"
#include "keystore.h"
#include "util.h"
#include "va_int.h"

static const uint8_t test_cd_kid[20] = {0x62, 0xFA, 0x82, 0x33, 0x59, 0xAC, 0xFA, 0xA9, 0x96, 0x3E,
                                        0x1C, 0xFA, 0x14, 0x0A, 0xDD, 0xF5, 0x04, 0xF3, 0x71, 0x60};

/* The trusted CD key with this key id. Production mode looks it up by the
 * SKID recomputed from the public key (TC-DA-1.2), else by the SKID
 * extension as the SDK's key store is filled. */
static int find_signer(va_ctx *c, const uint8_t *kid, size_t kid_len, uint8_t point[65])
{
    for (size_t i = 0; i < c->in->n_cd_signer; i++) {
        const mp_va_buf *b = &c->in->cd_signer[i];
        const uint8_t *p = b->der;
        X509 *x = d2i_X509(NULL, &p, (long)b->len);
        uint8_t skid[20];
        int ok = x != NULL && mp_cert_point(x, point) == MP_OK;
        if (ok && (c->in->production || mp_cert_skid(x, skid) != 0)) {
            mp_skid(point, skid);
        }
        X509_free(x);
        if (ok && kid_len == 20 && memcmp(kid, skid, 20) == 0) {
            return 0;
        }
    }
    mp_err_clear();
    return -1;
}

static int cd_signature(va_ctx *c, mp_cd *cd)
{
    const mp_va_buf *b = &c->in->cd;
    const uint8_t *kid, *content;
    size_t kid_len, content_len;
    uint8_t point[65];
    char hex[65] = "";
    if (c->in->production) {
        mp_cd_env env;
        if (mp_cd_env_parse(b->der, b->len, &env) != MP_OK) {
            return va_fail(c, VC_CD_SIGNATURE, VA_CD_INVALID_FORMAT, "%s (TC-DA-1.2)", mp_err_msg());
        }
    }
    if (mp_va_cms_key_id(b->der, b->len, &kid, &kid_len) != 0) {
        return va_fail(c, VC_CD_SIGNATURE, VA_CD_NO_KEY_ID, "CMS SignerInfo malformed: no signer key id");
    }
    mp_hex(kid, kid_len > 32 ? 32 : kid_len, hex, 1);
    int test_key = kid_len == 20 && memcmp(kid, test_cd_kid, 20) == 0;
    if (find_signer(c, kid, kid_len, point) != 0) {
        return va_fail(c, VC_CD_SIGNATURE, VA_CD_NO_CERT_FOUND, "no trusted CD signer with key id %s (--cd-signer)", hex);
    }
    if (test_key && c->in->production) {
        return va_fail(c, VC_CD_SIGNATURE, VA_CD_NO_CERT_FOUND, "CD signed with the SDK test CD key");
    }
    if (mp_va_cms_verify(b->der, b->len, point, &content, &content_len) != 0) {
        return va_fail(c, VC_CD_SIGNATURE, VA_CD_INVALID_SIGNATURE, "CMS envelope or signature invalid (signer %s)", hex);
    }
    if (mp_cd_decode(content, content_len, cd) != MP_OK) {
        return va_fail(c, VC_CD_SIGNATURE, VA_CD_INVALID_FORMAT, "%s", mp_err_msg());
    }
    if (test_key && cd->certification_type == 2) {
        return va_fail(c, VC_CD_SIGNATURE, VA_CD_NO_CERT_FOUND, "test CD key used for an official CD (certification_type 2)");
    }
    va_pass(c, VC_CD_SIGNATURE, "signed by %s%s", hex, test_key ? " (SDK test CD key)" : "");
    return 0;
}

static int pid_in(const mp_cd *cd, uint16_t pid)
{
    for (size_t i = 0; i < cd->n_pids; i++) {
        if (cd->product_ids[i] == pid) return 1;
    }
    return 0;
}

static int paa_in(const mp_cd *cd, const uint8_t kid[20])
{
    for (size_t i = 0; i < cd->n_paas; i++) {
        if (memcmp(cd->authorized_paas[i], kid, 20) == 0) return 1;
    }
    return 0;
}

/* dac_origin present: origin VID/PID against DAC and PAI; else vendor_id
 * and product_id_array. PAI PID 0 counts as absent. */
static int origin(va_ctx *c, const mp_cd *cd)
{
    uint16_t dv = c->dac_vp.vid, pv = c->pai_vp.vid, dp = c->dac_vp.pid;
    uint16_t pp = c->pai_vp.has_pid ? c->pai_vp.pid : 0;
    if (cd->has_dac_origin) {
        if (dv != cd->dac_origin_vid || pv != cd->dac_origin_vid) {
            return va_fail(c, VC_CD_PAYLOAD, VA_CD_INVALID_VENDOR_ID, "dac_origin_vendor_id %04X vs DAC/PAI VID %04X/%04X", cd->dac_origin_vid, dv, pv);
        }
        if (dp != cd->dac_origin_pid || (pp != 0 && pp != cd->dac_origin_pid)) {
            return va_fail(c, VC_CD_PAYLOAD, VA_CD_INVALID_PRODUCT_ID, "dac_origin_product_id %04X vs DAC/PAI PID %04X/%04X", cd->dac_origin_pid, dp, pp);
        }
        return 0;
    }
    if (dv != cd->vendor_id || pv != cd->vendor_id) {
        return va_fail(c, VC_CD_PAYLOAD, VA_CD_INVALID_VENDOR_ID, "CD vendor_id %04X vs DAC/PAI VID %04X/%04X", cd->vendor_id, dv, pv);
    }
    if (!pid_in(cd, dp) || (pp != 0 && !pid_in(cd, pp))) {
        return va_fail(c, VC_CD_PAYLOAD, VA_CD_INVALID_PRODUCT_ID, "DAC PID %04X / PAI PID %04X not in product_id_array", dp, pp);
    }
    return 0;
}

/* TC-DA-1.2 field rules (production). */
static int tc_fields(va_ctx *c, const mp_cd *cd)
{
    const char *bad = cd->vendor_id < 1 || cd->vendor_id > 0xFFEF ? "vendor_id outside 1..0xFFEF"
                      : cd->device_type_id >= 0x7FFFFFFF       ? "device_type_id >= 2^31-1"
                      : cd->security_level != 0                ? "security_level not 0"
                      : cd->security_information != 0          ? "security_information not 0"
                      : cd->version_number > 65534             ? "version_number > 65534"
                      : cd->certification_type > 2             ? "certification_type not 0..2"
                                                               : NULL;
    if (bad != NULL) {
        return va_fail(c, VC_CD_PAYLOAD, VA_CD_INVALID_FORMAT, "%s (TC-DA-1.2)", bad);
    }
    if (cd->has_paa_list && !paa_in(cd, c->pai_akid)) {
        return va_fail(c, VC_CD_PAYLOAD, VA_CD_INVALID_PAA, "PAI AKID not in authorized_paa_list (TC-DA-1.2)");
    }
    return 0;
}

static int cd_payload(va_ctx *c, const mp_cd *cd)
{
    uint16_t vid = c->in->has_vid ? c->in->vid : c->dac_vp.vid;
    uint16_t pid = c->in->has_pid ? c->in->pid : c->dac_vp.pid;
    if (cd->format_version != 1 || cd->certification_type >= 3) {
        return va_fail(c, VC_CD_PAYLOAD, VA_ATT_ELEMENTS_MALFORMED, "format_version %u, certification_type %u",
                       cd->format_version, cd->certification_type);
    }
    if (cd->vendor_id != vid) {
        return va_fail(c, VC_CD_PAYLOAD, VA_CD_INVALID_VENDOR_ID, "CD vendor_id %04X, Basic Information VendorID %04X", cd->vendor_id, vid);
    }
    if (!pid_in(cd, pid)) {
        return va_fail(c, VC_CD_PAYLOAD, VA_CD_INVALID_PRODUCT_ID, "Basic Information ProductID %04X not in product_id_array", pid);
    }
    if (origin(c, cd) != 0) {
        return -1;
    }
    if (cd->has_paa_list && !paa_in(cd, c->paa_skid)) {
        return va_fail(c, VC_CD_PAYLOAD, VA_CD_INVALID_PAA, "PAA SKID not in authorized_paa_list (%zu entries)", cd->n_paas);
    }
    if (c->in->production && tc_fields(c, cd) != 0) {
        return -1;
    }
    va_pass(c, VC_CD_PAYLOAD, "vendor %04X, product %04X, certification_type %u%s%s", cd->vendor_id, pid,
            cd->certification_type, cd->has_dac_origin ? ", dac_origin" : "", cd->has_paa_list ? ", PAA authorized" : "");
    return 0;
}

int va_cd(va_ctx *c)
{
    mp_cd cd;
    if (c->in->cd.len == 0) {
        va_skip(c, VC_CD_SIGNATURE, "no --cd given");
        va_skip(c, VC_CD_PAYLOAD, "no --cd given");
        return 0;
    }
    if (cd_signature(c, &cd) != 0 || cd_payload(c, &cd) != 0) {
        return -1;
    }
    return 0;
}
