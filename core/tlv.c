/* tlv.c - Matter TLV writer and reader (see tlv.h). */
#include "tlv.h"

#include <string.h>

/* Element type codes on the wire (low 5 bits of the control byte). */
enum {
    ET_INT1 = 0x00, ET_UINT1 = 0x04, ET_FALSE = 0x08, ET_TRUE = 0x09, ET_FLOAT = 0x0A,
    ET_DOUBLE = 0x0B, ET_UTF8_1 = 0x0C, ET_BYTES_1 = 0x10, ET_NULL = 0x14,
    ET_STRUCT = 0x15, ET_ARRAY = 0x16, ET_LIST = 0x17, ET_END = 0x18,
};

/* Tag control values (high 3 bits). */
enum { TC_ANON, TC_CTX, TC_COMMON2, TC_COMMON4, TC_IMPL2, TC_IMPL4, TC_FULL6, TC_FULL8 };

int mp_tlv_is_ctx(const mp_tlv_tag *a, uint32_t n)
{
    return a->form == MP_TLV_TAG_CONTEXT && a->num == n;
}

const char *mp_tlv_type_name(int type)
{
    static const char *const names[] = {"?", "signed integer", "unsigned integer", "boolean",
        "float", "double", "UTF-8 string", "octet string", "null", "structure", "array",
        "list", "end of container", "end of input"};
    return type >= 0 && type <= MP_TLV_EOF ? names[type] : "?";
}

/* ---- writer --------------------------------------------------------------- */

void mp_tlv_writer_init(mp_tlv_writer *w, uint8_t *buf, size_t cap)
{
    memset(w, 0, sizeof(*w));
    w->buf = buf;
    w->cap = cap;
}

static void put_le(mp_tlv_writer *w, uint64_t v, int n)
{
    if (w->failed || w->cap - w->len < (size_t)n) {
        w->failed = 1;
        return;
    }
    for (int i = 0; i < n; i++) {
        w->buf[w->len++] = (uint8_t)(v >> (8 * i));
    }
}

/* Control byte and tag bytes. */
static void put_head(mp_tlv_writer *w, mp_tlv_tag t, int etype)
{
    int tc, n;
    uint8_t parent = w->depth > 0 ? w->stack[w->depth - 1] : 0;
    int anon = t.form == MP_TLV_TAG_ANON;
    if ((parent == MP_TLV_STRUCT && anon) || (parent == MP_TLV_ARRAY && !anon) ||
        (w->depth == 0 && t.form == MP_TLV_TAG_CONTEXT) ||
        (t.form == MP_TLV_TAG_CONTEXT && t.num > 0xFF) || t.form > MP_TLV_TAG_FULL) {
        w->failed = 1;
        return;
    }
    int wide = t.num > 0xFFFF;
    switch (t.form) {
    case MP_TLV_TAG_ANON: tc = TC_ANON; n = 0; break;
    case MP_TLV_TAG_CONTEXT: tc = TC_CTX; n = 1; break;
    case MP_TLV_TAG_COMMON: tc = wide ? TC_COMMON4 : TC_COMMON2; n = wide ? 4 : 2; break;
    case MP_TLV_TAG_IMPLICIT: tc = wide ? TC_IMPL4 : TC_IMPL2; n = wide ? 4 : 2; break;
    default: tc = wide ? TC_FULL8 : TC_FULL6; n = wide ? 4 : 2; break;
    }
    put_le(w, (uint64_t)(tc << 5 | etype), 1);
    if (t.form == MP_TLV_TAG_FULL) {
        put_le(w, t.vendor, 2);
        put_le(w, t.profile, 2);
    }
    put_le(w, t.num, n);
}

static int width_log2(int width)
{
    return width == 1 ? 0 : width == 2 ? 1 : width == 4 ? 2 : width == 8 ? 3 : -1;
}

void mp_tlv_put_uint_width(mp_tlv_writer *w, mp_tlv_tag tag, uint64_t v, int width)
{
    int l = width_log2(width);
    if (l < 0 || (width < 8 && v >> (8 * width) != 0)) {
        w->failed = 1;
        return;
    }
    put_head(w, tag, ET_UINT1 + l);
    put_le(w, v, width);
}

