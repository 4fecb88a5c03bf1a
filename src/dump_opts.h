/* dump_opts.h - `matter-pki help --dump-options` (see dump_opts.c). */
#ifndef MP_DUMP_OPTS_H
#define MP_DUMP_OPTS_H

#include "cmd.h"

/* Print one command's lines: run its function with "--help" while the help
 * printer dumps the option table instead. Returns the function's exit code. */
int mp_dump_command(const mp_cmd_def *d);

#endif
