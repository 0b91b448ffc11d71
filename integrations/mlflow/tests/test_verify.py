from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from authgate_mlflow import AssertionInvalid, Verifier
from authgate_mlflow.settings import Settings, SettingsError, load_settings

from .conftest import JwksServer, Keys, assertion


def verifier(jwks: JwksServer, **overrides: object) -> Verifier:
    return Verifier(Settings(jwks_url=jwks.url, audience="mlflow", **overrides))  # type: ignore[arg-type]


def test_a_valid_assertion_gives_the_identity(keys: Keys, jwks: JwksServer) -> None:
    identity = verifier(jwks).verify(
        assertion(keys, sub="alice", scopes=["mlflow:read", "mlflow:admin"], tenants=["team-a"])
    )
    assert identity.username == "alice"
    assert identity.has_scope("mlflow:admin")
    assert identity.tenants == ("team-a",)


def test_eddsa_too(keys: Keys, jwks: JwksServer) -> None:
    assert verifier(jwks).verify(assertion(keys, alg="EdDSA")).username == "alice"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda k: None, "no_assertion"),
        (lambda k: "", "no_assertion"),
        (lambda k: "not-a-jwt", "malformed"),
        (lambda k: assertion(k, now=time.time() - 3600), "expired"),
        (lambda k: assertion(k, aud="other-route"), "wrong_audience"),
        (lambda k: assertion(k, iss="someone-else"), "wrong_issuer"),
        # Signed by another key under authgate's kid: a forgery.
        (lambda k: assertion(k, key=ec.generate_private_key(ec.SECP256R1())), "bad_signature"),
        (lambda k: assertion(k, kid="unknown-kid"), "unknown_key"),
        (lambda k: jwt.encode({"sub": "alice"}, "secret-0123456789abcdef0123456789ab", algorithm="HS256"), "bad_algorithm"),
        (lambda k: jwt.encode({"sub": "alice"}, None, algorithm="none"), "bad_algorithm"),
    ],
)
def test_refused(keys: Keys, jwks: JwksServer, make, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AssertionInvalid) as err:
        verifier(jwks).verify(make(keys))
    assert err.value.reason == reason


def test_keys_are_fetched_once_and_cached(keys: Keys, jwks: JwksServer) -> None:
    v = verifier(jwks)
    for _ in range(5):
        v.verify(assertion(keys))
    v.verify(assertion(keys, alg="EdDSA"))
    assert jwks.hits == 1


def test_an_unreachable_jwks_is_a_refusal_not_a_crash(keys: Keys) -> None:
    v = Verifier(Settings(jwks_url="http://127.0.0.1:9/jwks.json", audience="mlflow"))
    with pytest.raises(AssertionInvalid) as err:
        v.verify(assertion(keys))
    assert err.value.reason == "jwks_unreachable"


def test_settings_from_the_environment_and_the_auth_config_file(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ini = tmp_path / "auth.ini"
    ini.write_text("[mlflow]\ndefault_permission = READ\n[authgate]\njwks_url = http://a/jwks\naudience = from-file\n")
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(ini))
    s = load_settings({"AUTHGATE_AUDIENCE": "from-env"})
    assert (s.jwks_url, s.audience, s.issuer, s.admin_scope) == ("http://a/jwks", "from-env", "authgate", "mlflow:admin")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "AUTHGATE_JWKS_URL and AUTHGATE_AUDIENCE"),
        ({"AUTHGATE_JWKS_URL": "http://a", "AUTHGATE_AUDIENCE": "m", "AUTHGATE_ALGORITHMS": "HS256"}, "ES256"),
        ({"AUTHGATE_JWKS_URL": "http://a", "AUTHGATE_AUDIENCE": "m", "AUTHGATE_JWKS_CACHE_SEC": "x"}, "number"),
    ],
)
def test_bad_settings_are_named(env: dict[str, str], message: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("MLFLOW_AUTH_CONFIG_PATH", raising=False)
    with pytest.raises(SettingsError, match=message):
        load_settings(env)
