/* cmd_serve.c - `matter-pki serve`: the HTTP side of the EST service. One
 * event-loop thread runs libevent's evhttp over OpenSSL bufferevents (TLS
 * 1.2/1.3, client certificates required, no renegotiation, TCP_NODELAY and
 * keep-alive on every connection). It checks what needs no ledger (client
 * certificate chain, validity and CRL; rate; body; CSR signature and key
 * type), hands enrollments to the ledger thread (serve_issuer.c) and sends the
 * answers that come back. TLS and the station certificates: serve_tls.c. SIGTERM: stop accepting, finish what is in flight,
 * exit 0. SIGHUP: read the station CRL again. */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "serve/serve.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"
#include "workers.h"
#include "x509.h"

const char *const mp_serve_reason_names[R_NREASONS] = {
    "client_certificate", "station", "rate", "body", "csr", "key", "not_listed", "order", "quota", "issued",
    "not_found", "method", "unavailable", "internal",
};
const double mp_serve_lat_bounds[12] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, INFINITY};

#include "serve/serve_http.h"

/* ---- answers --------------------------------------------------------------------- */

static const char *phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 429: return "Too Many Requests";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

static void send_text(struct evhttp_request *req, int status, const char *text)
{
    struct evbuffer *b = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
    if (b != NULL) evbuffer_add_printf(b, "%s\n", text);
    evhttp_send_reply(req, status, phrase(status), b);
    evbuffer_free(b);
}

static void refuse_now(server *s, struct evhttp_request *req, const char *order, const char *station, int status,
                       int reason, const char *why)
{
    atomic_fetch_add(&s->m.refusals[reason], 1);
    mp_issuer_refusal(s->issuer, station, order, status, reason, why); /* the audit trail, in batches */
    evhttp_add_header(evhttp_request_get_output_headers(req), "X-MP-Reason", mp_serve_reason_names[reason]);
    if (reason != R_RATE) {
        fprintf(stderr, "matter-pki serve: %d %s (station %s, order %s)\n", status, why, station ? station : "-",
                order ? order : "-");
    }
    send_text(req, status, why);
}

static void send_b64(struct evhttp_request *req, const char *type, const uint8_t *der, size_t len)
{
    char *text = NULL;
    size_t n = 0;
    if (mp_est_b64_encode(der, len, &text, &n) != MP_OK) {
        send_text(req, 500, "cannot encode the response");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Content-Transfer-Encoding", "base64");
    if (b != NULL) evbuffer_add(b, text, n);
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
    free(text);
}

static void observe(server *s, double secs)
{
    int i = 0;
    while (i < 11 && secs > mp_serve_lat_bounds[i]) i++;
    atomic_fetch_add(&s->m.lat_bucket[i], 1);
    atomic_fetch_add(&s->m.lat_count, 1);
    atomic_fetch_add(&s->m.lat_sum_us, (unsigned long long)(secs * 1e6));
}

/* csrattrs: ecdsa-with-SHA256, and id-ecPublicKey with the P-256 curve. */
static const uint8_t csrattrs_der[] = {
    0x30, 0x21, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02, 0x30, 0x15, 0x06, 0x07, 0x2A, 0x86,
    0x48, 0xCE, 0x3D, 0x02, 0x01, 0x31, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07,
};

static void answer(server *s, job *j)
{
    if (j->status == 200) {
        if (j->kind == J_ENROLL) {
            send_b64(j->req, "application/pkcs7-mime; smime-type=certs-only", j->body, j->body_len);
        } else if (j->kind == J_CACERTS) {
            send_b64(j->req, "application/pkcs7-mime", j->body, j->body_len);
        } else {
            send_b64(j->req, "application/csrattrs", csrattrs_der, sizeof(csrattrs_der));
        }
    } else {
        refuse_now(s, j->req, j->order, j->station, j->status, j->reason, j->why);
    }
    if (j->kind == J_ENROLL) observe(s, mp_now() - j->t0);
}

static void finish_if_drained(server *s)
{
    if (s->draining && s->inflight == 0) {
        struct timeval tv = {0, 100000}; /* let the last answers flush */
        event_base_loopexit(s->base, &tv);
    }
}

/* Ledger thread -> event loop. */
static void job_done(void *ctx, job *j)
{
    server *s = ctx;
    pthread_mutex_lock(&s->mu);
    j->next = NULL;
    if (s->done_tail) s->done_tail->next = j;
    else s->done_head = j;
    s->done_tail = j;
    pthread_mutex_unlock(&s->mu);
    event_active(s->done_ev, EV_READ, 0);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    server *s = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&s->mu);
    job *j = s->done_head;
    s->done_head = s->done_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    while (j != NULL) {
        job *next = j->next;
        answer(s, j);
        s->inflight--;
        free(j->body);
        free(j);
        j = next;
    }
    finish_if_drained(s);
}

