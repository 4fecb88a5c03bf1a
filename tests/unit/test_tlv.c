/* test_tlv.c - Matter TLV writer and reader: every type and tag form,
 * minimal widths, round trips, truncation, depth and tag rules. */
#include <string.h>

#include "testutil.h"
#include "tlv.h"

static size_t enc(uint8_t *buf, size_t cap, void (*fn)(mp_tlv_writer *))
{
    mp_tlv_writer w;
    size_t len = 0;
    mp_tlv_writer_init(&w, buf, cap);
    fn(&w);
    CU_ASSERT_EQUAL(mp_tlv_finish(&w, &len), MP_OK);
    return len;
}

static void hexeq(const uint8_t *got, size_t n, const char *want)
{
    size_t wl;
    uint8_t *w = tu_unhex(want, &wl);
    CU_ASSERT_EQUAL(n, wl);
    CU_ASSERT(n == wl && memcmp(got, w, n) == 0);
    free(w);
}

static void all_types(mp_tlv_writer *w)
{
    mp_tlv_start(w, MP_TLV_ANON, MP_TLV_STRUCT);
    mp_tlv_put_uint(w, mp_tlv_ctx(0), 1);
    mp_tlv_put_uint(w, mp_tlv_ctx(1), 0x1234);
    mp_tlv_put_uint(w, mp_tlv_ctx(2), 0x12345678);
    mp_tlv_put_uint(w, mp_tlv_ctx(3), 0x123456789AULL);
    mp_tlv_put_int(w, mp_tlv_ctx(4), -1);
    mp_tlv_put_int(w, mp_tlv_ctx(5), -300);
    mp_tlv_put_int(w, mp_tlv_ctx(6), -70000);
    mp_tlv_put_int(w, mp_tlv_ctx(7), INT64_MIN);
    mp_tlv_put_bool(w, mp_tlv_ctx(8), 0);
    mp_tlv_put_bool(w, mp_tlv_ctx(9), 1);
    mp_tlv_put_float(w, mp_tlv_ctx(10), 1.5f);
    mp_tlv_put_double(w, mp_tlv_ctx(11), -2.25);
    mp_tlv_put_utf8(w, mp_tlv_ctx(12), "hi", 2);
    mp_tlv_put_bytes(w, mp_tlv_ctx(13), (const uint8_t *)"\x01\x02", 2);
    mp_tlv_put_null(w, mp_tlv_ctx(14));
    mp_tlv_start(w, mp_tlv_common(0x10), MP_TLV_ARRAY);
    mp_tlv_put_uint(w, MP_TLV_ANON, 7);
    mp_tlv_end(w);
    mp_tlv_start(w, mp_tlv_implicit(0x12345), MP_TLV_LIST);
    mp_tlv_put_uint(w, MP_TLV_ANON, 8);
    mp_tlv_put_uint(w, mp_tlv_full(0xFFF1, 0xDEED, 1), 9);
    mp_tlv_put_uint(w, mp_tlv_full(0xFFF1, 0xDEED, 0x10000), 10);
    mp_tlv_end(w);
    mp_tlv_put_uint(w, mp_tlv_common(0x10000), 0);
    mp_tlv_put_uint(w, mp_tlv_implicit(5), 0);
    mp_tlv_end(w);
}

/* Bytes of all_types, hand-assembled from the Matter TLV spec. */
static const char all_types_hex[] =
    "15" "240001" "25013412" "260278563412" "27039a78563412000000"
    "2004ff" "2105d4fe" "220690eefeff" "23070000000000000080"
    "2808" "2909" "2a0a0000c03f" "2b0b00000000000002c0"
    "2c0c026869" "300d020102" "340e"
    "561000" "0407" "18"
    "b745230100" "0408" "c4f1ffedde010009" "e4f1ffedde000001000a" "18"
    "640000010000" "84050000" "18";

static void test_tlv_encode_all(void)
{
    uint8_t buf[256];
    size_t n = enc(buf, sizeof(buf), all_types);
    hexeq(buf, n, all_types_hex);
}

