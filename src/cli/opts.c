/* opts.c - see opts.h. */
#include "opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pin.h"
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

void mp_opt_init(mp_optparse *p, int argc, char **argv, const mp_opt *opts,
                 const char *cmd, const char *synopsis, const char *about)
{
    p->argc = argc;
    p->argv = argv;
    p->i = 0;
    p->opts = opts;
    p->cmd = cmd;
    p->synopsis = synopsis;
    p->about = about;
}

void mp_opt_help(const mp_optparse *p)
{
    printf("usage: matter-pki %s %s\n\n", p->cmd, p->synopsis ? p->synopsis : "[options]");
    if (p->about != NULL) {
        printf("%s\n\n", p->about);
    }
    printf("options:\n");
    for (const mp_opt *o = p->opts; o->name != NULL; o++) {
        char left[64];
        if (o->type == OT_FLAG) {
            snprintf(left, sizeof(left), "--%s", o->name);
        } else if (o->type == OT_ENUM) {
            snprintf(left, sizeof(left), "--%s %s", o->name, o->arg);
        } else {
            snprintf(left, sizeof(left), "--%s %s", o->name, o->arg ? o->arg : "VALUE");
        }
        printf("  %-28s %s\n", left, o->help);
    }
    printf("\nExit codes: see 'matter-pki help exit-codes'.\n");
}

static int check_value(const mp_optparse *p, const mp_opt *o, const char *v)
{
    uint64_t n;
    time_t t;
    struct stat st;
    switch (o->type) {
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
        return 0;
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
        if (o->type == OT_FLAG) {
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
    if (c->state_dir == NULL) {
        const char *e = getenv("MATTER_PKI_STATE");
        c->state_dir = e != NULL && *e ? e : ".matter-pki";
    }
    if (c->operator_name == NULL) {
        const char *u = getenv("USER");
        c->operator_name = u != NULL && *u ? u : "unknown";
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
