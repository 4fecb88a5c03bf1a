/* est_load.c - load generator for `matter-pki serve`.
 *
 * Enrollment (default): S stations, each one keep-alive mTLS connection
 * (libcurl multi, one event loop), enrolling pre-made device CSRs for T
 * seconds. Closed loop by default (each station sends its next request when
 * the last one is answered: the most the server does at S requests in
 * flight); with --rate R, open loop at R requests per second in all, spread
 * evenly over the stations, each latency counted from the request's
 * scheduled time (a late server is not excused by a client that waited).
 *
 * --handshakes: S clients each opening a new TLS connection (full
 * handshake: ECDHE P-256, server and client certificates) for every GET
 * /healthz, with one OpenSSL context per client as a station keeps it;
 * --resume: the same, resuming the client's last session.
 *
 *   est_load --url https://127.0.0.1:PORT --dir BENCHDIR [--order big]
 *            [--stations 16] [--seconds 30] [--first N] [--rate R]
 *            [--handshakes [--resume]]
 *
 * BENCHDIR is made by bench/est_setup.sh (stN.pem/stN.key, srvca.pem,
 * csrs/NNNNNNN.der). Prints one JSON line: requests, ok, failed, rate,
 * p50/p99 latency in ms, and the next unused CSR index. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "b64.h"

typedef struct st {
    CURL *h;
    char cert[4096], key[4096];
    char *body;
    double t0;     /* scheduled (open loop) or sent (closed loop) */
    int busy;
    struct curl_slist *hdr;
} st;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t sink(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* base64 of the DER file csrs/IDX.der, or NULL when there is none */
static char *load_csr(const char *dir, long idx)
{
    char path[4200];
    uint8_t der[4096];
    snprintf(path, sizeof(path), "%s/csrs/%07ld.der", dir, idx);
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    size_t n = fread(der, 1, sizeof(der), f);
    fclose(f);
    char *b = malloc(4 * n / 3 + 8);
    if (b != NULL) mp_b64_encode(der, n, b, 4 * n / 3 + 8);
    return b;
}

typedef struct lat {
    double *v;
    size_t n, cap;
} lat;

static void lat_add(lat *l, double x)
{
    if (l->n < l->cap) l->v[l->n++] = x;
}

static void report(const char *mode, int stations, double el, long ok, long failed, lat *l, long next, int exhausted,
                   double offered, long reused)
{
    qsort(l->v, l->n, sizeof(double), cmp_d);
    size_t i99 = (size_t)((double)l->n * 0.99);
    double p50 = l->n ? l->v[l->n / 2] : 0, p99 = l->n ? l->v[i99 < l->n ? i99 : l->n - 1] : 0;
    printf("{\"mode\":\"%s\",\"stations\":%d,\"seconds\":%.2f,\"ok\":%ld,\"failed\":%ld,\"rate\":%.1f,\"p50_ms\":%.2f,"
           "\"p99_ms\":%.2f,\"next\":%ld",
           mode, stations, el, ok, failed, (double)ok / el, p50 * 1e3, p99 * 1e3, next);
    if (offered > 0) printf(",\"offered\":%.1f", offered);
    if (reused >= 0) printf(",\"reused\":%ld", reused); /* connections that resumed a session */
    struct rusage ru; /* the load generator's own CPU: its share of the cores */
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        printf(",\"client_cpu_s\":%.3f", (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                                              (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
    }
    printf("%s}\n", exhausted ? ",\"csrs_exhausted\":true" : "");
}

/* ---- new TLS connections -------------------------------------------------------- */

typedef struct hs {
    SSL_CTX *ctx;
    SSL *ssl;
    SSL_SESSION *sess;
    int fd, phase; /* 0 idle, 1 connecting, 2 handshake, 3 writing, 4 reading */
    double t0;
    size_t got;
} hs;

static void hs_close(hs *c, int keep_session)
{
    if (c->ssl != NULL) {
        if (keep_session) {
            /* the server closes without close_notify: shut quietly, else
             * OpenSSL marks the session not resumable at SSL_free */
            SSL_set_quiet_shutdown(c->ssl, 1);
            SSL_shutdown(c->ssl);
            SSL_SESSION *s = SSL_get1_session(c->ssl);
            if (s != NULL) {
                SSL_SESSION_free(c->sess);
                c->sess = s;
            }
        }
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->phase = 0;
}

static int hs_start(hs *c, const struct sockaddr_in *sa, int resume)
{
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->t0 = now();
    c->got = 0;
    if (connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0 && errno != EINPROGRESS) return -1;
    c->ssl = SSL_new(c->ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) return -1;
    if (resume && c->sess != NULL) SSL_set_session(c->ssl, c->sess);
    c->phase = 2;
    return 0;
}

/* Advance one client; returns 1 done ok, -1 failed, 0 in progress; *ev: poll events wanted. */
static int hs_step(hs *c, short *ev)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: est\r\nConnection: close\r\n\r\n";
    char buf[1024];
    for (;;) {
        int r, e;
        if (c->phase == 2) {
            r = SSL_connect(c->ssl);
            if (r == 1) {
                c->phase = 3;
                continue;
            }
        } else if (c->phase == 3) {
            r = SSL_write(c->ssl, req, (int)sizeof(req) - 1);
            if (r > 0) {
                c->phase = 4;
                continue;
            }
        } else {
            r = SSL_read(c->ssl, buf, sizeof(buf));
            if (r > 0) {
                c->got += (size_t)r;
                continue;
            }
            e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && c->got > 0)) return c->got > 12 ? 1 : -1;
        }
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) {
            *ev = POLLIN;
            return 0;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            *ev = POLLOUT;
            return 0;
        }
        if (getenv("EST_LOAD_DEBUG")) {
            fprintf(stderr, "est_load: phase %d: SSL error %d, errno %d\n", c->phase, e, errno);
            ERR_print_errors_fp(stderr);
        }
        ERR_clear_error();
        return -1;
    }
}

