/* va_result.c - how a check records its verdict (pass, skip, fail) and a
 * note in the report; the checks call these, the runner (va_run.c) calls
 * the checks. */
#include <stdarg.h>
#include <stdio.h>

#include "va_int.h"

__attribute__((format(printf, 5, 0))) static void set(va_ctx *c, int id, int status, int code, const char *fmt, va_list ap)
{
    mp_va_check *k = &c->rep->checks[id];
    k->status = status;
    k->code = code;
    vsnprintf(k->detail, sizeof(k->detail), fmt, ap);
}

void va_pass(va_ctx *c, int id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set(c, id, VA_PASS, 0, fmt, ap);
    va_end(ap);
}

void va_skip(va_ctx *c, int id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set(c, id, VA_SKIP, 0, fmt, ap);
    va_end(ap);
}

int va_fail(va_ctx *c, int id, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set(c, id, VA_FAIL, code, fmt, ap);
    va_end(ap);
    c->rep->code = code;
    c->rep->failed = id;
    return -1;
}

void va_note(va_ctx *c, const char *fmt, ...)
{
    mp_va_report *r = c->rep;
    if (r->n_notes >= (int)(sizeof(r->notes) / sizeof(r->notes[0]))) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->notes[r->n_notes++], sizeof(r->notes[0]), fmt, ap);
    va_end(ap);
}
