/*
 * fd_silabs.c - silabs: what Silicon Labs' provisioning tool
 * (SiliconLabs/matter_extension provision/provision.py, protocol 2.x) takes
 * for one device, as one file UDID.silabs.tar: a POSIX ustar archive
 * (deterministic: mode 0600, uid/gid 0, mtime 0) of
 *   inputs.json   its inputs file (--inputs): {"version": "2.3", "matter":
 *                 {"instance_info": {...}, "commissionable_data": {...},
 *                 "attestation_credentials": {...}}}, the names its v2.0
 *                 formatter reads; files named relative to the folder
 *   dac_cert.der, pai_cert.der, cd.der, dac_key.der (SEC1, P-256)
 * The tool runs with the device on the line (J-Link RTT or Bluetooth): the
 * station extracts the archive and runs
 *   python3 provision.py --inputs inputs.json   (from the extracted folder)
 * and its generator firmware imports the key, computes the setup payload
 * from the passcode (so the passcode is in inputs.json: the format needs
 * it), writes the commissionable data to NVM3 and the certificates and CD
 * to the last flash page.
 *
 * The tool's parameter limits are checked before packing: product label,
 * URL and hardware version string at most 32 characters, the rotating
 * device ID unique ID at most 16 bytes, the date YYYY-MM-DD; finish and
 * colour have no parameter and are not carried. The reader takes back
 * exactly what the packer writes (unknown or missing members and keys are
 * refused).
 */
#include "fd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "b64.h"
#include "devsecret.h"
#include "jw.h"
#include "spake2p.h"
#include "util.h"

#define BLK 512
#define TOOL_VERSION "2.3"
#define MAX_TAR (64u * 1024)

enum { M_JSON, M_DAC, M_PAI, M_CD, M_KEY, M_COUNT };
static const char *const member[M_COUNT] = {"inputs.json", "dac_cert.der", "pai_cert.der", "cd.der", "dac_key.der"};

/* SEC1 ECPrivateKey for P-256 (as fd_esp32_sc.c). */
#define SEC1_LEN MP_SEC1_LEN /* devsecret.h: the SEC1 form */

/* ---- ustar ------------------------------------------------------------------ */

static void octal(char *f, size_t w, uint64_t v)
{
    f[w - 1] = 0;
    for (size_t i = w - 1; i-- > 0; v >>= 3) f[i] = (char)('0' + (v & 7));
}

static unsigned sum(const uint8_t *h)
{
    unsigned s = 0;
    for (int i = 0; i < BLK; i++) s += (i >= 148 && i < 156) ? ' ' : h[i];
    return s;
}

static void tar_put(fd_buf *b, const char *name, const uint8_t *p, size_t n)
{
    uint8_t h[BLK] = {0};
    static const uint8_t zero[BLK];
    memcpy(h, name, strlen(name));
    octal((char *)h + 100, 8, 0600);
    octal((char *)h + 108, 8, 0);
    octal((char *)h + 116, 8, 0);
    octal((char *)h + 124, 12, n);
    octal((char *)h + 136, 12, 0);
    h[156] = '0';
    memcpy(h + 257, "ustar\0" "00", 8);
    octal((char *)h + 148, 7, sum(h));
    h[155] = ' ';
    fd_put(b, h, BLK);
    fd_put(b, p, n);
    fd_put(b, zero, (BLK - n % BLK) % BLK);
}

/* ---- pack ------------------------------------------------------------------- */

int fd_silabs_check(const mp_fd_device *d)
{
    if (strlen(d->product_label) > 32 || strlen(d->product_url) > 32 || strlen(d->hw_ver_str) > 32) {
        return mp_err(MP_ERR_INVALID, "format silabs: the provisioning tool takes a product label, product URL and hardware version string of at most 32 characters (are %zu, %zu, %zu)",
                      strlen(d->product_label), strlen(d->product_url), strlen(d->hw_ver_str));
    }
    if (d->rd_uid_len > 16) return mp_err(MP_ERR_INVALID, "format silabs: the provisioning tool takes a rotating device ID unique ID of at most 16 bytes (is %zu)", d->rd_uid_len);
    if (d->passcode == 0) {
        return mp_err(MP_ERR_INVALID, "format silabs: the provisioning tool needs the passcode (its generator firmware stores the setup payload); build with --include-passcode, or give \"passcode\"");
    }
    return MP_OK;
}

static void opt_str(mp_jw *w, const char *k, const char *v)
{
    if (v[0]) mp_jw_key_cstr(w, k, v);
}

