/* p11_read_value.c - test tool: try to read CKA_VALUE of a private key by
 * label through raw PKCS#11. Exit 0 if the token refuses (sensitive), 1 if
 * the value came out, 2 on setup errors. Usage: MODULE TOKEN PIN LABEL */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

int main(int argc, char **argv)
{
    if (argc != 5) return 2;
    void *dl = dlopen(argv[1], RTLD_NOW);
    CK_C_GetFunctionList gfl = dl ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
    CK_FUNCTION_LIST *f;
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
        f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s);
        if (f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)argv[3], strlen(argv[3])) != CKR_OK) return 2;
        CK_OBJECT_CLASS c = CKO_PRIVATE_KEY;
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &c, sizeof(c)}, {CKA_LABEL, argv[4], strlen(argv[4])}};
        CK_OBJECT_HANDLE h;
        CK_ULONG cnt = 0;
        f->C_FindObjectsInit(s, t, 2);
        f->C_FindObjects(s, &h, 1, &cnt);
        f->C_FindObjectsFinal(s);
        if (cnt != 1) return 2;
        unsigned char buf[256];
        CK_ATTRIBUTE a = {CKA_VALUE, buf, sizeof(buf)};
        CK_RV rv = f->C_GetAttributeValue(s, h, &a, 1);
        CK_BBOOL sens = 0, extr = 1;
        CK_ATTRIBUTE b[] = {{CKA_SENSITIVE, &sens, 1}, {CKA_EXTRACTABLE, &extr, 1}};
        f->C_GetAttributeValue(s, h, b, 2);
        printf("C_GetAttributeValue(CKA_VALUE) = 0x%lx, sensitive=%d extractable=%d\n", rv, sens, extr);
        return rv == CKR_ATTRIBUTE_SENSITIVE && sens && !extr ? 0 : 1;
    }
    return 2;
}
