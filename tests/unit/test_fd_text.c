/* test_fd_text.c - the text side-outputs of factory data read back
 * (nrf-json, esp32-csv): malformed input named by key or line, every
 * tampered character caught by the reader or by inspect's checks, and
 * format detection by content and by suffix. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "testutil.h"
#include "fdtest.h"
#include "factory-data/fd.h"
#include "factory-data/check.h"
#include "factory-data/fd_int.h"
#include "factory-data/spake2p.h"
#include "util.h"
#include "x509.h"

static uint8_t *edit(const uint8_t *img, size_t n, const char *from, const char *to, size_t *len)
{
    size_t fl = strlen(from), tl = strlen(to);
    const uint8_t *at = memmem(img, n, from, fl);
    if (at == NULL) {
        printf("\n  '%s' is not in the image\n", from);
        CU_FAIL("edit");
        return NULL;
    }
    size_t off = (size_t)(at - img);
    uint8_t *out = malloc(n - fl + tl + 1);
    memcpy(out, img, off);
    memcpy(out + off, to, tl);
    memcpy(out + off + tl, at + fl, n - off - fl);
    *len = n - fl + tl;
    return out;
}

typedef struct bad_case {
    const char *from, *to;
    int rc;
    const char *msg;
} bad_case;

static void expect_bad(int format, const uint8_t *img, size_t n, const bad_case *c, size_t count)
{
    mp_fd_device back;
    for (size_t i = 0; i < count; i++) {
        size_t len = 0;
        uint8_t *t = edit(img, n, c[i].from, c[i].to, &len);
        if (t == NULL) continue;
        int rc = mp_fd_unpack(format, t, len, &back);
        if (rc != c[i].rc || strstr(mp_err_msg(), c[i].msg) == NULL) {
            printf("\n  %s case %zu ('%s'): rc %d '%s'; wanted %d '%s'\n", mp_fd_format_name(format), i, c[i].to, rc,
                   rc != MP_OK ? mp_err_msg() : "", c[i].rc, c[i].msg);
            CU_FAIL("malformed input");
        }
        free(t);
    }
}

/* img cut to its first keep bytes: refused with msg. */
static void expect_cut(int format, const uint8_t *img, size_t n, size_t keep, const char *msg)
{
    mp_fd_device back;
    CU_ASSERT_EQUAL(mp_fd_unpack(format, img, keep, &back), MP_ERR_INVALID);
    if (strstr(mp_err_msg(), msg) == NULL) {
        printf("\n  %s cut to %zu of %zu: '%s' lacks '%s'\n", mp_fd_format_name(format), keep, n, mp_err_msg(), msg);
        CU_FAIL("truncated input");
    }
}

