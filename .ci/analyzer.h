/* analyzer.h - forced into every file but core/err.c under `make scan`
 * (clang's static analyzer): tells the analyzer what err.c does, that
 * mp_err & co. return their rc argument, so a path that records an error
 * is not taken for a success. Never part of a real build. */
#ifndef MP_ANALYZER_H
#define MP_ANALYZER_H
#include "err.h"
#define mp_err(rc, ...) (mp_err(rc, __VA_ARGS__), (rc))
#define mp_err_ssl(rc, ...) (mp_err_ssl(rc, __VA_ARGS__), (rc))
#define mp_err_ctx(rc, ...) (mp_err_ctx(rc, __VA_ARGS__), (rc))
#endif