static void test_tlv_decode_all(void)
{
    uint8_t buf[256];
    size_t n = enc(buf, sizeof(buf), all_types);
    mp_tlv_reader r;
    mp_tlv_elem e;
    static const int types[] = {MP_TLV_STRUCT, MP_TLV_UINT, MP_TLV_UINT, MP_TLV_UINT, MP_TLV_UINT,
        MP_TLV_INT, MP_TLV_INT, MP_TLV_INT, MP_TLV_INT, MP_TLV_BOOL, MP_TLV_BOOL, MP_TLV_FLOAT,
        MP_TLV_DOUBLE, MP_TLV_UTF8, MP_TLV_BYTES, MP_TLV_NULL, MP_TLV_ARRAY, MP_TLV_UINT, MP_TLV_END,
        MP_TLV_LIST, MP_TLV_UINT, MP_TLV_UINT, MP_TLV_UINT, MP_TLV_END, MP_TLV_UINT, MP_TLV_UINT,
        MP_TLV_END, MP_TLV_EOF};
    mp_tlv_elem got[sizeof(types) / sizeof(types[0])];
    mp_tlv_reader_init(&r, buf, n);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        CU_ASSERT_EQUAL_FATAL(mp_tlv_next(&r, &e), MP_OK);
        CU_ASSERT_EQUAL(e.type, types[i]);
        got[i] = e;
    }
    CU_ASSERT_EQUAL(got[3].v.u, 0x12345678);
    CU_ASSERT_EQUAL(got[4].v.u, 0x123456789AULL);
    CU_ASSERT_EQUAL(got[4].width, 8);
    CU_ASSERT_EQUAL(got[5].v.i, -1);
    CU_ASSERT_EQUAL(got[6].v.i, -300);
    CU_ASSERT_EQUAL(got[7].v.i, -70000);
    CU_ASSERT_EQUAL(got[8].v.i, INT64_MIN);
    CU_ASSERT(got[10].v.b == 1 && got[9].v.b == 0);
    CU_ASSERT(got[11].v.d == 1.5 && got[12].v.d == -2.25);
    CU_ASSERT(got[13].len == 2 && memcmp(got[13].data, "hi", 2) == 0);
    CU_ASSERT(mp_tlv_is_ctx(&got[14].tag, 13));
    CU_ASSERT(got[16].tag.form == MP_TLV_TAG_COMMON && got[16].tag.num == 0x10 && got[16].tag.width == 2);
    CU_ASSERT(got[19].tag.form == MP_TLV_TAG_IMPLICIT && got[19].tag.num == 0x12345 && got[19].tag.width == 4);
    CU_ASSERT(got[21].tag.form == MP_TLV_TAG_FULL && got[21].tag.vendor == 0xFFF1 &&
              got[21].tag.profile == 0xDEED && got[21].tag.num == 1 && got[21].tag.width == 6);
    CU_ASSERT(got[22].tag.num == 0x10000 && got[22].tag.width == 8 && got[22].v.u == 10);
    CU_ASSERT_EQUAL(got[17].depth, 2);
    CU_ASSERT_EQUAL(mp_tlv_check(buf, n), MP_OK);
}

