/*
 * tlv.h - Matter TLV (Matter Core Specification, appendix A): a writer into
 * a caller buffer and a bounds-checked streaming reader.
 *
 * Element = control byte (tag control in the high 3 bits, element type in
 * the low 5), tag bytes, length/value. Integers and lengths little-endian.
 *
 * Writer: every put_* appends one element; an overflow or misuse makes the
 * writer sticky-failed (later puts are no-ops) and mp_tlv_finish() reports
 * it. Unsigned and signed integers are written in the minimal width.
 *
 *     mp_tlv_writer w;
 *     mp_tlv_writer_init(&w, buf, sizeof(buf));
 *     mp_tlv_start(&w, MP_TLV_ANON, MP_TLV_STRUCT);
 *     mp_tlv_put_uint(&w, mp_tlv_ctx(0), 1);
 *     mp_tlv_end(&w);
 *     rc = mp_tlv_finish(&w, &len);
 *
 * Reader: a flat walk. mp_tlv_next() returns the next element; after a
 * container start it descends into it, and the container's end is returned
 * as an element of type MP_TLV_END. At the end of the input (outside any
 * container) it returns type MP_TLV_EOF. It never reads past the buffer,
 * rejects truncated elements, reserved types, tags not allowed in the
 * current container (anonymous in a structure, tagged in an array, a
 * context tag at top level), and nesting deeper than MP_TLV_MAX_DEPTH.
 * Errors are MP_ERR_INVALID with the SDK error name in the message.
 */
#ifndef MP_TLV_H
#define MP_TLV_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MP_TLV_MAX_DEPTH 16

/* Element types as the reader reports them (widths are in elem.width). */
enum mp_tlv_type {
    MP_TLV_INT = 1,   /* signed integer, 1/2/4/8 bytes: v.i */
    MP_TLV_UINT,      /* unsigned integer, 1/2/4/8 bytes: v.u */
    MP_TLV_BOOL,      /* v.b */
    MP_TLV_FLOAT,     /* 4-byte IEEE 754: v.d */
    MP_TLV_DOUBLE,    /* 8-byte IEEE 754: v.d */
    MP_TLV_UTF8,      /* data/len; length field 1/2/4/8 bytes */
    MP_TLV_BYTES,     /* data/len */
    MP_TLV_NULL,
    MP_TLV_STRUCT,
    MP_TLV_ARRAY,
    MP_TLV_LIST,
    MP_TLV_END,       /* end of the current container */
    MP_TLV_EOF,       /* end of the input at top level (reader only) */
};

/* Tag forms. The writer picks the 2- or 4-byte (6- or 8-byte) encoding
 * from the tag number; the reader reports the width it saw in `width`. */
enum mp_tlv_tag_form {
    MP_TLV_TAG_ANON = 0,
    MP_TLV_TAG_CONTEXT,   /* number 0..255 */
    MP_TLV_TAG_COMMON,    /* common profile, 2- or 4-byte number */
    MP_TLV_TAG_IMPLICIT,  /* implicit profile, 2- or 4-byte number */
    MP_TLV_TAG_FULL,      /* vendor id + profile number + 2- or 4-byte number */
};

typedef struct mp_tlv_tag {
    uint8_t form;      /* enum mp_tlv_tag_form */
    uint8_t width;     /* bytes of tag on the wire (reader) */
    uint16_t vendor;   /* FULL only */
    uint16_t profile;  /* FULL only */
    uint32_t num;
} mp_tlv_tag;

#define MP_TLV_ANON ((mp_tlv_tag){MP_TLV_TAG_ANON, 0, 0, 0, 0})
static inline mp_tlv_tag mp_tlv_ctx(uint8_t n)
{
    return (mp_tlv_tag){MP_TLV_TAG_CONTEXT, 1, 0, 0, n};
}
static inline mp_tlv_tag mp_tlv_common(uint32_t n)
{
    return (mp_tlv_tag){MP_TLV_TAG_COMMON, 0, 0, 0, n};
}
static inline mp_tlv_tag mp_tlv_implicit(uint32_t n)
{
    return (mp_tlv_tag){MP_TLV_TAG_IMPLICIT, 0, 0, 0, n};
}
static inline mp_tlv_tag mp_tlv_full(uint16_t vendor, uint16_t profile, uint32_t n)
{
    return (mp_tlv_tag){MP_TLV_TAG_FULL, 0, vendor, profile, n};
}
/* 1 when a is the context tag n. */
int mp_tlv_is_ctx(const mp_tlv_tag *a, uint32_t n);

