"""The authorization function inside a Flask request, against MLflow's own permission store
(SQLite): users created on first sight, admin status following the admin scope both ways, the
bootstrap admin name granting nothing, one verification per request, 401 without an assertion."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

import authgate_mlflow
from authgate_mlflow import Verifier
from authgate_mlflow.__main__ import main as cli

from .conftest import JwksServer, Keys, assertion


@pytest.fixture
def store(tmp_path, monkeypatch, jwks: JwksServer) -> Iterator[object]:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'auth.db'}"
    ini = tmp_path / "auth.ini"
    ini.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = {db}\nadmin_username = admin\nadmin_password = admin-password-0123456789\n"
        "authorization_function = authgate_mlflow:authenticate_request\n"
        f"[authgate]\njwks_url = {jwks.url}\naudience = mlflow\n"
    )
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(ini))
    from mlflow.server.auth import store as mlflow_store

    mlflow_store.init_db(db)
    mlflow_store.create_user("admin", "admin-password-0123456789", is_admin=True)
    monkeypatch.setattr(authgate_mlflow, "_verifier", None)
    authgate_mlflow._synced.clear()
    yield mlflow_store


app = Flask(__name__)


def call(token: str | None):  # type: ignore[no-untyped-def]
    headers = {"X-Authgate-Assertion": token} if token else {}
    with app.test_request_context("/api/2.0/mlflow/experiments/search", headers=headers):
        return authgate_mlflow.authenticate_request()


def test_the_user_is_created_on_first_sight(keys: Keys, store) -> None:  # type: ignore[no-untyped-def]
    assert not store.has_user("alice")
    result = call(assertion(keys, sub="alice"))
    assert result.username == "alice"
    assert store.has_user("alice")
    assert store.get_user("alice").is_admin is False


def test_admin_follows_the_admin_scope_both_ways(keys: Keys, store) -> None:  # type: ignore[no-untyped-def]
    call(assertion(keys, sub="carol", scopes=["mlflow:read", "mlflow:admin"]))
    assert store.get_user("carol").is_admin is True
    call(assertion(keys, sub="carol", scopes=["mlflow:read"]))
    assert store.get_user("carol").is_admin is False
    call(assertion(keys, sub="carol", scopes=["mlflow:admin"]))
    assert store.get_user("carol").is_admin is True


def test_the_bootstrap_admin_name_grants_nothing(keys: Keys, store) -> None:  # type: ignore[no-untyped-def]
    assert store.get_user("admin").is_admin is True
    call(assertion(keys, sub="admin", scopes=["mlflow:read", "mlflow:edit"]))
    assert store.get_user("admin").is_admin is False


def test_no_valid_assertion_is_401(keys: Keys, store) -> None:  # type: ignore[no-untyped-def]
    for token in (None, assertion(keys, aud="elsewhere"), "forged.jwt.value"):
        res = call(token)
        assert res.status_code == 401
        assert res.get_json()["error_code"] == "UNAUTHENTICATED"
    assert not store.has_user("alice")


def test_verified_once_per_request(keys: Keys, store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls = []
    original = Verifier.verify

    def counting(self: Verifier, token: str | None):  # type: ignore[no-untyped-def]
        calls.append(token)
        return original(self, token)

    monkeypatch.setattr(Verifier, "verify", counting)
    token = assertion(keys, sub="dave")
    with app.test_request_context("/x", headers={"X-Authgate-Assertion": token}):
        for _ in range(4):
            assert authgate_mlflow.authenticate_request().username == "dave"
    call(token)
    assert len(calls) == 2


def test_create_user_before_first_sign_in(store, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli(["create-user", "erin", "frank"]) == 0
    assert store.has_user("erin") and store.has_user("frank")
    assert store.get_user("erin").is_admin is False
    assert cli(["create-user", "erin"]) == 0
    assert "erin: exists" in capsys.readouterr().out
