/* opts.c - see opts.h. */
#include "opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "pin.h"
#include "state.h"
#include "util.h"

const char *mp_opt_shown(const char *val)
{
    static _Thread_local char buf[64];
    size_t n = val != NULL ? strlen(val) : 0;
    if (n > 8) {
        snprintf(buf, sizeof(buf), "'%.2s...' (%zu characters, not shown in full)", val, n);
    } else {
        snprintf(buf, sizeof(buf), "of %zu characters (not shown: it may be a secret)", n);
    }
    return buf;
}

static struct {
    int rc;        /* the deferred error, 0 when none */
    int parsed;    /* a parser started since it was deferred */
    int delivered; /* a parser returned it */
    char msg[1024];
} deferred;

void mp_opt_defer(int rc)
{
    deferred.rc = rc;
    deferred.parsed = deferred.delivered = 0;
    snprintf(deferred.msg, sizeof(deferred.msg), "%s", mp_err_msg());
}

int mp_opt_deferred_end(int r)
{
    int rc = deferred.rc;
    int refused = deferred.parsed && !deferred.delivered && r != MP_OK; /* a usage error came first */
    deferred.rc = 0;
    if (rc == 0 || deferred.delivered || refused) return r;
    return mp_err(rc, "%s", deferred.msg);
}

void mp_opt_init(mp_optparse *p, int argc, char **argv, const mp_opt *opts,
                 const char *cmd, const char *synopsis, const char *about)
{
    deferred.parsed = 1;
    p->argc = argc;
    p->argv = argv;
    p->i = 0;
    p->opts = opts;
    p->cmd = cmd;
    p->synopsis = synopsis;
    p->about = about;
    p->seen = 0;
}

void mp_opt_set_arg(mp_opt *opts, int id, const char *arg)
{
    for (mp_opt *o = opts; o->name != NULL; o++) {
        if (o->id == id) o->arg = arg;
    }
}

/* After the last argument: every OT_REQUIRED option given, else one usage
 * error naming them all ("--a, --b and --c are required"; a repeatable one
 * as "at least one --d"). */
static int check_required(mp_optparse *p)
{
    char list[512];
    size_t n = 0, missing = 0, total = 0;
    for (size_t k = 0; p->opts[k].name != NULL; k++) {
        if ((p->opts[k].type & OT_REQUIRED) && !(k < 64 && (p->seen >> k) & 1)) {
            total++;
        }
    }
    list[0] = 0;
    for (size_t k = 0; p->opts[k].name != NULL && total > 0; k++) {
        if ((p->opts[k].type & OT_REQUIRED) && !(k < 64 && (p->seen >> k) & 1)) {
            missing++;
            n += (size_t)snprintf(list + n, n < sizeof(list) ? sizeof(list) - n : 0, "%s%s--%s",
                                  missing == 1 ? "" : missing == total ? " and " : ", ",
                                  (p->opts[k].type & OT_REPEATABLE) ? "at least one " : "", p->opts[k].name);
        }
    }
    if (total == 0) {
        return 0;
    }
    return -mp_err(MP_ERR_USAGE, "%s: %s %s required", p->cmd, list, total == 1 ? "is" : "are");
}

void (*mp_opt_help_hook)(const mp_optparse *p);

void mp_opt_help(const mp_optparse *p)
{
    if (mp_opt_help_hook != NULL) {
        mp_opt_help_hook(p);
        return;
    }
    printf("usage: matter-pki %s %s\n\n", p->cmd, p->synopsis ? p->synopsis : "[options]");
    if (p->about != NULL) {
        printf("%s\n\n", p->about);
    }
    printf("options:\n");
    for (const mp_opt *o = p->opts; o->name != NULL; o++) {
        char left[160];
        if (OT_TYPE(o->type) == OT_FLAG) {
            snprintf(left, sizeof(left), "--%s", o->name);
        } else if (OT_TYPE(o->type) == OT_ENUM) {
            snprintf(left, sizeof(left), "--%s %s", o->name, o->arg);
        } else {
            snprintf(left, sizeof(left), "--%s %s", o->name, o->arg ? o->arg : "VALUE");
        }
        printf("  %-28s %s%s\n", left, o->help, (o->type & OT_REQUIRED) ? " (required)" : "");
    }
    printf("\nExit codes: see 'matter-pki help exit-codes'.\n");
}

