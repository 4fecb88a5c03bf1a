/* cmd_station_ca.c - the station CA: `station ca create` (a CA key of its own in
 * the token, never the PAA's or a PAI's), `station issue` (a clientAuth
 * certificate for a factory station's own key), `station revoke` and
 * `station crl` (what the EST server reloads on SIGHUP). Station
 * certificates are recorded in the ledger, so the server also refuses a
 * revoked station before the next CRL is published. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "ceremony.h"
#include "est/est.h"
#include "ledger.h"
#include "opts.h"
#include "src/commands.h"
#include "util.h"
#include "x509_build.h"

enum { O_KEY_LABEL = 1, O_CN, O_OUT, O_DAYS, O_CSR, O_CA_CERT, O_CA_KEY, O_FROM };

#define LEDGER_OPT {"ledger", OPT_LEDGER, OT_STR, "PATH", "ledger database (default STATE_DIR/ledger.sqlite)"}

/* ---- station ca create ---------------------------------------------------- */

typedef struct ca_args {
    const char *cn;
    long days;
} ca_args;

static int build_station_ca(void *ctx, const mp_ks_key *key, EVP_PKEY *own, X509 **out)
{
    static const mp_conf_ext exts[] = {
        {NID_basic_constraints, "critical,CA:TRUE,pathlen:0"}, {NID_key_usage, "critical,keyCertSign,cRLSign"},
        {NID_subject_key_identifier, "hash"}, {NID_authority_key_identifier, "keyid:always"}, {0, NULL},
    };
    ca_args *a = ctx;
    (void)key;
    return mp_cert_build_conf(a->cn, time(NULL) - 300, a->days, own, NULL, exts, own, "station CA certificate", out);
}

static const mp_opt ca_opts[] = {
    {"key-label", O_KEY_LABEL, OT_STR | OT_REQUIRED, "LABEL", "label of the new station CA key in the token"},
    {"cn", O_CN, OT_STR | OT_REQUIRED, "NAME", "subject CN of the station CA"},
    {"days", O_DAYS, OT_UINT, "N", "validity in days (default 3650)"},
    {"out", O_OUT, OT_OUT | OT_REQUIRED, "FILE", "station CA certificate, PEM"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace an existing output file"},
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

int station_ca_create_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *label = NULL, *out = NULL, *days = "3650";
    ca_args a = {0};
    int id, rc;
    mp_opt_init(&p, argc, argv, ca_opts, "station ca create", "--key-label LABEL --cn NAME --out station-ca.pem [--days N]",
                "Generates the station CA key in the token (a new key: never the PAA's or a PAI's)\n"
                "and self-signs its certificate. It signs only factory stations' TLS client\n"
                "certificates (`station issue`) and their CRL (`station crl`).");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id == O_KEY_LABEL) label = val;
        else if (id == O_CN) a.cn = val;
        else if (id == O_OUT) out = val;
        else if (id == O_DAYS) days = val;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "station ca create: unexpected argument '%s'", val ? val : "");
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    label = mp_opt_given(label);
    a.cn = mp_opt_given(a.cn);
    out = mp_opt_given(out);
    a.days = (long)mp_opt_uint(days);
    if (a.days < 1 || a.days > 36500) {
        return mp_err(MP_ERR_USAGE, "station ca create: --days 1..36500");
    }
    if (strlen(a.cn) == 0 || strlen(a.cn) > 64) {
        return mp_err(MP_ERR_INVALID, "--cn: 1..64 characters");
    }
    if ((rc = mp_check_output(out, c.force)) != MP_OK || (rc = mp_cmd_open(mc, &c)) != MP_OK) {
        return rc;
    }
    rc = mp_key_ceremony(mc->ks, &c.rec, "station ca create", label, build_station_ca, &a, out);
    if (rc == MP_OK) printf("station CA '%s' (key %s) written to %s\n", a.cn, label, out);
    return rc;
}

int station_ca_main(mp_cmd *mc, int argc, char **argv)
{
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        return station_ca_create_main(mc, argc, argv);
    }
    if (argc < 1 || strcmp(argv[0], "create") != 0) {
        return mp_err(MP_ERR_USAGE, "station ca: the only subcommand is 'station ca create'");
    }
    return station_ca_create_main(mc, argc - 1, argv + 1);
}

/* ---- the station CA as an issuer ---------------------------------------------- */