static void inputs(mp_jw *w, const mp_fd_device *d)
{
    char b64[200], hx[65];
    mp_jw_open(w);
    mp_jw_key_cstr(w, "version", TOOL_VERSION);
    mp_jw_key_obj(w, "matter");
    mp_jw_key_obj(w, "instance_info");
    mp_jw_key_cstr(w, "serial_number", d->serial);
    mp_jw_key_int(w, "vendor_id", d->vendor_id);
    mp_jw_key_cstr(w, "vendor_name", d->vendor_name);
    mp_jw_key_int(w, "product_id", d->product_id);
    mp_jw_key_cstr(w, "product_name", d->product_name);
    opt_str(w, "product_label", d->product_label);
    opt_str(w, "product_url", d->product_url);
    opt_str(w, "part_number", d->part_number);
    mp_jw_key_int(w, "hw_version", d->hw_ver);
    mp_jw_key_cstr(w, "hw_version_str", d->hw_ver_str);
    mp_jw_key_cstr(w, "manufacturing_date", d->mfg_date);
    if (d->rd_uid_len) {
        mp_hex(d->rd_uid, d->rd_uid_len, hx, 0);
        mp_jw_key_cstr(w, "unique_id", hx);
    }
    mp_jw_close(w);
    mp_jw_key_obj(w, "commissionable_data");
    mp_jw_key_int(w, "discriminator", d->discriminator);
    mp_jw_key_int(w, "passcode", d->passcode);
    mp_jw_key_int(w, "iterations", d->iterations);
    mp_b64_encode(d->salt, d->salt_len, b64, sizeof(b64));
    mp_jw_key_cstr(w, "salt", b64);
    mp_b64_encode(d->verifier, sizeof(d->verifier), b64, sizeof(b64));
    mp_jw_key_cstr(w, "verifier", b64);
    mp_jw_close(w);
    mp_jw_key_obj(w, "attestation_credentials");
    mp_jw_key_cstr(w, "certification", member[M_CD]);
    mp_jw_key_cstr(w, "pai_cert", member[M_PAI]);
    mp_jw_key_cstr(w, "dac_cert", member[M_DAC]);
    mp_jw_key_cstr(w, "dac_key", member[M_KEY]);
    mp_jw_close(w);
    mp_jw_close(w);
    mp_jw_close(w);
}