static int uint_width(uint64_t v)
{
    return v <= 0xFF ? 1 : v <= 0xFFFF ? 2 : v <= 0xFFFFFFFFu ? 4 : 8;
}

void mp_tlv_put_uint(mp_tlv_writer *w, mp_tlv_tag tag, uint64_t v)
{
    mp_tlv_put_uint_width(w, tag, v, uint_width(v));
}

void mp_tlv_put_int(mp_tlv_writer *w, mp_tlv_tag tag, int64_t v)
{
    int width = v >= INT8_MIN && v <= INT8_MAX ? 1 : v >= INT16_MIN && v <= INT16_MAX ? 2
                : v >= INT32_MIN && v <= INT32_MAX ? 4 : 8;
    put_head(w, tag, ET_INT1 + width_log2(width));
    put_le(w, (uint64_t)v, width);
}

void mp_tlv_put_bool(mp_tlv_writer *w, mp_tlv_tag tag, int v)
{
    put_head(w, tag, v ? ET_TRUE : ET_FALSE);
}

void mp_tlv_put_float(mp_tlv_writer *w, mp_tlv_tag tag, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    put_head(w, tag, ET_FLOAT);
    put_le(w, bits, 4);
}

void mp_tlv_put_double(mp_tlv_writer *w, mp_tlv_tag tag, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    put_head(w, tag, ET_DOUBLE);
    put_le(w, bits, 8);
}

static void put_string(mp_tlv_writer *w, mp_tlv_tag tag, int base, const void *p, size_t n)
{
    int width = uint_width((uint64_t)n);
    put_head(w, tag, base + width_log2(width));
    put_le(w, (uint64_t)n, width);
    if (w->failed || w->cap - w->len < n) {
        w->failed = 1;
        return;
    }
    if (n > 0) {
        memcpy(w->buf + w->len, p, n);
    }
    w->len += n;
}

void mp_tlv_put_utf8(mp_tlv_writer *w, mp_tlv_tag tag, const char *s, size_t n)
{
    put_string(w, tag, ET_UTF8_1, s, n);
}

void mp_tlv_put_bytes(mp_tlv_writer *w, mp_tlv_tag tag, const uint8_t *p, size_t n)
{
    put_string(w, tag, ET_BYTES_1, p, n);
}

void mp_tlv_put_null(mp_tlv_writer *w, mp_tlv_tag tag)
{
    put_head(w, tag, ET_NULL);
}

void mp_tlv_start(mp_tlv_writer *w, mp_tlv_tag tag, int type)
{
    if (w->depth >= MP_TLV_MAX_DEPTH ||
        (type != MP_TLV_STRUCT && type != MP_TLV_ARRAY && type != MP_TLV_LIST)) {
        w->failed = 1;
        return;
    }
    put_head(w, tag, type == MP_TLV_STRUCT ? ET_STRUCT : type == MP_TLV_ARRAY ? ET_ARRAY : ET_LIST);
    w->stack[w->depth++] = (uint8_t)type;
}

void mp_tlv_end(mp_tlv_writer *w)
{
    if (w->depth == 0) {
        w->failed = 1;
        return;
    }
    w->depth--;
    put_le(w, ET_END, 1);
}

int mp_tlv_finish(const mp_tlv_writer *w, size_t *len)
{
    if (w->failed) {
        return mp_err(MP_ERR_INVALID, "TLV encoding failed: buffer of %zu bytes too small or invalid tag (CHIP_ERROR_BUFFER_TOO_SMALL)", w->cap);
    }
    if (w->depth != 0) {
        return mp_err(MP_ERR_INVALID, "TLV encoding failed: %d container(s) left open", w->depth);
    }
    *len = w->len;
    return MP_OK;
}

/* ---- reader --------------------------------------------------------------- */

void mp_tlv_reader_init(mp_tlv_reader *r, const uint8_t *buf, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->buf = buf;
    r->len = buf != NULL ? len : 0;
}

static int underrun(const mp_tlv_reader *r, const char *what)
{
    return mp_err(MP_ERR_INVALID, "TLV truncated at offset %zu: %s runs past the end of the %zu-byte input (CHIP_ERROR_TLV_UNDERRUN)",
                  r->off, what, r->len);
}

