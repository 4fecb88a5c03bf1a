/* keystore.c - PKCS#11 key store over libp11 + raw PKCS#11 (see keystore.h). */
#include "keystore.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libp11.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <p11-kit/pkcs11.h>

#include "util.h"

#include "keystore_int.h"

static const CK_BYTE p256_oid[] = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};

void mp_skid(const uint8_t point[static 65], uint8_t skid[static 20])
{
    SHA1(point, 65, skid);
}

const char *mp_ks_module_path(const mp_hsm_cfg *cfg)
{
    return cfg->module != NULL && *cfg->module ? cfg->module : MP_DEFAULT_MODULE;
}

void mp_ks_prepare_env(const mp_hsm_cfg *cfg)
{
    char conf[4096];
    struct stat st;
    if (cfg->state_dir == NULL) {
        return;
    }
    /* A development token made by `token init` in this state directory wins
     * over a global SOFTHSM2_CONF: the state directory was named on purpose. */
    snprintf(conf, sizeof(conf), "%s/softhsm2.conf", cfg->state_dir);
    if (stat(conf, &st) == 0) {
        setenv("SOFTHSM2_CONF", conf, 1);
    }
}

/* ---- URIs ---------------------------------------------------------------- */

static void pct_encode(const uint8_t *in, size_t n, char *out, size_t cap, int all)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < cap; i++) {
        int c = in[i];
        if (!all && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~')) {
            out[o++] = (char)c;
        } else {
            o += (size_t)snprintf(out + o, cap - o, "%%%02x", c);
        }
    }
    out[o] = 0;
}

static void make_uri(const char *token, mp_ks_key *k)
{
    char t[200], l[400], id[200];
    pct_encode((const uint8_t *)token, strlen(token), t, sizeof(t), 0);
    pct_encode((const uint8_t *)k->label, strlen(k->label), l, sizeof(l), 0);
    pct_encode(k->id, k->id_len, id, sizeof(id), 1);
    snprintf(k->uri, sizeof(k->uri), "pkcs11:token=%s;object=%s;id=%s;type=private", t, l, id);
}

static int pct_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o >= cap) return -1;
        if (s[i] == '%') {
            uint8_t b;
            char h[3] = {0};
            if (i + 2 >= n) return -1;
            h[0] = s[i + 1];
            h[1] = s[i + 2];
            if (mp_unhex(h, &b, 1) != 1) return -1;
            out[o++] = b;
            i += 2;
        } else {
            out[o++] = (uint8_t)s[i];
        }
    }
    *outlen = o;
    return 0;
}

typedef struct {
    char token[64];
    char object[128];
    uint8_t id[64];
    size_t id_len;
    int has_token, has_object;
} p11_uri;

static int parse_uri(const char *uri, p11_uri *u)
{
    memset(u, 0, sizeof(*u));
    const char *p = uri + strlen("pkcs11:");
    const char *end = p + strcspn(p, "?");
    if (*end == '?' && strstr(end, "pin-") != NULL) {
        return mp_err(MP_ERR_USAGE, "%s: a PIN in the URI is refused; use --pin-file or MATTER_PKI_PIN", uri);
    }
    while (p < end) {
        size_t len = strcspn(p, ";?");
        if (p + len > end) len = (size_t)(end - p);
        const char *eq = memchr(p, '=', len);
        if (eq == NULL) {
            return mp_err(MP_ERR_USAGE, "%s: malformed pkcs11 URI attribute '%.*s'", uri, (int)len, p);
        }
        size_t kl = (size_t)(eq - p), vl = len - kl - 1;
        size_t got = 0;
        int bad = 0;
        if (kl == 5 && strncmp(p, "token", 5) == 0) {
            bad = pct_decode(eq + 1, vl, (uint8_t *)u->token, sizeof(u->token) - 1, &got);
            u->token[got] = 0;
            u->has_token = 1;
        } else if (kl == 6 && strncmp(p, "object", 6) == 0) {
            bad = pct_decode(eq + 1, vl, (uint8_t *)u->object, sizeof(u->object) - 1, &got);
            u->object[got] = 0;
            u->has_object = 1;
        } else if (kl == 2 && strncmp(p, "id", 2) == 0) {
            bad = pct_decode(eq + 1, vl, u->id, sizeof(u->id), &u->id_len);
        } else if (kl == 4 && strncmp(p, "type", 4) == 0) {
            if (!(vl == 7 && strncmp(eq + 1, "private", 7) == 0)) {
                return mp_err(MP_ERR_USAGE, "%s: only type=private keys can be used", uri);
            }
        } /* other attributes (manufacturer, model, serial, ...) are ignored */
        if (bad) {
            return mp_err(MP_ERR_USAGE, "%s: bad percent-encoding", uri);
        }
        p += len + (p + len < end ? 1 : 0);
    }
    if (!u->has_object && u->id_len == 0) {
        return mp_err(MP_ERR_USAGE, "%s: the URI names no object= or id=", uri);
    }
    return MP_OK;
}

