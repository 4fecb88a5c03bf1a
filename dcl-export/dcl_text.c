/* dcl_text.c - see dcl_text.h. */
#include "dcl_text.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

long dcl_utf8_len(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    long cps = 0;
    for (size_t i = 0; i < n; cps++) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (k == 0 || i + k > n || (k == 2 && c < 0xC2) || (k == 4 && c > 0xF4)) {
            return -1;
        }
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return -1;
        }
        if ((k == 3 && c == 0xE0 && s[i + 1] < 0xA0) || (k == 3 && c == 0xED && s[i + 1] >= 0xA0) ||
            (k == 4 && c == 0xF0 && s[i + 1] < 0x90) || (k == 4 && c == 0xF4 && s[i + 1] >= 0x90)) {
            return -1; /* overlong, surrogate or beyond U+10FFFF */
        }
        i += k;
    }
    return cps;
}

int dcl_is_url(const char *s, int kind)
{
    const char *colon = strchr(s, ':');
    if (colon == NULL || colon == s) return 0;
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7F) return 0; /* url.Parse: no spaces or controls */
    }
    for (const char *p = s; p < colon; p++) {
        if (!isalpha((unsigned char)*p) && (p == s || (!isdigit((unsigned char)*p) && !strchr("+-.", *p)))) return 0;
    }
    size_t sl = (size_t)(colon - s);
    int https = sl == 5 && strncasecmp(s, "https", 5) == 0, http = sl == 4 && strncasecmp(s, "http", 4) == 0;
    if ((kind == DCL_URL_HTTPS && !https) || (kind == DCL_URL_HTTP_OR_HTTPS && !https && !http) ||
        (kind == DCL_URL_NOT_HTTP && strncmp(s, "http:", 5) == 0)) {
        return 0;
    }
    if (strncmp(colon, "://", 3) != 0) return 0;
    const char *host = colon + 3;
    size_t alen = strcspn(host, "/?#");
    const char *at = memchr(host, '@', alen);
    if (at != NULL) {
        alen -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    size_t hlen = host[0] == '[' ? alen : strcspn(host, ":/?#");
    return hlen > 0 && hlen <= alen;
}

static int b64c(int c)
{
    return isalnum(c) || c == '+' || c == '/';
}

int dcl_is_base64(const char *s)
{
    size_t n = strlen(s), pad = 0;
    if (n == 0 || n % 4 != 0) return 0;
    if (s[n - 1] == '=') pad++;
    if (s[n - 2] == '=') pad++;
    for (size_t i = 0; i < n - pad; i++) {
        if (!b64c((unsigned char)s[i])) return 0;
    }
    return 1;
}

int dcl_is_hexid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n % 2) return 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'A' && s[i] <= 'F')) return 0;
    }
    return 1;
}

int dcl_is_alnum(const char *s)
{
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) || (unsigned char)*s > 0x7F) return 0;
    }
    return 1;
}

static uint32_t polymod_step(uint32_t chk, unsigned v)
{
    static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
    uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; i++) {
        if ((top >> i) & 1) chk ^= gen[i];
    }
    return chk;
}

int dcl_is_address(const char *s)
{
    static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    static const char hrp[] = "cosmos";
    size_t n = strlen(s), hl = sizeof(hrp) - 1;
    if (n < hl + 1 + 6 + 2 || n > 90 || strncmp(s, hrp, hl) != 0 || s[hl] != '1') return 0;
    uint32_t chk = 1;
    for (size_t i = 0; i < hl; i++) chk = polymod_step(chk, (unsigned)hrp[i] >> 5);
    chk = polymod_step(chk, 0);
    for (size_t i = 0; i < hl; i++) chk = polymod_step(chk, (unsigned)hrp[i] & 31);
    size_t nd = n - hl - 1, bits = 0;
    for (size_t i = 0; i < nd; i++) {
        const char *p = s[hl + 1 + i] ? strchr(charset, s[hl + 1 + i]) : NULL;
        if (p == NULL) return 0;
        chk = polymod_step(chk, (unsigned)(p - charset));
    }
    bits = (nd - 6) * 5;
    /* checksum, and 8-bit data with < 5 bits of zero padding: 1..255 bytes */
    return chk == 1 && bits / 8 >= 1 && bits / 8 <= 255 && bits % 8 < 5;
}

static int digits(const char *s, int n)
{
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return 0;
    }
    return 1;
}

int dcl_is_rfc3339(const char *s)
{
    if (strlen(s) < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2) || s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' ||
        !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2)) {
        return 0;
    }
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return 0;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (strcmp(p, "Z") == 0) return 1;
    return strlen(p) == 6 && (*p == '+' || *p == '-') && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2);
}

int dcl_is_cluster_list(const char *s)
{
    char seen[64][7];
    size_t n = 0;
    while (1) {
        size_t l = strcspn(s, ",");
        if (l < 3 || l > 6 || s[0] != '0' || s[1] != 'x' || n == 64) return 0;
        for (size_t i = 2; i < l; i++) {
            if (!isxdigit((unsigned char)s[i])) return 0;
        }
        for (size_t i = 0; i < n; i++) {
            if (strlen(seen[i]) == l && strncasecmp(seen[i], s, l) == 0) return 0;
        }
        memcpy(seen[n], s, l);
        seen[n++][l] = 0;
        if (s[l] == 0) return 1;
        s += l + 1;
    }
}

static int word_in(const char *w, size_t l, const char *words)
{
    while (*words) {
        size_t wl = strcspn(words, "|");
        if (wl == l && strncmp(words, w, l) == 0) return 1;
        words += wl + (words[wl] == '|');
    }
    return 0;
}

int dcl_in_set(const char *s, const char *words)
{
    return word_in(s, strlen(s), words);
}

int dcl_is_word_list(const char *s, const char *words)
{
    const char *start = s;
    while (1) {
        size_t l = strcspn(s, ",");
        if (l == 0 || !word_in(s, l, words)) return 0;
        for (const char *p = start; p < s; p += strcspn(p, ",") + 1) {
            if (strcspn(p, ",") == l && strncmp(p, s, l) == 0) return 0;
        }
        if (s[l] == 0) return 1;
        s += l + 1;
    }
}
