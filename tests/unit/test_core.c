/* test_core.c - numbers, dates, hex, files. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "util.h"

static void test_parse_uint(void)
{
    uint64_t v;
    CU_ASSERT_EQUAL(mp_parse_uint("9876", 0xFFFF, &v), MP_OK);
    CU_ASSERT_EQUAL(v, 9876);
    CU_ASSERT_EQUAL(mp_parse_uint("0x9876", 0xFFFF, &v), MP_OK);
    CU_ASSERT_EQUAL(v, 0x9876);
    CU_ASSERT_NOT_EQUAL(mp_parse_uint("-1", 0xFFFF, &v), MP_OK);
    CU_ASSERT_NOT_EQUAL(mp_parse_uint("12x", 0xFFFF, &v), MP_OK);
    CU_ASSERT_NOT_EQUAL(mp_parse_uint("65536", 0xFFFF, &v), MP_OK);
    CU_ASSERT_NOT_EQUAL(mp_parse_uint("", 0xFFFF, &v), MP_OK);
    CU_ASSERT_NOT_EQUAL(mp_parse_uint(" 1", 0xFFFF, &v), MP_OK);
    CU_ASSERT_NOT_EQUAL(mp_parse_uint("99999999999999999999999", UINT64_MAX, &v), MP_OK);
}

static void test_parse_vid_pid(void)
{
    uint16_t v;
    CU_ASSERT_EQUAL(mp_parse_vid("t", "FFF1", &v), MP_OK);
    CU_ASSERT_EQUAL(v, 0xFFF1);
    CU_ASSERT_EQUAL(mp_parse_vid("t", "0xfff4", &v), MP_OK);
    CU_ASSERT_EQUAL(mp_parse_vid("t", "0", &v), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_parse_vid("t", "FFF5", &v), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_parse_vid("t", "10000", &v), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_parse_pid("t", "FFFF", &v), MP_OK);
    CU_ASSERT_EQUAL(mp_parse_pid("t", "0000", &v), MP_ERR_INVALID);
}

static void test_parse_time(void)
{
    time_t t;
    CU_ASSERT_EQUAL(mp_parse_time("2025-06-01", &t), MP_OK);
    CU_ASSERT_EQUAL(t, 1748736000);
    CU_ASSERT_EQUAL(mp_parse_time("2025-06-01T00:00:01Z", &t), MP_OK);
    CU_ASSERT_EQUAL(t, 1748736001);
    CU_ASSERT_NOT_EQUAL(mp_parse_time("2025-02-30", &t), MP_OK);
    CU_ASSERT_NOT_EQUAL(mp_parse_time("2025-06-01T00:00:01", &t), MP_OK);
    CU_ASSERT_NOT_EQUAL(mp_parse_time("01/06/2025", &t), MP_OK);
    CU_ASSERT_NOT_EQUAL(mp_parse_time("2025-13-01", &t), MP_OK);
}

static void test_hex(void)
{
    uint8_t b[4];
    char s[9];
    CU_ASSERT_EQUAL(mp_unhex("0aFf", b, sizeof(b)), 2);
    CU_ASSERT_EQUAL(b[0], 0x0a);
    CU_ASSERT_EQUAL(b[1], 0xff);
    CU_ASSERT_EQUAL(mp_unhex("0a0", b, sizeof(b)), -1);
    CU_ASSERT_EQUAL(mp_unhex("zz", b, sizeof(b)), -1);
    CU_ASSERT_EQUAL(mp_unhex("0102030405", b, sizeof(b)), -1);
    mp_hex(b, 2, s, 1);
    CU_ASSERT_STRING_EQUAL(s, "0AFF");
}

static void test_write_file(void)
{
    char dir[] = "/tmp/mp-unit-XXXXXX", path[128];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/f", dir);
    CU_ASSERT_EQUAL(mp_write_file(path, "abc", 3, 0600, 0), MP_OK);
    struct stat st;
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    CU_ASSERT_EQUAL(mp_write_file(path, "xyz", 3, 0600, 0), MP_ERR_EXISTS);
    CU_ASSERT_EQUAL(mp_write_file(path, "xyz", 3, 0644, 1), MP_OK);
    uint8_t *b;
    size_t n;
    CU_ASSERT_EQUAL(mp_read_file(path, 100, &b, &n), MP_OK);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_NSTRING_EQUAL(b, "xyz", 3);
    free(b);
    snprintf(path, sizeof(path), "%s/nodir/f", dir);
    CU_ASSERT_EQUAL(mp_write_file(path, "a", 1, 0600, 0), MP_ERR_IO);
    snprintf(path, sizeof(path), "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(path), 0);
}

void register_core(void)
{
    CU_pSuite s = CU_add_suite("core", NULL, NULL);
    TU_ADD(s, test_parse_uint);
    TU_ADD(s, test_parse_vid_pid);
    TU_ADD(s, test_parse_time);
    TU_ADD(s, test_hex);
    TU_ADD(s, test_write_file);
}