/* ---- open / close -------------------------------------------------------- */

int mp_ks_ckr_rc(CK_RV rv)
{
    switch (rv) {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_LOCKED:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_EXPIRED:
    case CKR_USER_NOT_LOGGED_IN:
        return MP_ERR_AUTH;
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_REMOVED:
    case CKR_SLOT_ID_INVALID:
        return MP_ERR_TOKEN;
    default:
        return MP_ERR_GENERAL;
    }
}

static int find_slot(mp_ks *ks, const char *label)
{
    PKCS11_SLOT *found = NULL;
    int count = 0;
    for (unsigned int i = 0; i < ks->nslots; i++) {
        PKCS11_SLOT *s = &ks->slots[i];
        if (s->token == NULL || !s->token->initialized) {
            continue;
        }
        if (label == NULL || strcmp(s->token->label, label) == 0) {
            found = found ? found : s;
            count++;
        }
    }
    if (found == NULL) {
        return label != NULL
                   ? mp_err(MP_ERR_TOKEN, "no token labelled '%s' in %s (create one with 'matter-pki token init')", label, ks->module)
                   : mp_err(MP_ERR_TOKEN, "no initialised token in %s (create one with 'matter-pki token init')", ks->module);
    }
    if (label == NULL && count > 1) {
        return mp_err(MP_ERR_USAGE, "%d tokens in %s: name one with --token LABEL", count, ks->module);
    }
    ks->slot = found;
    snprintf(ks->token, sizeof(ks->token), "%s", found->token->label);
    return MP_OK;
}

static int login_rc(void)
{
    unsigned long e = ERR_peek_last_error();
    unsigned long reason = ERR_GET_REASON(e);
    ERR_clear_error();
    if (reason == CKR_PIN_INCORRECT) {
        return mp_err(MP_ERR_AUTH, "login failed: PIN incorrect");
    }
    if (reason == CKR_PIN_LOCKED) {
        return mp_err(MP_ERR_AUTH, "login failed: PIN locked");
    }
    return mp_err(MP_ERR_AUTH, "login failed (PKCS#11 reason 0x%lx)", reason);
}

static int open_raw(mp_ks *ks)
{
    ks->dl = dlopen(ks->module, RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList gfl = ks->dl ? (CK_C_GetFunctionList)dlsym(ks->dl, "C_GetFunctionList") : NULL;
    if (gfl == NULL || gfl(&ks->fl) != CKR_OK) {
        return mp_err(MP_ERR_MODULE, "%s: not a PKCS#11 module", ks->module);
    }
    CK_RV rv = ks->fl->C_Initialize(NULL);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        return mp_err(MP_ERR_MODULE, "%s: C_Initialize failed (0x%lx)", ks->module, rv);
    }
    CK_SLOT_ID id = PKCS11_get_slotid_from_slot(ks->slot);
    rv = ks->fl->C_OpenSession(id, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &ks->sess);
    if (rv != CKR_OK) {
        return mp_err(mp_ks_ckr_rc(rv), "token '%s': cannot open a session (0x%lx)", ks->token, rv);
    }
    ks->have_sess = 1;
    return MP_OK;
}

/* Why a module did not initialise: for SoftHSM most often its configuration
 * file or token folder is missing. */