static int check_value(const mp_optparse *p, const mp_opt *o, const char *v)
{
    uint64_t n;
    time_t t;
    struct stat st;
    switch (OT_TYPE(o->type)) {
    case OT_FILE:
        if (stat(v, &st) != 0) {
            return mp_err(MP_ERR_IO, "%s --%s: %s: no such file", p->cmd, o->name, v);
        }
        break;
    case OT_DIR:
        break;
    case OT_UINT:
        if (mp_parse_uint(v, UINT64_MAX, &n) != MP_OK) {
            return mp_err(MP_ERR_USAGE, "%s --%s: '%s' is not a number (decimal, or hex written 0x...)", p->cmd, o->name, v);
        }
        break;
    case OT_HEX:
        if (mp_parse_hex(v, UINT64_MAX, &n) != MP_OK) {
            return mp_err(MP_ERR_USAGE, "%s --%s: '%s' is not a hex number", p->cmd, o->name, v);
        }
        break;
    case OT_DATE:
        if (mp_parse_time(v, &t) != MP_OK) {
            return mp_err_ctx(MP_ERR_USAGE, "%s --%s", p->cmd, o->name);
        }
        break;
    case OT_ENUM: {
        size_t l = strlen(v);
        const char *c = o->arg;
        while (c != NULL && *c) {
            size_t cl = strcspn(c, "|");
            if (cl == l && strncmp(c, v, l) == 0) {
                return MP_OK;
            }
            c += cl + (c[cl] == '|');
        }
        return mp_err(MP_ERR_USAGE, "%s --%s: '%s' is not one of %s", p->cmd, o->name, v, o->arg);
    }
    default:
        break;
    }
    return MP_OK;
}

int mp_opt_next(mp_optparse *p, const char **val)
{
    *val = NULL;
    if (p->i >= p->argc) {
        int r = check_required(p);
        if (r == 0 && deferred.rc != 0 && !deferred.delivered) {
            deferred.delivered = 1;
            return -mp_err(deferred.rc, "%s", deferred.msg);
        }
        return r;
    }
    char *a = p->argv[p->i++];
    if (strncmp(a, "--", 2) != 0 || a[2] == 0) {
        if (strcmp(a, "--") == 0 && p->i < p->argc) {
            a = p->argv[p->i++];
        } else if (a[0] == '-' && a[1] != 0 && strcmp(a, "-h") != 0) {
            return -mp_err(MP_ERR_USAGE, "%s: unknown option %s (see --help)", p->cmd, mp_opt_shown(a));
        } else if (strcmp(a, "-h") == 0) {
            mp_opt_help(p);
            return OPT_HELP;
        }
        *val = a;
        return OPT_POSITIONAL;
    }
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t nl = eq ? (size_t)(eq - name) : strlen(name);
    for (const mp_opt *o = p->opts; o->name != NULL; o++) {
        if (strlen(o->name) != nl || strncmp(o->name, name, nl) != 0) {
            continue;
        }
        if (o->id == OPT_HELP) {
            mp_opt_help(p);
            return OPT_HELP;
        }
        if (o - p->opts < 64) {
            p->seen |= (uint64_t)1 << (o - p->opts);
        }
        if (OT_TYPE(o->type) == OT_FLAG) {
            if (eq != NULL) {
                return -mp_err(MP_ERR_USAGE, "%s: --%s takes no value", p->cmd, o->name);
            }
            return o->id;
        }
        if (eq != NULL) {
            *val = eq + 1;
        } else if (p->i < p->argc) {
            *val = p->argv[p->i++];
        } else {
            return -mp_err(MP_ERR_USAGE, "%s: --%s needs a value (%s)", p->cmd, o->name, o->arg ? o->arg : "VALUE");
        }
        int rc = check_value(p, o, *val);
        if (rc != MP_OK && rc != MP_ERR_USAGE && deferred.rc != 0 && !deferred.delivered) {
            /* a value that is not a usage error (a missing input file): the
             * missing state, found first, is the error */
            deferred.delivered = 1;
            return -mp_err(deferred.rc, "%s", deferred.msg);
        }
        return rc == MP_OK ? o->id : -rc;
    }
    if (strncmp(name, "pin", 3) == 0 && nl == 3) {
        return -mp_err(MP_ERR_USAGE, "%s: PINs are never taken from the command line; use --pin-file or MATTER_PKI_PIN", p->cmd);
    }
    return -mp_err(MP_ERR_USAGE, "%s: unknown option '--%.*s' (see --help)", p->cmd, (int)nl, name);
}

