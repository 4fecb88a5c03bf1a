/* fuzz_fd_unpack.c - the factory-data image decoders (nrf CBOR, nrf-json,
 * esp32 NVS, esp32-csv, nxp KLV, json, and every format added to the
 * table), with format detection; a decoded
 * device must re-pack. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "factory-data/fd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mp_fd_device d;
    for (const mp_fd_format_desc *f = mp_fd_formats; f->id != 0; f++) { /* every format of the table */
        /* encrypted formats: the key of the seed (tests/fuzz/seeds/fuzz_fd_unpack/seed.nxp-aes128) */
        mp_fd_opts o = {.partition_size = (f->flags & MP_FDF_HEX) ? 1u << 20 : 0, .has_offset = 1, .has_aes128 = 1,
                        .has_nvs_keys = 1, .has_esp_hmac_key = 1};
        memcpy(o.aes128, "0123456789abcdef", 16);
        /* esp32-enc, esp32-secure-cert: the keys of tests/golden/fd (nvs_keys.bin, hmac.key), as the seeds */
        for (int i = 0; i < 64; i++) o.nvs_keys[i] = (uint8_t)i;
        static const uint8_t hk[32] = {0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81,
                                       0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7, 0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4};
        memcpy(o.esp_hmac_key, hk, 32);
        if (mp_fd_unpack_with(f->id, data, size, &o, &d) == MP_OK) {
            uint8_t *img = NULL;
            size_t n = 0;
            if (mp_fd_pack(f->id, &d, &o, &img, &n) != MP_OK) abort();
            free(img);
        }
    }
    (void)mp_fd_detect(data, size);
    (void)mp_fd_detect_file("x.nrf.json", data, size);
    return 0;
}
