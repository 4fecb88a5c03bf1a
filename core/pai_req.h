/* pai_req.h - PAI ceremony helpers shared by `pai create/csr` and `paa sign-pai`. */
#ifndef MP_PAI_REQ_H
#define MP_PAI_REQ_H

#include <stdint.h>

#include "ca.h"
#include "subject.h"
#include "x509.h"

/* A PAI CSR after its signature and subject were checked. */
typedef struct mp_pai_req {
    char cn[MP_MAX_CN + 1];
    uint16_t vid, pid;
    uint8_t point[65];
    mp_subject subj; /* the standard attributes, in the CSR's order */
} mp_pai_req;

int mp_pai_req_load(const char *path, mp_pai_req *req) MP_MUST_CHECK;
/* The PAA's VID, if it has one, must equal the PAI's. */
int mp_pai_check_vid(const mp_ca *paa, uint16_t vid) MP_MUST_CHECK;

#endif
