/*
 * subject.h - full subjects for PAA and PAI certificates: OpenSSL's
 * "/C=NL/O=Acme Inc/CN=Acme PAA" syntax, restricted to the standard DN
 * attributes the Matter profile allows beside matter-vid/matter-pid
 * (O, OU, C, ST, L, serialNumber, CN), kept in the order given, with the
 * Matter rules checked (exactly one CN of 1..64 characters, size limits).
 */
#ifndef MP_SUBJECT_H
#define MP_SUBJECT_H

#include <openssl/x509.h>

#include "err.h"

#define MP_SUBJ_MAX 16

typedef struct mp_subject {
    int count;
    int nid[MP_SUBJ_MAX];
    char value[MP_SUBJ_MAX][129];
    int cn_index; /* the one CN */
} mp_subject;

/* Parse "/K=V/K=V..." (a '\' escapes the next character, so "\/" is a
 * slash in a value). Keys: C, ST, L, O, OU, CN, serialNumber (also
 * SERIALNUMBER). MP_ERR_INVALID with a message naming the attribute. */
int mp_subject_parse(const char *text, mp_subject *out) MP_MUST_CHECK;
/* A subject with only a CN (the --cn shortcut). */
int mp_subject_cn(const char *cn, mp_subject *out) MP_MUST_CHECK;
/* The CN value (borrowed). */
const char *mp_subject_get0_cn(const mp_subject *s);
/* Check the standard attributes of a DN (a CSR's or a certificate's) by the
 * same rules; matter-vid/matter-pid entries are skipped (checked elsewhere).
 * On success fills out (when not NULL) with the standard attributes in
 * order. MP_ERR_PROFILE with a message naming the attribute. */
int mp_subject_from_name(const X509_NAME *n, mp_subject *out) MP_MUST_CHECK;
/* Append the attributes to n in order: C and serialNumber as
 * PrintableString, the others UTF8String. 1 on success. */
int mp_subject_add(const mp_subject *s, X509_NAME *n);
/* Check one attribute (nid, value) by the rules; returns NULL when fine or
 * a static description of what is wrong. */
const char *mp_subject_attr_problem(int nid, const char *v, size_t len);

#endif
