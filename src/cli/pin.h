/*
 * pin.h - what the CLI does about secrets that core leaves to its caller:
 * taking PINs out of the environment at start-up, asking for a PIN on the
 * terminal (unless prompting is forbidden), and keeping the process from
 * dumping core while it holds secrets.
 */
#ifndef MP_CLI_PIN_H
#define MP_CLI_PIN_H

/* First thing in main(): move MATTER_PKI_PIN and MATTER_PKI_SO_PIN out of
 * the environment (the bytes in the process's environment block are wiped,
 * so /proc/PID/environ no longer shows them), read MATTER_PKI_NO_PROMPT, and
 * refuse core dumps (prctl(PR_SET_DUMPABLE, 0), RLIMIT_CORE 0) unless
 * MATTER_PKI_ALLOW_CORE=1 asks for them (debugging). */
void mp_cli_startup(void);
void mp_cli_secure_process(int allow_core);

/* --no-prompt / MATTER_PKI_NO_PROMPT=1: never ask on the terminal. */
void mp_cli_set_no_prompt(int on);
int mp_cli_no_prompt(void);

/* A mp_pin_cb: the PIN taken from MATTER_PKI_PIN at start-up, else a prompt
 * on the terminal, else MP_ERR_AUTH saying where a PIN can come from. */
int mp_cli_pin(void *arg, const char *what, char **pin);
/* 1 when MATTER_PKI_PIN was set at start-up (a PIN is there without asking). */
int mp_cli_pin_given(void);
/* A mp_warn_cb printing "matter-pki: warning: MSG" on stderr. */
void mp_cli_warn(void *arg, const char *msg);

/* A PIN for commands that set PINs (token init): file, else the variable env
 * taken at start-up, else the terminal (asked twice when confirm). */
int mp_pin_read(const char *file, const char *env, const char *prompt, int confirm,
                char **pin) MP_MUST_CHECK;

/* Test hooks: put a value in the start-up stash / drop it. */
void mp_cli_stash_set(const char *env, const char *value);

#endif
