/*
 * dcl_text.h - the string rules of the DCL validate tags (dcl.md section 2):
 * code-point lengths, https_url / http_or_https_url, base64, key-ID hex,
 * bech32 account addresses, RFC 3339 dates and the compliance list formats.
 * Each predicate returns 1 when the string satisfies the rule.
 */
#ifndef MP_DCL_TEXT_H
#define MP_DCL_TEXT_H

#include <stddef.h>

/* Unicode code points of valid UTF-8, or -1 when s is not valid UTF-8. */
long dcl_utf8_len(const char *s, size_t n);

enum { DCL_URL_HTTPS = 1, DCL_URL_HTTP_OR_HTTPS = 2, DCL_URL_ANY = 3, DCL_URL_NOT_HTTP = 4 };
/* Absolute URL with a non-empty host and a scheme allowed by `kind`. */
int dcl_is_url(const char *s, int kind);
/* Standard base64 with padding (Go validator `base64`). */
int dcl_is_base64(const char *s);
/* ^(?:[0-9A-F]{2})+$ */
int dcl_is_hexid(const char *s);
/* ^[a-zA-Z0-9]*$ */
int dcl_is_alnum(const char *s);
/* Bech32 (BIP-173) account address with human-readable part "cosmos",
 * valid checksum and 1..255 bytes of data. */
int dcl_is_address(const char *s);
/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM). */
int dcl_is_rfc3339(const char *s);
/* Comma list of 0x + 1..4 hex digits, no case-insensitive duplicates. */
int dcl_is_cluster_list(const char *s);
/* Comma list of words from `words` ("a|b|c"), no duplicates, non-empty items. */
int dcl_is_word_list(const char *s, const char *words);
/* s is one of the words of "a|b|c". */
int dcl_in_set(const char *s, const char *words);

#endif
