/* va_codes.c - names of the attestation result codes and of the checks. */
#include "verify.h"

#include <stdlib.h>
#include <string.h>

typedef struct code_name {
    int code;
    const char *name;
} code_name;

static const code_name codes[] = {
    {0, "kSuccess"},
    {100, "kPaaUntrusted"}, {101, "kPaaNotFound"}, {102, "kPaaExpired"}, {103, "kPaaSignatureInvalid"},
    {104, "kPaaRevoked"}, {105, "kPaaFormatInvalid"}, {106, "kPaaArgumentInvalid"},
    {200, "kPaiExpired"}, {201, "kPaiSignatureInvalid"}, {202, "kPaiRevoked"}, {203, "kPaiFormatInvalid"},
    {204, "kPaiArgumentInvalid"}, {205, "kPaiVendorIdMismatch"}, {206, "kPaiAuthorityNotFound"},
    {207, "kPaiMissing"}, {208, "kPaiAndDacRevoked"},
    {300, "kDacExpired"}, {301, "kDacSignatureInvalid"}, {302, "kDacRevoked"}, {303, "kDacFormatInvalid"},
    {304, "kDacArgumentInvalid"}, {305, "kDacVendorIdMismatch"}, {306, "kDacProductIdMismatch"},
    {307, "kDacAuthorityNotFound"},
    {400, "kFirmwareInformationMismatch"}, {401, "kFirmwareInformationMissing"},
    {500, "kAttestationSignatureInvalid"}, {501, "kAttestationElementsMalformed"},
    {502, "kAttestationNonceMismatch"}, {503, "kAttestationSignatureInvalidFormat"},
    {600, "kCertificationDeclarationNoKeyId"}, {601, "kCertificationDeclarationNoCertificateFound"},
    {602, "kCertificationDeclarationInvalidSignature"}, {603, "kCertificationDeclarationInvalidFormat"},
    {604, "kCertificationDeclarationInvalidVendorId"}, {605, "kCertificationDeclarationInvalidProductId"},
    {606, "kCertificationDeclarationInvalidPAA"},
    {700, "kNoMemory"}, {701, "kInvalidArgument"}, {702, "kInternalError"}, {703, "kNotImplemented"},
};

const char *mp_va_code_name(int code)
{
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (codes[i].code == code) {
            return codes[i].name;
        }
    }
    return NULL;
}

int mp_va_code_parse(const char *s)
{
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (strcmp(codes[i].name, s) == 0) {
            return codes[i].code;
        }
    }
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end != s && *end == 0 && mp_va_code_name((int)v) != NULL) {
        return (int)v;
    }
    return -1;
}

typedef struct check_desc {
    const char *name, *about;
} check_desc;

/* Indexed by enum mp_va_check_id. */
static const check_desc checks[VC_COUNT] = {
    {"trust-store", "PAA files loaded into the trust store (format, <= 600 bytes)"},
    {"arguments", "DAC present (attestation elements: not part of a file check)"},
    {"pai-present", "PAI supplied"},
    {"pai-format", "PAI certificate format (VerifyAttestationCertificateFormat)"},
    {"dac-format", "DAC certificate format (VerifyAttestationCertificateFormat)"},
    {"sizes", "DAC and PAI <= 600 bytes (TC-DA-1.2/1.7)"},
    {"vid-pid", "VID/PID of DAC and PAI present and matching"},
    {"attestation-signature", "attestation signature over elements || challenge"},
    {"paa-lookup", "PAA whose SKID = PAI AKID in the trust store"},
    {"paa-vid-pid", "PAA VID = PAI VID when present; PAA without PID"},
    {"test-paa", "chain not under an SDK test PAA (TC-DA-1.7)"},
    {"issuer-names", "issuer DER = issuer's subject DER; PAI has one AKID (TC-DA-1.7)"},
    {"dac-validity", "DAC valid at the verification time"},
    {"chain", "PAA -> PAI -> DAC at the DAC's notBefore, X509_STRICT"},
    {"paa-skid", "PAA SKID extractable, 20 bytes"},
    {"attestation-elements", "attestation elements TLV and nonce"},
    {"cd-signature", "CD signer key id, trusted key, CMS signature, CD TLV"},
    {"cd-payload", "CD payload: format, vendor/product, dac_origin, authorized PAAs"},
    {"revocation", "DAC and PAI not revoked (CRL or revocation set)"},
};

const char *mp_va_check_name(int id)
{
    return id >= 0 && id < VC_COUNT ? checks[id].name : "?";
}

const char *mp_va_check_about(int id)
{
    return id >= 0 && id < VC_COUNT ? checks[id].about : "?";
}
