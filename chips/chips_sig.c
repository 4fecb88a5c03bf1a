/* chips_sig.c - detached signatures over chip-list files (see chips.h). */
#include "chips/chips.h"

#include <stdio.h>
#include <string.h>

#include <openssl/pem.h> /* before cms.h: PEM_read_bio_CMS */
#include <openssl/cms.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>

#include "util.h"
#include "x509.h"

void mp_chips_signer_desc(X509 *x, char desc[static 512])
{
    char subj[400], fp[65];
    X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
    mp_cert_sha256_hex(x, fp);
    snprintf(desc, 512, "%s; sha256=%s", subj, fp);
}

static int is_pem(const uint8_t *b, size_t n)
{
    size_t k = 0;
    while (k < n && (b[k] == ' ' || b[k] == '\n' || b[k] == '\r' || b[k] == '\t')) k++;
    return n - k >= 10 && memcmp(b + k, "-----BEGIN", 10) == 0;
}

/* Parse the signature as CMS (PEM or DER); NULL if it is not CMS. */
static CMS_ContentInfo *cms_parse(const uint8_t *sig, size_t len)
{
    CMS_ContentInfo *cms = NULL;
    if (is_pem(sig, len)) {
        BIO *b = BIO_new_mem_buf(sig, (int)len);
        cms = b != NULL ? PEM_read_bio_CMS(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
    } else {
        const unsigned char *p = sig;
        cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
        if (cms != NULL && p != sig + len) {
            CMS_ContentInfo_free(cms);
            cms = NULL;
        }
    }
    ERR_clear_error();
    return cms;
}

/* Every SignerInfo must name the given certificate. */
static int cms_signers_are(CMS_ContentInfo *cms, X509 *signer)
{
    STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
    int n = sis != NULL ? sk_CMS_SignerInfo_num(sis) : 0;
    if (n <= 0) {
        return mp_err(MP_ERR_VERIFY, "the CMS signature has no signer");
    }
    for (int i = 0; i < n; i++) {
        if (CMS_SignerInfo_cert_cmp(sk_CMS_SignerInfo_value(sis, i), signer) != 0) {
            return mp_err(MP_ERR_VERIFY, "the CMS signature was made by another signer than the given --signer certificate");
        }
    }
    return MP_OK;
}

static int cms_verify(CMS_ContentInfo *cms, const uint8_t *data, size_t len, X509 *signer)
{
    int rc;
    if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
        return mp_err(MP_ERR_VERIFY, "the CMS signature is not SignedData");
    }
    if (!CMS_is_detached(cms)) {
        return mp_err(MP_ERR_VERIFY, "the CMS signature embeds its content; a detached signature over the list file is required");
    }
    if ((rc = cms_signers_are(cms, signer)) != MP_OK) {
        return rc;
    }
    STACK_OF(X509) *certs = sk_X509_new_null();
    BIO *in = BIO_new_mem_buf(data, (int)len);
    if (certs == NULL || in == NULL || sk_X509_push(certs, signer) <= 0) {
        sk_X509_free(certs);
        BIO_free(in);
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    /* The signer certificate is pinned by the operator: no chain building, no
     * certificates from inside the CMS, content bytes taken as they are. */
    int ok = CMS_verify(cms, certs, NULL, in, NULL,
                        CMS_BINARY | CMS_NOINTERN | CMS_NO_SIGNER_CERT_VERIFY);
    sk_X509_free(certs);
    BIO_free(in);
    return ok == 1 ? MP_OK : mp_err_ssl(MP_ERR_VERIFY, "the CMS signature does not verify over the list file");
}

static int ecdsa_verify(const uint8_t *data, size_t len, const uint8_t *sig, size_t sig_len,
                        X509 *signer)
{
    const unsigned char *p = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
    ECDSA_SIG_free(es);
    if (es == NULL || p != sig + sig_len) {
        ERR_clear_error();
        return mp_err(MP_ERR_VERIFY, "the signature is neither CMS (DER or PEM) nor a DER ECDSA signature");
    }
    uint8_t pt[65];
    if (mp_cert_point(signer, pt) != MP_OK) {
        return mp_err(MP_ERR_VERIFY, "a raw ECDSA signature needs an EC P-256 signer certificate");
    }
    EVP_PKEY *pk = X509_get0_pubkey(signer);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && pk != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
             EVP_DigestVerify(md, sig, sig_len, data, len) == 1;
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok ? MP_OK : mp_err(MP_ERR_VERIFY, "the ECDSA-P256/SHA-256 signature does not verify over the list file");
}

int mp_chips_verify_sig(const uint8_t *data, size_t len, const uint8_t *sig, size_t sig_len,
                        X509 *signer, char desc[static 512], const char **kind)
{
    int rc;
    if (len > 0x7FFFFFFF || sig_len > 0x7FFFFFFF || sig_len == 0) {
        return mp_err(MP_ERR_VERIFY, "signature or list file size out of range");
    }
    CMS_ContentInfo *cms = cms_parse(sig, sig_len);
    if (cms != NULL) {
        *kind = "cms";
        rc = cms_verify(cms, data, len, signer);
        CMS_ContentInfo_free(cms);
    } else {
        *kind = "ecdsa";
        rc = ecdsa_verify(data, len, sig, sig_len, signer);
    }
    if (rc == MP_OK) {
        mp_chips_signer_desc(signer, desc);
    }
    return rc;
}
