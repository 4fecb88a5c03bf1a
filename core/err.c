/* err.c - the thread-local error record: a small stack of frames (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

typedef struct frame {
    char text[1024];
    int rc;
} frame;

static _Thread_local frame frames[MP_ERR_FRAMES];
static _Thread_local int depth; /* index of the top frame */
static _Thread_local int overflow; /* holds beyond the last frame */

/* the top frame, where errors are recorded */
#define msg (frames[depth].text)
#define code (frames[depth].rc)

void mp_err_hold(void)
{
    if (depth + 1 < MP_ERR_FRAMES) {
        depth++;
        frames[depth].text[0] = 0;
        frames[depth].rc = 0;
    } else {
        overflow++;
    }
}

void mp_err_release(void)
{
    if (overflow > 0) {
        overflow--;
    } else if (depth > 0) {
        depth--;
    }
}

__attribute__((format(printf, 2, 0))) static int vset(int rc, const char *fmt, va_list ap)
{
    vsnprintf(msg, sizeof(msg), fmt, ap);
    code = rc;
    return rc;
}

int mp_err(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(rc, fmt, ap);
    va_end(ap);
    return rc;
}

int mp_err_ssl(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(rc, fmt, ap);
    va_end(ap);
    unsigned long e = ERR_peek_last_error();
    if (e != 0) {
        size_t n = strlen(msg);
        char buf[256];
        ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(msg + n, sizeof(msg) - n, " (%s)", buf);
    }
    ERR_clear_error();
    return rc;
}

int mp_err_ctx(int rc, const char *fmt, ...)
{
    char prefix[512], old[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, msg, sizeof(old));
    snprintf(msg, sizeof(msg), "%s: %s", prefix, old);
    code = rc;
    return rc;
}

const char *mp_err_msg(void) { return msg[0] ? msg : "unknown error"; }
int mp_err_code(void) { return code; }
void mp_err_clear(void)
{
    depth = 0;
    overflow = 0;
    msg[0] = 0;
    code = 0;
}

const char *mp_rc_name(int rc)
{
    static const char *const names[] = {
        "ok", "general error", "usage error", "authentication failed",
        "PKCS#11 module unavailable", "token not found", "key label exists",
        "key not found", "output exists", "I/O error", "invalid input",
        "profile violation", "inputs mismatch", "signature verification failed",
        "ledger error", "quota exceeded", "duplicate", "device not authorized",
        "reserved (not produced: batches stop at their first failure)",
        "attestation rejected", "interrupted", "state or ledger not found",
        "busy, retry later", "network or TLS failure",
        "CRL expires soon or has expired", "audit trail broken",
    };
    if (rc >= 0 && (size_t)rc < sizeof(names) / sizeof(names[0])) {
        return names[rc];
    }
    return "unknown";
}
