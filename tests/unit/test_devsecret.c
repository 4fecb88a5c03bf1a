/* test_devsecret.c - core/devsecret.c: the contract of device secrets
 * between stages (staged keys 0600 and exclusive, placed beside their DAC,
 * found by UDID through the DAC's recorded path whatever its layout, then
 * through a ledger-recorded image checked by SHA-256; forgotten; passcodes
 * from the ledger or onboarding.csv; buffers wiped). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "devsecret.h"
#include "factory-data/fd.h"
#include "ledger.h"
#include "testutil.h"
#include "util.h"

#define UDID "3F2A00000000000000000000000000000000000000000000000000000000BEEF"

static char dir[64];

static void setup_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/mp-devsecret-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
}

static void rm_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0) return 0;
    }
    return 1;
}

/* A stand-in DAC: its P-256 SubjectPublicKeyInfo is all the module reads. */
static void fake_dac(mp_issued *d, const mp_devkey *k, const char *path)
{
    static const uint8_t spki[] = {0x30, 0x82, 0x01, 0x00, 0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE,
                                   0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03,
                                   0x42, 0x00};
    memset(d, 0, sizeof(*d));
    snprintf(d->udid, sizeof(d->udid), "%s", UDID);
    memcpy(d->der, spki, sizeof(spki));
    memcpy(d->der + sizeof(spki), k->point, 65);
    d->der_len = sizeof(spki) + 65 + 10;
    d->key_origin = MP_KEY_OFFCHIP;
    snprintf(d->path, sizeof(d->path), "%s", path);
    snprintf(d->dir, sizeof(d->dir), "%s", dir);
}

static void make_key(mp_devkey *k, uint8_t seed)
{
    memset(k->scalar, seed, 32);
    memset(k->point, seed ^ 0x5A, 65);
    k->point[0] = 4;
}

static int stage_open(void)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/" MP_DEVSECRET_STAGING, dir);
    CU_ASSERT_EQUAL(mkdir(p, 0700), 0);
    return open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void test_names(void)
{
    char out[64], udid[MP_UDID_MAX + 1];
    CU_ASSERT_EQUAL(mp_devsecret_key_path("/a/b/SER1/SER1.der", out, sizeof(out)), MP_OK);
    CU_ASSERT_STRING_EQUAL(out, "/a/b/SER1/SER1.key.der");
    CU_ASSERT_EQUAL(mp_devsecret_key_path("/a/lot.jsonl#" UDID, out, sizeof(out)), MP_ERR_INVALID);
    CU_ASSERT_EQUAL(mp_devsecret_key_path("/a/b.der", out, 8), MP_ERR_IO);
    CU_ASSERT_STRING_EQUAL(out, "");
    CU_ASSERT_EQUAL(mp_devsecret_staged_udid("DEV1.key.der", udid), 1);
    CU_ASSERT_STRING_EQUAL(udid, "DEV1");
    CU_ASSERT_EQUAL(mp_devsecret_staged_udid("DEV1.der", udid), 0);
    CU_ASSERT_EQUAL(mp_devsecret_staged_udid(".key.der", udid), 0);
    CU_ASSERT_EQUAL(mp_devsecret_staged_name("a/b", out, sizeof(out)), MP_ERR_INVALID);
    /* the one SEC1 codec (key files, esp32-secure-cert and silabs images) */
    mp_devkey k;
    uint8_t der[MP_SEC1_LEN];
    const uint8_t *sc = NULL, *pt = NULL;
    memset(k.scalar, 0x21, 32);
    memset(k.point, 0x43, 65);
    CU_ASSERT_EQUAL(mp_sec1_der(k.scalar, k.point, der), MP_SEC1_LEN);
    CU_ASSERT_EQUAL(mp_sec1_parse(der, sizeof(der), &sc, &pt), 1);
    CU_ASSERT(sc == der + 7 && memcmp(sc, k.scalar, 32) == 0 && memcmp(pt, k.point, 65) == 0);
    CU_ASSERT_EQUAL(mp_sec1_parse(der, sizeof(der) - 1, &sc, &pt), 0);
    der[55] = 1; /* the BIT STRING's unused-bits byte */
    CU_ASSERT_EQUAL(mp_sec1_parse(der, sizeof(der), &sc, &pt), 0);
    der[55] = 0;
    der[48] = 0x22; /* not prime256v1 */
    CU_ASSERT_EQUAL(mp_sec1_parse(der, sizeof(der), &sc, &pt), 0);
    mp_devsecret_clear(der, sizeof(der));
}