static void test_nrf_json_read(void)
{
    mp_fd_device d, back, want;
    uint8_t *img;
    size_t n;
    fdt_make_device(&d);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_NRF_JSON, &d, NULL, &img, &n), MP_OK);
    static const bad_case bad[] = {
        {"  \"sn\": \"SN:12345678\",\n", "", MP_ERR_INVALID, "serial number is required"},
        {"  \"spake2_it\": 1000,\n", "", MP_ERR_INVALID, "SPAKE2+ iterations is required"},
        {"\"rd_uid\": \"hex:91", "\"rd_uid\": \"hex:g1", MP_ERR_INVALID, "rd_uid (rotating device ID unique ID): not valid hex"},
        {"\"rd_uid\": \"hex:91", "\"rd_uid\": \"hex:9", MP_ERR_INVALID, "rd_uid (rotating device ID unique ID): not valid hex"},
        {"\"rd_uid\": \"hex:91", "\"rd_uid\": \"91", MP_ERR_INVALID, "key 'rd_uid': expected a string \"hex:\""},
        {"\"dac_cert\": \"hex:", "\"dac_cert\": \"base64:", MP_ERR_INVALID, "key 'dac_cert': expected a string \"hex:\""},
        {"\"spake2_salt\": \"hex:5350414b453250204b65792053616c74\"", "\"spake2_salt\": \"hex:5350\"", MP_ERR_INVALID, "length 2; expected 16..32"},
        {"\"vendor_id\": 65521", "\"vendor_id\": \"65521\"", MP_ERR_INVALID, "key 'vendor_id': expected a non-negative integer"},
        {"\"hw_ver\": 101", "\"hw_ver\": -101", MP_ERR_INVALID, "key 'hw_ver': expected a non-negative integer"},
        {"\"hw_ver\": 101", "\"hw_ver\": 101.0", MP_ERR_INVALID, "key 'hw_ver': expected a non-negative integer"},
        {"\"sn\": \"SN:12345678\"", "\"sn\": 12345678", MP_ERR_INVALID, "key 'sn': expected a string"},
        {"\"rd_uid\": \"hex:91a9c12a7c80700a31ddcfa7fce63e44\"", "\"rd_uid\": [145]", MP_ERR_INVALID, "key 'rd_uid': expected a string \"hex:\""},
        {"\"date\": \"2022-07-20\"", "\"date\": \"20220720\"", MP_ERR_INVALID, "expected exactly YYYY-MM-DD"},
        {"\"date\": \"2022-07-20\"", "\"date\": \"2022-02-30\"", MP_ERR_INVALID, "manufacturing date"},
        {"\"discriminator\": 4077", "\"discriminator\": 4096", MP_ERR_INVALID, "discriminator (discriminator): value 4096"},
        {"\"version\": 1", "\"version\": 2", MP_ERR_INVALID, "key 'version' must be the integer 1"},
        {"\"version\": 1,", "", MP_ERR_INVALID, "key 'version' must be the integer 1"},
        {"\"sn\":", "\"serial\":", MP_ERR_INVALID, "unknown key 'serial'"},
        {"\"sn\": \"SN:12345678\",", "\"sn\": \"SN:12345678\", \"sn\": \"X\",", MP_ERR_INVALID, "duplicate object key"},
        {"\"hw_ver\": 101,", "\"hw_ver\": 101,,", MP_ERR_INVALID, "nrf-json:"},
        {"\"version\": 1,", "\"version\": 1, \"user\": 7,", MP_ERR_INVALID, "key 'user': expected an object"},
        {"\"version\": 1,", "\"version\": 1, \"enable_key\": \"hex:0011\",", MP_ERR_INVALID, "key 'enable_key'"},
        {"\"dac_key\": \"hex:", "\"dac_key_\": \"hex:", MP_ERR_INVALID, "unknown key 'dac_key_'"},
    };
    expect_bad(MP_FD_NRF_JSON, img, n, bad, sizeof(bad) / sizeof(bad[0]));
    fdt_expect_missing(MP_FD_NRF_JSON, img, n, "\"spake2_verifier\"", "SPAKE2+ verifier is required");
    fdt_expect_missing(MP_FD_NRF_JSON, img, n, "\"dac_cert\"", "DAC certificate is required");
    fdt_expect_missing(MP_FD_NRF_JSON, img, n, "\"dac_key\"", "format nrf-json stores the DAC private key");
    fdt_expect_missing(MP_FD_NRF_JSON, img, n, "\"date\"", "manufacturing date is required");
    expect_cut(MP_FD_NRF_JSON, img, n, n / 2, "nrf-json:");
    expect_cut(MP_FD_NRF_JSON, img, n, n - 3, "nrf-json:");
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_NRF_JSON, (const uint8_t *)"[1]", 3, &back), MP_ERR_INVALID);
    CU_ASSERT(strstr(mp_err_msg(), "expected a JSON object") != NULL);
    /* the schema's keys matter-pki does not carry are accepted, and ignored */
    size_t len;
    uint8_t *t = edit(img, n, "\"version\": 1,", "\"version\": 1, \"user\": {\"a\": [1]}, \"enable_key\": \"hex:00112233445566778899AABBCCDDEEFF\",", &len);
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_NRF_JSON, t, len, &back), MP_OK);
    want = d;
    want.cd_len = 0;
    memset(want.cd_der, 0, sizeof(want.cd_der));
    fdt_same_fields("nrf-json with user and enable_key", &want, &back);
    CU_ASSERT_EQUAL(memcmp(&want, &back, sizeof(back)), 0);
    free(t);
    free(img);
}

/* Another character of the value's alphabet (hex digit, decimal digit,
 * base64 character). */
static uint8_t other_char(uint8_t c, char kind)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (kind == 'b') {
        const char *at = c ? strchr(b64, c) : NULL;
        return at ? (uint8_t)b64[(at - b64) ^ 1] : (uint8_t)'A';
    }
    if (c >= 'a' && c <= 'f') return (uint8_t)('a' + ((c - 'a') ^ 1));
    return (uint8_t)(c ^ 1); /* '0'..'9' stay digits */
}