static int load_failed(const char *module)
{
    const char *conf = getenv("SOFTHSM2_CONF");
    char line[4200], dir[4096];
    struct stat st;
    ERR_clear_error();
    if (strstr(module, "softhsm") == NULL) {
        return mp_err(MP_ERR_MODULE, "PKCS#11 module %s cannot be loaded or initialised", module);
    }
    if (conf == NULL || *conf == 0) {
        conf = "/etc/softhsm/softhsm2.conf";
    }
    FILE *f = fopen(conf, "re");
    if (f == NULL) {
        return mp_err(MP_ERR_MODULE, "PKCS#11 module %s cannot initialise: its configuration %s (SOFTHSM2_CONF) cannot be read: %s",
                      module, conf, strerror(errno));
    }
    dir[0] = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, " directories.tokendir = %4095s", dir) == 1) {
            break;
        }
    }
    fclose(f);
    if (dir[0] != 0 && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
        return mp_err(MP_ERR_MODULE, "PKCS#11 module %s cannot initialise: the token folder %s named in %s does not exist",
                      module, dir, conf);
    }
    return mp_err(MP_ERR_MODULE, "PKCS#11 module %s cannot initialise (configuration %s)", module, conf);
}

/* Before a PIN is tried: the token's PIN counter flags. */
static int check_pin_flags(mp_ks *ks, const mp_hsm_cfg *cfg)
{
    CK_FUNCTION_LIST *fl = NULL;
    CK_TOKEN_INFO ti;
    char msg[200];
    int low = 0;
    void *dl = dlopen(ks->module, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    CK_C_GetFunctionList gfl = dl ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
    int rc = MP_OK;
    if (gfl != NULL && gfl(&fl) == CKR_OK &&
        fl->C_GetTokenInfo(PKCS11_get_slotid_from_slot(ks->slot), &ti) == CKR_OK) {
        rc = mp_pin_policy(ti.flags, cfg->force_pin_try, ks->token, &low);
        if (rc == MP_OK && low && cfg->warn != NULL) {
            snprintf(msg, sizeof(msg), "token '%s': a wrong PIN was entered recently; few tries are left before it locks", ks->token);
            cfg->warn(cfg->warn_arg, msg);
        }
        if (rc == MP_OK && (ti.flags & CKF_USER_PIN_FINAL_TRY) && cfg->warn != NULL) {
            snprintf(msg, sizeof(msg), "token '%s': trying the PIN on the final try (--force-pin-try)", ks->token);
            cfg->warn(cfg->warn_arg, msg);
        }
    }
    if (dl != NULL) {
        dlclose(dl);
    }
    return rc;
}

/* Waits between tries at a token another process is rewriting: 20 ms, then
 * 10 ms more each time up to 100 ms, plus up to 15 ms of jitter so processes
 * started together do not retry in step; KS_TRIES of them last about 2.5 s
 * (0.5 s was not enough with 8 logins at once under load 11). */
enum { KS_TRIES = 30 };
static void ks_backoff(int tries)
{
    long ms = 20 + 10L * (tries < 8 ? tries : 8) + (long)((unsigned)getpid() * 2654435761u % 16u);
    struct timespec ts = {0, ms * 1000 * 1000};
    nanosleep(&ts, NULL);
}

int mp_ks_open(const mp_hsm_cfg *cfg, mp_ks **out)
{
    int rc = MP_ERR_GENERAL;
    char *pin = NULL;
    mp_ks *ks = calloc(1, sizeof(*ks));
    *out = NULL;
    if (ks == NULL) {
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    mp_ks_prepare_env(cfg);
    snprintf(ks->module, sizeof(ks->module), "%s", mp_ks_module_path(cfg));
    if (access(ks->module, R_OK) != 0) {
        rc = mp_err(MP_ERR_MODULE, "PKCS#11 module %s not found (set --module or MATTER_PKI_MODULE)", ks->module);
        goto end;
    }
    ks->p11 = PKCS11_CTX_new();
    if (ks->p11 == NULL) {
        rc = mp_err(MP_ERR_GENERAL, "out of memory");
        goto end;
    }
    /* SoftHSM rewrites a token's file when a process logs in; another process
     * loading the module at that moment may fail to initialise it, fail to
     * list the slots (C_GetSlotList), not see the token, or read the token
     * half-written and then refuse the login (CKR_GENERAL_ERROR 0x5 or
     * CKR_USER_PIN_NOT_INITIALIZED 0x102) until the module is loaded again:
     * several stations on one host start at once. Each of those tries again
     * from the module's load, for up to about 2.5 s (ks_backoff); a wrong PIN
     * is never retried. The PIN is asked for once. */
    for (int tries = 0;; tries++) {
        int listed = 0, login = -1;
        ks->loaded = PKCS11_CTX_load(ks->p11, ks->module) == 0;
        if (!ks->loaded) {
            rc = MP_ERR_MODULE;
        } else if (!(listed = PKCS11_enumerate_slots(ks->p11, &ks->slots, &ks->nslots) == 0)) {
            rc = mp_err(MP_ERR_TOKEN, "%s: cannot list slots", ks->module);
        } else if ((rc = find_slot(ks, cfg->token)) == MP_OK) {
            if (PKCS11_open_session(ks->slot, 1) != 0) {
                rc = mp_err(MP_ERR_TOKEN, "token '%s': cannot open a session", ks->token);
                goto end;
            }
            if (pin == NULL && ((rc = check_pin_flags(ks, cfg)) != MP_OK || (rc = mp_pin_get(cfg, "User PIN", &pin)) != MP_OK)) {
                goto end;
            }
            ERR_clear_error();
            login = PKCS11_login(ks->slot, 0, pin);
            if (login != 0) {
                unsigned long reason = ERR_GET_REASON(ERR_peek_last_error());
                rc = login_rc();
                if (reason != 0x5 && reason != 0x102) goto end;
            }
        }
        int again = !ks->loaded || !listed || (rc == MP_ERR_TOKEN && cfg->token != NULL) || (login != 0 && rc != MP_ERR_MODULE && ks->slot != NULL);
        if (rc == MP_OK || !again || tries >= KS_TRIES) break;
        if (listed) PKCS11_release_all_slots(ks->p11, ks->slots, ks->nslots);
        ks->slots = NULL;
        ks->slot = NULL;
        ks->nslots = 0;
        if (ks->loaded) PKCS11_CTX_unload(ks->p11);
        ks->loaded = 0;
        ERR_clear_error();
        ks_backoff(tries);
    }
    if (!ks->loaded) rc = load_failed(ks->module);
    if (rc != MP_OK) {
        goto end;
    }
    /* libp11 owns the slot now; raw sessions opened afterwards survive. */
    rc = open_raw(ks);
end:
    mp_pin_free(pin);
    if (rc != MP_OK) {
        mp_ks_close(ks);
        return rc;
    }
    *out = ks;
    return MP_OK;
}

void mp_ks_close(mp_ks *ks)
{
    if (ks == NULL) {
        return;
    }
    if (ks->have_sess) {
        ks->fl->C_CloseSession(ks->sess);
    }
    if (ks->dl != NULL) {
        dlclose(ks->dl); /* the module stays loaded: libp11 holds it */
    }
    if (ks->slots != NULL) {
        PKCS11_release_all_slots(ks->p11, ks->slots, ks->nslots);
    }
    if (ks->p11 != NULL) {
        if (ks->loaded) {
            PKCS11_CTX_unload(ks->p11); /* on a failed load it would crash */
        }
        PKCS11_CTX_free(ks->p11);
    }
    free(ks);
}

const char *mp_ks_token_label(const mp_ks *ks) { return ks->token; }
const char *mp_ks_module(const mp_ks *ks) { return ks->module; }

/* ---- objects ------------------------------------------------------------- */

static int find_objects(mp_ks *ks, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *h,
                        CK_ULONG cap, CK_ULONG *count)
{
    CK_RV rv = ks->fl->C_FindObjectsInit(ks->sess, tmpl, n);
    if (rv == CKR_OK) {
        rv = ks->fl->C_FindObjects(ks->sess, h, cap, count);
        ks->fl->C_FindObjectsFinal(ks->sess);
    }
    if (rv != CKR_OK) {
        return mp_err(mp_ks_ckr_rc(rv), "token '%s': object search failed (0x%lx)", ks->token, rv);
    }
    return MP_OK;
}

static int label_exists(mp_ks *ks, const char *label, int *exists)
{
    CK_ATTRIBUTE t[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE h[1];
    CK_ULONG n = 0;
    int rc = find_objects(ks, t, 1, h, 1, &n);
    *exists = n > 0;
    return rc;
}

/* Read the public point of the public key object with the given CKA_ID/label. */
static int read_point(mp_ks *ks, CK_OBJECT_HANDLE pub, uint8_t point[65])
{
    uint8_t buf[80];
    CK_ATTRIBUTE a = {CKA_EC_POINT, buf, sizeof(buf)};
    CK_RV rv = ks->fl->C_GetAttributeValue(ks->sess, pub, &a, 1);
    if (rv != CKR_OK) {
        return mp_err(MP_ERR_GENERAL, "token '%s': cannot read public point (0x%lx)", ks->token, rv);
    }
    const uint8_t *p = buf;
    if (a.ulValueLen == 67 && buf[0] == 0x04 && buf[1] == 65) {
        p = buf + 2; /* DER OCTET STRING wrapper, as PKCS#11 prescribes */
    } else if (a.ulValueLen != 65) {
        return mp_err(MP_ERR_PROFILE, "token '%s': key is not a P-256 uncompressed point", ks->token);
    }
    if (p[0] != 0x04) {
        return mp_err(MP_ERR_PROFILE, "token '%s': key point is not uncompressed", ks->token);
    }
    memcpy(point, p, 65);
    return MP_OK;
}

static int check_p256(mp_ks *ks, CK_OBJECT_HANDLE h, const char *label)
{
    uint8_t params[32];
    CK_KEY_TYPE kt = 0;
    CK_ATTRIBUTE a[] = {{CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_EC_PARAMS, params, sizeof(params)}};
    CK_RV rv = ks->fl->C_GetAttributeValue(ks->sess, h, a, 2);
    if (rv != CKR_OK || kt != CKK_EC || a[1].ulValueLen != sizeof(p256_oid) ||
        memcmp(params, p256_oid, sizeof(p256_oid)) != 0) {
        return mp_err(MP_ERR_PROFILE, "key '%s' is not an EC P-256 key", label);
    }
    return MP_OK;
}

int mp_ks_find(mp_ks *ks, const char *ref, mp_ks_key *key)
{
    CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY, pubc = CKO_PUBLIC_KEY;
    CK_BBOOL on_token = CK_TRUE;
    /* token objects only: the session copies signing sessions hold
     * (mp_ks_sess_open) carry the same label and ID */
    CK_ATTRIBUTE t[4] = {{CKA_CLASS, &priv, sizeof(priv)}, {CKA_TOKEN, &on_token, sizeof(on_token)}};
    CK_ULONG nt = 2;
    p11_uri u;
    int rc;
    memset(key, 0, sizeof(*key));
    if (strncmp(ref, "pkcs11:", 7) == 0) {
        if ((rc = parse_uri(ref, &u)) != MP_OK) {
            return rc;
        }
        if (u.has_token && strcmp(u.token, ks->token) != 0) {
            return mp_err(MP_ERR_KEY_NOT_FOUND, "%s: names token '%s' but the open token is '%s' (use --token)", ref, u.token, ks->token);
        }
        if (u.has_object) {
            t[nt++] = (CK_ATTRIBUTE){CKA_LABEL, u.object, strlen(u.object)};
        }
        if (u.id_len > 0) {
            t[nt++] = (CK_ATTRIBUTE){CKA_ID, u.id, u.id_len};
        }
    } else {
        t[nt++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)ref, strlen(ref)};
    }
    CK_OBJECT_HANDLE h[2];
    CK_ULONG n = 0;
    if ((rc = find_objects(ks, t, nt, h, 2, &n)) != MP_OK) {
        return rc;
    }
    if (n == 0) {
        return mp_err(MP_ERR_KEY_NOT_FOUND, "no private key '%s' on token '%s'", ref, ks->token);
    }
    if (n > 1) {
        return mp_err(MP_ERR_KEY_NOT_FOUND, "'%s' names more than one private key on token '%s'; use a pkcs11: URI with id=", ref, ks->token);
    }
    CK_ATTRIBUTE a[] = {{CKA_LABEL, key->label, sizeof(key->label) - 1}, {CKA_ID, key->id, sizeof(key->id)}};
    if (ks->fl->C_GetAttributeValue(ks->sess, h[0], a, 2) != CKR_OK) {
        return mp_err(MP_ERR_GENERAL, "cannot read attributes of key '%s'", ref);
    }
    key->label[a[0].ulValueLen] = 0;
    key->id_len = a[1].ulValueLen;
    if ((rc = check_p256(ks, h[0], ref)) != MP_OK) {
        return rc;
    }
    CK_ATTRIBUTE pt[] = {{CKA_CLASS, &pubc, sizeof(pubc)}, {CKA_ID, key->id, key->id_len}};
    CK_OBJECT_HANDLE ph[1];
    if ((rc = find_objects(ks, pt, 2, ph, 1, &n)) != MP_OK) {
        return rc;
    }
    if (n == 0) {
        return mp_err(MP_ERR_KEY_NOT_FOUND, "key '%s' has no public key object on token '%s'", ref, ks->token);
    }
    if ((rc = read_point(ks, ph[0], key->point)) != MP_OK) {
        return rc;
    }
    mp_skid(key->point, key->skid);
    make_uri(ks->token, key);
    return MP_OK;
}

static int read_obj(mp_ks *ks, CK_OBJECT_HANDLE h, mp_ks_obj *o)
{
    CK_BBOOL b[6];
    CK_ATTRIBUTE_TYPE bt[6] = {CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_SIGN, CKA_DERIVE, CKA_MODIFIABLE, CKA_COPYABLE};
    int *dst[6] = {&o->sensitive, &o->extractable, &o->sign, &o->derive, &o->modifiable, &o->copyable};
    memset(o, 0, sizeof(*o));
    o->key_type = (unsigned long)-1;
    CK_ATTRIBUTE a[] = {{CKA_CLASS, &o->cls, sizeof(o->cls)}, {CKA_LABEL, o->label, sizeof(o->label) - 1},
                        {CKA_ID, o->id, sizeof(o->id)}};
    for (int i = 0; i < 3; i++) {
        if (ks->fl->C_GetAttributeValue(ks->sess, h, &a[i], 1) != CKR_OK) {
            a[i].ulValueLen = 0;
        }
    }
    o->label[a[1].ulValueLen] = 0;
    o->id_len = a[2].ulValueLen;
    CK_ATTRIBUTE kt = {CKA_KEY_TYPE, &o->key_type, sizeof(o->key_type)};
    if (ks->fl->C_GetAttributeValue(ks->sess, h, &kt, 1) != CKR_OK) {
        o->key_type = (unsigned long)-1;
    }
    for (int i = 0; i < 6; i++) {
        CK_ATTRIBUTE ba = {bt[i], &b[i], sizeof(b[i])};
        *dst[i] = ks->fl->C_GetAttributeValue(ks->sess, h, &ba, 1) == CKR_OK ? b[i] == CK_TRUE : -1;
    }
    return MP_OK;
}

int mp_ks_obj_ca_ok(const mp_ks_obj *o)
{
    const char *bad = o->sensitive != 1 ? "CKA_SENSITIVE is not true"
                    : o->extractable != 0 ? "CKA_EXTRACTABLE is not false"
                    : o->sign != 1 ? "CKA_SIGN is not true"
                    : o->derive != 0 ? "CKA_DERIVE is not false"
                    : o->modifiable != 0 ? "CKA_MODIFIABLE is not false"
                    : o->copyable != 0 ? "CKA_COPYABLE is not false" : NULL;
    return bad ? mp_err(MP_ERR_PROFILE, "key '%s': %s; a CA key must not be alterable", o->label, bad) : MP_OK;
}

int mp_ks_list(mp_ks *ks, mp_ks_obj **objs, size_t *n)
{
    CK_OBJECT_HANDLE h[512];
    CK_ULONG count = 0;
    *objs = NULL;
    *n = 0;
    int rc = find_objects(ks, NULL, 0, h, 512, &count);
    if (rc != MP_OK) {
        return rc;
    }
    if (count > 0 && (*objs = calloc(count, sizeof(**objs))) == NULL) {
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    for (CK_ULONG i = 0; i < count; i++) {
        read_obj(ks, h[i], &(*objs)[i]);
    }
    *n = count;
    return MP_OK;
}

int mp_ks_generate(mp_ks *ks, const char *label, mp_ks_key *key)
{
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_KEY_TYPE kt = CKK_EC;
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    uint8_t tmp_id[20];
    int exists = 0, rc;
    memset(key, 0, sizeof(*key));
    if (label == NULL || *label == 0 || strlen(label) >= sizeof(key->label)) {
        return mp_err(MP_ERR_INVALID, "key label must be 1..127 characters");
    }
    if ((rc = label_exists(ks, label, &exists)) != MP_OK) {
        return rc;
    }
    if (exists) {
        return mp_err(MP_ERR_KEY_EXISTS, "token '%s' already has an object labelled '%s'; refusing to overwrite it", ks->token, label);
    }
    if (ks->fl->C_GenerateRandom(ks->sess, tmp_id, sizeof(tmp_id)) != CKR_OK) {
        return mp_err(MP_ERR_GENERAL, "token '%s': C_GenerateRandom failed", ks->token);
    }
    CK_ATTRIBUTE pub[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},      {CKA_PRIVATE, &no, sizeof(no)},
        {CKA_VERIFY, &yes, sizeof(yes)},     {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_ENCRYPT, &no, sizeof(no)},      {CKA_WRAP, &no, sizeof(no)},
        {CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid)},
        {CKA_LABEL, (void *)label, strlen(label)}, {CKA_ID, tmp_id, sizeof(tmp_id)},
    };
    CK_ATTRIBUTE priv[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},       {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},   {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_SIGN, &yes, sizeof(yes)},        {CKA_DERIVE, &no, sizeof(no)},
        {CKA_DECRYPT, &no, sizeof(no)},       {CKA_UNWRAP, &no, sizeof(no)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_MODIFIABLE, &no, sizeof(no)},    {CKA_COPYABLE, &no, sizeof(no)},
        {CKA_LABEL, (void *)label, strlen(label)}, {CKA_ID, tmp_id, sizeof(tmp_id)},
    };
    CK_OBJECT_HANDLE hpub, hpriv;
    mp_ks_obj o;
    CK_RV rv = ks->fl->C_GenerateKeyPair(ks->sess, &mech, pub, sizeof(pub) / sizeof(pub[0]),
                                         priv, sizeof(priv) / sizeof(priv[0]), &hpub, &hpriv);
    if (rv != CKR_OK) {
        return mp_err(mp_ks_ckr_rc(rv), "token '%s': EC key generation failed (0x%lx)", ks->token, rv);
    }
    snprintf(key->label, sizeof(key->label), "%s", label);
    if ((rc = read_point(ks, hpub, key->point)) != MP_OK) {
        goto fail;
    }
    mp_skid(key->point, key->skid);
    /* CKA_ID is the random one given at generation: an unmodifiable key's
     * attributes are final when it is made, before its point (and so its
     * SKID) is known. The SKID is in the certificate and the ceremony log. */
    memcpy(key->id, tmp_id, sizeof(tmp_id));
    key->id_len = sizeof(tmp_id);
    read_obj(ks, hpriv, &o);
    if ((rc = mp_ks_obj_ca_ok(&o)) != MP_OK) {
        goto fail;
    }
    make_uri(ks->token, key);
    return MP_OK;
fail:
    ks->fl->C_DestroyObject(ks->sess, hpriv);
    ks->fl->C_DestroyObject(ks->sess, hpub);
    return rc;
}