/* ---- writer --------------------------------------------------------------- */

typedef struct mp_tlv_writer {
    uint8_t *buf;
    size_t cap, len;
    int failed;                       /* sticky: overflow or misuse */
    int depth;
    uint8_t stack[MP_TLV_MAX_DEPTH];  /* open container types */
} mp_tlv_writer;

void mp_tlv_writer_init(mp_tlv_writer *w, uint8_t *buf, size_t cap);
void mp_tlv_put_uint(mp_tlv_writer *w, mp_tlv_tag tag, uint64_t v);
/* Unsigned in a fixed width 1/2/4/8 (tests, or formats that demand it). */
void mp_tlv_put_uint_width(mp_tlv_writer *w, mp_tlv_tag tag, uint64_t v, int width);
void mp_tlv_put_int(mp_tlv_writer *w, mp_tlv_tag tag, int64_t v);
void mp_tlv_put_bool(mp_tlv_writer *w, mp_tlv_tag tag, int v);
void mp_tlv_put_float(mp_tlv_writer *w, mp_tlv_tag tag, float v);
void mp_tlv_put_double(mp_tlv_writer *w, mp_tlv_tag tag, double v);
/* Strings: the length field takes the minimal width (1/2/4/8 bytes). */
void mp_tlv_put_utf8(mp_tlv_writer *w, mp_tlv_tag tag, const char *s, size_t n);
void mp_tlv_put_bytes(mp_tlv_writer *w, mp_tlv_tag tag, const uint8_t *p, size_t n);
void mp_tlv_put_null(mp_tlv_writer *w, mp_tlv_tag tag);
/* type: MP_TLV_STRUCT, MP_TLV_ARRAY or MP_TLV_LIST. */
void mp_tlv_start(mp_tlv_writer *w, mp_tlv_tag tag, int type);
void mp_tlv_end(mp_tlv_writer *w);
/* MP_OK and the encoded length, or MP_ERR_INVALID when the buffer was too
 * small, a tag was not encodable or a container is still open. */
int mp_tlv_finish(const mp_tlv_writer *w, size_t *len) MP_MUST_CHECK;

/* ---- reader --------------------------------------------------------------- */

typedef struct mp_tlv_elem {
    int type;            /* enum mp_tlv_type */
    mp_tlv_tag tag;
    uint8_t width;       /* integer / float width, or string length-field width */
    union {
        uint64_t u;
        int64_t i;
        int b;
        double d;
    } v;
    const uint8_t *data; /* strings: points into the input */
    size_t len;
    size_t offset;       /* offset of the control byte */
    int depth;           /* nesting depth of the element (0 = top level) */
} mp_tlv_elem;

typedef struct mp_tlv_reader {
    const uint8_t *buf;
    size_t len, off;
    int depth;
    uint8_t stack[MP_TLV_MAX_DEPTH]; /* enclosing container types */
} mp_tlv_reader;

void mp_tlv_reader_init(mp_tlv_reader *r, const uint8_t *buf, size_t len);
int mp_tlv_next(mp_tlv_reader *r, mp_tlv_elem *e) MP_MUST_CHECK;
/* Skip the rest of the container whose start element was just read (its
 * elements are still checked for well-formedness). */
int mp_tlv_skip(mp_tlv_reader *r) MP_MUST_CHECK;
/* Walk a whole buffer: exactly one top-level element, well-formed. */
int mp_tlv_check(const uint8_t *buf, size_t len) MP_MUST_CHECK;
/* Name of an element type ("unsigned integer", ...), for messages. */
const char *mp_tlv_type_name(int type);

#endif