static int handshakes(const char *url, const char *dir, int n, int seconds, int resume)
{
    char host[256] = "127.0.0.1", path[4200];
    int port = 0;
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    if (sscanf(p, "%255[^:]:%d", host, &port) != 2) {
        fprintf(stderr, "est_load: --url https://HOST:PORT\n");
        return 2;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &sa.sin_addr);
    hs *cs = calloc((size_t)n, sizeof(hs));
    struct pollfd *pf = calloc((size_t)n, sizeof(struct pollfd));
    lat l = {malloc((1 << 20) * sizeof(double)), 0, 1 << 20};
    for (int i = 0; i < n; i++) {
        hs *c = &cs[i];
        c->fd = -1;
        c->ctx = SSL_CTX_new(TLS_client_method());
        snprintf(path, sizeof(path), "%s/srvca.pem", dir);
        SSL_CTX_load_verify_locations(c->ctx, path, NULL);
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
        SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF); /* evhttp closes without close_notify */
        snprintf(path, sizeof(path), "%s/st%d.pem", dir, i % 64 + 1);
        SSL_CTX_use_certificate_chain_file(c->ctx, path);
        snprintf(path, sizeof(path), "%s/st%d.key", dir, i % 64 + 1);
        SSL_CTX_use_PrivateKey_file(c->ctx, path, SSL_FILETYPE_PEM);
        if (!resume) SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
    }
    long ok = 0, failed = 0, reused = 0;
    double start = now(), end = start + seconds;
    int active = 0;
    for (int i = 0; i < n; i++) {
        if (hs_start(&cs[i], &sa, resume) == 0) active++;
        else {
            failed++;
            hs_close(&cs[i], 0);
        }
    }
    while (active > 0) {
        for (int i = 0; i < n; i++) {
            hs *c = &cs[i];
            pf[i].fd = -1;
            pf[i].revents = 0;
            if (c->phase == 0) continue;
            short ev = 0;
            int r = hs_step(c, &ev);
            if (r == 0) {
                pf[i].fd = c->fd;
                pf[i].events = ev;
                continue;
            }
            double t = now();
            if (r == 1) {
                ok++;
                reused += SSL_session_reused(c->ssl) == 1;
                lat_add(&l, t - c->t0);
            } else {
                failed++;
            }
            hs_close(c, resume && r == 1);
            active--;
            if (t < end) {
                if (hs_start(c, &sa, resume) == 0) {
                    active++;
                    i--; /* step it at once */
                } else {
                    failed++;
                    hs_close(c, 0);
                }
            }
        }
        if (active > 0) poll(pf, (nfds_t)n, 100);
    }
    report(resume ? "resumed" : "handshakes", n, now() - start, ok, failed, &l, 0, 0, 0, reused);
    for (int i = 0; i < n; i++) {
        SSL_SESSION_free(cs[i].sess);
        SSL_CTX_free(cs[i].ctx);
    }
    free(cs);
    free(pf);
    free(l.v);
    return failed > 0 && ok == 0;
}