int mp_ks_delete(mp_ks *ks, const mp_ks_key *key)
{
    CK_ATTRIBUTE t[] = {{CKA_ID, (void *)key->id, key->id_len},
                        {CKA_LABEL, (void *)key->label, strlen(key->label)}};
    CK_OBJECT_HANDLE h[4];
    CK_ULONG n = 0;
    if (find_objects(ks, t, 2, h, 4, &n) != MP_OK) {
        return -1;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        ks->fl->C_DestroyObject(ks->sess, h[i]);
    }
    return 0;
}

EVP_PKEY *mp_ks_signer(mp_ks *ks, const mp_ks_key *key)
{
    PKCS11_KEY *keys = NULL;
    unsigned int n = 0;
    if (PKCS11_enumerate_keys(ks->slot->token, &keys, &n) != 0) {
        mp_err_ssl(MP_ERR_GENERAL, "token '%s': cannot list keys", ks->token);
        return NULL;
    }
    for (unsigned int i = 0; i < n; i++) {
        if (keys[i].isPrivate && keys[i].id_len == key->id_len &&
            memcmp(keys[i].id, key->id, key->id_len) == 0 &&
            keys[i].label != NULL && strcmp(keys[i].label, key->label) == 0) {
            EVP_PKEY *pk = PKCS11_get_private_key(&keys[i]);
            if (pk == NULL) {
                mp_err_ssl(MP_ERR_GENERAL, "key '%s': libp11 cannot use it", key->label);
            }
            return pk;
        }
    }
    mp_err(MP_ERR_KEY_NOT_FOUND, "key '%s' not visible through libp11", key->label);
    return NULL;
}