/* put: 0600 whatever the umask, exclusive, never through a link; get from
 * staging, then beside the DAC in another layout; forget; wiped. */
static void test_put_get_forget(void)
{
    mp_devkey k, got;
    mp_issued d;
    char path[256], key_file[256], staged[256];
    struct stat st;
    int from = 0;
    setup_dir();
    int sfd = stage_open(), ofd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    make_key(&k, 0x11);
    mode_t old = umask(0); /* the mode must not depend on it */
    CU_ASSERT_EQUAL(mp_devsecret_put_key(sfd, UDID, &k), MP_OK);
    umask(old);
    snprintf(staged, sizeof(staged), "%s/" MP_DEVSECRET_STAGING "/" UDID ".key.der", dir);
    CU_ASSERT_EQUAL_FATAL(stat(staged, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    CU_ASSERT_EQUAL(st.st_size, MP_SEC1_LEN);
    CU_ASSERT_EQUAL(mp_devsecret_put_key(sfd, UDID, &k), MP_ERR_EXISTS); /* never over a file */
    /* a link planted under the name is refused, its target untouched */
    char other[128], link_name[256];
    snprintf(other, sizeof(other), "%s/victim", dir);
    FILE *v = fopen(other, "w");
    fputs("x", v);
    fclose(v);
    snprintf(link_name, sizeof(link_name), "%s/" MP_DEVSECRET_STAGING "/LINKED.key.der", dir);
    CU_ASSERT_EQUAL(symlink(other, link_name), 0);
    CU_ASSERT_EQUAL(mp_devsecret_put_key(sfd, "LINKED", &k), MP_ERR_EXISTS);
    CU_ASSERT_EQUAL(stat(other, &st), 0);
    CU_ASSERT_EQUAL(st.st_size, 1);

    /* committed with --layout per-device --name-by serial: the ledger's DAC path says where */
    snprintf(path, sizeof(path), "%s/0A1B/0A1B.der", dir);
    fake_dac(&d, &k, path);
    mp_devsecret ds = {.ledger = NULL, .img = {.dir = dir}};
    CU_ASSERT_EQUAL(mp_devsecret_get_key(&ds, &d, NULL, &got, &from), MP_OK); /* killed between commit and move */
    CU_ASSERT_EQUAL(from, 2);
    CU_ASSERT_EQUAL(memcmp(got.scalar, k.scalar, 32), 0);
    CU_ASSERT_EQUAL(mp_devsecret_place_key(sfd, ofd, dir, UDID, "0A1B/0A1B.key.der"), MP_OK);
    snprintf(key_file, sizeof(key_file), "%s/0A1B/0A1B.key.der", dir);
    CU_ASSERT_EQUAL(stat(key_file, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    CU_ASSERT_EQUAL(access(staged, F_OK), -1);
    MP_DEVSECRET_CLEAR(&got);
    CU_ASSERT(all_zero(&got, sizeof(got))); /* the free function wipes */
    CU_ASSERT_EQUAL(mp_devsecret_get_key(&ds, &d, NULL, &got, &from), MP_OK);
    CU_ASSERT_EQUAL(from, 1);
    CU_ASSERT_EQUAL(memcmp(got.scalar, k.scalar, 32), 0);
    CU_ASSERT_EQUAL(memcmp(got.point, k.point, 65), 0);
    /* the old guess (UDID.key.der in the output folder) is not where it is */
    char guess[256];
    snprintf(guess, sizeof(guess), "%s/" UDID ".key.der", dir);
    CU_ASSERT_EQUAL(access(guess, F_OK), -1);

    /* another device's key file at that name: refused, not used */
    mp_devkey k2;
    make_key(&k2, 0x22);
    mp_issued d2;
    fake_dac(&d2, &k2, path);
    CU_ASSERT_EQUAL(mp_devsecret_get_key(&ds, &d2, NULL, &got, NULL), MP_ERR_MISMATCH);
    CU_ASSERT(all_zero(&got, sizeof(got)));

    CU_ASSERT_EQUAL(mp_devsecret_forget(&ds, &d), 1);
    CU_ASSERT_EQUAL(access(key_file, F_OK), -1);
    CU_ASSERT_EQUAL(mp_devsecret_forget(&ds, &d), 0);
    memset(&got, 0xAA, sizeof(got));
    CU_ASSERT_EQUAL(mp_devsecret_get_key(&ds, &d, NULL, &got, NULL), MP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "0A1B/0A1B.key.der"));
    CU_ASSERT(all_zero(&got, sizeof(got))); /* wiped on the error path too */

    /* a symbolic link as the key file is refused */
    CU_ASSERT_EQUAL(symlink(other, key_file), 0);
    CU_ASSERT_EQUAL(mp_devsecret_get_key(&ds, &d, NULL, &got, NULL), MP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "symbolic link"));
    unlink(key_file);

    /* a short (cut) key file */
    int fd = open(key_file, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CU_ASSERT_EQUAL(write(fd, "\x30\x77\x02\x01", 4), 4);
    close(fd);
    CU_ASSERT_EQUAL(mp_devsecret_get_key(&ds, &d, NULL, &got, NULL), MP_ERR_INVALID);
    unlink(key_file);
    close(sfd);
    close(ofd);
    rm_dir();
}

/* A caller's bundle line reader (factory-data build: its index): the line
 * it gives is the one the module reads the key from. */
static int lines_asked;
static const char *line_given;
static int t_line(void *arg, const char *bundle, const char *udid, char **line)
{
    (void)arg;
    lines_asked++;
    *line = NULL;
    if (strstr(bundle, "lot.jsonl") == NULL || strcmp(udid, UDID) != 0) return MP_OK;
    *line = line_given ? strdup(line_given) : NULL;
    return MP_OK;
}

/* --bundle: the key in the device's line ("key": base64 PKCS#8), found by
 * the ledger's BUNDLE#UDID; a torn line or another device's line is none. */
static void test_bundle_key(void)
{
    char bundle[128], path[256], member[MP_DEVSECRET_MEMBER_MAX];
    mp_devkey k, got;
    mp_issued d;
    int from = 0, found = 0;
    setup_dir();
    make_key(&k, 0x44);
    CU_ASSERT_EQUAL(mp_devsecret_bundle_member(&k, member, 20), MP_ERR_GENERAL);
    CU_ASSERT(all_zero(member, 20));
    CU_ASSERT_EQUAL_FATAL(mp_devsecret_bundle_member(&k, member, sizeof(member)), MP_OK);
    static const char pfx[] = ",\"key\":\"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg"; /* PKCS#8, P-256 */
    CU_ASSERT_EQUAL(strncmp(member, pfx, sizeof(pfx) - 1), 0);
    snprintf(bundle, sizeof(bundle), "%s/lot.jsonl", dir);
    FILE *f = fopen(bundle, "w");
    fprintf(f, "{\"udid\":\"OTHER\",\"serial\":\"01\",\"dac\":\"\"%s}\n", member);
    fprintf(f, "{\"udid\":\"%s\",\"serial\":\"02\",\"dac\":\"\"%s}\n", UDID, member);
    fclose(f);
    snprintf(path, sizeof(path), "%s#%s", bundle, UDID);
    fake_dac(&d, &k, path);
    mp_devsecret ds = {.img = {.dir = dir}};
    CU_ASSERT_EQUAL(mp_devsecret_get_key(&ds, &d, NULL, &got, &from), MP_OK);
    CU_ASSERT_EQUAL(from, 1);
    CU_ASSERT_EQUAL(memcmp(got.scalar, k.scalar, 32), 0);
    /* a line cut by a crash holds no key */
    f = fopen(bundle, "w");
    fprintf(f, "{\"udid\":\"%s\",\"serial\":\"02\",\"dac\":\"\"%s}", UDID, member);
    fclose(f);
    CU_ASSERT_EQUAL(mp_devsecret_get_key(&ds, &d, NULL, &got, NULL), MP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "lot.jsonl (its DAC's bundle)"));
    /* ... but its staged key, which stays until the line is synced, is found */
    int sfd = stage_open();
    CU_ASSERT_EQUAL(mp_devsecret_put_key(sfd, UDID, &k), MP_OK);
    CU_ASSERT_EQUAL(mp_devsecret_get_staged(dir, UDID, d.der, d.der_len, &got, &found), MP_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(memcmp(got.point, k.point, 65), 0);
    /* through the caller's line reader (the file is not read then) */
    char given[512];
    snprintf(given, sizeof(given), "{\"udid\":\"%s\",\"serial\":\"02\",\"dac\":\"\"%s}", UDID, member);
    line_given = given;
    mp_devsecret via = {.img = {.dir = dir, .line = t_line}};
    CU_ASSERT_EQUAL(mp_devsecret_get_key(&via, &d, NULL, &got, &from), MP_OK);
    CU_ASSERT_EQUAL(from, 1);
    CU_ASSERT_EQUAL(lines_asked, 1);
    CU_ASSERT_EQUAL(memcmp(got.scalar, k.scalar, 32), 0);
    snprintf(given, sizeof(given), "{\"udid\":\"OTHER\",\"serial\":\"02\",\"dac\":\"\"%s}", member);
    CU_ASSERT_EQUAL(mp_devsecret_get_key(&via, &d, NULL, &got, NULL), MP_ERR_INVALID); /* not its line */
    CU_ASSERT(all_zero(&got, sizeof(got)));
    snprintf(given, sizeof(given), "{\"udid\":\"%s\",\"serial\":\"02\",\"dac\":\"\"}", UDID);
    CU_ASSERT_EQUAL(mp_devsecret_get_key(&via, &d, NULL, &got, NULL), MP_ERR_INVALID); /* a line without its key */
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "holds no key"));
    line_given = NULL;
    /* checked against the DAC it is staged for: another device's DAC is refused */
    mp_devkey other;
    mp_issued od;
    make_key(&other, 0x45);
    fake_dac(&od, &other, d.path);
    CU_ASSERT_EQUAL(mp_devsecret_get_staged(dir, UDID, od.der, od.der_len, &got, &found), MP_ERR_MISMATCH);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT(all_zero(&got, sizeof(got)));
    CU_ASSERT_EQUAL(mp_devsecret_get_key(&ds, &d, NULL, &got, &from), MP_OK);
    CU_ASSERT_EQUAL(from, 2);
    CU_ASSERT_EQUAL(mp_devsecret_drop_staged(sfd, UDID), 1);
    CU_ASSERT_EQUAL(mp_devsecret_get_staged(dir, UDID, NULL, 0, &got, &found), MP_OK);
    CU_ASSERT_EQUAL(found, 0);
    MP_DEVSECRET_CLEAR(&got);
    close(sfd);
    rm_dir();
}

/* The factory-data stage's reader, played by the test: an "image" is
 * 32 bytes of scalar followed by the DAC. */
static int t_load(void *arg, void *item, const char *format, const mp_issued *dev, uint8_t **img, size_t *len)
{
    char path[256];
    (void)arg;
    CU_ASSERT_STRING_EQUAL((const char *)item, "item-arg");
    snprintf(path, sizeof(path), "%s/%s.%s", dir, dev->udid, format);
    return mp_devsecret_read_file(path, 4096, img, len);
}

static int t_key(void *arg, const char *format, const uint8_t *img, size_t len, uint8_t scalar[static 32], uint8_t *dac,
                 size_t dac_cap, size_t *dac_len)
{
    (void)arg;
    (void)format;
    if (len < 32 || len - 32 > dac_cap) return MP_ERR_INVALID;
    memcpy(scalar, img, 32);
    memcpy(dac, img + 32, len - 32);
    *dac_len = len - 32;
    return MP_OK;
}

static void write_image(const char *name, const mp_devkey *k, const mp_issued *d, char sha[65])
{
    char path[256];
    uint8_t buf[800], md[32];
    memcpy(buf, k->scalar, 32);
    memcpy(buf + 32, d->der, d->der_len);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    fwrite(buf, 1, 32 + d->der_len, f);
    fclose(f);
    SHA256(buf, 32 + d->der_len, md);
    mp_hex(md, 32, sha, 0);
}

/* A rebuild after the key file was packed and removed: the image the
 * ledger records (fd_images, SHA-256) gives the key back; an image that is
 * not the recorded one does not. */
static void test_from_image(void)
{
    char path[256], sha[65], was[65];
    mp_ledger *l = NULL;
    mp_devkey k, got;
    mp_issued d;
    int from = 0;
    setup_dir();
    snprintf(path, sizeof(path), "%s/l.sqlite", dir);
    CU_ASSERT_EQUAL_FATAL(mp_ledger_open(path, &l), MP_OK);
    mp_chip_list cl = {.format = "csv", .source = "x", .signer = ""};
    snprintf(cl.sha256, sizeof(cl.sha256), "aa");
    CU_ASSERT_EQUAL_FATAL(mp_ledger_add_list(l, &cl), MP_OK);
    make_key(&k, 0x33);
    mp_device dv = {.list_id = cl.id, .key_origin = MP_KEY_OFFCHIP};
    snprintf(dv.udid, sizeof(dv.udid), "%s", UDID);
    memcpy(dv.point, k.point, 65);
    CU_ASSERT_EQUAL_FATAL(mp_ledger_add_device(l, &dv), MP_OK);
    snprintf(path, sizeof(path), "%s/dacs/" UDID ".der", dir);
    fake_dac(&d, &k, path);
    write_image(UDID ".kimg", &k, &d, sha);
    CU_ASSERT_EQUAL(mp_ledger_fd_image(l, UDID, "kimg", sha, was), MP_OK);
    static const char *const formats[] = {"kimg", NULL};
    char item_arg[] = "item-arg";
    mp_devsecret ds = {.ledger = l, .img = {.dir = dir, .formats = formats, .load = t_load, .key = t_key}};
    CU_ASSERT_EQUAL(mp_devsecret_get_key(&ds, &d, item_arg, &got, &from), MP_OK);
    CU_ASSERT_EQUAL(from, 3);
    CU_ASSERT_EQUAL(memcmp(got.scalar, k.scalar, 32), 0);
    CU_ASSERT_EQUAL(memcmp(got.point, k.point, 65), 0);
    MP_DEVSECRET_CLEAR(&got);
    /* the file replaced by an image of other bytes: not the ledger's record */
    mp_devkey bad = k;
    bad.scalar[0] ^= 1;
    write_image(UDID ".kimg", &bad, &d, sha);
    CU_ASSERT_EQUAL(mp_devsecret_get_key(&ds, &d, item_arg, &got, NULL), MP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "is missing"));
    CU_ASSERT(all_zero(&got, sizeof(got)));

    /* credentials: the ledger's row; the passcode only when recorded, else onboarding.csv */
    mp_order o = {.vid = 0xFFF2, .pid = 0x8001, .quota = 2};
    snprintf(o.pai_skid, sizeof(o.pai_skid), "SKID");
    snprintf(o.cn_template, sizeof(o.cn_template), "{udid}");
    CU_ASSERT_EQUAL_FATAL(mp_ledger_add_order(l, &o), MP_OK);
    mp_fd_rec r = {.order_id = o.id, .discriminator = 3840, .iterations = 1000, .salt_len = 32, .rd_uid_len = 16};
    snprintf(r.udid, sizeof(r.udid), "%s", UDID);
    snprintf(r.serial, sizeof(r.serial), "SN1");
    snprintf(r.mfg_date, sizeof(r.mfg_date), "2026-01-01");
    memset(r.salt, 7, 32);
    memset(r.verifier, 9, 97);
    CU_ASSERT_EQUAL_FATAL(mp_ledger_add_fd(l, &r), MP_OK);
    mp_devcreds c;
    CU_ASSERT_EQUAL(mp_devsecret_get_credentials(&ds, UDID, 0, &c), MP_OK);
    CU_ASSERT_EQUAL(c.discriminator, 3840);
    CU_ASSERT_EQUAL(c.iterations, 1000);
    CU_ASSERT_EQUAL(c.salt_len, 32);
    CU_ASSERT_EQUAL(c.verifier[96], 9);
    CU_ASSERT_EQUAL(c.has_passcode, 0);
    memset(&c, 0x77, sizeof(c));
    CU_ASSERT_EQUAL(mp_devsecret_get_credentials(&ds, UDID, 1, &c), MP_ERR_INVALID); /* no onboarding.csv */
    CU_ASSERT(all_zero(&c, sizeof(c)));
    snprintf(path, sizeof(path), "%s/onboarding.csv", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "udid,serial,vid,pid,discriminator,passcode,qr,manual,manual_dashed\n%s,SN1,0xFFF2,0x8001,3840,00123456,MT:y,2,2\n", UDID);
    fclose(f);
    CU_ASSERT_EQUAL(mp_devsecret_get_credentials(&ds, UDID, 1, &c), MP_OK);
    CU_ASSERT_EQUAL(c.has_passcode, 1);
    CU_ASSERT_EQUAL(c.passcode, 123456);
    MP_DEVSECRET_CLEAR(&c);
    /* --record-passcodes: the ledger's passcode, even when onboarding.csv
     * (of another run) says otherwise or is gone */
    mp_device dv2 = {.list_id = cl.id, .key_origin = MP_KEY_OFFCHIP};
    snprintf(dv2.udid, sizeof(dv2.udid), "REC1");
    memcpy(dv2.point, k.point, 65);
    dv2.point[64] ^= 1; /* one device per public key */
    CU_ASSERT_EQUAL_FATAL(mp_ledger_add_device(l, &dv2), MP_OK);
    mp_fd_rec r2 = r;
    snprintf(r2.udid, sizeof(r2.udid), "REC1");
    snprintf(r2.serial, sizeof(r2.serial), "SN2");
    r2.discriminator = 77;
    r2.rd_uid[0] = 1; /* rd_uid is unique too */
    r2.has_passcode = 1;
    r2.passcode = 24681357;
    CU_ASSERT_EQUAL_FATAL(mp_ledger_add_fd(l, &r2), MP_OK);
    f = fopen(path, "a");
    fputs("REC1,SN2,0xFFF2,0x8001,77,11111111,MT:z,3,3\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(mp_devsecret_get_credentials(&ds, "REC1", 0, &c), MP_OK);
    CU_ASSERT_EQUAL(c.has_passcode, 1);
    CU_ASSERT_EQUAL(c.passcode, 24681357);
    CU_ASSERT_EQUAL(c.discriminator, 77);
    CU_ASSERT_EQUAL(unlink(path), 0);
    MP_DEVSECRET_CLEAR(&c);
    CU_ASSERT_EQUAL(mp_devsecret_get_credentials(&ds, "REC1", 1, &c), MP_OK);
    CU_ASSERT_EQUAL(c.passcode, 24681357);
    MP_DEVSECRET_CLEAR(&c);
    /* the first device again: onboarding.csv gone, passcode not recorded */
    CU_ASSERT_EQUAL(mp_devsecret_get_credentials(&ds, UDID, 1, &c), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "onboarding.csv"));
    CU_ASSERT(all_zero(&c, sizeof(c)));
    CU_ASSERT_EQUAL(mp_devsecret_get_credentials(&ds, "NOPE", 0, &c), MP_ERR_INVALID);
    mp_ledger_close(l);
    rm_dir();
}

