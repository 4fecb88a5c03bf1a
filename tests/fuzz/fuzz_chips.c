/* fuzz_chips.c - the chip lists `chips import` reads from a chip maker:
 * CSV, JSON and birth certificates (PEM bundle or DER, verified to the
 * simulated chip maker's root in tests/fuzz/data/chipmaker.pem, at a fixed
 * time so the seeds stay valid), and the two-pass folder reader. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/pem.h>

#include "chips/chips.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static X509 *root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("FUZZ_DATA") ? getenv("FUZZ_DATA") : "tests/fuzz/data";
    char path[512];
    snprintf(path, sizeof(path), "%s/chipmaker.pem", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL || (root = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
        fprintf(stderr, "fuzz_chips: cannot read %s (set FUZZ_DATA)\n", path);
        abort();
    }
    fclose(f);
    return 0;
}

static int count_entry(void *ctx, const mp_chip_entry *e)
{
    (void)e;
    (*(size_t *)ctx)++;
    return MP_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mp_chips_src src = {.name = "fuzz", .check_udid_hash = 1, .root = root,
                        .udid_from = MP_UDID_FROM_CN, .verify_time = 1796615000};
    size_t seen = 0, n = 0;
    (void)!mp_chips_parse_csv(&src, data, size, count_entry, &seen, &n);
    src.check_udid_hash = 0;
    (void)!mp_chips_parse_json(&src, data, size, count_entry, &seen, &n);
    (void)!mp_chips_parse_birth(&src, data, size, count_entry, &seen, &n);
    src.udid_from = MP_UDID_FROM_SERIAL;
    mp_birth *b = NULL;
    if (mp_birth_new(&src, &b) == MP_OK) {
        if (mp_birth_add_cas(b, "fuzz.pem", data, size) == MP_OK) {
            (void)!mp_birth_parse(b, "fuzz.pem", data, size, count_entry, &seen, &n);
        }
        mp_birth_free(b);
    }
    return 0;
}
