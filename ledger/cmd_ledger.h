/* cmd_ledger.h - what the ledger's read commands share with `order list`
 * and `order close`. */
#ifndef MP_CMD_LEDGER_H
#define MP_CMD_LEDGER_H

#include "cmd.h"
#include "ledger.h"

/* Parse [--ledger PATH] [--order ID] [--json] and the common options, then
 * let the dispatcher open the ledger the command's row declares
 * (mc->ledger). OPT_HELP after printing help; *order is NULL when not
 * given (order close requires it: its table marks it OT_REQUIRED). */
int ledger_cmd_open_json(mp_cmd *mc, int argc, char **argv, const char *cmd, const char *syn, const char *about,
                         const char **order, int *json);
/* One row of the order table; with ctx (a jansson array) its JSON object
 * (ledger_order_json) is appended instead. */
int ledger_print_order(void *ctx, const mp_order *o);
/* An order as --json prints it (a jansson json_t *). */
void *ledger_order_json(const mp_order *o);

#endif