/* ---- rate ---------------------------------------------------------------------------- */

/* Token bucket per station: --station-rate per second, bursts of one
 * second's worth. Returns 0, or the seconds to wait. */
static int rate_wait(server *s, const char *station)
{
    if (s->rate <= 0) return 0;
    unsigned h = 5381;
    for (const char *p = station; *p; p++) h = h * 33 + (unsigned char)*p;
    bucket **slot = &s->buckets[h % 256], *b = *slot;
    while (b != NULL && strcmp(b->name, station) != 0) b = b->next;
    double now = mp_now();
    if (b == NULL) {
        if ((b = calloc(1, sizeof(*b))) == NULL) return 1;
        snprintf(b->name, sizeof(b->name), "%s", station);
        b->tokens = s->rate;
        b->last = now;
        b->next = *slot;
        *slot = b;
    }
    b->tokens += (now - b->last) * s->rate;
    if (b->tokens > s->rate) b->tokens = s->rate;
    b->last = now;
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return 0;
    }
    return (int)ceil((1 - b->tokens) / s->rate);
}

/* ---- requests ------------------------------------------------------------------------ */

static void metrics(server *s, struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();
    mp_metrics *m = &s->m;
    static const char *const kinds[3] = {"simpleenroll", "cacerts", "csrattrs"};
    if (b == NULL) return;
    evbuffer_add_printf(b, "# TYPE mp_requests_total counter\n");
    for (int i = 0; i < 3; i++) {
        evbuffer_add_printf(b, "mp_requests_total{endpoint=\"%s\"} %llu\n", kinds[i], atomic_load(&m->requests[i]));
    }
    evbuffer_add_printf(b, "# TYPE mp_dacs_issued_total counter\nmp_dacs_issued_total %llu\n", atomic_load(&m->issued));
    evbuffer_add_printf(b, "# TYPE mp_dacs_resent_total counter\nmp_dacs_resent_total %llu\n", atomic_load(&m->retried));
    evbuffer_add_printf(b, "# TYPE mp_refusals_total counter\n");
    for (int i = 0; i < R_NREASONS; i++) {
        evbuffer_add_printf(b, "mp_refusals_total{reason=\"%s\"} %llu\n", mp_serve_reason_names[i],
                            atomic_load(&m->refusals[i]));
    }
    evbuffer_add_printf(b, "# TYPE mp_enroll_seconds histogram\n");
    unsigned long long cum = 0;
    for (int i = 0; i < 12; i++) {
        cum += atomic_load(&m->lat_bucket[i]);
        if (i < 11) evbuffer_add_printf(b, "mp_enroll_seconds_bucket{le=\"%g\"} %llu\n", mp_serve_lat_bounds[i], cum);
        else evbuffer_add_printf(b, "mp_enroll_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
    }
    evbuffer_add_printf(b, "mp_enroll_seconds_sum %.6f\nmp_enroll_seconds_count %llu\n",
                        (double)atomic_load(&m->lat_sum_us) / 1e6, atomic_load(&m->lat_count));
    evbuffer_add_printf(b, "# TYPE mp_ledger_seconds_total counter\nmp_ledger_seconds_total %.6f\n",
                        (double)atomic_load(&m->ledger_us) / 1e6);
    evbuffer_add_printf(b, "# TYPE mp_hsm_seconds_total counter\nmp_hsm_seconds_total %.6f\n",
                        (double)atomic_load(&m->hsm_us) / 1e6);
    evbuffer_add_printf(b, "# TYPE mp_ledger_groups_total counter\nmp_ledger_groups_total %llu\n", atomic_load(&m->groups));
    evbuffer_add_printf(b, "# TYPE mp_ledger_grouped_requests_total counter\nmp_ledger_grouped_requests_total %llu\n",
                        atomic_load(&m->grouped));
    evbuffer_add_printf(b, "# TYPE mp_connections_total counter\nmp_connections_total %llu\n", atomic_load(&m->connections));
    evbuffer_add_printf(b, "# TYPE mp_connections_refused_total counter\nmp_connections_refused_total %llu\n",
                        atomic_load(&m->conn_refused));
    evbuffer_add_printf(b, "# TYPE mp_connections_open gauge\nmp_connections_open %ld\n", atomic_load(&s->conns));
    evbuffer_add_printf(b, "# TYPE mp_check_seconds_total counter\nmp_check_seconds_total %.6f\n",
                        (double)atomic_load(&m->check_us) / 1e6);
    evbuffer_add_printf(b, "# TYPE mp_commit_seconds_total counter\nmp_commit_seconds_total %.6f\n",
                        (double)atomic_load(&m->commit_us) / 1e6);
    evbuffer_add_printf(b, "# TYPE mp_ledger_commits_total counter\nmp_ledger_commits_total %llu\n", atomic_load(&m->commits));
    evbuffer_add_printf(b, "# TYPE mp_audit_rows_total counter\nmp_audit_rows_total %llu\n", atomic_load(&m->audit_rows));
    evbuffer_add_printf(b, "# TYPE mp_audit_unrecorded_refusals_total counter\nmp_audit_unrecorded_refusals_total %llu\n",
                        atomic_load(&m->audit_unrecorded));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

/* evhttp closes a connection without a TLS close_notify, and OpenSSL drops
 * the session of a connection freed unshut from the session cache: no
 * resumption ever. An HTTP message has its own framing, so a connection that
 * ends after complete exchanges is marked shut (as a quiet shutdown does,
 * nothing is sent) and its session stays resumable. */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
    (void)arg;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    if (ssl != NULL && SSL_is_init_finished(ssl)) SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
}

static void socket_options(struct evhttp_connection *evcon, struct bufferevent *bev, conn_info *ci)
{
    if (ci == NULL || ci->sock_set) return;
    int one = 1, fd = (int)bufferevent_getfd(bev);
    /* evhttp does not set TCP_NODELAY: without it keep-alive answers wait
     * for delayed ACKs (~40 ms each) */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    evhttp_connection_set_closecb(evcon, on_close, NULL);
    ci->sock_set = 1;
}

/* The body of a simpleenroll: base64 (whitespace ignored) of a DER PKCS#10. */
static int read_csr(struct evhttp_request *req, job *j)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    uint8_t der[MP_EST_MAX_BODY];
    if (n == 0) {
        mp_job_refuse(j, 400, R_BODY, "the body is empty: send the base64 of a DER PKCS#10 request");
        return -1;
    }
    if (n > MP_EST_MAX_BODY) {
        mp_job_refuse(j, 400, R_BODY, "the body is larger than 4096 bytes");
        return -1;
    }
    const char *text = (const char *)evbuffer_pullup(in, -1);
    long len = text ? mp_est_b64_decode(text, n, der, sizeof(der)) : -1;
    if (len <= 0) {
        mp_job_refuse(j, 400, R_BODY, "the body is not valid base64");
        return -1;
    }
    int st = mp_est_check_csr(der, (size_t)len, &j->csr, j->why, sizeof(j->why));
    if (st != 0) {
        j->status = st;
        j->reason = st == 400 ? R_CSR : R_KEY;
        return -1;
    }
    return 0;
}

