/* cmd_est.c - `matter-pki est cacerts|enroll`: an EST client for factory
 * stations without other tools (libcurl, mutual TLS, keep-alive). The
 * station key is a PEM file or a pkcs11: URI in the token; either way it is
 * handed to OpenSSL through libcurl's SSL_CTX callback. Exit codes map the
 * server's refusals (see mp_est_exit_code). */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "est/est.h"
#include "keystore.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"
#include "x509.h"

enum { O_SERVER = 1, O_ORDER, O_CERT, O_KEY, O_CA, O_CSR, O_OUT, O_CSR_DIR, O_OUT_DIR, O_JOBS, O_TIMEOUT };

typedef struct client {
    const char *server, *order, *cert, *key, *ca;
    long timeout;
    mp_common c;
    mp_cmd *mc; /* the dispatcher's context: it opens the token for a pkcs11: key */
    mp_ks *ks;
    EVP_PKEY *pkey;
    X509 *x509;
    STACK_OF(X509) *chain;
} client;

/* The HTTP answer of one request. */
typedef struct reply {
    long status;
    char *body;
    size_t len, cap;
    char reason[32]; /* X-MP-Reason */
    char retry_after[16];
} reply;

int mp_est_exit_code(long status, const char *reason)
{
    switch (status) {
    case 200: return MP_OK;
    case 400: return strcmp(reason, "csr") == 0 ? MP_ERR_VERIFY : MP_ERR_INVALID;
    case 403: return strcmp(reason, "client_certificate") == 0 || strcmp(reason, "station") == 0 ? MP_ERR_AUTH
                                                                                                 : MP_ERR_UNAUTHORIZED;
    case 404: return MP_ERR_INVALID;
    case 409: return strcmp(reason, "quota") == 0 ? MP_ERR_QUOTA : MP_ERR_UNAUTHORIZED;
    case 429:
    case 503: return MP_ERR_BUSY;
    case 0: return MP_ERR_NETWORK;
    default: return MP_ERR_GENERAL;
    }
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    reply *r = arg;
    size_t k = size * n;
    if (r->len + k + 1 > 1 << 20) return 0; /* no answer is that large */
    if (r->len + k + 1 > r->cap) {
        size_t cap = (r->len + k + 1) * 2;
        char *b = realloc(r->body, cap);
        if (b == NULL) return 0;
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = 0;
    return k;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    reply *r = arg;
    size_t k = size * n;
    char line[256];
    snprintf(line, sizeof(line), "%.*s", (int)(k < 255 ? k : 255), p);
    line[strcspn(line, "\r\n")] = 0;
    if (strncasecmp(line, "X-MP-Reason: ", 13) == 0) snprintf(r->reason, sizeof(r->reason), "%s", line + 13);
    if (strncasecmp(line, "Retry-After: ", 13) == 0) snprintf(r->retry_after, sizeof(r->retry_after), "%s", line + 13);
    return k;
}

static CURLcode on_ssl_ctx(CURL *curl, void *ctx, void *arg)
{
    client *cl = arg;
    SSL_CTX *sc = ctx;
    (void)curl;
    if (SSL_CTX_use_certificate(sc, cl->x509) != 1 || SSL_CTX_use_PrivateKey(sc, cl->pkey) != 1) {
        return CURLE_SSL_CERTPROBLEM;
    }
    for (int i = 0; i < sk_X509_num(cl->chain); i++) {
        X509 *x = sk_X509_value(cl->chain, i);
        if (X509_up_ref(x) != 1 || SSL_CTX_add_extra_chain_cert(sc, x) != 1) return CURLE_SSL_CERTPROBLEM;
    }
    SSL_CTX_set_min_proto_version(sc, TLS1_2_VERSION);
    return CURLE_OK;
}

/* The station's certificate (and chain) and key: a PEM file or a pkcs11: URI. */
static int load_identity(client *cl)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = mp_read_file(cl->cert, 1 << 20, &buf, &len);
    if (rc != MP_OK) return rc;
    BIO *b = BIO_new_mem_buf(buf, (int)len);
    cl->x509 = PEM_read_bio_X509(b, NULL, NULL, NULL);
    cl->chain = sk_X509_new_null();
    X509 *x;
    while (cl->x509 != NULL && cl->chain != NULL && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        sk_X509_push(cl->chain, x);
    }
    ERR_clear_error();
    BIO_free(b);
    free(buf);
    if (cl->x509 == NULL) return mp_err_ssl(MP_ERR_INVALID, "--cert %s: not a PEM certificate", cl->cert);
    if (strncmp(cl->key, "pkcs11:", 7) == 0) {
        mp_ks_key key;
        if ((rc = mp_cmd_open(cl->mc, &cl->c)) != MP_OK) return rc;
        cl->ks = cl->mc->ks;
        if ((rc = mp_ks_find(cl->ks, cl->key, &key)) != MP_OK) return rc;
        if ((cl->pkey = mp_ks_signer(cl->ks, &key)) == NULL) return mp_err_code() ? mp_err_code() : MP_ERR_GENERAL;
    } else {
        if ((rc = mp_read_file(cl->key, 1 << 16, &buf, &len)) != MP_OK) return rc;
        b = BIO_new_mem_buf(buf, (int)len);
        cl->pkey = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        BIO_free(b);
        mp_free_secret(buf, len);
        if (cl->pkey == NULL) return mp_err_ssl(MP_ERR_INVALID, "--key %s: not a PEM private key", cl->key);
    }
    if (X509_check_private_key(cl->x509, cl->pkey) != 1) {
        return mp_err_ssl(MP_ERR_MISMATCH, "--key %s is not the key of --cert %s", cl->key, cl->cert);
    }
    return MP_OK;
}

