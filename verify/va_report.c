/* va_report.c - the verifier's report as text (one line per check) or JSON. */
#include <jansson.h>

#include "verify.h"

static const char *status_word(int s)
{
    return s == VA_PASS ? "PASS" : s == VA_FAIL ? "FAIL" : s == VA_SKIP ? "SKIP" : "----";
}

void mp_va_print_text(const mp_va_report *rep, FILE *f)
{
    for (int i = 0; i < VC_COUNT; i++) {
        const mp_va_check *k = &rep->checks[i];
        if (k->status == VA_FAIL) {
            fprintf(f, "%s  %-22s %d %s: %s\n", status_word(k->status), mp_va_check_name(i), k->code,
                    mp_va_code_name(k->code), k->detail);
        } else {
            fprintf(f, "%s  %-22s %s\n", status_word(k->status), mp_va_check_name(i),
                    k->status == VA_NOT_RUN ? "not run (an earlier check failed)" : k->detail);
        }
    }
    for (int i = 0; i < rep->n_notes; i++) {
        fprintf(f, "note: %s\n", rep->notes[i]);
    }
    fprintf(f, "verdict: %s (%d %s)\n", rep->code == VA_SUCCESS ? "ACCEPTED" : "REJECTED", rep->code,
            mp_va_code_name(rep->code));
}

static const char *status_json(int s)
{
    return s == VA_PASS ? "pass" : s == VA_FAIL ? "fail" : s == VA_SKIP ? "skip" : "not-run";
}

int mp_va_print_json(const mp_va_report *rep, FILE *f)
{
    json_t *checks = json_array(), *notes = json_array();
    for (int i = 0; i < VC_COUNT; i++) {
        const mp_va_check *k = &rep->checks[i];
        json_t *o = json_pack("{s:s, s:s, s:i, s:s}", "name", mp_va_check_name(i), "status", status_json(k->status),
                              "code", k->code, "detail", k->detail);
        if (k->status == VA_FAIL) json_object_set_new(o, "code_name", json_string(mp_va_code_name(k->code)));
        json_array_append_new(checks, o);
    }
    for (int i = 0; i < rep->n_notes; i++) {
        json_array_append_new(notes, json_string(rep->notes[i]));
    }
    json_t *root = json_pack("{s:s, s:i, s:s, s:o, s:o}", "verdict", rep->code == VA_SUCCESS ? "accepted" : "rejected",
                             "code", rep->code, "code_name", mp_va_code_name(rep->code), "checks", checks, "notes", notes);
    int rc = root != NULL && json_dumpf(root, f, JSON_INDENT(2)) == 0 ? MP_OK : mp_err(MP_ERR_GENERAL, "cannot write the JSON report");
    fputc('\n', f);
    json_decref(root);
    return rc;
}
