/*
 * dcl_json.h - the DCL transaction envelope and a deterministic JSON writer.
 *
 * Messages are jansson objects whose keys are kept in insertion order (proto
 * field order). dcl_json_dump() writes them compactly, escaping strings the
 * way Go's encoding/json does (<, >, & and U+2028/9 as \u escapes), so an
 * export is byte-identical to `dcld tx ... --generate-only` for the same
 * Msg and the same input always gives the same bytes.
 */
#ifndef MP_DCL_JSON_H
#define MP_DCL_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "err.h"

#define DCL_TYPE_PREFIX "/zigbeealliance.distributedcomplianceledger."

/* Compact JSON of v followed by "\n" (malloc'd, NUL-terminated). Integers,
 * strings, booleans, null, arrays and objects only. */
int dcl_json_dump(const json_t *v, char **out, size_t *len) MP_MUST_CHECK;

/* The unsigned tx (cosmos-sdk 0.47 shape) holding one Msg; adds a
 * reference to msg (the caller keeps and releases its own). */
json_t *dcl_tx_new(json_t *msg);

/* The first Msg of a tx (borrowed), or NULL. */
json_t *dcl_tx_msg(json_t *tx);

/* Write v with dcl_json_dump through mp_write_file (atomic, mode 0644). */
int dcl_json_write(const char *path, const json_t *v, int force) MP_MUST_CHECK;

#endif
