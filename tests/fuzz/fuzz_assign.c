/* fuzz_assign.c - the --assign CSV parser. */
#include <stdint.h>

#include "factory-data/creds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mp_assign a;
    if (mp_assign_parse("fuzz.csv", (const char *)data, size, &a) == MP_OK) {
        for (size_t i = 0; i < a.n; i++) (void)mp_assign_find(&a, a.rows[i].udid);
        mp_assign_free(&a);
    }
    return 0;
}
