/*
 * err.h - exit codes and the error record of matter-pki.
 *
 * core/ never prints and never exits: it records an error with mp_err() and
 * returns the exit code. The CLI prints the recorded message once.
 *
 * The record is a small per-thread stack of frames. Normally there is one
 * frame and a new error replaces the one before it. Cleanup that runs after
 * a failure (and may fail itself) opens a frame with mp_err_hold(): what it
 * records lands in that frame and goes with mp_err_release(), so the cause
 * stays the recorded error, with no copying of messages by hand.
 */
#ifndef MP_ERR_H
#define MP_ERR_H

/* Exit codes. Append only, never reorder: scripts depend on the numbers.
 * A code no command returns says "reserved" here and in mp_rc_name (so in
 * `help exit-codes`); its number is kept, never given another meaning. */
enum mp_rc {
    MP_OK = 0,
    MP_ERR_GENERAL = 1,      /* unexpected internal or library failure */
    MP_ERR_USAGE = 2,        /* bad command line */
    MP_ERR_AUTH = 3,         /* PIN incorrect, locked or missing */
    MP_ERR_MODULE = 4,       /* PKCS#11 module cannot be loaded */
    MP_ERR_TOKEN = 5,        /* token not found / not initialised */
    MP_ERR_KEY_EXISTS = 6,   /* a key with that label already exists */
    MP_ERR_KEY_NOT_FOUND = 7,/* no key with that label / URI */
    MP_ERR_EXISTS = 8,       /* output file exists (use --force) */
    MP_ERR_IO = 9,           /* file unreadable, directory unwritable */
    MP_ERR_INVALID = 10,     /* an input value is out of range or malformed */
    MP_ERR_PROFILE = 11,     /* a Matter certificate profile rule is violated */
    MP_ERR_MISMATCH = 12,    /* inputs disagree (VID of PAI vs PAA, key vs cert) */
    MP_ERR_VERIFY = 13,      /* a signature does not verify */
    MP_ERR_DB = 14,          /* ledger database error */
    MP_ERR_QUOTA = 15,       /* production order quota exhausted */
    MP_ERR_DUPLICATE = 16,   /* duplicate UDID or key */
    MP_ERR_UNAUTHORIZED = 17,/* device not on a trusted list or already issued */
    MP_ERR_PARTIAL = 18,     /* reserved, never returned: a batch stops at its
                                first failing item, with that item's code */
    MP_ERR_ATTESTATION = 19, /* attestation verifier rejected the chain */
    MP_ERR_INTERRUPTED = 20, /* stopped by a signal; re-run to finish */
    /* 21-25: reserved for work in progress; the first code that uses one
     * drops "reserved" here and in mp_rc_name. */
    MP_ERR_NO_STATE = 21,    /* state directory or ledger missing,
                                empty, or not the ledger of this PKI */
    MP_ERR_BUSY = 22,        /* a server asked to retry later (HTTP 429/503) */
    MP_ERR_NETWORK = 23,     /* server unreachable, TLS or protocol failure */
    MP_ERR_EXPIRING = 24,    /* a CRL's nextUpdate is near or past */
    MP_ERR_AUDIT = 25,       /* the audit chain is broken or a checkpoint
                                signature does not verify */
};
#define MP_ERR_LAST MP_ERR_AUDIT

#define MP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define MP_MUST_CHECK __attribute__((warn_unused_result))

/* Record an error (replacing any earlier one) and return rc. */
int mp_err(int rc, const char *fmt, ...) MP_PRINTF(2, 3);
/* Same, with the OpenSSL error queue appended (and cleared). */
int mp_err_ssl(int rc, const char *fmt, ...) MP_PRINTF(2, 3);
/* Prefix the recorded message with context, e.g. a file name. */
int mp_err_ctx(int rc, const char *fmt, ...) MP_PRINTF(2, 3);
const char *mp_err_msg(void);
int mp_err_code(void);
/* Clears every frame. */
void mp_err_clear(void);
/* Open a frame for cleanup after a failure; mp_err_release() drops what was
 * recorded since and brings back the error below (the cause). Nests up to
 * MP_ERR_FRAMES - 1 deep; deeper holds share the top frame. */
#define MP_ERR_FRAMES 4
void mp_err_hold(void);
void mp_err_release(void);
/* Name of an exit code, for help and messages. */
const char *mp_rc_name(int rc);

#endif
