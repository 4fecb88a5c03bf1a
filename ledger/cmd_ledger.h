/* cmd_ledger.h - what the ledger's read commands share with `order list`
 * and `order close`. */
#ifndef MP_CMD_LEDGER_H
#define MP_CMD_LEDGER_H

#include "ledger.h"

/* Parse [--ledger PATH] [--order ID] and the common options, then open the
 * ledger. OPT_HELP after printing help; *order is NULL when not given. */
int ledger_cmd_open(int argc, char **argv, const char *cmd, const char *syn, const char *about,
                    mp_ledger **l, const char **order);
/* The same with --json accepted (*json set to 1 when given). */
int ledger_cmd_open_json(int argc, char **argv, const char *cmd, const char *syn, const char *about,
                         mp_ledger **l, const char **order, int *json);
/* One row of the order table; with ctx (a jansson array) its JSON object
 * (ledger_order_json) is appended instead. */
int ledger_print_order(void *ctx, const mp_order *o);
/* An order as --json prints it (a jansson json_t *). */
void *ledger_order_json(const mp_order *o);

#endif
