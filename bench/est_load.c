/* est_load.c - load generator for `matter-pki serve`: S stations, each one
 * keep-alive mTLS connection (libcurl multi, one event loop), enrolling
 * pre-made device CSRs for T seconds; or, with --handshakes, S clients
 * opening a new TLS connection for every GET /healthz.
 *
 *   est_load --url https://127.0.0.1:PORT --order big --dir BENCHDIR \
 *            --stations 16 --seconds 30 [--first N] [--handshakes]
 *
 * BENCHDIR is made by bench/est_setup.sh (stN.pem/stN.key, srvca.pem,
 * csrs/NNNNNNN.der). Prints one JSON line: requests, ok, failed, rate,
 * p50/p99 latency in ms, and the next unused CSR index. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "b64.h"

typedef struct st {
    CURL *h;
    char cert[4096], key[4096];
    char *body;
    double t0;
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

static void setup(st *s, const char *url, const char *ca, int handshakes)
{
    curl_easy_setopt(s->h, CURLOPT_URL, url);
    curl_easy_setopt(s->h, CURLOPT_CAINFO, ca);
    curl_easy_setopt(s->h, CURLOPT_SSLCERT, s->cert);
    curl_easy_setopt(s->h, CURLOPT_SSLKEY, s->key);
    curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(s->h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
    if (handshakes) {
        curl_easy_setopt(s->h, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(s->h, CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(s->h, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    }
}

int main(int argc, char **argv)
{
    const char *url = NULL, *order = "big", *dir = ".";
    int stations = 1, seconds = 10, handshakes = 0;
    long next = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--handshakes") == 0) handshakes = 1;
        else if (i + 1 >= argc) break;
        else if (strcmp(argv[i], "--url") == 0) url = argv[++i];
        else if (strcmp(argv[i], "--order") == 0) order = argv[++i];
        else if (strcmp(argv[i], "--dir") == 0) dir = argv[++i];
        else if (strcmp(argv[i], "--stations") == 0) stations = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0) seconds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--first") == 0) next = atol(argv[++i]);
    }
    if (url == NULL || stations < 1 || stations > 64 || seconds < 1) {
        fprintf(stderr, "usage: est_load --url URL --dir BENCHDIR [--order O] [--stations 1..64] [--seconds T] [--first N] [--handshakes]\n");
        return 2;
    }
    char full[1024], ca[4200];
    snprintf(full, sizeof(full), handshakes ? "%s/healthz" : "%s/.well-known/est/%s/simpleenroll", url, order);
    snprintf(ca, sizeof(ca), "%s/srvca.pem", dir);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    st *ss = calloc((size_t)stations, sizeof(st));
    size_t cap = 1 << 20, nlat = 0;
    double *lat = malloc(cap * sizeof(double));
    long ok = 0, failed = 0;
    double start = now(), end = start + seconds;
    int running = 0, exhausted = 0;
    for (int i = 0; i < stations; i++) {
        st *s = &ss[i];
        s->h = curl_easy_init();
        snprintf(s->cert, sizeof(s->cert), "%s/st%d.pem", dir, i + 1);
        snprintf(s->key, sizeof(s->key), "%s/st%d.key", dir, i + 1);
        s->hdr = curl_slist_append(NULL, "Content-Type: application/pkcs10");
        setup(s, full, ca, handshakes);
    }
    /* start every station */
    for (int i = 0; i < stations; i++) {
        st *s = &ss[i];
        if (!handshakes) {
            if ((s->body = load_csr(dir, next++)) == NULL) {
                exhausted = 1;
                break;
            }
            curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hdr);
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->body);
        }
        s->t0 = now();
        curl_multi_add_handle(m, s->h);
    }
    do {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 100, NULL);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE) continue;
            st *s = NULL;
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            double t = now();
            if (msg->data.result == CURLE_OK && code == 200) ok++;
            else failed++;
            if (nlat < cap) lat[nlat++] = t - s->t0;
            curl_multi_remove_handle(m, s->h);
            free(s->body);
            s->body = NULL;
            if (t >= end || exhausted) continue;
            if (!handshakes) {
                if ((s->body = load_csr(dir, next++)) == NULL) {
                    exhausted = 1;
                    continue;
                }
                curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->body);
            }
            s->t0 = now();
            curl_multi_add_handle(m, s->h);
            running++;
        }
    } while (running > 0);
    double el = now() - start;
    qsort(lat, nlat, sizeof(double), cmp_d);
    double p50 = nlat ? lat[nlat / 2] : 0, p99 = nlat ? lat[(size_t)((double)nlat * 0.99) < nlat ? (size_t)((double)nlat * 0.99) : nlat - 1] : 0;
    printf("{\"mode\":\"%s\",\"stations\":%d,\"seconds\":%.2f,\"ok\":%ld,\"failed\":%ld,\"rate\":%.1f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"next\":%ld%s}\n",
           handshakes ? "handshakes" : "enroll", stations, el, ok, failed, (double)ok / el, p50 * 1e3, p99 * 1e3, next,
           exhausted ? ",\"csrs_exhausted\":true" : "");
    for (int i = 0; i < stations; i++) {
        curl_easy_cleanup(ss[i].h);
        curl_slist_free_all(ss[i].hdr);
        free(ss[i].body);
    }
    curl_multi_cleanup(m);
    free(ss);
    free(lat);
    curl_global_cleanup();
    return failed > 0 && ok == 0;
}