static void test_passcode(void)
{
    char path[256];
    uint32_t pc = 0;
    mp_fd_rec r;
    setup_dir();
    memset(&r, 0, sizeof(r));
    snprintf(r.udid, sizeof(r.udid), "%s", UDID);
    mp_devsecret ds = {.img = {.dir = dir}};
    CU_ASSERT_EQUAL(mp_devsecret_get_passcode(&ds, &r, &pc), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "onboarding.csv"));
    snprintf(path, sizeof(path), "%s/onboarding.csv", dir);
    FILE *f = fopen(path, "w");
    fputs("udid,serial,vid,pid,discriminator,passcode,qr,manual,manual_dashed\n", f);
    fputs("OTHER,S0,0xFFF2,0x8001,1,11223344,MT:x,1,1\n", f);
    fputs(UDID ",\"S,1\",0xFFF2,0x8001,3840,20202021,MT:y,2,2\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(mp_devsecret_get_passcode(&ds, &r, &pc), MP_OK);
    CU_ASSERT_EQUAL(pc, 20202021);
    r.has_passcode = 1;
    r.passcode = 12345678;
    CU_ASSERT_EQUAL(mp_devsecret_get_passcode(&ds, &r, &pc), MP_OK); /* the ledger's record first */
    CU_ASSERT_EQUAL(pc, 12345678);
    /* a link instead of onboarding.csv is not followed */
    char real[256];
    snprintf(real, sizeof(real), "%s/real.csv", dir);
    CU_ASSERT_EQUAL(rename(path, real), 0);
    CU_ASSERT_EQUAL(symlink(real, path), 0);
    r.has_passcode = 0;
    CU_ASSERT_EQUAL(mp_devsecret_get_passcode(&ds, &r, &pc), MP_ERR_INVALID);
    mp_devcreds c;
    memset(&c, 0x55, sizeof(c));
    MP_DEVSECRET_CLEAR(&c);
    CU_ASSERT(all_zero(&c, sizeof(c)));
    rm_dir();
}