static int order_ref_ok(const char *s, size_t n)
{
    return n > 0 && n < 64 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") >= n &&
           s[0] != '.';
}

/* The path and method: /healthz, /metrics and every refusal answered here
 * (0); an EST operation on an order goes on as a job (1: *kind, order). */
static int route(server *s, struct evhttp_request *req, const char *path, char order[64], int *kind)
{
    static const char prefix[] = "/.well-known/est/";
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    if (strcmp(path, "/healthz") == 0) {
        send_text(req, 200, "ok");
        return 0;
    }
    if (strcmp(path, "/metrics") == 0) {
        metrics(s, req);
        return 0;
    }
    const char *rest = strncmp(path, prefix, sizeof(prefix) - 1) == 0 ? path + sizeof(prefix) - 1 : NULL;
    const char *slash = rest ? strchr(rest, '/') : NULL;
    if (rest == NULL || slash == NULL || !order_ref_ok(rest, (size_t)(slash - rest))) {
        refuse_now(s, req, NULL, NULL, 404, R_NOT_FOUND,
                   "not found: use /.well-known/est/ORDER/{cacerts,csrattrs,simpleenroll} (ORDER: an order's ID or label)");
        return 0;
    }
    const char *op = slash + 1;
    *kind = strcmp(op, "simpleenroll") == 0 ? J_ENROLL : strcmp(op, "cacerts") == 0 ? J_CACERTS
            : strcmp(op, "csrattrs") == 0   ? J_CSRATTRS : -1;
    snprintf(order, 64, "%.*s", (int)(slash - rest), rest);
    if (strcmp(op, "simplereenroll") == 0 || strcmp(op, "serverkeygen") == 0) {
        refuse_now(s, req, order, NULL, 501, R_METHOD,
                   strcmp(op, "serverkeygen") == 0 ? "serverkeygen: device keys are made in the device, never by this server"
                                                   : "simplereenroll: DACs are not renewed");
        return 0;
    }
    if (*kind < 0) {
        refuse_now(s, req, order, NULL, 404, R_NOT_FOUND, "unknown EST operation");
        return 0;
    }
    if ((*kind == J_ENROLL) != (method == EVHTTP_REQ_POST) || (*kind != J_ENROLL && method != EVHTTP_REQ_GET)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", *kind == J_ENROLL ? "POST" : "GET");
        refuse_now(s, req, order, NULL, 405, R_METHOD, *kind == J_ENROLL ? "use POST" : "use GET");
        return 0;
    }
    return 1;
}

