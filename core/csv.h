/*
 * csv.h - RFC 4180 CSV: a streaming record reader (quoted fields, "" inside
 * quotes, LF or CRLF, newlines inside quotes) and a cell writer that quotes
 * when a value needs it. Used for onboarding.csv (core/devsecret.c, factory-data) and --assign files.
 */
#ifndef MP_CSV_H
#define MP_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"

#define MP_CSV_MAX_FIELDS 16

typedef struct mp_csv {
    FILE *f;
    const char *where;          /* file name, for messages */
    char *buf;                  /* the record's fields, NUL-separated; may hold secrets: wiped */
    size_t cap;
    char *fields[MP_CSV_MAX_FIELDS];
    int n;                      /* fields of the current record; 0 at the end of the file */
    unsigned long line;         /* line on which the current record starts */
    unsigned long next_line;
    int complete;               /* the record ended with a line break (not cut by a crash) */
} mp_csv;

void mp_csv_init(mp_csv *c, FILE *f, const char *where);
/* The next record into c->fields / c->n (n = 0 at the end). MP_ERR_INVALID,
 * naming file and line, for a quote in an unquoted field, text after a
 * closing quote, an unterminated quote or more than MP_CSV_MAX_FIELDS fields.
 * Blank lines are returned as one empty field. */
int mp_csv_next(mp_csv *c) MP_MUST_CHECK;
/* Wipes and frees the buffer (not the FILE). */
void mp_csv_free(mp_csv *c);

/* v as one CSV cell into out (quoted, with "" for ", when it holds , " CR
 * or LF or starts or ends with a space); the length written, or 0 when
 * cap is too small (out then holds ""). */
size_t mp_csv_cell(char *out, size_t cap, const char *v);

#endif
