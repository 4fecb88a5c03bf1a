/* va_run.c - run the verifier's checks in order and record the verdicts. */
#include <stdio.h>
#include <string.h>

#include "va_int.h"

int mp_va_verify(const mp_va_input *in, mp_va_report *rep)
{
    va_ctx c = {.in = in, .rep = rep};
    int rc = MP_OK;
    memset(rep, 0, sizeof(*rep));
    rep->failed = -1;
    if (va_certs(&c) == 0 && va_chain(&c) == 0 && va_cd(&c) == 0) {
        int r = va_revocation(&c);
        rc = r > 0 ? r : MP_OK;
    }
    X509_free(c.dac);
    X509_free(c.pai);
    X509_free(c.paa);
    return rc;
}
