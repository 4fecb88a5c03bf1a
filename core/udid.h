/*
 * udid.h - the one rule for device UDIDs, wherever one is accepted (chip-list
 * imports of every format, --udid options).
 *
 * A UDID names files (UDID.der, UDID.key.der, factory-data images), on any
 * file system a production line may copy them to, so it is:
 *   1..64 characters of  A-Z a-z 0-9 _ -
 *   the first a letter or a digit (no leading '-': an option; no '.': hidden),
 *   no '.' at all (so UDID + extension is never another UDID's file name:
 *   "DEV1.key" + ".der" would be the key file of "DEV1"), no ':' (NTFS
 *   streams, macOS), and not a Windows reserved device name (CON, PRN, AUX,
 *   NUL, COM0-9, LPT0-9) in any case.
 * Case rule: a UDID is stored and matched exactly as given, but two UDIDs
 * that differ only in case are the same device name (they would be one file
 * on a case-insensitive file system): the ledger refuses the second one.
 */
#ifndef MP_UDID_H
#define MP_UDID_H

#include <stddef.h>

#include "err.h"

#define MP_UDID_RULE "1..64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit, not a Windows device name (CON, NUL, COM1, ...)"

/* MP_OK, or MP_ERR_INVALID with a message saying what is wrong and where. */
int mp_udid_check(const char *udid, size_t len) MP_MUST_CHECK;

#endif
