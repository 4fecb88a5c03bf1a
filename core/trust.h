/*
 * trust.h - trust folders: the certificate files of a directory, as the
 * Matter tools read them (chip-tool's --paa-trust-store-path takes every
 * *.der file of one directory, not recursing), and the layouts `trust
 * export` writes for each consumer.
 */
#ifndef MP_TRUST_H
#define MP_TRUST_H

#include <stddef.h>

#include <openssl/x509.h>

#include "err.h"

/* 1 when path is a directory. */
int mp_is_dir(const char *path);

/* The files of dir whose names end in .der or .pem (ext = NULL), or in
 * ext only, sorted by name; not recursive; hidden files skipped.
 * *paths is malloc'd (free with mp_trust_files_free). */
int mp_trust_dir_files(const char *dir, const char *ext, char ***paths, size_t *n) MP_MUST_CHECK;
void mp_trust_files_free(char **paths, size_t n);

/* A file name for a certificate: its CN reduced to [A-Za-z0-9_-] (at most
 * 48 characters), '_' and the uppercase SKID hex, without extension. */
void mp_trust_cert_name(X509 *x, char out[static 120]);

#endif