/* The checks the loop makes itself, in order: 1. the station's client
 * certificate (403), 2. its rate (429), 3. an enrollment's body and CSR
 * (400/403). A refusal sets j->status. */
static void admit(server *s, job *j, SSL *ssl)
{
    conn_info *v = mp_srv_check_client(s, ssl);
    if (v == NULL || v->status != 0) {
        mp_job_refuse(j, 403, R_CLIENT_CERT, "%s", v ? v->why : "no connection state");
        return;
    }
    snprintf(j->station, sizeof(j->station), "%s", v->station);
    snprintf(j->station_serial, sizeof(j->station_serial), "%s", v->serial);
    int wait = rate_wait(s, j->station);
    if (wait > 0) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%d", wait);
        evhttp_add_header(evhttp_request_get_output_headers(j->req), "Retry-After", ra);
        mp_job_refuse(j, 429, R_RATE, "station %s: more than %g requests per second", j->station, s->rate);
    } else if (j->kind == J_ENROLL) {
        (void)read_csr(j->req, j);
    }
}

static void on_request(struct evhttp_request *req, void *arg)
{
    server *s = arg;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    conn_info *ci = ssl ? SSL_get_ex_data(ssl, s->ex_idx) : NULL;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    char order[64];
    int kind = -1;
    if (bev != NULL) socket_options(evcon, bev, ci);
    if (s->draining) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        refuse_now(s, req, NULL, NULL, 503, R_UNAVAILABLE, "the server is shutting down");
        return;
    }
    if (path == NULL || ssl == NULL) {
        refuse_now(s, req, NULL, NULL, 400, R_NOT_FOUND, "bad request");
        return;
    }
    if (!route(s, req, path, order, &kind)) {
        return;
    }
    atomic_fetch_add(&s->m.requests[kind], 1);
    job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        refuse_now(s, req, order, NULL, 503, R_UNAVAILABLE, "out of memory");
        return;
    }
    j->req = req;
    j->kind = kind;
    j->t0 = mp_now();
    snprintf(j->order, sizeof(j->order), "%s", order);
    admit(s, j, ssl);
    if (j->status != 0) {
        answer(s, j);
        free(j);
        return;
    }
    s->inflight++;
    mp_issuer_submit(s->issuer, j);
}