int fd_silabs_pack(const mp_fd_device *d, const mp_fd_opts *o, uint8_t **out, size_t *len)
{
    (void)o;
    static const uint8_t zero[2 * BLK];
    uint8_t key[SEC1_LEN], point[65];
    fd_buf b = {0};
    mp_jw w;
    size_t jl = 0;
    int rc = mp_p256_point(d->dac_key, point);
    if (rc != MP_OK) return rc;
    mp_sec1_der(d->dac_key, point, key);
    mp_jw_init(&w, 4, 2048);
    inputs(&w, d);
    char *j = mp_jw_take(&w, &jl); /* holds the passcode: wiped below */
    if (j == NULL) {
        mp_wipe(key, sizeof(key));
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    j[jl++] = '\n';
    tar_put(&b, member[M_JSON], (const uint8_t *)j, jl);
    tar_put(&b, member[M_DAC], d->dac_der, d->dac_len);
    tar_put(&b, member[M_PAI], d->pai_der, d->pai_len);
    tar_put(&b, member[M_CD], d->cd_der, d->cd_len);
    tar_put(&b, member[M_KEY], key, SEC1_LEN);
    fd_put(&b, zero, sizeof(zero));
    mp_free_secret(j, jl);
    mp_wipe(key, sizeof(key));
    if (b.oom) {
        fd_buf_wipe(&b);
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    return fd_take(&b, out, len);
}

/* ---- unpack ----------------------------------------------------------------- */

typedef struct part {
    const uint8_t *p;
    size_t n;
} part;

static int tar_read(const uint8_t *buf, size_t len, part parts[M_COUNT])
{
    size_t off = 0;
    memset(parts, 0, M_COUNT * sizeof(part));
    if (len > MAX_TAR || len % BLK != 0) return mp_err(MP_ERR_INVALID, "silabs: %zu bytes; a ustar archive of 512-byte blocks, at most %u", len, MAX_TAR);
    while (off + BLK <= len) {
        const uint8_t *h = buf + off;
        int empty = 1;
        for (int i = 0; i < BLK && empty; i++) empty = h[i] == 0;
        if (empty) break;
        char sz[13], ck[9];
        memcpy(sz, h + 124, 12);
        sz[12] = 0;
        memcpy(ck, h + 148, 8);
        ck[8] = 0;
        if (memcmp(h + 257, "ustar\0" "00", 8) != 0) return mp_err(MP_ERR_INVALID, "silabs: block at %zu: not a ustar header", off);
        if (strtoul(ck, NULL, 8) != sum(h)) return mp_err(MP_ERR_INVALID, "silabs: block at %zu: header checksum mismatch", off);
        if (h[156] != '0' || memchr(h, 0, 100) == NULL) return mp_err(MP_ERR_INVALID, "silabs: block at %zu: not a regular file entry", off);
        char *end = NULL;
        unsigned long long n = strtoull(sz, &end, 8);
        if (end != sz + 11 || n > len - off - BLK) return mp_err(MP_ERR_INVALID, "silabs: member %.100s: bad size", (const char *)h);
        int m = -1;
        for (int i = 0; i < M_COUNT; i++) {
            if (strcmp((const char *)h, member[i]) == 0) m = i;
        }
        if (m < 0) return mp_err(MP_ERR_INVALID, "silabs: unknown member '%.100s'", (const char *)h);
        if (parts[m].p != NULL) return mp_err(MP_ERR_INVALID, "silabs: member %s twice", member[m]);
        parts[m].p = h + BLK;
        parts[m].n = (size_t)n;
        off += BLK + ((size_t)n + BLK - 1) / BLK * BLK;
    }
    for (size_t i = off; i < len; i++) {
        if (buf[i] != 0) return mp_err(MP_ERR_INVALID, "silabs: data after the end of the archive");
    }
    for (int i = 0; i < M_COUNT; i++) {
        if (parts[i].p == NULL) return mp_err(MP_ERR_INVALID, "silabs: member %s is missing", member[i]);
    }
    return MP_OK;
}

/* Exactly these keys in the object (where names it). */
static int only(json_t *o, const char *where, const char *const *keys)
{
    const char *k;
    json_t *v;
    if (!json_is_object(o)) return mp_err(MP_ERR_INVALID, "silabs: inputs.json: %s is not an object", where);
    json_object_foreach(o, k, v) {
        int ok = 0;
        for (size_t i = 0; keys[i] && !ok; i++) ok = strcmp(k, keys[i]) == 0;
        if (!ok) return mp_err(MP_ERR_INVALID, "silabs: inputs.json: %s: unknown key '%s'", where, k);
    }
    return MP_OK;
}

static int put(mp_fd_device *d, json_t *o, const char *key, int field, int required, int as)
{
    json_t *v = json_object_get(o, key);
    uint8_t bin[128];
    fd_value fv = {K_STR, 0, NULL, 0};
    if (v == NULL) return required ? mp_err(MP_ERR_INVALID, "silabs: inputs.json: %s is missing", key) : MP_OK;
    if (as == K_UINT) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) return mp_err(MP_ERR_INVALID, "silabs: inputs.json: %s: expected a non-negative integer", key);
        fv.kind = K_UINT;
        fv.u = (uint64_t)json_integer_value(v);
        return fd_assign(d, field, &fv, "silabs", key);
    }
    if (!json_is_string(v)) return mp_err(MP_ERR_INVALID, "silabs: inputs.json: %s: expected a string", key);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    long l;
    if (as == 'h') l = mp_unhex(s, bin, sizeof(bin));
    else if (as == 'b') l = mp_b64_decode(s, n, bin, sizeof(bin));
    else l = -2;
    if (l == -2) {
        fv.p = (const uint8_t *)s;
        fv.len = n;
    } else if (l < 0) {
        return mp_err(MP_ERR_INVALID, "silabs: inputs.json: %s: not %s", key, as == 'h' ? "hex" : "base64");
    } else {
        fv.kind = K_BYTES;
        fv.p = bin;
        fv.len = (size_t)l;
    }
    int rc = fd_assign(d, field, &fv, "silabs", key);
    mp_wipe(bin, sizeof(bin));
    return rc;
}

static int files(json_t *c, const part *parts, mp_fd_device *d)
{
    static const char *const keys[] = {"certification", "pai_cert", "dac_cert", "dac_key", NULL};
    static const int which[] = {M_CD, M_PAI, M_DAC, M_KEY};
    static const int field[] = {F_CD, F_PAI, F_DAC, F_DACKEY};
    uint8_t point[65];
    const uint8_t *sc = NULL, *pt = NULL;
    int rc = only(c, "attestation_credentials", keys);
    for (int i = 0; rc == MP_OK && i < 4; i++) {
        json_t *v = json_object_get(c, keys[i]);
        const part *p = &parts[which[i]];
        if (!json_is_string(v) || strcmp(json_string_value(v), member[which[i]]) != 0) {
            return mp_err(MP_ERR_INVALID, "silabs: inputs.json: attestation_credentials.%s must name the member %s", keys[i], member[which[i]]);
        }
        fd_value fv = {K_BYTES, 0, p->p, p->n};
        if (which[i] == M_KEY) {
            if (!mp_sec1_parse(p->p, p->n, &sc, &pt)) {
                return mp_err(MP_ERR_INVALID, "silabs: dac_key.der is not a P-256 SEC1 DER key (121 bytes)");
            }
            fv.p = sc;
            fv.len = 32;
        }
        rc = fd_assign(d, field[i], &fv, "silabs", member[which[i]]);
        if (rc == MP_OK && which[i] == M_KEY && ((rc = mp_p256_point(d->dac_key, point)) != MP_OK || memcmp(point, pt, 65) != 0)) {
            rc = mp_err(MP_ERR_MISMATCH, "silabs: dac_key.der: its public key is not its scalar's point");
        }
    }
    return rc;
}

