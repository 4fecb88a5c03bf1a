/* serve_http.h - what the HTTP side of `serve` shares: cmd_serve.c (requests,
 * answers, the command) and serve_tls.c (TLS, station certificates). */
#ifndef MP_SERVE_HTTP_H
#define MP_SERVE_HTTP_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "keystore.h"
#include "serve/serve.h"

/* What the event loop knows about a TLS connection (SSL ex_data). */
typedef struct conn_info {
    unsigned gen;      /* station store generation of the cached verdict (0: none) */
    double at;
    int status;        /* 0 or 403 */
    char why[200];
    char station[128];
    char serial[41];
    int sock_set, refuse;
} conn_info;

typedef struct bucket {
    struct bucket *next;
    double tokens, last;
    char name[128];
} bucket;

typedef struct server {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    SSL_CTX *ctx;
    X509 *station_ca;
    const char *crl_path;
    X509_STORE *store;
    unsigned gen;
    int ex_idx;
    mp_issuer *issuer;
    struct event *done_ev, *ev_term, *ev_int, *ev_hup;
    pthread_mutex_t mu;
    job *done_head, *done_tail;
    long inflight;
    int draining;
    double rate;
    bucket *buckets[256];
    long max_conns;
    atomic_long conns;
    mp_metrics m;
} server;

extern server *mp_srv_current; /* the running server, for the SSL ex_data free callback */

/* The station CA's store with the CRL (--station-crl) read again; a new generation. */
int mp_srv_load_store(server *s) MP_MUST_CHECK;
/* The connection's client certificate judged (cached per connection and store generation). */
conn_info *mp_srv_check_client(server *s, SSL *ssl);
/* The TLS context: TLS 1.2/1.3, client certificates required, no renegotiation; KEY a file or pkcs11 URI. */
int mp_srv_make_ctx(server *s, mp_ks *ks, const char *cert, const char *key) MP_MUST_CHECK;
/* evhttp's bufferevent callback: a TLS connection (refused over --max-connections). */
struct bufferevent *mp_srv_new_conn(struct event_base *base, void *arg);
/* SSL ex_data free callback: the connection's conn_info. */
void mp_srv_conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp);

#endif
