/* test_fd_line.c - the production-line pieces of factory data: the RFC 4180
 * reader and cell writer, the serial alphabet, the dashed manual code, and
 * --assign duplicate checks in linear time on a large file. */
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "factory-data/build.h"
#include "factory-data/creds.h"
#include "csv.h"

static int read_all(const char *text, char out[8][16][64], int nf[8], int complete[8], int *nrec)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    mp_csv c;
    int rc;
    mp_csv_init(&c, f, "t.csv");
    *nrec = 0;
    while ((rc = mp_csv_next(&c)) == MP_OK && c.n > 0 && *nrec < 8) {
        nf[*nrec] = c.n;
        complete[*nrec] = c.complete;
        for (int i = 0; i < c.n; i++) snprintf(out[*nrec][i], 64, "%s", c.fields[i]);
        (*nrec)++;
    }
    mp_csv_free(&c);
    fclose(f);
    return rc;
}

static void test_csv_reader(void)
{
    static char out[8][16][64];
    int nf[8], complete[8], n;
    CU_ASSERT_EQUAL(read_all("a,b,c\r\n\"x,1\",\"say \"\"hi\"\"\",\n\"two\nlines\",z\nlast,cut", out, nf, complete, &n), MP_OK);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    CU_ASSERT(nf[0] == 3 && strcmp(out[0][2], "c") == 0 && complete[0]);
    CU_ASSERT(nf[1] == 3 && strcmp(out[1][0], "x,1") == 0 && strcmp(out[1][1], "say \"hi\"") == 0 && out[1][2][0] == 0);
    CU_ASSERT(nf[2] == 2 && strcmp(out[2][0], "two\nlines") == 0 && strcmp(out[2][1], "z") == 0);
    CU_ASSERT(nf[3] == 2 && strcmp(out[3][1], "cut") == 0 && !complete[3]); /* a line cut by a crash */
    CU_ASSERT_EQUAL(read_all("a,\"b\nc\n", out, nf, complete, &n), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "t.csv:1: a quoted field is not closed"));
    CU_ASSERT_EQUAL(read_all("ok\na,b\"c\n", out, nf, complete, &n), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "t.csv:2: field 2: a quote inside an unquoted field"));
    CU_ASSERT_EQUAL(read_all("\"a\"b\n", out, nf, complete, &n), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "text after the closing quote"));
}

static void test_csv_cell(void)
{
    char b[64];
    CU_ASSERT_EQUAL(mp_csv_cell(b, sizeof(b), "plain"), 5u);
    CU_ASSERT_STRING_EQUAL(b, "plain");
    CU_ASSERT(mp_csv_cell(b, sizeof(b), "a,b") > 0 && strcmp(b, "\"a,b\"") == 0);
    CU_ASSERT(mp_csv_cell(b, sizeof(b), "say \"x\"") > 0 && strcmp(b, "\"say \"\"x\"\"\"") == 0);
    CU_ASSERT(mp_csv_cell(b, sizeof(b), "two\nlines") > 0 && strcmp(b, "\"two\nlines\"") == 0);
    CU_ASSERT_EQUAL(mp_csv_cell(b, 4, "a,bcdef"), 0u);
    /* a writer/reader round trip */
    char line[256];
    const char *v[] = {"u1", "a,\"b\"", "", "x\ny"};
    size_t o = 0;
    for (int i = 0; i < 4; i++) {
        if (i) line[o++] = ',';
        o += mp_csv_cell(line + o, sizeof(line) - o, v[i]);
    }
    line[o++] = '\n';
    line[o] = 0;
    static char out[8][16][64];
    int nf[8], complete[8], n;
    CU_ASSERT_EQUAL(read_all(line, out, nf, complete, &n), MP_OK);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_EQUAL(nf[0], 4);
    for (int i = 0; i < 4; i++) CU_ASSERT_STRING_EQUAL(out[0][i], v[i]);
}

static void test_serial_alphabet(void)
{
    char s[MP_SERIAL_MAX + 1];
    CU_ASSERT_EQUAL(mp_serial_check("x", "SN-0001/a.b:c#d_e"), MP_OK);
    static const char *const bad[] = {"SN,1", "SN\"1", "=1+2", "+A", "-A", "@A", "A=B", "A;B", "A B", " A", "'A", "A\\B", "\tA"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL(mp_serial_check("x", bad[i]), MP_ERR_INVALID);
    }
    CU_ASSERT_EQUAL(mp_serial_format("SN,{seq:4}", 1, "u", s), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_serial_format("={seq}", 1, "u", s), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_serial_format("{udid}", 1, "-dev", s), MP_ERR_INVALID); /* a leading - from the UDID */
    CU_ASSERT_EQUAL(mp_serial_format("AB-{seq:4}", 7, "u", s), MP_OK);
    CU_ASSERT_STRING_EQUAL(s, "AB-0007");
}

static void test_manual_dashed(void)
{
    char d[32];
    mp_manual_dashed("23610875350", d);
    CU_ASSERT_STRING_EQUAL(d, "2361-087-5350");
    mp_manual_dashed("636108753545367145260", d);
    CU_ASSERT_STRING_EQUAL(d, "6361-087-5354-53671-45260");
    mp_manual_dashed("123", d);
    CU_ASSERT_STRING_EQUAL(d, "123");
}

/* 300,000 rows with serials and rd_uids: the duplicate checks are linear
 * (the quadratic ones took 3 s for 40,000 rows, so minutes here). */
static void test_assign_large(void)
{
    size_t n = 300000, cap = n * 80 + 64, o = 0;
    char *text = malloc(cap);
    CU_ASSERT_FATAL(text != NULL);
    o += (size_t)snprintf(text + o, cap - o, "udid,serial,rd_uid\n");
    for (size_t i = 0; i < n; i++) {
        o += (size_t)snprintf(text + o, cap - o, "dev-%07zu,SN-%07zu,%032zx\n", i, (i * 7919) % n, i + 1);
    }
    mp_assign a;
    clock_t t0 = clock();
    CU_ASSERT_EQUAL(mp_assign_parse("big.csv", text, o, &a), MP_OK);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CU_ASSERT_EQUAL(a.n, n);
    CU_ASSERT(secs < 5.0);
    if (secs >= 5.0) printf("\n  300,000 rows took %.1f s\n", secs);
    mp_assign_free(&a);
    /* a duplicate rd_uid at the end, named with both lines */
    o += (size_t)snprintf(text + o, cap - o, "dev-x,SN-x,%032x\n", 5);
    CU_ASSERT_EQUAL(mp_assign_parse("big.csv", text, o, &a), MP_ERR_DUPLICATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "big.csv:300002: the same rd_uid as line 6"));
    free(text);
}

void register_fd_line(void)
{
    CU_pSuite s = CU_add_suite("fd_line", NULL, NULL);
    TU_ADD(s, test_csv_reader);
    TU_ADD(s, test_csv_cell);
    TU_ADD(s, test_serial_alphabet);
    TU_ADD(s, test_manual_dashed);
    TU_ADD(s, test_assign_large);
}
