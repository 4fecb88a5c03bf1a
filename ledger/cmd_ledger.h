/* cmd_ledger.h - what the ledger's read commands share with `order list`
 * and `order close`. */
#ifndef MP_CMD_LEDGER_H
#define MP_CMD_LEDGER_H

#include "ledger.h"

/* Parse [--ledger PATH] [--order ID] and the common options, then open the
 * ledger. OPT_HELP after printing help; *order is NULL when not given. */
int ledger_cmd_open(int argc, char **argv, const char *cmd, const char *syn, const char *about,
                    mp_ledger **l, const char **order);
/* One row of the order table (ctx unused). */
int ledger_print_order(void *ctx, const mp_order *o);

#endif
