/* p11_alter_key.c - test tool: try to alter a private key found by label the
 * way a PIN holder could (issue 13 item 8): set CKA_DERIVE true (an ECDH
 * oracle), or copy it with CKA_MODIFIABLE true. Exit 0 if the token refuses
 * both, 1 if either succeeded, 2 on setup errors.
 * Usage: MODULE TOKEN PIN LABEL */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST *f;

static int alter(CK_SESSION_HANDLE s, const char *label)
{
    CK_OBJECT_CLASS c = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE h, copy;
    CK_ULONG n = 0;
    if (f->C_FindObjectsInit(s, t, 2) != CKR_OK || f->C_FindObjects(s, &h, 1, &n) != CKR_OK) return 2;
    f->C_FindObjectsFinal(s);
    if (n != 1) return 2;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE derive = {CKA_DERIVE, &yes, sizeof(yes)};
    CK_RV set = f->C_SetAttributeValue(s, h, &derive, 1);
    CK_ATTRIBUTE ct[] = {{CKA_MODIFIABLE, &yes, sizeof(yes)}, {CKA_TOKEN, &no, sizeof(no)}};
    CK_RV cp = f->C_CopyObject(s, h, ct, 2, &copy);
    printf("set CKA_DERIVE: 0x%lx, copy: 0x%lx\n", set, cp);
    return set == CKR_OK || cp == CKR_OK;
}

int main(int argc, char **argv)
{
    if (argc != 5) return 2;
    void *dl = dlopen(argv[1], RTLD_NOW);
    CK_C_GetFunctionList gfl = dl ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
    if (gfl == NULL || gfl(&f) != CKR_OK || f->C_Initialize(NULL) != CKR_OK) return 2;
    CK_SLOT_ID slots[32];
    CK_ULONG n = 32;
    f->C_GetSlotList(CK_TRUE, slots, &n);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        char lab[33] = {0};
        f->C_GetTokenInfo(slots[i], &ti);
        memcpy(lab, ti.label, 32);
        for (int j = 31; j >= 0 && lab[j] == ' '; j--) lab[j] = 0;
        if (strcmp(lab, argv[2]) != 0) continue;
        CK_SESSION_HANDLE s;
        if (f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK ||
            f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)argv[3], strlen(argv[3])) != CKR_OK) return 2;
        int r = alter(s, argv[4]);
        f->C_Finalize(NULL);
        return r;
    }
    return 2;
}