/* --lot's reader: every passcode of a folder's onboarding.csv, in order. */
typedef struct seen_pc {
    int n, stop_at;
    char udid[4][16];
    uint32_t pc[4];
} seen_pc;

static int collect_pc(void *ctx, const char *udid, uint32_t passcode)
{
    seen_pc *s = ctx;
    if (s->n < 4) {
        snprintf(s->udid[s->n], sizeof(s->udid[0]), "%s", udid);
        s->pc[s->n] = passcode;
    }
    s->n++;
    return s->n == s->stop_at;
}

static void test_each_passcode(void)
{
    char path[256];
    seen_pc s;
    setup_dir();
    int found = 1;
    memset(&s, 0, sizeof(s));
    CU_ASSERT_EQUAL(mp_devsecret_each_passcode(dir, collect_pc, &s, &found), MP_OK); /* no file: nothing */
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(s.n, 0);
    snprintf(path, sizeof(path), "%s/onboarding.csv", dir);
    FILE *f = fopen(path, "w");
    fputs("udid,serial,vid,pid,discriminator,passcode,qr,manual,manual_dashed\n", f);
    fputs("A1,S0,0xFFF2,0x8001,1,00000007,MT:x,1,1\n", f);
    fputs("B2,S1,0xFFF2,0x8001,2,99999999,MT:x,1,1\n", f); /* out of range: skipped */
    fputs("C3,S2,0xFFF2,0x8001,3,20202021,MT:y,2,2\n", f);
    fputs("D4,S3,0xFFF2,0x8001,4,2020", f);                 /* cut by a crash: skipped */
    fclose(f);
    CU_ASSERT_EQUAL(mp_devsecret_each_passcode(dir, collect_pc, &s, &found), MP_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL_FATAL(s.n, 2);
    CU_ASSERT_STRING_EQUAL(s.udid[0], "A1");
    CU_ASSERT_EQUAL(s.pc[0], 7);
    CU_ASSERT_STRING_EQUAL(s.udid[1], "C3");
    CU_ASSERT_EQUAL(s.pc[1], 20202021);
    memset(&s, 0, sizeof(s));
    s.stop_at = 1; /* the callback stops the walk */
    CU_ASSERT_EQUAL(mp_devsecret_each_passcode(dir, collect_pc, &s, &found), MP_OK);
    CU_ASSERT_EQUAL(s.n, 1);
    f = fopen(path, "w");
    fputs("udid,serial\nA1,S0\n", f);
    fclose(f);
    memset(&s, 0, sizeof(s));
    CU_ASSERT_EQUAL(mp_devsecret_each_passcode(dir, collect_pc, &s, &found), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "line 1: no passcode column"));
    CU_ASSERT_EQUAL(s.n, 0);
    rm_dir();
}

