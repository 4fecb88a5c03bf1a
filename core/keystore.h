/*
 * keystore.h - keys in a PKCS#11 token (SoftHSMv2 or a real HSM).
 *
 * Design (see docs in README "Key store"): libp11 0.4.12 closes every session
 * of a slot when it opens its own (C_CloseAllSessions) and cannot generate EC
 * keys. So mp_ks_open() sets up libp11 first (slot, session, login) and only
 * afterwards opens one raw PKCS#11 session on the same, already initialised
 * module for what libp11 cannot do: EC key generation, label look-ups,
 * attribute reads and rollback deletes. Signing goes through a libp11
 * EVP_PKEY so that X509_sign/CMS use the HSM key in-process. libp11 is
 * released last, after the raw session is closed.
 */
#ifndef MP_KEYSTORE_H
#define MP_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "err.h"

#define MP_DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"

typedef struct mp_ks mp_ks;

/* The user PIN comes from the caller: the key store never prompts. A PIN
 * callback returns MP_OK and a string freed with mp_pin_free(), or an exit
 * code with the error recorded (the CLI's asks its environment stash, then a
 * terminal; a service reads its secret store and never blocks). what names
 * the PIN ("User PIN"). */
typedef int (*mp_pin_cb)(void *arg, const char *what, char **pin);
/* Warnings the caller may show (e.g. "few PIN tries left"). */
typedef void (*mp_warn_cb)(void *arg, const char *msg);

/* Where the keys are and how to log in: explicit configuration. */
typedef struct mp_hsm_cfg {
    const char *module;    /* PKCS#11 library; NULL: SoftHSM (the CLI fills in MATTER_PKI_MODULE) */
    const char *token;     /* token label (or from a pkcs11: URI) */
    const char *pin_file;  /* the user PIN is in this regular file ... */
    mp_pin_cb pin_cb;      /* ... else the caller gives it (NULL: no other source) */
    void *pin_arg;
    mp_warn_cb warn;       /* NULL: warnings are dropped */
    void *warn_arg;
    int force_pin_try;     /* try the PIN even when the token says "final try" */
    const char *state_dir; /* for the SoftHSM config made by `token init` */
} mp_hsm_cfg;

typedef struct mp_ks_key {
    char label[128];
    uint8_t id[64];
    size_t id_len;
    uint8_t point[65];  /* uncompressed public point 04||X||Y */
    uint8_t skid[20];   /* SHA-1 of point */
    char uri[600];      /* RFC 7512 URI naming the private key */
} mp_ks_key;

/* Open the token and log in. */
int mp_ks_open(const mp_hsm_cfg *cfg, mp_ks **out) MP_MUST_CHECK;
/* Generate an EC P-256 key pair on the token (sensitive, non-extractable),
 * labelled label, CKA_ID = SKID. Refuses a label that exists. */
int mp_ks_generate(mp_ks *ks, const char *label, mp_ks_key *key) MP_MUST_CHECK;
/* Find a private key by label or pkcs11: URI. */
int mp_ks_find(mp_ks *ks, const char *ref, mp_ks_key *key) MP_MUST_CHECK;
/* Delete both halves of a key pair (rollback of a failed ceremony step). */
int mp_ks_delete(mp_ks *ks, const mp_ks_key *key);
/* An EVP_PKEY that signs with the token key (new reference; free it). */
EVP_PKEY *mp_ks_signer(mp_ks *ks, const mp_ks_key *key);
/*
 * A signing session for one worker thread: its own raw PKCS#11 session on the
 * token, holding an in-HSM session copy of the private key (C_CopyObject with
 * CKA_TOKEN=FALSE; the copy never leaves the HSM and dies with the session).
 * SoftHSM re-reads its token files on every use of a token object, and
 * libp11 serialises its sessions; a private session per thread avoids both
 * (shared/docs/performance.md section 4). Falls back to the token object when
 * the HSM refuses the copy.
 */
typedef struct mp_ks_sess mp_ks_sess;
int mp_ks_sess_open(mp_ks *ks, const mp_ks_key *key, mp_ks_sess **out) MP_MUST_CHECK;
/* ECDSA P-256 over a SHA-256 digest; sig receives the DER ECDSA-Sig-Value (<= 72 bytes). */
int mp_ks_sess_sign(mp_ks_sess *s, const uint8_t digest[static 32], uint8_t *sig, size_t *siglen) MP_MUST_CHECK;
void mp_ks_sess_close(mp_ks_sess *s);
/* r||s (64 bytes) to a DER ECDSA-Sig-Value; returns its length. */
size_t mp_ecdsa_raw_to_der(const uint8_t rs[static 64], uint8_t out[static 72]);

const char *mp_ks_token_label(const mp_ks *ks);
const char *mp_ks_module(const mp_ks *ks);
void mp_ks_close(mp_ks *ks);

/* Resolve the module path and set SOFTHSM2_CONF from the state directory when
 * the state directory holds a development token. */
const char *mp_ks_module_path(const mp_hsm_cfg *cfg);
void mp_ks_prepare_env(const mp_hsm_cfg *cfg);

/* Read a PIN from a regular file (trailing newline dropped; a FIFO or device
 * is refused). The buffer is wiped and freed with mp_pin_free(). */
int mp_pin_from_file(const char *file, char **pin) MP_MUST_CHECK;
/* The user PIN of cfg: pin_file, else pin_cb, else MP_ERR_AUTH. */
int mp_pin_get(const mp_hsm_cfg *cfg, const char *what, char **pin) MP_MUST_CHECK;
void mp_pin_free(char *pin);

/* What the token's PIN flags (CKF_USER_PIN_*) allow before a login is tried:
 * MP_OK, or MP_ERR_AUTH (locked; final try and not force) with the error
 * recorded. *low is set when the token says few tries are left. */
int mp_pin_policy(unsigned long flags, int force, const char *token, int *low) MP_MUST_CHECK;

/* Objects on the token, for `token list`. */
typedef struct mp_ks_obj {
    char label[128];
    uint8_t id[64];
    size_t id_len;
    unsigned long cls;      /* CKO_* */
    unsigned long key_type; /* CKK_* (keys) */
    /* key attributes: 1 true, 0 false, -1 not readable / not applicable */
    int sensitive, extractable, sign, derive, modifiable, copyable;
} mp_ks_obj;
int mp_ks_list(mp_ks *ks, mp_ks_obj **objs, size_t *n) MP_MUST_CHECK;
/* Attributes a CA key must have (sensitive, non-extractable, sign only, not
 * modifiable, not copyable): MP_OK or MP_ERR_PROFILE naming the first one. */
int mp_ks_obj_ca_ok(const mp_ks_obj *o) MP_MUST_CHECK;

/* SHA-1 of a 65-byte point. */
void mp_skid(const uint8_t point[static 65], uint8_t skid[static 20]);

/* Initialise a SoftHSM token in a slot of the module (development). */
int mp_ks_init_token(const mp_hsm_cfg *cfg, const char *label, const char *so_pin,
                     const char *user_pin) MP_MUST_CHECK;

#endif
