/* dcl_all.c - the `dcl export` driver: one record to a file or standard
 * output, or `dcl export all --out-dir DIR` (see dcl_export.h). It uses the
 * records of dcl_export.c, which does not call back into this file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcl_export.h"
#include "dcl_json.h"
#include "util.h"

#define MAX_REC 9 /* 8 records + the index */

typedef struct batch {
    const char *name[MAX_REC];
    json_t *doc[MAX_REC];
    int n;
    json_t *skipped; /* name -> reason */
} batch;

static int has_rp_section(const dcl_inputs *in, const char *kind)
{
    json_t *sec = NULL;
    return dcl_section(&in->prod, "revocation_points", &sec) == MP_OK && json_object_get(sec, kind) != NULL;
}

/* Why a record does not apply, or NULL when it does. */
static const char *skip_reason(const dcl_inputs *in, int kind, int rp_paa)
{
    json_t *sec = NULL;
    switch (kind) {
    case DK_MV: return in->has_cd ? NULL : "no --cd given";
    case DK_COMPLIANCE:
        if (!in->has_cd) return "no --cd given";
        return dcl_section(&in->prod, "compliance", &sec) == MP_OK && sec ? NULL : "no dcl.compliance section in the product file";
    case DK_PAA: return in->paa ? NULL : "no --paa-cert given";
    case DK_PAI: return in->pai ? NULL : "no --pai-cert given";
    case DK_RP:
        if (!(rp_paa ? in->paa : in->pai)) return rp_paa ? "no --paa-cert given" : "no --pai-cert given";
        return has_rp_section(in, rp_paa ? "paa" : "pai") ? NULL : "no dcl.revocation_points entry for it";
    default: return NULL;
    }
}

static int build(const dcl_args *a, const dcl_ctx *c, const dcl_inputs *in, batch *b)
{
    static const struct { int kind, rp_paa; const char *name; } plan[] = {
        {DK_VENDOR, 0, "vendor-info"}, {DK_MODEL, 0, "model"}, {DK_MV, 0, "model-version"},
        {DK_PAI, 0, "pai"}, {DK_RP, 1, "revocation-point-paa"}, {DK_RP, 0, "revocation-point-pai"},
        {DK_PAA, 0, "paa"}, {DK_COMPLIANCE, 0, "compliance"},
    };
    for (size_t i = 0; i < sizeof(plan) / sizeof(plan[0]); i++) {
        const char *why = skip_reason(in, plan[i].kind, plan[i].rp_paa);
        if (why != NULL) {
            json_object_set_new(b->skipped, plan[i].name, json_string(why));
            continue;
        }
        int rc = dcl_record(c, a, in, plan[i].kind, plan[i].rp_paa, &b->doc[b->n]);
        if (rc != MP_OK) return mp_err_ctx(rc, "%s", plan[i].name);
        b->name[b->n++] = plan[i].name;
    }
    return MP_OK;
}

static json_t *index_doc(const dcl_args *a, const batch *b)
{
    json_t *recs = json_object();
    for (int i = 0; i < b->n; i++) {
        json_object_set_new(recs, b->name[i], json_sprintf("%s.json", b->name[i]));
    }
    return json_pack("{s:s,s:s,s:s,s:o,s:O}", "dclVersion", dcl_version_name(a->ver),
                     "signer", a->from ? a->from : "",
                     "signing", "sign the vendor transactions in the order listed, with consecutive sequence numbers; paa and compliance are hand-offs for CSA",
                     "records", recs, "skipped", b->skipped);
}

static void path_of(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s.json", dir, name);
}

static int write_all(const dcl_args *a, batch *b, json_t *index)
{
    char path[4096];
    int rc = MP_OK, i, written = 0;
    b->name[b->n] = "index";
    b->doc[b->n] = index;
    for (i = 0; i <= b->n && rc == MP_OK; i++) {
        path_of(path, sizeof(path), a->out_dir, b->name[i]);
        rc = mp_check_output(path, a->force);
    }
    for (i = 0; i <= b->n && rc == MP_OK; i++) {
        path_of(path, sizeof(path), a->out_dir, b->name[i]);
        rc = dcl_json_write(path, b->doc[i], a->force);
        written += rc == MP_OK;
    }
    if (rc != MP_OK && !a->force) {
        for (int j = 0; j < written; j++) { /* nothing half-written: remove this run's files */
            path_of(path, sizeof(path), a->out_dir, b->name[j]);
            unlink(path);
        }
    }
    b->doc[b->n] = NULL;
    return rc;
}

int dcl_export_all(const dcl_args *a, const dcl_ctx *c, const dcl_inputs *in)
{
    batch b = {.skipped = json_object()};
    json_t *index = NULL;
    if (a->out_dir == NULL) {
        return mp_err(MP_ERR_USAGE, "dcl export all: --out-dir DIR is required");
    }
    int rc = build(a, c, in, &b);
    if (rc == MP_OK && (rc = mp_mkdir_p(a->out_dir, 0755)) == MP_OK) {
        index = index_doc(a, &b);
        rc = write_all(a, &b, index);
    }
    if (rc == MP_OK) {
        for (int i = 0; i < b.n; i++) {
            printf("%s: %s/%s.json\n", b.name[i], a->out_dir, b.name[i]);
        }
        const char *k;
        json_t *v;
        json_object_foreach(b.skipped, k, v) printf("%s: skipped (%s)\n", k, json_string_value(v));
        if (a->from == NULL) fprintf(stderr, "note: creator/signer fields are empty; fill them (or re-export with --from ADDRESS) before `dcld tx sign`\n");
    }
    for (int i = 0; i < b.n; i++) json_decref(b.doc[i]);
    json_decref(index);
    json_decref(b.skipped);
    return rc;
}

/* ---- the driver: one KIND, or all of them ---------------------------------- */

static void signer_note(const dcl_args *a, int kind)
{
    if (a->from != NULL) return;
    const char *who = kind == DK_PAA ? "the Trustee who proposes it" : kind == DK_COMPLIANCE
                    ? "the certification center" : "the vendor account (or re-export with --from ADDRESS)";
    fprintf(stderr, "note: %s: the creator/signer field is empty; %s must fill it before `dcld tx sign`\n",
            dcl_kind_name(kind), who);
}

static int export_one(const dcl_args *a, const dcl_ctx *c, const dcl_inputs *in)
{
    json_t *doc = NULL;
    char *s = NULL;
    size_t n = 0;
    int rc = dcl_record(c, a, in, a->kind, in->paa != NULL, &doc);
    if (rc == MP_OK && a->out != NULL) {
        rc = dcl_json_write(a->out, doc, a->force);
    } else if (rc == MP_OK && (rc = dcl_json_dump(doc, &s, &n)) == MP_OK &&
               (fwrite(s, 1, n, stdout) != n || fflush(stdout) != 0)) {
        rc = mp_err(MP_ERR_IO, "cannot write to standard output");
    }
    if (rc == MP_OK) signer_note(a, a->kind);
    free(s);
    json_decref(doc);
    return rc;
}

int dcl_export(const dcl_args *a)
{
    dcl_inputs in;
    int rc = dcl_inputs_load(a, &in);
    dcl_ctx c = {.ver = a->ver, .from = a->from, .prod = &in.prod, .test_mode = a->test_mode};
    if (rc == MP_OK) {
        rc = a->kind == DK_ALL ? dcl_export_all(a, &c, &in) : a->kind == DK_CHANGES ? dcl_export_changes(a, &c, &in)
                                                                                 : export_one(a, &c, &in);
    }
    dcl_inputs_free(&in);
    return rc;
}