static void test_tlv_minimal_width(void)
{
    static const struct { uint64_t v; const char *hex; } t[] = {
        {0, "0400"}, {0xFF, "04ff"}, {0x100, "050001"}, {0xFFFF, "05ffff"},
        {0x10000, "0600000100"}, {0xFFFFFFFF, "06ffffffff"}, {0x100000000ULL, "070000000001000000"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        uint8_t buf[16];
        mp_tlv_writer w;
        size_t n = 0;
        mp_tlv_writer_init(&w, buf, sizeof(buf));
        mp_tlv_put_uint(&w, MP_TLV_ANON, t[i].v);
        CU_ASSERT_EQUAL(mp_tlv_finish(&w, &n), MP_OK);
        hexeq(buf, n, t[i].hex);
    }
    /* signed boundaries */
    static const struct { int64_t v; const char *hex; } s[] = {
        {127, "007f"}, {-128, "0080"}, {128, "018000"}, {-129, "017fff"}, {32768, "0200800000"},
    };
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        uint8_t buf[16];
        mp_tlv_writer w;
        size_t n = 0;
        mp_tlv_writer_init(&w, buf, sizeof(buf));
        mp_tlv_put_int(&w, MP_TLV_ANON, s[i].v);
        CU_ASSERT_EQUAL(mp_tlv_finish(&w, &n), MP_OK);
        hexeq(buf, n, s[i].hex);
    }
    /* a 300-byte string takes a 2-byte length */
    uint8_t big[310], str[300];
    memset(str, 'a', sizeof(str));
    mp_tlv_writer w;
    size_t n = 0;
    mp_tlv_writer_init(&w, big, sizeof(big));
    mp_tlv_put_bytes(&w, MP_TLV_ANON, str, sizeof(str));
    CU_ASSERT_EQUAL(mp_tlv_finish(&w, &n), MP_OK);
    CU_ASSERT(n == 303 && big[0] == 0x11 && big[1] == 0x2C && big[2] == 0x01);
}

/* Every buffer size short of the full encoding must fail cleanly. */
static void test_tlv_writer_overflow(void)
{
    uint8_t full[256];
    size_t n = enc(full, sizeof(full), all_types);
    for (size_t cap = 0; cap < n; cap++) {
        uint8_t *buf = malloc(cap ? cap : 1);
        mp_tlv_writer w;
        size_t len = 0;
        mp_tlv_writer_init(&w, buf, cap);
        all_types(&w);
        CU_ASSERT_EQUAL(mp_tlv_finish(&w, &len), MP_ERR_INVALID);
        free(buf);
    }
}

static void test_tlv_writer_misuse(void)
{
    uint8_t buf[64];
    mp_tlv_writer w;
    size_t n;
    mp_tlv_writer_init(&w, buf, sizeof(buf));
    mp_tlv_start(&w, MP_TLV_ANON, MP_TLV_STRUCT);
    CU_ASSERT_EQUAL(mp_tlv_finish(&w, &n), MP_ERR_INVALID); /* left open */
    mp_tlv_put_uint(&w, MP_TLV_ANON, 1);                    /* anonymous in a structure */
    CU_ASSERT_EQUAL(mp_tlv_finish(&w, &n), MP_ERR_INVALID);
    mp_tlv_writer_init(&w, buf, sizeof(buf));
    mp_tlv_start(&w, MP_TLV_ANON, MP_TLV_ARRAY);
    mp_tlv_put_uint(&w, mp_tlv_ctx(1), 1);                  /* tagged in an array */
    mp_tlv_end(&w);
    CU_ASSERT_EQUAL(mp_tlv_finish(&w, &n), MP_ERR_INVALID);
    mp_tlv_writer_init(&w, buf, sizeof(buf));
    mp_tlv_end(&w);                                         /* nothing open */
    CU_ASSERT_EQUAL(mp_tlv_finish(&w, &n), MP_ERR_INVALID);
    mp_tlv_writer_init(&w, buf, sizeof(buf));
    mp_tlv_put_uint_width(&w, MP_TLV_ANON, 0x100, 1);       /* does not fit */
    CU_ASSERT_EQUAL(mp_tlv_finish(&w, &n), MP_ERR_INVALID);
}

/* Every proper prefix of a valid encoding is truncated. */
static void test_tlv_truncation(void)
{
    uint8_t full[256];
    size_t n = enc(full, sizeof(full), all_types);
    for (size_t len = 0; len < n; len++) {
        uint8_t *buf = malloc(len ? len : 1); /* exact size: ASan sees any over-read */
        memcpy(buf, full, len);
        CU_ASSERT_NOT_EQUAL(mp_tlv_check(buf, len), MP_OK);
        free(buf);
    }
}

