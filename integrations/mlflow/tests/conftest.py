"""A real JWKS server on loopback and authgate-shaped assertions signed with real keys (PyJWT,
cryptography): what the plugin verifies in production, minus authgate itself."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm


@dataclass
class Keys:
    es256: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    ed: ed25519.Ed25519PrivateKey = field(default_factory=ed25519.Ed25519PrivateKey.generate)

    def jwks(self) -> dict[str, object]:
        a = json.loads(ECAlgorithm.to_jwk(self.es256.public_key()))
        a.update(kid="es-1", alg="ES256", use="sig")
        b = json.loads(OKPAlgorithm.to_jwk(self.ed.public_key()))
        b.update(kid="ed-1", alg="EdDSA", use="sig")
        return {"keys": [a, b]}


class JwksServer:
    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                outer.hits += 1
                body = json.dumps(outer.keys.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/authgate/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def jwks(keys: Keys) -> Iterator[JwksServer]:
    server = JwksServer(keys)
    yield server
    server.close()


def assertion(
    keys: Keys,
    *,
    sub: str = "alice",
    aud: str = "mlflow",
    iss: str = "authgate",
    scopes: list[str] | None = None,
    tenants: list[str] | None = None,
    ttl: int = 60,
    alg: str = "ES256",
    kid: str | None = None,
    key: object | None = None,
    now: float | None = None,
) -> str:
    t = int(now if now is not None else time.time())
    claims = {
        "iss": iss,
        "aud": aud,
        "sub": sub,
        "tenants": tenants or [],
        "scopes": scopes if scopes is not None else ["mlflow:read", "mlflow:edit"],
        "auth_method": "session",
        "iat": t,
        "exp": t + ttl,
    }
    signer = key if key is not None else (keys.es256 if alg == "ES256" else keys.ed)
    return jwt.encode(
        claims, signer, algorithm=alg, headers={"kid": kid or ("es-1" if alg == "ES256" else "ed-1")}
    )
