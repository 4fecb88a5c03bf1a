/*
 * main.c - the matter-pki binary: one table of subcommands, dispatch, and
 * the single place where errors are printed and exit codes returned.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>

#include "commands.h"
#include "err.h"
#include "pin.h"
#include "product.h"

typedef struct command {
    const char *group;
    const char *name; /* NULL for one-word commands */
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"token", "init", token_init_main, "create a SoftHSM development token in the state directory"},
    {"paa", "create", paa_create_main, "generate a PAA key in the token and self-sign the PAA certificate"},
    {"paa", "sign-pai", paa_sign_pai_main, "sign a PAI certificate from a PAI CSR with the PAA key"},
    {"pai", "create", pai_create_main, "generate a PAI key in the token and sign its certificate with the PAA key"},
    {"pai", "csr", pai_csr_main, "generate a PAI key in the token and write a CSR for a PAA held elsewhere"},
    {"pai", "crl", pai_crl_main, "sign a CRL of the PAI's revoked DACs (PAI key or delegated signer), or --check one"},
    {"pai", "revoke", pai_revoke_main, "record the revocation of a PAI under its PAA"},
    {"paa", "crl", paa_crl_main, "sign a CRL of the PAA's revoked PAIs (PAA key or delegated signer), or --check one"},
    {"crl-signer", "create", crl_signer_create_main, "make a delegated CRL signer (key in the token) certified by a PAA or PAI"},
    {"revocation-set", NULL, revocation_set_main, "write the revocation-set JSON chip-tool reads (--dac-revocation-set-path)"},
    {"order", "create", order_create_main, "create a production order (VID, PID, PAI, quota) and print its ID"},
    {"order", "list", order_list_main, "list production orders"},
    {"order", "close", order_close_main, "close a production order"},
    {"dac", "issue", dac_issue_main, "issue DACs to authorized devices (batch, CSR, or off-chip keys)"},
    {"dac", "revoke", dac_revoke_main, "record the revocation of a DAC"},
    {"dac", "import", dac_import_main, "record DACs issued by another PKI (verified chains) in the ledger"},
    {"dac", "export", dac_export_main, "write an order's DACs in a vendor layout (infineon: <UDID>_E0E0.pem)"},
    {"dac", "handoff", dac_handoff_main, "write revocations of another PKI's DACs for the PAI's owner"},
    {"serve", NULL, serve_main, "issue DACs to factory stations over EST (HTTPS, station client certificates)"},
    {"est", "cacerts", est_cacerts_main, "EST client: fetch an order's PAI and PAA from a matter-pki server"},
    {"est", "enroll", est_enroll_main, "EST client: send device CSRs to a matter-pki server, write the DACs"},
    {"station", "ca", station_ca_main, "'station ca create': make the station CA key in the token and its certificate"},
    {"station", "issue", station_issue_main, "sign a factory station's TLS client certificate with the station CA"},
    {"station", "revoke", station_revoke_main, "revoke every certificate of a station"},
    {"station", "crl", station_crl_main, "sign the CRL of revoked station certificates"},
    {"ledger", "report", ledger_report_main, "counts per device state and per order"},
    {"ledger", "export", ledger_export_main, "export every issued certificate (csv or jsonl)"},
    {"cert", "lint", cert_lint_main, "check a certificate against the Matter PAA/PAI/DAC profile"},
    {"cd", "create", cd_create_main, "encode and sign a Certification Declaration (key in the token)"},
    {"cd", "create-signer", cd_create_signer_main, "generate a CD signing key in the token and a development certificate"},
    {"cd", "print", cd_print_main, "print the fields of a Certification Declaration"},
    {"cd", "verify", cd_verify_main, "check a CD's envelope, signature and fields strictly"},
    {"dcl", "export", dcl_export_main, "write DCL records (vendor, model, versions, PKI, compliance) as unsigned dcld transactions"},
    {"onboarding", "encode", onboarding_encode_main, "QR code text and manual pairing code of an onboarding payload"},
    {"onboarding", "decode", onboarding_decode_main, "print every field of a QR code text or manual pairing code"},
    {"factory-data", "verifier", fd_verifier_main, "SPAKE2+ verifier (base64) of a passcode, salt and iteration count"},
    {"factory-data", "inspect", fd_inspect_main, "decode a factory-data image (nrf, esp32, nxp, json) and check it"},
    {"factory-data", "build", fd_build_main, "build the factory-data partitions of every issued device of an order"},
    {"factory-data", "pack", fd_pack_main, "render one device's factory-data JSON as a platform image"},
    {"trust", "export", trust_export_main, "write our PAA(s) and CD signer in the trust-folder layout of chip-tool, matter-server or the test harness"},
    {"verify", "attestation", verify_attestation_main, "judge a DAC chain and CD as a Matter commissioner does (SDK result codes)"},
    {"testvectors", "generate", testvectors_generate_main, "generate commissioner certification test vectors (--dac_provider JSON)"},
    {"chips", "import", chips_import_main, "import a signed chip list (CSV, JSON or birth certificates) into the ledger"},
    {"chips", "simulate", chips_simulate_main, "SIMULATOR: play the chip maker (device keys, signed chip lists) for demos/tests"},
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
        int rc = c->fn(argc - 1 - words, argv + 1 + words);
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
