/* udid.c - the UDID rule (see udid.h). */
#include "udid.h"

#include <string.h>
#include <strings.h>

#include "ledger.h"

static int alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* CON, PRN, AUX, NUL, COM0-9, LPT0-9, any case (with an extension too on
 * Windows; a UDID has none, but its files do). */
static int windows_reserved(const char *u, size_t len)
{
    static const char *const three[] = {"CON", "PRN", "AUX", "NUL"};
    for (size_t i = 0; len == 3 && i < 4; i++) {
        if (strncasecmp(u, three[i], 3) == 0) return 1;
    }
    return len == 4 && (strncasecmp(u, "COM", 3) == 0 || strncasecmp(u, "LPT", 3) == 0) && u[3] >= '0' && u[3] <= '9';
}

int mp_udid_check(const char *udid, size_t len)
{
    if (len == 0 || len > MP_UDID_MAX) {
        return mp_err(MP_ERR_INVALID, "UDID must be 1..%d characters (got %zu)", MP_UDID_MAX, len);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)udid[i];
        if (!alnum(c) && !(i > 0 && (c == '_' || c == '-'))) {
            if (i == 0 && c > 0x20 && c < 0x7F) {
                return mp_err(MP_ERR_INVALID, "UDID must not start with '%c' (the first character is a letter or digit)", c);
            }
            if (c > 0x20 && c < 0x7F) {
                return mp_err(MP_ERR_INVALID, "UDID has character 0x%02X ('%c') at position %zu; allowed: A-Z a-z 0-9 _ -", c, c, i + 1);
            }
            return mp_err(MP_ERR_INVALID, "UDID has character 0x%02X at position %zu; allowed: A-Z a-z 0-9 _ -", c, i + 1);
        }
    }
    if (windows_reserved(udid, len)) {
        return mp_err(MP_ERR_INVALID, "UDID '%.*s' is a reserved device name on Windows (CON, PRN, AUX, NUL, COM0-9, LPT0-9)",
                      (int)len, udid);
    }
    return MP_OK;
}