/* Read n (<= 8) little-endian bytes. */
static int get_le(mp_tlv_reader *r, int n, uint64_t *v, const char *what)
{
    if (r->len - r->off < (size_t)n) {
        return underrun(r, what);
    }
    *v = 0;
    for (int i = 0; i < n; i++) {
        *v |= (uint64_t)r->buf[r->off + (size_t)i] << (8 * i);
    }
    r->off += (size_t)n;
    return MP_OK;
}

static int read_tag(mp_tlv_reader *r, int tc, mp_tlv_tag *t)
{
    static const uint8_t forms[] = {MP_TLV_TAG_ANON, MP_TLV_TAG_CONTEXT, MP_TLV_TAG_COMMON,
        MP_TLV_TAG_COMMON, MP_TLV_TAG_IMPLICIT, MP_TLV_TAG_IMPLICIT, MP_TLV_TAG_FULL, MP_TLV_TAG_FULL};
    static const uint8_t nbytes[] = {0, 1, 2, 4, 2, 4, 2, 4};
    uint64_t v = 0;
    int rc;
    memset(t, 0, sizeof(*t));
    t->form = forms[tc];
    t->width = (uint8_t)(nbytes[tc] + (tc >= TC_FULL6 ? 4 : 0));
    if (tc >= TC_FULL6) {
        if ((rc = get_le(r, 2, &v, "tag")) != MP_OK) return rc;
        t->vendor = (uint16_t)v;
        if ((rc = get_le(r, 2, &v, "tag")) != MP_OK) return rc;
        t->profile = (uint16_t)v;
    }
    if (nbytes[tc] > 0 && (rc = get_le(r, nbytes[tc], &v, "tag")) != MP_OK) {
        return rc;
    }
    t->num = (uint32_t)v;
    return MP_OK;
}

static int bad_elem(const mp_tlv_reader *r, size_t at, const char *why, const char *sdk)
{
    (void)r;
    return mp_err(MP_ERR_INVALID, "TLV element at offset %zu: %s (%s)", at, why, sdk);
}

/* Tag rules of the enclosing container (SDK TLVReader::VerifyElement). */
static int check_tag(const mp_tlv_reader *r, const mp_tlv_elem *e)
{
    uint8_t parent = r->depth > 0 ? r->stack[r->depth - 1] : 0;
    int anon = e->tag.form == MP_TLV_TAG_ANON;
    if (e->type == MP_TLV_END) {
        if (r->depth == 0) return bad_elem(r, e->offset, "end of container outside any container", "CHIP_ERROR_INVALID_TLV_ELEMENT");
        if (!anon) return bad_elem(r, e->offset, "end of container with a tag", "CHIP_ERROR_INVALID_TLV_TAG");
    } else if (parent == MP_TLV_STRUCT && anon) {
        return bad_elem(r, e->offset, "anonymous element inside a structure", "CHIP_ERROR_INVALID_TLV_TAG");
    } else if (parent == MP_TLV_ARRAY && !anon) {
        return bad_elem(r, e->offset, "tagged element inside an array", "CHIP_ERROR_INVALID_TLV_TAG");
    } else if (r->depth == 0 && e->tag.form == MP_TLV_TAG_CONTEXT) {
        return bad_elem(r, e->offset, "context tag at top level", "CHIP_ERROR_INVALID_TLV_TAG");
    }
    return MP_OK;
}

