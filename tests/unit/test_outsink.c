/* test_outsink.c - core/outsink.c: layouts and the JSON Lines bundle (a torn
 * last line is cut, the devices a bundle holds are listed for recovery). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outsink.h"
#include "testutil.h"

static void test_relpath(void)
{
    char p[128];
    CU_ASSERT_EQUAL(mp_out_relpath(MP_LAYOUT_FLAT, "AB12", ".der", p, sizeof(p)), MP_OK);
    CU_ASSERT_STRING_EQUAL(p, "AB12.der");
    CU_ASSERT_EQUAL(mp_out_relpath(MP_LAYOUT_PER_DEVICE, "AB12", ".key.der", p, sizeof(p)), MP_OK);
    CU_ASSERT_STRING_EQUAL(p, "AB12/AB12.key.der");
    CU_ASSERT_EQUAL(mp_out_relpath(MP_LAYOUT_FLAT, "AB12", ".der", p, 6), MP_ERR_IO);
    int v;
    CU_ASSERT_EQUAL(mp_layout_parse("per-device", &v), MP_OK);
    CU_ASSERT_EQUAL(v, MP_LAYOUT_PER_DEVICE);
    CU_ASSERT_EQUAL(mp_layout_parse("tree", &v), MP_ERR_USAGE);
    CU_ASSERT_EQUAL(mp_name_by_parse("serial", &v), MP_OK);
    CU_ASSERT_EQUAL(v, MP_NAME_BY_SERIAL);
}

static void test_bundle(void)
{
    char dir[] = "/tmp/mp-outsink-XXXXXX", path[128];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/lot.jsonl", dir);
    const uint8_t der[] = {0x30, 0x03, 0x02, 0x01, 0x07};
    mp_bundle b;
    CU_ASSERT_EQUAL_FATAL(mp_bundle_open(&b, path, 0644), MP_OK);
    CU_ASSERT_EQUAL(mp_bundle_add(&b, "ZZ", "0A", der, sizeof(der), ""), MP_OK);
    CU_ASSERT_EQUAL(mp_bundle_add(&b, "AA", "0B", der, sizeof(der), ""), MP_OK);
    CU_ASSERT_EQUAL(mp_bundle_flush(&b), MP_OK);
    mp_bundle_close(&b);
    /* a kill in the middle of the next line */
    FILE *f = fopen(path, "a");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("{\"udid\":\"MM\",\"ser", f);
    fclose(f);
    char **u = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(mp_bundle_udids(path, &u, &n), MP_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2); /* the torn line is not a device */
    CU_ASSERT_STRING_EQUAL(u[0], "AA");
    CU_ASSERT(mp_bundle_has(u, n, "ZZ") && !mp_bundle_has(u, n, "MM"));
    mp_bundle_udids_free(u, n);
    CU_ASSERT_EQUAL_FATAL(mp_bundle_open(&b, path, 0644), MP_OK); /* cuts the torn line */
    mp_bundle_close(&b);
    struct stat st;
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    f = fopen(path, "r");
    char line[512];
    int lines = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lines++;
        CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"dac\":\"MAMCAQc=\""));
        CU_ASSERT(line[strlen(line) - 1] == '\n');
    }
    fclose(f);
    CU_ASSERT_EQUAL(lines, 2);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0644);
    /* not a bundle: named */
    f = fopen(path, "w");
    fputs("hello\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(mp_bundle_udids(path, &u, &n), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "lot.jsonl:1"));
    unlink(path);
    rmdir(dir);
}

void register_outsink(void)
{
    CU_pSuite s = CU_add_suite("outsink", NULL, NULL);
    TU_ADD(s, test_relpath);
    TU_ADD(s, test_bundle);
}