/* ---- signals ------------------------------------------------------------------------ */

static void on_term(evutil_socket_t sig, short what, void *arg)
{
    server *s = arg;
    (void)what;
    if (s->draining) return;
    fprintf(stderr, "matter-pki serve: %s: no new connections; finishing %ld request(s) in flight\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", s->inflight);
    s->draining = 1;
    if (s->bound != NULL) {
        evhttp_del_accept_socket(s->http, s->bound);
        s->bound = NULL;
    }
    finish_if_drained(s);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    server *s = arg;
    (void)sig;
    (void)what;
    if (s->crl_path == NULL) return;
    if (mp_srv_load_store(s) == MP_OK) {
        fprintf(stderr, "matter-pki serve: SIGHUP: station CRL %s loaded again\n", s->crl_path);
    } else {
        fprintf(stderr, "matter-pki serve: SIGHUP: keeping the previous station CRL: %s\n", mp_err_msg());
    }
}

/* ---- the command ------------------------------------------------------------------------ */

enum { O_LISTEN = 1, O_PORT_FILE, O_TLS_CERT, O_TLS_KEY, O_STATION_CA, O_STATION_CRL, O_PAA_CERT, O_JOBS,
       O_RATE, O_MAX_CONN, O_TIMEOUT, O_GROUP_MS, O_TEST_MODE };

static const mp_opt opts[] = {
    {"listen", O_LISTEN, OT_STR | OT_REQUIRED, "ADDR:PORT", "address to listen on (port 0: any free port)"},
    {"port-file", O_PORT_FILE, OT_OUT, "FILE", "write the port listened on to FILE once ready"},
    {"tls-cert", O_TLS_CERT, OT_FILE | OT_REQUIRED, "FILE", "server certificate (PEM, chain after it)"},
    {"tls-key", O_TLS_KEY, OT_STR | OT_REQUIRED, "FILE|URI", "server key: PEM file or pkcs11: URI in the token"},
    {"station-ca", O_STATION_CA, OT_FILE | OT_REQUIRED, "FILE", "station CA certificate: stations' client certificates chain to it"},
    {"station-crl", O_STATION_CRL, OT_FILE, "FILE", "station CRL (`station crl`); read again on SIGHUP"},
    {"paa-cert", O_PAA_CERT, OT_FILE, "FILE", "PAA certificate for cacerts answers (repeatable)"},
    {"ledger", OPT_LEDGER, OT_STR, "PATH", "ledger database (default STATE_DIR/ledger.sqlite)"},
    {"jobs", O_JOBS, OT_UINT, "N", "signing workers, one PKCS#11 session each per order (default 4)"},
    {"station-rate", O_RATE, OT_UINT, "N", "most requests per second and station (token bucket; default 0: no limit)"},
    {"max-connections", O_MAX_CONN, OT_UINT, "N", "most open connections (default 1024)"},
    {"timeout", O_TIMEOUT, OT_UINT, "S", "seconds a connection may stay idle or slow (default 10)"},
    {"group-ms", O_GROUP_MS, OT_UINT, "MS", "wait up to MS milliseconds for a group of requests to fill (default 2)"},
    {"test-mode", O_TEST_MODE, OT_FLAG, NULL, "allow PAIs under a Matter SDK test PAA"},
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

typedef struct serve_args {
    const char *listen, *port_file, *tls_cert, *tls_key, *station_ca, *station_crl;
    const char *jobs, *rate, *max_conn, *timeout, *group_ms;
    const char *paa[8];
    int n_paa, test_mode;
} serve_args;

static int parse(int argc, char **argv, mp_common *c, serve_args *a)
{
    mp_optparse p;
    const char *val;
    int id;
    mp_opt_init(&p, argc, argv, opts, "serve",
                "--listen ADDR:PORT --tls-cert CERT --tls-key KEY|URI --station-ca CERT [--port-file FILE]",
                "Issues DACs over EST (RFC 7030/8951) to factory stations that present a client\n"
                "certificate of the station CA: GET /.well-known/est/ORDER/cacerts and csrattrs,\n"
                "POST /.well-known/est/ORDER/simpleenroll; GET /healthz and /metrics. SIGTERM\n"
                "finishes the requests in flight and exits 0; SIGHUP reads --station-crl again.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        switch (id) {
        case OPT_HELP: return OPT_HELP;
        case O_LISTEN: a->listen = val; break;
        case O_PORT_FILE: a->port_file = val; break;
        case O_TLS_CERT: a->tls_cert = val; break;
        case O_TLS_KEY: a->tls_key = val; break;
        case O_STATION_CA: a->station_ca = val; break;
        case O_STATION_CRL: a->station_crl = val; break;
        case O_JOBS: a->jobs = val; break;
        case O_RATE: a->rate = val; break;
        case O_MAX_CONN: a->max_conn = val; break;
        case O_TIMEOUT: a->timeout = val; break;
        case O_GROUP_MS: a->group_ms = val; break;
        case O_TEST_MODE: a->test_mode = 1; break;
        case O_PAA_CERT:
            if (a->n_paa == 8) return -mp_err(MP_ERR_USAGE, "serve: at most 8 --paa-cert");
            a->paa[a->n_paa++] = val;
            break;
        default:
            if (!mp_opt_common(c, id, val)) return -mp_err(MP_ERR_USAGE, "serve: unexpected argument '%s'", val ? val : "");
        }
    }
    mp_common_finish(c);
    if (id == 0) {
        a->listen = mp_opt_given(a->listen);
        a->tls_cert = mp_opt_given(a->tls_cert);
        a->tls_key = mp_opt_given(a->tls_key);
        a->station_ca = mp_opt_given(a->station_ca);
    }
    return id;
}

