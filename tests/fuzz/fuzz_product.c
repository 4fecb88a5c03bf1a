/* fuzz_product.c - product.json, the file every stage reads its product
 * from (field rules, typo check, the SPAKE2+ and onboarding defaults). */
#include <stdint.h>

#include "fuzz_file.h"
#include "product.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mp_product p;
    if (mp_product_load(fuzz_file(data, size, ".json"), &p) == MP_OK) {
        mp_product_free(&p);
    }
    return 0;
}