typedef struct station_ca {
    X509 *cert;
    mp_ks_key key;
    EVP_PKEY *signer;
} station_ca;

static int ca_open(mp_ks *ks, const char *cert, const char *key, station_ca *ca)
{
    uint8_t point[65];
    int rc;
    if ((rc = mp_cert_load(cert, &ca->cert)) != MP_OK || (rc = mp_ks_find(ks, key, &ca->key)) != MP_OK) {
        return rc;
    }
    if (X509_check_ca(ca->cert) == 0) {
        return mp_err(MP_ERR_PROFILE, "%s is not a CA certificate", cert);
    }
    if (mp_cert_point(ca->cert, point) != MP_OK || memcmp(point, ca->key.point, 65) != 0) {
        return mp_err(MP_ERR_MISMATCH, "%s is not the certificate of token key %s", cert, key);
    }
    if ((ca->signer = mp_ks_signer(ks, &ca->key)) == NULL) {
        return mp_err_code() ? mp_err_code() : MP_ERR_GENERAL;
    }
    return MP_OK;
}

static void ca_close(station_ca *ca)
{
    X509_free(ca->cert);
    EVP_PKEY_free(ca->signer);
}

/* ---- station issue ---------------------------------------------------------- */

static const mp_opt issue_opts[] = {
    {"csr", O_CSR, OT_FILE | OT_REQUIRED, "FILE", "the station's PKCS#10 request, PEM or DER"},
    {"days", O_DAYS, OT_UINT, "N", "validity in days (default 90)"},
    {"valid-from", O_FROM, OT_DATE, "DATE", "notBefore (default: now)"},
    {"out", O_OUT, OT_OUT | OT_REQUIRED, "FILE", "station certificate, PEM"},
    {"ca-cert", O_CA_CERT, OT_FILE | OT_REQUIRED, "FILE", "station CA certificate"},
    {"ca-key", O_CA_KEY, OT_STR | OT_REQUIRED, "LABEL|URI", "station CA key in the token"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace an existing output file"},
    LEDGER_OPT,
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

static int load_req(const char *path, X509_REQ **out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = mp_read_file(path, 64 * 1024, &buf, &len);
    if (rc != MP_OK) return rc;
    BIO *b = BIO_new_mem_buf(buf, (int)len);
    X509_REQ *r = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
    if (r == NULL) {
        const unsigned char *q = buf;
        ERR_clear_error();
        r = d2i_X509_REQ(NULL, &q, (long)len);
    }
    BIO_free(b);
    free(buf);
    if (r == NULL) {
        return mp_err_ssl(MP_ERR_INVALID, "%s: not a PKCS#10 request (PEM or DER)", path);
    }
    EVP_PKEY *k = X509_REQ_get0_pubkey(r);
    if (k == NULL || X509_REQ_verify(r, k) != 1) {
        X509_REQ_free(r);
        return mp_err_ssl(MP_ERR_VERIFY, "%s: the request's signature does not verify", path);
    }
    *out = r;
    return MP_OK;
}

static int build_station_cert(station_ca *ca, const char *name, time_t nb, long days, X509_REQ *req, X509 **out)
{
    static const mp_conf_ext exts[] = {
        {NID_basic_constraints, "critical,CA:FALSE"}, {NID_key_usage, "critical,digitalSignature"},
        {NID_ext_key_usage, "clientAuth"}, {NID_subject_key_identifier, "hash"},
        {NID_authority_key_identifier, "keyid:always"}, {0, NULL},
    };
    return mp_cert_build_conf(name, nb, days, X509_REQ_get0_pubkey(req), ca->cert, exts, ca->signer, "station certificate", out);
}

int station_issue_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *name = NULL, *csr = NULL, *out = NULL, *days = "90", *cert = NULL, *key = NULL;
    const char *from = NULL;
    time_t nb = time(NULL) - 300;
    station_ca ca = {0};
    X509_REQ *req = NULL;
    X509 *x = NULL;
    int id, rc;
    mp_opt_init(&p, argc, argv, issue_opts, "station issue",
                "NAME --csr station.csr --ca-cert station-ca.pem --ca-key LABEL --out station.pem [--days N]",
                "Signs a TLS client certificate (clientAuth, CN = NAME) for a factory station's\n"
                "own key (the key stays on the station) with the station CA key in the token,\n"
                "and records it in the ledger.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id == OPT_POSITIONAL && name == NULL) name = val;
        else if (id == O_CSR) csr = val;
        else if (id == O_OUT) out = val;
        else if (id == O_DAYS) days = val;
        else if (id == O_CA_CERT) cert = val;
        else if (id == O_CA_KEY) key = val;
        else if (id == O_FROM) from = val;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "station issue: unexpected argument '%s'", val ? val : "");
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    long d = (long)mp_opt_uint(days);
    if (name == NULL) return mp_err(MP_ERR_USAGE, "station issue: NAME is required"); /* an operand */
    if (d < 1 || d > 3650) return mp_err(MP_ERR_USAGE, "station issue: --days 1..3650");
    if (from != NULL && (rc = mp_parse_time(from, &nb)) != MP_OK) return rc;
    if ((rc = mp_station_name_check(name)) != MP_OK || (rc = mp_check_output(out, c.force)) != MP_OK ||
        (rc = load_req(csr, &req)) != MP_OK || (rc = mp_cmd_open(mc, &c)) != MP_OK ||
        (rc = ca_open(mc->ks, cert, key, &ca)) != MP_OK || (rc = build_station_cert(&ca, name, nb, d, req, &x)) != MP_OK) {
        goto end;
    }
    mp_ledger *l = mc->ledger;
    mp_station_cert sc = {.revoked = 0};
    snprintf(sc.name, sizeof(sc.name), "%s", name);
    if ((rc = mp_cert_serial_hex(x, sc.serial)) != MP_OK || mp_asn1_time(X509_get0_notAfter(x), &sc.not_after) != 0) {
        rc = rc ? rc : mp_err(MP_ERR_GENERAL, "cannot read the new certificate's notAfter");
        goto end;
    }
    /* Recorded first: a certificate the ledger does not know is refused by the server. */
    if ((rc = mp_ledger_begin(l)) == MP_OK && (rc = mp_ledger_add_station_cert(l, &sc)) == MP_OK) {
        rc = mp_ledger_commit(l);
    }
    mp_ledger_rollback(l);
    if (rc == MP_OK && (rc = mp_cert_write_pem(out, x, c.force)) == MP_OK) {
        rc = mp_ceremony_log_signed(&c.rec, "station issue", mc->ks, &ca.key, x, out);
    }
    if (rc == MP_OK) printf("station %s: certificate serial %s written to %s\n", name, sc.serial, out);
end:
    X509_free(x);
    X509_REQ_free(req);
    ca_close(&ca);
    return rc;
}

/* ---- station revoke / station crl -------------------------------------------- */

static const mp_opt revoke_opts[] = {
    LEDGER_OPT,
    MP_OPTS_HSM, /* the token opened at the end for the audit checkpoint (audit_end.h) */
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

int station_revoke_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *name = NULL;
    uint64_t n = 0;
    int id, rc;
    mp_opt_init(&p, argc, argv, revoke_opts, "station revoke", "NAME",
                "Revokes every certificate of station NAME in the ledger: the EST server refuses\n"
                "it at once (it checks the ledger); `station crl` publishes it.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id == OPT_POSITIONAL && name == NULL) name = val;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "station revoke: unexpected argument '%s'", val ? val : "");
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    if (name == NULL) return mp_err(MP_ERR_USAGE, "station revoke: NAME is required");
    if ((rc = mp_cmd_open(mc, &c)) != MP_OK) return rc;
    mp_ledger *l = mc->ledger;
    if ((rc = mp_ledger_begin(l)) == MP_OK && (rc = mp_ledger_revoke_station(l, name, &n)) == MP_OK) {
        rc = mp_ledger_commit(l);
    }
    mp_ledger_rollback(l);
    if (rc == MP_OK && n == 0) {
        return mp_err(MP_ERR_INVALID, "station %s has no certificate that is not revoked yet", name);
    }
    if (rc == MP_OK) printf("station %s: %llu certificate(s) revoked\n", name, (unsigned long long)n);
    return rc;
}

static int add_revoked(void *ctx, const mp_station_cert *sc)
{
    return mp_crl_add_revoked(ctx, sc->serial, sc->revoked_at, NULL, NULL);
}

static int build_crl(station_ca *ca, mp_ledger *l, long days, X509_CRL **out)
{
    uint8_t skid[20];
    char hex[8 + 40 + 1]; /* "station:" + the SKID in hex + NUL */
    uint64_t number;
    time_t now = time(NULL);
    X509_CRL *crl = NULL;
    int rc;
    if (mp_cert_skid(ca->cert, skid) != 0) return mp_err_ssl(MP_ERR_GENERAL, "cannot build the CRL");
    if ((rc = mp_crl_frame(ca->cert, now, now + (time_t)days * 86400, &crl)) != MP_OK) return rc;
    /* CRL numbers share the PAI CRLs' counter table, keyed "station:SKID". */
    memcpy(hex, "station:", 8);
    mp_hex(skid, 20, hex + 8, 1);
    if ((rc = mp_ledger_begin(l)) != MP_OK || (rc = mp_ledger_each_station_revoked(l, add_revoked, crl)) != MP_OK ||
        (rc = mp_ledger_next_crl_number(l, hex, &number)) != MP_OK || (rc = mp_ledger_commit(l)) != MP_OK) {
        mp_ledger_rollback(l);
    } else if ((rc = mp_crl_seal(crl, ca->cert, ca->signer, number, NULL, 0)) == MP_OK) {
        *out = crl;
        crl = NULL;
    }
    X509_CRL_free(crl);
    return rc;
}

static const mp_opt crl_opts[] = {
    {"ca-cert", O_CA_CERT, OT_FILE | OT_REQUIRED, "FILE", "station CA certificate"},
    {"ca-key", O_CA_KEY, OT_STR | OT_REQUIRED, "LABEL|URI", "station CA key in the token"},
    {"out", O_OUT, OT_OUT | OT_REQUIRED, "FILE", "CRL output, PEM"},
    {"days", O_DAYS, OT_UINT, "N", "nextUpdate = now + N days (default 7)"},
    {"force", OPT_FORCE, OT_FLAG, NULL, "replace an existing output file"},
    LEDGER_OPT,
    MP_OPTS_HSM,
    MP_OPTS_COMMON,
    {NULL, 0, 0, NULL, NULL},
};

int station_crl_main(mp_cmd *mc, int argc, char **argv)
{
    mp_optparse p;
    mp_common c = {0};
    const char *val, *cert = NULL, *key = NULL, *out = NULL, *days = "7";
    station_ca ca = {0};
    X509_CRL *crl = NULL;
    BIO *mem = NULL;
    int id, rc;
    mp_opt_init(&p, argc, argv, crl_opts, "station crl", "--ca-cert station-ca.pem --ca-key LABEL --out station-crl.pem [--days N]",
                "Signs the CRL of revoked station certificates (PEM) with the station CA key.\n"
                "`serve --station-crl FILE` reads it again on SIGHUP.");
    while ((id = mp_opt_next(&p, &val)) > 0) {
        if (id == OPT_HELP) return MP_OK;
        if (id == O_CA_CERT) cert = val;
        else if (id == O_CA_KEY) key = val;
        else if (id == O_OUT) out = val;
        else if (id == O_DAYS) days = val;
        else if (!mp_opt_common(&c, id, val)) return mp_err(MP_ERR_USAGE, "station crl: unexpected argument '%s'", val ? val : "");
    }
    if (id < 0) return -id;
    mp_common_finish(&c);
    long d = (long)mp_opt_uint(days);
    if (d < 1 || d > 3650) return mp_err(MP_ERR_USAGE, "station crl: --days 1..3650");
    if ((rc = mp_check_output(out, c.force)) != MP_OK || (rc = mp_cmd_open(mc, &c)) != MP_OK ||
        (rc = ca_open(mc->ks, cert, key, &ca)) != MP_OK || (rc = build_crl(&ca, mc->ledger, d, &crl)) != MP_OK) {
        goto end;
    }
    char *pem = NULL;
    long n;
    if ((mem = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509_CRL(mem, crl) != 1 ||
        (n = BIO_get_mem_data(mem, &pem)) <= 0) {
        rc = mp_err_ssl(MP_ERR_GENERAL, "cannot encode the CRL");
        goto end;
    }
    if ((rc = mp_write_file(out, pem, (size_t)n, 0644, c.force)) == MP_OK) {
        printf("station CRL with %d revoked certificate(s) written to %s\n",
               sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), out);
    }
end:
    BIO_free(mem);
    X509_CRL_free(crl);
    ca_close(&ca);
    return rc;
}