static void test_esp32_csv_read(void)
{
    mp_fd_device d, back, want;
    uint8_t *img;
    size_t n;
    fdt_make_device(&d);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32_CSV, &d, NULL, &img, &n), MP_OK);
    static const bad_case bad[] = {
        {"\nserial-num,data,string,SN:12345678\n", "\n", MP_ERR_INVALID, "serial number is required"},
        {"\ndac-cert,", "\ndac-certificate,", MP_ERR_INVALID, "DAC certificate is required"},
        {"discriminator,data,u32,4077\n", "discriminator,data,u32\n", MP_ERR_INVALID, "line 3: 3 field(s); expected 4"},
        {"discriminator,data,u32,4077\n", "discriminator\n", MP_ERR_INVALID, "line 3: 1 field(s); expected 4"},
        {"discriminator,data,u32,4077\n", "discriminator,data,u32,4077,\n", MP_ERR_INVALID, "line 3: more than 4 fields"},
        {"rd-id-uid,data,hex2bin,91", "rd-id-uid,data,hex2bin,g1", MP_ERR_INVALID, "rd-id-uid (rotating device ID unique ID): not valid hex"},
        {"rd-id-uid,data,hex2bin,91", "rd-id-uid,data,hex2bin,9", MP_ERR_INVALID, "rd-id-uid (rotating device ID unique ID): not valid hex"},
        {"salt,data,string,U1BB", "salt,data,string,U1B!", MP_ERR_INVALID, "salt (SPAKE2+ salt): not valid base64"},
        {"salt,data,string,U1BBS0UyUCBLZXkgU2FsdA==", "salt,data,string,U1BBS0Uy", MP_ERR_INVALID, "salt (SPAKE2+ salt): length 6; expected 16..32"},
        {"discriminator,data,u32,4077", "discriminator,data,string,4077", MP_ERR_INVALID, "line 3: key 'discriminator': encoding 'string'; expected 'u32'"},
        {"vendor-name,data,string,", "vendor-name,data,hex2bin,", MP_ERR_INVALID, "key 'vendor-name': encoding 'hex2bin'; expected 'string'"},
        {"dac-cert,data,hex2bin,", "dac-cert,data,base64,", MP_ERR_INVALID, "key 'dac-cert': encoding 'base64'; expected 'hex2bin'"},
        {"dac-cert,data,hex2bin,", "dac-cert,file,hex2bin,", MP_ERR_INVALID, "key 'dac-cert': type 'file'; expected 'data'"},
        {"discriminator,data,u32", "discriminator,data,u33", MP_ERR_INVALID, "line 3: key 'discriminator': encoding 'u33'"},
        {"discriminator,data,u32", "discriminator,value,u32", MP_ERR_INVALID, "line 3: type 'value'; expected namespace, data or file"},
        {"discriminator,data,u32,4077", "discriminator,data,u32,+4077", MP_ERR_INVALID, "'+4077' is not a decimal number"},
        {"discriminator,data,u32,4077", "discriminator,data,u32,", MP_ERR_INVALID, "'' is not a decimal number"},
        {"discriminator,data,u32,4077", "discriminator,data,u32,4294967296", MP_ERR_INVALID, "is not a decimal number"},
        {"discriminator,data,u32,4077", "discriminator,data,u32,4096", MP_ERR_INVALID, "line 3: discriminator (discriminator): value 4096"},
        {"key,type,encoding,value", "key,type,enc,value", MP_ERR_INVALID, "line 1: expected the header"},
        {"key,type,encoding,value\n", "\nkey,type,encoding,value\n", MP_ERR_INVALID, "line 1: expected the header"},
        {"chip-factory,namespace,,\n", "", MP_ERR_INVALID, "line 2: a data record before the first namespace record"},
        {"chip-factory,namespace,,", "chip-factory,namespace,u8,", MP_ERR_INVALID, "line 2: a namespace record has an empty encoding and value"},
        {"chip-factory,namespace,,", "chip-fact,namespace,,", MP_ERR_INVALID, "no namespace 'chip-factory'"},
        {"discriminator,data,u32,4077\n", "discriminator,data,u32,4077\nchip-factory,namespace,,\n", MP_ERR_INVALID, "line 4: namespace 'chip-factory' opened twice"},
        {"discriminator,data,u32,4077\n", "discriminator,data,u32,4077\ndiscriminator,data,u32,1\n", MP_ERR_INVALID, "line 4: key 'discriminator' appears twice (first on line 3)"},
        {"discriminator,data", "discriminator-long,data", MP_ERR_INVALID, "line 3: key 'discriminator-long': expected 1..15 characters"},
        {"\"Acme, \"\"Lighting\"\"\"\n", "\"Acme, \"\"Lighting\"\"\n", MP_ERR_INVALID, "quoted field not closed"},
        {"\"Acme, \"\"Lighting\"\"\"\n", "\"Acme, \"\"Lighting\"\"\"x\n", MP_ERR_INVALID, "expected ',' or the end of the line after a quoted field"},
        {"product-name,data,string,Acme Bulb", "product-name,data,string,Acme \"Bulb", MP_ERR_INVALID, "a quote inside an unquoted field"},
        {"discriminator,data,u32,4077\n", "discriminator,data,u32,4077\rx\n", MP_ERR_INVALID, "line 3: carriage return not followed by a newline"},
        {"\ndac-pub-key,", "\nxdac-pub-key,", MP_ERR_INVALID, "dac-key and dac-pub-key must be present together"},
        {"dac-pub-key,data,hex2bin,04", "dac-pub-key,data,hex2bin,0404", MP_ERR_INVALID, "key 'dac-pub-key': expected 65 bytes in hex"},
        {"dac-pub-key,data,hex2bin,04", "dac-pub-key,data,hex2bin,05", MP_ERR_INVALID, "key 'dac-pub-key': expected 65 bytes in hex"},
    };
    expect_bad(MP_FD_ESP32_CSV, img, n, bad, sizeof(bad) / sizeof(bad[0]));
    fdt_expect_missing(MP_FD_ESP32_CSV, img, n, "\nverifier,", "SPAKE2+ verifier is required");
    fdt_expect_missing(MP_FD_ESP32_CSV, img, n, "\ncert-dclrn,", "format esp32-csv: the certification declaration is required");
    fdt_expect_missing(MP_FD_ESP32_CSV, img, n, "\npai-cert,", "PAI certificate is required");
    fdt_expect_missing(MP_FD_ESP32_CSV, img, n, "\ndac-key,", "dac-key and dac-pub-key must be present together");
    expect_cut(MP_FD_ESP32_CSV, img, n, n - 1, "no newline at the end of the line (file truncated?)");
    expect_cut(MP_FD_ESP32_CSV, img, n, n / 2, "no newline at the end of the line (file truncated?)");
    expect_cut(MP_FD_ESP32_CSV, img, n, 0, "line 1: expected the header");
    /* a NUL byte anywhere: the line is named */
    size_t len;
    uint8_t *t = edit(img, n, "Acme Bulb", "Acme?Bulb", &len);
    *(uint8_t *)memchr(t, '?', len) = 0;
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_ESP32_CSV, t, len, &back), MP_ERR_INVALID);
    CU_ASSERT(strstr(mp_err_msg(), "a NUL byte") != NULL && strstr(mp_err_msg(), "line ") != NULL);
    free(t);
    /* what other tools write and the generator accepts: CRLF line ends, blank
     * lines, other keys (device-info extras) and namespaces, "file" records */
    uint8_t *crlf = malloc(2 * n + 200);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (img[i] == '\n') crlf[m++] = '\r';
        crlf[m++] = img[i];
    }
    static const char extra[] = "\r\ndevice-type,data,u32,256\r\nlocale/0,file,string,/tmp/x\r\n"
                                "other,namespace,,\r\nserial-num,data,string,\"not, this one\"\r\n";
    memcpy(crlf + m, extra, strlen(extra));
    m += strlen(extra);
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_ESP32_CSV, crlf, m, &back), MP_OK);
    want = d;
    fdt_same_fields("esp32-csv with CRLF and extras", &want, &back);
    CU_ASSERT_EQUAL(memcmp(&want, &back, sizeof(back)), 0);
    free(crlf);
    /* a flipped key is refused by the reader itself (dac-pub-key, like the
     * NVS image), with the mismatch code */
    t = malloc(n);
    memcpy(t, img, n);
    uint8_t *k = (uint8_t *)memmem(t, n, "\ndac-key,data,hex2bin,", 22) + 22 + 10;
    *k = other_char(*k, 'x');
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_ESP32_CSV, t, n, &back), MP_ERR_MISMATCH);
    CU_ASSERT(strstr(mp_err_msg(), "esp32-csv: dac-pub-key is not the public key of dac-key") != NULL);
    free(t);
    free(img);
}

