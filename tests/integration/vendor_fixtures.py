#!/usr/bin/env python3
"""vendor_fixtures.py - chip-vendor deliveries for t_vendor.sh, made here with
keys made here (nothing copied from any vendor):

  manifest OUT N     a Microchip Trust Platform style manifest (JSON array of
                     flattened JWS entries, ES256 raw r||s, x5t#S256 of the
                     manifest signer, SecureElement payload with a JWK per slot
                     and x5c device + signer certificates), its signer and chip
                     root, and tampered variants
  bigmanifest OUT N  the same structure without x5c, for size tests (fast)
  csrs OUT N SIM     N device CSRs of simulated chips (folder and bundle), bad ones too
  infineon OUT N     OPTIGA Trust M style birth certificates: CN "Infineon IoT
                     Node" for every chip, files <ChipUID>_E0E0.pem, a chip dump
                     with the 0xC0 tag header, and a udid,certificate-file CSV
"""
import base64
import datetime
import hashlib
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import NameOID

NOW = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def key():
    return ec.generate_private_key(ec.SECP256R1())


def cert(subject_cn, pub, issuer_cert, issuer_key, ca, org=None, pathlen=None):
    name = [x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]
    if org:
        name.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    subj = x509.Name(name)
    b = (x509.CertificateBuilder().subject_name(subj)
         .issuer_name(issuer_cert.subject if issuer_cert else subj)
         .public_key(pub).serial_number(x509.random_serial_number())
         .not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=36500))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=pathlen), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
    if issuer_cert is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def pem(c):
    return c.public_bytes(serialization.Encoding.PEM)


def der(c):
    return c.public_bytes(serialization.Encoding.DER)


def write(path, data, mode="wb"):
    with open(path, mode) as f:
        f.write(data)


def coord(pub, which):
    n = pub.public_numbers()
    return b64u((n.x if which == "x" else n.y).to_bytes(32, "big"))


def jws(signer_key, signer_cert, payload_obj):
    prot = {"typ": "JWT", "alg": "ES256",
            "kid": b64u(signer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest),
            "x5t#S256": b64u(hashlib.sha256(der(signer_cert)).digest())}
    p = b64u(json.dumps(prot, separators=(",", ":")).encode())
    y = b64u(json.dumps(payload_obj, separators=(",", ":")).encode())
    r, s = utils.decode_dss_signature(signer_key.sign((p + "." + y).encode(), ec.ECDSA(hashes.SHA256())))
    return {"payload": y, "protected": p, "header": {"uniqueId": payload_obj["uniqueId"]},
            "signature": b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))}


def secure_element(uid, keys):
    org = {"organizationName": "Example Chips Inc", "organizationalUnitName": "Secure Products"}
    return {"version": 1, "model": "ATECC608B", "partNumber": "ATECC608B-TNGTLSU-G",
            "manufacturer": org, "provisioner": org, "distributor": org, "groupId": "1",
            "provisioningTimestamp": "2024-01-01T00:00:00.000Z", "uniqueId": uid,
            "publicKeySet": {"keys": keys}}


def jwk(slot, pub, x5c=None):
    k = {"kid": str(slot), "kty": "EC", "crv": "P-256", "x": coord(pub, "x"), "y": coord(pub, "y")}
    if x5c:
        k["x5c"] = [base64.b64encode(der(c)).decode() for c in x5c]
    return k


def uid_of(i):
    return "0123%014x" % (0xee0000 + i)


def manifest(out, n):
    os.makedirs(out, exist_ok=True)
    mk = key()
    mcert = cert("Example Manifest Signer", mk.public_key(), None, mk, False, org="Example Chips Inc")
    rk = key()
    root = cert("Example Root CA", rk.public_key(), None, rk, True, org="Example Chips Inc")
    sk = key()
    signer = cert("Example Signer FFFF", sk.public_key(), root, rk, True, org="Example Chips Inc", pathlen=0)
    ok = key()
    other = cert("Someone Else", ok.public_key(), None, ok, False)
    write(f"{out}/manifest-signer.pem", pem(mcert))
    write(f"{out}/root.pem", pem(root))
    write(f"{out}/other-signer.pem", pem(other))
    entries, keys = [], []
    for i in range(n):
        dk = key()
        keys.append(dk)
        uid = uid_of(i)
        dcert = cert("sn" + uid.upper(), dk.public_key(), signer, sk, False, org="Example Chips Inc")
        se = secure_element(uid, [jwk(0, dk.public_key(), [dcert, signer]),
                                  jwk(1, key().public_key()), jwk(2, key().public_key())])
        entries.append((se, jws(mk, mcert, se)))
    good = [e for _, e in entries]
    write(f"{out}/manifest.json", json.dumps(good, indent=2), "w")
    with open(f"{out}/expected.csv", "w") as f:
        for (se, _), dk in zip(entries, keys):
            n_ = dk.public_key().public_numbers()
            f.write("%s,04%064x%064x\n" % (se["uniqueId"].upper(), n_.x, n_.y))
    # tampered variants, each with one bad entry (the third, numbered 3)
    def variant(name, fn):
        v = json.loads(json.dumps(good))
        fn(v)
        write(f"{out}/{name}.json", json.dumps(v, indent=2), "w")

    def alter_payload(v):
        se = json.loads(base64.urlsafe_b64decode(v[2]["payload"] + "=="))
        se["publicKeySet"]["keys"][0]["x"], se["publicKeySet"]["keys"][0]["y"] = \
            coord(key().public_key(), "x"), coord(key().public_key(), "y")
        v[2]["payload"] = b64u(json.dumps(se, separators=(",", ":")).encode())
    variant("tamper-payload", alter_payload)

    def alter_sig(v):
        s = bytearray(base64.urlsafe_b64decode(v[2]["signature"] + "=="))
        s[10] ^= 1
        v[2]["signature"] = b64u(bytes(s))
    variant("tamper-signature", alter_sig)
    variant("other-signer", lambda v: v.__setitem__(2, jws(ok, other, entries[2][0])))
    variant("header-mismatch", lambda v: v[2]["header"].__setitem__("uniqueId", uid_of(999)))

    def swap_x5c(v):  # properly signed, but x5c[0] is another chip's certificate
        se = json.loads(json.dumps(entries[2][0]))
        se["publicKeySet"]["keys"][0]["x5c"][0] = entries[3][0]["publicKeySet"]["keys"][0]["x5c"][0]
        v[2] = jws(mk, mcert, se)
    variant("x5c-mismatch", swap_x5c)


