/* dump_opts.h - `matter-pki help --dump-options` (see dump_opts.c). */
#ifndef MP_DUMP_OPTS_H
#define MP_DUMP_OPTS_H

/* Print one command's lines: run fn with "--help" while the help printer
 * dumps the option table instead. Returns fn's exit code. */
int mp_dump_command(const char *group, const char *name, const char *summary, int (*fn)(int, char **));

#endif
