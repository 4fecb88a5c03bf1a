/* trust.c - see trust.h. */
#include "trust.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"
#include "x509.h"

int mp_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int wanted(const char *name, const char *ext)
{
    size_t n = strlen(name);
    if (name[0] == '.' || n < 5) return 0;
    const char *e = name + n - 4;
    if (ext != NULL) return strcmp(e, ext) == 0;
    return strcmp(e, ".der") == 0 || strcmp(e, ".pem") == 0;
}

int mp_trust_dir_files(const char *dir, const char *ext, char ***paths, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t cap = 16;
    char **v = NULL;
    *paths = NULL;
    *n = 0;
    if (d == NULL) return mp_err(MP_ERR_IO, "%s: cannot open the trust folder", dir);
    v = calloc(cap, sizeof(*v));
    while (v != NULL && (e = readdir(d)) != NULL) {
        char path[4096];
        if (!wanted(e->d_name, ext)) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (*n + 1 >= cap) {
            char **nv = realloc(v, 2 * cap * sizeof(*v));
            if (nv == NULL) break;
            v = nv;
            cap *= 2;
        }
        if ((v[*n] = strdup(path)) == NULL) break;
        (*n)++;
    }
    closedir(d);
    if (v == NULL || e != NULL) {
        mp_trust_files_free(v, *n);
        *n = 0;
        return mp_err(MP_ERR_GENERAL, "out of memory");
    }
    qsort(v, *n, sizeof(*v), cmp);
    *paths = v;
    return MP_OK;
}

void mp_trust_files_free(char **paths, size_t n)
{
    for (size_t i = 0; paths != NULL && i < n; i++) free(paths[i]);
    free(paths);
}

void mp_trust_cert_name(X509 *x, char out[static 120])
{
    char cn[65] = "cert", hex[41] = "";
    uint8_t skid[20];
    size_t o = 0;
    int i = X509_NAME_get_index_by_NID(X509_get_subject_name(x), NID_commonName, -1);
    if (i >= 0) {
        const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(X509_get_subject_name(x), i));
        const unsigned char *p = ASN1_STRING_get0_data(s);
        for (int k = 0; k < ASN1_STRING_length(s) && o < 48; k++) {
            char c = (char)p[k];
            int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
            cn[o++] = ok ? c : '_';
        }
        cn[o] = 0;
        if (o == 0) snprintf(cn, sizeof(cn), "cert");
    }
    if (mp_cert_skid(x, skid) == 0) mp_hex(skid, 20, hex, 1);
    snprintf(out, 120, "%s_%s", cn, hex);
}