def bigmanifest(out, n):
    os.makedirs(out, exist_ok=True)
    mk = key()
    mcert = cert("Example Manifest Signer", mk.public_key(), None, mk, False, org="Example Chips Inc")
    write(f"{out}/manifest-signer.pem", pem(mcert))
    with open(f"{out}/manifest.json", "w") as f:
        f.write("[")
        for i in range(n):
            se = secure_element(uid_of(i), [jwk(0, key().public_key())])
            f.write((",\n" if i else "\n") + json.dumps(jws(mk, mcert, se), separators=(",", ":")))
        f.write("\n]\n")


def tag_header(d):
    """OPTIGA Trust M data object 0xE0E0 layout: 0xC0, 2-byte length, 3-byte
    certificate-list length, 3-byte certificate length, then the DER."""
    n = len(d)
    return bytes([0xC0]) + (n + 6).to_bytes(2, "big") + (n + 3).to_bytes(3, "big") + n.to_bytes(3, "big") + d


def infineon(out, n):
    os.makedirs(f"{out}/bundle", exist_ok=True)
    rk = key()
    root = cert("Infineon OPTIGA(TM) Trust M CA 101", rk.public_key(), None, rk, True, org="Infineon Technologies AG")
    write(f"{out}/root.pem", pem(root))
    rows = []
    for i in range(n):
        dk = key()
        c = cert("Infineon IoT Node", dk.public_key(), root, rk, False, org="Infineon Technologies AG")
        chip = "CD16339301001C000%03X" % i
        name = f"{chip}_E0E0.pem"
        if i == n - 1:  # read from a chip dump: tag header before the DER
            name = f"{chip}_E0E0.bin"
            write(f"{out}/bundle/{name}", tag_header(der(c)))
        else:
            write(f"{out}/bundle/{name}", pem(c))
        rows.append((chip, name))
    with open(f"{out}/map.csv", "w") as f:
        f.write("udid,certificate-file\n")
        for chip, name in rows:
            f.write(f"{chip},{name}\n")


def csr(k, cn="device"):
    return (x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .sign(k, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))


def csrs(out, n, sim):
    """n device CSRs signed by the simulated chips' keys (SIM/device-keys.csv),
    as a folder (good ones PEM and DER) and a bundle, plus bad requests: a
    broken signature, an unknown key, the same device twice, not a request."""
    os.makedirs(f"{out}/dir", exist_ok=True)
    rows = [l.strip().split(",") for l in open(f"{sim}/device-keys.csv") if l.strip() and not l.startswith("udid")]
    bundle = []
    for i, (udid, scalar) in enumerate(rows[:n]):
        pem_ = csr(ec.derive_private_key(int(scalar, 16), ec.SECP256R1()), udid[:16])
        bundle.append(pem_)
        if i % 2:
            req = x509.load_pem_x509_csr(pem_)
            write(f"{out}/dir/{i:04d}-{udid[:8]}.der", req.public_bytes(serialization.Encoding.DER))
        else:
            write(f"{out}/dir/{i:04d}-{udid[:8]}.pem", pem_)
    # one more good request with attributes (an extension request), read in place too
    udid, scalar = rows[n]
    ext = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, udid[:16])]))
           .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
           .sign(ec.derive_private_key(int(scalar, 16), ec.SECP256R1()), hashes.SHA256()))
    write(f"{out}/dir/{n:04d}-{udid[:8]}-ext.pem", ext.public_bytes(serialization.Encoding.PEM))
    p384 = (x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "p384")]))
            .sign(ec.generate_private_key(ec.SECP384R1()), hashes.SHA256()))
    write(f"{out}/dir/p384.pem", p384.public_bytes(serialization.Encoding.PEM))
    broken = bytearray(x509.load_pem_x509_csr(bundle[0]).public_bytes(serialization.Encoding.DER))
    broken[-3] ^= 1
    bad = {"bad-signature.der": bytes(broken), "unknown-key.pem": csr(key()),
           "same-device.pem": csr(ec.derive_private_key(int(rows[1][1], 16), ec.SECP256R1()), "again"),
           "not-a-request.pem": b"hello\n"}
    for name, data in bad.items():
        write(f"{out}/dir/{name}", data)
    write(f"{out}/bundle.pem", b"".join(bundle[:2]) + bad["unknown-key.pem"] + b"".join(bundle[2:]) + bad["same-device.pem"])
    with open(f"{out}/good.txt", "w") as f:
        f.write("".join(u + "\n" for u, _ in rows[:n + 1]))


if __name__ == "__main__":
    cmd, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if cmd == "csrs":
        csrs(out, n, sys.argv[4])
    else:
        {"manifest": manifest, "bigmanifest": bigmanifest, "infineon": infineon}[cmd](out, n)