static void unload_identity(client *cl)
{
    EVP_PKEY_free(cl->pkey);
    X509_free(cl->x509);
    sk_X509_pop_free(cl->chain, X509_free);
}

static CURL *new_handle(client *cl)
{
    CURL *h = curl_easy_init();
    if (h == NULL) return NULL;
    curl_easy_setopt(h, CURLOPT_CAINFO, cl->ca);
    curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
    curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, cl);
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, cl->timeout);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    return h;
}

/* One EST request; *rc receives the exit code its answer maps to. */
static int request(client *cl, CURL *h, const char *op, const char *body, size_t body_len, reply *r)
{
    char url[1024];
    struct curl_slist *hdr = NULL;
    free(r->body);
    memset(r, 0, sizeof(*r));
    snprintf(url, sizeof(url), "%s/.well-known/est/%s/%s", cl->server, cl->order, op);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    if (body != NULL) {
        hdr = curl_slist_append(hdr, "Content-Type: application/pkcs10");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)body_len);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    CURLcode cc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdr);
    if (cc != CURLE_OK) {
        return mp_err(MP_ERR_NETWORK, "%s: %s", url, curl_easy_strerror(cc));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->status != 200) {
        char text[256];
        snprintf(text, sizeof(text), "%s", r->body ? r->body : "");
        text[strcspn(text, "\r\n")] = 0;
        return mp_err(mp_est_exit_code(r->status, r->reason), "HTTP %ld: %s%s%s", r->status, text,
                      r->retry_after[0] ? "; retry after (s): " : "", r->retry_after);
    }
    return MP_OK;
}

static int certs_of(const reply *r, STACK_OF(X509) **out)
{
    uint8_t *der = malloc(r->len + 1);
    long n = der ? mp_est_b64_decode(r->body ? r->body : "", r->len, der, r->len + 1) : -1;
    int rc = n > 0 ? mp_est_parse_certs_only(der, (size_t)n, out)
                   : mp_err(MP_ERR_NETWORK, "the server's answer is not base64");
    free(der);
    return rc == MP_OK ? MP_OK : mp_err_ctx(MP_ERR_NETWORK, "the server's answer");
}

/* ---- options ------------------------------------------------------------------- */

