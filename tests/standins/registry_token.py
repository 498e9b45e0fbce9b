"""Stand-in: a registry token server (Docker token auth) for distribution's `auth: token` mode.

It makes a self-signed RSA-2048 CA certificate (KeyUsage digitalSignature, which distribution 2.8 requires),
writes it to the PEM the registry trusts, and issues RS256 JWTs with an ``x5c`` header. Authenticated callers
get the actions they ask for; anonymous callers get ``pull`` on ``public/*`` only. Every request is recorded.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.standins._http import Request, Response, StandinServer

ISSUER = "homeops-test-issuer"
SERVICE = "homeops-test"


class TokenServer:
    """``GET /token?service=&scope=…`` → ``{"token","access_token","expires_in","issued_at"}``."""

    def __init__(self, pem_path: Path, users: dict[str, str]) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.users = users
        self.pem_path = pem_path
        self.expires_in = 300
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "homeops-test-token")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        pem_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.server = StandinServer(self.handle)
        self.url = self.server.url
        self.realm = f"{self.url}/token"

    def token_requests(self) -> list[Request]:
        return self.server.seen("GET", "/token")

    def sign(self, access: list[dict[str, Any]], subject: str) -> str:
        import jwt

        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + self.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"typ": "JWT", "x5c": [self.x5c]})

    def handle(self, req: Request) -> Response:
        if req.path != "/token":
            return Response.text("not found", 404)
        user = ""
        header = req.headers.get("Authorization", "")
        if header:
            try:
                user, _, password = base64.b64decode(header.split(" ", 1)[1]).decode().partition(":")
            except Exception:
                return Response(401, b"bad auth", {"WWW-Authenticate": 'Basic realm="token"'})
            if self.users.get(user) != password:
                return Response(401, b"bad credentials", {"WWW-Authenticate": 'Basic realm="token"'})
        access = []
        for scope in req.query.get("scope", []):
            for item in scope.split(" "):
                parts = item.split(":")
                if len(parts) < 3:
                    continue
                typ, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
                if not user:
                    actions = [a for a in actions if a == "pull" and name.startswith("public/")]
                if actions:
                    access.append({"type": typ, "name": name, "actions": actions})
        token = self.sign(access, user or "anonymous")
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Response.json(
            {"token": token, "access_token": token, "expires_in": self.expires_in, "issued_at": now}
        )


@pytest.fixture(scope="session")
def registry_token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    """A running token server; its root certificate is at ``<dir>/token.pem``."""
    d = tmp_path_factory.mktemp("regtoken")
    server = TokenServer(d / "token.pem", {"ci": "tok-secret"})
    server.server.start()
    try:
        yield server
    finally:
        server.server.stop()