static int check_hex(const char *hex)
{
    char clean[256];
    size_t n = 0;
    for (const char *p = hex; *p && n < sizeof(clean) - 1; p++) {
        if (*p != ' ') clean[n++] = *p;
    }
    clean[n] = 0;
    uint8_t *b = tu_unhex(clean, &n);
    int rc = mp_tlv_check(b, n);
    free(b);
    return rc;
}

static void test_tlv_reader_rules(void)
{
    CU_ASSERT_EQUAL(check_hex("1518"), MP_OK);
    CU_ASSERT_EQUAL(check_hex(""), MP_ERR_INVALID);               /* empty */
    CU_ASSERT_EQUAL(check_hex("19"), MP_ERR_INVALID);             /* reserved type */
    CU_ASSERT_EQUAL(check_hex("1f"), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(check_hex("18"), MP_ERR_INVALID);             /* end outside container */
    CU_ASSERT_EQUAL(check_hex("2400 01"), MP_ERR_INVALID);        /* context tag at top */
    CU_ASSERT_EQUAL(check_hex("150401 18"), MP_ERR_INVALID);      /* anonymous in struct */
    CU_ASSERT_EQUAL(check_hex("16240101 18"), MP_ERR_INVALID);    /* tagged in array */
    CU_ASSERT_EQUAL(check_hex("15 3801 18"), MP_ERR_INVALID);     /* tagged end of container */
    CU_ASSERT_EQUAL(check_hex("1518 1518"), MP_ERR_INVALID);      /* two top-level elements */
    CU_ASSERT_EQUAL(check_hex("17 0401 2401 02 18"), MP_OK);      /* list: any tags */
    CU_ASSERT_EQUAL(check_hex("13ffffffffffffffff"), MP_ERR_INVALID); /* 8-byte length beyond input */
    CU_ASSERT_EQUAL(check_hex("10 05 0102"), MP_ERR_INVALID);     /* string past end */
    /* nesting: MP_TLV_MAX_DEPTH arrays fine, one more refused */
    char deep[4 * (MP_TLV_MAX_DEPTH + 2) + 1] = "";
    for (int i = 0; i < MP_TLV_MAX_DEPTH; i++) strcat(deep, "16");
    for (int i = 0; i < MP_TLV_MAX_DEPTH; i++) strcat(deep, "18");
    CU_ASSERT_EQUAL(check_hex(deep), MP_OK);
    deep[0] = 0;
    for (int i = 0; i <= MP_TLV_MAX_DEPTH; i++) strcat(deep, "16");
    for (int i = 0; i <= MP_TLV_MAX_DEPTH; i++) strcat(deep, "18");
    CU_ASSERT_EQUAL(check_hex(deep), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "nested too deeply"));
}

static void test_tlv_skip(void)
{
    uint8_t buf[256];
    size_t n = enc(buf, sizeof(buf), all_types);
    mp_tlv_reader r;
    mp_tlv_elem e;
    mp_tlv_reader_init(&r, buf, n);
    CU_ASSERT_EQUAL(mp_tlv_next(&r, &e), MP_OK);
    CU_ASSERT_EQUAL(mp_tlv_skip(&r), MP_OK);
    CU_ASSERT_EQUAL(mp_tlv_next(&r, &e), MP_OK);
    CU_ASSERT_EQUAL(e.type, MP_TLV_EOF);
    CU_ASSERT_STRING_EQUAL(mp_tlv_type_name(MP_TLV_UINT), "unsigned integer");
}

void register_tlv(void)
{
    CU_pSuite s = CU_add_suite("tlv", NULL, NULL);
    TU_ADD(s, test_tlv_encode_all);
    TU_ADD(s, test_tlv_decode_all);
    TU_ADD(s, test_tlv_minimal_width);
    TU_ADD(s, test_tlv_writer_overflow);
    TU_ADD(s, test_tlv_writer_misuse);
    TU_ADD(s, test_tlv_truncation);
    TU_ADD(s, test_tlv_reader_rules);
    TU_ADD(s, test_tlv_skip);
}