/* enroll and cacerts share their options; cacerts requires --out. */
#define EST_OPTS(out_type, out_help)                                                                                  \
    {"server", O_SERVER, OT_STR | OT_REQUIRED, "URL", "https://HOST:PORT of the matter-pki server"},                  \
    {"order", O_ORDER, OT_STR | OT_REQUIRED, "ORDER", "production order ID or label"},                                  \
    {"cert", O_CERT, OT_FILE | OT_REQUIRED, "FILE", "station certificate, PEM"},                                       \
    {"key", O_KEY, OT_STR | OT_REQUIRED, "FILE|URI", "station key: PEM file or pkcs11: URI"},                          \
    {"ca", O_CA, OT_FILE | OT_REQUIRED, "FILE", "CA certificate(s) that sign the server's TLS certificate"},           \
    {"csr", O_CSR, OT_FILE, "FILE", "enroll: one device CSR (PEM or DER)"},                                            \
    {"out", O_OUT, out_type, "FILE", out_help},                                                                        \
    {"csr-dir", O_CSR_DIR, OT_DIR, "DIR", "enroll: every *.csr / *.der in DIR"},                                       \
    {"out-dir", O_OUT_DIR, OT_STR, "DIR", "enroll --csr-dir: DACs as NAME.der (existing ones are skipped)"},           \
    {"jobs", O_JOBS, OT_UINT, "J", "enroll --csr-dir: J keep-alive connections (default 4)"},                         \
    {"timeout", O_TIMEOUT, OT_UINT, "S", "seconds per request (default 30)"},                                         \
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace an existing output file"},                                            \
    MP_OPTS_HSM,                                                                                                      \
    MP_OPTS_COMMON,                                                                                                   \
    {NULL, 0, 0, NULL, NULL}

static const mp_opt opts[] = {EST_OPTS(OT_OUT, "enroll: the DAC (DER); cacerts: the certificates (PEM)")};
static const mp_opt cacerts_opts[] = {EST_OPTS(OT_OUT | OT_REQUIRED, "enroll: the DAC (DER); cacerts: the certificates (PEM)")};

typedef struct est_args {
    const char *csr, *out, *csr_dir, *out_dir, *jobs, *timeout;
} est_args;

static int parse(int argc, char **argv, const char *cmd, const char *syn, const char *about, client *cl, est_args *a)
{
    mp_optparse p;
    const char *val;
    int id;
    mp_opt_init(&p, argc, argv, strcmp(cmd, "est cacerts") == 0 ? cacerts_opts : opts, cmd, syn, about);
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return OPT_HELP;
        case O_SERVER: cl->server = val; break;
        case O_ORDER: cl->order = val; break;
        case O_CERT: cl->cert = val; break;
        case O_KEY: cl->key = val; break;
        case O_CA: cl->ca = val; break;
        case O_CSR: a->csr = val; break;
        case O_OUT: a->out = val; break;
        case O_CSR_DIR: a->csr_dir = val; break;
        case O_OUT_DIR: a->out_dir = val; break;
        case O_JOBS: a->jobs = val; break;
        case O_TIMEOUT: a->timeout = val; break;
        default:
            if (!mp_opt_common(&cl->c, id, val)) return -mp_err(MP_ERR_USAGE, "%s: unexpected argument '%s'", cmd, val ? val : "");
        }
    }
    mp_common_finish(&cl->c);
    if (id < 0) return id;
    if (strncmp(cl->server, "https://", 8) != 0) {
        return -mp_err(MP_ERR_USAGE, "%s --server: an https:// URL", cmd);
    }
    cl->timeout = a->timeout ? (long)mp_opt_uint(a->timeout) : 30;
    return 0;
}

int est_cacerts_main(mp_cmd *mc, int argc, char **argv)
{
    client cl = {.mc = mc};
    est_args a = {0};
    reply r = {0};
    STACK_OF(X509) *sk = NULL;
    BIO *mem = NULL;
    int rc = parse(argc, argv, "est cacerts", "--server URL --order ORDER --cert station.pem --key KEY --ca server-ca.pem --out ca.pem",
                   "Fetches the order's PAI and PAA (EST cacerts) and writes them as PEM.", &cl, &a);
    if (rc != 0) return rc == OPT_HELP ? MP_OK : -rc;
    CURL *h = NULL;
    if ((rc = mp_check_output(a.out, cl.c.force)) != MP_OK || (rc = load_identity(&cl)) != MP_OK) goto end;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if ((h = new_handle(&cl)) == NULL) {
        rc = mp_err(MP_ERR_GENERAL, "curl_easy_init");
        goto end;
    }
    if ((rc = request(&cl, h, "cacerts", NULL, 0, &r)) != MP_OK || (rc = certs_of(&r, &sk)) != MP_OK) goto end;
    char *pem;
    long n;
    mem = BIO_new(BIO_s_mem());
    for (int i = 0; mem != NULL && i < sk_X509_num(sk); i++) PEM_write_bio_X509(mem, sk_X509_value(sk, i));
    if (mem == NULL || (n = BIO_get_mem_data(mem, &pem)) <= 0) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "cannot encode PEM");
        goto end;
    }
    if ((rc = mp_write_file(a.out, pem, (size_t)n, 0644, cl.c.force)) == MP_OK) {
        printf("%d certificate(s) written to %s\n", sk_X509_num(sk), a.out);
    }