static int fields(json_t *j, const part *parts, mp_fd_device *d)
{
    static const char *const top[] = {"version", "matter", NULL};
    static const char *const sect[] = {"instance_info", "commissionable_data", "attestation_credentials", NULL};
    static const char *const info_k[] = {"serial_number", "vendor_id", "vendor_name", "product_id", "product_name", "product_label", "product_url",
                                         "part_number", "hw_version", "hw_version_str", "manufacturing_date", "unique_id", NULL};
    static const char *const cd_k[] = {"discriminator", "passcode", "iterations", "salt", "verifier", NULL};
    json_t *m = json_object_get(j, "matter"), *v = json_object_get(j, "version");
    json_t *i = json_object_get(m, "instance_info"), *c = json_object_get(m, "commissionable_data");
    int rc = only(j, "the top level", top);
    if (rc == MP_OK && (!json_is_string(v) || strncmp(json_string_value(v), "2.", 2) != 0)) rc = mp_err(MP_ERR_INVALID, "silabs: inputs.json: version: expected \"2.x\" (protocol 2)");
    if (rc == MP_OK) rc = only(m, "matter", sect);
    if (rc == MP_OK) rc = only(i, "instance_info", info_k);
    if (rc == MP_OK) rc = only(c, "commissionable_data", cd_k);
    static const struct { int sect; const char *key; int field, req, as; } map[] = {
        {0, "serial_number", F_SN, 1, K_STR}, {0, "vendor_id", F_VID, 1, K_UINT}, {0, "vendor_name", F_VNAME, 1, K_STR},
        {0, "product_id", F_PID, 1, K_UINT}, {0, "product_name", F_PNAME, 1, K_STR}, {0, "product_label", F_PLABEL, 0, K_STR},
        {0, "product_url", F_PURL, 0, K_STR}, {0, "part_number", F_PARTNO, 0, K_STR}, {0, "hw_version", F_HWVER, 1, K_UINT},
        {0, "hw_version_str", F_HWVERSTR, 1, K_STR}, {0, "manufacturing_date", F_DATE, 1, K_STR}, {0, "unique_id", F_RDUID, 0, 'h'},
        {1, "discriminator", F_DISC, 1, K_UINT}, {1, "passcode", F_PASSCODE, 1, K_UINT}, {1, "iterations", F_ITER, 1, K_UINT},
        {1, "salt", F_SALT, 1, 'b'}, {1, "verifier", F_VERIFIER, 1, 'b'},
    };
    for (size_t k = 0; rc == MP_OK && k < sizeof(map) / sizeof(map[0]); k++) {
        rc = put(d, map[k].sect ? c : i, map[k].key, map[k].field, map[k].req, map[k].as);
    }
    if (rc == MP_OK) rc = files(json_object_get(m, "attestation_credentials"), parts, d);
    return rc;
}

int fd_silabs_unpack(const uint8_t *buf, size_t len, const mp_fd_opts *o, mp_fd_device *d)
{
    (void)o;
    part parts[M_COUNT];
    json_error_t e;
    int rc = tar_read(buf, len, parts);
    if (rc != MP_OK) return rc;
    json_t *j = json_loadb((const char *)parts[M_JSON].p, parts[M_JSON].n, JSON_REJECT_DUPLICATES, &e);
    if (j == NULL) {
        mp_wipe(e.text, sizeof(e.text));
        return mp_err(MP_ERR_INVALID, "silabs: inputs.json:%d:%d: syntax error", e.line, e.column);
    }
    rc = fields(j, parts, d);
    json_t *pc = json_object_get(json_object_get(json_object_get(j, "matter"), "commissionable_data"), "passcode");
    if (json_is_integer(pc)) json_integer_set(pc, 0); /* jansson does not wipe what it frees */
    json_decref(j);
    return rc;
}

int fd_silabs_detect(const uint8_t *b, size_t n)
{
    return n >= 2 * BLK && memcmp(b + 257, "ustar\0" "00", 8) == 0 && strncmp((const char *)b, member[M_JSON], 100) == 0 ? 2 : 0;
}
