/*
 * main.c - the matter-pki binary: one table of subcommands, dispatch, and
 * the single place where errors are printed and exit codes returned.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>

#include "commands.h"
#include "dump_opts.h"
#include "err.h"
#include "pin.h"
#include "product.h"
#include "state.h"

/* The command table: a row's needs flags (cmd.h) say what the dispatcher
 * checks and opens for the command (token init makes the state; commands
 * with no flags need nothing). */
typedef mp_cmd_def command;

static const command commands[] = {
    {"token", "init", token_init_main, "create a SoftHSM development token in the state directory", NEEDS_NOTHING},
    {"token", "list", token_list_main, "list the objects on the token (labels, IDs, key attributes)", NEEDS_STATE | NEEDS_TOKEN},
    {"paa", "create", paa_create_main, "generate a PAA key in the token and self-sign the PAA certificate", NEEDS_STATE | NEEDS_TOKEN},
    {"paa", "sign-pai", paa_sign_pai_main, "sign a PAI certificate from a PAI CSR with the PAA key", NEEDS_STATE | NEEDS_TOKEN},
    {"pai", "create", pai_create_main, "generate a PAI key in the token and sign its certificate with the PAA key", NEEDS_STATE | NEEDS_TOKEN},
    {"pai", "csr", pai_csr_main, "generate a PAI key in the token and write a CSR for a PAA held elsewhere", NEEDS_STATE | NEEDS_TOKEN},
    {"pai", "crl", pai_crl_main, "sign a CRL of the PAI's revoked DACs (PAI key or delegated signer), or --check one", NEEDS_STATE | NEEDS_LEDGER | NEEDS_TOKEN},
    {"pai", "revoke", pai_revoke_main, "record the revocation of a PAI under its PAA", NEEDS_LEDGER},
    {"paa", "crl", paa_crl_main, "sign a CRL of the PAA's revoked PAIs (PAA key or delegated signer), or --check one", NEEDS_LATE | NEEDS_LEDGER | NEEDS_TOKEN},
    {"crl-signer", "create", crl_signer_create_main, "make a delegated CRL signer (key in the token) certified by a PAA or PAI", NEEDS_STATE | NEEDS_TOKEN},
    {"revocation-set", NULL, revocation_set_main, "write the revocation-set JSON chip-tool reads (--dac-revocation-set-path)", NEEDS_LATE | NEEDS_LEDGER},
    {"order", "create", order_create_main, "create a production order (VID, PID, PAI, quota) and print its ID", NEEDS_LEDGER | NEEDS_TOKEN},
    {"order", "list", order_list_main, "list production orders", NEEDS_LEDGER_RO},
    {"order", "close", order_close_main, "close a production order", NEEDS_LEDGER},
    {"order", "assign", order_assign_main, "give a station a sub-quota of an order", NEEDS_LEDGER},
    {"station", "add", station_add_main, "register a factory station", NEEDS_LEDGER},
    {"station", "list", station_list_main, "list stations, their state and DAC counts", NEEDS_LEDGER},
    {"station", "disable", station_disable_main, "stop a station from issuing", NEEDS_LEDGER},
    {"audit", "init", audit_init_main, "make the audit key in the token and sign the first checkpoint", NEEDS_STATE | NEEDS_LEDGER | NEEDS_TOKEN},
    {"audit", "checkpoint", audit_checkpoint_main, "sign the audit trail's head with the audit key", NEEDS_STATE | NEEDS_LEDGER | NEEDS_TOKEN},
    {"audit", "verify", audit_verify_main, "check the audit chain, its signed checkpoints and the ceremony log (exit 25)", NEEDS_LEDGER},
    {"audit", "export", audit_export_main, "write the audit trail as JSON lines", NEEDS_LEDGER},
    {"dac", "issue", dac_issue_main, "issue DACs to authorized devices (batch, CSR, or off-chip keys)", NEEDS_LEDGER | NEEDS_TOKEN},
    {"dac", "revoke", dac_revoke_main, "record the revocation of a DAC", NEEDS_LEDGER},
    {"dac", "import", dac_import_main, "record DACs issued by another PKI (verified chains) in the ledger", NEEDS_LEDGER},
    {"dac", "export", dac_export_main, "write an order's DACs in a vendor layout (infineon: <UDID>_E0E0.pem)", NEEDS_LEDGER_RO},
    {"dac", "handoff", dac_handoff_main, "write revocations of another PKI's DACs for the PAI's owner", NEEDS_LEDGER_RO},
    {"serve", NULL, serve_main, "issue DACs to factory stations over EST (HTTPS, station client certificates)", NEEDS_STATE | NEEDS_LEDGER | NEEDS_TOKEN},
    {"est", "cacerts", est_cacerts_main, "EST client: fetch an order's PAI and PAA from a matter-pki server", NEEDS_TOKEN},
    {"est", "enroll", est_enroll_main, "EST client: send device CSRs to a matter-pki server, write the DACs", NEEDS_TOKEN},
    {"station", "ca", station_ca_main, "'station ca create': make the station CA key in the token and its certificate", NEEDS_STATE | NEEDS_TOKEN},
    {"station", "issue", station_issue_main, "sign a factory station's TLS client certificate with the station CA", NEEDS_STATE | NEEDS_LEDGER | NEEDS_TOKEN},
    {"station", "revoke", station_revoke_main, "revoke every certificate of a station", NEEDS_LEDGER},
    {"station", "crl", station_crl_main, "sign the CRL of revoked station certificates", NEEDS_STATE | NEEDS_LEDGER | NEEDS_TOKEN},
    {"ledger", "init", ledger_init_main, "start a new, empty ledger bound to this PKI (never over an existing one)", NEEDS_STATE},
    {"ledger", "report", ledger_report_main, "counts per device state and per order", NEEDS_LEDGER_RO},
    {"ledger", "export", ledger_export_main, "export every issued certificate (csv or jsonl)", NEEDS_LEDGER_RO},
    {"ledger", "migrate", ledger_migrate_main, "copy the ledger into an empty PostgreSQL ledger and verify the copy", NEEDS_LEDGER},
    {"cert", "lint", cert_lint_main, "check a certificate against the Matter PAA/PAI/DAC profile", NEEDS_NOTHING},
    {"cd", "create", cd_create_main, "encode and sign a Certification Declaration (key in the token)", NEEDS_TOKEN},
    {"cd", "create-signer", cd_create_signer_main, "generate a CD signing key in the token and a development certificate", NEEDS_STATE | NEEDS_TOKEN},
    {"cd", "print", cd_print_main, "print the fields of a Certification Declaration", NEEDS_NOTHING},
    {"cd", "verify", cd_verify_main, "check a CD's envelope, signature and fields strictly", NEEDS_NOTHING},
    {"dcl", "export", dcl_export_main, "write DCL records (vendor, model, versions, PKI, compliance) as unsigned dcld transactions", NEEDS_LATE | NEEDS_LEDGER},
    {"onboarding", "encode", onboarding_encode_main, "QR code text and manual pairing code of an onboarding payload", NEEDS_NOTHING},
    {"onboarding", "decode", onboarding_decode_main, "print every field of a QR code text or manual pairing code", NEEDS_NOTHING},
    {"factory-data", "verifier", fd_verifier_main, "SPAKE2+ verifier (base64) of a passcode, salt and iteration count", NEEDS_NOTHING},
    {"factory-data", "inspect", fd_inspect_main, "decode a factory-data image (nrf, esp32, nxp, json) and check it", NEEDS_NOTHING},
    {"factory-data", "build", fd_build_main, "build the factory-data partitions of every issued device of an order", NEEDS_LEDGER},
    {"factory-data", "pack", fd_pack_main, "render one device's factory-data JSON as a platform image", NEEDS_NOTHING},
    {"trust", "export", trust_export_main, "write our PAA(s) and CD signer in the trust-folder layout of chip-tool, matter-server or the test harness", NEEDS_NOTHING},
    {"verify", "attestation", verify_attestation_main, "judge a DAC chain and CD as a Matter commissioner does (SDK result codes)", NEEDS_NOTHING},
    {"testvectors", "generate", testvectors_generate_main, "generate commissioner certification test vectors (--dac_provider JSON)", NEEDS_TOKEN},
    {"chips", "import", chips_import_main, "import a signed chip list (CSV, JSON or birth certificates) into the ledger", NEEDS_LEDGER},
    {"chips", "simulate", chips_simulate_main, "SIMULATOR: play the chip maker (device keys, signed chip lists) for demos/tests", NEEDS_NOTHING},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: matter-pki COMMAND [SUBCOMMAND] [options]\n\n"
               "Matter device-attestation PKI: PAA -> PAI -> DAC in an HSM.\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char name[48];
        snprintf(name, sizeof(name), "%s %s", commands[i].group, commands[i].name ? commands[i].name : "");
        fprintf(f, "  %-22s %s\n", name, commands[i].summary);
    }
    fprintf(f, "\n'matter-pki COMMAND SUBCOMMAND --help' shows a command's options;\n"
               "'matter-pki help exit-codes' lists the exit codes.\n");
}

