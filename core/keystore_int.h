/* keystore_int.h - the key store's handle, shared by keystore.c and
 * ks_token.c (token initialisation, per-thread signing sessions). */
#ifndef MP_KEYSTORE_INT_H
#define MP_KEYSTORE_INT_H

#include <libp11.h>
#include <p11-kit/pkcs11.h>

#include "keystore.h"

struct mp_ks {
    PKCS11_CTX *p11;
    PKCS11_SLOT *slots;
    unsigned int nslots;
    PKCS11_SLOT *slot;
    void *dl;
    CK_FUNCTION_LIST *fl;
    CK_SESSION_HANDLE sess;
    int have_sess;
    int loaded; /* PKCS11_CTX_load succeeded: unload on close */
    char module[1024];
    char token[64];
};

/* A CK_RV as an exit code (err.h). */
int mp_ks_ckr_rc(CK_RV rv);

#endif