static int num(const char *v, uint64_t def, uint64_t lo, uint64_t hi, const char *name, uint64_t *out)
{
    *out = v ? mp_opt_uint(v) : def;
    if (*out < lo || *out > hi) {
        return mp_err(MP_ERR_USAGE, "serve --%s: %llu..%llu", name, (unsigned long long)lo, (unsigned long long)hi);
    }
    return MP_OK;
}

static int bind_listen(server *s, const char *listen, const char *port_file)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    uint64_t port;
    if (colon == NULL || (size_t)(colon - listen) >= sizeof(host) || mp_parse_uint(colon + 1, 65535, &port) != MP_OK) {
        return mp_err(MP_ERR_USAGE, "serve --listen '%s': expected ADDR:PORT", listen);
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = 0;
    }
    s->bound = evhttp_bind_socket_with_handle(s->http, host, (uint16_t)port);
    if (s->bound == NULL) {
        return mp_err(MP_ERR_NETWORK, "serve: cannot listen on %s: %s", listen, strerror(errno));
    }
    int fd = (int)evhttp_bound_socket_get_fd(s->bound), one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* inherited by accepted sockets on Linux */
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl = sizeof(ss);
    char text[16];
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        return mp_err(MP_ERR_NETWORK, "serve: getsockname: %s", strerror(errno));
    }
    unsigned p = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                          : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    snprintf(text, sizeof(text), "%u\n", p);
    fprintf(stderr, "matter-pki serve: listening on %s port %u\n", host, p);
    return port_file ? mp_write_file(port_file, text, strlen(text), 0644, 1) : MP_OK;
}