/* Hidden: every command's option table, for scripts/gen-docs.sh. */
static int dump_options(void)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const command *c = &commands[i];
        if (mp_dump_command(c) != MP_OK) {
            fprintf(stderr, "matter-pki: %s %s: --help failed\n", c->group, c->name ? c->name : "");
            return MP_ERR_GENERAL;
        }
    }
    return MP_OK;
}

static void exit_codes(void)
{
    printf("exit codes:\n");
    for (int rc = 0; rc <= MP_ERR_LAST; rc++) {
        printf("  %2d  %s\n", rc, mp_rc_name(rc));
    }
}

int main(int argc, char **argv)
{
    mp_cli_startup(); /* before anything else: PINs out of the environment */
    umask(077);
    while (argc > 1 && strcmp(argv[1], "--no-prompt") == 0) {
        mp_cli_set_no_prompt(1);
        argv[1] = argv[0];
        argv++;
        argc--;
    }
    /* product.json: core validates the common fields, the stages their sections */
    mp_product_section_check("cd", mp_cd_section_check);
    mp_product_section_check("dcl", mp_dcl_section_check);
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        if (argc >= 3 && strcmp(argv[2], "exit-codes") == 0) {
            exit_codes();
            return MP_OK;
        }
        if (argc >= 3 && strcmp(argv[2], "--dump-options") == 0) {
            return dump_options();
        }
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? MP_ERR_USAGE : MP_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("matter-pki %s\n", MP_VERSION);
        return MP_OK;
    }
    int group_known = 0;
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const command *c = &commands[i];
        if (strcmp(argv[1], c->group) != 0) {
            continue;
        }
        group_known = 1;
        int words = c->name ? 2 : 1;
        if (c->name != NULL && (argc < 3 || strcmp(argv[2], c->name) != 0)) {
            continue;
        }
        mp_err_clear();
        int rc = mp_cmd_run(c, argc - 1 - words, argv + 1 + words);
        if (rc != MP_OK) {
            fprintf(stderr, "matter-pki %s%s%s: error: %s\n", c->group, c->name ? " " : "",
                    c->name ? c->name : "", mp_err_msg());
        }
        ERR_clear_error();
        return rc;
    }
    if (group_known) {
        fprintf(stderr, "matter-pki: '%s %s' is not a command; '%s' has:", argv[1],
                argc > 2 ? argv[2] : "", argv[1]);
        for (size_t i = 0; i < NCOMMANDS; i++) {
            if (strcmp(argv[1], commands[i].group) == 0) {
                fprintf(stderr, " %s", commands[i].name);
            }
        }
        fprintf(stderr, "\n");
    } else {
        fprintf(stderr, "matter-pki: unknown command '%s' (see 'matter-pki help')\n", argv[1]);
    }
    return MP_ERR_USAGE;
}
