"""A throwaway CA certificate in PEM, for tests that need a `database.ca_bundle` file (the real
RDS bundle is fetched by users from AWS; tests never reach the internet)."""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def ca_pem(common_name: str = "Amazon RDS test Root CA", rds: bool = True) -> bytes:
    """A self-signed CA; `rds`: with the subject RDS's CAs have (O=Amazon Web Services, Inc.,
    OU=Amazon RDS)."""
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if rds:
        attributes = [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Amazon Web Services, Inc."),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Amazon RDS"),
            *attributes,
        ]
    name = x509.Name(attributes)
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def write_ca_bundle(path: Path, count: int = 2) -> Path:
    path.write_bytes(b"".join(ca_pem(f"Amazon RDS test CA {i}") for i in range(count)))
    return path
