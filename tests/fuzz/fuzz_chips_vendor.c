/* fuzz_chips_vendor.c - the chip-vendor deliveries `chips import` reads:
 * Microchip Trust Platform manifests (JSON array of JWS entries; signer and
 * root from tests/fuzz/data), OPTIGA Trust M data objects (the 0xC0 tag
 * header, then the birth certificate) and the udid,certificate-file map. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/pem.h>

#include "chips/chips.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static X509 *signer, *root;

static X509 *load(const char *name)
{
    const char *dir = getenv("FUZZ_DATA") ? getenv("FUZZ_DATA") : "tests/fuzz/data";
    char path[512];
    X509 *x = NULL;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (f == NULL || (x = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
        fprintf(stderr, "fuzz_chips_vendor: cannot read %s (set FUZZ_DATA)\n", path);
        abort();
    }
    fclose(f);
    return x;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signer = load("manifest-signer.pem");
    root = load("manifest-root.pem");
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
    mp_chips_src src = {.name = "fuzz", .root = root, .manifest_signer = signer, .verify_time = 1704067200};
    size_t seen = 0, n = 0;
    const char *path = fuzz_file(data, size, ".json");
    (void)!mp_chips_parse_manifest(&src, path, count_entry, &seen, &n);
    src.root = NULL; /* without the chip root: the x5c is not required */
    (void)!mp_chips_parse_manifest(&src, path, count_entry, &seen, &n);

    size_t off = mp_birth_tag_skip(data, size);
    if (off > 0 && off <= size) {
        src.root = root;
        (void)!mp_chips_parse_birth(&src, data + off, size - off, count_entry, &seen, &n);
    }

    mp_udid_map *m = NULL;
    char udid[MP_UDID_MAX + 1];
    if (mp_udid_map_load(path, &m) == MP_OK) {
        (void)!mp_udid_map_get(m, "x/CD16339301001C000001_E0E0.bin", udid);
        (void)!mp_udid_map_all_used(m);
        mp_udid_map_free(m);
    }
    (void)!mp_udid_from_filename(NULL, "CD16339301001C000001_E0E0.pem", udid);
    return 0;
}
