/* dcl_build.c - see dcl_build.h. */
#include "dcl_build.h"

#include <stdio.h>
#include <string.h>

#include "product.h"

static const char *const sections[] = {"vendor", "model", "model_version", "compliance",
                                       "revocation_points", "comment", NULL};

int dcl_section(const mp_product *p, const char *name, json_t **obj)
{
    char where[512];
    json_t *dcl = json_object_get(p->json, "dcl");
    *obj = NULL;
    if (dcl == NULL) {
        return MP_OK;
    }
    snprintf(where, sizeof(where), "%s: dcl", p->path);
    if (!json_is_object(dcl)) {
        return mp_err(MP_ERR_INVALID, "%s: must be an object", where);
    }
    int rc = mp_json_known(where, dcl, sections);
    if (rc != MP_OK) return rc;
    *obj = json_object_get(dcl, name);
    if (*obj != NULL && !json_is_object(*obj)) {
        return mp_err(MP_ERR_INVALID, "%s.%s: must be an object", where, name);
    }
    return MP_OK;
}

int dcl_rec_init(dcl_rec *r, const dcl_ctx *c, const dcl_schema *s, const char *section)
{
    memset(r, 0, sizeof(*r));
    r->c = c;
    r->s = s;
    snprintf(r->where, sizeof(r->where), "%s: dcl.%s", c->prod->path, section ? section : "");
    int rc = section ? dcl_section(c->prod, section, &r->sec) : MP_OK;
    if (rc != MP_OK) return rc;
    r->msg = dcl_msg_new(s, c->ver);
    r->src = json_object();
    return r->msg && r->src ? MP_OK : mp_err(MP_ERR_GENERAL, "out of memory");
}

void dcl_rec_free(dcl_rec *r)
{
    json_decref(r->msg);
    json_decref(r->src);
    r->msg = r->src = NULL;
}

void dcl_rec_set(dcl_rec *r, const char *field, json_t *v, const char *src)
{
    json_object_set_new(r->msg, field, v ? v : json_null());
    if (src != NULL) {
        json_object_set_new(r->src, field, json_string(src));
    }
}

void dcl_rec_set_str(dcl_rec *r, const char *field, const char *v, const char *src)
{
    /* json_string() refuses invalid UTF-8: keep the bytes so that the
     * validator reports the field instead of a null. */
    json_t *j = json_string(v);
    dcl_rec_set(r, field, j ? j : json_stringn_nocheck(v, strlen(v)), src);
}

void dcl_rec_set_int(dcl_rec *r, const char *field, long long v, const char *src)
{
    dcl_rec_set(r, field, json_integer(v), src);
}

const char *dcl_rec_common(dcl_rec *r, const char *key)
{
    static char buf[4][400];
    static int i;
    char *b = buf[i++ % 4];
    snprintf(b, 400, "%s: %s", r->c->prod->path, key);
    return b;
}

static const char *key_src(dcl_rec *r, const char *key)
{
    static char buf[4][600];
    static int i;
    char *b = buf[i++ % 4];
    snprintf(b, 600, "%s.%s", r->where, key);
    return b;
}

int dcl_rec_str(dcl_rec *r, const char *key, const char *field)
{
    const char *v = NULL;
    int rc = mp_json_str(r->where, r->sec, key, 0, 1 << 20, 0, &v);
    if (rc == MP_OK && v != NULL) {
        dcl_rec_set_str(r, field, v, key_src(r, key));
    }
    return rc;
}

int dcl_rec_uint(dcl_rec *r, const char *key, const char *field)
{
    uint64_t v = UINT64_MAX;
    int rc = mp_json_uint(r->where, r->sec, key, 0, 0xFFFFFFFFu, 0, &v);
    if (rc == MP_OK && v != UINT64_MAX) {
        dcl_rec_set_int(r, field, (long long)v, key_src(r, key));
    }
    return rc;
}

int dcl_rec_bool(dcl_rec *r, const char *key, const char *field)
{
    json_t *v = json_object_get(r->sec, key);
    if (v == NULL) return MP_OK;
    if (!json_is_boolean(v)) {
        return mp_err(MP_ERR_INVALID, "%s: field '%s' must be true or false", r->where, key);
    }
    dcl_rec_set(r, field, json_boolean(json_is_true(v)), key_src(r, key));
    return MP_OK;
}

int dcl_rec_known(dcl_rec *r, const char *const *keys)
{
    return r->sec ? mp_json_known(r->where, r->sec, keys) : MP_OK;
}

int dcl_rec_finish(dcl_rec *r, json_t **msg)
{
    const char *who = r->s->fields[0].name; /* "creator" or "signer" */
    if (r->c->from != NULL) {
        dcl_rec_set_str(r, who, r->c->from, "--from");
    }
    int rc = dcl_validate(r->s, r->msg, r->c->ver, r->src);
    if (rc == MP_OK) {
        *msg = r->msg;
        r->msg = NULL;
    }
    dcl_rec_free(r);
    return rc;
}