static int read_value(mp_tlv_reader *r, int et, mp_tlv_elem *e)
{
    uint64_t v = 0;
    int rc;
    if (et <= 0x07) {
        int width = 1 << (et & 3);
        e->type = et < ET_UINT1 ? MP_TLV_INT : MP_TLV_UINT;
        e->width = (uint8_t)width;
        if ((rc = get_le(r, width, &v, "integer")) != MP_OK) return rc;
        if (e->type == MP_TLV_UINT) {
            e->v.u = v;
        } else {
            uint64_t sign = width < 8 ? (uint64_t)1 << (8 * width - 1) : 0;
            e->v.i = width < 8 && (v & sign) ? (int64_t)(v | ~((sign << 1) - 1)) : (int64_t)v;
        }
    } else if (et == ET_FALSE || et == ET_TRUE) {
        e->type = MP_TLV_BOOL;
        e->v.b = et == ET_TRUE;
    } else if (et == ET_FLOAT) {
        float f;
        uint32_t bits;
        if ((rc = get_le(r, 4, &v, "float")) != MP_OK) return rc;
        bits = (uint32_t)v;
        memcpy(&f, &bits, 4);
        e->type = MP_TLV_FLOAT;
        e->width = 4;
        e->v.d = f;
    } else if (et == ET_DOUBLE) {
        if ((rc = get_le(r, 8, &v, "double")) != MP_OK) return rc;
        e->type = MP_TLV_DOUBLE;
        e->width = 8;
        memcpy(&e->v.d, &v, 8);
    } else if (et >= ET_UTF8_1 && et <= ET_BYTES_1 + 3) {
        int width = 1 << (et & 3);
        e->type = et < ET_BYTES_1 ? MP_TLV_UTF8 : MP_TLV_BYTES;
        e->width = (uint8_t)width;
        if ((rc = get_le(r, width, &v, "string length")) != MP_OK) return rc;
        if (v > r->len - r->off) return underrun(r, "string");
        e->data = r->buf + r->off;
        e->len = (size_t)v;
        r->off += (size_t)v;
    } else if (et == ET_NULL) {
        e->type = MP_TLV_NULL;
    } else if (et >= ET_STRUCT && et <= ET_LIST) {
        e->type = et == ET_STRUCT ? MP_TLV_STRUCT : et == ET_ARRAY ? MP_TLV_ARRAY : MP_TLV_LIST;
    } else if (et == ET_END) {
        e->type = MP_TLV_END;
    } else {
        return bad_elem(r, e->offset, "reserved element type", "CHIP_ERROR_INVALID_TLV_ELEMENT");
    }
    return MP_OK;
}

int mp_tlv_next(mp_tlv_reader *r, mp_tlv_elem *e)
{
    int rc;
    memset(e, 0, sizeof(*e));
    e->offset = r->off;
    e->depth = r->depth;
    if (r->off >= r->len) {
        if (r->depth > 0) {
            return underrun(r, "an open container");
        }
        e->type = MP_TLV_EOF;
        return MP_OK;
    }
    uint8_t ctl = r->buf[r->off++];
    if ((rc = read_tag(r, ctl >> 5, &e->tag)) != MP_OK ||
        (rc = read_value(r, ctl & 0x1F, e)) != MP_OK || (rc = check_tag(r, e)) != MP_OK) {
        return rc;
    }
    if (e->type == MP_TLV_END) {
        r->depth--;
        e->depth = r->depth;
    } else if (e->type == MP_TLV_STRUCT || e->type == MP_TLV_ARRAY || e->type == MP_TLV_LIST) {
        if (r->depth >= MP_TLV_MAX_DEPTH) {
            return bad_elem(r, e->offset, "containers nested too deeply", "CHIP_ERROR_INVALID_TLV_ELEMENT");
        }
        r->stack[r->depth++] = (uint8_t)e->type;
    }
    return MP_OK;
}

int mp_tlv_skip(mp_tlv_reader *r)
{
    int target = r->depth - 1;
    mp_tlv_elem e;
    while (r->depth > target) {
        int rc = mp_tlv_next(r, &e);
        if (rc != MP_OK) {
            return rc;
        }
    }
    return MP_OK;
}

int mp_tlv_check(const uint8_t *buf, size_t len)
{
    mp_tlv_reader r;
    mp_tlv_elem e;
    int rc;
    mp_tlv_reader_init(&r, buf, len);
    if ((rc = mp_tlv_next(&r, &e)) != MP_OK) {
        return rc;
    }
    if (e.type == MP_TLV_EOF) {
        return mp_err(MP_ERR_INVALID, "TLV input is empty (CHIP_END_OF_TLV)");
    }
    if (r.depth > 0 && (rc = mp_tlv_skip(&r)) != MP_OK) {
        return rc;
    }
    if (r.off != len) {
        return mp_err(MP_ERR_INVALID, "TLV: %zu trailing byte(s) after the top-level element at offset %zu", len - r.off, r.off);
    }
    return MP_OK;
}