/* What inspect checks (run_checks in cmd_factory_data.c): the key, the
 * DAC's VID/PID, the chain to the given PAI, the verifier against the
 * passcode, the image's CD, and --cd (same bytes as the given CD). */
static int inspect_fails(const mp_fd_device *d, X509 *pai, const uint8_t *cd, size_t cdlen)
{
    return mp_fd_check_dac_key(d) != MP_OK || mp_fd_check_dac_vidpid(d) != MP_OK ||
           mp_fd_check_chain(d, pai) != MP_OK || mp_fd_check_verifier(d, 20202021) != MP_OK ||
           (d->cd_len && (mp_fd_check_image_cd(d) != MP_OK || d->cd_len != cdlen || memcmp(d->cd_der, cd, cdlen) != 0));
}

typedef struct sweep_count {
    int reader, checks, harmless, missed;
} sweep_count;

/* Every character of the value after prefix (up to end) replaced in turn:
 * the reader refuses it, or inspect's checks fail, or the decoded device is
 * unchanged (e.g. base64 bits the encoding ignores). */
static void sweep(int format, const uint8_t *img, size_t n, const char *prefix, char end, char kind,
                  const mp_fd_device *orig, X509 *pai, const uint8_t *cd, size_t cdlen, sweep_count *c)
{
    const uint8_t *at = memmem(img, n, prefix, strlen(prefix));
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    size_t start = (size_t)(at - img) + strlen(prefix);
    const uint8_t *stop = memchr(img + start, end, n - start);
    CU_ASSERT_PTR_NOT_NULL_FATAL(stop);
    uint8_t *t = malloc(n);
    mp_fd_device back;
    memcpy(t, img, n);
    for (size_t i = start; i < (size_t)(stop - img); i++) {
        t[i] = other_char(img[i], kind);
        if (mp_fd_unpack(format, t, n, &back) != MP_OK) {
            c->reader++;
        } else if (inspect_fails(&back, pai, cd, cdlen)) {
            c->checks++;
        } else if (memcmp(&back, orig, sizeof(back)) == 0) {
            c->harmless++;
        } else {
            printf("\n  %s: '%s' offset %zu: %c -> %c not caught\n", mp_fd_format_name(format), prefix, i - start, img[i], t[i]);
            c->missed++;
        }
        t[i] = img[i];
    }
    free(t);
}