/* The line reader for secret lists: lines longer than its buffer. */
static void test_getline_wiped(void)
{
    char *line = NULL;
    size_t cap = 0;
    FILE *f = tmpfile();
    for (int i = 0; i < 600; i++) fputc('a' + i % 26, f);
    fputs("\nshort\nlast", f);
    rewind(f);
    CU_ASSERT_EQUAL(mp_getline_wiped(&line, &cap, f), 601);
    CU_ASSERT_EQUAL(line[600], '\n');
    CU_ASSERT_EQUAL(mp_getline_wiped(&line, &cap, f), 6);
    CU_ASSERT_STRING_EQUAL(line, "short\n");
    CU_ASSERT_EQUAL(mp_getline_wiped(&line, &cap, f), 4);
    CU_ASSERT_STRING_EQUAL(line, "last");
    CU_ASSERT_EQUAL(mp_getline_wiped(&line, &cap, f), -1);
    fclose(f);
    mp_free_secret(line, cap);
}

/* A factory-data JSON reader's error never quotes the input: a cut image
 * would otherwise show a piece of the key. */
static void test_json_error_quotes_nothing(void)
{
    static const char cut[] = "{\n  \"version\": 1,\n  \"dac_key\": \"hex:0123456789abcdef0123456789abcdef0123";
    static const char dup[] = "{\"format\": \"matter-pki-factory-data\", \"version\": 1, \"dac_key\": \"0123456789abcdef\","
                              " \"dac_key\": \"0123456789abcdef\"}";
    mp_fd_device d;
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_NRF_JSON, (const uint8_t *)cut, sizeof(cut) - 1, &d), MP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(mp_err_msg(), "nrf-json:"));
    CU_ASSERT_PTR_NULL(strstr(mp_err_msg(), "0123456789"));
    CU_ASSERT_EQUAL(mp_fd_unpack(MP_FD_JSON, (const uint8_t *)dup, sizeof(dup) - 1, &d), MP_ERR_INVALID);
    CU_ASSERT_PTR_NULL(strstr(mp_err_msg(), "0123456789"));
    mp_fd_device_wipe(&d);
}

void register_devsecret(void)
{
    CU_pSuite s = CU_add_suite("devsecret", NULL, NULL);
    TU_ADD(s, test_names);
    TU_ADD(s, test_put_get_forget);
    TU_ADD(s, test_bundle_key);
    TU_ADD(s, test_from_image);
    TU_ADD(s, test_passcode);
    TU_ADD(s, test_each_passcode);
    TU_ADD(s, test_getline_wiped);
    TU_ADD(s, test_json_error_quotes_nothing);
}
