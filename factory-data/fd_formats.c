/*
 * fd_formats.c - the one table of factory-data formats (fd.h). A new
 * platform is its fd_<platform>.c (packer, reader, content test) and one row
 * here; fd.c, the build engine and the commands iterate over this table.
 */
#include "fd_int.h"

#include <pthread.h>
#include <string.h>

const mp_fd_format_desc mp_fd_formats[] = {
    {MP_FD_NRF, "nrf", "nrf.cbor", MP_FDF_KEY | MP_FDF_ISO_DATE | MP_FDF_BUILD | MP_FDF_FLASH, 0, MP_FD_NRF_JSON, MP_FD_NRF_HEX, 0,
     fd_nrf_pack, fd_nrf_unpack, fd_nrf_detect, NULL},
    {MP_FD_NRF_JSON, "nrf-json", "nrf.json", MP_FDF_KEY | MP_FDF_ISO_DATE | MP_FDF_SUFFIX, 0, 0, 0, 0,
     fd_nrf_json_pack, fd_nrf_json_unpack, fd_nrf_json_detect, NULL},
    {MP_FD_ESP32, "esp32", "esp32.bin", MP_FDF_KEY | MP_FDF_CD | MP_FDF_BUILD, 16u << 20, MP_FD_ESP32_CSV, 0, MP_FD_ESP32_ENC,
     fd_esp32_pack, fd_esp32_unpack, fd_esp32_detect, NULL},
    {MP_FD_ESP32_CSV, "esp32-csv", "esp32.csv", MP_FDF_KEY | MP_FDF_CD, 0, 0, 0, 0,
     fd_esp32_csv_pack, fd_esp32_csv_unpack, fd_esp32_csv_detect, NULL},
    {MP_FD_NXP, "nxp", "nxp.bin", MP_FDF_KEY | MP_FDF_CD | MP_FDF_ISO_DATE | MP_FDF_BUILD | MP_FDF_FLASH, 0, 0, MP_FD_NXP_HEX, MP_FD_NXP_AES128,
     fd_nxp_pack, fd_nxp_unpack, fd_nxp_detect, fd_nxp_check},
    {MP_FD_JSON, "json", "json", MP_FDF_BUILD, 0, 0, 0, 0,
     fd_json_pack, fd_json_unpack, fd_json_detect, NULL},
    {MP_FD_LINUX, "linux", "chip_factory.ini", MP_FDF_ISO_DATE | MP_FDF_BUILD, 1u << 20, 0, 0, 0,
     fd_linux_pack, fd_linux_unpack, fd_linux_detect, fd_linux_check},
    {MP_FD_NRF_HEX, "nrf-hex", "nrf.hex", MP_FDF_KEY | MP_FDF_ISO_DATE | MP_FDF_SUFFIX | MP_FDF_HEX, 0, 0, 0, 0,
     fd_nrf_hex_pack, fd_nrf_hex_unpack, fd_nrf_hex_detect, NULL},
    {MP_FD_NXP_HEX, "nxp-hex", "nxp.hex", MP_FDF_KEY | MP_FDF_CD | MP_FDF_ISO_DATE | MP_FDF_SUFFIX | MP_FDF_HEX, 0, 0, 0, 0,
     fd_nxp_hex_pack, fd_nxp_hex_unpack, fd_nxp_hex_detect, fd_nxp_check},
    {MP_FD_NXP_AES128, "nxp-aes128", "nxp.aes128.bin", MP_FDF_KEY | MP_FDF_CD | MP_FDF_ISO_DATE | MP_FDF_SUFFIX | MP_FDF_FLASH | MP_FDF_AES, 0, 0, 0, 0,
     fd_nxp_aes_pack, fd_nxp_aes_unpack, fd_nxp_aes_detect, fd_nxp_check},
    {MP_FD_ESP32_SC, "esp32-secure-cert", "esp_secure_cert.bin", MP_FDF_KEY | MP_FDF_BUILD | MP_FDF_ATTEST, 0x2000, 0, 0, 0,
     fd_esp32_sc_pack, fd_esp32_sc_unpack, fd_esp32_sc_detect, NULL},
    {MP_FD_ESP32_ENC, "esp32-enc", "esp32.enc.bin", MP_FDF_KEY | MP_FDF_CD | MP_FDF_SUFFIX | MP_FDF_XTS, 16u << 20, 0, 0, 0,
     fd_esp32_enc_pack, fd_esp32_enc_unpack, fd_esp32_enc_detect, NULL},
    {MP_FD_SILABS, "silabs", "silabs.tar", MP_FDF_KEY | MP_FDF_CD | MP_FDF_ISO_DATE | MP_FDF_BUILD, 64u << 10, 0, 0, 0,
     fd_silabs_pack, fd_silabs_unpack, fd_silabs_detect, fd_silabs_check},
    {0, NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL},
};

const mp_fd_format_desc *mp_fd_format(int format)
{
    for (const mp_fd_format_desc *f = mp_fd_formats; f->id != 0; f++) {
        if (f->id == format) return f;
    }
    return NULL;
}

static char choices[2][256];
static pthread_once_t choices_once = PTHREAD_ONCE_INIT;

static void make_choices(void)
{
    for (int b = 0; b < 2; b++) {
        size_t at = 0;
        for (const mp_fd_format_desc *f = mp_fd_formats; f->id != 0; f++) {
            if (b && !(f->flags & MP_FDF_BUILD)) continue;
            int n = snprintf(choices[b] + at, sizeof(choices[b]) - at, "%s%s", at ? "|" : "", f->name);
            if (n > 0 && (size_t)n < sizeof(choices[b]) - at) at += (size_t)n;
        }
    }
}

const char *mp_fd_format_choices(int build_only)
{
    pthread_once(&choices_once, make_choices);
    return choices[build_only ? 1 : 0];
}