end:
    BIO_free(mem);
    sk_X509_pop_free(sk, X509_free);
    free(r.body);
    if (h) curl_easy_cleanup(h);
    unload_identity(&cl);
    return rc;
}

/* ---- enroll ------------------------------------------------------------------------ */

/* The CSR file (PEM or DER) as base64 of its DER in 64-column lines. */
static int csr_body(const char *path, char **b64, size_t *len)
{
    uint8_t *buf = NULL, *der = NULL;
    size_t n = 0;
    int rc = mp_read_file(path, 1 << 16, &buf, &n);
    if (rc != MP_OK) return rc;
    BIO *b = BIO_new_mem_buf(buf, (int)n);
    X509_REQ *r = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
    BIO_free(b);
    if (r == NULL) {
        const uint8_t *p = buf;
        ERR_clear_error();
        r = d2i_X509_REQ(NULL, &p, (long)n);
    }
    free(buf);
    int dl = r ? i2d_X509_REQ(r, &der) : -1;
    X509_REQ_free(r);
    if (dl <= 0) return mp_err_ssl(MP_ERR_INVALID, "%s: not a PKCS#10 request (PEM or DER)", path);
    rc = mp_est_b64_encode(der, (size_t)dl, b64, len);
    OPENSSL_free(der);
    return rc;
}

static int enroll_one(client *cl, CURL *h, const char *csr, const char *out, int force, reply *r)
{
    char *body = NULL;
    size_t len = 0;
    STACK_OF(X509) *sk = NULL;
    uint8_t *der = NULL;
    int rc;
    if ((rc = mp_check_output(out, force)) != MP_OK || (rc = csr_body(csr, &body, &len)) != MP_OK ||
        (rc = request(cl, h, "simpleenroll", body, len, r)) != MP_OK || (rc = certs_of(r, &sk)) != MP_OK) {
        goto end;
    }
    int n = i2d_X509(sk_X509_value(sk, 0), &der);
    rc = n > 0 ? mp_write_file(out, der, (size_t)n, 0644, force) : mp_err_ssl(MP_ERR_GENERAL, "cannot encode the DAC");
end:
    OPENSSL_free(der);
    sk_X509_pop_free(sk, X509_free);
    free(body);
    return rc;
}

typedef struct batch {
    client *cl;
    const char *dir, *out_dir;
    char **names;
    size_t n, next, ok, skipped, failed;
    int first_rc;
    pthread_mutex_t mu;
} batch;

