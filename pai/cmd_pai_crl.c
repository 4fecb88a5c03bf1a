/* cmd_pai_crl.c - `pai crl` signs the PAI's CRL (v2, AKID, CRL number,
 * reason codes) with the PAI key in the token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "ceremony.h"
#include "ledger.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"

enum { O_LEDGER = 1, O_PAI_CERT, O_PAI_KEY, O_OUT, O_DAYS };

static const mp_opt crl_opts[] = {
    {"pai-cert", O_PAI_CERT, OT_FILE, "FILE", "PAI certificate (required)"},
    {"pai-key", O_PAI_KEY, OT_STR, "LABEL|URI", "PAI key in the token (required)"},
    {"out", O_OUT, OT_OUT, "FILE", "CRL output, DER (required)"},
    {"days", O_DAYS, OT_UINT, "N", "nextUpdate = now + N days (default 30)"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace an existing output file"},
    {"ledger", O_LEDGER, OT_STR, "PATH", "ledger database (default STATE_DIR/ledger.sqlite)"},
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

static int reason_code(const char *r)
{
    static const char *const names[] = {"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
                                        "superseded", "cessationOfOperation", "certificateHold", "",
                                        "removeFromCRL", "privilegeWithdrawn"};
    for (int i = 0; i < 10; i++) {
        if (strcmp(names[i], r) == 0) return i;
    }
    return 0;
}

static int add_revoked(void *ctx, const char *serial, time_t when, const char *reason)
{
    X509_CRL *crl = ctx;
    X509_REVOKED *r = X509_REVOKED_new();
    BIGNUM *bn = NULL;
    ASN1_INTEGER *sn = NULL;
    ASN1_TIME *t = ASN1_TIME_set(NULL, when);
    ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();
    int code = reason_code(reason);
    int ok = r != NULL && t != NULL && e != NULL && BN_hex2bn(&bn, serial) > 0 &&
             (sn = BN_to_ASN1_INTEGER(bn, NULL)) != NULL && X509_REVOKED_set_serialNumber(r, sn) == 1 &&
             X509_REVOKED_set_revocationDate(r, t) == 1 &&
             (code == 0 || (ASN1_ENUMERATED_set(e, code) == 1 &&
                            X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, e, 0, 0) == 1)) &&
             X509_CRL_add0_revoked(crl, r) == 1;
    if (!ok) X509_REVOKED_free(r);
    ASN1_ENUMERATED_free(e);
    ASN1_TIME_free(t);
    ASN1_INTEGER_free(sn);
    BN_free(bn);
    return ok ? MP_OK : mp_err_ssl(MP_ERR_GENERAL, "cannot add serial %s to the CRL", serial);
}

static int build_crl(mp_ca *pai, mp_ledger *l, long days, X509_CRL **out)
{
    char skid[41];
    uint64_t number;
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *now = ASN1_TIME_set(NULL, time(NULL)), *next = ASN1_TIME_adj(NULL, time(NULL), (int)days, 0);
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    ASN1_INTEGER *num = ASN1_INTEGER_new();
    int rc = MP_ERR_GENERAL;
    mp_hex(pai->skid, 20, skid, 1);
    akid->keyid = ASN1_OCTET_STRING_new();
    if (crl == NULL || now == NULL || next == NULL || akid->keyid == NULL || num == NULL ||
        ASN1_OCTET_STRING_set(akid->keyid, pai->skid, 20) != 1 || X509_CRL_set_version(crl, 1) != 1 ||
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(pai->cert)) != 1 ||
        X509_CRL_set1_lastUpdate(crl, now) != 1 || X509_CRL_set1_nextUpdate(crl, next) != 1) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "cannot build the CRL");
        goto end;
    }
    /* The CRL number is burnt (committed) before the CRL is signed and
     * written: a crash later skips a number, never publishes one twice. */
    if ((rc = mp_ledger_begin(l)) != MP_OK || (rc = mp_ledger_each_revoked(l, skid, add_revoked, crl)) != MP_OK ||
        (rc = mp_ledger_next_crl_number(l, skid, &number)) != MP_OK || (rc = mp_ledger_commit(l)) != MP_OK) {
        mp_ledger_rollback(l);
        goto end;
    }
    if (ASN1_INTEGER_set_uint64(num, number) != 1 || X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, 0) != 1 ||
        X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1 || X509_CRL_sort(crl) != 1 ||
        X509_CRL_sign(crl, pai->signer, EVP_sha256()) <= 0) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "cannot sign the CRL");
        goto end;
    }
    rc = MP_OK;
    *out = crl;
    crl = NULL;
end:
    X509_CRL_free(crl);
    ASN1_TIME_free(now);
    ASN1_TIME_free(next);
    AUTHORITY_KEYID_free(akid);
    ASN1_INTEGER_free(num);
    return rc;
}

int pai_crl_main(int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *cert = NULL, *key = NULL, *out = NULL, *days = "30", *ledger = NULL;
    mp_ledger *l = NULL;
    mp_ks *ks = NULL;
    mp_ca pai = {0};
    X509_CRL *crl = NULL;
    uint8_t *der = NULL;
    int id, rc;
    mp_opt_init(&p, argc, argv, crl_opts, "pai crl", "--pai-cert pai.pem --pai-key LABEL --out pai.crl [--days N]",
                "Signs a v2 CRL (DER) listing the revoked DACs issued under this PAI, with the\n"
                "PAI key in the token: ecdsa-with-SHA256, AKID = PAI SKID, a CRL number that\n"
                "increases with every CRL, reason codes.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id == O_PAI_CERT) cert = val;
        else if (id == O_PAI_KEY) key = val;
        else if (id == O_OUT) out = val;
        else if (id == O_DAYS) days = val;
        else if (id == O_LEDGER) ledger = val;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "pai crl: unexpected argument %s", mp_opt_shown(val));
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    uint64_t d = mp_opt_uint(days);
    if (cert == NULL || key == NULL || out == NULL || d == 0 || d > 3650) {
        return mp_err(MP_ERR_USAGE, "pai crl: --pai-cert, --pai-key and --out are required; --days 1..3650");
    }
    if ((rc = mp_check_output(out, c.force)) != MP_OK || (rc = mp_ledger_open_state(c.state_dir, ledger, &l)) != MP_OK ||
        (rc = mp_ks_open(&c.hsm, &ks)) != MP_OK || (rc = mp_ca_open(ks, cert, key, MP_PAI, 1, &pai)) != MP_OK ||
        (rc = build_crl(&pai, l, (long)d, &crl)) != MP_OK) {
        goto end;
    }
    int n = i2d_X509_CRL(crl, &der);
    if ((rc = mp_write_file(out, der, (size_t)n, 0644, c.force)) == MP_OK) {
        rc = mp_ceremony_log(&c.rec, "pai crl", mp_ks_token_label(ks), &pai.key, NULL, out);
    }
    if (rc == MP_OK) printf("CRL with %d revoked DAC(s) written to %s\n", sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), out);
end:
    OPENSSL_free(der);
    X509_CRL_free(crl);
    mp_ca_close(&pai);
    mp_ks_close(ks);
    mp_ledger_close(l);
    return rc;
}
