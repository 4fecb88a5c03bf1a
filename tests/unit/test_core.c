/* test_core.c - numbers, dates, hex, files. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ceremony.h"
#include "testutil.h"
#include "util.h"
#include "workers.h"

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

/* mp_sha256: the FIPS 180-2 vectors ("abc", the empty string) and 100 DAC-sized
 * inputs against OpenSSL's one-shot SHA256(). */
static void test_sha256(void)
{
    uint8_t h[32], ref[32], big[700];
    char hex[65];
    mp_sha256("abc", 3, h);
    mp_hex(h, 32, hex, 0);
    CU_ASSERT_STRING_EQUAL(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    mp_sha256("", 0, h);
    mp_hex(h, 32, hex, 0);
    CU_ASSERT_STRING_EQUAL(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    for (int i = 0; i < 100; i++) {
        for (size_t k = 0; k < sizeof(big); k++) big[k] = (uint8_t)(k * 31 + (size_t)i);
        mp_sha256(big, sizeof(big) - (size_t)i, h);
        SHA256(big, sizeof(big) - (size_t)i, ref);
        CU_ASSERT(memcmp(h, ref, 32) == 0);
    }
}

/* mp_workers_pin: thread j of a team with one thread per allowed CPU ends
 * on exactly the j-th allowed CPU; a team of another size, or
 * MATTER_PKI_NO_AFFINITY=1, leaves the thread where the scheduler may move it. */
struct pin_arg {
    int j, jobs, count;
    int cpu;
};

static void *pin_thread(void *p)
{
    struct pin_arg *a = p;
    cpu_set_t cs;
    mp_workers_pin(a->j, a->jobs);
    a->count = sched_getaffinity(0, sizeof(cs), &cs) == 0 ? CPU_COUNT(&cs) : -1;
    a->cpu = -1;
    for (int c = 0; c < CPU_SETSIZE && a->count == 1; c++) {
        if (CPU_ISSET(c, &cs)) a->cpu = c;
    }
    return NULL;
}

static struct pin_arg pin_run(int j, int jobs)
{
    struct pin_arg a = {.j = j, .jobs = jobs};
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, pin_thread, &a), 0);
    pthread_join(t, NULL);
    return a;
}

static void test_workers_pin(void)
{
    cpu_set_t allowed;
    CU_ASSERT_EQUAL_FATAL(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
    int n = CPU_COUNT(&allowed), last = -1;
    if (n < 2) return; /* one CPU: nothing to pin */
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (CPU_ISSET(c, &allowed)) last = c;
    }
    struct pin_arg a = pin_run(n - 1, n);
    CU_ASSERT_EQUAL(a.count, 1);
    CU_ASSERT_EQUAL(a.cpu, last);
    a = pin_run(0, n + 1); /* more threads than CPUs: not pinned */
    CU_ASSERT_EQUAL(a.count, n);
    setenv("MATTER_PKI_NO_AFFINITY", "1", 1);
    a = pin_run(0, n);
    unsetenv("MATTER_PKI_NO_AFFINITY");
    CU_ASSERT_EQUAL(a.count, n);
}

/* mp_workers_caller_helps: a team with a thread per CPU (or more) makes one
 * thread fewer and the caller takes items with state[0] in mp_workers_help,
 * on one CPU while it does; every item runs once, also when the caller does
 * not help (the threads take them all); mp_workers_free gives the caller
 * its CPUs back. */
#define HELP_N 3000
struct help_state {
    pthread_t self;
    int other_thread; /* ran on a thread other than self */
    int cpus;         /* CPUs the thread could use while it ran an item */
    long ran;
};
static atomic_int help_hits[HELP_N];

static void help_fn(void *ctx, void *state, size_t i)
{
    struct help_state *h = state;
    cpu_set_t cs;
    (void)ctx;
    atomic_fetch_add(&help_hits[i], 1);
    if (!pthread_equal(pthread_self(), h->self)) h->other_thread = 1;
    h->cpus = sched_getaffinity(0, sizeof(cs), &cs) == 0 ? CPU_COUNT(&cs) : -1;
    h->ran++;
}

