/* cd_trust.c - `cd verify --trust DIR`: find the CD signer by the CMS key
 * ID (SHA-1 of its key, as TC-DA-1.2 does), build its chain to a root in the
 * trust folder with OpenSSL, and check its key usage, instead of trusting a
 * --signer-cert as given (see cd_signer.h). */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cd_signer.h"
#include "keystore.h"
#include "trust.h"
#include "util.h"
#include "x509.h"

static int self_signed(X509 *x)
{
    return X509_check_issued(x, x) == X509_V_OK;
}

static int key_id_of(X509 *x, uint8_t kid[20])
{
    uint8_t point[65];
    if (mp_cert_point(x, point) != MP_OK) return -1;
    mp_skid(point, kid);
    return 0;
}

static int in_folder(STACK_OF(X509) *all, X509 *x)
{
    for (int i = 0; i < sk_X509_num(all); i++) {
        if (X509_cmp(sk_X509_value(all, i), x) == 0) return 1;
    }
    return 0;
}

/* Load the folder: anchors (self-signed) into the store, the rest as untrusted. */
static int load_folder(const char *dir, X509_STORE *store, STACK_OF(X509) *untrusted, STACK_OF(X509) *all)
{
    char **files = NULL;
    size_t n = 0;
    int rc = mp_trust_dir_files(dir, NULL, &files, &n);
    for (size_t i = 0; rc == MP_OK && i < n; i++) {
        X509 *x = NULL;
        if ((rc = mp_cert_load(files[i], &x)) != MP_OK) break;
        if (self_signed(x)) X509_STORE_add_cert(store, x);
        else X509_up_ref(x), sk_X509_push(untrusted, x);
        sk_X509_push(all, x);
    }
    if (rc == MP_OK && n == 0) rc = mp_err(MP_ERR_INVALID, "--trust %s: no *.der or *.pem certificate in the folder", dir);
    mp_trust_files_free(files, n);
    ERR_clear_error();
    return rc;
}

static int chain_ok(X509_STORE *store, STACK_OF(X509) *untrusted, X509 *signer, char *how, size_t howlen)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = ctx != NULL && X509_STORE_CTX_init(ctx, store, signer, untrusted) == 1 && X509_verify_cert(ctx) == 1;
    int err = ctx ? X509_STORE_CTX_get_error(ctx) : 0;
    if (ok) {
        snprintf(how, howlen, "chains to a root in the trust folder (%d certificate(s))",
                 sk_X509_num(X509_STORE_CTX_get0_chain(ctx)));
    }
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return ok ? MP_OK : mp_err(MP_ERR_VERIFY, "the CD signer does not chain to a root in the trust folder: %s",
                               X509_verify_cert_error_string(err));
}

int mp_cd_trust_signer(const char *dir, const char *signer_path, const uint8_t *kid, size_t kid_len,
                       uint8_t point[65], char *how, size_t howlen)
{
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null(), *all = sk_X509_new_null();
    X509 *signer = NULL;
    uint8_t k[20];
    int rc = store && untrusted && all ? load_folder(dir, store, untrusted, all) : mp_err(MP_ERR_GENERAL, "out of memory");
    if (rc == MP_OK && signer_path != NULL) {
        rc = mp_cert_load(signer_path, &signer);
    } else if (rc == MP_OK) {
        for (int i = 0; i < sk_X509_num(all) && signer == NULL; i++) {
            X509 *x = sk_X509_value(all, i);
            if (kid_len == 20 && key_id_of(x, k) == 0 && memcmp(k, kid, 20) == 0) {
                signer = x;
                X509_up_ref(x);
            }
        }
        if (signer == NULL) rc = mp_err(MP_ERR_MISMATCH, "no certificate in the trust folder %s has the CD's signer key ID", dir);
    }
    if (rc == MP_OK && (key_id_of(signer, k) != 0 || kid_len != 20 || memcmp(k, kid, 20) != 0)) {
        rc = mp_err(MP_ERR_MISMATCH, "the CD's signer key ID is not SHA-1 of the signer certificate's key");
    }
    if (rc == MP_OK && in_folder(all, signer) && self_signed(signer)) {
        /* a key trusted as such (the SDK's test CD key is a self-signed CA
         * without digitalSignature; commissioners trust its key directly) */
        snprintf(how, howlen, "is itself a trusted root in the folder");
    } else if (rc == MP_OK && (rc = chain_ok(store, untrusted, signer, how, howlen)) == MP_OK) {
        uint32_t ku = X509_get_key_usage(signer);
        if ((X509_get_extension_flags(signer) & EXFLAG_KUSAGE) && !(ku & KU_DIGITAL_SIGNATURE)) {
            rc = mp_err(MP_ERR_PROFILE, "the CD signer's keyUsage lacks digitalSignature: it may not sign CDs");
        }
    }
    if (rc == MP_OK) rc = mp_cert_point(signer, point);
    X509_free(signer);
    sk_X509_pop_free(untrusted, X509_free);
    sk_X509_pop_free(all, X509_free);
    X509_STORE_free(store);
    return rc;
}
