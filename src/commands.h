/*
 * commands.h - entry points of every subcommand. Each takes the arguments
 * after its command words and the context the dispatcher gives it (cmd.h:
 * the ledger and token its table row needs) and returns an exit code (err.h); the message of a
 * failure is recorded with mp_err() and printed once by main().
 */
#ifndef MP_COMMANDS_H
#define MP_COMMANDS_H

#include "cmd.h"

int token_init_main(mp_cmd *mc, int argc, char **argv);
int token_list_main(mp_cmd *mc, int argc, char **argv);
int ledger_init_main(mp_cmd *mc, int argc, char **argv);
int cert_lint_main(mp_cmd *mc, int argc, char **argv);
int paa_create_main(mp_cmd *mc, int argc, char **argv);
int paa_sign_pai_main(mp_cmd *mc, int argc, char **argv);
int pai_create_main(mp_cmd *mc, int argc, char **argv);
int pai_csr_main(mp_cmd *mc, int argc, char **argv);
int order_create_main(mp_cmd *mc, int argc, char **argv);
int order_list_main(mp_cmd *mc, int argc, char **argv);
int order_close_main(mp_cmd *mc, int argc, char **argv);
int order_assign_main(mp_cmd *mc, int argc, char **argv);
int station_add_main(mp_cmd *mc, int argc, char **argv);
int station_list_main(mp_cmd *mc, int argc, char **argv);
int station_disable_main(mp_cmd *mc, int argc, char **argv);
int audit_verify_main(mp_cmd *mc, int argc, char **argv);
int audit_init_main(mp_cmd *mc, int argc, char **argv);
int audit_checkpoint_main(mp_cmd *mc, int argc, char **argv);
int audit_export_main(mp_cmd *mc, int argc, char **argv);
int ledger_report_main(mp_cmd *mc, int argc, char **argv);
int ledger_migrate_main(mp_cmd *mc, int argc, char **argv);
int ledger_export_main(mp_cmd *mc, int argc, char **argv);
int dac_issue_main(mp_cmd *mc, int argc, char **argv);
int dac_revoke_main(mp_cmd *mc, int argc, char **argv);
int dac_import_main(mp_cmd *mc, int argc, char **argv);
int dac_export_main(mp_cmd *mc, int argc, char **argv);
int dac_handoff_main(mp_cmd *mc, int argc, char **argv);
int serve_main(mp_cmd *mc, int argc, char **argv);
int est_cacerts_main(mp_cmd *mc, int argc, char **argv);
int est_enroll_main(mp_cmd *mc, int argc, char **argv);
int station_ca_main(mp_cmd *mc, int argc, char **argv);
int station_ca_create_main(mp_cmd *mc, int argc, char **argv);
int station_issue_main(mp_cmd *mc, int argc, char **argv);
int station_revoke_main(mp_cmd *mc, int argc, char **argv);
int station_crl_main(mp_cmd *mc, int argc, char **argv);
int pai_crl_main(mp_cmd *mc, int argc, char **argv);
int pai_revoke_main(mp_cmd *mc, int argc, char **argv);
int paa_crl_main(mp_cmd *mc, int argc, char **argv);
int crl_signer_create_main(mp_cmd *mc, int argc, char **argv);
int revocation_set_main(mp_cmd *mc, int argc, char **argv);
int cd_create_main(mp_cmd *mc, int argc, char **argv);
int cd_create_signer_main(mp_cmd *mc, int argc, char **argv);
int cd_print_main(mp_cmd *mc, int argc, char **argv);
int cd_verify_main(mp_cmd *mc, int argc, char **argv);
int dcl_export_main(mp_cmd *mc, int argc, char **argv);
int onboarding_encode_main(mp_cmd *mc, int argc, char **argv);
int onboarding_decode_main(mp_cmd *mc, int argc, char **argv);
int fd_verifier_main(mp_cmd *mc, int argc, char **argv);
int fd_inspect_main(mp_cmd *mc, int argc, char **argv);
int fd_pack_main(mp_cmd *mc, int argc, char **argv);
int fd_build_main(mp_cmd *mc, int argc, char **argv);
int trust_export_main(mp_cmd *mc, int argc, char **argv);
int verify_attestation_main(mp_cmd *mc, int argc, char **argv);
int testvectors_generate_main(mp_cmd *mc, int argc, char **argv);
int chips_import_main(mp_cmd *mc, int argc, char **argv);
int chips_simulate_main(mp_cmd *mc, int argc, char **argv);

#endif
