/*
 * dump_opts.c - `matter-pki help --dump-options`: every command's option
 * table as tab-separated lines, for the generators of the man pages and the
 * bash completion (scripts/gen-docs.sh). Hidden; the format is:
 *
 *   command TAB group TAB name TAB summary
 *   usage   TAB synopsis
 *   about   TAB text (newlines as \n, backslashes as \\)
 *   option  TAB name TAB type TAB arg TAB help
 *   end
 *
 * type is flag, str, file, out, dir, uint, hex, date or enum (arg then holds
 * the |-separated choices); the help of a required option (OT_REQUIRED) ends
 * in " (required)", as in --help. The command's own --help path produces the
 * lines: its parser is handed "--help" with mp_opt_help_hook set, so the
 * dump comes from the very table the command parses with.
 */
#include "src/dump_opts.h"

#include <stdio.h>

#include "opts.h"

static void put_escaped(const char *s)
{
    for (; s != NULL && *s; s++) {
        if (*s == '\n') fputs("\\n", stdout);
        else if (*s == '\t') fputs("\\t", stdout);
        else if (*s == '\\') fputs("\\\\", stdout);
        else putchar(*s);
    }
}

static const char *type_name(int t)
{
    static const char *const names[] = {
        [OT_FLAG] = "flag", [OT_STR] = "str", [OT_FILE] = "file", [OT_OUT] = "out", [OT_DIR] = "dir",
        [OT_UINT] = "uint", [OT_HEX] = "hex", [OT_DATE] = "date", [OT_ENUM] = "enum",
    };
    return t >= 0 && t < (int)(sizeof(names) / sizeof(names[0])) && names[t] ? names[t] : "str";
}

static void dump_table(const mp_optparse *p)
{
    fputs("usage\t", stdout);
    put_escaped(p->synopsis ? p->synopsis : "[options]");
    fputs("\nabout\t", stdout);
    put_escaped(p->about);
    putchar('\n');
    for (const mp_opt *o = p->opts; o->name != NULL; o++) {
        printf("option\t%s\t%s\t", o->name, type_name(OT_TYPE(o->type)));
        put_escaped(OT_TYPE(o->type) == OT_FLAG ? "" : o->arg ? o->arg : "VALUE");
        putchar('\t');
        put_escaped(o->help);
        fputs((o->type & OT_REQUIRED) ? " (required)\n" : "\n", stdout);
    }
}

int mp_dump_command(const mp_cmd_def *d)
{
    mp_cmd x = {.def = d};
    char help[] = "--help";
    char *argv[] = {help, NULL};
    printf("command\t%s\t%s\t", d->group, d->name ? d->name : "");
    put_escaped(d->summary);
    putchar('\n');
    mp_opt_help_hook = dump_table;
    int rc = d->fn(&x, 1, argv);
    mp_cmd_close(&x); /* --help opens nothing; closes whatever a bug opened */
    mp_opt_help_hook = NULL;
    puts("end");
    return rc;
}
