/* fuzz_tlv.c - the general Matter TLV reader (CDs, the QR code's TLV
 * extension, anything a stage decodes): element by element, touching every
 * string it hands out, skipping some containers whole, and the whole-stream
 * check. */
#include <stdint.h>
#include <stdlib.h>

#include "tlv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static void walk(const uint8_t *data, size_t size, int skip_odd)
{
    mp_tlv_reader r;
    mp_tlv_elem e;
    mp_tlv_reader_init(&r, data, size);
    for (int n = 0; n < 4096 && mp_tlv_next(&r, &e) == MP_OK && e.type != MP_TLV_EOF; n++) {
        for (size_t i = 0; e.data != NULL && i < e.len; i++) sink ^= e.data[i];
        (void)mp_tlv_type_name(e.type);
        int container = e.type == MP_TLV_STRUCT || e.type == MP_TLV_ARRAY || e.type == MP_TLV_LIST;
        if (container && skip_odd && (e.offset & 1) && mp_tlv_skip(&r) != MP_OK) break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    walk(data, size, 0);
    walk(data, size, 1);
    (void)!mp_tlv_check(data, size);
    return 0;
}