static void *batch_worker(void *arg)
{
    batch *b = arg;
    CURL *h = new_handle(b->cl); /* one keep-alive connection per worker */
    reply r = {0};
    for (;;) {
        pthread_mutex_lock(&b->mu);
        size_t i = b->next++;
        pthread_mutex_unlock(&b->mu);
        if (i >= b->n) break;
        char in[4096], out[4096], base[1024];
        snprintf(base, sizeof(base), "%s", b->names[i]);
        base[strcspn(base, ".")] = 0;
        snprintf(in, sizeof(in), "%s/%s", b->dir, b->names[i]);
        snprintf(out, sizeof(out), "%s/%s.der", b->out_dir, base);
        struct stat st;
        int rc;
        if (stat(out, &st) == 0) {
            rc = -1;
        } else {
            rc = h ? enroll_one(b->cl, h, in, out, 0, &r) : mp_err(MP_ERR_GENERAL, "curl_easy_init");
        }
        pthread_mutex_lock(&b->mu);
        if (rc == -1) {
            b->skipped++;
        } else if (rc == MP_OK) {
            b->ok++;
            printf("%s: ok %s\n", b->names[i], out);
        } else {
            b->failed++;
            if (b->first_rc == 0) b->first_rc = rc;
            printf("%s: error %d %s\n", b->names[i], rc, mp_err_msg());
        }
        pthread_mutex_unlock(&b->mu);
    }
    free(r.body);
    if (h) curl_easy_cleanup(h);
    return NULL;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int enroll_dir(client *cl, const est_args *a)
{
    batch b = {.cl = cl, .dir = a->csr_dir, .out_dir = a->out_dir};
    size_t cap = 0;
    uint64_t jobs = a->jobs ? mp_opt_uint(a->jobs) : 4;
    pthread_t th[64];
    int rc = MP_OK, started = 0;
    if (jobs < 1 || jobs > 64) return mp_err(MP_ERR_USAGE, "est enroll --jobs: 1..64");
    DIR *d = opendir(a->csr_dir);
    if (d == NULL) return mp_err(MP_ERR_IO, "%s: cannot open the folder", a->csr_dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || l < 5 || (strcmp(e->d_name + l - 4, ".csr") != 0 && strcmp(e->d_name + l - 4, ".der") != 0)) {
            continue;
        }
        if (b.n == cap) {
            cap = cap ? cap * 2 : 256;
            char **nn = realloc(b.names, cap * sizeof(char *));
            if (nn == NULL) break;
            b.names = nn;
        }
        b.names[b.n++] = strdup(e->d_name);
    }
    closedir(d);
    if (b.n > 1) qsort(b.names, b.n, sizeof(char *), cmp_names);
    if ((rc = mp_mkdir_p(a->out_dir, 0755)) != MP_OK) goto end;
    pthread_mutex_init(&b.mu, NULL);
    for (; started < (int)jobs && (size_t)started < b.n; started++) {
        if (pthread_create(&th[started], NULL, batch_worker, &b) != 0) break;
    }
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&b.mu);
    printf("%zu DAC(s) written, %zu skipped (already there), %zu failed\n", b.ok, b.skipped, b.failed);
    rc = b.first_rc;
    if (rc != MP_OK) rc = mp_err(rc, "%zu of %zu request(s) failed; the first failure's code is returned", b.failed, b.n);
end:
    for (size_t i = 0; i < b.n; i++) free(b.names[i]);
    free(b.names);
    return rc;
}

int est_enroll_main(mp_cmd *mc, int argc, char **argv)
{
    client cl = {.mc = mc};
    est_args a = {0};
    reply r = {0};
    CURL *h = NULL;
    int rc = parse(argc, argv, "est enroll",
                   "--server URL --order ORDER --cert station.pem --key KEY --ca server-ca.pem --csr device.csr --out dac.der\n"
                   "       matter-pki est enroll ... --csr-dir DIR --out-dir DIR [--jobs J]",
                   "Sends device CSRs to a matter-pki server (EST simpleenroll) and writes each DAC (DER).\n"
                   "A retry of a request whose answer was lost gets the same DAC.", &cl, &a);
    if (rc != 0) return rc == OPT_HELP ? MP_OK : -rc;
    if (!((a.csr && a.out && !a.csr_dir && !a.out_dir) || (a.csr_dir && a.out_dir && !a.csr && !a.out))) {
        return mp_err(MP_ERR_USAGE, "est enroll: either --csr FILE --out FILE, or --csr-dir DIR --out-dir DIR");
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if ((rc = load_identity(&cl)) != MP_OK) goto end;
    if (a.csr_dir) {
        rc = enroll_dir(&cl, &a);
        goto end;
    }
    if ((h = new_handle(&cl)) == NULL) {
        rc = mp_err(MP_ERR_GENERAL, "curl_easy_init");
        goto end;
    }
    if ((rc = enroll_one(&cl, h, a.csr, a.out, cl.c.force, &r)) == MP_OK) printf("DAC written to %s\n", a.out);
end:
    free(r.body);
    if (h) curl_easy_cleanup(h);
    unload_identity(&cl);
    return rc;
}
