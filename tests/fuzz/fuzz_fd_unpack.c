/* fuzz_fd_unpack.c - the factory-data image decoders (nrf CBOR, nrf-json,
 * esp32 NVS, esp32-csv, nxp KLV, json), with format detection; a decoded
 * device must re-pack. */
#include <stdint.h>
#include <stdlib.h>

#include "factory-data/fd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int formats[] = {MP_FD_NRF, MP_FD_NRF_JSON, MP_FD_ESP32, MP_FD_ESP32_CSV, MP_FD_NXP, MP_FD_JSON};
    static mp_fd_device d;
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (mp_fd_unpack(formats[i], data, size, &d) == MP_OK) {
            uint8_t *img = NULL;
            size_t n = 0;
            if (mp_fd_pack(formats[i], &d, NULL, &img, &n) != MP_OK) abort();
            free(img);
        }
    }
    (void)mp_fd_detect(data, size);
    (void)mp_fd_detect_file("x.nrf.json", data, size);
    return 0;
}