/* A changed byte in what inspect vouches for (certificates, key, CD, salt,
 * verifier, iterations, VID, PID) never passes: the text formats carry no
 * CRC, so the checks must catch what the reader cannot. */
static void test_text_formats_tamper(void)
{
    mp_fd_device d, orig;
    X509 *pai = NULL;
    uint8_t *img;
    size_t n;
    fdt_make_device(&d);
    CU_ASSERT_EQUAL_FATAL(mp_cert_load(tu_vector("Chip-Test-PAI-FFF1-8000-Cert.pem"), &pai), MP_OK);
    static const struct { const char *prefix; char end, kind; } nrf[] = {
        {"\"dac_cert\": \"hex:", '"', 'x'}, {"\"dac_key\": \"hex:", '"', 'x'}, {"\"pai_cert\": \"hex:", '"', 'x'},
        {"\"spake2_salt\": \"hex:", '"', 'x'}, {"\"spake2_verifier\": \"hex:", '"', 'x'},
        {"\"spake2_it\": ", ',', 'd'}, {"\"vendor_id\": ", ',', 'd'}, {"\"product_id\": ", ',', 'd'},
    }, csv[] = {
        {"\ndac-cert,data,hex2bin,", '\n', 'x'}, {"\ndac-key,data,hex2bin,", '\n', 'x'},
        {"\ndac-pub-key,data,hex2bin,", '\n', 'x'}, {"\npai-cert,data,hex2bin,", '\n', 'x'},
        {"\ncert-dclrn,data,hex2bin,", '\n', 'x'}, {"\nsalt,data,string,", '\n', 'b'},
        {"\nverifier,data,string,", '\n', 'b'}, {"\niteration-count,data,u32,", '\n', 'd'},
        {"\nvendor-id,data,u32,", '\n', 'd'}, {"\nproduct-id,data,u32,", '\n', 'd'},
    };
    for (int f = 0; f < 2; f++) {
        int format = f == 0 ? MP_FD_NRF_JSON : MP_FD_ESP32_CSV;
        sweep_count c = {0, 0, 0, 0};
        CU_ASSERT_EQUAL_FATAL(mp_fd_pack(format, &d, NULL, &img, &n), MP_OK);
        CU_ASSERT_EQUAL_FATAL(mp_fd_unpack(format, img, n, &orig), MP_OK);
        CU_ASSERT_FALSE(inspect_fails(&orig, pai, d.cd_der, d.cd_len)); /* the untouched image passes */
        size_t count = f == 0 ? sizeof(nrf) / sizeof(nrf[0]) : sizeof(csv) / sizeof(csv[0]);
        for (size_t i = 0; i < count; i++) {
            const char *prefix = f == 0 ? nrf[i].prefix : csv[i].prefix;
            char end = f == 0 ? nrf[i].end : csv[i].end, kind = f == 0 ? nrf[i].kind : csv[i].kind;
            sweep(format, img, n, prefix, end, kind, &orig, pai, d.cd_der, d.cd_len, &c);
        }
        CU_ASSERT_EQUAL(c.missed, 0);
        CU_ASSERT(c.checks > 1000); /* most changes decode fine: only the checks see them */
        CU_ASSERT(c.reader > 0);
        free(img);
    }
    X509_free(pai);
}

