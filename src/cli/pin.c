/* pin.c - see pin.h. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <termios.h>
#include <unistd.h>

#include "keystore.h"
#include "pin.h"
#include "util.h"

extern char **environ;

#define PIN_MAX 256

typedef struct stash {
    const char *env;
    char value[PIN_MAX];
    int set;
} stash;

static stash stashes[] = {{"MATTER_PKI_PIN", {0}, 0}, {"MATTER_PKI_SO_PIN", {0}, 0}};
#define NSTASH (sizeof(stashes) / sizeof(stashes[0]))
static int no_prompt;

static stash *stash_of(const char *env)
{
    for (size_t i = 0; env != NULL && i < NSTASH; i++) {
        if (strcmp(stashes[i].env, env) == 0) {
            return &stashes[i];
        }
    }
    return NULL;
}

static void stash_wipe(void)
{
    for (size_t i = 0; i < NSTASH; i++) {
        mp_wipe(stashes[i].value, sizeof(stashes[i].value));
        stashes[i].set = 0;
    }
}

void mp_cli_stash_set(const char *env, const char *value)
{
    stash *s = stash_of(env);
    if (s == NULL) {
        return;
    }
    mp_wipe(s->value, sizeof(s->value));
    s->set = value != NULL;
    if (value != NULL) {
        snprintf(s->value, sizeof(s->value), "%s", value);
    }
}

/* Take every NAME=... entry out of environ and wipe its bytes where they
 * are: the kernel shows the original block in /proc/PID/environ. */
static void take_env(stash *s)
{
    size_t nl = strlen(s->env);
    for (;;) {
        char *entry = NULL;
        for (char **e = environ; e != NULL && *e != NULL; e++) {
            if (strncmp(*e, s->env, nl) == 0 && (*e)[nl] == '=') {
                entry = *e;
                break;
            }
        }
        if (entry == NULL) {
            return;
        }
        const char *v = entry + nl + 1;
        if (*v && !s->set) {
            mp_cli_stash_set(s->env, v);
        }
        unsetenv(s->env);
        mp_wipe(entry, strlen(entry));
    }
}

/* LeakSanitizer stops the process with ptrace, which a non-dumpable process
 * refuses: sanitizer builds (make asan, fuzzing) keep RLIMIT_CORE 0 only. */
#if defined(__SANITIZE_ADDRESS__)
#define MP_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MP_SANITIZED 1
#endif
#endif
#ifndef MP_SANITIZED
#define MP_SANITIZED 0
#endif

void mp_cli_secure_process(int allow_core)
{
    if (allow_core) {
        return;
    }
    struct rlimit none = {0, 0};
    if (!MP_SANITIZED) {
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    (void)setrlimit(RLIMIT_CORE, &none);
}

void mp_cli_startup(void)
{
    for (size_t i = 0; i < NSTASH; i++) {
        take_env(&stashes[i]);
    }
    atexit(stash_wipe);
    const char *np = getenv("MATTER_PKI_NO_PROMPT");
    no_prompt = np != NULL && *np && strcmp(np, "0") != 0;
    const char *core = getenv("MATTER_PKI_ALLOW_CORE");
    mp_cli_secure_process(core != NULL && strcmp(core, "1") == 0);
}

void mp_cli_set_no_prompt(int on) { no_prompt = on; }
int mp_cli_no_prompt(void) { return no_prompt; }

void mp_cli_warn(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "matter-pki: warning: %s\n", msg);
}

/* One line from the terminal without echo; NULL when there is no terminal. */
static char *tty_line(int fd, const char *prompt)
{
    struct termios old, noecho;
    if (tcgetattr(fd, &old) != 0) {
        return NULL;
    }
    noecho = old;
    noecho.c_lflag &= ~(tcflag_t)ECHO;
    (void)!write(fd, prompt, strlen(prompt));
    tcsetattr(fd, TCSANOW, &noecho); /* TCSANOW keeps what was typed ahead */
    char *buf = calloc(1, PIN_MAX);
    size_t n = 0;
    char c;
    while (buf != NULL && n < PIN_MAX - 1 && read(fd, &c, 1) == 1 && c != '\n' && c != '\r') {
        buf[n++] = c;
    }
    mp_wipe(&c, sizeof(c));
    tcsetattr(fd, TCSANOW, &old);
    (void)!write(fd, "\n", 1);
    return buf;
}

static int prompt_pin(const char *prompt, int confirm, const char *env, char **pin)
{
    if (no_prompt) {
        return mp_err(MP_ERR_AUTH, "no PIN: prompting is off (--no-prompt or MATTER_PKI_NO_PROMPT); give --pin-file FILE or set %s", env);
    }
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || !isatty(fd)) {
        if (fd >= 0) close(fd);
        return mp_err(MP_ERR_AUTH, "no PIN: give --pin-file FILE, set %s, or run on a terminal to be asked", env);
    }
    char again[PIN_MAX + 16];
    char *a = tty_line(fd, prompt), *b = NULL;
    int rc = a == NULL ? mp_err(MP_ERR_AUTH, "cannot read a PIN from the terminal")
           : a[0] == 0 ? mp_err(MP_ERR_AUTH, "no PIN typed") : MP_OK;
    if (rc == MP_OK && confirm) {
        snprintf(again, sizeof(again), "Again, %s", prompt);
        b = tty_line(fd, again);
        if (b == NULL || strcmp(a, b) != 0) {
            rc = mp_err(MP_ERR_AUTH, "the two PINs typed differ; nothing was changed");
        }
    }
    close(fd);
    mp_pin_free(b);
    if (rc != MP_OK) {
        mp_pin_free(a);
        return rc;
    }
    *pin = a;
    return MP_OK;
}

int mp_pin_read(const char *file, const char *env, const char *prompt, int confirm, char **pin)
{
    *pin = NULL;
    if (file != NULL) {
        return mp_pin_from_file(file, pin);
    }
    stash *s = stash_of(env);
    if (s != NULL && s->set) {
        *pin = strdup(s->value);
        return *pin != NULL ? MP_OK : mp_err(MP_ERR_GENERAL, "out of memory");
    }
    return prompt_pin(prompt, confirm, env, pin);
}

int mp_cli_pin_given(void)
{
    return stash_of("MATTER_PKI_PIN")->set;
}

int mp_cli_pin(void *arg, const char *what, char **pin)
{
    char prompt[64];
    (void)arg;
    snprintf(prompt, sizeof(prompt), "%s: ", what);
    return mp_pin_read(NULL, "MATTER_PKI_PIN", prompt, 0, pin);
}