static void test_workers_caller_helps(void)
{
    cpu_set_t allowed;
    CU_ASSERT_EQUAL_FATAL(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
    int n = CPU_COUNT(&allowed), jobs = n < 2 ? 2 : n;
    if (jobs > 8) jobs = 8;
    struct help_state hs[8];
    void *states[8];
    for (int pass = 0; pass < 2; pass++) {
        mp_workers w;
        memset(hs, 0, sizeof(hs));
        for (int j = 0; j < jobs; j++) states[j] = &hs[j];
        hs[0].self = pthread_self();
        for (int i = 0; i < HELP_N; i++) atomic_store(&help_hits[i], 0);
        mp_workers_init(&w, jobs, states, help_fn);
        CU_ASSERT_EQUAL(mp_workers_caller_helps(&w), jobs >= n);
        CU_ASSERT_EQUAL_FATAL(mp_workers_start(&w, NULL, HELP_N), MP_OK);
        if (pass == 0) mp_workers_help(&w); /* pass 1: the threads take every item */
        mp_workers_join(&w);
        int once = 1;
        for (int i = 0; i < HELP_N; i++) once &= atomic_load(&help_hits[i]) == 1;
        CU_ASSERT(once);
        if (jobs >= n) CU_ASSERT_EQUAL(hs[0].other_thread, 0); /* state[0] is the caller's alone */
        if (pass == 1 && jobs >= n) CU_ASSERT_EQUAL(hs[0].ran, 0);
        if (pass == 0 && jobs == n && hs[0].ran > 0) CU_ASSERT_EQUAL(hs[0].cpus, 1); /* pinned while it helped */
        mp_workers_free(&w);
        cpu_set_t after;
        CU_ASSERT_EQUAL(sched_getaffinity(0, sizeof(after), &after), 0);
        CU_ASSERT(CPU_EQUAL(&after, &allowed)); /* its CPUs back */
    }
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

static int count_entries(const char *dir)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 2", dir);
    return system(cmd) == 0;
}

static void check_file(const char *dir, const char *name, const char *want, int mode)
{
    char path[160];
    uint8_t *b = NULL;
    size_t n = 0;
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    CU_ASSERT_EQUAL_FATAL(mp_read_file(path, 100, &b, &n), MP_OK);
    CU_ASSERT_EQUAL(n, strlen(want));
    CU_ASSERT_NSTRING_EQUAL(b, want, n);
    free(b);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, (unsigned)mode);
}

/* Batch output folder: new files (unnamed inode + link), replacing files
 * (rename), the forced fallback, exact modes, nothing else left behind. */
static void test_outdir(void)
{
    char dir[] = "/tmp/mp-unit-XXXXXX", cmd[64];
    mp_outdir od;
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    mode_t old = umask(077);
    CU_ASSERT_EQUAL_FATAL(mp_outdir_open(&od, dir), MP_OK);
    CU_ASSERT_EQUAL(mp_outdir_write(&od, "a.der", (const uint8_t *)"first", 5, 0644), MP_OK);
    check_file(dir, "a.der", "first", 0644); /* fchmod beats the umask */
    CU_ASSERT_EQUAL(mp_outdir_write(&od, "a.der", (const uint8_t *)"second!", 7, 0600), MP_OK);
    check_file(dir, "a.der", "second!", 0600);
    atomic_store(&od.no_tmpfile, 1); /* a file system without O_TMPFILE */
    CU_ASSERT_EQUAL(mp_outdir_write(&od, "b.der", (const uint8_t *)"bb", 2, 0600), MP_OK);
    check_file(dir, "b.der", "bb", 0600);
    CU_ASSERT(count_entries(dir)); /* a.der and b.der, no temporaries */
    CU_ASSERT_EQUAL(mp_outdir_sync(&od), MP_OK);
    mp_outdir_close(&od);
    umask(old);
    CU_ASSERT_EQUAL(mp_outdir_open(&od, "/nonexistent-mp-dir"), MP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "/nonexistent-mp-dir"));
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

/* A signed ceremony-log line: the signature's hex and the digest of the
 * line without ,"sig":"..." (with its closing brace), in the signature's
 * domain; anything else at the end is not a signed line. */
static void test_ceremony_signed_digest(void)
{
    static const char line[] = "{\"command\":\"pai crl\",\"prev\":\"00\",\"audit_skid\":\"AB\",\"sig\":\"3045ab\"}";
    static const char body[] = "matter-pki ceremony log v1\n{\"command\":\"pai crl\",\"prev\":\"00\",\"audit_skid\":\"AB\"}";
    uint8_t d[32], want[32];
    unsigned int n = 0;
    char hex[16];
    CU_ASSERT_EQUAL(mp_ceremony_signed_digest(line, strlen(line), d, hex, sizeof(hex)), 0);
    CU_ASSERT_STRING_EQUAL(hex, "3045ab");
    EVP_Digest(body, strlen(body), want, &n, EVP_sha256(), NULL);
    CU_ASSERT_EQUAL(memcmp(d, want, 32), 0);
    static const char *const bad[] = {
        "{\"command\":\"x\",\"prev\":\"00\"}",                         /* unsigned */
        "{\"sig\":\"3045ab\",\"command\":\"x\"}",                          /* sig not last */
        "{\"command\":\"x\",\"sig\":\"30zz\"}",                            /* not hex */
        "{\"command\":\"x\",\"sig\":\"3045ab\"} ",                          /* trailing byte */
        "{\"command\":\"x\",\"sig\":\"3045ab3045ab3045ab3045ab3045ab\"}", /* longer than the buffer */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL(mp_ceremony_signed_digest(bad[i], strlen(bad[i]), d, hex, sizeof(hex)), -1);
    }
}

void register_core(void)
{
    CU_pSuite s = CU_add_suite("core", NULL, NULL);
    TU_ADD(s, test_parse_uint);
    TU_ADD(s, test_parse_vid_pid);
    TU_ADD(s, test_parse_time);
    TU_ADD(s, test_hex);
    TU_ADD(s, test_sha256);
    TU_ADD(s, test_workers_pin);
    TU_ADD(s, test_workers_caller_helps);
    TU_ADD(s, test_write_file);
    TU_ADD(s, test_outdir);
    TU_ADD(s, test_ceremony_signed_digest);
}
