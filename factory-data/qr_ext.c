/* qr_ext.c - see qr_ext.h. */
#include "factory-data/qr_ext.h"

#include <stdio.h>
#include <string.h>

#include "b64.h"
#include "tlv.h"

int mp_qr_ext_encode(const mp_qr_ext *e, uint8_t *out, size_t cap, size_t *len)
{
    mp_tlv_writer w;
    if (e->serial != NULL && (*e->serial == 0 || strlen(e->serial) > 32)) {
        return mp_err(MP_ERR_INVALID, "QR extension: serial number must be 1..32 characters");
    }
    if (e->iterations && (e->iterations < 1000 || e->iterations > 100000)) {
        return mp_err(MP_ERR_INVALID, "QR extension: PBKDF iterations must be 1000..100000");
    }
    if (e->salt != NULL && (e->salt_len < 16 || e->salt_len > 32)) {
        return mp_err(MP_ERR_INVALID, "QR extension: PBKDF salt must be 16..32 bytes");
    }
    if (e->devices > 255 || e->timeout > 65535) {
        return mp_err(MP_ERR_INVALID, "QR extension: number of devices 1..255, commissioning timeout 1..65535 s");
    }
    mp_tlv_writer_init(&w, out, cap);
    mp_tlv_start(&w, MP_TLV_ANON, MP_TLV_STRUCT);
    if (e->serial) mp_tlv_put_utf8(&w, mp_tlv_ctx(0), e->serial, strlen(e->serial));
    if (e->iterations) mp_tlv_put_uint(&w, mp_tlv_ctx(1), e->iterations);
    if (e->salt) mp_tlv_put_bytes(&w, mp_tlv_ctx(2), e->salt, e->salt_len);
    if (e->devices) mp_tlv_put_uint(&w, mp_tlv_ctx(3), e->devices);
    if (e->timeout) mp_tlv_put_uint(&w, mp_tlv_ctx(4), e->timeout);
    for (size_t i = 0; i < e->n_vendor; i++) {
        if (e->vendor[i].tag < 0x80) {
            return mp_err(MP_ERR_INVALID, "QR extension: vendor tags are 0x80..0xFF (got 0x%02X)", e->vendor[i].tag);
        }
        for (size_t j = 0; j < i; j++) {
            if (e->vendor[j].tag == e->vendor[i].tag) {
                return mp_err(MP_ERR_INVALID, "QR extension: vendor tag 0x%02X given twice", e->vendor[i].tag);
            }
        }
        if (e->vendor[i].str) {
            mp_tlv_put_utf8(&w, mp_tlv_ctx(e->vendor[i].tag), e->vendor[i].str, strlen(e->vendor[i].str));
        } else {
            mp_tlv_put_uint(&w, mp_tlv_ctx(e->vendor[i].tag), e->vendor[i].num);
        }
    }
    mp_tlv_end(&w);
    if (mp_tlv_finish(&w, len) != MP_OK) {
        return mp_err(MP_ERR_INVALID, "QR extension: more than %zu bytes", cap);
    }
    return MP_OK;
}

static int common_elem(const mp_tlv_elem *e, json_t *o)
{
    char b64[64];
    switch (e->tag.num) {
    case 0:
        if (e->type == MP_TLV_UTF8) {
            json_object_set_new(o, "serial_number", json_stringn((const char *)e->data, e->len));
        } else if (e->type == MP_TLV_UINT && e->v.u <= 0xFFFFFFFFu) {
            json_object_set_new(o, "serial_number", json_integer((json_int_t)e->v.u));
        } else {
            return mp_err(MP_ERR_INVALID, "QR extension: serial number must be a string or a 32-bit integer");
        }
        return MP_OK;
    case 1:
        if (e->type != MP_TLV_UINT || e->v.u < 1000 || e->v.u > 100000)
            return mp_err(MP_ERR_INVALID, "QR extension: PBKDF iterations must be an integer 1000..100000");
        json_object_set_new(o, "pbkdf_iterations", json_integer((json_int_t)e->v.u));
        return MP_OK;
    case 2:
        if (e->type != MP_TLV_BYTES || e->len < 16 || e->len > 32)
            return mp_err(MP_ERR_INVALID, "QR extension: PBKDF salt must be 16..32 bytes");
        mp_b64_encode(e->data, e->len, b64, sizeof(b64));
        json_object_set_new(o, "pbkdf_salt", json_string(b64));
        return MP_OK;
    case 3:
        if (e->type != MP_TLV_UINT || e->v.u < 1 || e->v.u > 255)
            return mp_err(MP_ERR_INVALID, "QR extension: number of devices must be 1..255");
        json_object_set_new(o, "number_of_devices", json_integer((json_int_t)e->v.u));
        return MP_OK;
    case 4:
        if (e->type != MP_TLV_UINT || e->v.u < 1 || e->v.u > 65535)
            return mp_err(MP_ERR_INVALID, "QR extension: commissioning timeout must be 1..65535");
        json_object_set_new(o, "commissioning_timeout", json_integer((json_int_t)e->v.u));
        return MP_OK;
    default:
        return mp_err(MP_ERR_INVALID, "QR extension: unknown common tag %u (common tags are 0..4)", (unsigned)e->tag.num);
    }
}

int mp_qr_ext_decode(const uint8_t *tlv, size_t len, json_t **out)
{
    mp_tlv_reader r;
    mp_tlv_elem e;
    json_t *o = json_object(), *vendor = json_object();
    int rc;
    mp_tlv_reader_init(&r, tlv, len);
    if ((rc = mp_tlv_next(&r, &e)) != MP_OK || e.type != MP_TLV_STRUCT || e.tag.form != MP_TLV_TAG_ANON) {
        rc = rc != MP_OK ? rc : mp_err(MP_ERR_INVALID, "QR extension: not an anonymous TLV structure");
        goto fail;
    }
    while ((rc = mp_tlv_next(&r, &e)) == MP_OK && e.type != MP_TLV_END) {
        char key[8];
        if (e.tag.form != MP_TLV_TAG_CONTEXT) {
            rc = mp_err(MP_ERR_INVALID, "QR extension: elements must have context tags");
            goto fail;
        }
        if (e.tag.num < 0x80) {
            if ((rc = common_elem(&e, o)) != MP_OK) goto fail;
            continue;
        }
        snprintf(key, sizeof(key), "0x%02X", (unsigned)e.tag.num);
        if (e.type == MP_TLV_UTF8) {
            json_object_set_new(vendor, key, json_stringn((const char *)e.data, e.len));
        } else if (e.type == MP_TLV_UINT || e.type == MP_TLV_INT) {
            json_object_set_new(vendor, key, json_integer(e.type == MP_TLV_UINT ? (json_int_t)e.v.u : (json_int_t)e.v.i));
        } else {
            rc = mp_err(MP_ERR_INVALID, "QR extension: vendor tag %s must be a string or an integer", key);
            goto fail;
        }
    }
    if (rc != MP_OK) goto fail;
    if (mp_tlv_next(&r, &e) != MP_OK || e.type != MP_TLV_EOF) {
        rc = mp_err(MP_ERR_INVALID, "QR extension: bytes after the structure");
        goto fail;
    }
    if (json_object_size(vendor) > 0) {
        json_object_set(o, "vendor_tags", vendor);
    }
    json_decref(vendor);
    *out = o;
    return MP_OK;
fail:
    json_decref(vendor);
    json_decref(o);
    return rc;
}