int mp_opt_common(mp_common *c, int id, const char *val)
{
    switch (id) {
    case OPT_MODULE: c->hsm.module = val; return 1;
    case OPT_TOKEN: c->hsm.token = val; return 1;
    case OPT_PIN_FILE: c->hsm.pin_file = val; return 1;
    case OPT_STATE_DIR: c->state_dir = val; return 1;
    case OPT_LEDGER: c->ledger = val; return 1;
    case OPT_OPERATOR: c->operator_name = val; return 1;
    case OPT_FORCE: c->force = 1; return 1;
    case OPT_NO_PROMPT: mp_cli_set_no_prompt(1); return 1;
    case OPT_FORCE_PIN_TRY: c->hsm.force_pin_try = 1; return 1;
    case OPT_QUIET: c->quiet = 1; return 1;
    default: return 0;
    }
}

void mp_common_finish(mp_common *c)
{
    /* --state-dir, else MATTER_PKI_STATE, else the nearest .matter-pki
     * above the current folder; commands that need it and find none fail
     * with MP_ERR_NO_STATE when they open the ledger or write a log. */
    mp_err_hold(); /* a usage error recorded before this call stays the error */
    c->state_found = mp_state_find(c->state_dir, getenv("MATTER_PKI_STATE"), c->state_buf,
                                   sizeof(c->state_buf)) == MP_OK;
    mp_err_release();
    c->state_dir = c->state_buf;
    if (c->operator_name == NULL) {
        const char *u = getenv("USER");
        c->operator_name = u != NULL && *u ? u : "unknown";
    }
    if (c->hsm.module == NULL) {
        const char *m = getenv("MATTER_PKI_MODULE");
        c->hsm.module = m != NULL && *m ? m : NULL;
    }
    if (c->hsm.token == NULL) {
        const char *t = getenv("MATTER_PKI_TOKEN");
        c->hsm.token = t != NULL && *t ? t : NULL;
    }
    c->hsm.state_dir = c->state_dir;
    c->hsm.pin_cb = mp_cli_pin;
    c->hsm.warn = mp_cli_warn;
    c->rec = (mp_ceremony_cfg){c->state_dir, c->operator_name, c->force};
}

uint64_t mp_opt_uint(const char *val)
{
    uint64_t v = 0;
    (void)!mp_parse_uint(val, UINT64_MAX, &v);
    return v;
}

uint64_t mp_opt_hex(const char *val)
{
    uint64_t v = 0;
    (void)!mp_parse_hex(val, UINT64_MAX, &v);
    return v;
}

int mp_json_print(void *obj)
{
    json_t *o = obj;
    char *t = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (t == NULL) return mp_err(MP_ERR_GENERAL, "out of memory building the JSON summary");
    printf("%s\n", t);
    free(t);
    return MP_OK;
}