static int run(mp_cmd *mc, server *s, const mp_common *c, const serve_args *a)
{
    uint64_t jobs, rate, max_conn, timeout, group_ms;
    mp_serve_cfg cfg = {.test_mode = a->test_mode, .n_paa = a->n_paa};
    int rc;
    if ((rc = num(a->jobs, 4, 1, MP_MAX_JOBS, "jobs", &jobs)) != MP_OK ||
        (rc = num(a->rate, 0, 0, 1000000, "station-rate", &rate)) != MP_OK ||
        (rc = num(a->max_conn, 1024, 1, 1000000, "max-connections", &max_conn)) != MP_OK ||
        (rc = num(a->timeout, 10, 1, 3600, "timeout", &timeout)) != MP_OK ||
        (rc = num(a->group_ms, 2, 0, 1000, "group-ms", &group_ms)) != MP_OK) {
        return rc;
    }
    for (int i = 0; i < a->n_paa; i++) cfg.paa_certs[i] = a->paa[i];
    cfg.jobs = (int)jobs;
    cfg.group_ms = (int)group_ms;
    s->rate = (double)rate;
    s->max_conns = (long)max_conn;
    s->crl_path = a->station_crl;
    if ((rc = mp_cert_load(a->station_ca, &s->station_ca)) != MP_OK || (rc = mp_srv_load_store(s)) != MP_OK ||
        (rc = mp_cmd_open(mc, c)) != MP_OK ||
        /* a second ledger connection, opened here (not the dispatcher's):
         * the checks run on it, so that a group is checked while the one
         * before it commits on the dispatcher's */
        (rc = mp_ledger_open_state(c->state_dir, c->ledger, &cfg.ledger_rd)) != MP_OK) {
        goto end;
    }
    cfg.ledger = mc->ledger;
    cfg.ks = mc->ks;
    cfg.rec = &c->rec;
    if ((rc = mp_srv_make_ctx(s, cfg.ks, a->tls_cert, a->tls_key)) != MP_OK) {
        goto end;
    }
    s->ex_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, mp_srv_conn_free);
    if (evthread_use_pthreads() != 0 || (s->base = event_base_new()) == NULL || (s->http = evhttp_new(s->base)) == NULL) {
        rc = mp_err(MP_ERR_GENERAL, "cannot set up libevent");
        goto end;
    }
    evhttp_set_bevcb(s->http, mp_srv_new_conn, s);
    evhttp_set_gencb(s->http, on_request, s);
    evhttp_set_timeout(s->http, (int)timeout);
    evhttp_set_max_headers_size(s->http, 8192);
    evhttp_set_max_body_size(s->http, 64 * 1024); /* beyond: 413 and the connection closed; 4 KiB+ is refused with 400 */
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    s->done_ev = event_new(s->base, -1, 0, on_done, s);
    s->ev_term = evsignal_new(s->base, SIGTERM, on_term, s);
    s->ev_int = evsignal_new(s->base, SIGINT, on_term, s);
    s->ev_hup = evsignal_new(s->base, SIGHUP, on_hup, s);
    if (s->done_ev == NULL || s->ev_term == NULL || s->ev_int == NULL || s->ev_hup == NULL ||
        event_add(s->ev_term, NULL) != 0 || event_add(s->ev_int, NULL) != 0 || event_add(s->ev_hup, NULL) != 0) {
        rc = mp_err(MP_ERR_GENERAL, "cannot set up events");
        goto end;
    }
    signal(SIGPIPE, SIG_IGN);
    if ((rc = mp_issuer_start(&cfg, &s->m, job_done, s, &s->issuer)) != MP_OK ||
        (rc = bind_listen(s, a->listen, a->port_file)) != MP_OK) {
        goto end;
    }
    event_base_dispatch(s->base);
    fprintf(stderr, "matter-pki serve: stopped; %llu DAC(s) issued\n", atomic_load(&s->m.issued));
end:
    mp_issuer_stop(s->issuer);
    if (s->http) evhttp_free(s->http);
    if (s->done_ev) event_free(s->done_ev);
    if (s->ev_term) event_free(s->ev_term);
    if (s->ev_int) event_free(s->ev_int);
    if (s->ev_hup) event_free(s->ev_hup);
    if (s->base) event_base_free(s->base);
    SSL_CTX_free(s->ctx);
    X509_STORE_free(s->store);
    X509_free(s->station_ca);
    for (int i = 0; i < 256; i++) {
        while (s->buckets[i]) {
            bucket *b = s->buckets[i];
            s->buckets[i] = b->next;
            free(b);
        }
    }
    mp_ledger_close(cfg.ledger_rd); /* token and ledger: the dispatcher closes them */
    return rc;
}

int serve_main(mp_cmd *mc, int argc, char **argv)
{
    mp_common c = {0};
    serve_args a;
    memset(&a, 0, sizeof(a));
    int rc = parse(argc, argv, &c, &a);
    if (rc != 0) return rc == OPT_HELP ? MP_OK : -rc;
    server *s = calloc(1, sizeof(*s));
    if (s == NULL) return mp_err(MP_ERR_GENERAL, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    mp_srv_current = s;
    rc = run(mc, s, &c, &a);
    mp_srv_current = NULL;
    pthread_mutex_destroy(&s->mu);
    free(s);
    return rc;
}
