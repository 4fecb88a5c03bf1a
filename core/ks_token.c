/* ks_token.c - token initialisation and per-thread signing sessions of the
 * key store (see keystore.h). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "keystore_int.h"
#include "util.h"

/* ---- token initialisation ------------------------------------------------ */

int mp_ks_init_token(const mp_hsm_cfg *cfg, const char *label, const char *so_pin,
                     const char *user_pin)
{
    int rc = MP_ERR_GENERAL;
    const char *module = mp_ks_module_path(cfg);
    void *dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    CK_FUNCTION_LIST *fl = NULL;
    CK_SESSION_HANDLE s = 0;
    CK_C_GetFunctionList gfl = dl ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
    if (gfl == NULL || gfl(&fl) != CKR_OK || fl->C_Initialize(NULL) != CKR_OK) {
        rc = mp_err(MP_ERR_MODULE, "PKCS#11 module %s cannot be loaded", module);
        goto end;
    }
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    if (fl->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK) {
        rc = mp_err(MP_ERR_TOKEN, "%s: cannot list slots", module);
        goto fin;
    }
    CK_SLOT_ID free_slot = 0;
    int have_free = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (fl->C_GetTokenInfo(slots[i], &ti) != CKR_OK) continue;
        if (ti.flags & CKF_TOKEN_INITIALIZED) {
            char l[33];
            memcpy(l, ti.label, 32);
            l[32] = 0;
            for (int j = 31; j >= 0 && l[j] == ' '; j--) l[j] = 0;
            if (strcmp(l, label) == 0) {
                rc = mp_err(MP_ERR_KEY_EXISTS, "a token labelled '%s' already exists", label);
                goto fin;
            }
        } else if (!have_free) {
            free_slot = slots[i];
            have_free = 1;
        }
    }
    if (!have_free) {
        rc = mp_err(MP_ERR_TOKEN, "%s: no free slot for a new token", module);
        goto fin;
    }
    CK_UTF8CHAR lab[32];
    memset(lab, ' ', sizeof(lab));
    memcpy(lab, label, strlen(label) > 32 ? 32 : strlen(label));
    CK_RV rv = fl->C_InitToken(free_slot, (CK_UTF8CHAR *)so_pin, strlen(so_pin), lab);
    if (rv != CKR_OK) {
        rc = mp_err(MP_ERR_TOKEN, "C_InitToken failed (0x%lx)", rv);
        goto fin;
    }
    /* SoftHSM moves the new token to a new slot id: find it by label. */
    n = 64;
    fl->C_GetSlotList(CK_TRUE, slots, &n);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (fl->C_GetTokenInfo(slots[i], &ti) == CKR_OK && memcmp(ti.label, lab, 32) == 0) {
            free_slot = slots[i];
        }
    }
    if ((rv = fl->C_OpenSession(free_slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s)) != CKR_OK ||
        (rv = fl->C_Login(s, CKU_SO, (CK_UTF8CHAR *)so_pin, strlen(so_pin))) != CKR_OK ||
        (rv = fl->C_InitPIN(s, (CK_UTF8CHAR *)user_pin, strlen(user_pin))) != CKR_OK) {
        rc = mp_err(mp_ks_ckr_rc(rv), "cannot set the user PIN (0x%lx)", rv);
        goto fin;
    }
    fl->C_Logout(s);
    rc = MP_OK;
fin:
    if (s) fl->C_CloseSession(s);
    fl->C_Finalize(NULL);
end:
    if (dl) dlclose(dl);
    return rc;
}

/* ---- per-thread signing sessions ------------------------------------------ */

struct mp_ks_sess {
    mp_ks *ks;
    CK_SESSION_HANDLE sess;
    CK_OBJECT_HANDLE key;
    int copied;
};

int mp_ks_sess_open(mp_ks *ks, const mp_ks_key *key, mp_ks_sess **out)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    /* the token object: other sessions' copies carry the same ID and label */
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, (void *)key->id, key->id_len},
                        {CKA_LABEL, (void *)key->label, strlen(key->label)}, {CKA_TOKEN, &yes, sizeof(yes)}};
    CK_ATTRIBUTE copy_tmpl[] = {{CKA_TOKEN, &no, sizeof(no)}};
    CK_ULONG n = 0;
    mp_ks_sess *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    s->ks = ks;
    CK_SLOT_ID id = PKCS11_get_slotid_from_slot(ks->slot);
    CK_RV rv = ks->fl->C_OpenSession(id, CKF_SERIAL_SESSION, NULL, NULL, &s->sess);
    if (rv != CKR_OK) {
        free(s);
        return mp_err(mp_ks_ckr_rc(rv), "token '%s': cannot open a signing session (0x%lx)", ks->token, rv);
    }
    if ((rv = ks->fl->C_FindObjectsInit(s->sess, t, 4)) == CKR_OK) {
        rv = ks->fl->C_FindObjects(s->sess, &s->key, 1, &n);
        ks->fl->C_FindObjectsFinal(s->sess);
    }
    if (rv != CKR_OK || n != 1) {
        mp_ks_sess_close(s);
        return mp_err(MP_ERR_KEY_NOT_FOUND, "key '%s' not found for signing", key->label);
    }
    CK_OBJECT_HANDLE copy;
    if (ks->fl->C_CopyObject(s->sess, s->key, copy_tmpl, 1, &copy) == CKR_OK) {
        s->key = copy;
        s->copied = 1;
    }
    *out = s;
    return MP_OK;
}

size_t mp_ecdsa_raw_to_der(const uint8_t rs[static 64], uint8_t out[static 72])
{
    size_t o = 2;
    for (int part = 0; part < 2; part++) {
        const uint8_t *v = rs + 32 * part;
        size_t skip = 0;
        while (skip < 31 && v[skip] == 0) {
            skip++;
        }
        int pad = v[skip] & 0x80 ? 1 : 0;
        out[o++] = 0x02;
        out[o++] = (uint8_t)(32 - skip + (size_t)pad);
        if (pad) {
            out[o++] = 0;
        }
        memcpy(out + o, v + skip, 32 - skip);
        o += 32 - skip;
    }
    out[0] = 0x30;
    out[1] = (uint8_t)(o - 2);
    return o;
}

int mp_ks_sess_sign(mp_ks_sess *s, const uint8_t digest[static 32], uint8_t *sig, size_t *siglen)
{
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    uint8_t rs[64];
    CK_ULONG n = sizeof(rs);
    CK_RV rv = s->ks->fl->C_SignInit(s->sess, &mech, s->key);
    if (rv == CKR_OK) {
        rv = s->ks->fl->C_Sign(s->sess, (CK_BYTE_PTR)digest, 32, rs, &n);
    }
    if (rv != CKR_OK || n != 64) {
        return mp_err(mp_ks_ckr_rc(rv), "token '%s': C_Sign failed (0x%lx)", s->ks->token, rv);
    }
    *siglen = mp_ecdsa_raw_to_der(rs, sig);
    return MP_OK;
}

void mp_ks_sess_close(mp_ks_sess *s)
{
    if (s == NULL) {
        return;
    }
    s->ks->fl->C_CloseSession(s->sess); /* destroys the session copy */
    free(s);
}
