/* test_jw.c - the hot-path JSON writer prints exactly what jansson prints
 * for the same objects (indented and compact), escapes included. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "jw.h"
#include "testutil.h"
#include "util.h"

static void same_as_jansson(mp_jw *w, json_t *j, size_t flags)
{
    size_t n = 0;
    char *ours = mp_jw_take(w, &n);
    char *theirs = json_dumps(j, flags | JSON_PRESERVE_ORDER);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ours);
    CU_ASSERT_PTR_NOT_NULL_FATAL(theirs);
    CU_ASSERT_EQUAL(n, strlen(ours));
    CU_ASSERT_STRING_EQUAL(ours, theirs);
    free(ours);
    free(theirs);
    json_decref(j);
}

static void test_jw_fixed(void)
{
    static const char *const strs[] = {"", "plain", "quote\" back\\slash /", "\b\f\n\r\t", "\x01\x1f\x7f",
                                       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "MT:Y.K9042C00KA0648G00"};
    for (int indent = 0; indent <= 4; indent += 2) {
        size_t flags = indent ? JSON_INDENT(indent) : JSON_COMPACT;
        mp_jw w;
        json_t *j = json_object();
        mp_jw_init(&w, indent, 16); /* small: growth is exercised */
        mp_jw_open(&w);
        for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
            char k[16];
            snprintf(k, sizeof(k), "k\t%zu", i);
            mp_jw_key_cstr(&w, k, strs[i]);
            json_object_set_new(j, k, json_string(strs[i]));
        }
        mp_jw_key_int(&w, "zero", 0);
        mp_jw_key_int(&w, "neg", -1234567890123LL);
        mp_jw_key_bool(&w, "t", 1);
        mp_jw_key_bool(&w, "f", 0);
        mp_jw_key_obj(&w, "files");
        mp_jw_key_cstr(&w, "json", "A.json");
        mp_jw_key_cstr(&w, "nrf", "A.cbor");
        mp_jw_close(&w);
        mp_jw_key_obj(&w, "empty");
        mp_jw_close(&w);
        mp_jw_key_str(&w, "nul inside", "a\0b", 3);
        mp_jw_close(&w);
        json_object_set_new(j, "zero", json_integer(0));
        json_object_set_new(j, "neg", json_integer(-1234567890123LL));
        json_object_set_new(j, "t", json_true());
        json_object_set_new(j, "f", json_false());
        json_object_set_new(j, "files", json_pack("{s:s,s:s}", "json", "A.json", "nrf", "A.cbor"));
        json_object_set_new(j, "empty", json_object());
        json_object_set_new(j, "nul inside", json_stringn("a\0b", 3));
        same_as_jansson(&w, j, flags);
    }
}

/* Random printable and control bytes (valid UTF-8: ASCII only here). */
static void test_jw_random(void)
{
    srand(7);
    for (int round = 0; round < 200; round++) {
        mp_jw w;
        json_t *j = json_object();
        int indent = round % 3;
        mp_jw_init(&w, indent, 64);
        mp_jw_open(&w);
        for (int m = 0; m < round % 7; m++) {
            char k[8], v[40];
            size_t n = (size_t)(rand() % 40);
            snprintf(k, sizeof(k), "m%d", m);
            for (size_t i = 0; i < n; i++) v[i] = (char)(rand() % 128);
            mp_jw_key_str(&w, k, v, n);
            json_object_set_new(j, k, json_stringn(v, n));
        }
        mp_jw_close(&w);
        same_as_jansson(&w, j, indent ? JSON_INDENT(indent) : JSON_COMPACT);
    }
}

void register_jw(void)
{
    CU_pSuite s = CU_add_suite("jw", NULL, NULL);
    TU_ADD(s, test_jw_fixed);
    TU_ADD(s, test_jw_random);
}