/* Which reader inspect picks: the content, then the file name. */
static void test_detect_text_formats(void)
{
    mp_fd_device d;
    uint8_t *img;
    size_t n;
    fdt_make_device(&d);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_NRF_JSON, &d, NULL, &img, &n), MP_OK);
    CU_ASSERT_EQUAL(mp_fd_detect(img, n), MP_FD_NRF_JSON);
    CU_ASSERT_EQUAL(mp_fd_detect_file("dev.json", img, n), MP_FD_NRF_JSON); /* content beats a plain .json */
    CU_ASSERT_EQUAL(mp_fd_detect_file("dev.nrf.json", img, n), MP_FD_NRF_JSON);
    free(img);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_JSON, &d, NULL, &img, &n), MP_OK);
    CU_ASSERT_EQUAL(mp_fd_detect_file("dev.nrf.json", img, n), MP_FD_JSON); /* "format" says it */
    free(img);
    CU_ASSERT_EQUAL_FATAL(mp_fd_pack(MP_FD_ESP32_CSV, &d, NULL, &img, &n), MP_OK);
    CU_ASSERT_EQUAL(mp_fd_detect(img, n), MP_FD_ESP32_CSV);
    CU_ASSERT_EQUAL(mp_fd_detect_file("x.txt", img, n), MP_FD_ESP32_CSV);
    free(img);
    static const uint8_t broken[] = "{\"sn\": ", empty[] = "{}", junk[] = "key;type";
    CU_ASSERT_EQUAL(mp_fd_detect(broken, sizeof(broken) - 1), MP_FD_JSON);
    CU_ASSERT_EQUAL(mp_fd_detect_file("A.nrf.json", broken, sizeof(broken) - 1), MP_FD_NRF_JSON);
    CU_ASSERT_EQUAL(mp_fd_detect_file("A.nrf.json", empty, 2), MP_FD_NRF_JSON);
    CU_ASSERT_EQUAL(mp_fd_detect_file("A.json", empty, 2), MP_FD_JSON);
    CU_ASSERT_EQUAL(mp_fd_detect_file("A.esp32.csv", junk, sizeof(junk) - 1), MP_FD_ESP32_CSV);
    CU_ASSERT_EQUAL(mp_fd_detect_file("A.csv", junk, sizeof(junk) - 1), 0);
    CU_ASSERT_EQUAL(mp_fd_detect_file("esp32.csv", junk, sizeof(junk) - 1), 0); /* a suffix, not a name */
    CU_ASSERT_EQUAL(mp_fd_format_parse("nrf-json"), MP_FD_NRF_JSON);
    CU_ASSERT_EQUAL(mp_fd_format_parse("esp32-csv"), MP_FD_ESP32_CSV);
}

void register_fd_text(void)
{
    CU_pSuite s = CU_add_suite("factory-data text formats", NULL, NULL);
    TU_ADD(s, test_nrf_json_read);
    TU_ADD(s, test_esp32_csv_read);
    TU_ADD(s, test_text_formats_tamper);
    TU_ADD(s, test_detect_text_formats);
}
