/* dcl_cd.c - the one place the DCL exporter reads a Certification
 * Declaration, through core/cd.h (see dcl_records.h). */
#include "dcl_records.h"

#include <stdlib.h>
#include <string.h>

#include "cd.h"

int dcl_cd_load(const char *path, dcl_cd *out)
{
    uint8_t *der = NULL;
    size_t len = 0;
    mp_cd_env env;
    mp_cd cd;
    int rc = mp_cd_read_file(path, &der, &len, &env, &cd);
    free(der);
    if (rc != MP_OK) {
        return mp_err_ctx(rc, "--cd %s", path);
    }
    memset(out, 0, sizeof(*out));
    out->vendor_id = cd.vendor_id;
    out->n_pids = cd.n_pids < 100 ? cd.n_pids : 100;
    memcpy(out->product_ids, cd.product_ids, out->n_pids * sizeof(uint16_t));
    memcpy(out->certificate_id, cd.certificate_id, sizeof(out->certificate_id));
    out->certificate_id[sizeof(out->certificate_id) - 1] = 0;
    out->version_number = cd.version_number;
    out->certification_type = cd.certification_type;
    return MP_OK;
}
