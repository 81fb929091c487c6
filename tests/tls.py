"""Throwaway TLS material for tests: a CA and a certificate for 127.0.0.1, made with openssl."""

from __future__ import annotations

import subprocess
from pathlib import Path


def openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def make_tls(root: Path) -> tuple[Path, Path]:
    """A CA (ca.pem) and a broker key + certificate chain for 127.0.0.1 (broker.pem)."""
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=surge-test-ca", "-keyout", root / "ca.key", "-out", root / "ca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", root / "broker.key", "-out", root / "broker.csr",
    )  # fmt: skip
    (root / "broker.ext").write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    openssl(
        "x509", "-req", "-days", "2", "-in", root / "broker.csr", "-CA", root / "ca.pem",
        "-CAkey", root / "ca.key", "-CAcreateserial", "-extfile", root / "broker.ext",
        "-out", root / "broker.crt",
    )  # fmt: skip
    # Kafka's PEM key store: the PKCS#8 private key, then the certificate chain.
    keystore = root / "broker.pem"
    keystore.write_text((root / "broker.key").read_text() + (root / "broker.crt").read_text())
    return root / "ca.pem", keystore
