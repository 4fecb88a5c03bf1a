/* fuzz_fd_extras.c - the --esp32-extra-config / --esp32-extra-values CSV
 * pair (fd_extras.c): the input is the config, a NUL, then the values; a
 * loaded pair must give each row back by its UDID and pack into an esp32
 * image and its CSV. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "factory-data/fd.h"
#include "factory-data/fd_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *tmp(int k, const uint8_t *p, size_t n)
{
    static char path[2][64];
    static int fd[2] = {-1, -1};
    if (fd[k] < 0) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path[k], sizeof(path[k]), "%s/mp-fuzz-x%d-XXXXXX", dir, k);
        if ((fd[k] = mkstemp(path[k])) < 0) abort();
    }
    if (ftruncate(fd[k], 0) != 0 || pwrite(fd[k], p, n, 0) != (ssize_t)n) abort();
    return path[k];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t n1 = nul ? (size_t)(nul - data) : size;
    const char *cfg = tmp(0, data, n1), *vals = tmp(1, nul ? nul + 1 : data, nul ? size - n1 - 1 : 0);
    mp_fd_extras x;
    if (mp_fd_extras_load(cfg, vals, &x) != MP_OK) return 0;
    for (size_t i = 0; i < x.nrows; i++) {
        if (mp_fd_extras_row(&x, x.udid[i]) != x.vals + i * x.nkeys) abort();
    }
    /* the extras alone into an NVS image (no device fields: the packer's
     * own layer, fd_esp32_pack), then read back: every entry is there */
    mp_fd_opts o = {.extras = &x, .partition_size = 0x100000, .esp_secure_cert = 1};
    mp_fd_device d;
    mp_fd_device_init(&d);
    d.extra = x.vals;
    uint8_t *img = NULL;
    size_t n = 0;
    json_t *j = NULL;
    if (fd_esp32_pack(&d, &o, &img, &n) == MP_OK) {
        if (mp_fd_esp32_other_entries(img, n, &j) != MP_OK) abort();
        size_t got = 0;
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) got += json_object_size(v);
        if (got != x.nkeys) abort();
        json_decref(j);
        free(img);
    }
    if (fd_esp32_csv_pack(&d, &o, &img, &n) == MP_OK) free(img);
    mp_fd_extras_free(&x);
    return 0;
}