/* ---- enrollments ------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *url = NULL, *order = "big", *dir = ".";
    int stations = 1, seconds = 10, hshakes = 0, resume = 0;
    double rate = 0;
    long next = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--handshakes") == 0) hshakes = 1;
        else if (strcmp(argv[i], "--resume") == 0) resume = 1;
        else if (i + 1 >= argc) break;
        else if (strcmp(argv[i], "--url") == 0) url = argv[++i];
        else if (strcmp(argv[i], "--order") == 0) order = argv[++i];
        else if (strcmp(argv[i], "--dir") == 0) dir = argv[++i];
        else if (strcmp(argv[i], "--stations") == 0) stations = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0) seconds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--first") == 0) next = atol(argv[++i]);
        else if (strcmp(argv[i], "--rate") == 0) rate = atof(argv[++i]);
    }
    if (url == NULL || stations < 1 || stations > 256 || seconds < 1 || rate < 0) {
        fprintf(stderr, "usage: est_load --url URL --dir BENCHDIR [--order O] [--stations 1..256] [--seconds T] [--first N]"
                        " [--rate R] [--handshakes [--resume]]\n");
        return 2;
    }
    if (hshakes) return handshakes(url, dir, stations, seconds, resume);
    char full[1024], ca[4200];
    snprintf(full, sizeof(full), "%s/.well-known/est/%s/simpleenroll", url, order);
    snprintf(ca, sizeof(ca), "%s/srvca.pem", dir);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    /* the connection cache holds 4 x the handles added at the time: paced,
     * with a quarter of the stations busy, it closed kept-alive connections
     * and most requests paid a new TLS handshake */
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)stations + 8);
    st *ss = calloc((size_t)stations, sizeof(st));
    lat l = {malloc((1 << 20) * sizeof(double)), 0, 1 << 20};
    long ok = 0, failed = 0;
    double start = now(), end = start + seconds, interval = rate > 0 ? stations / rate : 0;
    int running = 0, exhausted = 0, busy = 0;
    for (int i = 0; i < stations; i++) {
        st *s = &ss[i];
        s->h = curl_easy_init();
        snprintf(s->cert, sizeof(s->cert), "%s/st%d.pem", dir, i % 64 + 1);
        snprintf(s->key, sizeof(s->key), "%s/st%d.key", dir, i % 64 + 1);
        s->hdr = curl_slist_append(NULL, "Content-Type: application/pkcs10");
        curl_easy_setopt(s->h, CURLOPT_URL, full);
        curl_easy_setopt(s->h, CURLOPT_CAINFO, ca);
        curl_easy_setopt(s->h, CURLOPT_SSLCERT, s->cert);
        curl_easy_setopt(s->h, CURLOPT_SSLKEY, s->key);
        curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(s->h, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
        curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hdr);
    }
    /* warm-up, not counted: every station opens its connection (TLS
     * handshake) with a GET /healthz, as a station would before its shift;
     * else the first requests of a paced run wait behind 64 handshakes */
    char health[1100];
    snprintf(health, sizeof(health), "%s/healthz", url);
    for (int i = 0; i < stations; i++) {
        curl_easy_setopt(ss[i].h, CURLOPT_URL, health);
        curl_easy_setopt(ss[i].h, CURLOPT_HTTPGET, 1L);
        curl_multi_add_handle(m, ss[i].h);
    }
    do {
        curl_multi_perform(m, &running);
        if (running > 0) curl_multi_poll(m, NULL, 0, 100, NULL);
    } while (running > 0);
    for (int i = 0; i < stations; i++) {
        curl_multi_remove_handle(m, ss[i].h);
        curl_easy_setopt(ss[i].h, CURLOPT_URL, full);
    }
    CURLMsg *wm;
    int wleft;
    while ((wm = curl_multi_info_read(m, &wleft)) != NULL) {
    }
    start = now();
    end = start + seconds;
    for (int i = 0; i < stations; i++) {
        /* open loop: station i starts at its share of the first interval */
        ss[i].t0 = start + (interval > 0 ? interval * i / stations : 0);
    }
    for (;;) {
        double t = now();
        /* start every idle station whose time has come */
        double wait_ms = 100;
        for (int i = 0; i < stations && !exhausted; i++) {
            st *s = &ss[i];
            if (s->busy || s->t0 >= end) continue;
            if (s->t0 > t) {
                double w = (s->t0 - t) * 1e3;
                if (w < wait_ms) wait_ms = w;
                continue;
            }
            if ((s->body = load_csr(dir, next++)) == NULL) {
                exhausted = 1;
                break;
            }
            if (interval == 0) s->t0 = t;
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->body);
            curl_multi_add_handle(m, s->h);
            s->busy = 1;
            busy++;
        }
        if (busy == 0) {
            int more = 0;
            for (int i = 0; i < stations && !exhausted; i++) more |= ss[i].t0 < end;
            if (!more) break;
        }
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, wait_ms < 1 ? 1 : (int)wait_ms, NULL);
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE) continue;
            st *s = NULL;
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            double tt = now();
            if (msg->data.result == CURLE_OK && code == 200) ok++;
            else failed++;
            lat_add(&l, tt - s->t0);
            curl_multi_remove_handle(m, s->h);
            free(s->body);
            s->body = NULL;
            s->busy = 0;
            busy--;
            /* closed loop: at once; open loop: its next slot, even if that has passed */
            s->t0 = interval > 0 ? s->t0 + interval : tt;
        }
    }
    report(rate > 0 ? "enroll-paced" : "enroll", stations, now() - start, ok, failed, &l, next, exhausted, rate, -1L);
    for (int i = 0; i < stations; i++) {
        curl_easy_cleanup(ss[i].h);
        curl_slist_free_all(ss[i].hdr);
        free(ss[i].body);
    }
    curl_multi_cleanup(m);
    free(ss);
    free(l.v);
    curl_global_cleanup();
    return failed > 0 && ok == 0;
}
