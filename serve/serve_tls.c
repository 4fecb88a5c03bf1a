/* serve_tls.c - TLS for `serve`: the context (TLS 1.2/1.3, client
 * certificates required, no renegotiation, the key in a file or the token),
 * each connection's state, and the station certificates (chain to the
 * station CA, validity, CRL), judged once per connection and CRL generation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "revocation/crl.h"
#include "serve/serve_http.h"
#include "util.h"
#include "x509.h"

server *mp_srv_current;

/* ---- station certificates --------------------------------------------------- */

int mp_srv_load_store(server *s)
{
    X509_STORE *st = X509_STORE_new();
    X509_CRL *crl = NULL;
    int rc = MP_OK;
    if (st == NULL || X509_STORE_add_cert(st, s->station_ca) != 1) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "cannot build the station certificate store");
    } else if (s->crl_path != NULL && (rc = mp_crl_load(s->crl_path, &crl)) == MP_OK) {
        if (X509_CRL_verify(crl, X509_get0_pubkey(s->station_ca)) != 1) {
            rc = mp_err_ssl(MP_ERR_VERIFY, "%s: not signed by the station CA", s->crl_path);
        } else if (X509_STORE_add_crl(st, crl) != 1) {
            rc = mp_err_ssl(MP_ERR_GENERAL, "cannot use the station CRL");
        } else {
            X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
        }
    }
    X509_CRL_free(crl);
    if (rc != MP_OK) {
        X509_STORE_free(st);
        return rc;
    }
    X509_STORE_free(s->store);
    s->store = st;
    s->gen++;
    return MP_OK;
}

/* The verdict on a connection's client certificate: chains to the station
 * CA, within its validity, clientAuth, not on the CRL (403 otherwise). */
conn_info *mp_srv_check_client(server *s, SSL *ssl)
{
    conn_info *ci = SSL_get_ex_data(ssl, s->ex_idx);
    double now = mp_now();
    if (ci == NULL) return NULL;
    if (ci->gen == s->gen && now - ci->at < 60) return ci;
    ci->gen = s->gen;
    ci->at = now;
    ci->status = 403;
    X509 *peer = SSL_get0_peer_certificate(ssl);
    if (peer == NULL) {
        snprintf(ci->why, sizeof(ci->why), "a client certificate is required");
        return ci;
    }
    X509_STORE_CTX *x = X509_STORE_CTX_new();
    int ok = x != NULL && X509_STORE_CTX_init(x, s->store, peer, SSL_get_peer_cert_chain(ssl)) == 1 &&
             X509_STORE_CTX_set_purpose(x, X509_PURPOSE_SSL_CLIENT) == 1 && X509_verify_cert(x) == 1;
    if (!ok) {
        snprintf(ci->why, sizeof(ci->why), "client certificate refused: %s",
                 x ? X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)) : "out of memory");
    }
    X509_STORE_CTX_free(x);
    ERR_clear_error();
    if (!ok) return ci;
    X509_NAME *n = X509_get_subject_name(peer);
    if (X509_NAME_get_text_by_NID(n, NID_commonName, ci->station, sizeof(ci->station)) <= 0 ||
        mp_station_name_check(ci->station) != MP_OK || mp_cert_serial_hex(peer, ci->serial) != MP_OK) {
        snprintf(ci->why, sizeof(ci->why), "client certificate has no valid station name (CN)");
        return ci;
    }
    ci->status = 0;
    return ci;
}

/* ---- TLS ------------------------------------------------------------------------ */

static int accept_any(int ok, X509_STORE_CTX *x)
{
    /* The handshake still proves the client holds the certificate's key;
     * the chain is judged per request so that a refusal is a 403 with a reason. */
    (void)ok;
    (void)x;
    return 1;
}

static int client_hello(SSL *ssl, int *al, void *arg)
{
    server *s = arg;
    conn_info *ci = SSL_get_ex_data(ssl, s->ex_idx);
    if (ci != NULL && ci->refuse) {
        *al = SSL_AD_INTERNAL_ERROR;
        atomic_fetch_add(&s->m.conn_refused, 1);
        return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

void mp_srv_conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    if (ptr != NULL && mp_srv_current != NULL) {
        atomic_fetch_sub(&mp_srv_current->conns, 1);
    }
    free(ptr);
}

struct bufferevent *mp_srv_new_conn(struct event_base *base, void *arg)
{
    server *s = arg;
    SSL *ssl = SSL_new(s->ctx);
    conn_info *ci = calloc(1, sizeof(*ci));
    if (ssl == NULL || ci == NULL || SSL_set_ex_data(ssl, s->ex_idx, ci) != 1) {
        free(ci);
        SSL_free(ssl);
        return NULL;
    }
    long n = atomic_fetch_add(&s->conns, 1) + 1;
    atomic_fetch_add(&s->m.connections, 1);
    ci->refuse = n > s->max_conns || s->draining;
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

static int load_key(SSL_CTX *ctx, mp_ks *ks, const char *ref)
{
    EVP_PKEY *k = NULL;
    if (strncmp(ref, "pkcs11:", 7) == 0) {
        mp_ks_key key;
        int rc = mp_ks_find(ks, ref, &key);
        if (rc != MP_OK) return rc;
        if ((k = mp_ks_signer(ks, &key)) == NULL) return mp_err_code() ? mp_err_code() : MP_ERR_GENERAL;
    } else {
        uint8_t *buf = NULL;
        size_t len = 0;
        int rc = mp_read_file(ref, 1 << 16, &buf, &len);
        if (rc != MP_OK) return rc;
        BIO *b = BIO_new_mem_buf(buf, (int)len);
        k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        BIO_free(b);
        mp_free_secret(buf, len);
        if (k == NULL) return mp_err_ssl(MP_ERR_INVALID, "%s: not a PEM private key", ref);
    }
    int ok = SSL_CTX_use_PrivateKey(ctx, k) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    EVP_PKEY_free(k);
    return ok ? MP_OK : mp_err_ssl(MP_ERR_MISMATCH, "--tls-key %s is not the key of --tls-cert", ref);
}

int mp_srv_make_ctx(server *s, mp_ks *ks, const char *cert, const char *key)
{
    static const unsigned char sid[] = "matter-pki-est";
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) return mp_err_ssl(MP_ERR_GENERAL, "SSL_CTX_new");
    s->ctx = ctx;
    STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
    X509_NAME *cn = X509_NAME_dup(X509_get_subject_name(s->station_ca));
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 || SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1 || names == NULL || cn == NULL ||
        sk_X509_NAME_push(names, cn) <= 0 || SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1) != 1) {
        sk_X509_NAME_free(names);
        X509_NAME_free(cn);
        return mp_err_ssl(MP_ERR_GENERAL, "cannot configure TLS");
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    /* Resumption through the server's session cache (stateful tickets), one
     * ticket per handshake: OpenSSL 3.0 builds each stateless ticket by
     * encoding the session and decoding it again, client certificate and
     * all (d2i_SSL_SESSION was a quarter of a full handshake's time). A
     * resumed connection keeps its client certificate and is checked again
     * against the station store and CRL at its first request. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, 4096);
    SSL_CTX_set_timeout(ctx, 300);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE, accept_any);
    SSL_CTX_set_client_hello_cb(ctx, client_hello, s);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        return mp_err_ssl(MP_ERR_INVALID, "--tls-cert %s: cannot load the certificate (chain)", cert);
    }
    return load_key(ctx, ks, key);
}

