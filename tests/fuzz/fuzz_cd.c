/*
 * fuzz_cd.c - libFuzzer target for everything that reads an outside CD:
 * the strict CMS envelope walk, the CD TLV decoder, the general TLV reader
 * and the DER/hex/base64 unarmouring.
 */
#include <stdint.h>
#include <stdlib.h>

#include "cd.h"
#include "tlv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mp_cd_env env;
    mp_cd cd;
    mp_tlv_reader r;
    mp_tlv_elem e;
    uint8_t *der = NULL;
    size_t der_len = 0;

    /* the input as a whole CD envelope, then its content */
    if (mp_cd_env_parse(data, size, &env) == MP_OK) {
        (void)!mp_cd_decode(env.content, env.content_len, &cd);
    }
    /* the input as CD TLV */
    if (mp_cd_decode(data, size, &cd) == MP_OK) {
        (void)!mp_cd_validate(&cd);
    }
    /* the input as any TLV stream */
    mp_tlv_reader_init(&r, data, size);
    for (int i = 0; i < 4096 && mp_tlv_next(&r, &e) == MP_OK && e.type != MP_TLV_EOF; i++) {
    }
    (void)!mp_tlv_check(data, size);
    /* the input as a CD file in any encoding */
    if (mp_cd_unarmor(data, size, &der, &der_len) == MP_OK) {
        (void)!mp_cd_env_parse(der, der_len, &env);
        free(der);
    }
    return 0;
}
